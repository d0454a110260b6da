"""Pass 2: resolve names, infer types across the whole script, classify
probe points.  Produces the typed ``Program``; the tree is left as is."""

from __future__ import annotations

from typing import Dict, List, Optional

from . import ast as A
from .builtins import BUILTINS, VARIADIC_OUTPUT, is_builtin
from .counters import mark_counters
from .errors import ErrorCollector, StpcError, nearest
from .ir import (FunctionInfo, GlobalSym, Handler, LocalSym, ProbeKind,
                 ProbeSite, Program, Scope, Symbol, T)
from .printf import format_arg_types, parse_format
from .probes import ProbeEnvironment, ProbeResolver
from .targets import check_target_uses

KNOWN_PROBE_POINTS = ("begin", "end", "error", "begin(N)", "end(N)",
                      "error(N)", "timer.ms(N)", "timer.s(N)", "timer.us(N)",
                      "timer.ns(N)", "timer.jiffies(N)", "timer.hz(N)",
                      "timer.profile")
# the period of timer.UNIT(N) in nanoseconds, as a C expression of N
_TIMER_UNITS = {"s": "{n}ULL * NSEC_PER_SEC", "sec": "{n}ULL * NSEC_PER_SEC",
                "ms": "{n}ULL * NSEC_PER_MSEC", "msec": "{n}ULL * NSEC_PER_MSEC",
                "us": "{n}ULL * NSEC_PER_USEC", "usec": "{n}ULL * NSEC_PER_USEC",
                "ns": "{n}ULL", "nsec": "{n}ULL",
                "jiffies": "{n}ULL * TICK_NSEC", "hz": "NSEC_PER_SEC / {n}ULL"}
_MIN_TIMER_NS = 100000
_PROFILE_PP = "perf.type(1).config(0).sample(1000000)"
_EXTRACTORS = ("@count", "@sum", "@min", "@max", "@avg", "@variance")
_MAX_VARIANCE_SHIFT = 62
_MAX_ROUNDS = 50


def elaborate(script: A.Script,
              env: Optional[ProbeEnvironment] = None) -> Program:
    errors = ErrorCollector()
    globals_ = _declare_globals(script, errors)
    functions = _declare_functions(script, globals_, errors)
    resolver = ProbeResolver(env) if env is not None else None
    handlers, sites = _resolve_probes(script, errors, resolver)
    scopes = [f.scope for f in functions.values()] + \
        [h.scope for h in handlers]
    for scope in scopes:
        _collect_locals(scope, globals_)
    _classify_globals(scopes, globals_, errors)
    typer = _Typer(globals_, functions, errors)
    for _ in range(_MAX_ROUNDS):
        if not typer.run(scopes, report=False):
            break
    typer.run(scopes, report=True)
    errors.raise_if_any()
    _mark_global_use(globals_, functions, scopes)
    program = Program(script, globals_, functions, handlers, sites,
                      typer.types, typer.symbols, _max_nesting(functions))
    check_target_uses(program, resolver, errors)
    errors.raise_if_any()
    mark_counters(program)
    return program


# ---- declarations --------------------------------------------------------

def _declare_globals(script, errors) -> Dict[str, GlobalSym]:
    globals_: Dict[str, GlobalSym] = {}
    for decl in script.globals:
        if decl.name in globals_:
            errors.add(f"duplicate global '{decl.name}'", decl.span)
            continue
        sym = GlobalSym(decl, len(globals_))
        if decl.init is not None:
            sym.type = T.STRING if isinstance(decl.init, str) else T.LONG
            sym.written = True
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


def _type_name(name: Optional[str], span, errors) -> Optional[T]:
    if name is None:
        return None
    if name in ("long", "string"):
        return T(name)
    errors.add(f"unknown type '{name}'", span, hint="use long or string")
    return None


def _resolve_probes(script, errors, resolver):
    handlers: List[Handler] = []
    sites: List[ProbeSite] = []
    for probe in script.probes:
        handler = Handler(probe, Scope(f"probe_{len(handlers)}", probe.body),
                          len(handlers))
        for point in probe.points:
            if point.components[0].name in ("kernel", "module"):
                sites.extend(_code_sites(point, handler.index, len(sites),
                                         errors, resolver))
                continue
            site = _classify_point(point, handler.index, len(sites), errors)
            if site is not None:
                sites.append(site)
        handlers.append(handler)
    return handlers, sites


