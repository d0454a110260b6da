"""Reading the DWARF of a kernel module or of vmlinux.

A module (ET_REL) has no addresses yet: every code and data address in
its DWARF is "offset N in section S", applied by relocations.  We give
each allocated section a distinct fake base before pyelftools applies
them, so a DWARF address names its section unambiguously; ``locate``
turns it back into (section, offset), which is what probes are emitted
as.  vmlinux (ET_EXEC) has link-time addresses; probes there are
relative to ``_stext``, which KASLR moves as a whole.
"""

from __future__ import annotations

import bisect
import fnmatch
import functools
import io
import mmap
import marshal
import os
import struct
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from elftools.common.exceptions import ELFError
from elftools.dwarf.callframe import CallFrameInfo
from elftools.dwarf.die import DIE
from elftools.dwarf.dwarfinfo import DebugSectionDescriptor
from elftools.elf.elffile import ELFFile

from . import ctype as C
from .errors import EnvironmentProblem

# Each allocated section of a module starts at FAKE_STRIDE * (index + 1);
# addresses stay below 2**32 because some DWARF relocations are 32-bit.
FAKE_STRIDE = 1 << 24
_SYM = struct.Struct("<IBBHQQ")     # Elf64_Sym
# Bump when the layout of the per-build-id index files changes.
INDEX_VERSION = 1
_STT_FUNC = 2
_SYMBOL_TYPES = {0: "STT_NOTYPE", 1: "STT_OBJECT", 2: "STT_FUNC",
                 3: "STT_SECTION", 4: "STT_FILE", 5: "STT_COMMON",
                 6: "STT_TLS", 10: "STT_GNU_IFUNC"}
# x86-64: at a function's first instruction, CFA = rsp + 8 (the return
# address was just pushed), whatever the function's FDE says later.
_ENTRY_CFA = {"EM_X86_64": (7, 8)}


@dataclass(frozen=True)
class CodeAddress:
    """A relocatable address: ``offset`` bytes into ``section`` of
    ``target`` (a module name, or "kernel" with section "_stext")."""
    target: str
    section: str
    offset: int


@dataclass
class FunctionSym:
    name: str           # as in the symbol table (may carry .isra.0 etc.)
    address: int        # in this file's address space (fake for modules)
    size: int


@dataclass
class Subprogram:
    """A function's DWARF entry with where its code is."""
    name: str
    die: DIE
    low_pc: int         # the entry: DW_AT_entry_pc, or the first range's start
    high_pc: int        # the end of the last part (see ranges)
    decl_file: str
    decl_line: int
    inline_of: Optional[DIE] = None     # set for inlined instances
    # [low, high) parts: two for a function GCC split into f and f.cold
    ranges: List[Tuple[int, int]] = field(default_factory=list)

    @property
    def is_inline(self) -> bool:
        return self.inline_of is not None


def _patched_module_image(data: bytes) -> Tuple[bytes, Dict[int, int]]:
    """The module's bytes with every symbol of an allocated section moved
    to that section's fake base; returns the bytes and {shndx: base}."""
    elf = ELFFile(io.BytesIO(data))
    bases = {}
    for index, section in enumerate(elf.iter_sections()):
        if section["sh_flags"] & 0x2:     # SHF_ALLOC
            if section["sh_size"] >= FAKE_STRIDE:
                raise EnvironmentProblem(
                    f"section {section.name} is too large to index")
            bases[index] = FAKE_STRIDE * (len(bases) + 1)
    out = bytearray(data)
    symtab = elf.get_section_by_name(".symtab")
    if symtab is None:
        raise EnvironmentProblem("the module has no symbol table")
    offset = symtab["sh_offset"]
    for i in range(symtab.num_symbols()):
        pos = offset + i * _SYM.size
        name, info, other, shndx, value, size = _SYM.unpack_from(out, pos)
        if shndx in bases:
            _SYM.pack_into(out, pos, name, info, other, shndx,
                           value + bases[shndx], size)
    return bytes(out), bases


class _SectionStream:
    """A read-only file-like window on one section of a mapped file, so
    pyelftools reads the kernel's DWARF in place: only the pages a lookup
    touches are ever read (vmlinux carries ~230 MB of DWARF)."""

    __slots__ = ("_map", "_base", "_size", "_pos")

    def __init__(self, mapped, base: int, size: int):
        self._map, self._base, self._size, self._pos = mapped, base, size, 0

    def read(self, n: int = -1) -> bytes:
        pos = self._pos
        end = self._size if n is None or n < 0 else min(pos + n, self._size)
        if end <= pos:
            return b""
        self._pos = end
        return self._map[self._base + pos:self._base + end]

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            offset += self._size
        self._pos = max(offset, 0)
        return self._pos

    def tell(self) -> int:
        return self._pos


