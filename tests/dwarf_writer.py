"""A small DWARF writer for unit tests that need no kbuild.

DIEs described in Python become .debug_abbrev, .debug_info and
.debug_str (DWARF 4 or 5), with location lists (.debug_loc or
.debug_loclists) and call frame information (.debug_frame), wrapped in
a relocatable x86-64 ELF file like a kernel module: addresses are
written as zero plus a relocation against a section symbol, so the
reader sees them the way it sees a .ko's.

    int_ = Die("base_type", name="int", byte_size=4, encoding=ATE_SIGNED)
    f = Die("subprogram", name="f", low_pc=Addr(".text", 0x10),
            high_pc=0x30, children=[Die("formal_parameter", name="a",
                                        type=int_, location=reg(5))])
    unit = Die("compile_unit", name="t.c", low_pc=Addr(".text", 0),
               high_pc=SECTION_SIZE, children=[f])
    write_module(path, unit, version=5, symbols=[...], frames=[...])

Attribute values choose their form: str -> strp, True -> flag_present,
int -> udata (sdata if negative), Die -> ref4, Addr -> addr, a list of
expression bytes (see the DW_OP helpers) -> exprloc, LocList ->
sec_offset.  A DIE referred to but placed in no tree (``int_`` above)
becomes a child of the unit.  Written from the DWARF 4 and 5
specifications (data representation in section 7, location lists in
2.6.2, call frame information in 6.4) and the ELF-64 object file format;
the constants are theirs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

TAGS = {"array_type": 0x01, "enumeration_type": 0x04,
        "formal_parameter": 0x05, "lexical_block": 0x0b, "member": 0x0d,
        "pointer_type": 0x0f, "compile_unit": 0x11, "structure_type": 0x13,
        "subroutine_type": 0x15, "typedef": 0x16, "union_type": 0x17,
        "subrange_type": 0x21, "base_type": 0x24, "const_type": 0x26,
        "enumerator": 0x28, "subprogram": 0x2e, "variable": 0x34,
        "volatile_type": 0x35}
ATTRIBUTES = {"location": 0x02, "name": 0x03, "byte_size": 0x0b,
              "bit_size": 0x0d, "low_pc": 0x11, "high_pc": 0x12,
              "const_value": 0x1c, "upper_bound": 0x2f, "count": 0x37,
              "data_member_location": 0x38, "decl_line": 0x3b,
              "declaration": 0x3c, "encoding": 0x3e, "external": 0x3f,
              "frame_base": 0x40, "type": 0x49, "data_bit_offset": 0x6b}
FORM_ADDR, FORM_SDATA, FORM_STRP, FORM_UDATA = 0x01, 0x0d, 0x0e, 0x0f
FORM_REF4, FORM_SEC_OFFSET, FORM_EXPRLOC = 0x13, 0x17, 0x18
FORM_FLAG_PRESENT = 0x19
ATE_BOOLEAN, ATE_FLOAT, ATE_SIGNED, ATE_UNSIGNED = 0x02, 0x04, 0x05, 0x07
ATE_SIGNED_CHAR = 0x06

ALLOC_SECTIONS = {".text": 0x6, ".data": 0x3}   # name -> SHF_ flags
SECTION_SIZE = 0x100                             # of each of them
_R_X86_64_64 = 1


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def sleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        done = (value == 0 and not byte & 0x40) or \
            (value == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


@dataclass(frozen=True)
class Addr:
    """``offset`` bytes into an allocated section: written as a
    relocation, like every address in a module's DWARF."""
    section: str
    offset: int = 0


# -- location expressions: lists of bytes and Addr, joined with + --
def op(code: int, operands: bytes = b"") -> list:
    return [bytes([code]) + operands]


def addr(section: str, offset: int) -> list:
    return op(0x03) + [Addr(section, offset)]


def deref() -> list:
    return op(0x06)


def plus_uconst(value: int) -> list:
    return op(0x23, uleb(value))


def lit(value: int) -> list:
    return op(0x30 + value)


def reg(number: int) -> list:
    return op(0x50 + number)


def breg(number: int, offset: int) -> list:
    return op(0x70 + number, sleb(offset))


def fbreg(offset: int) -> list:
    return op(0x91, sleb(offset))


def piece(size: int) -> list:
    return op(0x93, uleb(size))


def call_frame_cfa() -> list:
    return op(0x9c)


def stack_value() -> list:
    return op(0x9f)


def entry_value(inner: list) -> list:
    body = b"".join(inner)
    return op(0xa3, uleb(len(body)) + body)


@dataclass(frozen=True)
class LocList:
    """(begin, end, expression): offsets from the unit's DW_AT_low_pc."""
    entries: Tuple[Tuple[int, int, list], ...]


class Die:
    """A DIE: ``tag`` without DW_TAG_, attributes without DW_AT_.
    ``children`` may be appended to later (a struct whose member points
    to the struct)."""

    def __init__(self, tag: str, children: Sequence["Die"] = (), **attrs):
        self.tag, self.attrs, self.children = tag, attrs, list(children)