def _code_sites(point, handler, order, errors, resolver) -> List[ProbeSite]:
    if resolver is None:
        errors.add(f"probe point '{point}' needs a kernel release to "
                   "resolve against", point.span)
        return []
    return resolver.resolve(point, handler, order, errors)


def _classify_point(point: A.ProbePoint, handler: int, order: int,
                    errors) -> Optional[ProbeSite]:
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
    errors.add(f"unknown or unsupported probe point '{point}'", point.span,
               hint=nearest(head.name, ("begin", "end", "error")) or
               "supported: " + ", ".join(KNOWN_PROBE_POINTS))
    return None


def _timer_site(point, handler, order, errors) -> Optional[ProbeSite]:
    unit = point.components[1]
    template = _TIMER_UNITS.get(unit.name)
    if template is None:
        errors.add(f"unknown timer unit '{unit.name}'", unit.span,
                   hint=nearest(unit.name, _TIMER_UNITS) or
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


def _modifies_array(body, name: str) -> Optional[A.Span]:
    for node in A.walk(body):
        target = None
        if isinstance(node, (A.Assign, A.Crement)):
            target = node.target
        elif isinstance(node, A.Delete):
            target = node.target
        if isinstance(target, A.Index) and target.name == name or \
                isinstance(target, A.Var) and target.name == name and \
                isinstance(node, A.Delete):
            return node.span
    return None


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


# ---- types ---------------------------------------------------------------

class _Typer:
    """Infers types; run until nothing changes, then once to report."""

    def __init__(self, globals_, functions, errors: ErrorCollector):
        self.globals = globals_
        self.functions = functions
        self.errors = errors
        self.types: Dict[object, T] = {}
        self.symbols: Dict[object, Symbol] = {}
        self.changed = False
        self.report = False
        self.scope: Optional[Scope] = None
        self.function: Optional[FunctionInfo] = None
        self.loop_depth = 0

    def run(self, scopes: List[Scope], report: bool) -> bool:
        self.changed = False
        self.report = report
        for scope in scopes:
            self.scope = scope
            self.function = self.functions.get(scope.name) \
                if not scope.name.startswith("probe_") else None
            self.loop_depth = 0
            self.stmt(scope.body)
        if report:
            self._report_unresolved(scopes)
        return self.changed

    def error(self, message: str, span, hint: Optional[str] = None) -> None:
        if self.report:
            self.errors.add(message, span, hint=hint)

    # -- unification --
    def unify_sym(self, sym, t: Optional[T], node) -> Optional[T]:
        if t is T.HIST:
            self.error("a histogram can only be printed, with print or "
                       "println", node.span)
            return sym.type
        if t is None:
            return sym.type
        if sym.type is None:
            sym.type = t
            self.changed = True
        elif sym.type is not t:
            self.error(f"type mismatch for identifier '{sym.name}': "
                       f"{t} here, {sym.type} elsewhere", node.span)
        return sym.type

    def expect(self, node, want: T) -> None:
        got = self.expr(node, want)
        if got is not None and got is not want:
            self.error(f"type mismatch: expected {want}, found {got}",
                       node.span)

    def settle(self, node, t: Optional[T]) -> Optional[T]:
        if t is not None:
            self.types[node] = t
        return t

    # -- statements --
    def stmt(self, node) -> None:
        method = getattr(self, "stmt_" + type(node).__name__)
        method(node)

    def stmt_Block(self, node):
        for child in node.body:
            self.stmt(child)

    def stmt_Empty(self, node):
        pass

    def stmt_ExprStmt(self, node):
        self.expr(node.expr)

    def stmt_If(self, node):
        self.expect(node.cond, T.LONG)
        self.stmt(node.then)
        if node.otherwise is not None:
            self.stmt(node.otherwise)

    def _loop_body(self, body):
        self.loop_depth += 1
        self.stmt(body)
        self.loop_depth -= 1

    def stmt_While(self, node):
        self.expect(node.cond, T.LONG)
        self._loop_body(node.body)

    def stmt_For(self, node):
        if node.init is not None:
            self.expr(node.init)
        if node.cond is not None:
            self.expect(node.cond, T.LONG)
        if node.step is not None:
            self.expr(node.step)
        self._loop_body(node.body)

    def stmt_Foreach(self, node):
        sym = self.globals.get(node.array)
        if sym is None or not sym.is_array:
            self._loop_body(node.body)
            return
        self.symbols[node] = sym
        self.scope.globals_read.add(node.array)
        if node.value_sort or any(key.sort for key in node.keys):
            # a sort leaves the array in its order (map.c): a change
            self.scope.globals_written.add(node.array)
        for i, key in enumerate(node.keys):
            local = self.bound_local(key.name, key)
            if i < len(sym.key_types) and local is not None:
                sym.key_types[i] = self.unify_types(sym.key_types[i], local,
                                                    key)
        self.check_foreach_value(node, sym)
        markers = [k for k in node.keys if k.sort] + \
            ([node] if node.value_sort else [])
        if len(markers) > 1:
            self.error("foreach takes at most one sort marker (+ or -)",
                       markers[1].span)
        if node.limit is not None:
            self.expect(node.limit, T.LONG)
        modified = _modifies_array(node.body, node.array)
        if modified is not None:
            self.error(f"array '{node.array}' may not be modified inside a "
                       "foreach over it", modified)
        self._loop_body(node.body)

    def check_foreach_value(self, node, sym: GlobalSym) -> None:
        """The value variable, and the extractor a statistics array is
        sorted by (``foreach (k in s @sum-)``; @count by default)."""
        if sym.type is T.STATS:
            if node.value_var:
                self.error(f"foreach over statistics array '{sym.name}' "
                           "cannot take its values in a variable", node.span,
                           hint=f"read them with @count({sym.name}[k]) ...")
                self.quiet_local(node.value_var)
            if node.value_op and node.value_op not in _EXTRACTORS:
                self.error(f"cannot sort by '{node.value_op}'", node.span,
                           hint="use one of " + ", ".join(_EXTRACTORS))
            if node.value_op == "@variance":
                sym.uses_variance = True
            return
        if node.value_op and sym.type is not None:
            self.error(f"'{node.value_op}' sorts an array of statistics; "
                       f"'{sym.name}' holds {sym.type} values", node.span)
        local = self.bound_local(node.value_var, node) \
            if node.value_var else None
        if local is not None:
            sym.type = self.unify_types(sym.type, local, node)

    def bound_local(self, name: str, node) -> Optional[LocalSym]:
        """The local a foreach or catch binds; none if ``name`` is a
        global's (_collect_locals made no local for it)."""
        local = self.scope.locals.get(name)
        if local is None:
            self.error(f"'{name}' is a global: the variables of foreach "
                       "and catch must be locals", node.span)
        return local

    def quiet_local(self, name: str) -> None:
        """Types a local that an error already reported on, so that it is
        not reported again as unresolved."""
        local = self.scope.locals.get(name)
        if local is not None and local.type is None:
            local.type = T.LONG

    def unify_types(self, known: Optional[T], local: LocalSym, node):
        """Unifies a loop variable with the array part it iterates."""
        if known is None:
            if local.type is not None:
                self.changed = True
            return local.type
        self.unify_sym(local, known, node)
        return known

    def stmt_Break(self, node):
        if not self.loop_depth:
            self.error("break outside a loop", node.span)

    def stmt_Continue(self, node):
        if not self.loop_depth:
            self.error("continue outside a loop", node.span)

    def stmt_Next(self, node):
        if self.function is not None:
            self.error("next is only allowed in a probe handler", node.span)

    def stmt_Return(self, node):
        if self.function is None:
            self.error("return outside a function", node.span)
            return
        if node.value is None:
            return
        got = self.expr(node.value, self.function.return_type)
        if got is None:
            return
        if self.function.return_type is None:
            self.function.return_type = got
            self.changed = True
        elif got is not self.function.return_type:
            self.error(f"type mismatch: function '{self.function.name}' "
                       f"returns {self.function.return_type}, found {got}",
                       node.value.span)

    def stmt_Delete(self, node):
        target = node.target
        if isinstance(target, A.Index):
            self.assign_target(target, None)
        elif isinstance(target, A.Var):
            sym = self.globals.get(target.name) \
                if target.name not in self.scope.locals else None
            if sym is not None and sym.is_array:
                self.symbols[target] = sym
                self.scope.globals_written.add(target.name)
            else:
                self.assign_target(target, None)
        else:
            self.error("delete takes a variable, an array or an array "
                       "element", target.span)
            return
        sym = self.globals.get(target.name)
        if sym is not None and sym.is_array and sym.type is T.STATS:
            # deleting must exclude '<<<' like reading does (see locks)
            self.scope.globals_read.add(target.name)

    def stmt_TryCatch(self, node):
        self.stmt(node.body)
        sym = self.bound_local(node.message_var, node) \
            if node.message_var else None
        if sym is not None:
            self.unify_sym(sym, T.STRING, node)
        self.stmt(node.handler)

    # -- expressions --
    def expr(self, node, hint: Optional[T] = None,
             hist_ok: bool = False) -> Optional[T]:
        """The node's type.  A histogram is refused unless the caller
        (print and friends, '=', a call) takes it and says why not."""
        method = getattr(self, "expr_" + type(node).__name__)
        t = method(node, hint)
        if t is T.HIST and not hist_ok:
            self.error("a histogram can only be printed, with print or "
                       "println", node.span)
            return None
        return self.settle(node, t)

    def expr_IntLit(self, node, hint):
        return T.LONG

    def expr_StrLit(self, node, hint):
        return T.STRING

    def lookup(self, name: str, span) -> Symbol:
        sym = self.scope.locals.get(name) or self.globals.get(name)
        if sym is None:
            sym = LocalSym(name, span)
            self.scope.locals[name] = sym
        return sym

    def expr_Var(self, node, hint):
        sym = self.lookup(node.name, node.span)
        self.symbols[node] = sym
        if isinstance(sym, GlobalSym) and sym.is_array:
            return None
        if isinstance(sym, GlobalSym) and sym.type is T.STATS:
            self.error(f"statistic '{node.name}' can only be read with "
                       "@count, @sum, @min, @max, @avg or printed with "
                       "@hist_log or @hist_linear", node.span)
            return None
        if isinstance(sym, GlobalSym):
            self.scope.globals_read.add(node.name)
        return self.unify_sym(sym, hint, node) if sym.type is None \
            else sym.type

    def array_keys(self, name: str, keys, node) -> Optional[GlobalSym]:
        """Types an array's keys; the array, or None if it is not one."""
        sym = self.globals.get(name)
        if sym is None or not sym.is_array:
            for key in keys:
                self.expr(key)
            return None
        self.symbols[node] = sym
        for i, key in enumerate(keys[:len(sym.key_types)]):
            got = self.expr(key, sym.key_types[i])
            if got is None:
                continue
            if sym.key_types[i] is None:
                sym.key_types[i] = got
                self.changed = True
            elif got is not sym.key_types[i]:
                self.error(f"type mismatch for key {i + 1} of array "
                           f"'{name}': {got} here, {sym.key_types[i]} "
                           "elsewhere", key.span)
        return sym

    def expr_Index(self, node, hint):
        sym = self.array_keys(node.name, node.keys, node)
        if sym is None:
            return None
        if sym.type is T.STATS:
            self.error(f"statistic '{node.name}' can only be read with "
                       "@count, @sum, @min, @max, @avg, @variance or "
                       "printed with @hist_log or @hist_linear", node.span)
            return None
        self.scope.globals_read.add(node.name)
        return self.unify_sym(sym, hint, node) if sym.type is None \
            else sym.type

    def expr_InArray(self, node, hint):
        if self.array_keys(node.array, node.keys, node) is not None:
            self.scope.globals_read.add(node.array)
        return T.LONG

    def stat_arg(self, node) -> Optional[GlobalSym]:
        """The statistic an extractor reads, checked."""
        arg = node.args[0] if node.args else None
        if isinstance(arg, A.Index):
            sym = self.array_keys(arg.name, arg.keys, arg)
        elif isinstance(arg, A.Var):
            sym = self.globals.get(arg.name)
            sym = None if sym is None or sym.is_array else sym
        else:
            sym = None
        if sym is None:
            self.error(f"'{node.op}' needs a global statistic or an element "
                       "of a statistics array (what '<<<' adds to)",
                       node.span)
            return None
        self.symbols[node] = sym
        self.scope.globals_read.add(sym.name)
        self.unify_sym(sym, T.STATS, arg)
        return sym

    def expr_StatOp(self, node, hint):
        if node.op == "@variance" and len(node.args) == 2:
            self.variance_shift(node)
        elif node.op in _EXTRACTORS and len(node.args) != 1:
            self.error(f"'{node.op}' takes one statistic", node.span)
        if node.op in _EXTRACTORS:
            sym = self.stat_arg(node)
            if sym is not None and node.op == "@variance":
                sym.uses_variance = True
            return T.LONG
        if node.op in ("@hist_log", "@hist_linear"):
            self.histogram(node)
            return T.HIST
        self.error(f"'{node.op}' is not supported yet", node.span)
        return T.LONG

    def variance_shift(self, node) -> None:
        """``@variance(s, N)``: SystemTap keeps the running mean scaled by
        2^N, for precision; every use must agree on N."""
        shift = node.args[1]
        sym = self.stat_arg(node)
        if not isinstance(shift, A.IntLit) or \
                not 0 <= shift.value <= _MAX_VARIANCE_SHIFT:
            self.error("the bit shift of '@variance' must be a number from "
                       f"0 to {_MAX_VARIANCE_SHIFT}", shift.span)
            return
        if sym is None:
            return
        if sym.variance_shift is None:
            sym.variance_shift = shift.value
        elif sym.variance_shift != shift.value:
            self.error(f"statistic '{sym.name}' has conflicting @variance "
                       f"bit shifts: {shift.value} here, "
                       f"{sym.variance_shift} before", shift.span)

    def histogram(self, node) -> None:
        sym = self.stat_arg(node)
        if node.op == "@hist_log":
            spec = ("log",)
            if len(node.args) != 1:
                self.error("'@hist_log' takes one statistic", node.span)
        else:
            limits = node.args[1:]
            if len(limits) != 3 or not all(isinstance(a, A.IntLit)
                                           for a in limits):
                self.error("'@hist_linear' takes a statistic and three "
                           "number literals: start, stop, step", node.span)
                return
            start, stop, step = (a.value for a in limits)
            if step <= 0 or stop <= start:
                self.error("'@hist_linear' needs start < stop and a "
                           "positive step", node.span)
                return
            if (stop - start) // step > 1000:
                self.error("'@hist_linear' would have more than 1000 "
                           "buckets", node.span)
                return
            spec = ("linear", start, stop, step)
        if sym is None:
            return
        if sym.hist is not None and sym.hist != spec:
            self.error(f"statistic '{sym.name}' is printed as two different "
                       "histograms", node.span)
        sym.hist = spec

    def expr_Unary(self, node, hint):
        self.expect(node.operand, T.LONG)
        return T.LONG

    def expr_Binary(self, node, hint):
        op = node.op
        if op == ".":
            self.expect(node.left, T.STRING)
            self.expect(node.right, T.STRING)
            return T.STRING
        if op in ("==", "!=", "<", ">", "<=", ">="):
            left = self.expr(node.left)
            right = self.expr(node.right, left)
            if left is None and right is not None:
                left = self.expr(node.left, right)
            if left is not None and right is not None and left is not right:
                self.error(f"type mismatch: comparing {left} with {right}",
                           node.span)
            return T.LONG
        self.expect(node.left, T.LONG)
        self.expect(node.right, T.LONG)
        return T.LONG

    def expr_Ternary(self, node, hint):
        self.expect(node.cond, T.LONG)
        then = self.expr(node.then, hint)
        other = self.expr(node.otherwise, then or hint)
        if then is None and other is not None:
            then = self.expr(node.then, other)
        if then is not None and other is not None and then is not other:
            self.error(f"type mismatch: the branches of '?:' are {then} "
                       f"and {other}", node.span)
        return then or other

    def assign_target(self, target, t: Optional[T]) -> Optional[T]:
        if isinstance(target, A.Index):
            sym = self.array_keys(target.name, target.keys, target)
            if sym is None:
                return None
            self.scope.globals_written.add(target.name)
            return self.settle(target, self.unify_sym(sym, t, target))
        if not isinstance(target, A.Var):
            self.error("left side of an assignment must be a variable or "
                       "an array element", target.span)
            return None
        sym = self.lookup(target.name, target.span)
        self.symbols[target] = sym
        if isinstance(sym, GlobalSym):
            self.scope.globals_written.add(target.name)
        return self.settle(target, self.unify_sym(sym, t, target))

    def expr_Assign(self, node, hint):
        op = node.op
        if op == "<<<":
            self.expect(node.value, T.LONG)
            target = node.target
            sym = self.stat_target(target)
            if sym is None:
                self.error("'<<<' adds to a global statistic or to an "
                           "element of a global array", target.span)
                if isinstance(target, A.Var):
                    self.quiet_local(target.name)
                return T.LONG
            self.symbols[target] = sym
            self.scope.globals_written.add(target.name)
            self.scope.globals_added.add(target.name)
            self.unify_sym(sym, T.STATS, target)
            return T.LONG
        if op == "=":
            value = self.expr(node.value, self._target_type(node.target),
                              hist_ok=True)
            return self.assign_target(node.target, value)
        want = T.STRING if op == ".=" else T.LONG
        self.expect(node.value, want)
        got = self.assign_target(node.target, want)
        self.mark_read_modify(node.target)
        return got

    def stat_target(self, target) -> Optional[GlobalSym]:
        """The global that ``target <<< v`` adds to, or None."""
        if isinstance(target, A.Index):
            return self.array_keys(target.name, target.keys, target)
        if isinstance(target, A.Var) and target.name not in self.scope.locals:
            sym = self.globals.get(target.name)
            return sym if sym is not None and not sym.is_array else None
        return None

    def mark_read_modify(self, target) -> None:
        """``x += v`` and ``x++`` read the global they write."""
        if isinstance(self.symbols.get(target), GlobalSym):
            self.scope.globals_read.add(target.name)

    def _target_type(self, target) -> Optional[T]:
        if isinstance(target, A.Index):
            sym = self.globals.get(target.name)
            return sym.type if sym is not None else None
        if isinstance(target, A.Var):
            sym = self.scope.locals.get(target.name) or \
                self.globals.get(target.name)
            return sym.type if sym is not None else None
        return None

    # -- target variables: numbers, or strings for $$parms and friends --
    def expr_TargetVar(self, node, hint):
        return T.STRING if node.context else T.LONG

    def expr_Member(self, node, hint):
        self.expr(node.base)
        return T.LONG

    def expr_Subscript(self, node, hint):
        self.expr(node.base)
        self.expect(node.index, T.LONG)
        return T.LONG

    def expr_AddressOf(self, node, hint):
        if not isinstance(node.operand, (A.TargetVar, A.Member,
                                         A.Subscript, A.AtOp)):
            self.error("'&' takes a target variable", node.span)
        self.expr(node.operand)
        return T.LONG

    def expr_AtOp(self, node, hint):
        if node.op == "@cast":
            if node.args:
                self.expect(node.args[0], T.LONG)
            return T.LONG
        if node.op == "@defined":
            return T.LONG
        if node.op == "@entry" and len(node.args) == 1:
            return self.expr(node.args[0])
        if node.op == "@var":
            return T.LONG
        for arg in node.args:
            self.expr(arg)
        self.error(f"'{node.op}' is not supported yet", node.span)
        return T.LONG

    def expr_Crement(self, node, hint):
        self.assign_target(node.target, T.LONG)
        self.mark_read_modify(node.target)
        return T.LONG

    def expr_Call(self, node, hint):
        if node.name in VARIADIC_OUTPUT:
            return self.output_call(node)
        builtin = BUILTINS.get(node.name)
        if builtin is not None:
            self.check_arity(node, len(builtin.params) - builtin.optional,
                             len(builtin.params))
            for arg, want in zip(node.args, builtin.params):
                self.expect(arg, want)
            return builtin.ret
        function = self.functions.get(node.name)
        if function is None:
            names = list(self.functions) + list(BUILTINS) + \
                list(VARIADIC_OUTPUT)
            self.error(f"unknown function '{node.name}'", node.span,
                       hint=nearest(node.name, names))
            for arg in node.args:
                self.expr(arg)
            return None
        self.scope.calls.add(node.name)
        self.check_arity(node, len(function.params), len(function.params))
        for arg, param in zip(node.args, function.params):
            got = self.expr(arg, param.type, hist_ok=True)
            self.unify_sym(param, got, arg)
        return function.return_type

    def check_arity(self, node, least: int, most: int) -> None:
        count = len(node.args)
        if least <= count <= most:
            return
        want = str(least) if least == most else f"{least} to {most}"
        self.error(f"function '{node.name}' takes {want} argument"
                   f"{'s' if most != 1 else ''}, {count} given", node.span)

    def output_call(self, node) -> Optional[T]:
        name = node.name
        args = list(node.args)
        if name in ("printf", "sprintf"):
            self.check_format(node)
        elif name in ("printd", "printdln"):
            if len(args) < 3:
                self.error(f"function '{name}' needs a delimiter and at "
                           "least two values", node.span)
            if args:
                self.expect(args[0], T.STRING)
                args = args[1:]
            for arg in args:
                self.expr(arg)
        else:
            if name == "print" and not args:
                self.error("function 'print' needs an argument", node.span)
            for arg in args:
                if self.expr(arg, hist_ok=True) is T.HIST and (
                        len(args) > 1 or name.startswith("sprint")):
                    self.error("a histogram is printed alone, with print or "
                               "println", arg.span)
        return T.STRING if name.startswith("sprint") else None

    def check_format(self, node) -> None:
        if not node.args or not isinstance(node.args[0], A.StrLit):
            self.error(f"the format of '{node.name}' must be a string "
                       "literal", node.span)
            for arg in node.args:
                self.expr(arg)
            return
        self.expr(node.args[0])
        try:
            pieces = parse_format(node.args[0].value, node.args[0].span)
        except StpcError as exc:
            self.error(exc.message, exc.span, exc.hint)
            return
        wants = format_arg_types(pieces)
        given = node.args[1:]
        if len(wants) != len(given):
            self.error(f"format string of '{node.name}' takes {len(wants)} "
                       f"argument{'s' if len(wants) != 1 else ''}, "
                       f"{len(given)} given", node.span)
        for arg, want in zip(given, wants):
            self.expect(arg, want)
        for arg in given[len(wants):]:
            self.expr(arg)

    # -- final checks --
    def _report_unresolved(self, scopes: List[Scope]) -> None:
        for scope in scopes:
            for sym in scope.locals.values():
                if sym.type is None:
                    known = list(scope.locals) + list(self.globals)
                    known.remove(sym.name)
                    self.error(f"unresolved type for identifier "
                               f"'{sym.name}'", sym.span,
                               hint=nearest(sym.name, known))
        used = set().union(*(s.globals_read | s.globals_written
                             for s in scopes))
        for sym in self.globals.values():
            if sym.name not in used:
                continue
            if sym.type is None:
                self.error(f"unresolved type for global '{sym.name}'",
                           sym.decl.span)
            if sym.key_types is not None and None in sym.key_types:
                self.error(f"unresolved type for a key of array "
                           f"'{sym.name}'", sym.decl.span)
        for function in self.functions.values():
            if function.return_type is None and _returns_value(function):
                self.error(f"unresolved return type of function "
                           f"'{function.name}'", function.decl.span)


def _returns_value(function: FunctionInfo) -> bool:
    return any(isinstance(n, A.Return) and n.value is not None
               for n in A.walk(function.decl.body))


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
