"""The unwind rules ``ubacktrace()`` and its kin walk a user stack with:
each probed file's ``.eh_frame`` turned into rows by file offset, carried
into the module only when the script calls one of them
(runtime_c/ustack.c).

A row says, from its offset up to the next row's, where the canonical
frame address (CFA) is (``rsp`` or ``rbp`` plus an offset; the return
address is the word below it, as on every x86-64 frame) and where the
caller's ``rbp`` was saved.  A rule the walker cannot follow (a CFA
computed by a DWARF expression, as in PLT stubs; an undefined return
address, as in ``_start``) and the end of each FDE's range are rows that
stop the walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from elftools.common.exceptions import DWARFError, ELFError
from elftools.elf.elffile import ELFFile

from .errors import StpcError
from .userprobes import load_segments, segment_offset

# DWARF register numbers on x86-64
_RBP, _RSP, _RIP = 6, 7, 16
# the C enum of runtime_c/stpc_runtime.h
CFA_NONE, CFA_RSP, CFA_RBP = 0, 1, 2
# rbp_offset values that are not offsets from the CFA (saved rbp slots
# are negative multiples of 8)
RBP_SAME, RBP_LOST = 0, 1


@dataclass(frozen=True)
class UnwindRow:
    offset: int         # in the file
    cfa_reg: int        # CFA_*
    cfa_offset: int
    rbp_offset: int     # the caller's rbp at CFA + this, or RBP_*

    def rule(self) -> Tuple[int, int, int]:
        return self.cfa_reg, self.cfa_offset, self.rbp_offset


_STOP = (CFA_NONE, 0, RBP_SAME)


def _row_rule(row: dict) -> Tuple[int, int, int]:
    cfa = row["cfa"]
    ra = row.get(_RIP)
    if cfa.expr is not None or cfa.reg not in (_RSP, _RBP) or \
            (ra is not None and ra.type == "UNDEFINED"):
        return _STOP
    rbp = row.get(_RBP)
    if rbp is None or rbp.type == "SAME_VALUE":
        saved = RBP_SAME
    elif rbp.type == "OFFSET":
        saved = rbp.arg
    else:
        saved = RBP_LOST
    return (CFA_RSP if cfa.reg == _RSP else CFA_RBP), cfa.offset, saved


def _fde_rows(fde, segments) -> List[Tuple[int, int, Tuple[int, int, int]]]:
    """(offset, precedence, rule) of one FDE's rows and of its end; a row
    starting where another FDE ends wins over that end (precedence 1)."""
    start = segment_offset(segments, fde.header["initial_location"])
    if start is None:
        return []
    try:
        table = fde.get_decoded().table
    except (DWARFError, ValueError, KeyError):
        return []    # an opcode pyelftools cannot decode: no rows
    base = fde.header["initial_location"]
    rows = [(start + row["pc"] - base, 1, _row_rule(row)) for row in table]
    return rows + [(start + fde.header["address_range"], 0, _STOP)]


def file_unwind_rows(path: str) -> List[UnwindRow]:
    """The file's .eh_frame rules by file offset, sorted, each row's rule
    different from the one before it; none without .eh_frame."""
    try:
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            if elf.get_section_by_name(".eh_frame") is None:
                return []
            segments = load_segments(elf)
            rows = [row for entry in elf.get_dwarf_info().EH_CFI_entries()
                    if "initial_location" in getattr(entry, "header", {})
                    for row in _fde_rows(entry, segments)]
    except (OSError, ELFError, DWARFError) as exc:
        raise StpcError(f"cannot read the unwind rules of {path}: {exc}",
                        None)
    by_offset: Dict[int, Tuple[int, Tuple[int, int, int]]] = {}
    for offset, precedence, rule in rows:
        if offset not in by_offset or precedence > by_offset[offset][0]:
            by_offset[offset] = (precedence, rule)
    merged: List[UnwindRow] = []
    last: Optional[Tuple[int, int, int]] = None
    for offset, (_, rule) in sorted(by_offset.items()):
        if rule != last:
            merged.append(UnwindRow(offset, *rule))
            last = rule
    return merged
