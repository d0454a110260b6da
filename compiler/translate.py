"""Pass 3: the typed program to the C source of a kernel module.

Statements and expressions are lowered here, in Python, to C text; the
module's layout (globals, contexts, probe tables, module info) is the
template ``templates/module.c`` filled from a precomputed view model.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import jinja2

from ..loader import protocol
from . import ast as A
from .cstring import c_comment, c_string
from .errors import StpcError
from .ir import (FunctionInfo, GlobalSym, ProbeKind, Program, T,
                 number_slots)
from .printf import gcc_checkable, kernel_format, parse_format
from .targets import compiler_for, entry_captures

_C_TYPE = {T.LONG: "s64", T.STRING: "const char *"}
_ARITH = {"+": "+", "-": "-", "*": "*", "&": "&", "|": "|", "^": "^"}
_CHECKED = {"/": "stpc_div", "%": "stpc_mod"}
_SHIFT = {"<<": "stpc_shl", ">>": "stpc_shr"}
_KEYWORD_STMTS = (A.If, A.While, A.For, A.Foreach, A.Return, A.Delete,
                  A.Next, A.Break, A.Continue, A.TryCatch)


@dataclass
class ModuleInfo:
    name: str
    source_hash: str
    version: str
    kernel_release: str = ""


@dataclass
class FrameView:
    """A C struct of one scope's locals (``vars``) and temporaries."""
    struct: str
    member: str
    vars: List[str] = field(default_factory=list)
    temps: List[str] = field(default_factory=list)


@dataclass
class FunctionView:
    name: str
    frame: FrameView
    body: List[str]


@dataclass
class ProbeView:
    handler: str
    point: str
    kind: str
    locks: List[str]
    interval_ns: str = ""


@dataclass
class HandlerView:
    name: str
    frame: FrameView
    body: List[str]
    data_size: int = 0      # an @entry() handler: bytes of values it saves


def translate(program: Program, info: ModuleInfo) -> str:
    view = _ModuleView(program, info).build()
    return _template().render(**view)


@functools.lru_cache(maxsize=None)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stpc.compiler", "templates"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False)
    return env.get_template("module.c")


def near(node) -> str:
    """SystemTap's description of the token a node stands for."""
    if isinstance(node, A.ExprStmt):
        return near(node.expr)
    if isinstance(node, (A.Binary, A.Unary, A.Assign, A.Crement)):
        return f"operator '{node.op}'"
    if isinstance(node, (A.Var, A.Index, A.Call)):
        return f"identifier '{node.name}'"
    if isinstance(node, A.TargetVar):
        return f"identifier '{'$$' if node.context else '$'}{node.name}'"
    if isinstance(node, A.Member):
        return "operator '->'"
    if isinstance(node, (A.AtOp, A.AddressOf)):
        return f"operator '{getattr(node, 'op', '&')}'"
    if isinstance(node, A.Subscript):
        return "operator '['"
    if isinstance(node, A.StatOp):
        return f"operator '{node.op}'"
    if isinstance(node, A.IntLit):
        return f"number '{node.value}'"
    if isinstance(node, A.StrLit):
        return f"string '{node.value}'"
    if isinstance(node, A.InArray):
        return "keyword"
    if isinstance(node, _KEYWORD_STMTS):
        return "keyword"
    return "token"


def location(node) -> str:
    """The ``near TOKEN at FILE:LINE:COL`` suffix of runtime errors."""
    return f"near {near(node)} at {node.span}"


def first_token(node):
    """The node whose token comes first in an expression's text."""
    if isinstance(node, A.Binary):
        return first_token(node.left)
    if isinstance(node, A.Assign):
        return first_token(node.target)
    if isinstance(node, A.Ternary):
        return first_token(node.cond)
    if isinstance(node, A.Crement) and not node.prefix:
        return first_token(node.target)
    return node


def statement_location(node) -> str:
    """Where SystemTap says a statement is: its first token."""
    if isinstance(node, A.ExprStmt):
        return location(first_token(node.expr))
    return location(node)


def _has_statements(node) -> bool:
    if isinstance(node, A.Block):
        return any(_has_statements(child) for child in node.body)
    return not isinstance(node, A.Empty)


