"""SDT (USDT) marks: the ``.note.stapsdt`` notes of a program or library
(``<sys/sdt.h>``'s ``STAP_PROBE``/``DTRACE_PROBE``), for
``process("PATH").mark("NAME")``.

Each version-3 note holds the probe's address, the address of the
``.stapsdt.base`` section when it was linked, the address of its
semaphore (0: none), the provider, the name and the arguments as the
assembler saw them: ``SIZE@OPERAND`` separated by spaces, SIZE signed
when negative (``-4@%edi 8@-16(%rbp) 8@counter(%rip)``).  A program
prelinked after it was built has moved its sections: the note's base
against the section's address says by how much.

An argument is turned into a ``location.Location`` over the uprobe's
registers: the operand of the ``nop`` the mark is, read at the probed
address.
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple, Union

from elftools.elf.elffile import ELFFile

from . import ctype as C
from .location import Computed, InMemory, InRegister, Location, regs

_NOTE_OWNER = b"stapsdt"
_NOTE_TYPE = 3


@dataclass(frozen=True)
class SdtNote:
    """One mark of the file at ``path``, its addresses as the file's own
    (link-time, prelink corrected) addresses."""
    path: str
    provider: str
    name: str
    pc: int
    semaphore: int          # 0: the mark has none
    arguments: str          # the note's text, parsed when used

    @property
    def argument_count(self) -> int:
        return len(self.arguments.split())


class SdtArgumentError(Exception):
    """A malformed argument: ``column`` is where in the note's argument
    text it went wrong (0-based)."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Register:
    member: str             # of struct pt_regs
    shift: int              # bits: 8 for %ah, %bh, %ch, %dh
    size: int               # bytes


@dataclass(frozen=True)
class Memory:
    """``DISP(BASE,INDEX,SCALE)``; a symbol in DISP is relocated like the
    mark itself (an absolute or %rip-relative operand)."""
    displacement: int
    symbol: str
    base: Optional[str]     # pt_regs members; None when absent
    index: Optional[str]
    scale: int


@dataclass(frozen=True)
class Immediate:
    value: int


Operand = Union[Register, Memory, Immediate]


@dataclass(frozen=True)
class SdtArgument:
    size: int               # bytes: 1, 2, 4 or 8
    signed: bool
    operand: Operand
    text: str

    @property
    def ctype(self) -> C.Base:
        names = {1: "char", 2: "short", 4: "int", 8: "long"}
        name = names[self.size] if self.signed else \
            f"unsigned {names[self.size]}"
        return C.Base(name, self.size, self.signed)


def _register_table() -> Dict[str, Register]:
    table: Dict[str, Register] = {"rip": Register("ip", 0, 8)}
    for letter in "abcd":
        member = f"{letter}x"
        table[f"r{letter}x"] = Register(member, 0, 8)
        table[f"e{letter}x"] = Register(member, 0, 4)
        table[f"{letter}x"] = Register(member, 0, 2)
        table[f"{letter}l"] = Register(member, 0, 1)
        table[f"{letter}h"] = Register(member, 8, 1)
    for member in ("si", "di", "bp", "sp"):
        table[f"r{member}"] = Register(member, 0, 8)
        table[f"e{member}"] = Register(member, 0, 4)
        table[member] = Register(member, 0, 2)
        table[f"{member}l"] = Register(member, 0, 1)
    for number in range(8, 16):
        member = f"r{number}"
        table[member] = Register(member, 0, 8)
        for suffix, size in (("d", 4), ("w", 2), ("b", 1)):
            table[f"{member}{suffix}"] = Register(member, 0, size)
    return table


REGISTERS = _register_table()

_SPEC = re.compile(r"(?:(-?)(\d+)@)?(.+)\Z", re.S)
_NUMBER = r"-?(?:0[xX][0-9a-fA-F]+|\d+)"
_SYMBOL = r"[A-Za-z_.$][\w.$@]*"
_DISPLACEMENT = re.compile(
    rf"(?:(?P<symbol>{_SYMBOL})(?P<offset>[+-](?:0[xX][0-9a-fA-F]+|\d+))?"
    rf"|(?P<number>{_NUMBER}))?\Z")
