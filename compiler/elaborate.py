"""Pass 2: resolve names, infer types across the whole script, classify
probe points.  Produces the typed ``Program``; the tree is left as is."""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

from . import ast as A
from .aliases import check_uses_placed, expand_aliases
from .builtins import is_builtin
from .counters import mark_counters
from .defines import LIMITS
from .entryvalues import check_entry_uses
from .errors import ErrorCollector, StpcError, nearest
from .ir import (FunctionInfo, GlobalSym, Handler, LocalSym, ProbeKind,
                 ProbeSite, Program, Scope, T)
from .probed import ProbedModules
from .probes import ProbeEnvironment, ProbeResolver
from .procprobes import is_lifetime_point, lifetime_sites
from .targetvars import check_target_uses
from .tpdispatch import dispatch_groups
from .varscope import TypesScope
from .tracepoints import is_tracepoint_point, tracepoint_sites
from .typeinfer import infer_types
from .unsupported import unsupported_point
from .warnings import find_warnings

KNOWN_PROBE_POINTS = ("begin", "end", "error", "begin(N)", "end(N)",
                      "error(N)", "timer.ms(N)", "timer.s(N)", "timer.us(N)",
                      "timer.ns(N)", "timer.jiffies(N)", "timer.hz(N)",
                      "timer.profile")
# the period of timer.UNIT(N) in nanoseconds, as a C expression of N
TIMER_UNITS = {"s": "{n}ULL * NSEC_PER_SEC", "sec": "{n}ULL * NSEC_PER_SEC",
                "ms": "{n}ULL * NSEC_PER_MSEC", "msec": "{n}ULL * NSEC_PER_MSEC",
                "us": "{n}ULL * NSEC_PER_USEC", "usec": "{n}ULL * NSEC_PER_USEC",
                "ns": "{n}ULL", "nsec": "{n}ULL",
                "jiffies": "{n}ULL * TICK_NSEC", "hz": "NSEC_PER_SEC / {n}ULL"}
_MIN_TIMER_NS = 100000
_PROFILE_PP = "perf.type(1).config(0).sample(1000000)"


def elaborate(script: A.Script,
              env: Optional[ProbeEnvironment] = None,
              library_aliases: Sequence[str] = ()) -> Program:
    """``library_aliases``: the aliases of the tapsets, joined or not,
    that an unknown probe point's hint may name."""
    errors = ErrorCollector()
    script, alias_uses = expand_aliases(script, errors)
    errors.raise_if_any()
    globals_ = _declare_globals(script, errors)
    functions = _reachable(_declare_functions(script, globals_, errors),
                           script)
    resolver = ProbeResolver(env) if env is not None else None
    handlers, sites, passed_over = _resolve_probes(script, errors, resolver,
                                                   library_aliases)
    check_uses_placed(alias_uses, sites, passed_over, errors)
    scopes = [f.scope for f in functions.values()] + \
        [h.scope for h in handlers]
    for scope in scopes:
        _collect_locals(scope, globals_)
    _check_private_uses(script, scopes, errors)
    _classify_globals(scopes, globals_, errors)
    types, symbols = infer_types(globals_, functions, scopes, errors)
    errors.raise_if_any()
    _mark_global_use(globals_, functions, scopes)
    check_entry_uses(functions, handlers, sites, types,
                     env.max_string_len if env is not None
                     else LIMITS["MAXSTRINGLEN"].default, errors)
    errors.raise_if_any()
    probed = resolver.probed if resolver is not None else ProbedModules()
    sites, cast_types = check_target_uses(
        functions, handlers, sites, probed, errors,
        lambda: _kernel_types(resolver), top_level_c=bool(script.embedded))
    errors.raise_if_any()
    program = Program(script, globals_, functions, handlers, sites,
                      types, symbols, _max_nesting(functions),
                      probed.frozen(),
                      find_warnings(script, globals_, functions, handlers,
                                    sites, passed_over), cast_types,
                      dispatch_groups(handlers, sites))
    mark_counters(program)
    return program


def _kernel_types(resolver: Optional[ProbeResolver]) -> TypesScope:
    if resolver is None:
        raise StpcError("@cast needs the kernel's types, and no kernel "
                        "was given to compile for", None)
    return TypesScope(resolver.kernel_btf())


# ---- declarations --------------------------------------------------------

