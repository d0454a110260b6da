"""The modules (and the kernel) a script probes, and the addresses the
loader passes for each of them ("slots"): pass 2 adds every slot here,
those of the probe sites' sections and those of the sections that target
variables' addresses are in, then freezes the table into
``Program.probed``.  Pass 3 only reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

from .dwarf import DebugFile
from .ir import ProbedModule


@dataclass
class _Draft:
    build_id: str
    debuginfo: str
    optional: bool
    slots: List[str]


class ProbedModules:
    """The probed modules in the order they were first met."""

    def __init__(self) -> None:
        self._drafts: Dict[str, _Draft] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._drafts

    def add_module(self, name: str, build_id: str, debuginfo: str,
                   optional: bool) -> None:
        """A module is optional while only optional probes use it."""
        draft = self._drafts.get(name)
        if draft is None:
            slots = ["_stext"] if name == "kernel" else \
                [".gnu.linkonce.this_module", ".note.gnu.build-id"]
            draft = self._drafts[name] = _Draft(build_id, debuginfo,
                                                optional, slots)
        draft.optional = draft.optional and optional

    def add_slot(self, module: str, section: str) -> None:
        """The one way a slot is added: once per section of a module."""
        slots = self._drafts[module].slots
        if section not in slots:
            slots.append(section)

    def add_address(self, debug: DebugFile, address: int) -> None:
        """The slot an address of ``debug``'s DWARF (a DW_OP_addr) is
        relative to at run time."""
        where = debug.locate(address)
        self.add_slot(where.module, where.section)

    def frozen(self) -> Dict[str, ProbedModule]:
        """The modules, their slots laid out one after another."""
        probed: Dict[str, ProbedModule] = {}
        first = 0
        for index, (name, draft) in enumerate(self._drafts.items()):
            probed[name] = ProbedModule(name, index, first,
                                        tuple(draft.slots), draft.build_id,
                                        draft.optional, draft.debuginfo)
            first += len(draft.slots)
        return probed