class DebugFile:
    """One ELF file with DWARF: a ``.ko`` or vmlinux.

    A module is small: it is read whole and pyelftools applies its
    relocations.  vmlinux (ET_EXEC, ~630 MB with DWARF) is mapped, its
    DWARF is read in place without applying the ``.rela.debug_*``
    sections (the linker already wrote final values), and everything that
    would need a pass over the whole file (symbols, address ranges to
    units, frame entries, where structs are defined) is indexed once per
    build-id under ``$STPC_CACHE_DIR/dwarf/BUILDID/``."""

    def __init__(self, path: Path, target: str):
        self.path = Path(path)
        self.target = target
        self._map = None
        self._cus_seen: Dict[int, object] = {}
        self._subprograms: Dict[int, Optional[Subprogram]] = {}
        try:
            with open(self.path, "rb") as stream:
                head = stream.read(64)
            if head[:4] != b"\x7fELF":
                raise ELFError("not an ELF file")
            e_type = struct.unpack_from("<H", head, 16)[0]
            self.relocatable = e_type == 1      # ET_REL
            if self.relocatable:
                data, self.bases = _patched_module_image(
                    self.path.read_bytes())
                self.elf = ELFFile(io.BytesIO(data))
            else:
                self.bases = {}
                self._file = open(self.path, "rb")
                self._map = mmap.mmap(self._file.fileno(), 0,
                                      access=mmap.ACCESS_READ)
                self.elf = ELFFile(self._file)
                self.elf._read_dwarf_section = self._mapped_section
            if not self.elf.has_dwarf_info():
                raise EnvironmentProblem(
                    f"{self.path} has no DWARF debugging information")
            self.dwarf = self.elf.get_dwarf_info(
                relocate_dwarf_sections=self.relocatable,
                follow_links=False)
        except (OSError, ELFError, ValueError, struct.error) as exc:
            raise EnvironmentProblem(f"cannot read {self.path}: {exc}")
        self._sections = [(base, self.elf.get_section(index).name)
                          for index, base in self.bases.items()]

    def _mapped_section(self, section, relocate: bool):
        if section["sh_flags"] & 0x800 or section["sh_type"] == "SHT_NOBITS":
            # SHF_COMPRESSED: pyelftools' own reader decompresses
            return ELFFile._read_dwarf_section(self.elf, section, False)
        return DebugSectionDescriptor(
            stream=_SectionStream(self._map, section["sh_offset"],
                                  section["sh_size"]),
            name=section.name, global_offset=section["sh_offset"],
            size=section["sh_size"], address=section["sh_addr"])

    # -- addresses --
    def locate(self, address: int) -> CodeAddress:
        """The relocatable form of an address of this file."""
        if not self.relocatable:
            return CodeAddress("kernel", "_stext",
                               address - self.symbol_value("_stext"))
        for base, name in self._sections:
            if base <= address < base + FAKE_STRIDE:
                return CodeAddress(self.target, name, address - base)
        raise ValueError(f"address {address:#x} is in no section")

    @functools.cached_property
    def _index(self) -> "_SymbolIndex":
        """Symbols (and, for vmlinux, address ranges of units), read once
        per build-id and cached."""
        if self.relocatable:
            return _SymbolIndex.from_symtab(self)
        return _cached(self, "symbols", lambda: _SymbolIndex.from_symtab(
            self, with_aranges=True), _SymbolIndex.encode,
            _SymbolIndex.decode)

    @property
    def _symbols(self) -> Dict[str, Tuple[int, int, str]]:
        """name -> (value, size, type) for every named symbol (the first
        one of a name in the symbol table)."""
        index = self._index
        table: Dict[str, Tuple[int, int, str]] = {}
        for i, name in enumerate(index.names):
            if name not in table:
                table[name] = index.lookup(name)
        return table

    def symbol_value(self, name: str) -> int:
        found = self._index.lookup(name)
        if found is None:
            raise EnvironmentProblem(f"{self.path} has no symbol {name}")
        return found[0]

    def function_symbols(self) -> List[FunctionSym]:
        """Every sized function symbol, by address (several may share a
        name: static functions of different files)."""
        index = self._index
        return [index.function(p) for p in range(len(index.functions))]

    def _functions_named(self, name_glob: str) -> List[FunctionSym]:
        """Function symbols whose name, less any ``.isra.0``-like suffix,
        matches the glob."""
        index = self._index
        if not any(c in name_glob for c in "*?["):
            picks = index.named(name_glob)
        else:
            picks = index.matching(name_glob)
        return [index.function(p) for p in sorted(picks)]

    def symbol_at(self, address: int) -> Optional[FunctionSym]:
        """The function symbol covering ``address`` (a global one when
        several start at the same place)."""
        index = self._index
        i = bisect.bisect_right(index.starts, address)
        # functions may nest or overlap: look back a little
        for p in range(i - 1, max(i - 64, 0) - 1, -1):
            sym = index.function(p)
            if sym.address <= address < sym.address + sym.size:
                return sym
        return None

    @functools.cached_property
    def build_id(self) -> str:
        for section in self.elf.iter_sections():
            if section["sh_type"] != "SHT_NOTE":
                continue
            data = section.data()
            pos = 0
            while pos + 12 <= len(data):
                namesz, descsz, kind = struct.unpack_from("<III", data, pos)
                name_at = pos + 12
                desc_at = name_at + (namesz + 3) // 4 * 4
                if kind == 3 and data[name_at:name_at + namesz] == \
                        b"GNU\0":
                    return data[desc_at:desc_at + descsz].hex()
                pos = desc_at + (descsz + 3) // 4 * 4
        return ""

    # -- compilation units --
    @functools.cached_property
    def _aranges(self):
        return self.dwarf.get_aranges()

    def cu_at(self, address: int):
        """The compilation unit whose code contains ``address``."""
        offset = self._cu_offset_at(address)
        if offset is not None:
            return self._unit(offset)
        if not self.relocatable:
            return None     # never walk every unit of vmlinux
        for cu in self.dwarf.iter_CUs():
            if any(lo <= address < hi for lo, hi in self.die_ranges(
                    cu.get_top_DIE(), cu)):
                return cu
        return None

    def _cu_offset_at(self, address: int) -> Optional[int]:
        if not self.relocatable:
            lows, highs, units = self._index.aranges
            i = bisect.bisect_right(lows, address)
            for j in range(i - 1, max(i - 8, 0) - 1, -1):
                if lows[j] <= address < highs[j]:
                    return units[j]
            return None
        if self._aranges is not None:
            return self._aranges.cu_offset_at_addr(address)
        return None

    def _unit(self, offset: int):
        """The unit at ``offset``; remembered as one a script reaches, where
        ``find_struct`` looks first."""
        cu = self.dwarf.get_CU_at(offset)
        self._cus_seen.setdefault(offset, cu)
        return cu

    def die_ranges(self, die: DIE, cu=None) -> List[Tuple[int, int]]:
        """[low, high) address ranges of a DIE (low_pc/high_pc or
        DW_AT_ranges)."""
        attrs = die.attributes
        if "DW_AT_low_pc" in attrs and "DW_AT_high_pc" in attrs:
            low = attrs["DW_AT_low_pc"].value
            high = attrs["DW_AT_high_pc"]
            end = high.value if high.form == "DW_FORM_addr" \
                else low + high.value
            return [(low, end)]
        if "DW_AT_ranges" in attrs:
            ranges = self.dwarf.range_lists()
            if ranges is None:
                return []
            cu = cu or die.cu
            entries = ranges.get_range_list_at_offset(
                attrs["DW_AT_ranges"].value, cu=cu) \
                if die.tag != "DW_TAG_compile_unit" or \
                attrs["DW_AT_ranges"].form != "DW_FORM_rnglistx" \
                else ranges.get_range_list_at_offset_ex(
                    attrs["DW_AT_ranges"].value)
            return self._absolute_ranges(entries, cu)
        return []

    def _absolute_ranges(self, entries, cu) -> List[Tuple[int, int]]:
        base = cu.get_top_DIE().attributes.get("DW_AT_low_pc")
        base = base.value if base is not None else 0
        spans = []
        for entry in entries:
            if hasattr(entry, "base_address"):
                base = entry.base_address
                continue
            absolute = getattr(entry, "is_absolute", False)
            offset = 0 if absolute else base
            spans.append((entry.begin_offset + offset,
                          entry.end_offset + offset))
        return spans

    # -- functions --
    def subprogram_at(self, address: int) -> Optional[Subprogram]:
        """The out-of-line function with a part starting at ``address``:
        its entry, or a part GCC moved away (``f.cold``)."""
        if address not in self._subprograms:
            self._subprograms[address] = self._find_subprogram(address)
        return self._subprograms[address]

    def _find_subprogram(self, address: int) -> Optional[Subprogram]:
        cu = self.cu_at(address)
        if cu is None:
            return None
        if not self.relocatable:
            sym = self.symbol_at(address)
            if sym is not None:
                found = self._subprogram_named(cu, sym.name.split(".")[0],
                                               address)
                if found is not None:
                    return found
        for die in cu.get_top_DIE().iter_children():
            if die.tag != "DW_TAG_subprogram":
                continue
            spans = self.die_ranges(die, cu)
            if any(lo == address for lo, _ in spans):
                return self._subprogram(die, spans)
        return None

    def _subprogram_named(self, cu, name: str,
                          address: int) -> Optional[Subprogram]:
        """vmlinux: the function of ``cu`` called ``name`` whose code
        starts at ``address``, found from the uses of its name in the
        unit's bytes rather than by walking the unit's (thousands of)
        top-level entries.  Its entry is the DIE so named, or (for a
        function also inlined, or cloned as .isra/.constprop) a concrete
        instance whose DW_AT_abstract_origin names that DIE."""
        unit, end = cu.cu_offset, cu.cu_offset + cu.size
        for named in self._dies_named(name, unit, end):
            if named.tag != "DW_TAG_subprogram":
                continue
            spans = self.die_ranges(named, cu)
            if any(lo == address for lo, _ in spans):
                return self._subprogram(named, spans)
            for die in self._references_to(named, "DW_TAG_subprogram"):
                spans = self.die_ranges(die, cu)
                if any(lo == address for lo, _ in spans):
                    return self._subprogram(die, spans)
        return None

    def _subprogram(self, die: DIE, spans, inline_of=None) -> Subprogram:
        origin = _origin(die)
        low = spans[0][0]
        if "DW_AT_entry_pc" in die.attributes:
            entry = die.attributes["DW_AT_entry_pc"]
            if entry.form == "DW_FORM_addr":
                low = entry.value
        return Subprogram(
            name=die_name(origin) or "",
            die=die, low_pc=low, high_pc=max(hi for _, hi in spans),
            decl_file=self.decl_file(origin),
            decl_line=_attr(origin, "DW_AT_decl_line", 0),
            inline_of=inline_of, ranges=spans)

    def find_functions(self, name_glob: str) -> List[Subprogram]:
        """Out-of-line functions whose name matches the glob, found from
        the symbol table (cheap) and then their compilation unit only.
        A function is found once, by its entry, however many symbols
        lead to it (``f`` and its ``f.cold`` part, aliases)."""
        found, seen = [], set()
        for sym in self._functions_named(name_glob):
            base = sym.name.split(".", 1)[0]
            sub = self.subprogram_at(sym.address)
            if sub is not None and sub.name == base and \
                    sub.low_pc not in seen:
                seen.add(sub.low_pc)
                found.append(sub)
        found.sort(key=lambda s: (s.name, s.low_pc))
        return found

    def find_inlined(self, name_glob: str) -> List[Subprogram]:
        """Every inlined instance of a function matching the glob."""
        if self.relocatable:
            dies = []
            for cu in self.dwarf.iter_CUs():
                for die in cu.iter_DIEs():
                    if die.tag == "DW_TAG_inlined_subroutine":
                        name = die_name(_origin(die))
                        if name and fnmatch.fnmatchcase(name, name_glob):
                            dies.append(die)
        else:
            offsets = _cached(self, f"inlined-{_safe(name_glob)}",
                              lambda: self._inlined_offsets(name_glob))
            dies = [self._die_at(offset) for offset in offsets]
        found = []
        for die in dies:
            spans = self.die_ranges(die, die.cu)
            if spans:
                found.append(self._subprogram(die, spans, _origin(die)))
        found.sort(key=lambda s: (s.name, s.low_pc))
        return found

    def _inlined_offsets(self, name_glob: str) -> List[int]:
        """vmlinux: the abstract functions matching the glob are found by
        name; their inlined instances (DW_TAG_inlined_subroutine, in the
        same unit) by the 4-byte unit-relative reference to them that
        starts each instance (DW_AT_abstract_origin)."""
        found = set()
        for origin in self._dies_named(name_glob):
            if origin.tag == "DW_TAG_subprogram" and \
                    "DW_AT_inline" in origin.attributes:
                found.update(die.offset for die in self._references_to(
                    origin, "DW_TAG_inlined_subroutine"))
        return sorted(found)

    def decl_file(self, die: DIE) -> str:
        index = _attr(die, "DW_AT_decl_file", None)
        if index is None:
            return ""
        return self.file_name(die.cu, index)

    def file_name(self, cu, index: int) -> str:
        files = self._file_table(cu.cu_offset)
        return files[index] if 0 <= index < len(files) else ""

    @functools.lru_cache(maxsize=None)
    def _file_table(self, cu_offset: int) -> List[str]:
        cu = self.dwarf.get_CU_at(cu_offset)
        program = self.dwarf.line_program_for_CU(cu)
        if program is None:
            return []
        names = []
        dirs = program.header["include_directory"]
        version = program.header["version"]
        for entry in program.header["file_entry"]:
            name = entry.name.decode("utf-8", "replace")
            dir_index = entry.dir_index
            if version < 5:
                dir_index -= 1
            if not name.startswith("/") and 0 <= dir_index < len(dirs):
                name = dirs[dir_index].decode("utf-8", "replace") + "/" + name
            names.append(name)
        if version < 5:
            names.insert(0, "")     # DWARF 4 file numbers start at 1
        return names

    # -- source lines --
    def line_addresses(self, sub: Subprogram, line: int) -> List[int]:
        """Addresses where ``line`` of the function's file begins a
        statement inside the function, lowest first."""
        cu = sub.die.cu
        program = self.dwarf.line_program_for_CU(cu)
        files = self._file_table(cu.cu_offset)
        found = set()
        for entry in program.get_entries():
            state = entry.state
            if state is None or state.end_sequence or not state.is_stmt:
                continue
            if state.line != line:
                continue
            if not 0 <= state.file < len(files) or \
                    not _same_file(files[state.file], sub.decl_file):
                continue
            if any(lo <= state.address < hi for lo, hi in sub.ranges):
                found.add(state.address)
        return sorted(found)

    def lines_of(self, sub: Subprogram) -> List[int]:
        """Source lines with statements in the function, for hints."""
        cu = sub.die.cu
        program = self.dwarf.line_program_for_CU(cu)
        lines = set()
        for entry in program.get_entries():
            state = entry.state
            if state is not None and not state.end_sequence and \
                    any(lo <= state.address < hi for lo, hi in sub.ranges):
                lines.add(state.line)
        return sorted(lines)

    # -- call frame information --
    @functools.cached_property
    def _fdes(self):
        entries = []
        if self.dwarf.has_CFI():
            entries = self.dwarf.CFI_entries()
        elif self.dwarf.has_EH_CFI():
            entries = self.dwarf.EH_CFI_entries()
        return [e for e in entries if "initial_location" in e.header]

    def cfa_rule(self, pc: int) -> Optional[Tuple[int, int]]:
        """(DWARF register, offset) with CFA = register + offset at pc."""
        if not self.relocatable:
            entry = _ENTRY_CFA.get(self.elf["e_machine"])
            sym = self.symbol_at(pc) if entry else None
            if sym is not None and sym.address == pc:
                return entry
            fde = self._fde_at(pc)
            return _cfa_in(fde, pc) if fde is not None else None
        for fde in self._fdes:
            start = fde.header["initial_location"]
            if start <= pc < start + fde.header["address_range"]:
                return _cfa_in(fde, pc)
        return None

    def _fde_at(self, pc: int):
        """The one frame description entry of vmlinux covering pc, found
        through an index of .debug_frame (built once per build-id)."""
        starts, ranges, offsets = _cached(
            self, "frames", self._frame_index,
            lambda arrays: tuple(a.tobytes() for a in arrays),
            lambda raw: tuple(_array("Q", r) for r in raw))
        i = bisect.bisect_right(starts, pc)
        for j in range(i - 1, max(i - 8, 0) - 1, -1):
            if starts[j] <= pc < starts[j] + ranges[j]:
                return self._cfi._parse_entry_at(offsets[j])
        return None

    @functools.cached_property
    def _cfi(self) -> CallFrameInfo:
        section = self.dwarf.debug_frame_sec
        return CallFrameInfo(section.stream, section.size, section.address,
                             self.dwarf.structs)

    def _frame_index(self):
        """(starts, lengths, entry offsets) of every FDE in .debug_frame,
        by start address; read with struct, not pyelftools."""
        section = self.elf.get_section_by_name(".debug_frame")
        rows = []
        if section is not None and self.elf.elfclass == 64:
            data = section.data()
            pos, end = 0, len(data)
            while pos + 4 <= end:
                length, = struct.unpack_from("<I", data, pos)
                if length == 0xFFFFFFFF:
                    length, cie_id = struct.unpack_from("<QQ", data, pos + 4)
                    body, is_cie = pos + 12, cie_id == 0xFFFFFFFFFFFFFFFF
                    fields = pos + 20
                else:
                    cie_id, = struct.unpack_from("<I", data, pos + 4)
                    body, is_cie = pos + 4, cie_id == 0xFFFFFFFF
                    fields = pos + 8
                if length == 0:
                    pos = body
                    continue
                if not is_cie:
                    start, size = struct.unpack_from("<QQ", data, fields)
                    if start and size:
                        rows.append((start, size, pos))
                pos = body + length
        rows.sort()
        return (array("Q", (r[0] for r in rows)),
                array("Q", (r[1] for r in rows)),
                array("Q", (r[2] for r in rows)))

    # -- types --
    def find_struct(self, kind: str, name: str) -> Optional[C.Struct]:
        """The full definition of ``struct NAME`` (or union): first in the
        units already reached (the probed functions'), then, in vmlinux,
        in a unit that names it (found without walking every unit)."""
        tag = "DW_TAG_structure_type" if kind == "struct" \
            else "DW_TAG_union_type"
        units = list(self._cus_seen.values())
        if self.relocatable:
            units += [cu for cu in self.dwarf.iter_CUs()
                      if cu.cu_offset not in self._cus_seen]
        for cu in units:
            for die in cu.get_top_DIE().iter_children():
                if die.tag == tag and die_name(die) == name and \
                        "DW_AT_declaration" not in die.attributes:
                    return TypeReader().type(die)
        if self.relocatable:
            return None
        offset = _cached(self, f"struct-{kind}-{_safe(name)}",
                         lambda: self._struct_offset(tag, name))
        if offset is None:
            return None
        return TypeReader().type(self._die_at(offset))

    def _struct_offset(self, tag: str, name: str) -> Optional[int]:
        for die in self._dies_named(name):
            if die.tag == tag and \
                    "DW_AT_declaration" not in die.attributes:
                return die.offset
        return None

    # -- finding DIEs by name in vmlinux, without walking units --
    @functools.cached_property
    def _unit_offsets(self) -> array:
        """Where each unit of .debug_info starts (from the unit headers)."""
        section = self.dwarf.debug_info_sec
        base, size = section.global_offset, section.size
        starts, pos = array("Q"), 0
        fd = self._file.fileno()
        while pos + 4 <= size:      # pread: no page of the map is touched
            starts.append(pos)
            length, wide = struct.unpack("<IQ", os.pread(fd, 12, base + pos))
            pos += 12 + wide if length == 0xFFFFFFFF else 4 + length
        return starts

    def _die_at(self, offset: int) -> DIE:
        starts = self._unit_offsets
        cu = self._unit(starts[bisect.bisect_right(starts, offset) - 1])
        return cu.get_DIE_from_refaddr(offset)

    def _try_die(self, offset: int, check) -> Optional[DIE]:
        """The DIE at ``offset`` if one starts there and passes
        ``check`` (offsets here are guesses: anything may fail)."""
        starts = self._unit_offsets
        unit = starts[bisect.bisect_right(starts, offset) - 1]
        if offset <= unit + 11:
            return None
        try:
            cu = self.dwarf.get_CU_at(unit)
            die = DIE(cu, self.dwarf.debug_info_sec.stream, offset)
            if not check(die):
                return None
        except Exception:       # noqa: BLE001 - a wrong guess
            return None
        return self._unit(unit).get_DIE_from_refaddr(offset)

    def _string_offsets(self, name_glob: str) -> List[int]:
        """Offsets in .debug_str of strings matching the glob (a string
        may also be the tail of a longer one)."""
        section = self.dwarf.debug_str_sec
        if section is None:
            return []
        base, size = section.global_offset, section.size
        data = self._map
        found = []
        wild = [i for i, c in enumerate(name_glob) if c in "*?["]
        literal = name_glob[:wild[0]] if wild else name_glob + "\0"
        needle = literal.encode()
        if not needle:
            pos = 0
            while pos < size:
                end = data.find(b"\0", base + pos, base + size) - base
                if end < 0:
                    break
                text = data[base + pos:base + end].decode("utf-8", "replace")
                if fnmatch.fnmatchcase(text, name_glob):
                    found.append(pos)
                pos = end + 1
            return found
        pos = data.find(needle, base, base + size)
        while pos >= 0:
            if not wild:
                found.append(pos - base)
            else:
                end = data.find(b"\0", pos, base + size)
                text = data[pos:end].decode("utf-8", "replace")
                if fnmatch.fnmatchcase(text, name_glob):
                    found.append(pos - base)
            pos = data.find(needle, pos + 1, base + size)
        return found

    def _dies_named(self, name_glob: str, low: int = 0,
                    high: Optional[int] = None) -> Iterator[DIE]:
        """DIEs (at .debug_info offsets low..high) whose DW_AT_name matches
        the glob: each use of a matching string (a 4-byte DW_FORM_strp) is
        a candidate attribute; the DIE is the one that starts 1-3 bytes
        before it (its abbreviation code) with its name right there."""
        section = self.dwarf.debug_info_sec
        if not self._in_place:
            return
        high = section.size if high is None else high
        for value in self._string_offsets(name_glob):
            for at in self._find_all(struct.pack("<I", value), low, high):
                for back in (1, 2, 3):
                    die = self._try_die(at - back, lambda d, at=at: (
                        "DW_AT_name" in d.attributes and
                        d.attributes["DW_AT_name"].offset == at and
                        d.attributes["DW_AT_name"].form == "DW_FORM_strp"))
                    if die is not None:
                        yield die
                        break

    @functools.cached_property
    def _in_place(self) -> bool:
        """Whether .debug_info and .debug_str are read straight from the
        map (not decompressed), so their bytes can be searched there."""
        return all(isinstance(getattr(sec, "stream", None), _SectionStream)
                   for sec in (self.dwarf.debug_info_sec,
                               self.dwarf.debug_str_sec))

    def _find_all(self, needle: bytes, low: int, high: int) -> Iterator[int]:
        """Offsets of ``needle`` in .debug_info[low:high]."""
        base = self.dwarf.debug_info_sec.global_offset
        data = self._map
        hit = data.find(needle, base + low, base + high)
        while hit >= 0:
            yield hit - base
            hit = data.find(needle, hit + 1, base + high)

    def _references_to(self, target: DIE, tag: str) -> Iterator[DIE]:
        """DIEs with ``tag`` of the target's unit whose first attribute is
        a DW_AT_abstract_origin reference (DW_FORM_ref4) to it."""
        cu = target.cu
        unit, end = cu.cu_offset, cu.cu_offset + cu.size
        needle = struct.pack("<I", target.offset - unit)
        for at in self._find_all(needle, unit, end):
            for back in (1, 2, 3):
                die = self._try_die(at - back, lambda d, at=at: (
                    d.tag == tag and
                    "DW_AT_abstract_origin" in d.attributes and
                    d.attributes["DW_AT_abstract_origin"].offset == at))
                if die is not None:
                    yield die
                    break

    # -- variables --
    def variables_at(self, sub: Subprogram, pc: int) -> List[DIE]:
        """Parameters and locals visible at ``pc``, outer scopes first;
        an inner declaration hides an outer one of the same name."""
        seen: Dict[str, DIE] = {}
        for die in self._scope_variables(sub.die, pc):
            name = die_name(_origin(die))
            if name:
                seen.pop(name, None)
                seen[name] = die
        return list(seen.values())

    def parameters(self, sub: Subprogram) -> List[DIE]:
        return [d for d in sub.die.iter_children()
                if d.tag == "DW_TAG_formal_parameter"]

    def _scope_variables(self, scope: DIE, pc: int) -> Iterator[DIE]:
        for die in scope.iter_children():
            if die.tag in ("DW_TAG_formal_parameter", "DW_TAG_variable"):
                yield die
            elif die.tag == "DW_TAG_lexical_block":
                spans = self.die_ranges(die)
                if not spans or any(lo <= pc < hi for lo, hi in spans):
                    yield from self._scope_variables(die, pc)


