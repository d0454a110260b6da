"""Functions of a debug file: out-of-line functions found from the
symbol table and then their compilation unit only, and inlined
instances, each as a ``Subprogram`` (its DIE and where its code is)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from elftools.dwarf.die import DIE

from .dies import attr, die_name, origin
from .indexcache import cached, key

if TYPE_CHECKING:
    from .dwarf import DebugFile


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


class FunctionFinder:
    def __init__(self, debug: DebugFile):
        self.debug = debug
        self._at: Dict[int, Optional[Subprogram]] = {}

    def find_functions(self, name_glob: str) -> List[Subprogram]:
        """Out-of-line functions whose name matches the glob.  A function
        is found once, by its entry, however many symbols lead to it
        (``f`` and its ``f.cold`` part, aliases)."""
        found, seen = [], set()
        for sym in self.debug.symbols.functions_named(name_glob):
            base = sym.name.split(".", 1)[0]
            sub = self.subprogram_at(sym.address)
            if sub is not None and sub.name == base and \
                    sub.low_pc not in seen:
                seen.add(sub.low_pc)
                found.append(sub)
        found.sort(key=lambda s: (s.name, s.low_pc))
        return found

    def subprogram_at(self, address: int) -> Optional[Subprogram]:
        """The out-of-line function with a part starting at ``address``:
        its entry, or a part GCC moved away (``f.cold``)."""
        if address not in self._at:
            self._at[address] = self._find_subprogram(address)
        return self._at[address]

    def _find_subprogram(self, address: int) -> Optional[Subprogram]:
        debug = self.debug
        cu = debug.cu_at(address)
        if cu is None:
            return None
        if not debug.relocatable:
            sym = debug.symbol_at(address)
            if sym is not None:
                found = self._subprogram_named(cu, sym.name.split(".")[0],
                                               address)
                if found is not None:
                    return found
        for die in cu.get_top_DIE().iter_children():
            if die.tag != "DW_TAG_subprogram":
                continue
            spans = debug.die_ranges(die, cu)
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
        scan, die_ranges = self.debug.scan, self.debug.die_ranges
        unit, end = cu.cu_offset, cu.cu_offset + cu.size
        for named in scan.dies_named(name, unit, end):
            if named.tag != "DW_TAG_subprogram":
                continue
            spans = die_ranges(named, cu)
            if any(lo == address for lo, _ in spans):
                return self._subprogram(named, spans)
            for die in scan.references_to(named, "DW_TAG_subprogram"):
                spans = die_ranges(die, cu)
                if any(lo == address for lo, _ in spans):
                    return self._subprogram(die, spans)
        return None

    def _subprogram(self, die: DIE, spans, inline_of=None) -> Subprogram:
        declared = origin(die)
        low = spans[0][0]
        if "DW_AT_entry_pc" in die.attributes:
            entry = die.attributes["DW_AT_entry_pc"]
            if entry.form == "DW_FORM_addr":
                low = entry.value
        return Subprogram(
            name=die_name(declared) or "",
            die=die, low_pc=low, high_pc=max(hi for _, hi in spans),
            decl_file=self.debug.lines.decl_file(declared),
            decl_line=attr(declared, "DW_AT_decl_line", 0),
            inline_of=inline_of, ranges=spans)

    def find_inlined(self, name_glob: str) -> List[Subprogram]:
        """Every inlined instance of a function matching the glob."""
        debug = self.debug
        if debug.relocatable:
            dies = []
            for cu in debug.dwarf.iter_CUs():
                for die in cu.iter_DIEs():
                    if die.tag == "DW_TAG_inlined_subroutine":
                        name = die_name(origin(die))
                        if name and fnmatch.fnmatchcase(name, name_glob):
                            dies.append(die)
        else:
            offsets = cached(debug.build_id, f"inlined-{key(name_glob)}",
                             lambda: self._inlined_offsets(name_glob))
            dies = [debug.scan.die_at(offset) for offset in offsets]
        found = []
        for die in dies:
            spans = debug.die_ranges(die, die.cu)
            if spans:
                found.append(self._subprogram(die, spans, origin(die)))
        found.sort(key=lambda s: (s.name, s.low_pc))
        return found

    def _inlined_offsets(self, name_glob: str) -> List[int]:
        """vmlinux: the abstract functions matching the glob are found by
        name; their inlined instances (DW_TAG_inlined_subroutine, in the
        same unit) by the 4-byte unit-relative reference to them that
        starts each instance (DW_AT_abstract_origin)."""
        scan = self.debug.scan
        found = set()
        for abstract in scan.dies_named(name_glob):
            if abstract.tag == "DW_TAG_subprogram" and \
                    "DW_AT_inline" in abstract.attributes:
                found.update(die.offset for die in scan.references_to(
                    abstract, "DW_TAG_inlined_subroutine"))
        return sorted(found)
