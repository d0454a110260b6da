"""Pass 3: the typed program to the C source of a kernel module.

Statements and expressions are lowered to C text by lower_stmt.py,
lower_expr.py and lower_calls.py; the module's layout (globals, contexts,
probe tables, module info) is the template ``templates/module.c`` filled
from a precomputed view model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..loader import metadata, protocol
from . import ast as A
from .builtins import OUTPUT_BUILTINS
from .callreach import expressions_calling, handlers_calling
from .cstring import c_comment, c_string
from .endprint import unread_globals
from .entryvalues import EntryLayout
from .errors import InternalError
from .ir import (DispatchGroup, DispatchKey, FunctionInfo, GlobalSym,
                 ProbedModule, ProbeKind, ProbeSite, ProcessSite, Program,
                 ResolvedSite, T, UserSite)
from .lower_embedded import embedded_block, embedded_function_body
from .lower_expr import ExprLowering
from .lower_stmt import assigned_before_read, lower_body
from .procprobes import lifetime_filters
from .usyms import STACK_CALLS, calls_usyms, file_symbols, user_address
from .uunwind import file_unwind_rows
from .storage import (FrameView, c_long, map_capacity, member_decl,
                      plain_arrays, scalar_stats, stat_arrays,
                      stat_desc_index)
from .targetvars import (TargetSite, entry_captures, entry_expression,
                         written_targets)
from .templating import environment


@dataclass
class ModuleInfo:
    name: str
    source_hash: str
    version: str
    kernel_release: str = ""
    timing: bool = False        # stpc -t: every probe's hits and cycles




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
    runner: str             # the frame around the handler, see runner()
    interval_ns: str = ""
    timing: str = ""        # stpc -t: C pointer to the probe's record


@dataclass
class HandlerView:
    name: str
    frame: FrameView
    body: List[str]
    data_size: str = "0"    # an @entry() handler: bytes it saves (C)
    zero_locals: bool = False   # a local may be read before it is set


@dataclass
class RunnerView:
    """A handler in the frame built for what it uses
    (runtime_c/stpc_handler.h): one per handler and probe kind."""
    name: str
    handler: str
    kind: str
    locks: bool             # it takes globals' locks
    prints: bool            # it may print: its output is flushed
    timed: bool             # stpc -t


#: how many runners of function-entry sites stpc_run_entry calls
#: directly, each behind one comparison: past a few, one indirect call
#: costs less than the comparisons before it
DIRECT_ENTRY_RUNNERS = 4


def _entry_runners(kprobes: List[dict]) -> List[str]:
    """The runners stpc_run_entry (runtime_c/entry_ftrace.h) calls
    without an indirect call: those of the first function-entry sites
    ftrace may take, in the script's order."""
    names: List[str] = []
    for kprobe in kprobes:
        name = kprobe["probe"].runner
        if kprobe["ftrace_entry"] and name not in names:
            names.append(name)
    return names[:DIRECT_ENTRY_RUNNERS]


def translate(program: Program, info: ModuleInfo) -> str:
    view = _ModuleView(program, info).build()
    return environment().get_template("module.c").render(**view)


