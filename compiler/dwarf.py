"""Reading the DWARF of a kernel module or of vmlinux: ``DebugFile``,
what the rest of the compiler asks about functions, lines, variables,
frames and structs of one file.

Each concern lives in its own module: addresses and symbols in
elfsyms.py, function search in subprograms.py, line tables in
linetable.py, call frame information in cfi.py, byte searches of
vmlinux's DWARF in diescan.py, types in dwarftypes.py, the per-build-id
index files in indexcache.py, and every use of pyelftools' internals in
pyelftools_adapter.py.  Module addresses are fake per-section bases
(see elfsyms.py); ``locate`` turns an address back into (section,
offset), which is what probes are emitted as.  vmlinux has link-time
addresses; probes there are relative to ``_stext``, which KASLR moves as
a whole.
"""

from __future__ import annotations

import functools
import io
import mmap
import struct
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from elftools.common.exceptions import ELFError
from elftools.dwarf.die import DIE
from elftools.elf.elffile import ELFFile

from . import ctype as C
from .cfi import CfaRule, FrameInfo
from .dies import die_name, die_ranges, origin
from .diescan import DieScan
from .dwarftypes import TypeReader
from .elfsyms import (FAKE_STRIDE, CodeAddress, FunctionSym, SymbolIndex,
                      patched_module_image, read_build_id)
from .errors import EnvironmentProblem
from .indexcache import cached, key
from .linetable import LineTables
from .pyelftools_adapter import read_dwarf_in_place
from .subprograms import FunctionFinder, Subprogram

_ET_REL = 1


