"""Call frame information: where the canonical frame address (CFA) is at
a pc, for DW_OP_call_frame_cfa (GCC's usual DW_AT_frame_base).

A module's few frame entries are all parsed by pyelftools.  vmlinux has
~100,000: their start addresses are indexed once per build-id by reading
.debug_frame with ``struct``, and only the one entry covering the pc is
parsed.
"""

from __future__ import annotations

import bisect
import functools
import struct
from array import array
from typing import Callable, Optional, Tuple

from .elfsyms import FunctionSym
from .indexcache import array_of, cached
from .pyelftools_adapter import debug_frame, frame_entry_at

# x86-64: at a function's first instruction, CFA = rsp + 8 (the return
# address was just pushed), whatever the function's FDE says later.
_ENTRY_CFA = {"EM_X86_64": (7, 8)}

CfaRule = Tuple[int, int]   # (DWARF register, offset): CFA = reg + offset


class FrameInfo:
    """The CFA rules of one debug file."""

    def __init__(self, dwarf, elf, build_id: str,
                 symbol_at: Callable[[int], Optional[FunctionSym]]):
        self.dwarf, self.elf, self.build_id = dwarf, elf, build_id
        self.relocatable = elf["e_type"] == "ET_REL"
        self.symbol_at = symbol_at

    def cfa_rule(self, pc: int) -> Optional[CfaRule]:
        """(DWARF register, offset) with CFA = register + offset at pc."""
        if not self.relocatable:
            entry = _ENTRY_CFA.get(self.elf["e_machine"])
            sym = self.symbol_at(pc) if entry else None
            if sym is not None and sym.address == pc:
                return entry
            # a program without .debug_frame has its rules in .eh_frame
            fde = self._fde_at(pc) if self._has_debug_frame else \
                self._fde_covering(pc)
        else:
            fde = self._fde_covering(pc)
        return _cfa_in(fde, pc) if fde is not None else None

    @property
    def _eh_frame_has_data(self) -> bool:
        """A separate debug file keeps .eh_frame's header, not its bytes
        (SHT_NOBITS): its rules are in the program, not read here."""
        section = self.elf.get_section_by_name(".eh_frame")
        return section is not None and section["sh_type"] != "SHT_NOBITS"

    @functools.cached_property
    def _has_debug_frame(self) -> bool:
        return self.elf.get_section_by_name(".debug_frame") is not None

    def _fde_covering(self, pc: int):
        """The parsed frame entry covering pc (a module's, a program's)."""
        for fde in self._fdes:
            start = fde.header["initial_location"]
            if start <= pc < start + fde.header["address_range"]:
                return fde
        return None

    @functools.cached_property
    def _fdes(self):
        entries = []
        if self.dwarf.has_CFI():
            entries = self.dwarf.CFI_entries()
        elif self.dwarf.has_EH_CFI() and self._eh_frame_has_data:
            entries = self.dwarf.EH_CFI_entries()
        # .eh_frame ends with a terminator (ZERO), which has no header
        return [e for e in entries
                if "initial_location" in getattr(e, "header", {})]

    def _fde_at(self, pc: int):
        """The one frame description entry of vmlinux covering pc, found
        through an index of .debug_frame (built once per build-id)."""
        starts, ranges, offsets = cached(
            self.build_id, "frames", self._frame_index,
            lambda arrays: tuple(a.tobytes() for a in arrays),
            lambda raw: tuple(array_of("Q", r) for r in raw))
        i = bisect.bisect_right(starts, pc)
        for j in range(i - 1, max(i - 8, 0) - 1, -1):
            if starts[j] <= pc < starts[j] + ranges[j]:
                return frame_entry_at(self._cfi, offsets[j])
        return None

    @functools.cached_property
    def _cfi(self):
        return debug_frame(self.dwarf)

    def _frame_index(self):
        """(starts, lengths, entry offsets) of every FDE in .debug_frame,
        by start address."""
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


def _cfa_in(fde, pc: int) -> Optional[CfaRule]:
    rule = None
    for row in fde.get_decoded().table:
        if row["pc"] <= pc:
            rule = row["cfa"]
    if rule is None or rule.reg is None:
        return None
    return rule.reg, rule.offset