class _SymbolIndex:
    """What the symbol table (and .debug_aranges) say, in lookup form.
    Kept as flat arrays and joined strings so that loading it from the
    cache takes milliseconds."""

    def __init__(self, names, values, sizes, kinds, functions, aranges):
        self.names: List[str] = names           # defined, symtab order
        self.values, self.sizes, self.kinds = values, sizes, kinds
        # indices into names of sized functions, by address (globals
        # last among those at one address)
        self.functions = functions
        self.starts = array("Q", (values[i] for i in functions))
        # function positions sorted by base name (no .isra.0 suffix)
        order = sorted(range(len(functions)), key=lambda p: (
            names[functions[p]].split(".", 1)[0], p))
        self.bases = [names[functions[p]].split(".", 1)[0] for p in order]
        self.base_order = array("I", order)
        # .debug_aranges: lows, highs, unit offsets, by low
        self.aranges = aranges
        self._where: Dict[str, int] = {}

    def encode(self) -> tuple:
        return ("\0".join(self.names), self.values.tobytes(),
                self.sizes.tobytes(), bytes(self.kinds),
                self.functions.tobytes(), self.starts.tobytes(),
                "\0".join(self.bases), self.base_order.tobytes(),
                tuple(a.tobytes() for a in self.aranges))

    @classmethod
    def decode(cls, state: tuple) -> "_SymbolIndex":
        self = cls.__new__(cls)
        (names, values, sizes, self.kinds, functions, starts, bases,
         order, aranges) = state
        self.names = names.split("\0") if names else []
        self.values, self.sizes = _array("Q", values), _array("Q", sizes)
        self.functions = _array("I", functions)
        self.starts = _array("Q", starts)
        self.bases = bases.split("\0") if bases else []
        self.base_order = _array("I", order)
        self.aranges = tuple(_array("Q", a) for a in aranges)
        self._where = {}
        return self

    def named(self, base: str) -> List[int]:
        """Positions of the functions whose base name is ``base``."""
        i = bisect.bisect_left(self.bases, base)
        found = []
        while i < len(self.bases) and self.bases[i] == base:
            found.append(self.base_order[i])
            i += 1
        return found

    def matching(self, glob: str) -> List[int]:
        match = fnmatch.fnmatchcase
        return [self.base_order[i] for i, base in enumerate(self.bases)
                if match(base, glob)]

    def function(self, position: int) -> FunctionSym:
        i = self.functions[position]
        return FunctionSym(self.names[i], self.values[i], self.sizes[i])

    def lookup(self, name: str) -> Optional[Tuple[int, int, str]]:
        """(value, size, type) of the first symbol called ``name``."""
        i = self._where.get(name)
        if i is None:
            try:
                i = self._where[name] = self.names.index(name)
            except ValueError:
                return None
        kind = self.kinds[i]
        return self.values[i], self.sizes[i], _SYMBOL_TYPES.get(kind,
                                                                str(kind))

    @classmethod
    def from_symtab(cls, debug: "DebugFile", with_aranges: bool = False):
        elf = debug.elf
        symtab = elf.get_section_by_name(".symtab")
        names: List[str] = []
        values, sizes, kinds = array("Q"), array("Q"), bytearray()
        order = []
        if symtab is not None and symtab["sh_entsize"] == _SYM.size:
            strtab = elf.get_section(symtab["sh_link"]).data()
            find = strtab.find
            for name_at, info, _, shndx, value, size in \
                    _SYM.iter_unpack(symtab.data()):
                if not name_at or shndx == 0:
                    continue
                kind = info & 0xF
                if kind == _STT_FUNC and size > 0:
                    order.append((value, info >> 4 == 1, len(names)))
                names.append(strtab[name_at:find(b"\0", name_at)].decode(
                    "utf-8", "replace"))
                values.append(value)
                sizes.append(size)
                kinds.append(kind)
        order.sort()
        functions = array("I", (i for _, _, i in order))
        spans = _read_aranges(debug) if with_aranges else []
        aranges = tuple(array("Q", (span[k] for span in spans))
                        for k in range(3))
        return cls(names, values, sizes, bytes(kinds), functions, aranges)


