"""The elaborated program: symbols, types and probe sites.

Pass 2 produces a ``Program``; the syntax tree stays as parsed and every
semantic fact about a node lives in a side table keyed by the node.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import (TYPE_CHECKING, Dict, List, Mapping, Optional, Set, Tuple,
                    Union)

from . import ast as A
from .ctype import Prototype

if TYPE_CHECKING:
    from .btf import KernelBtf
    from .dwarf import DebugFile, Subprogram
    from .errors import StpcWarning
    from .sdt import SdtNote


class T(enum.Enum):
    LONG = "long"
    STRING = "string"
    STATS = "stats"
    HIST = "histogram"      # @hist_log/@hist_linear: only printed

    def __str__(self) -> str:
        return self.value


class HistogramKind(enum.Enum):
    LOG = "log"             # @hist_log: powers of two
    LINEAR = "linear"       # @hist_linear(s, start, stop, step)


@dataclass(frozen=True)
class Histogram:
    """How a statistic is printed as a histogram."""
    kind: HistogramKind
    start: int = 0          # linear histograms only
    stop: int = 0
    step: int = 0

    @property
    def nbuckets(self) -> int:
        if self.kind is HistogramKind.LOG:
            return 129
        # plus one below start and one above stop
        return (self.stop - self.start) // self.step + 1 + 2


@dataclass
class GlobalSym:
    decl: A.Global
    index: int
    type: Optional[T] = None
    key_types: Optional[List[Optional[T]]] = None   # None: a scalar
    hist: Optional[Histogram] = None    # printed as a histogram
    uses_variance: bool = False     # @variance reads it
    variance_shift: Optional[int] = None    # as given by @variance(s, N)
    read: bool = False
    written: bool = False
    counter: bool = False   # only added to: per-CPU, lock-free (counters.py)

    @property
    def name(self) -> str:
        return self.decl.name

    @property
    def is_array(self) -> bool:
        return self.key_types is not None

    @property
    def nbuckets(self) -> int:
        return self.hist.nbuckets if self.hist is not None else 0


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
    globals_added: Set[str] = field(default_factory=set)   # by '<<<'
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
    ERROR = "error"             # like end, when the run ends in an error
    TIMER = "timer"
    PROFILE = "profile"         # timer.profile: on every CPU, each tick
    KPROBE = "kprobe"           # function entry, inline or statement
    KRETPROBE = "kretprobe"     # function return
    TRACEPOINT = "tracepoint"   # kernel.trace("SYSTEM:EVENT")
    UPROBE = "uprobe"           # process("PATH").function entry
    URETPROBE = "uretprobe"     # process("PATH").function(...).return
    PROCESS = "process"         # process[("PATH")|(PID)].begin/.end


@dataclass(frozen=True)
class ProbedModule:
    """A module (or the kernel) that probes are placed in.  The loader
    passes one address per slot; ``slots`` names them in order, after the
    slots of the modules before this one (probed.py lays them out)."""
    name: str                   # "kernel" for vmlinux
    index: int
    first_slot: int
    slots: Tuple[str, ...]      # this_module, build-id note, sections...
    build_id: str
    optional: bool              # false once any mandatory probe uses it
    debuginfo: str              # the file whose DWARF we read

    def slot(self, name: str) -> int:
        return self.first_slot + self.slots.index(name)


@dataclass(frozen=True)
class CodeSite:
    """Where a kprobe goes: a section of a probed module, and the symbol the
    runtime expects to find there (checked with sprint_symbol)."""
    module: str
    section: str
    offset: int
    symbol: str
    symbol_offset: int
    function: str               # for probefunc()
    symbol_size: int = 0        # checks a module loaded after the start


@dataclass(frozen=True)
class UserSite:
    """Where a uprobe goes: an offset into a program's (or library's)
    file, which the module finds by path when it arms the probe; the
    loader checks the file's build-id first, and the module again on the
    file it opens."""
    path: str
    build_id: str
    build_id_offset: int        # where the build-id's bytes are in the file
    offset: int                 # in the file, from the program headers
    address: int                # the same place as a DWARF/ELF address
    function: str               # for probefunc()
    semaphore_offset: int = 0   # a mark's semaphore in the file (0: none)
    process: str = ""           # .library(): fires only in the processes
                                # running this program


@dataclass(frozen=True)
class ProcessSite:
    """Which processes a process.begin/.end probe is for: those running
    the file at ``path``, the process ``pid``, or (neither) every one;
    ``thread``: process.thread.begin/.end, for their threads other than
    the main one."""
    path: Optional[str]
    pid: Optional[int]
    end: bool
    thread: bool = False


@dataclass(frozen=True)
class ResolvedSite:
    """Compile-time facts about one kprobe site, for target variables:
    its DWARF (debug, function, pc) or, for kernel functions known only
    from BTF, the prototype; for a tracepoint, its arguments' prototype
    (read from the probe function's argument array, not registers)."""
    debug: Optional["DebugFile"]
    function: Optional["Subprogram"]
    pc: int
    returns: bool
    prototype: Optional[Prototype] = None
    btf: Optional["KernelBtf"] = None
    tracepoint: bool = False
    user: bool = False          # a uprobe: target memory is user memory
    mark: Optional["SdtNote"] = None    # a mark: its arguments are read
    # a module's tracepoint: the module, and what finds its structs (a
    # modtracepoints.ModuleEvents)
    module: str = ""
    types: Optional[object] = None

    def at_entry(self) -> "ResolvedSite":
        """The same function, at its entry: where @entry() is read."""
        pc = self.function.low_pc if self.function is not None else 0
        return dataclasses.replace(self, pc=pc, returns=False)


class EntryRegisters(enum.Enum):
    """What a function entry's handler reads of the probed registers,
    which picks the ftrace_ops that carries the site (entryregs.py)."""
    NONE = "no registers"
    ARGUMENTS = "argument registers"
    ALL = "registers saved"


@dataclass(frozen=True)
class ProbeSite:
    """One probe point of a probe declaration, resolved."""
    point: A.ProbePoint
    kind: ProbeKind
    priority: int
    handler: int        # index into Program.handlers
    order: int          # position in the script, for stable sorting
    interval_ns: str = ""   # timer probes: the period, a C expression
    code: Optional[CodeSite] = None     # kprobes: where
    description: str = ""   # kprobes: the resolved point, for pp()
    variant: int = -1       # >= 0: the handler is translated for this
                            # site alone (it reads target variables)
    resolved: Optional[ResolvedSite] = None     # kprobes: target variables
    by_ftrace: bool = False     # a function entry that ftrace carries
    registers: EntryRegisters = EntryRegisters.ALL  # what its handler reads
    user: Optional[UserSite] = None     # uprobes: where
    process: Optional[ProcessSite] = None   # process.begin/.end: for whom


@dataclass(frozen=True)
class Handler:
    decl: A.Probe
    scope: Scope
    index: int


@dataclass(frozen=True)
class Program:
    """Pass 2's result.  Read-only: its mappings are read-only copies of
    what it was given, its sequences tuples."""
    script: A.Script
    globals: Mapping[str, GlobalSym]
    functions: Mapping[str, FunctionInfo]
    handlers: Tuple[Handler, ...]
    sites: Tuple[ProbeSite, ...]
    types: Mapping[object, T]           # expression node -> type
    symbols: Mapping[object, Symbol]    # Var/Index/foreach node -> symbol
    max_nesting: int
    # kernel/module probes: the modules probed, by name
    probed: Mapping[str, ProbedModule] = field(default_factory=dict)
    warnings: Tuple["StpcWarning", ...] = ()    # in source order
    # where @cast finds structs away from a probed function (a
    # varscope.TypesScope), when a script function or a begin, end or
    # timer probe casts
    cast_types: Optional[object] = None

    def __post_init__(self) -> None:
        for name in ("globals", "functions", "types", "symbols", "probed"):
            object.__setattr__(self, name,
                               MappingProxyType(dict(getattr(self, name))))
        for name in ("handlers", "sites"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def nslots(self) -> int:
        """How many addresses the loader passes (stpc_addrs=)."""
        return sum(len(module.slots) for module in self.probed.values())

    def sites_of(self, kind: ProbeKind) -> List[ProbeSite]:
        chosen = [s for s in self.sites if s.kind is kind]
        return sorted(chosen, key=lambda s: (s.priority, s.order))

    def unread_globals(self) -> List[GlobalSym]:
        """Globals written but never read: printed at the end of a run."""
        return [g for g in self.globals.values() if g.written and not g.read]