class DebugFile:
    """One ELF file with DWARF: a ``.ko`` or vmlinux.

    A module is small: it is read whole and pyelftools applies its
    relocations.  vmlinux (ET_EXEC, ~630 MB with DWARF) is mapped, its
    DWARF is read in place without applying the ``.rela.debug_*``
    sections (the linker already wrote final values), and everything that
    would need a pass over the whole file is indexed once per build-id
    (indexcache.py)."""

    def __init__(self, path: Path, module: str):
        self.path = Path(path)
        self.module = module
        self._map = None
        self._cus_seen: Dict[int, object] = {}
        try:
            with open(self.path, "rb") as stream:
                head = stream.read(64)
            if head[:4] != b"\x7fELF":
                raise ELFError("not an ELF file")
            self.relocatable = struct.unpack_from("<H", head, 16)[0] == \
                _ET_REL
            if self.relocatable:
                data, self.bases = patched_module_image(
                    self.path.read_bytes())
                self.elf = ELFFile(io.BytesIO(data))
            else:
                self.bases = {}
                self._file = open(self.path, "rb")
                self._map = mmap.mmap(self._file.fileno(), 0,
                                      access=mmap.ACCESS_READ)
                self.elf = ELFFile(self._file)
                read_dwarf_in_place(self.elf, self._map)
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
        self.lines = LineTables(self.dwarf)
        self._functions = FunctionFinder(self)

    # -- addresses and symbols (elfsyms.py) --
    def locate(self, address: int) -> CodeAddress:
        """The relocatable form of an address of this file."""
        if not self.relocatable:
            return CodeAddress("kernel", "_stext",
                               address - self.symbol_value("_stext"))
        for base, name in self._sections:
            if base <= address < base + FAKE_STRIDE:
                return CodeAddress(self.module, name, address - base)
        raise ValueError(f"address {address:#x} is in no section")

    @functools.cached_property
    def symbols(self) -> SymbolIndex:
        """Symbols (and, for vmlinux, address ranges of units), read once
        per build-id and cached."""
        if self.relocatable:
            return SymbolIndex.from_symtab(self.elf)
        return cached(self.build_id, "symbols", lambda: SymbolIndex
                      .from_symtab(self.elf, with_aranges=True),
                      SymbolIndex.encode, SymbolIndex.decode)

    def symbol_value(self, name: str) -> int:
        value = self.symbols.value(name)
        if value is None:
            raise EnvironmentProblem(f"{self.path} has no symbol {name}")
        return value

    def function_symbols(self) -> List[FunctionSym]:
        """Every sized function symbol, by address (several may share a
        name: static functions of different files)."""
        return self.symbols.all_functions()

    def symbol_at(self, address: int) -> Optional[FunctionSym]:
        return self.symbols.symbol_at(address)

    @functools.cached_property
    def build_id(self) -> str:
        return read_build_id(self.elf)

    # -- compilation units --
    def cu_at(self, address: int):
        """The compilation unit whose code contains ``address``."""
        offset = self._cu_offset_at(address)
        if offset is not None:
            return self.unit(offset)
        if not self.relocatable:
            return None     # never walk every unit of vmlinux
        for cu in self.dwarf.iter_CUs():
            if any(lo <= address < hi for lo, hi in self.die_ranges(
                    cu.get_top_DIE(), cu)):
                return cu
        return None

    def _cu_offset_at(self, address: int) -> Optional[int]:
        if not self.relocatable:
            return self.symbols.unit_offset_at(address)
        if self._aranges is not None:
            return self._aranges.cu_offset_at_addr(address)
        return None

    @functools.cached_property
    def _aranges(self):
        return self.dwarf.get_aranges()

    def unit(self, offset: int):
        """The unit at ``offset``; remembered as one a script reaches, where
        ``find_struct`` looks first."""
        cu = self.dwarf.get_CU_at(offset)
        self._cus_seen.setdefault(offset, cu)
        return cu

    def die_ranges(self, die: DIE, cu=None) -> List[Tuple[int, int]]:
        return die_ranges(self.dwarf, die, cu)

    @functools.cached_property
    def scan(self) -> DieScan:
        """vmlinux only: DIEs found by searching its mapped bytes."""
        return DieScan(self.dwarf, self._map, self._file.fileno(), self.unit)

    # -- functions (subprograms.py) and their lines (linetable.py) --
    def find_functions(self, name_glob: str) -> List[Subprogram]:
        """Out-of-line functions whose name matches the glob, found from
        the symbol table (cheap) and then their compilation unit only."""
        return self._functions.find_functions(name_glob)

    def function_containing(self, address: int) -> Optional[Subprogram]:
        """The out-of-line function whose code holds ``address`` (found
        through the symbol covering it), None outside any."""
        symbol = self.symbol_at(address)
        if symbol is None:
            return None
        return self._functions.subprogram_at(symbol.address)

    def find_inlined(self, name_glob: str) -> List[Subprogram]:
        """Every inlined instance of a function matching the glob."""
        return self._functions.find_inlined(name_glob)

    def line_addresses(self, sub: Subprogram, line: int) -> List[int]:
        """Addresses where ``line`` of the function's file begins a
        statement inside the function, lowest first."""
        return self.lines.line_addresses(sub.die.cu, sub.ranges,
                                         sub.decl_file, line)

    def lines_of(self, sub: Subprogram) -> List[int]:
        """Source lines with statements in the function, for hints."""
        return self.lines.lines_in(sub.die.cu, sub.ranges)

    # -- call frame information (cfi.py) --
    @functools.cached_property
    def _frames(self) -> FrameInfo:
        return FrameInfo(self.dwarf, self.elf, self.build_id, self.symbol_at)

    def cfa_rule(self, pc: int) -> Optional[CfaRule]:
        """(DWARF register, offset) with CFA = register + offset at pc."""
        return self._frames.cfa_rule(pc)

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
        offset = cached(self.build_id, f"struct-{kind}-{key(name)}",
                        lambda: self._struct_offset(tag, name))
        if offset is None:
            return None
        return TypeReader().type(self.scan.die_at(offset))

    def _struct_offset(self, tag: str, name: str) -> Optional[int]:
        for die in self.scan.dies_named(name):
            if die.tag == tag and \
                    "DW_AT_declaration" not in die.attributes:
                return die.offset
        return None

    # -- variables --
    def variables_at(self, sub: Subprogram, pc: int) -> List[DIE]:
        """Parameters and locals visible at ``pc``, innermost scope first
        (SystemTap's order for $$vars); an inner declaration hides an
        outer one of the same name."""
        scopes = sorted(self._scopes_at(sub.die, pc, 0),
                        key=lambda scope: -scope[0])
        seen: Dict[str, DIE] = {}
        for _, dies in scopes:
            for die in dies:
                name = die_name(origin(die))
                if name and name not in seen:
                    seen[name] = die
        return list(seen.values())

    def parameters(self, sub: Subprogram) -> List[DIE]:
        return [d for d in sub.die.iter_children()
                if d.tag == "DW_TAG_formal_parameter"]

    def _scopes_at(self, scope: DIE, pc: int,
                   depth: int) -> Iterator[Tuple[int, List[DIE]]]:
        """(depth, its variables) of the scope and of each lexical block
        in it that covers pc."""
        dies = []
        for die in scope.iter_children():
            if die.tag in ("DW_TAG_formal_parameter", "DW_TAG_variable"):
                dies.append(die)
            elif die.tag == "DW_TAG_lexical_block":
                spans = self.die_ranges(die)
                if not spans or any(lo <= pc < hi for lo, hi in spans):
                    yield from self._scopes_at(die, pc, depth + 1)
        yield depth, dies