def _read_aranges(debug: "DebugFile") -> List[Tuple[int, int, int]]:
    """Every (low, high, unit offset) of .debug_aranges, by low."""
    spans = []
    section = debug.elf.get_section_by_name(".debug_aranges")
    if section is None:
        return spans
    data = section.data()
    pos = 0
    while pos + 4 <= len(data):
        length = struct.unpack_from("<I", data, pos)[0]
        if length == 0xFFFFFFFF:
            length, = struct.unpack_from("<Q", data, pos + 4)
            version, cu, asize, ssize = struct.unpack_from("<HQBB", data,
                                                           pos + 12)
            header, end = 12 + 12, pos + 12 + length
        else:
            version, cu, asize, ssize = struct.unpack_from("<HIBB", data,
                                                           pos + 4)
            header, end = 4 + 8, pos + 4 + length
        if asize != 8 or ssize != 0:
            pos = end
            continue
        first = pos + (header + 15) // 16 * 16      # tuples are aligned
        for low, size in struct.iter_unpack("<QQ", data[first:end]):
            if low and size:
                spans.append((low, low + size, cu))
        pos = end
    spans.sort()
    return spans


def _index_dir(debug: "DebugFile") -> Optional[Path]:
    if not debug.build_id:
        return None
    from .build import cache_dir
    return cache_dir() / "dwarf" / debug.build_id