@dataclass(frozen=True)
class Symbol:
    """A global function symbol, ``size`` bytes at ``at``."""
    name: str
    at: Addr
    size: int


@dataclass(frozen=True)
class FrameEntry:
    """An FDE: from ``at`` for ``size`` bytes the CFA is rsp + 8 (the
    CIE's rule), then rsp + offset from each (pc offset, offset)."""
    at: Addr
    size: int
    cfa_offsets: Tuple[Tuple[int, int], ...] = ()


class _Blob:
    """Section bytes with the places that hold an Addr."""

    def __init__(self):
        self.data = bytearray()
        self.relocations: List[Tuple[int, Addr]] = []

    def put(self, *parts: Union[bytes, Addr]) -> None:
        for part in parts:
            if isinstance(part, Addr):
                self.relocations.append((len(self.data), part))
                part = bytes(8)
            self.data += part


class _DwarfWriter:
    def __init__(self, version: int):
        self.version = version
        self.abbrev, self.info, self.strings = _Blob(), _Blob(), _Blob()
        self.locations = _Blob()
        self.codes: Dict[tuple, int] = {}
        self.offsets: Dict[int, int] = {}           # id(Die) -> offset
        self.references: List[Tuple[int, Die]] = []
        if version >= 5:    # .debug_loclists header, no offset table
            self.locations.put(struct.pack("<IHBBI", 0, 5, 8, 0, 0))

    def unit(self, top: Die) -> None:
        start = len(self.info.data)
        if self.version >= 5:   # DW_UT_compile, address size 8
            self.info.put(struct.pack("<IHBBI", 0, 5, 1, 8, 0))
        else:
            self.info.put(struct.pack("<IHIB", 0, self.version, 0, 8))
        self.die(top, _unplaced(top))
        struct.pack_into("<I", self.info.data, start,
                         len(self.info.data) - start - 4)
        for at, target in self.references:
            struct.pack_into("<I", self.info.data, at,
                             self.offsets[id(target)] - start)
        self.abbrev.put(b"\0")

    def die(self, die: Die, extra: Sequence[Die] = ()) -> None:
        self.offsets[id(die)] = len(self.info.data)
        children = die.children + list(extra)
        forms = tuple((ATTRIBUTES[name], self.form(value))
                      for name, value in die.attrs.items())
        shape = (TAGS[die.tag], bool(children), forms)
        if shape not in self.codes:
            self.codes[shape] = code = len(self.codes) + 1
            self.abbrev.put(uleb(code), uleb(shape[0]),
                            bytes([shape[1]]),
                            *(uleb(a) + uleb(f) for a, f in forms),
                            b"\0\0")
        self.info.put(uleb(self.codes[shape]))
        for value in die.attrs.values():
            self.value(value)
        for child in children:
            self.die(child)
        if children:
            self.info.put(b"\0")

    @staticmethod
    def form(value) -> int:
        if value is True:
            return FORM_FLAG_PRESENT
        if isinstance(value, int):
            return FORM_UDATA if value >= 0 else FORM_SDATA
        return {str: FORM_STRP, Die: FORM_REF4, Addr: FORM_ADDR,
                list: FORM_EXPRLOC, LocList: FORM_SEC_OFFSET}[type(value)]

    def value(self, value) -> None:
        if value is True:
            return
        if isinstance(value, int):
            self.info.put(uleb(value) if value >= 0 else sleb(value))
        elif isinstance(value, str):
            self.info.put(struct.pack("<I", len(self.strings.data)))
            self.strings.put(value.encode() + b"\0")
        elif isinstance(value, Die):
            self.references.append((len(self.info.data), value))
            self.info.put(bytes(4))
        elif isinstance(value, Addr):
            self.info.put(value)
        elif isinstance(value, list):
            self.info.put(uleb(_size(value)), *value)
        else:
            self.info.put(struct.pack("<I", len(self.locations.data)))
            self.location_list(value)

    def location_list(self, loclist: LocList) -> None:
        for begin, end, expression in loclist.entries:
            if self.version >= 5:   # DW_LLE_offset_pair
                self.locations.put(b"\x04", uleb(begin), uleb(end),
                                   uleb(_size(expression)), *expression)
            else:
                self.locations.put(struct.pack("<QQH", begin, end,
                                               _size(expression)),
                                   *expression)
        self.locations.put(b"\0" if self.version >= 5 else bytes(16))

    def sections(self) -> Dict[str, _Blob]:
        data = self.locations.data
        if self.version >= 5:
            struct.pack_into("<I", data, 0, len(data) - 4)
        found = {".debug_abbrev": self.abbrev, ".debug_info": self.info,
                 ".debug_str": self.strings}
        if len(data) > (12 if self.version >= 5 else 0):
            name = ".debug_loclists" if self.version >= 5 else ".debug_loc"
            found[name] = self.locations
        return found