class _ModuleView:
    """Precomputes everything the module template shows."""

    def __init__(self, program: Program, info: ModuleInfo):
        self.program = program
        self.info = info

    def build(self) -> dict:
        program = self.program
        functions = [self.function_view(f) for f in program.functions.values()]
        handlers = [view for h in program.handlers
                    for view in self.handler_views(h.index)]
        entries = {id(s): self.entry_view(s) for s in program.sites
                   if s.kind is ProbeKind.KRETPROBE}
        handlers += [view for view in entries.values() if view is not None]
        self.entries = entries
        begin = [self.probe_view(s) for s in program.sites_of(ProbeKind.BEGIN)]
        end = [self.probe_view(s) for s in program.sites_of(ProbeKind.END)]
        timers = [self.probe_view(s) for s in program.sites_of(ProbeKind.TIMER)]
        errors = [self.probe_view(s) for s in program.sites_of(ProbeKind.ERROR)]
        profile = [self.probe_view(s)
                   for s in program.sites_of(ProbeKind.PROFILE)]
        unread = self.unread_globals_handler()
        if unread is not None:
            handlers.append(unread)
            # printing sorts the arrays, which reorders them: exclusive
            names = set(g.name for g in program.unread_globals())
            end.append(ProbeView(unread.name, "end", "STPC_PROBE_END",
                                 self.locks(names, names)))
        return dict(
            info=self.info,
            script_file=c_comment(program.script.file),
            module_name=self.info.name,
            max_nesting=program.max_nesting,
            globals=[self.global_decl(g) for g in program.globals.values()
                     if not g.is_array and g.type is not T.STATS],
            stats=[self.stat_desc(g) for g in
                   _scalar_stats(program) + _stat_arrays(program)],
            nstats=len(_scalar_stats(program)),
            maps=[self.map_desc(g) for g in _plain_arrays(program)],
            stat_maps=[self.map_desc(g) for g in _stat_arrays(program)],
            global_inits=self.global_inits(),
            counters=[g.name for g in program.globals.values() if g.counter],
            nglobals=len(program.globals),
            functions=functions,
            handlers=handlers,
            begin=begin,
            end=end,
            timers=timers,
            errors=errors,
            profile=profile,
            kprobes=self.kprobe_views(),
            targets=self.target_views(),
            nslots=program.nslots,
            stpc_info=c_string(json.dumps(self.module_metadata(),
                                          sort_keys=True)).replace(
                _VERMAGIC, '" VERMAGIC_STRING "'),
            c_string=c_string,
        )

    # -- kernel and module probes --
    def kprobe_views(self) -> List[dict]:
        views = []
        for site in self.program.sites:
            if site.code is None:
                continue
            code = site.code
            target = self.program.targets[code.module]
            entry = self.entries.get(id(site))
            views.append(dict(
                probe=self.probe_view(site), target=target.index,
                slot=target.slot(code.section), offset=code.offset,
                symbol=c_string(code.symbol),
                symbol_offset=code.symbol_offset,
                symbol_size=code.symbol_size,
                function=c_string(code.function),
                is_return=int(site.kind is ProbeKind.KRETPROBE),
                entry=entry.name if entry is not None else "",
                entry_size=entry.data_size if entry is not None else 0,
                optional=int(site.point.optional)))
        return views

    def target_views(self) -> List[dict]:
        views = []
        for target in self.program.targets.values():
            build_id = bytes.fromhex(target.build_id)
            views.append(dict(
                name=c_string(target.name), first_slot=target.first_slot,
                nslots=len(target.slots),
                is_kernel=int(target.name == "kernel"),
                optional=int(target.optional),
                build_id=c_string(build_id.decode("latin-1")),
                build_id_len=len(build_id),
                slots=", ".join(c_string(s) for s in target.slots),
                slot_defines=[f"STPC_SLOT_{target.index}_{_c_ident(s)} "
                              f"{target.first_slot + i}"
                              for i, s in enumerate(target.slots)]))
        return views

    def module_metadata(self) -> dict:
        """What the loader reads from the .stpc_info section."""
        return dict(
            format=protocol.INFO_FORMAT, stpc_version=self.info.version,
            module=self.info.name, kernel_release=self.info.kernel_release,
            vermagic=_VERMAGIC, parameters=_LOADER_PARAMETERS,
            source_hash=self.info.source_hash, nslots=self.program.nslots,
            targets=[dict(name=t.name, build_id=t.build_id,
                          first_slot=t.first_slot, slots=t.slots,
                          optional=t.optional)
                     for t in self.program.targets.values()],
            probes=[s.description for s in self.program.sites
                    if s.code is not None])

    def relocate(self, resolved) -> Callable[[int], str]:
        """DWARF address of ``resolved``'s file -> C expression of where it
        is at run time (a slot's address plus an offset)."""
        def c_address(address: int) -> str:
            where = resolved.debug.locate(address)
            target = self.program.targets[where.target]
            if where.section not in target.slots:
                target.slots.append(where.section)
                self.program.nslots = number_slots(self.program.targets)
            return (f"((u64)stpc_addrs[STPC_SLOT_{target.index}_"
                    f"{_c_ident(where.section)}] + {where.offset}ULL)")
        return c_address

    # -- globals --
    def global_decl(self, sym: GlobalSym) -> str:
        return _member_decl(f"g_{sym.name}", sym.type)

    def stat_desc(self, sym: GlobalSym) -> dict:
        hist = sym.hist or ("none",)
        start, stop, step = hist[1:] if hist[0] == "linear" else (0, 0, 0)
        return dict(name=sym.name, hist=f"STPC_HIST_{hist[0].upper()}",
                    start=_c_long(start), stop=_c_long(stop),
                    step=_c_long(step), nbuckets=sym.nbuckets,
                    variance=int(sym.uses_variance),
                    shift=sym.variance_shift or 0)

    def map_desc(self, sym: GlobalSym) -> dict:
        kinds = {T.LONG: "STPC_T_LONG", T.STRING: "STPC_T_STRING",
                 T.STATS: "STPC_T_STATS"}
        stat = "NULL"
        if sym.type is T.STATS:
            stat = f"&stpc_stat_descs[{_stat_desc_index(self.program, sym)}]"
        if sym.decl.size:
            overflow = f"Array overflow, check size limit ({sym.decl.size})"
        else:
            overflow = "Array overflow, check MAXMAPENTRIES"
        return dict(name=sym.name, nkeys=len(sym.key_types),
                    key_types=", ".join(kinds[t] for t in sym.key_types),
                    value_type=kinds[sym.type],
                    capacity=map_capacity(sym),
                    overflow=c_string(overflow), stat=stat)

    def global_inits(self) -> List[str]:
        lines = []
        for sym in self.program.globals.values():
            init = sym.decl.init
            if isinstance(init, str):
                lines.append(f"strscpy(stpc_g.g_{sym.name}, {c_string(init)},"
                             f" MAXSTRINGLEN);")
            elif init is not None:
                lines.append(f"stpc_g.g_{sym.name} = {_c_long(init)};")
        return lines

    def locks(self, read: set, written: set) -> List[str]:
        """Lock requests in index order.  Statistics and counters take
        none (their adders are per-CPU and readers sum); arrays of
        statistics turn the lock around: '<<<' adds to its own CPU's map
        and takes it shared, readers and delete take it exclusive."""
        lines = []
        for sym in self.program.globals.values():
            if sym.type is T.STATS and not sym.is_array or sym.counter:
                continue
            exclusive, shared = written, read
            if sym.type is T.STATS:
                exclusive, shared = read, written
            if sym.name in exclusive:
                lines.append(f"{{ .index = {sym.index}, .write = 1 }}")
            elif sym.name in shared:
                lines.append(f"{{ .index = {sym.index}, .write = 0 }}")
        return lines

    # -- scopes --
    def function_view(self, function: FunctionInfo) -> FunctionView:
        frame = FrameView(f"stpc_frame_{function.name}", f"f_{function.name}")
        gen = _ScopeGen(self.program, frame, function)
        body = gen.body(function.scope.body)
        if function.return_type is not None:
            frame.vars.append(_member_decl("retvalue", function.return_type))
        return FunctionView(function.name, frame, body)

    def handler_views(self, index: int) -> List[HandlerView]:
        """One handler, or one per site when it reads target variables
        (their locations differ from site to site)."""
        sites = [s for s in self.program.sites if s.handler == index]
        variants = [s for s in sites if s.variant >= 0]
        if not sites:
            return []       # only optional points that matched nothing
        if not variants:
            return [self.handler_view(index, None)]
        return [self.handler_view(index, s) for s in variants]

    def handler_view(self, index: int, site) -> HandlerView:
        handler = self.program.handlers[index]
        name = _handler_name(index, site)
        frame = FrameView(f"stpc_locals_{name}", name)
        targets = None
        if site is not None:
            resolved = self.program.code_sites[id(site)]
            targets = (resolved, self.relocate(resolved))
        gen = _ScopeGen(self.program, frame, None, targets)
        gen.entry_nodes = entry_captures(handler.decl.body)
        body = gen.body(handler.scope.body, handler.scope.locals)
        return HandlerView(name, frame, body)

    def entry_view(self, site) -> Optional[HandlerView]:
        """For a .return probe using @entry(): the function that reads
        those values when the probed function is entered."""
        nodes = entry_captures(self.program.handlers[site.handler].decl.body)
        if not nodes or site.variant < 0:
            return None
        name = f"entry_{site.variant}"
        frame = FrameView(f"stpc_locals_{name}", name)
        resolved = self.program.code_sites[id(site)].at_entry()
        gen = _ScopeGen(self.program, frame, None,
                        (resolved, self.relocate(resolved)))
        body = [f"\t((s64 *)c->data)[{i}] = {gen.expr(node.args[0])};"
                for i, node in enumerate(nodes)]
        return HandlerView(name, frame, body, data_size=8 * len(nodes))

    def probe_view(self, site) -> ProbeView:
        scope = self.program.handlers[site.handler].scope
        kind = {ProbeKind.BEGIN: "STPC_PROBE_BEGIN",
                ProbeKind.END: "STPC_PROBE_END",
                ProbeKind.ERROR: "STPC_PROBE_ERROR"}.get(site.kind,
                                                     "STPC_PROBE_OTHER")
        point = site.description or str(site.point)
        return ProbeView(_handler_name(site.handler, site), point, kind,
                         self.locks(scope.globals_read, scope.globals_written),
                         site.interval_ns)

    def unread_globals_handler(self) -> Optional[HandlerView]:
        unread = self.program.unread_globals()
        if not unread:
            return None
        frame = FrameView("stpc_locals_unread", "unread")
        lines = []
        for sym in unread:
            # the record kind tells the loader's JSON output what it reads
            lines.append(f"stpc_set_kind(c, {_print_kind(sym)});")
            if sym.is_array and sym.type is T.STATS:
                lines.extend(self.print_stat_array(sym, frame))
                continue
            if sym.is_array:
                lines.extend(self.print_array(sym, frame))
                continue
            if sym.type is T.STATS:
                lines.append(self.print_stat(sym, frame))
                continue
            fmt, arg = _value_format(sym.type, global_value(sym))
            lines.append(f"stpc_printf(c, {c_string(sym.name + '=' + fmt)}"
                         f" \"\\n\", {arg});")
        lines.append("stpc_set_kind(c, STPC_KIND_PRINTF);")
        return HandlerView("unread_globals", frame, lines)

    def print_stat(self, sym: GlobalSym, frame: FrameView) -> str:
        """``name @count=N @min=N @max=N @sum=N @avg=N``."""
        read = stat_read(self.program, sym, frame)
        fmt = sym.name + _STAT_SUMMARY
        return f"{{ {read} stpc_printf(c, {c_string(fmt)}, {_STAT_FIELDS}); }}"

    def print_stat_array(self, sym: GlobalSym, frame: FrameView) -> List[str]:
        """``name[keys] @count=N ...`` per key, by @count descending."""
        sm = stat_map_ref(self.program, sym.name)
        buf = self.sort_buffer(sym, frame)
        keys, args = _key_formats(sym, _entry_keys("m"))
        line = f"{sym.name}[{keys}]{_STAT_SUMMARY}"
        return [
            "{",
            "\tunsigned int i, n;",
            f"\tstruct stpc_map *m = stpc_stat_map_aggregate(c, {sm}, NULL);",
            f"\tn = stpc_map_sorted_by(m, l->{buf}, 0, -1, STPC_STAT_COUNT);",
            "\tfor (i = 0; i < n; i++) {",
            f"\t\tstruct stpc_map_entry *e = l->{buf}[i];",
            "\t\tstruct stpc_stat_record *r = stpc_value_stat(m, e);",
            f"\t\tstpc_printf(c, {c_string(line)}, "
            f"{', '.join(args)}, {_STAT_FIELDS});",
            "\t}",
            "}",
        ]

    @staticmethod
    def sort_buffer(sym: GlobalSym, frame: FrameView) -> str:
        buf = f"sort_{sym.name}"
        frame.temps.append(
            f"struct stpc_map_entry *{buf}[{map_capacity(sym)}];")
        return buf

    def print_array(self, sym: GlobalSym, frame: FrameView) -> List[str]:
        """One ``name[keys]=value`` line per entry, by value descending."""
        m = map_ref(self.program, sym.name)
        buf = self.sort_buffer(sym, frame)
        keys, args = _key_formats(sym, _entry_keys(m))
        fmt, arg = _value_format(sym.type, _value_ref(m, "e", sym.type))
        line = f"{sym.name}[{keys}]={fmt}\n"
        return [
            "{",
            "\tunsigned int i, n;",
            f"\tn = stpc_map_sorted({m}, l->{buf}, 0, -1);",
            "\tfor (i = 0; i < n; i++) {",
            f"\t\tstruct stpc_map_entry *e = l->{buf}[i];",
            f"\t\tstpc_printf(c, {c_string(line)}, "
            f"{', '.join(args + [arg])});",
            "\t}",
            "}",
        ]