def _cached(debug: "DebugFile", name: str, build,
            encode=lambda value: value, decode=lambda value: value):
    """``build()``, remembered in the cache under the file's build-id as
    ``encode(value)`` (marshal: plain tuples, strings, bytes and numbers
    load fastest); a broken or unwritable cache only costs the rebuild."""
    directory = _index_dir(debug)
    path = directory / f"{name}-v{INDEX_VERSION}.marshal" \
        if directory is not None else None
    if path is not None:
        try:
            with open(path, "rb") as stream:
                return decode(marshal.load(stream))
        except (OSError, EOFError, ValueError, TypeError):
            pass
    value = build()
    if path is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(temp, "wb") as stream:
                marshal.dump(encode(value), stream)
            os.replace(temp, path)
        except OSError:
            pass
    return value


def _array(typecode: str, raw: bytes) -> array:
    result = array(typecode)
    result.frombytes(raw)
    return result


def _cfa_in(fde, pc: int) -> Optional[Tuple[int, int]]:
    rule = None
    for row in fde.get_decoded().table:
        if row["pc"] <= pc:
            rule = row["cfa"]
    if rule is None or rule.reg is None:
        return None
    return rule.reg, rule.offset


def _safe(name: str) -> str:
    """A file-name-safe key for a name or glob."""
    if all(c.isalnum() or c in "_-." for c in name) and len(name) < 100:
        return name
    import hashlib
    return hashlib.sha1(name.encode()).hexdigest()