_MEMORY = re.compile(r"(?P<disp>[^(]*)\((?P<inside>[^()]*)\)\Z")


def parse_arguments(text: str) -> List[SdtArgument]:
    """The note's argument text, every argument of it."""
    parsed = []
    for match in re.finditer(r"\S+", text):
        parsed.append(parse_argument(match.group(), match.start()))
    return parsed


def parse_argument(spec: str, column: int = 0) -> SdtArgument:
    """One ``[-]SIZE@OPERAND``; a bare OPERAND (the first notes' form)
    is a signed 8-byte value."""
    match = _SPEC.match(spec)
    if match is None:
        raise SdtArgumentError(f"malformed argument '{spec}'", column)
    sign, size, operand = match.groups()
    if size is None:
        signed, nbytes, at = True, 8, column
    else:
        signed, nbytes = bool(sign), int(size)
        at = column + match.start(3)
        if nbytes not in (1, 2, 4, 8):
            raise SdtArgumentError(f"argument '{spec}' has size {nbytes}: "
                                   "1, 2, 4 or 8 bytes expected", column)
    return SdtArgument(nbytes, signed, _operand(operand, at), spec)


def _operand(text: str, column: int) -> Operand:
    if text.startswith("%"):
        return _register(text, column)
    if text.startswith("$"):
        try:
            return Immediate(int(text[1:], 0))
        except ValueError:
            raise SdtArgumentError(f"immediate '{text}' is not a number",
                                   column) from None
    match = _MEMORY.match(text)
    if match is None:
        displacement, symbol = _displacement(text, column)
        if not symbol:
            raise SdtArgumentError(f"operand '{text}' is not a register, "
                                   "an immediate or a memory operand",
                                   column)
        return Memory(displacement, symbol, None, None, 1)
    displacement, symbol = _displacement(match.group("disp"), column)
    inside = column + match.start("inside")
    parts = match.group("inside").split(",")
    if len(parts) > 3:
        raise SdtArgumentError(f"memory operand '{text}' has more than "
                               "base, index and scale", inside)
    base = _register(parts[0], inside).member if parts[0] else None
    index = _register(parts[1], inside).member \
        if len(parts) > 1 and parts[1] else None
    scale = _scale(parts[2], inside) if len(parts) > 2 else 1
    if base == "ip" and (index is not None or not symbol):
        raise SdtArgumentError(f"'{text}': a %rip-relative operand needs a "
                               "symbol, and no index", column)
    if base is None and index is None and not symbol:
        raise SdtArgumentError(f"memory operand '{text}' has no base",
                               column)
    return Memory(displacement, symbol, base, index, scale)


def _register(text: str, column: int) -> Register:
    found = REGISTERS.get(text[1:]) if text.startswith("%") else None
    if found is None:
        raise SdtArgumentError(f"unknown register '{text}'", column)
    return found


def _scale(text: str, column: int) -> int:
    if text not in ("1", "2", "4", "8"):
        raise SdtArgumentError(f"scale '{text}' is not 1, 2, 4 or 8",
                               column)
    return int(text)


def _displacement(text: str, column: int) -> Tuple[int, str]:
    match = _DISPLACEMENT.match(text)
    if match is None:
        raise SdtArgumentError(f"displacement '{text}' is not a number or "
                               "symbol[+-number]", column)
    if match.group("number"):
        return int(match.group("number"), 0), ""
    return int(match.group("offset") or "0", 0), match.group("symbol") or ""