# stands for the build's VERMAGIC_STRING, which the C compiler fills in
# (the very string kbuild writes to .modinfo)
_VERMAGIC = "@STPC_VERMAGIC@"
# the module parameters the loader fills (runtime_c/stpc_protocol.h)
_LOADER_PARAMETERS = {
    "stpc_target": "the pid target() returns (-c or -x)",
    "stpc_addrs": "one address per slot of the targets, in order",
    "stpc_verbose": "1: report targets loaded or unloaded during the run",
}


def _print_kind(sym: GlobalSym) -> str:
    """The stpc_kind of a global's end-of-run lines."""
    if sym.type is T.STATS:
        return "STPC_KIND_STATS"
    return "STPC_KIND_MAP" if sym.is_array else "STPC_KIND_VALUE"


def _key_formats(sym: GlobalSym, key_ref: Callable[[int, T], str]):
    """The ``k1,k2`` format of an array's keys, and the printf arguments
    for it; ``key_ref(i, t)`` is the C of key ``i``, of type ``t``."""
    formats, args = [], []
    for i, t in enumerate(sym.key_types):
        fmt, arg = _value_format(t, key_ref(i, t))
        formats.append(fmt)
        args.append(arg)
    return ",".join(formats), args


def _entry_keys(m: str) -> Callable[[int, T], str]:
    """The keys of entry ``e`` of map ``m``."""
    return lambda i, t: _key_ref(m, "e", i, t)


def _struct_key(i: int, t: T) -> str:
    """Key ``i`` in ``key``, a struct stpc_key."""
    return f"key.{'str' if t is T.STRING else 'num'}[{i}]"


def _handler_name(index: int, site) -> str:
    if site is not None and site.variant >= 0:
        return f"probe_{index}_{site.variant}"
    return f"probe_{index}"