def _same_file(full: str, wanted: str) -> bool:
    return full == wanted or full.endswith("/" + wanted.lstrip("./")) \
        or wanted.endswith("/" + full)


def _attr(die: DIE, name: str, default):
    attr = die.attributes.get(name)
    return attr.value if attr is not None else default


def _origin(die: DIE) -> DIE:
    """The DIE that holds a DIE's name and type (abstract origin or
    specification), followed to the end."""
    seen = 0
    while seen < 8:
        for link in ("DW_AT_abstract_origin", "DW_AT_specification"):
            if link in die.attributes:
                die = die.get_DIE_from_attribute(link)
                break
        else:
            return die
        seen += 1
    return die


def die_name(die: DIE) -> Optional[str]:
    attr = die.attributes.get("DW_AT_name")
    if attr is None:
        return None
    value = attr.value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) \
        else str(value)


def variable_name(die: DIE) -> Optional[str]:
    return die_name(_origin(die))


def variable_type(die: DIE) -> C.CType:
    return TypeReader().read(_origin(die))


def function_return_type(sub: Subprogram) -> C.CType:
    return TypeReader().read(_origin(sub.die))


class TypeReader:
    """DWARF type DIEs to compiler/ctype.py objects (memoised per DIE)."""

    def __init__(self):
        self.memo: Dict[int, C.CType] = {}

    def read(self, die: DIE) -> C.CType:
        """The type of a variable/function DIE (DW_AT_type), void if none."""
        if "DW_AT_type" not in die.attributes:
            return C.Void()
        return self.type(die.get_DIE_from_attribute("DW_AT_type"))

    def type(self, die: DIE) -> C.CType:
        key = die.offset
        if key in self.memo:
            return self.memo[key]
        maker = getattr(self, "_" + die.tag[len("DW_TAG_"):], None)
        if maker is None:
            result = C.Void()
            self.memo[key] = result
            return result
        return maker(die)

    def _remember(self, die: DIE, t: C.CType) -> C.CType:
        self.memo[die.offset] = t
        return t

    def _base_type(self, die):
        encoding = _attr(die, "DW_AT_encoding", 0)
        signed = encoding in (0x05, 0x06, 0x0d)   # signed, signed_char, sfixed
        floating = encoding in (0x04, 0x03)
        return self._remember(die, C.Base(die_name(die) or "int",
                                          _attr(die, "DW_AT_byte_size", 0),
                                          signed, floating))

    def _pointer_type(self, die):
        p = self._remember(die, C.Pointer(C.Void()))
        p.target = self.read(die)
        return p

    _reference_type = _pointer_type

    def _typedef(self, die):
        t = self._remember(die, C.Typedef(die_name(die) or "", C.Void()))
        t.target = self.read(die)
        return t

    def _qualified(self, die, qualifier):
        t = self._remember(die, C.Qualified(qualifier, C.Void()))
        t.target = self.read(die)
        return t

    def _const_type(self, die):
        return self._qualified(die, "const")

    def _volatile_type(self, die):
        return self._qualified(die, "volatile")

    def _restrict_type(self, die):
        return self._qualified(die, "restrict")

    def _atomic_type(self, die):
        return self._qualified(die, "_Atomic")

    def _enumeration_type(self, die):
        under = self.read(die)
        signed = isinstance(C.strip(under), C.Base) and C.strip(under).signed
        values = [(die_name(c), _attr(c, "DW_AT_const_value", 0))
                  for c in die.iter_children()
                  if c.tag == "DW_TAG_enumerator"]
        return self._remember(die, C.Enum(die_name(die) or "",
                                          _attr(die, "DW_AT_byte_size", 4),
                                          signed, values))

    def _aggregate(self, die, kind):
        s = self._remember(die, C.Struct(
            kind, die_name(die) or "", _attr(die, "DW_AT_byte_size", 0),
            declaration=bool(_attr(die, "DW_AT_declaration", False))))
        for child in die.iter_children():
            if child.tag == "DW_TAG_member":
                s.members.append(self._member(child))
        return s

    def _member(self, die) -> C.Member:
        offset = _attr(die, "DW_AT_data_member_location", 0)
        if not isinstance(offset, int):
            offset = 0      # location expressions: only in C++
        bit_size = _attr(die, "DW_AT_bit_size", 0)
        bit_offset = 0
        if bit_size and "DW_AT_data_bit_offset" in die.attributes:
            total = die.attributes["DW_AT_data_bit_offset"].value
            offset, bit_offset = total // 8, total % 8
        return C.Member(die_name(die) or "", offset, self.read(die),
                        bit_size, bit_offset)

    def _structure_type(self, die):
        return self._aggregate(die, "struct")

    def _union_type(self, die):
        return self._aggregate(die, "union")

    def _class_type(self, die):
        return self._aggregate(die, "struct")

    def _array_type(self, die):
        element = self.read(die)
        counts = []
        for child in die.iter_children():
            if child.tag == "DW_TAG_subrange_type":
                if "DW_AT_count" in child.attributes:
                    counts.append(_attr(child, "DW_AT_count", None))
                elif "DW_AT_upper_bound" in child.attributes:
                    upper = _attr(child, "DW_AT_upper_bound", None)
                    counts.append(upper + 1 if isinstance(upper, int)
                                  else None)
                else:
                    counts.append(None)
        t: C.CType = element
        for count in reversed(counts or [None]):
            t = C.Array(t, count if isinstance(count, int) else None)
        return self._remember(die, t)

    def _subroutine_type(self, die):
        return self._remember(die, C.Function())
