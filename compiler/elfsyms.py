"""ELF symbols and addresses of a debug file.

A module (ET_REL) has no addresses yet: every code and data address in
its DWARF is "offset N in section S", applied by relocations.  We give
each allocated section a distinct fake base before pyelftools applies
them (``patched_module_image``), so a DWARF address names its section
unambiguously.  vmlinux (ET_EXEC) has link-time addresses.

``SymbolIndex`` is what the symbol table (and, for vmlinux,
.debug_aranges) say, read with ``struct`` rather than pyelftools and
kept in a form that loads from the index cache in milliseconds.
"""

from __future__ import annotations

import bisect
import fnmatch
import io
import struct
from array import array
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from elftools.elf.elffile import ELFFile

from .errors import EnvironmentProblem
from .indexcache import array_of

# Each allocated section of a module starts at FAKE_STRIDE * (index + 1);
# addresses stay below 2**32 because some DWARF relocations are 32-bit.
FAKE_STRIDE = 1 << 24
_SYM = struct.Struct("<IBBHQQ")     # Elf64_Sym
_SHF_ALLOC = 0x2
_STT_FUNC = 2
_STB_GLOBAL = 1
_NT_GNU_BUILD_ID = 3


@dataclass(frozen=True)
class CodeAddress:
    """A relocatable address: ``offset`` bytes into ``section`` of
    ``module`` (a module name, or "kernel" with section "_stext")."""
    module: str
    section: str
    offset: int


@dataclass
class FunctionSym:
    name: str           # as in the symbol table (may carry .isra.0 etc.)
    address: int        # in this file's address space (fake for modules)
    size: int


def patched_module_image(data: bytes) -> Tuple[bytes, Dict[int, int]]:
    """The module's bytes with every symbol of an allocated section moved
    to that section's fake base; returns the bytes and {shndx: base}."""
    elf = ELFFile(io.BytesIO(data))
    bases = {}
    for index, section in enumerate(elf.iter_sections()):
        if section["sh_flags"] & _SHF_ALLOC:
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


def read_build_id(elf: ELFFile) -> str:
    """The GNU build-id note, in hex ("" if there is none)."""
    return build_id_note(elf)[0]


def build_id_note(elf: ELFFile) -> Tuple[str, int]:
    """The GNU build-id in hex and the file offset of its bytes (the
    note's descriptor), or ("", 0) if there is none."""
    for section in elf.iter_sections():
        if section["sh_type"] != "SHT_NOTE":
            continue
        data = section.data()
        pos = 0
        while pos + 12 <= len(data):
            namesz, descsz, kind = struct.unpack_from("<III", data, pos)
            name_at = pos + 12
            desc_at = name_at + (namesz + 3) // 4 * 4
            if kind == _NT_GNU_BUILD_ID and \
                    data[name_at:name_at + namesz] == b"GNU\0":
                return (data[desc_at:desc_at + descsz].hex(),
                        section["sh_offset"] + desc_at)
            pos = desc_at + (descsz + 3) // 4 * 4
    return "", 0


class SymbolIndex:
    """Symbols and unit address ranges in lookup form: flat arrays and
    joined strings, so that loading it from the cache takes
    milliseconds."""

    def __init__(self, names, values, sizes, functions, aranges):
        self.names: List[str] = names           # defined, symtab order
        self.values, self.sizes = values, sizes
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
                self.sizes.tobytes(), self.functions.tobytes(), self.starts.tobytes(),
                "\0".join(self.bases), self.base_order.tobytes(),
                tuple(a.tobytes() for a in self.aranges))

    @classmethod
    def decode(cls, state: tuple) -> "SymbolIndex":
        self = cls.__new__(cls)
        (names, values, sizes, functions, starts, bases, order,
         aranges) = state
        self.names = names.split("\0") if names else []
        self.values, self.sizes = array_of("Q", values), array_of("Q", sizes)
        self.functions = array_of("I", functions)
        self.starts = array_of("Q", starts)
        self.bases = bases.split("\0") if bases else []
        self.base_order = array_of("I", order)
        self.aranges = tuple(array_of("Q", a) for a in aranges)
        self._where = {}
        return self

    @classmethod
    def from_symtab(cls, elf: ELFFile,
                    with_aranges: bool = False) -> "SymbolIndex":
        symtab = elf.get_section_by_name(".symtab")
        names: List[str] = []
        values, sizes = array("Q"), array("Q")
        order = []
        if symtab is not None and symtab["sh_entsize"] == _SYM.size:
            strtab = elf.get_section(symtab["sh_link"]).data()
            find = strtab.find
            for name_at, info, _, shndx, value, size in \
                    _SYM.iter_unpack(symtab.data()):
                if not name_at or shndx == 0:
                    continue
                if info & 0xF == _STT_FUNC and size > 0:
                    order.append((value, info >> 4 == _STB_GLOBAL,
                                  len(names)))
                names.append(strtab[name_at:find(b"\0", name_at)].decode(
                    "utf-8", "replace"))
                values.append(value)
                sizes.append(size)
        order.sort()
        functions = array("I", (i for _, _, i in order))
        spans = read_aranges(elf) if with_aranges else []
        aranges = tuple(array("Q", (span[k] for span in spans))
                        for k in range(3))
        return cls(names, values, sizes, functions, aranges)

    def value(self, name: str) -> Optional[int]:
        """The value of the first symbol called ``name``."""
        i = self._where.get(name)
        if i is None:
            try:
                i = self._where[name] = self.names.index(name)
            except ValueError:
                return None
        return self.values[i]

    def function(self, position: int) -> FunctionSym:
        i = self.functions[position]
        return FunctionSym(self.names[i], self.values[i], self.sizes[i])

    def all_functions(self) -> List[FunctionSym]:
        return [self.function(p) for p in range(len(self.functions))]

    def functions_named(self, name_glob: str) -> List[FunctionSym]:
        """Function symbols whose name, less any ``.isra.0``-like suffix,
        matches the glob."""
        if not any(c in name_glob for c in "*?["):
            i = bisect.bisect_left(self.bases, name_glob)
            picks = []
            while i < len(self.bases) and self.bases[i] == name_glob:
                picks.append(self.base_order[i])
                i += 1
        else:
            match = fnmatch.fnmatchcase
            picks = [self.base_order[i] for i, base in enumerate(self.bases)
                     if match(base, name_glob)]
        return [self.function(p) for p in sorted(picks)]

    def symbol_at(self, address: int) -> Optional[FunctionSym]:
        """The function symbol covering ``address`` (a global one when
        several start at the same place)."""
        i = bisect.bisect_right(self.starts, address)
        # functions may nest or overlap: look back a little
        for p in range(i - 1, max(i - 64, 0) - 1, -1):
            sym = self.function(p)
            if sym.address <= address < sym.address + sym.size:
                return sym
        return None

    def unit_offset_at(self, address: int) -> Optional[int]:
        """The offset of the unit whose .debug_aranges cover ``address``."""
        lows, highs, units = self.aranges
        i = bisect.bisect_right(lows, address)
        for j in range(i - 1, max(i - 8, 0) - 1, -1):
            if lows[j] <= address < highs[j]:
                return units[j]
        return None


def read_aranges(elf: ELFFile) -> List[Tuple[int, int, int]]:
    """Every (low, high, unit offset) of .debug_aranges, by low."""
    spans = []
    section = elf.get_section_by_name(".debug_aranges")
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