def argument_location(argument: SdtArgument, note: SdtNote) -> Location:
    """Where the argument is when the mark's uprobe fires.  A symbol's
    run-time address is the mark's (the uprobe's ip, where the
    breakpoint was) moved by the distance between them in the file."""
    operand = argument.operand
    if isinstance(operand, Immediate):
        return Computed(f"((u64){operand.value}LL)")
    if isinstance(operand, Register):
        if operand.shift:
            return Computed(f"({regs(operand.member)} >> {operand.shift})")
        if operand.size < argument.size:
            mask = (1 << (operand.size * 8)) - 1
            return Computed(f"({regs(operand.member)} & {mask:#x}ULL)")
        return InRegister(operand.member)
    terms = []
    if operand.symbol:
        symbols = symbols_of(note.path)
        if operand.symbol not in symbols:
            raise SdtArgumentError(f"'{argument.text}': no symbol "
                                   f"'{operand.symbol}' in the program", 0)
        terms.append(f"{regs('ip')} + "
                     f"(u64)({symbols[operand.symbol] - note.pc}LL)")
    if operand.base is not None and operand.base != "ip":
        terms.append(regs(operand.base))
    if operand.index is not None:
        terms.append(f"{regs(operand.index)} * {operand.scale}")
    if operand.displacement:
        terms.append(f"(u64)({operand.displacement}LL)")
    return InMemory(f"({' + '.join(terms)})")


def read_notes(elf: ELFFile, path: str) -> List[SdtNote]:
    """The marks of the file at ``path``, in the notes' order."""
    section = elf.get_section_by_name(".note.stapsdt")
    if section is None:
        return []
    base_section = elf.get_section_by_name(".stapsdt.base")
    base = base_section["sh_addr"] if base_section is not None else None
    little = elf.little_endian
    width = elf.elfclass // 8
    return [_adjusted(path, note, base) for note in
            _notes(section.data(), little, width)]


def _adjusted(path: str, note: Tuple[int, int, int, str, str, str],
              base: Optional[int]) -> SdtNote:
    """Addresses moved by prelink's shift: the section's address now
    against the one the note recorded."""
    pc, linked_base, semaphore, provider, name, arguments = note
    shift = base - linked_base if base is not None and linked_base else 0
    return SdtNote(path, provider, name, pc + shift,
                   semaphore + shift if semaphore else 0, arguments)


def _notes(data: bytes, little: bool, width: int
           ) -> Iterator[Tuple[int, int, int, str, str, str]]:
    order = "<" if little else ">"
    address = order + ("Q" if width == 8 else "I")
    position = 0
    while position + 12 <= len(data):
        name_size, desc_size, kind = struct.unpack_from(order + "III", data,
                                                        position)
        position += 12
        owner = data[position:position + name_size].rstrip(b"\0")
        position += _aligned(name_size)
        desc = data[position:position + desc_size]
        position += _aligned(desc_size)
        if owner != _NOTE_OWNER or kind != _NOTE_TYPE or \
                len(desc) < 3 * width:
            continue
        pc, linked_base, semaphore = (
            struct.unpack_from(address, desc, i * width)[0]
            for i in range(3))
        strings = desc[3 * width:].split(b"\0")
        if len(strings) < 3:
            continue
        provider, name, arguments = (s.decode("utf-8", "replace")
                                     for s in strings[:3])
        yield pc, linked_base, semaphore, provider, name, arguments


def _aligned(size: int) -> int:
    return (size + 3) & ~3


@functools.lru_cache(maxsize=8)
def symbols_of(path: str) -> Dict[str, int]:
    """Every defined symbol's address in the file, for operands that
    name one (read once per file, only when one does)."""
    with open(path, "rb") as stream:
        return _symbols(ELFFile(stream))


def _symbols(elf: ELFFile) -> Dict[str, int]:
    found: Dict[str, int] = {}
    for table_name in (".dynsym", ".symtab"):
        table = elf.get_section_by_name(table_name)
        for symbol in table.iter_symbols() if table is not None else ():
            if symbol["st_shndx"] != "SHN_UNDEF" and symbol.name:
                found[symbol.name.split("@", 1)[0]] = symbol["st_value"]
    return found
