"""The elaborated program: symbols, types and probe sites.

Pass 2 produces a ``Program``; the syntax tree stays as parsed and every
semantic fact about a node lives in a side table keyed by the node.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Union

from . import ast as A


class T(enum.Enum):
    LONG = "long"
    STRING = "string"
    STATS = "stats"
    HIST = "histogram"      # @hist_log/@hist_linear: only printed

    def __str__(self) -> str:
        return self.value


@dataclass
class GlobalSym:
    decl: A.Global
    index: int
    type: Optional[T] = None
    key_types: Optional[List[Optional[T]]] = None   # None: a scalar
    hist: Optional[tuple] = None    # ("log",) or ("linear", start, stop, step)
    read: bool = False
    written: bool = False

    @property
    def name(self) -> str:
        return self.decl.name

    @property
    def is_array(self) -> bool:
        return self.key_types is not None

    @property
    def nbuckets(self) -> int:
        if self.hist is None:
            return 0
        if self.hist[0] == "log":
            return 129
        _, start, stop, step = self.hist
        return (stop - start) // step + 1 + 2


@dataclass
class LocalSym:
    name: str
    span: A.Span
    type: Optional[T] = None
    is_param: bool = False
    assigned: bool = False


Symbol = Union[GlobalSym, LocalSym]


@dataclass
class Scope:
    """A probe handler or a function: its locals and what it touches."""
    name: str
    body: A.Block
    locals: Dict[str, LocalSym] = field(default_factory=dict)
    globals_read: Set[str] = field(default_factory=set)
    globals_written: Set[str] = field(default_factory=set)
    calls: Set[str] = field(default_factory=set)


@dataclass
class FunctionInfo:
    decl: A.Function
    scope: Scope
    params: List[LocalSym]
    return_type: Optional[T] = None
    recursive: bool = False

    @property
    def name(self) -> str:
        return self.decl.name


class ProbeKind(enum.Enum):
    BEGIN = "begin"
    END = "end"
    TIMER = "timer"


@dataclass
class ProbeSite:
    """One probe point of a probe declaration, resolved."""
    point: A.ProbePoint
    kind: ProbeKind
    priority: int
    handler: int        # index into Program.handlers
    order: int          # position in the script, for stable sorting
    interval_ns: str = ""   # timer probes: the period, a C expression


@dataclass
class Handler:
    decl: A.Probe
    scope: Scope
    index: int


@dataclass
class Program:
    script: A.Script
    globals: Dict[str, GlobalSym]
    functions: Dict[str, FunctionInfo]
    handlers: List[Handler]
    sites: List[ProbeSite]
    types: Dict[object, T]          # expression node -> type
    symbols: Dict[object, Symbol]   # Var/Index/foreach node -> symbol
    max_nesting: int

    def sites_of(self, kind: ProbeKind) -> List[ProbeSite]:
        chosen = [s for s in self.sites if s.kind is kind]
        return sorted(chosen, key=lambda s: (s.priority, s.order))

    def unread_globals(self) -> List[GlobalSym]:
        """Globals written but never read: printed at the end of a run."""
        return [g for g in self.globals.values() if g.written and not g.read]