def _unplaced(top: Die) -> List[Die]:
    """DIEs referred to but in no tree (the unit's or another of these):
    they become children of the unit."""
    placed = set()

    def place(die: Die) -> List[Die]:
        """Marks a tree placed; returns the DIEs it refers to."""
        referred, stack = [], [die]
        while stack:
            die = stack.pop()
            placed.add(id(die))
            referred += [v for v in die.attrs.values() if isinstance(v, Die)]
            stack += die.children
        return referred

    extra, pending = [], place(top)
    while pending:
        die = pending.pop()
        if id(die) not in placed:
            extra.append(die)
            pending += place(die)
    return extra


def _size(expression: list) -> int:
    return sum(8 if isinstance(p, Addr) else len(p) for p in expression)


def _debug_frame(entries: Sequence[FrameEntry]) -> _Blob:
    """One CIE (version 1; CFA = rsp + 8, return address at CFA - 8),
    then an FDE per entry, each padded with DW_CFA_nop."""
    blob = _Blob()

    def record(head: bytes, *body) -> None:
        size = len(head) + sum(8 if isinstance(p, Addr) else len(p)
                               for p in body)
        padding = -(4 + size) % 8
        blob.put(struct.pack("<I", size + padding), head, *body,
                 bytes(padding))

    record(struct.pack("<IB", 0xFFFFFFFF, 1) + b"\0" + uleb(1) + sleb(-8)
           + bytes([16]) + b"\x0c\x07\x08" + b"\x90\x01")
    for entry in entries:
        steps, pc = b"", 0
        for at, offset in entry.cfa_offsets:   # advance_loc, def_cfa_offset
            steps += bytes([0x40 | (at - pc)]) + b"\x0e" + uleb(offset)
            pc = at
        record(struct.pack("<I", 0), entry.at,
               struct.pack("<Q", entry.size) + steps)
    return blob


def write_module(path: Path, unit: Die, version: int = 5,
                 symbols: Sequence[Symbol] = (),
                 frames: Sequence[FrameEntry] = ()) -> Path:
    """A relocatable x86-64 ELF with ``unit`` as its DWARF."""
    writer = _DwarfWriter(version)
    writer.unit(unit)
    debug = writer.sections()
    if frames:
        debug[".debug_frame"] = _debug_frame(frames)
    names = list(ALLOC_SECTIONS) + list(debug)
    # symbols: null, one per allocated section (relocations use them),
    # then the functions
    strtab = b"\0" + b"".join(s.name.encode() + b"\0" for s in symbols)
    symtab = bytes(24) + b"".join(
        struct.pack("<IBBHQQ", 0, 3, 0, 1 + i, 0, 0)     # STT_SECTION
        for i in range(len(ALLOC_SECTIONS)))
    name_at = 1
    for sym in symbols:
        symtab += struct.pack("<IBBHQQ", name_at, 0x12, 0,   # GLOBAL FUNC
                              1 + names.index(sym.at.section),
                              sym.at.offset, sym.size)
        name_at += len(sym.name) + 1
    # (name, type, flags, data, link, info, entsize)
    sections = [(n, 1, f, bytes(SECTION_SIZE), 0, 0, 0)
                for n, f in ALLOC_SECTIONS.items()]
    sections += [(n, 1, 0, bytes(b.data), 0, 0, 0) for n, b in debug.items()]
    symtab_index = 1 + len(sections) + sum(
        1 for b in debug.values() if b.relocations)
    for index, (name, blob) in enumerate(debug.items()):
        if blob.relocations:
            relocations = b"".join(
                struct.pack("<QQq", at, (1 + names.index(a.section)) << 32
                            | _R_X86_64_64, a.offset)
                for at, a in blob.relocations)
            sections.append((".rela" + name, 4, 0x40, relocations,
                             symtab_index, 1 + len(ALLOC_SECTIONS) + index,
                             24))
    sections += [(".symtab", 2, 0, symtab, symtab_index + 1,
                  1 + len(ALLOC_SECTIONS), 24),
                 (".strtab", 3, 0, strtab, 0, 0, 0)]
    return _write_elf(Path(path), sections)


def _write_elf(path: Path, sections) -> Path:
    """ELF header, the sections' bytes, then their headers (the null
    one first, the section-name table last)."""
    shstrtab = bytearray(b"\0")
    name_offsets = []
    for name in [s[0] for s in sections] + [".shstrtab"]:
        name_offsets.append(len(shstrtab))
        shstrtab += name.encode() + b"\0"
    sections = sections + [(".shstrtab", 3, 0, bytes(shstrtab), 0, 0, 0)]
    body, headers = bytearray(), [bytes(64)]
    for (_, kind, flags, data, link, info, entsize), name_at in zip(
            sections, name_offsets):
        body += bytes(-len(body) % 8)
        headers.append(struct.pack("<IIQQQQIIQQ", name_at, kind, flags, 0,
                                   64 + len(body), len(data), link, info, 8,
                                   entsize))
        body += data
    body += bytes(-len(body) % 8)
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, 64 + len(body), 0, 64, 0, 0, 64,
        len(headers), len(headers) - 1)
    path.write_bytes(header + bytes(body) + b"".join(headers))
    return path
