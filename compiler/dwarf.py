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

import fnmatch
import functools
import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from elftools.common.exceptions import ELFError
from elftools.dwarf.die import DIE
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection, SymbolTableSection

from . import ctype as C
from .errors import EnvironmentProblem

# Each allocated section of a module starts at FAKE_STRIDE * (index + 1);
# addresses stay below 2**32 because some DWARF relocations are 32-bit.
FAKE_STRIDE = 1 << 24
_SYM = struct.Struct("<IBBHQQ")     # Elf64_Sym


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
    low_pc: int
    high_pc: int
    decl_file: str
    decl_line: int
    inline_of: Optional[DIE] = None     # set for inlined instances
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


class DebugFile:
    """One ELF file with DWARF: a ``.ko`` or vmlinux."""

    def __init__(self, path: Path, target: str):
        self.path = Path(path)
        self.target = target
        try:
            data = self.path.read_bytes()
            probe = ELFFile(io.BytesIO(data))
            self.relocatable = probe["e_type"] == "ET_REL"
            if self.relocatable:
                data, self.bases = _patched_module_image(data)
            else:
                self.bases = {}
            self.elf = ELFFile(io.BytesIO(data))
            if not self.elf.has_dwarf_info():
                raise EnvironmentProblem(
                    f"{self.path} has no DWARF debugging information")
            self.dwarf = self.elf.get_dwarf_info(
                relocate_dwarf_sections=self.relocatable)
        except (OSError, ELFError) as exc:
            raise EnvironmentProblem(f"cannot read {self.path}: {exc}")
        self._sections = [(base, self.elf.get_section(index).name)
                          for index, base in self.bases.items()]

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
    def _symbols(self) -> Dict[str, Tuple[int, int, str]]:
        """name -> (value, size, type) for every named symbol."""
        table = {}
        symtab = self.elf.get_section_by_name(".symtab")
        if not isinstance(symtab, SymbolTableSection):
            return table
        for sym in symtab.iter_symbols():
            if sym.name and sym["st_shndx"] != "SHN_UNDEF":
                table.setdefault(sym.name, (sym["st_value"], sym["st_size"],
                                            sym["st_info"]["type"]))
        return table

    def symbol_value(self, name: str) -> int:
        try:
            return self._symbols[name][0]
        except KeyError:
            raise EnvironmentProblem(f"{self.path} has no symbol {name}")

    def function_symbols(self) -> List[FunctionSym]:
        return [FunctionSym(name, value, size)
                for name, (value, size, kind) in self._symbols.items()
                if kind == "STT_FUNC" and size > 0]

    def symbol_at(self, address: int) -> Optional[FunctionSym]:
        for sym in self.function_symbols():
            if sym.address <= address < sym.address + sym.size:
                return sym
        return None

    @functools.cached_property
    def build_id(self) -> str:
        for section in self.elf.iter_sections():
            if isinstance(section, NoteSection):
                for note in section.iter_notes():
                    if note["n_type"] == "NT_GNU_BUILD_ID":
                        return note["n_desc"]
        return ""

    # -- compilation units --
    @functools.cached_property
    def _aranges(self):
        return self.dwarf.get_aranges()

    def cu_at(self, address: int):
        """The compilation unit whose code contains ``address``."""
        if self._aranges is not None:
            offset = self._aranges.cu_offset_at_addr(address)
            if offset is not None:
                return self.dwarf.get_CU_at(offset)
        for cu in self.dwarf.iter_CUs():
            if any(lo <= address < hi for lo, hi in self.die_ranges(
                    cu.get_top_DIE(), cu)):
                return cu
        return None

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
        """The out-of-line function whose entry is ``address``."""
        cu = self.cu_at(address)
        if cu is None:
            return None
        for die in cu.get_top_DIE().iter_children():
            if die.tag != "DW_TAG_subprogram":
                continue
            spans = self.die_ranges(die, cu)
            if spans and spans[0][0] == address:
                return self._subprogram(die, spans)
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
        the symbol table (cheap) and then their compilation unit only."""
        found = []
        for sym in self.function_symbols():
            base = sym.name.split(".", 1)[0]
            if fnmatch.fnmatchcase(base, name_glob):
                sub = self.subprogram_at(sym.address)
                if sub is not None and sub.name == base:
                    found.append(sub)
        found.sort(key=lambda s: (s.name, s.low_pc))
        return found

    def find_inlined(self, name_glob: str) -> List[Subprogram]:
        """Every inlined instance of a function matching the glob."""
        found = []
        for cu in self.dwarf.iter_CUs():
            for die in cu.iter_DIEs():
                if die.tag != "DW_TAG_inlined_subroutine":
                    continue
                origin = _origin(die)
                name = die_name(origin)
                if name and fnmatch.fnmatchcase(name, name_glob):
                    spans = self.die_ranges(die, cu)
                    if spans:
                        found.append(self._subprogram(die, spans, origin))
        found.sort(key=lambda s: (s.name, s.low_pc))
        return found

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
        for fde in self._fdes:
            start = fde.header["initial_location"]
            if not start <= pc < start + fde.header["address_range"]:
                continue
            rule = None
            for row in fde.get_decoded().table:
                if row["pc"] <= pc:
                    rule = row["cfa"]
            if rule is None or rule.reg is None:
                return None
            return rule.reg, rule.offset
        return None

    # -- types --
    def find_struct(self, kind: str, name: str) -> Optional[C.Struct]:
        """The full definition of ``struct NAME`` (or union) anywhere."""
        tag = "DW_TAG_structure_type" if kind == "struct" \
            else "DW_TAG_union_type"
        for cu in self.dwarf.iter_CUs():
            for die in cu.get_top_DIE().iter_children():
                if die.tag == tag and die_name(die) == name and \
                        "DW_AT_declaration" not in die.attributes:
                    return TypeReader().type(die)
        return None

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