class _ModuleView:
    """Precomputes everything the module template shows."""

    def __init__(self, program: Program, info: ModuleInfo):
        self.program = program
        self.info = info
        # sites by identity: a -t record is found in constant time
        self.site_index = {id(site): i for i, site in enumerate(program.sites)}
        self.unlocked_adds = _stats_read_when_quiet(program)
        self.printing = handlers_calling(
            program.handlers, program.functions,
            bool(program.script.embedded), OUTPUT_BUILTINS)
        self.runners: Dict[str, RunnerView] = {}

    def build(self) -> dict:
        program = self.program
        functions = [self.function_view(f) for f in program.functions.values()]
        handlers = [view for h in program.handlers
                    for view in self.handler_views(h.index)]
        entries = {s.order: self.entry_view(s) for s in program.sites
                   if s.kind in (ProbeKind.KRETPROBE, ProbeKind.URETPROBE)}
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
            locks = self.locks(names, names)
            end.append(ProbeView(unread.name, "end", "STPC_PROBE_END", locks,
                                 self.runner(unread.name, "STPC_PROBE_END",
                                             bool(locks), prints=True),
                                 timing=self.timing_ref(None)))
        kprobes = self.kprobe_views()
        uprobes = self.uprobe_views()
        processes = self.process_views()
        tracepoints = self.tracepoint_views()
        return dict(
            info=self.info,
            script_file=c_comment(program.script.file),
            embedded=[embedded_block(b) for b in program.script.embedded],
            kernel_writes=any(written_targets(h.decl.body)
                              for h in program.handlers),
            module_name=self.info.name,
            max_nesting=program.max_nesting,
            globals=[self.global_decl(g) for g in program.globals.values()
                     if not g.is_array and g.type is not T.STATS],
            stats=[self.stat_desc(g) for g in
                   scalar_stats(program) + stat_arrays(program)],
            nstats=len(scalar_stats(program)),
            maps=[self.map_desc(g) for g in plain_arrays(program)],
            stat_maps=[self.map_desc(g) for g in stat_arrays(program)],
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
            runners=list(self.runners.values()),
            entry_runners=_entry_runners(kprobes),
            kprobes=kprobes,
            uprobes=uprobes,
            **processes,
            usym_files=self.usym_views(),
            **tracepoints,
            timing=self.timing_views(),
            probed=self.probed_views(),
            nslots=program.nslots,
            stpc_info=c_string(metadata.sealed(
                self.module_metadata())).replace(
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
            module = self.program.probed[code.module]
            entry = self.entries.get(site.order)
            views.append(dict(
                probe=self.probe_view(site), module=module.index,
                slot=module.slot(code.section), offset=code.offset,
                symbol=c_string(code.symbol),
                symbol_offset=code.symbol_offset,
                symbol_size=code.symbol_size,
                function=c_string(code.function),
                is_return=int(site.kind is ProbeKind.KRETPROBE),
                ftrace_entry=int(site.by_ftrace),
                regs_need=f"STPC_REGS_{site.registers.name}",
                **self.entry_fields(site, entry),
                optional=int(site.point.optional)))
        return views

    def uprobe_views(self) -> List[dict]:
        """process(...) sites: a file offset in a program the module
        finds by path when it arms the probe (runtime_c/uprobes.c)."""
        views = []
        for site in self.program.sites:
            if site.user is None:
                continue
            entry = self.entries.get(site.order)
            views.append(dict(
                probe=self.probe_view(site), path=c_string(site.user.path),
                offset=f"{site.user.offset:#x}",
                **_build_id_fields(site.user),
                ref_ctr_offset=f"{site.user.semaphore_offset:#x}"
                if site.user.semaphore_offset else "",
                function=c_string(site.user.function),
                process=c_string(site.user.process) if site.user.process
                else "NULL",
                is_return=int(site.kind is ProbeKind.URETPROBE),
                **self.entry_fields(site, entry),
                optional=int(site.point.optional)))
        return views

    def usym_views(self) -> List[dict]:
        """The probed files' function symbols, when usymname() or
        usymdata() is called (runtime_c/usyms.c), and their unwind rules
        when the script walks the user stack (runtime_c/ustack.c)."""
        if not calls_usyms(self.program):
            return []
        walks = calls_usyms(self.program, STACK_CALLS)
        paths = dict.fromkeys(s.user.path for s in self.program.sites
                              if s.user is not None)
        return [dict(path=c_string(path), syms=[
                    f"{{ {sym.offset:#x}, {sym.size}, {c_string(sym.name)} }}"
                    for sym in file_symbols(path)],
                    frames=[f"{{ {row.offset:#x}, {row.cfa_offset}, "
                            f"{row.rbp_offset}, {row.cfa_reg} }}"
                            for row in file_unwind_rows(path)] if walks
                    else [])
                for path in paths]

    def process_views(self) -> dict:
        """process.begin/.end sites and the filters they name: a path
        (the module looks up its inode when armed), a pid, or neither."""
        sites = self.program.sites_of(ProbeKind.PROCESS)
        filters = lifetime_filters(sites)
        return dict(
            proc_filters=[dict(path=c_string(f.path) if f.path else "NULL",
                               pid=f.pid or 0) for f in filters],
            procprobes=[dict(probe=self.probe_view(site),
                             filter=filters.index(ProcessSite(
                                 site.process.path, site.process.pid,
                                 False)),
                             is_end=int(site.process.end),
                             is_thread=int(site.process.thread))
                        for site in sites])

    def tracepoint_views(self) -> dict:
        """kernel.trace sites: the probe functions registered, each taking
        the tracepoint's arguments as 64-bit words and running one probe
        or a dispatched group's (runtime_c/tracepoints.c); every probe's
        struct stpc_probe, those of one function in a row."""
        program = self.program
        groups = {index: group for group in program.dispatch
                  for index, _ in group.members}
        callbacks: List[dict] = []
        probes: List[ProbeView] = []
        for site in program.sites_of(ProbeKind.TRACEPOINT):
            index = self.site_index[id(site)]
            group = groups.get(index)
            if group is not None and group.members[0][0] != index:
                continue    # placed with its group's first probe
            first = len(probes)
            members = [program.sites[i] for i, _ in group.members] \
                if group is not None else [site]
            probes.extend(self.probe_view(member) for member in members)
            resolved = site.resolved
            callbacks.append(dict(
                name=c_string(resolved.prototype.name),
                nargs=len(resolved.prototype.params),
                module=program.probed[resolved.module].index
                if resolved.module else -1,
                optional=int(site.point.optional),
                first=first, nprobes=len(members),
                dispatch=self.dispatch_view(group, probes, first)
                if group is not None else None))
        return dict(tracepoints=callbacks, tracepoint_probes=probes)

    @staticmethod
    def dispatch_view(group: DispatchGroup, probes: List[ProbeView],
                      first: int) -> dict:
        """A group's probe function: its key read from the argument
        words, then a switch with, for each constant, the runners of the
        probes it runs (called directly), in the script's order."""
        key = group.key
        cases: Dict[int, List[tuple]] = {}
        for place, (_, values) in enumerate(group.members):
            for value in dict.fromkeys(values):
                cases.setdefault(value, []).append(
                    (probes[first + place].runner, first + place))
        raw = f"a{key.arg}" if key.offset is None else "raw"
        return dict(
            key=c_comment(key.text), arg=key.arg, offset=key.offset,
            size=key.size, value=_key_value(raw, key),
            cases=[dict(value=c_long(value), calls=calls)
                   for value, calls in sorted(cases.items())])

    def probed_views(self) -> List[dict]:
        views = []
        for module in self.program.probed.values():
            build_id, build_id_len = _c_build_id(module.build_id)
            views.append(dict(
                name=c_string(module.name), first_slot=module.first_slot,
                nslots=len(module.slots),
                is_kernel=int(module.name == "kernel"),
                optional=int(module.optional),
                build_id=build_id, build_id_len=build_id_len,
                slots=", ".join(c_string(s) for s in module.slots),
                slot_defines=[f"{_slot_name(module, s)} "
                              f"{module.first_slot + i}"
                              for i, s in enumerate(module.slots)]))
        return views

    def module_metadata(self) -> dict:
        """What the loader reads from the .stpc_info section (sealed
        with its checksum, loader/metadata.py; the vermagic is the C
        compiler's, which the checksum leaves out)."""
        return dict(
            format=protocol.INFO_FORMAT, stpc_version=self.info.version,
            module=self.info.name, kernel_release=self.info.kernel_release,
            vermagic=_VERMAGIC, parameters=_LOADER_PARAMETERS,
            source_hash=self.info.source_hash, nslots=self.program.nslots,
            targets=[dict(name=t.name, build_id=t.build_id,
                          first_slot=t.first_slot, slots=t.slots,
                          optional=t.optional)
                     for t in self.program.probed.values()],
            probes=[s.description if s.code is not None or
                    s.user is not None or
                    s.kind is ProbeKind.TRACEPOINT else str(s.point)
                    for s in self.program.sites],
            **self.probed_programs())

    def probed_programs(self) -> dict:
        """"programs": the files uprobes are placed in, each with the
        build-id the loader checks before loading the module (absent
        without uprobes: the loader reads it as empty)."""
        found = {(s.user.path, s.user.build_id): None
                 for s in self.program.sites if s.user is not None}
        if not found:
            return {}
        return dict(programs=[dict(path=path, build_id=build_id)
                              for path, build_id in found])

    def target_site(self, site: ProbeSite,
                    resolved: ResolvedSite) -> TargetSite:
        """Target variables at ``resolved``, with a DWARF address of its
        file in C as where it is at run time: a slot's address (pass 2
        added every slot needed) plus an offset."""
        def c_address(address: int) -> str:
            if resolved.user:
                return user_address(address, resolved.pc)
            where = resolved.debug.locate(address)
            module = self.program.probed[where.module]
            if where.section not in module.slots:
                raise InternalError(f"pass 2 left {module.name} without a "
                                    f"slot for {where.section}")
            return (f"((u64)stpc_addrs[{_slot_name(module, where.section)}]"
                    f" + {where.offset}ULL)")
        return TargetSite(site.description, resolved, c_address)

    # -- globals --
    def global_decl(self, sym: GlobalSym) -> str:
        return member_decl(f"g_{sym.name}", sym.type)

    def stat_desc(self, sym: GlobalSym) -> dict:
        hist, kind, limits = sym.hist, "NONE", (0, 0, 0)
        if hist is not None:
            kind, limits = hist.kind.name, (hist.start, hist.stop, hist.step)
        start, stop, step = (c_long(n) for n in limits)
        return dict(name=sym.name, hist=f"STPC_HIST_{kind}", start=start,
                    stop=stop, step=step, nbuckets=sym.nbuckets,
                    variance=int(sym.uses_variance),
                    shift=sym.variance_shift or 0)

    def map_desc(self, sym: GlobalSym) -> dict:
        kinds = {T.LONG: "STPC_T_LONG", T.STRING: "STPC_T_STRING",
                 T.STATS: "STPC_T_STATS"}
        stat = "NULL"
        if sym.type is T.STATS:
            stat = f"&stpc_stat_descs[{stat_desc_index(self.program, sym)}]"
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
                lines.append(f"stpc_g.g_{sym.name} = {c_long(init)};")
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
                if sym.name in self.unlocked_adds:
                    shared = set()
            if sym.name in exclusive:
                lines.append(f"{{ .index = {sym.index}, .write = 1 }}")
            elif sym.name in shared:
                lines.append(f"{{ .index = {sym.index}, .write = 0 }}")
        return lines

    # -- scopes --
    def function_view(self, function: FunctionInfo) -> FunctionView:
        frame = FrameView(f"stpc_frame_{function.name}", f"f_{function.name}")
        body = lower_body(ExprLowering(self.program, frame, function),
                          function.scope.body, function.scope.locals)
        if function.decl.embedded is not None:
            body = embedded_function_body(function)
        if function.return_type is not None:
            frame.vars.append(member_decl("retvalue", function.return_type))
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

    def handler_view(self, index: int,
                     site: Optional[ProbeSite]) -> HandlerView:
        handler = self.program.handlers[index]
        name = _handler_name(index, site)
        frame = FrameView(f"stpc_locals_{name}", name)
        at_site = None
        if site is not None and site.resolved is not None:
            at_site = self.target_site(site, site.resolved)
        exprs = ExprLowering(self.program, frame, site=at_site,
                             entry=self.entry_layout(site))
        body = lower_body(exprs, handler.scope.body, handler.scope.locals)
        return HandlerView(name, frame, body, zero_locals=not (
            assigned_before_read(handler.scope.body, handler.scope.locals)))

    def entry_view(self, site: ProbeSite) -> Optional[HandlerView]:
        """For a .return probe using @entry(): the function that reads
        those values when the probed function is entered."""
        layout = self.entry_layout(site)
        if not layout.captures or site.variant < 0:
            return None
        name = f"entry_{site.variant}"
        frame = FrameView(f"stpc_locals_{name}", name)
        exprs = ExprLowering(self.program, frame, site=self.target_site(
            site, site.resolved.at_entry()))
        body = ["\t" + layout.store(node, exprs.expr(entry_expression(node)))
                for node in layout.captures]
        return HandlerView(name, frame, body, data_size=layout.size)

    def entry_layout(self, site: Optional[ProbeSite]) -> EntryLayout:
        """The values a site's handler reads at entry, in its data."""
        captures = entry_captures(
            self.program.handlers[site.handler].decl.body,
            _returns(site)) if site is not None else []
        return EntryLayout(captures, self.program.types)

    def unread_globals_handler(self) -> Optional[HandlerView]:
        found = unread_globals(self.program)
        if found is None:
            return None
        return HandlerView("unread_globals", *found)

    def probe_view(self, site) -> ProbeView:
        scope = self.program.handlers[site.handler].scope
        kind = {ProbeKind.BEGIN: "STPC_PROBE_BEGIN",
                ProbeKind.END: "STPC_PROBE_END",
                ProbeKind.ERROR: "STPC_PROBE_ERROR"}.get(site.kind,
                                                     "STPC_PROBE_OTHER")
        handler = _handler_name(site.handler, site)
        locks = self.locks(scope.globals_read, scope.globals_written)
        return ProbeView(handler, _point(site), kind, locks,
                         self.runner(handler, kind, bool(locks),
                                     site.handler in self.printing),
                         site.interval_ns, self.timing_ref(site))

    def entry_fields(self, site: ProbeSite,
                     entry: Optional[HandlerView]) -> dict:
        """A .return site's @entry() handler: its runner ("" without one),
        the size of what it saves, and how many of the probe's locks it
        takes: all of them when what it reads may touch a global."""
        if entry is None:
            return dict(entry="", entry_size=0, entry_nlocks=0)
        nodes = [entry_expression(node)
                 for node in self.entry_layout(site).captures]
        program = self.program
        prints = expressions_calling(nodes, program.functions,
                                     bool(program.script.embedded),
                                     OUTPUT_BUILTINS)
        scope = program.handlers[site.handler].scope
        locks = self.locks(scope.globals_read, scope.globals_written) \
            if _may_touch_globals(nodes, program) else []
        return dict(entry=self.runner(entry.name, "STPC_PROBE_OTHER",
                                      bool(locks), prints),
                    entry_size=entry.data_size, entry_nlocks=len(locks))

    def runner(self, handler: str, kind: str, locks: bool,
               prints: bool) -> str:
        """The name of the frame for ``handler`` as a probe of ``kind``,
        made the first time it is asked for."""
        name = f"{handler}_{kind.removeprefix('STPC_PROBE_').lower()}"
        self.runners.setdefault(name, RunnerView(
            name, handler, kind, locks, prints, self.info.timing))
        return name

    # -- stpc -t --
    def timing_views(self) -> List[dict]:
        """One record per probe, in the script's order (SystemTap's
        index), the end-of-run printing last."""
        if not self.info.timing:
            return []
        views = [_timing_view(_point(site), str(self.program.handlers[
                     site.handler].decl.span), str(site.point))
                 for site in self.program.sites]
        if self.program.unread_globals():
            # SystemTap places its own end probe at the script's start
            views.append(_timing_view("end", f"{self.program.script.file}"
                                      ":1:1", "end"))
        return views

    def timing_ref(self, site: Optional[ProbeSite]) -> str:
        """The C pointer to a site's timing record (None: the end-of-run
        printing's), or "" without -t."""
        if not self.info.timing:
            return ""
        if site is None:
            return f"&stpc_timing[{len(self.program.sites)}]"
        return f"&stpc_timing[{self.site_index[id(site)]}]"

# stands for the build's VERMAGIC_STRING, which the C compiler fills in
# (the very string kbuild writes to .modinfo)
#: probes that never run beside kernel, module and timer probes: begin
#: ones before those are armed, end and error ones after they are disarmed
_QUIET_KINDS = frozenset((ProbeKind.BEGIN, ProbeKind.END, ProbeKind.ERROR))


def _may_touch_globals(nodes, program: Program) -> bool:
    """Whether expressions name a global or call a script function (which
    may read one)."""
    return any(isinstance(node, (A.Var, A.Index)) and node.name in
               program.globals or isinstance(node, A.Call) and
               node.name in program.functions
               for root in nodes for node in A.walk(root))


def _stats_read_when_quiet(program: Program) -> frozenset:
    """Arrays of statistics that only begin, end and error probes read
    (or delete from): no reader runs beside an adder, so '<<<' needs no
    lock; each CPU still adds to its own map."""
    kinds = {}
    for site in program.sites:
        kinds.setdefault(site.handler, set()).add(site.kind)
    read_while_busy = set().union(*(
        handler.scope.globals_read for handler in program.handlers
        if kinds.get(handler.index, set()) - _QUIET_KINDS))
    return frozenset(sym.name for sym in program.globals.values()
                     if sym.type is T.STATS and sym.is_array
                     and sym.name not in read_while_busy)


_VERMAGIC = "@STPC_VERMAGIC@"
# the module parameters the loader fills (runtime_c/stpc_protocol.h)
_LOADER_PARAMETERS = {
    protocol.PARAM_TARGET: "the pid target() returns (-c or -x)",
    protocol.PARAM_ADDRS: "one address per slot of the targets, in order",
    protocol.PARAM_VERBOSE: "1: report targets loaded or unloaded during "
                            "the run",
}


def _returns(site: Optional[ProbeSite]) -> bool:
    """A .return site with target variables: its parameters are read at
    entry."""
    return site is not None and site.resolved is not None and \
        site.resolved.returns


def _handler_name(index: int, site) -> str:
    if site is not None and site.variant >= 0:
        return f"probe_{index}_{site.variant}"
    return f"probe_{index}"


def _build_id_fields(user: UserSite) -> dict:
    """The bytes of the file's build-id and where they are in it, which
    the module reads in the file it opens (runtime_c/uprobes.c)."""
    build_id, build_id_len = _c_build_id(user.build_id)
    return dict(build_id=build_id, build_id_len=build_id_len,
                build_id_offset=f"{user.build_id_offset:#x}")


def _c_build_id(build_id: str) -> Tuple[str, int]:
    """A build-id in hex as a C string of its bytes, and their count."""
    raw = bytes.fromhex(build_id)
    return c_string(raw.decode("latin-1")), len(raw)


def _key_value(raw: str, key: DispatchKey) -> str:
    """A dispatch key's value as an s64, from the u64 C expression
    ``raw`` holding its bytes: truncated to its size, sign-extended when
    signed, as the handler's guard reads it (targetvars.py)."""
    if key.size == 8:
        return f"(s64){raw}"
    return f"(s64)({'s' if key.signed else 'u'}{key.size * 8}){raw}"


def _slot_name(module: ProbedModule, section: str) -> str:
    """The C macro of a slot's index in stpc_addrs."""
    return f"STPC_SLOT_{module.index}_{_c_ident(section)}"


def _c_ident(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def _point(site: ProbeSite) -> str:
    """What pp() says at a site: the resolved point, or the point as
    written."""
    return site.description or str(site.point)


def _timing_view(point: str, location: str, derivation: str) -> dict:
    """A -t record's C initialiser parts: SystemTap's pp, location and
    derivation."""
    return dict(point=c_string(point), location=c_string(location),
                derivation=c_string(derivation))