def _c_ident(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def global_value(sym: GlobalSym) -> str:
    """A scalar global's value; a counter's is its initial value plus
    what every CPU added."""
    if sym.counter:
        return f"stpc_counter_read(&stpc_pc_{sym.name}, stpc_g.g_{sym.name})"
    return f"stpc_g.g_{sym.name}"


def _value_format(t: T, ref: str):
    """printf format and argument showing a value as SystemTap does."""
    if t is T.STRING:
        return '"%s"', ref
    return "%lld", f"(long long){ref}"


# the end-of-run line of a statistic, after its name; and its arguments
_STAT_SUMMARY = " @count=%lld @min=%lld @max=%lld @sum=%lld @avg=%lld\n"
_STAT_FIELDS = ("r->count, r->min, r->max, r->sum, "
                "stpc_stat_field(r, STPC_STAT_AVG)")
_STAT_OPS = {"@count": "STPC_STAT_COUNT", "@sum": "STPC_STAT_SUM",
             "@min": "STPC_STAT_MIN", "@max": "STPC_STAT_MAX",
             "@avg": "STPC_STAT_AVG", "@variance": "STPC_STAT_VARIANCE"}


def _scalar_stats(program: Program) -> List[GlobalSym]:
    return [g for g in program.globals.values()
            if g.type is T.STATS and not g.is_array]


def _stat_arrays(program: Program) -> List[GlobalSym]:
    return [g for g in program.globals.values()
            if g.type is T.STATS and g.is_array]


def _plain_arrays(program: Program) -> List[GlobalSym]:
    return [g for g in program.globals.values()
            if g.is_array and g.type is not T.STATS]


def _stat_desc_index(program: Program, sym: GlobalSym) -> int:
    """Scalar statistics' descriptions come first, then the arrays'."""
    return (_scalar_stats(program) + _stat_arrays(program)).index(sym)


def stat_ref(program: Program, name: str) -> str:
    """The C pointer to the storage of global statistic ``name``."""
    stats = [g.name for g in _scalar_stats(program)]
    return f"(&stpc_stats[{stats.index(name)}])"


def stat_map_ref(program: Program, name: str) -> str:
    """The C pointer to the storage of global statistics array ``name``."""
    arrays = [g.name for g in _stat_arrays(program)]
    return f"(&stpc_stat_maps[{arrays.index(name)}])"


def stat_read(program: Program, sym: GlobalSym, frame: FrameView) -> str:
    """C declaring ``r``, every CPU's share of ``sym`` merged."""
    n = len(frame.temps)
    words = f"STPC_STAT_WORDS({sym.nbuckets})"
    frame.temps.append(f"u64 agg{n}[{words}];")
    frame.temps.append(f"u64 scratch{n}[{words}];")
    return (f"struct stpc_stat_record *r = (void *)l->agg{n}; "
            f"stpc_stat_read({stat_ref(program, sym.name)}, r, "
            f"(void *)l->scratch{n});")


def map_ref(program: Program, name: str) -> str:
    """The C pointer to the map of global array ``name``."""
    arrays = [g.name for g in _plain_arrays(program)]
    return f"(&stpc_maps[{arrays.index(name)}])"


def map_capacity(sym: GlobalSym) -> str:
    return str(sym.decl.size) if sym.decl.size else "MAXMAPENTRIES"


def _value_ref(m: str, entry: str, t: T) -> str:
    if t is T.STRING:
        return f"stpc_value_str({m}, {entry})"
    return f"(*stpc_value_long({m}, {entry}))"


def _key_ref(m: str, entry: str, i: int, t: T) -> str:
    if t is T.STRING:
        return f"stpc_key_str({m}, {entry}, {i})"
    return f"(*stpc_key_long({m}, {entry}, {i}))"


def _assign_local(ref: str, value: str, t: T) -> str:
    if t is T.STRING:
        return f"stpc_str_assign({ref}, {value});"
    return f"{ref} = {value};"


def _sort_column(node: A.Foreach):
    """(column, direction) for stpc_map_sorted, or (None, 0) unsorted."""
    if node.value_sort:
        return 0, 1 if node.value_sort == "+" else -1
    for i, key in enumerate(node.keys):
        if key.sort:
            return i + 1, 1 if key.sort == "+" else -1
    return None, 0


def _truth(value: str) -> str:
    """A long as a condition.  Compared with 0, as gcc's
    int-in-bool-context fails valid scripts such as 'if (x * 2)' and
    'if (c ? 1 : 2)'."""
    return f"(({value}) != 0)"


def _member_decl(name: str, t: T) -> str:
    if t is T.STRING:
        return f"char {name}[MAXSTRINGLEN];"
    return f"s64 {name};"


def _c_long(value: int) -> str:
    if value == -(1 << 63):
        return "S64_MIN"
    return f"{value}LL"


class _ScopeGen:
    """Lowers one probe handler or function body to C lines."""

    def __init__(self, program: Program, frame: FrameView,
                 function: Optional[FunctionInfo], targets=None):
        self.program = program
        self.frame = frame
        self.function = function
        self.targets = None
        self.entry_nodes: List[object] = []
        if targets is not None:
            resolved, relocate = targets
            self.targets = compiler_for(
                resolved, relocate, self.expr,
                lambda node: c_string(location(node)))
        self.lines: List[str] = []
        self.indent = 1
        self.catch_label = "out"
        self.ntemps = 0

    # -- output --
    def emit(self, line: str) -> None:
        self.lines.append("\t" * self.indent + line)

    def temp_string(self) -> str:
        name = f"t{self.ntemps}"
        self.ntemps += 1
        self.frame.temps.append(f"char {name}[MAXSTRINGLEN];")
        return f"l->{name}"

    def body(self, block: A.Block, locals_=None) -> List[str]:
        scope_locals = (self.function.scope.locals if self.function
                        else locals_) or {}
        for sym in scope_locals.values():
            self.frame.vars.append(_member_decl(f"l_{sym.name}", sym.type))
        for stmt in block.body:
            self.stmt(stmt)
        return self.lines


    # -- statements --
    def stmt(self, node) -> None:
        if isinstance(node, A.Block):
            for child in node.body:
                self.stmt(child)
            return
        self.emit(f"/* {c_comment(str(node.span))} */")
        self.emit(f"STPC_STEP(c, {c_string(statement_location(node))}, "
                  f"{self.catch_label});")
        getattr(self, "stmt_" + type(node).__name__)(node)

    def nested(self, node) -> None:
        self.emit("{")
        self.indent += 1
        self.stmt(node)
        self.indent -= 1
        self.emit("}")

    def stmt_Empty(self, node):
        pass

    def stmt_ExprStmt(self, node):
        self.emit(f"(void)({self.expr(node.expr)});")

    def stmt_If(self, node):
        self.emit(f"if ({self.cond(node.cond)})")
        self.nested(node.then)
        if node.otherwise is not None:
            self.emit("else")
            self.nested(node.otherwise)

    def stmt_While(self, node):
        self.emit(f"while ({self.cond(node.cond)}) {{")
        self.loop_body(node, node.body)

    def stmt_For(self, node):
        init = self.expr(node.init) if node.init is not None else ""
        cond = self.cond(node.cond) if node.cond is not None else ""
        step = self.expr(node.step) if node.step is not None else ""
        self.emit(f"for ({init}; {cond}; {step}) {{")
        self.loop_body(node, node.body)

    def loop_step(self, loop, body) -> None:
        """Counts a loop iteration.  Like SystemTap, MAXACTION is reported
        at a statement; only a loop with an empty body checks here."""
        if _has_statements(body):
            self.emit("STPC_COUNT(c);")
        else:
            self.emit(f"STPC_STEP(c, {c_string(location(loop))}, "
                      f"{self.catch_label});")

    def loop_body(self, loop, body) -> None:
        self.indent += 1
        self.loop_step(loop, body)
        self.stmt(body)
        self.indent -= 1
        self.emit("}")

    def foreach_map(self, node, sym: GlobalSym) -> str:
        """The map a foreach walks: a statistics array's CPUs merged."""
        if sym.type is not T.STATS:
            return map_ref(self.program, sym.name)
        return (f"stpc_stat_map_aggregate(c, "
                f"{stat_map_ref(self.program, sym.name)}, "
                f"{c_string(location(node))})")

    def stmt_Foreach(self, node):
        sym = self.program.symbols[node]
        self.emit("{")
        self.indent += 1
        self.emit(f"struct stpc_map *fm = {self.foreach_map(node, sym)};")
        self.emit("struct stpc_map_entry *fe;")
        limit = self.expr(node.limit) if node.limit is not None else "-1"
        self.emit(f"s64 limit = {limit}, done = 0;")
        column, direction = _sort_column(node)
        if column is None:
            self.emit("for (fe = stpc_map_first(fm); fe; "
                      "fe = stpc_map_next(fm, fe)) {")
        else:
            buf = self.temp_entries(sym)
            self.emit("unsigned int fi, fn;")
            stat_op = _STAT_OPS[node.value_op or "@count"]
            self.emit(f"fn = stpc_map_sorted_by(fm, {buf}, {column}, "
                      f"{direction}, {stat_op});")
            self.emit(f"for (fi = 0; fi < fn && (fe = {buf}[fi]); fi++) {{")
        self.indent += 1
        self.loop_step(node, node.body)
        self.emit("if (limit >= 0 && done++ >= limit)")
        self.emit("\tbreak;")
        for i, key in enumerate(node.keys):
            self.emit(_assign_local(f"l->vars.l_{key.name}",
                                    _key_ref("fm", "fe", i, sym.key_types[i]),
                                    sym.key_types[i]))
        if node.value_var:
            self.emit(_assign_local(f"l->vars.l_{node.value_var}",
                                    _value_ref("fm", "fe", sym.type),
                                    sym.type))
        self.stmt(node.body)
        self.indent -= 1
        self.emit("}")
        self.indent -= 1
        self.emit("}")

    def temp_entries(self, sym) -> str:
        name = f"sort{self.ntemps}"
        self.ntemps += 1
        self.frame.temps.append(
            f"struct stpc_map_entry *{name}[{map_capacity(sym)}];")
        return f"l->{name}"

    def stmt_Delete(self, node):
        target = node.target
        sym = self.program.symbols.get(target)
        if isinstance(sym, GlobalSym) and sym.type is T.STATS:
            self.delete_statistics(target, sym)
        elif isinstance(target, A.Index):
            m = map_ref(self.program, sym.name)
            self.emit(f"{{ {self.key_prelude(sym, target.keys)} "
                      f"stpc_map_delete({m}, &key); }}")
        elif isinstance(sym, GlobalSym) and sym.is_array:
            self.emit(f"stpc_map_clear({map_ref(self.program, sym.name)});")
        elif self.type_of(target) is T.STRING:
            self.emit(f"{self.var_ref(target)}[0] = '\\0';")
        else:
            self.emit(f"{self.var_ref(target)} = 0;")

    def delete_statistics(self, target, sym: GlobalSym) -> None:
        if not sym.is_array:
            self.emit(f"stpc_stat_clear({stat_ref(self.program, sym.name)});")
            return
        sm = stat_map_ref(self.program, sym.name)
        if isinstance(target, A.Index):
            self.emit(f"{{ {self.key_prelude(sym, target.keys)} "
                      f"stpc_stat_map_delete({sm}, &key); }}")
        else:
            self.emit(f"stpc_stat_map_clear({sm});")

    def stmt_TryCatch(self, node):
        label = f"catch{self.ntemps}"
        self.ntemps += 1
        outer, self.catch_label = self.catch_label, label
        self.nested(node.body)
        self.catch_label = outer
        self.emit(f"{label}: __attribute__((unused));")
        self.emit("if (unlikely(c->last_error)) {")
        self.indent += 1
        if node.message_var:
            self.emit(f"stpc_str_assign(l->vars.l_{node.message_var}, "
                      "c->last_error);")
        self.emit("c->last_error = NULL;")
        self.emit("c->error_location = NULL;")
        self.stmt(node.handler)
        self.indent -= 1
        self.emit("}")

    def stmt_Break(self, node):
        self.emit("break;")

    def stmt_Continue(self, node):
        self.emit("continue;")

    def stmt_Next(self, node):
        self.emit("goto out;")

    def stmt_Return(self, node):
        if node.value is not None:
            value = self.expr(node.value)
            if self.function.return_type is T.STRING:
                self.emit(f"stpc_str_assign(l->vars.retvalue, {value});")
            else:
                self.emit(f"l->vars.retvalue = {value};")
        self.emit("goto out;")

    # -- expressions: each returns a C expression --
    def expr(self, node) -> str:
        return getattr(self, "expr_" + type(node).__name__)(node)

    def cond(self, node) -> str:
        return _truth(self.expr(node))

    def type_of(self, node) -> T:
        return self.program.types[node]

    def expr_IntLit(self, node):
        return f"((s64){_c_long(node.value)})"

    def expr_StrLit(self, node):
        return c_string(node.value)

    def var_ref(self, node) -> str:
        sym = self.program.symbols[node]
        if isinstance(sym, GlobalSym):
            return f"stpc_g.g_{sym.name}"
        return f"l->vars.l_{sym.name}"

    def expr_Var(self, node):
        sym = self.program.symbols[node]
        if isinstance(sym, GlobalSym):
            return global_value(sym)
        return self.var_ref(node)

    def counter_add(self, node, delta: str) -> str:
        """An add to a per-CPU counter; only ever a statement."""
        name = self.program.symbols[node.target].name
        return (f"({{ s64 v = {delta}; if (!c->last_error) "
                f"this_cpu_add(stpc_pc_{name}, v); 0; }})")

    def is_counter(self, target) -> bool:
        sym = self.program.symbols.get(target)
        return isinstance(sym, GlobalSym) and sym.counter

    # -- target variables --
    def target_value(self, node):
        return self.targets.value(node)

    expr_Member = expr_Subscript = expr_AddressOf = target_value

    def expr_AtOp(self, node):
        if node.op != "@entry":
            return self.target_value(node)
        index = self.entry_nodes.index(node)
        return f"(((s64 *)c->data)[{index}])"

    def expr_TargetVar(self, node):
        if not node.context:
            return self.targets.value(node)
        pieces, args = [], []
        for piece, piece_args in self.targets.context_group(node):
            pieces.append(piece)
            for ctype, arg in piece_args:
                while "@TEMP@" in arg:
                    arg = arg.replace("@TEMP@", self.temp_string(), 1)
                args.append((ctype, arg))
        return self.sprint_into(" ".join(pieces), args)

    def expr_Unary(self, node):
        operand = self.expr(node.operand)
        if node.op == "-":
            return f"stpc_neg({operand})"
        if node.op == "+":
            return f"({operand})"
        if node.op == "!":
            return f"((s64)!{_truth(operand)})"
        return f"(~({operand}))"

    def expr_Binary(self, node):
        return self.binary_c(node.op, self.expr(node.left),
                             self.expr(node.right), node,
                             self.type_of(node.left))

    def binary_c(self, op: str, left: str, right: str, node,
                 operand_type: T) -> str:
        """C for ``left op right``, given as C expressions."""
        if op == ".":
            return f"stpc_concat({self.temp_string()}, {left}, {right})"
        if op in ("==", "!=", "<", ">", "<=", ">="):
            if operand_type is T.STRING:
                return f"((s64)(stpc_strcmp({left}, {right}) {op} 0))"
            # through temporaries: 'x < x' and '(x & 1) == 2' are valid
            # scripts, but gcc's tautological-compare fails them
            return (f"({{ s64 cl = {left}, cr = {right}; "
                    f"(s64)(cl {op} cr); }})")
        if op in ("&&", "||"):
            return f"((s64)({_truth(left)} {op} {_truth(right)}))"
        if op in _CHECKED:
            return (f"{_CHECKED[op]}(c, {left}, {right}, "
                    f"{c_string(location(node))})")
        if op in _SHIFT:
            return f"{_SHIFT[op]}({left}, {right})"
        return f"((s64)((u64)({left}) {_ARITH[op]} (u64)({right})))"

    def expr_Ternary(self, node):
        cond = self.cond(node.cond)
        then, other = self.expr(node.then), self.expr(node.otherwise)
        return f"(({cond}) ? ({then}) : ({other}))"

    def lvalue(self, target):
        """(prelude, guard, ref): C that finds the target's storage, a
        condition that it was found, and the storage as an lvalue (a
        ``char *`` for strings)."""
        if isinstance(target, A.Var):
            return "", "1", self.var_ref(target)
        sym = self.program.symbols[target]
        m = map_ref(self.program, sym.name)
        prelude = (self.key_prelude(sym, target.keys) +
                   " struct stpc_map_entry *e = c->last_error ? NULL : "
                   f"stpc_map_insert(c, {m}, &key, "
                   f"{c_string(location(target))});")
        return prelude, "e", _value_ref(m, "e", sym.type)

    def key_prelude(self, sym, keys) -> str:
        """C declaring ``key``, a struct stpc_key holding ``keys``."""
        parts = []
        for i, (key, t) in enumerate(zip(keys, sym.key_types)):
            parts.append(f"{_C_TYPE[t]} k{i} = {self.expr(key)};")
        parts.append("struct stpc_key key = {};")
        for i, t in enumerate(sym.key_types):
            parts.append(f"{_struct_key(i, t)} = k{i};")
        return " ".join(parts)

    def expr_Index(self, node):
        sym = self.program.symbols[node]
        m = map_ref(self.program, sym.name)
        missing = '""' if sym.type is T.STRING else "0"
        value = _value_ref(m, "e", sym.type)
        if sym.type is T.STRING:
            value = f"(const char *){value}"
        return (f"({{ {self.key_prelude(sym, node.keys)} "
                f"struct stpc_map_entry *e = stpc_map_find({m}, &key); "
                f"e ? {value} : {missing}; }})")

    def expr_InArray(self, node):
        sym = self.program.symbols[node]
        if sym.type is T.STATS:
            found = (f"stpc_stat_map_contains("
                     f"{stat_map_ref(self.program, sym.name)}, &key)")
        else:
            found = (f"stpc_map_find({map_ref(self.program, sym.name)}, "
                     "&key) != NULL")
        return (f"({{ {self.key_prelude(sym, node.keys)} "
                f"(s64)({found}); }})")

    def read_statistic(self, node) -> str:
        """C declaring ``r``: the merged statistic an extractor reads, a
        global one or an element of a statistics array."""
        sym, arg = self.program.symbols[node], node.args[0]
        if not isinstance(arg, A.Index):
            return stat_read(self.program, sym, self.frame)
        n = len(self.frame.temps)
        self.frame.temps.append(
            f"u64 agg{n}[STPC_STAT_WORDS({sym.nbuckets})];")
        return (f"{self.key_prelude(sym, arg.keys)} "
                f"struct stpc_stat_record *r = (void *)l->agg{n}; "
                f"stpc_stat_map_read({stat_map_ref(self.program, sym.name)}, "
                "&key, r);")

    def expr_StatOp(self, node):
        read = self.read_statistic(node)
        loc = c_string(location(node))
        value = f"stpc_stat_field(r, {_STAT_OPS[node.op]})"
        if node.op in ("@count", "@sum"):
            return f"({{ {read} {value}; }})"
        return (f"({{ {read} r->count ? {value} : "
                f"(stpc_error(c, \"empty aggregate\", {loc}), 0); }})")

    def print_histogram(self, node, newline: str) -> str:
        read = self.read_statistic(node)
        sym = self.program.symbols[node]
        desc = f"&stpc_stat_descs[{_stat_desc_index(self.program, sym)}]"
        name, label = c_string(sym.name), ""
        if isinstance(node.args[0], A.Index):
            name = self.temp_string()
            keys, args = _key_formats(sym, _struct_key)
            label = (f"snprintf({name}, MAXSTRINGLEN, "
                     f"{c_string(f'{sym.name}[{keys}]')}, "
                     f"{', '.join(args)});")
        tail = f' stpc_printf(c, "\\n");' if newline else ""
        return (f"({{ {read} if (!c->last_error) {{ {label} stpc_print_hist("
                f"c, {desc}, r, {name});{tail} }} 0; }})")

    def add_to_statistic(self, node) -> str:
        """``target <<< value``: per-CPU, see stats.c and stat_map.c."""
        target = node.target
        sym = self.program.symbols[target]
        value = f"s64 v = {self.expr(node.value)};"
        if isinstance(target, A.Index):
            add = (f"{self.key_prelude(sym, target.keys)} "
                   "if (!c->last_error) stpc_stat_map_add(c, "
                   f"{stat_map_ref(self.program, sym.name)}, &key, v, "
                   f"{c_string(location(target))});")
        else:
            add = ("if (!c->last_error) "
                   f"stpc_stat_add({stat_ref(self.program, sym.name)}, v);")
        return f"({{ {value} {add} v; }})"

    def expr_Assign(self, node):
        if node.op == "<<<":
            return self.add_to_statistic(node)
        value = self.expr(node.value)
        if self.is_counter(node.target):
            sign = "" if node.op == "+=" else "-"
            return self.counter_add(node, f"{sign}({value})")
        prelude, guard, ref = self.lvalue(node.target)
        op = node.op
        if self.type_of(node.target) is T.STRING:
            store = (f"stpc_concat({ref}, {ref}, v)" if op == ".="
                     else f"stpc_str_assign({ref}, v)")
            return (f"({{ const char *v = {value}; {prelude} "
                    f"const char *r = \"\"; if ({guard}) {{ {store}; "
                    f"r = {ref}; }} r; }})")
        if op == "=":
            update = f"{ref} = v"
        else:
            update = f"{ref} = " + self.binary_c(op[:-1], ref, "v", node,
                                                 T.LONG)
        return (f"({{ s64 v = {value}; {prelude} s64 r = 0; "
                f"if ({guard}) {{ {update}; r = {ref}; }} r; }})")

    def expr_Crement(self, node):
        delta = "1" if node.op == "++" else "-1"
        if self.is_counter(node.target):
            return self.counter_add(node, delta)
        prelude, guard, ref = self.lvalue(node.target)
        result = ref if node.prefix else "old"
        return (f"({{ {prelude} s64 r = 0; if ({guard}) {{ s64 old = {ref}; "
                f"{ref} = (s64)((u64)old + (u64){delta}); r = {result}; }} "
                "r; })")

    # -- calls --
    def expr_Call(self, node):
        method = getattr(self, "call_" + node.name, None)
        if method is not None:
            return method(node)
        function = self.program.functions.get(node.name)
        if function is not None:
            return self.user_call(node, function)
        return self.simple_builtin(node)

    def user_call(self, node, function: FunctionInfo) -> str:
        parts = ["({"]
        args = []
        for i, arg in enumerate(node.args):
            ctype = _C_TYPE[self.type_of(arg)]
            parts.append(f"{ctype} a{i} = {self.expr(arg)};")
            args.append(f"a{i}")
        frame = f"stpc_frame_{function.name}"
        parts.append(f"struct {frame} *callee = "
                     f"&stpc_ctx(c)->frames[c->nesting + 1].f_{function.name};")
        ret = function.return_type
        result = "0"
        if ret is T.STRING:
            result = self.temp_string()
            parts.append(f"{result}[0] = '\\0';")
        # SystemTap names the called function's declaration here
        where = f"near identifier '{function.name}' at {function.decl.span}"
        parts.append(f"if (unlikely(c->nesting + 1 >= MAXNESTING)) "
                     f"stpc_error(c, \"MAXNESTING exceeded\", "
                     f"{c_string(where)}); else if (!c->last_error) {{")
        # every call starts with zeroed locals and return value
        parts.append("memset(&callee->vars, 0, sizeof(callee->vars));")
        for param, arg in zip(function.params, args):
            if param.type is T.STRING:
                parts.append(f"stpc_str_assign(callee->vars.l_{param.name}, {arg});")
            else:
                parts.append(f"callee->vars.l_{param.name} = {arg};")
        parts.append(f"c->nesting++; stpc_fn_{function.name}(c); "
                     "c->nesting--;")
        if ret is T.STRING:
            parts.append(f"stpc_str_assign({result}, callee->vars.retvalue);")
        elif ret is T.LONG:
            result = "r"
            parts[0] = "({ s64 r = 0;"
            parts.append("r = callee->vars.retvalue;")
        parts.append("}")
        parts.append(f"{result}; }})")
        return " ".join(parts)

    def simple_builtin(self, node) -> str:
        args = [self.expr(a) for a in node.args]
        return {
            "pid": "((s64)task_tgid_nr(current))",
            "tid": "((s64)task_pid_nr(current))",
            "ppid": "((s64)task_tgid_nr(current->real_parent))",
            "uid": "((s64)from_kuid_munged(current_user_ns(), current_uid()))",
            "cpu": "((s64)smp_processor_id())",
            "target": "((s64)stpc_target)",
            "pp": "c->probe->point",
            "execname": "current->comm",
            "jiffies": "((s64)jiffies)",
            "local_clock_ns": "((s64)local_clock())",
            "gettimeofday_s": "((s64)ktime_get_real_seconds())",
            "gettimeofday_ms": "((s64)ktime_to_ms(ktime_get_real()))",
            "gettimeofday_us": "((s64)ktime_to_us(ktime_get_real()))",
            "gettimeofday_ns": "((s64)ktime_get_real_ns())",
            "strlen": f"((s64)strnlen({args[0] if args else ''}, MAXSTRINGLEN))",
        }.get(node.name) or self.unsupported(node)

    def unsupported(self, node) -> str:
        raise StpcError(f"function '{node.name}' is not supported yet",
                        node.span)

    def helper_call(self, node, helper: str, before=(), after=()) -> str:
        """``helper(before..., args..., after...)``, the script arguments
        evaluated first, left to right (C leaves call arguments unordered)."""
        decls, names = [], []
        for i, arg in enumerate(node.args):
            decls.append(f"{_C_TYPE[self.type_of(arg)]} a{i} = "
                         f"{self.expr(arg)};")
            names.append(f"a{i}")
        call_args = ", ".join([*before, *names, *after])
        return f"({{ {' '.join(decls)} {helper}({call_args}); }})"

    def call_substr(self, node):
        length = () if len(node.args) == 3 else ("MAXSTRINGLEN",)
        return self.helper_call(node, "stpc_substr", (self.temp_string(),),
                                length)

    def call_str_replace(self, node):
        return self.helper_call(node, "stpc_str_replace",
                                (self.temp_string(),))

    def call_text_str(self, node):
        return self.helper_call(node, "stpc_text_str", (self.temp_string(),))

    def call_tokenize(self, node):
        # tokenize(delim) continues the string given last, like ("", delim)
        input_ = ('""',) if len(node.args) == 1 else ()
        return self.helper_call(node, "stpc_tokenize",
                                ("c", self.temp_string(), *input_))

    def call_isinstr(self, node):
        return self.helper_call(node, "stpc_isinstr")

    def call_strtol(self, node):
        return self.helper_call(node, "stpc_strtol")

    def call_stringat(self, node):
        return self.helper_call(node, "stpc_stringat", ("c",),
                                (c_string(location(node)),))

    # -- kernel and user memory: fault-safe, errors name the call --
    def memory_string(self, node, space: str) -> str:
        """kernel_string(addr[, fallback]) and user_string likewise; with a
        fallback, a fault returns it instead of being an error."""
        where = c_string(location(node))
        addr = self.expr(node.args[0])
        length = self.expr(node.args[1]) if node.name.endswith("_n") \
            else "MAXSTRINGLEN"
        read = (f"stpc_{space}_string(c, {self.temp_string()}, a0, "
                f"{length}, {where})")
        if len(node.args) == 2 and not node.name.endswith("_n"):
            fallback = self.expr(node.args[1])
            return (f"({{ s64 a0 = {addr}; const char *d = {fallback}; "
                    f"const char *e = c->last_error; const char *r = {read};"
                    f" if (!e && c->last_error) {{ c->last_error = NULL; "
                    f"c->error_location = NULL; r = d; }} r; }})")
        return f"({{ s64 a0 = {addr}; {read}; }})"

    def call_kernel_string(self, node):
        return self.memory_string(node, "kernel")

    call_kernel_string_n = call_kernel_string

    def call_user_string(self, node):
        return self.memory_string(node, "user")

    call_user_string_n = call_user_string

    def memory_number(self, node) -> str:
        space, _, kind = node.name.partition("_")
        size, cast = {"long": (8, "s64"), "int": (4, "s32"),
                      "short": (2, "s16"), "char": (1, "s8")}[kind]
        reader = "stpc_deref" if space == "kernel" else "stpc_user_deref"
        return (f"((s64)({cast}){reader}(c, {self.expr(node.args[0])}, "
                f"{size}, {c_string(location(node))}))")

    call_kernel_long = call_kernel_int = call_kernel_short = \
        call_kernel_char = call_user_long = call_user_int = \
        call_user_short = call_user_char = memory_number

    def call_probefunc(self, node):
        if self.targets is not None:
            return c_string(self.targets.scope.function_name)
        return "stpc_probefunc(c)"

    def call_print_backtrace(self, node):
        return "({ stpc_print_backtrace(c); 0; })"

    def call_backtrace(self, node):
        return f"stpc_backtrace({self.temp_string()})"

    def call_sprint_backtrace(self, node):
        return f"stpc_sprint_backtrace({self.temp_string()})"

    def call_exit(self, node):
        return "({ stpc_request_exit(); 0; })"

    def call_error(self, node):
        msg = self.expr(node.args[0])
        return f"({{ stpc_error_copy(c, {msg}, NULL); 0; }})"

    def printf_call(self, fmt: str, args: List[str], sink: str,
                    checked: bool = True) -> str:
        """Evaluates the arguments, then prints only if none failed.
        Unless ``checked``, the format reaches the call through an array
        in a statement expression, where gcc does not check it."""
        decls = " ".join(f"{ctype} a{i} = {value};"
                         for i, (ctype, value) in enumerate(args))
        names = "".join(f", a{i}" for i in range(len(args)))
        literal = c_string(fmt) if checked else \
            f"({{ static const char f[] = {c_string(fmt)}; f; }})"
        if not fmt:     # prints nothing; gcc's format-zero-length fails it
            return f"({{ {decls} 0; }})"
        return (f"({{ {decls} if (!c->last_error) "
                f"{sink}{literal}{names}); 0; }})")

    def format_args(self, node, pieces) -> tuple:
        fmt, arg_kinds = kernel_format(pieces)
        args = []
        for arg, how in zip(node.args[1:], arg_kinds):
            value = self.expr(arg)
            if how == "string":
                args.append(("const char *", value))
            elif how == "int":
                args.append(("int", f"(int){value}"))
            elif how == "octal":
                args.append(("const char *", f"stpc_octal_alt("
                             f"{self.temp_string()}, {value})"))
            else:
                args.append(("long long", value))
        return fmt, args

    def call_printf(self, node):
        pieces = parse_format(node.args[0].value, node.args[0].span)
        fmt, args = self.format_args(node, pieces)
        return self.printf_call(fmt, args, "stpc_printf(c, ",
                                gcc_checkable(pieces))

    def call_sprintf(self, node):
        pieces = parse_format(node.args[0].value, node.args[0].span)
        fmt, args = self.format_args(node, pieces)
        return self.sprint_into(fmt, args, gcc_checkable(pieces))

    def sprint_into(self, fmt: str, args, checked: bool = True) -> str:
        tmp = self.temp_string()
        call = self.printf_call(fmt, args,
                                f"snprintf({tmp}, MAXSTRINGLEN, ", checked)
        return f"({{ {tmp}[0] = '\\0'; (void){call}; (const char *){tmp}; }})"

    def value_args(self, nodes, delim: Optional[str] = None):
        """A format printing ``nodes`` one after another, and its args."""
        fmt, args = [], []
        for i, arg in enumerate(nodes):
            if i and delim is not None:
                fmt.append("%s")
                args.append(("const char *", delim))
            if self.type_of(arg) is T.STRING:
                fmt.append("%s")
                args.append(("const char *", self.expr(arg)))
            else:
                fmt.append("%lld")
                args.append(("long long", self.expr(arg)))
        return "".join(fmt), args

    def call_print(self, node, newline: str = ""):
        if node.args and self.type_of(node.args[0]) is T.HIST:
            return self.print_histogram(node.args[0], newline)
        fmt, args = self.value_args(node.args)
        return self.printf_call(fmt + newline, args, "stpc_printf(c, ")

    def call_println(self, node):
        return self.call_print(node, "\n")

    def call_printd(self, node, newline: str = ""):
        delim = self.expr(node.args[0])
        fmt, args = self.value_args(node.args[1:], "d")
        call = self.printf_call(fmt + newline, args, "stpc_printf(c, ")
        return f"({{ const char *d __maybe_unused = {delim}; {call}; }})"

    def call_printdln(self, node):
        return self.call_printd(node, "\n")

    def call_sprint(self, node):
        return self.sprint_into(*self.value_args(node.args))

    def call_sprintln(self, node):
        fmt, args = self.value_args(node.args)
        return self.sprint_into(fmt + "\n", args)