def _declare_globals(script, errors) -> Dict[str, GlobalSym]:
    globals_: Dict[str, GlobalSym] = {}
    for decl in script.globals:
        if decl.name in globals_:
            errors.add(f"duplicate global '{decl.name}'", decl.span)
            continue
        sym = GlobalSym(decl, len(globals_))
        if decl.init is not None:
            # an initialiser alone is no write: stap leaves out a global
            # nothing else touches, and never prints it at the end
            sym.type = T.STRING if isinstance(decl.init, str) else T.LONG
        if decl.size is not None:
            sym.key_types = []    # an array; key count comes from use
        globals_[decl.name] = sym
    return globals_


def _declare_functions(script, globals_, errors) -> Dict[str, FunctionInfo]:
    functions: Dict[str, FunctionInfo] = {}
    for decl in script.functions:
        if decl.name in functions:
            errors.add(f"duplicate function '{decl.name}'", decl.span)
            continue
        if is_builtin(decl.name):
            errors.add(f"function '{decl.name}' redefines a built-in",
                       decl.span)
        scope = Scope(decl.name, decl.body)
        params = []
        for param in decl.params:
            sym = LocalSym(param.name, param.span,
                           _type_name(param.type_name, param.span, errors),
                           is_param=True, assigned=True)
            if param.name in scope.locals:
                errors.add(f"duplicate parameter '{param.name}'", param.span)
            scope.locals[param.name] = sym
            params.append(sym)
        functions[decl.name] = FunctionInfo(
            decl, scope, params,
            _type_name(decl.return_type, decl.span, errors))
    return functions


def _reachable(functions: Dict[str, FunctionInfo],
               script: A.Script) -> Dict[str, FunctionInfo]:
    """The functions a probe can call.  SystemTap leaves out the others
    before it checks anything, so a function nobody calls is neither
    typed nor translated."""
    called = set()
    pending = [probe.body for probe in script.probes]
    while pending:
        for node in A.walk(pending.pop()):
            if isinstance(node, A.Call) and node.name in functions and \
                    node.name not in called:
                called.add(node.name)
                pending.append(functions[node.name].decl.body)
    return {name: f for name, f in functions.items() if name in called}


def _type_name(name: Optional[str], span, errors) -> Optional[T]:
    if name is None:
        return None
    if name in ("long", "string"):
        return T(name)
    errors.add(f"unknown type '{name}'", span, hint="use long or string")
    return None


def _resolve_probes(script, errors, resolver, library_aliases
                    ) -> Tuple[List[Handler], List[ProbeSite],
                               List[A.ProbePoint]]:
    """The handlers, the sites of their points, and the points passed
    over: those after a ``!`` point that resolved, which are neither
    resolved nor checked (stap: "A!, B" is A alone when A resolves)."""
    handlers = [Handler(probe, Scope(f"probe_{index}", probe.body), index)
                for index, probe in enumerate(script.probes)]
    places = [(handler.index, point) for handler in handlers
              for point in handler.decl.points]
    resolved: Dict[int, Tuple[List[ProbeSite], ErrorCollector]] = {}

    def sites_of(place: int) -> List[ProbeSite]:
        if place not in resolved:
            handler, point = places[place]
            own = ErrorCollector()
            resolved[place] = (_point_sites(point, handler, own, resolver,
                                            script, library_aliases), own)
        return resolved[place][0]

    passed: Dict[int, bool] = {}

    def passed_over(place: int) -> bool:
        guards = set(places[place][1].guards)
        if guards and place not in passed:
            # the "!" point may be in a probe after this one: an alias
            # use's points are grouped by the aliases they came through
            passed[place] = any(
                guards & set(point.satisfies) and
                not passed_over(other) and bool(sites_of(other))
                for other, (_, point) in enumerate(places))
        return bool(guards) and passed[place]

    sites: List[ProbeSite] = []
    skipped: List[A.ProbePoint] = []
    for place, (_, point) in enumerate(places):
        if passed_over(place):
            skipped.append(point)
            continue
        sites.extend(dataclasses.replace(site, order=len(sites) + n)
                     for n, site in enumerate(sites_of(place)))
        for error in resolved[place][1].errors:
            errors.add_error(error)
    return handlers, sites, skipped


def _point_sites(point, handler, errors, resolver, script,
                 library_aliases) -> List[ProbeSite]:
    if is_lifetime_point(point):
        return lifetime_sites(point, handler, 0, errors)
    if point.components[0].name in ("kernel", "module", "process"):
        return _code_sites(point, handler, 0, errors, resolver)
    aliases = [str(alias.name) for alias in script.aliases]
    site = _classify_point(point, handler, 0, errors, aliases,
                           library_aliases)
    return [site] if site is not None else []


def _code_sites(point, handler, order, errors, resolver) -> List[ProbeSite]:
    if resolver is None:
        errors.add(f"probe point '{point}' needs a kernel release to "
                   "resolve against", point.span)
        return []
    if is_tracepoint_point(point):
        return tracepoint_sites(resolver, point, handler, order, errors)
    return resolver.resolve(point, handler, order, errors)


def _classify_point(point: A.ProbePoint, handler: int, order: int,
                    errors, aliases: List[str],
                    library_aliases: Sequence[str]) -> Optional[ProbeSite]:
    comps = point.components
    head = comps[0]
    if len(comps) == 1 and head.name in ("begin", "end", "error"):
        if isinstance(head.arg, str):
            errors.add(f"probe point '{head.name}' takes a number",
                       head.span)
            return None
        return ProbeSite(point, ProbeKind(head.name), head.arg or 0,
                         handler, order)
    if len(comps) == 2 and head.name == "timer" and head.arg is None:
        if comps[1].name == "profile" and comps[1].arg is None:
            # SystemTap 4.8 samples with a 1 ms cpu-clock perf event and
            # pp() names that event
            return ProbeSite(point, ProbeKind.PROFILE, 0, handler, order,
                             description=_PROFILE_PP)
        return _timer_site(point, handler, order, errors)
    if point.optional:
        return None
    # the script's aliases first: the tapsets' may be many
    near = nearest(str(point), aliases) or \
        nearest(str(point), library_aliases)
    unsupported = unsupported_point(point, near)
    if unsupported is not None:
        errors.add_error(unsupported)
        return None
    errors.add(f"unknown or unsupported probe point '{point}'", point.span,
               hint=near or
               nearest(head.name, ("begin", "end", "error")) or
               "supported: " + ", ".join(KNOWN_PROBE_POINTS))
    return None


def _timer_site(point, handler, order, errors) -> Optional[ProbeSite]:
    unit = point.components[1]
    template = TIMER_UNITS.get(unit.name)
    if template is None:
        errors.add(f"unknown timer unit '{unit.name}'", unit.span,
                   hint=nearest(unit.name, TIMER_UNITS) or
                   "use timer.s, ms, us, ns, jiffies or hz")
        return None
    if not isinstance(unit.arg, int) or unit.arg <= 0:
        errors.add(f"timer.{unit.name} needs a positive number", unit.span)
        return None
    interval = template.format(n=unit.arg)
    if unit.name in ("us", "usec", "ns", "nsec"):
        scale = 1000 if unit.name.startswith("u") else 1
        if unit.arg * scale < _MIN_TIMER_NS:
            errors.add(f"timer period {unit.arg}{unit.name} is below the "
                       "minimum of 100us", unit.span)
            return None
    return ProbeSite(point, ProbeKind.TIMER, 0, handler, order, interval)


def _check_private_uses(script, scopes, errors) -> None:
    """A ``private`` global or function is seen only by the file that
    declares it (a tapset's own helpers): a use from another file is an
    error.  The uses are where the nodes' spans say, so an alias's
    prologue, written in its tapset, sees that tapset's privates."""
    private = {kind: {decl.name: decl for decl in decls if decl.private}
               for kind, decls in (("global", script.globals),
                                   ("function", script.functions))}
    if not any(private.values()):
        return
    for scope in scopes:
        for node in A.walk(scope.body):
            kind, name = _global_or_function_named(node, scope)
            decl = private[kind].get(name) if kind else None
            if decl is not None and decl.span.file != node.span.file:
                errors.add(f"{kind} '{name}' is private to "
                           f"{decl.span.file}", node.span,
                           hint="a private global or function is seen "
                                "only by its own file")


def _global_or_function_named(node, scope) -> Tuple[str, str]:
    """("global" or "function", name) when the node names one, else
    empty strings."""
    if isinstance(node, A.Var) and node.name not in scope.locals:
        return "global", node.name
    if isinstance(node, A.Index):
        return "global", node.name
    if isinstance(node, (A.InArray, A.Foreach)):
        return "global", node.array
    if isinstance(node, A.Call):
        return "function", node.name
    return "", ""


# ---- arrays and scalars --------------------------------------------------

def _array_uses(scopes):
    """(name, key count or None, node) for each use of a name as an array,
    and the Var nodes that ``delete`` names (they may be arrays)."""
    uses, deleted = [], set()
    for scope in scopes:
        for node in A.walk(scope.body):
            if isinstance(node, A.Index):
                uses.append((node.name, len(node.keys), node))
            elif isinstance(node, A.InArray):
                uses.append((node.array, len(node.keys), node))
            elif isinstance(node, A.Foreach):
                uses.append((node.array, len(node.keys), node))
            elif isinstance(node, A.Delete) and \
                    isinstance(node.target, A.Var):
                deleted.add(node.target)
    return uses, deleted


def _classify_globals(scopes, globals_, errors) -> None:
    """Decides which globals are arrays, and how many keys each takes."""
    uses, deleted = _array_uses(scopes)
    for name, nkeys, node in uses:
        sym = globals_.get(name)
        if sym is None:
            errors.add(f"unknown array '{name}'", node.span,
                       hint=nearest(name, globals_) or
                       "arrays must be declared with 'global'")
            continue
        if not sym.key_types:
            if sym.key_types is None and sym.decl.init is not None:
                errors.add(f"global '{name}' has an initial value and is "
                           "used as an array", node.span)
            sym.key_types = [None] * nkeys
        elif len(sym.key_types) != nkeys:
            errors.add(f"array '{name}' used with {nkeys} key"
                       f"{'s' if nkeys != 1 else ''} here and "
                       f"{len(sym.key_types)} elsewhere", node.span)
        if nkeys > 9:
            errors.add(f"array '{name}' has more than 9 keys", node.span)
    for scope in scopes:
        for node in A.walk(scope.body):
            if isinstance(node, A.Var) and node not in deleted and \
                    node.name not in scope.locals:
                sym = globals_.get(node.name)
                if sym is not None and sym.is_array:
                    errors.add(f"array '{node.name}' used without an index",
                               node.span)


# ---- locals --------------------------------------------------------------

def _collect_locals(scope: Scope, globals_) -> None:
    """Every name a body assigns that is not a global is a local of it."""
    def declare(name: str, span: A.Span) -> None:
        if name not in globals_ and name not in scope.locals:
            scope.locals[name] = LocalSym(name, span, assigned=True)
        elif name in scope.locals:
            scope.locals[name].assigned = True

    for node in A.walk(scope.body):
        if isinstance(node, (A.Assign, A.Crement)) and \
                isinstance(node.target, A.Var):
            declare(node.target.name, node.target.span)
        elif isinstance(node, A.Foreach):
            for key in node.keys:
                declare(key.name, key.span)
            if node.value_var:
                declare(node.value_var, node.span)
        elif isinstance(node, A.TryCatch) and node.message_var:
            declare(node.message_var, node.span)


# ---- whole-program facts -------------------------------------------------

def _mark_global_use(globals_, functions, scopes) -> None:
    for scope in scopes:
        for name in scope.globals_read:
            globals_[name].read = True
        for name in scope.globals_written:
            globals_[name].written = True
    # a scope uses what the functions it calls use
    changed = True
    while changed:
        changed = False
        for scope in scopes:
            for callee in list(scope.calls):
                inner = functions[callee].scope
                before = (len(scope.globals_read),
                          len(scope.globals_written),
                          len(scope.globals_added))
                scope.globals_read |= inner.globals_read
                scope.globals_written |= inner.globals_written
                scope.globals_added |= inner.globals_added
                if (len(scope.globals_read), len(scope.globals_written),
                        len(scope.globals_added)) != before:
                    changed = True


def _max_nesting(functions: Dict[str, FunctionInfo]) -> int:
    """Deepest call chain plus one; plus ten when something recurses."""
    depth: Dict[str, int] = {}
    recursive = False

    def visit(name: str, stack: tuple) -> int:
        nonlocal recursive
        if name in stack:
            recursive = True
            functions[name].recursive = True
            return 0
        if name in depth:
            return depth[name]
        calls = functions[name].scope.calls
        deepest = max((visit(c, stack + (name,)) for c in calls), default=0)
        depth[name] = deepest + 1
        return depth[name]

    longest = max((visit(name, ()) for name in functions), default=0)
    return longest + 1 + (10 if recursive else 0)
