"""Collects the type constraints of a script: one walk over every scope.

The walk also makes the checks that need no types (arity, printf formats,
loops, histograms) and records what each scope reads, writes and calls;
it keeps them in script order among the constraints (typesolve.py), so
that errors come out in the order of the script.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set

from . import ast as A
from .builtins import BUILTINS, VARIADIC_OUTPUT
from .errors import StpcError, nearest
from .ir import (FunctionInfo, GlobalSym, Histogram, HistogramKind,
                 LocalSym, Scope, Symbol, T)
from .printf import format_arg_types, parse_format
from .typesolve import Constraints

EXTRACTORS = ("@count", "@sum", "@min", "@max", "@avg", "@variance")
_MAX_VARIANCE_SHIFT = 62
_EXPECTED = "type mismatch: expected {here}, found {there}"
_HIST_ONLY_PRINTED = "a histogram can only be printed, with print or println"


def identifier_clash(name: str) -> str:
    return f"type mismatch for identifier '{name}': " \
        "{here} here, {there} elsewhere"


def statistics(scopes: List[Scope], globals_) -> Set[str]:
    """The globals that '<<<' adds to or an extractor reads: their type is
    known before any constraint is solved."""
    names = set()
    for scope in scopes:
        for node in A.walk(scope.body):
            if isinstance(node, A.Assign) and node.op == "<<<":
                target = node.target
            elif isinstance(node, A.StatOp) and node.args:
                target = node.args[0]
            else:
                continue
            if isinstance(target, A.Index) or isinstance(target, A.Var) \
                    and target.name not in scope.locals:
                if target.name in globals_:
                    names.add(target.name)
    return names


class _Walk:
    """What every part of the walk shares: the symbols, the constraints,
    the scope being walked."""

    def __init__(self, globals_, functions, statistic_names: Set[str]):
        self.globals: Dict[str, GlobalSym] = globals_
        self.functions: Dict[str, FunctionInfo] = functions
        self.statistics = statistic_names
        self.cs = Constraints()
        self.symbols: Dict[object, Symbol] = {}
        self.hist_vars: Set[int] = set()
        self.scope: Optional[Scope] = None
        self.function: Optional[FunctionInfo] = None
        self.loop_depth = 0

    def sym_var(self, sym: Symbol) -> int:
        return self.cs.named("sym", id(sym))

    def key_var(self, sym: GlobalSym, position: int) -> int:
        return self.cs.named("key", id(sym), position)

    def ret_var(self, function: FunctionInfo) -> int:
        return self.cs.named("ret", id(function))

    def error(self, message: str, span, hint: Optional[str] = None) -> None:
        self.cs.refuse(message, span, hint)

    def bind(self, sym: Symbol, var: Optional[int], node) -> None:
        """The symbol has the type of what ``node`` gives it."""
        if var is None:
            return
        if var in self.hist_vars:
            self.error(_HIST_ONLY_PRINTED, node.span)
            return
        self.cs.same(self.sym_var(sym), var, node.span,
                     identifier_clash(sym.name))

    def bind_type(self, sym: Symbol, t: T, node) -> None:
        self.cs.require(self.sym_var(sym), t, node.span,
                        identifier_clash(sym.name))

    def lookup(self, name: str, span) -> Symbol:
        sym = self.scope.locals.get(name) or self.globals.get(name)
        if sym is None:
            sym = LocalSym(name, span)
            self.scope.locals[name] = sym
        return sym

    def quiet_local(self, name: str) -> None:
        """A local that an error already reported on is not reported
        again as unresolved."""
        local = self.scope.locals.get(name)
        if local is not None:
            self.cs.quiet(self.sym_var(local))

    def check_arity(self, node, least: int, most: int) -> None:
        count = len(node.args)
        if least <= count <= most:
            return
        want = str(least) if least == most else f"{least} to {most}"
        self.error(f"function '{node.name}' takes {want} argument"
                   f"{'s' if most != 1 else ''}, {count} given", node.span)


class _Expressions(_Walk):
    """Expressions: each gives a type variable, or None when it has no
    type (a call of a function that returns nothing, an error)."""

    def expr(self, node, hist_ok: bool = False) -> Optional[int]:
        """A histogram is refused unless the caller (print and friends,
        '=', a call) takes it and says why not."""
        var = getattr(self, "expr_" + type(node).__name__)(node)
        if var in self.hist_vars and not hist_ok:
            self.error(_HIST_ONLY_PRINTED, node.span)
            return None
        if var is not None:
            self.cs.nodes[node] = var
        return var

    def expect(self, node, want: T) -> None:
        var = self.expr(node)
        if var is not None:
            self.cs.require(var, want, node.span, _EXPECTED)

    def fixed(self, t: T) -> int:
        return self.cs.fixed(t)

    def expr_IntLit(self, node):
        return self.fixed(T.LONG)

    def expr_StrLit(self, node):
        return self.fixed(T.STRING)

    def expr_Var(self, node):
        sym = self.lookup(node.name, node.span)
        self.symbols[node] = sym
        if isinstance(sym, GlobalSym):
            return None if sym.is_array else self.global_value(sym, node)
        return self.sym_var(sym)

    def global_value(self, sym: GlobalSym, node):
        """A global scalar or array element read as a value; a statistic
        (or an element of an array of them) cannot be."""
        if sym.name in self.statistics:
            self.error(f"statistic '{node.name}' can only be read with "
                       "@count, @sum, @min, @max, @avg, @variance or printed "
                       "with @hist_log or @hist_linear", node.span)
            return None
        self.scope.globals_read.add(node.name)
        return self.sym_var(sym)

    def array_keys(self, name: str, keys, node) -> Optional[GlobalSym]:
        """Types an array's keys; the array, or None if it is not one."""
        sym = self.globals.get(name)
        if sym is None or not sym.is_array:
            for key in keys:
                self.expr(key)
            return None
        self.symbols[node] = sym
        for i, key in enumerate(keys[:len(sym.key_types)]):
            var = self.expr(key)
            if var is not None:
                self.cs.same(self.key_var(sym, i), var, key.span,
                             f"type mismatch for key {i + 1} of array "
                             f"'{name}': " + "{here} here, {there} elsewhere")
        return sym

    def expr_Index(self, node):
        sym = self.array_keys(node.name, node.keys, node)
        return None if sym is None else self.global_value(sym, node)

    def expr_InArray(self, node):
        if self.array_keys(node.array, node.keys, node) is not None:
            self.scope.globals_read.add(node.array)
        return self.fixed(T.LONG)

    def expr_Unary(self, node):
        self.expect(node.operand, T.LONG)
        return self.fixed(T.LONG)

    def expr_Binary(self, node):
        if node.op == ".":
            self.expect(node.left, T.STRING)
            self.expect(node.right, T.STRING)
            return self.fixed(T.STRING)
        if node.op in ("==", "!=", "<", ">", "<=", ">="):
            left, right = self.expr(node.left), self.expr(node.right)
            if left is not None and right is not None:
                self.cs.same(left, right, node.span,
                             "type mismatch: comparing {there} with {here}")
            return self.fixed(T.LONG)
        self.expect(node.left, T.LONG)
        self.expect(node.right, T.LONG)
        return self.fixed(T.LONG)

    def expr_Ternary(self, node):
        self.expect(node.cond, T.LONG)
        then, other = self.expr(node.then), self.expr(node.otherwise)
        if then is None:
            return other
        if other is not None:
            self.cs.same(then, other, node.span, "type mismatch: the "
                         "branches of '?:' are {there} and {here}")
        return then

    def assign_target(self, target, value: Optional[int]) -> Optional[int]:
        if isinstance(target, A.Index):
            sym = self.array_keys(target.name, target.keys, target)
        elif isinstance(target, A.Var):
            sym = self.lookup(target.name, target.span)
            self.symbols[target] = sym
        else:
            self.error("left side of an assignment must be a variable or "
                       "an array element", target.span)
            return None
        if sym is None:
            return None
        if isinstance(sym, GlobalSym):
            self.scope.globals_written.add(target.name)
        self.bind(sym, value, target)
        self.cs.nodes[target] = self.sym_var(sym)
        return self.sym_var(sym)

    def expr_Assign(self, node):
        if node.op == "<<<":
            self.add_to_statistic(node)
            return self.fixed(T.LONG)
        if node.op == "=":
            return self.assign_target(node.target,
                                      self.expr(node.value, hist_ok=True))
        want = T.STRING if node.op == ".=" else T.LONG
        self.expect(node.value, want)
        var = self.assign_target(node.target, self.fixed(want))
        self.mark_read_modify(node.target)
        return var

    def add_to_statistic(self, node) -> None:
        self.expect(node.value, T.LONG)
        target = node.target
        sym = self.stat_target(target)
        if sym is None:
            self.error("'<<<' adds to a global statistic or to an "
                       "element of a global array", target.span)
            if isinstance(target, A.Var):
                self.quiet_local(target.name)
            return
        self.symbols[target] = sym
        self.scope.globals_written.add(target.name)
        self.scope.globals_added.add(target.name)
        self.bind_type(sym, T.STATS, target)

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

    def expr_Crement(self, node):
        self.assign_target(node.target, self.fixed(T.LONG))
        self.mark_read_modify(node.target)
        return self.fixed(T.LONG)

    # -- target variables: numbers, or strings for $$parms and friends --
    def expr_TargetVar(self, node):
        return self.fixed(T.STRING if node.context else T.LONG)

    def expr_Member(self, node):
        self.expr(node.base)
        return self.fixed(T.LONG)

    def expr_Subscript(self, node):
        self.expr(node.base)
        self.expect(node.index, T.LONG)
        return self.fixed(T.LONG)

    def expr_AddressOf(self, node):
        if not isinstance(node.operand, (A.TargetVar, A.Member,
                                         A.Subscript, A.AtOp)):
            self.error("'&' takes a target variable", node.span)
        self.expr(node.operand)
        return self.fixed(T.LONG)

    def expr_AtOp(self, node):
        if node.op == "@cast":
            if node.args:
                self.expect(node.args[0], T.LONG)
            return self.fixed(T.LONG)
        if node.op in ("@defined", "@var"):
            return self.fixed(T.LONG)
        if node.op == "@entry" and len(node.args) == 1:
            return self.expr(node.args[0])
        for arg in node.args:
            self.expr(arg)
        self.error(f"'{node.op}' is not supported yet", node.span)
        return self.fixed(T.LONG)


class _Calls(_Expressions):
    """Calls of functions, built-ins and the output functions, and the
    statistics extractors."""

    def expr_Call(self, node):
        if node.name in VARIADIC_OUTPUT:
            return self.output_call(node)
        builtin = BUILTINS.get(node.name)
        if builtin is not None:
            self.check_arity(node, len(builtin.params) - builtin.optional,
                             len(builtin.params))
            for arg, want in zip(node.args, builtin.params):
                self.expect(arg, want)
            return self.fixed(builtin.ret) if builtin.ret else None
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
            self.bind(param, self.expr(arg, hist_ok=True), arg)
        return self.ret_var(function)

    def output_call(self, node) -> Optional[int]:
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
            for arg in args[1:]:
                self.expr(arg)
        else:
            if name == "print" and not args:
                self.error("function 'print' needs an argument", node.span)
            for arg in args:
                if self.expr(arg, hist_ok=True) in self.hist_vars and (
                        len(args) > 1 or name.startswith("sprint")):
                    self.error("a histogram is printed alone, with print or "
                               "println", arg.span)
        return self.fixed(T.STRING) if name.startswith("sprint") else None

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
        self.bind_type(sym, T.STATS, arg)
        return sym

    def expr_StatOp(self, node):
        if node.op == "@variance" and len(node.args) == 2:
            self.variance_shift(node)
        elif node.op in EXTRACTORS and len(node.args) != 1:
            self.error(f"'{node.op}' takes one statistic", node.span)
        if node.op in EXTRACTORS:
            sym = self.stat_arg(node)
            if sym is not None and node.op == "@variance":
                sym.uses_variance = True
            return self.fixed(T.LONG)
        if node.op in ("@hist_log", "@hist_linear"):
            self.histogram(node)
            var = self.fixed(T.HIST)
            self.hist_vars.add(var)
            return var
        self.error(f"'{node.op}' is not supported yet", node.span)
        return self.fixed(T.LONG)

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
        spec = self.histogram_spec(node)
        if sym is None or spec is None:
            return
        if sym.hist is not None and sym.hist != spec:
            self.error(f"statistic '{sym.name}' is printed as two different "
                       "histograms", node.span)
        sym.hist = spec

    def histogram_spec(self, node) -> Optional[Histogram]:
        if node.op == "@hist_log":
            if len(node.args) != 1:
                self.error("'@hist_log' takes one statistic", node.span)
            return Histogram(HistogramKind.LOG)
        limits = node.args[1:]
        if len(limits) != 3 or not all(isinstance(a, A.IntLit)
                                       for a in limits):
            self.error("'@hist_linear' takes a statistic and three "
                       "number literals: start, stop, step", node.span)
            return None
        start, stop, step = (a.value for a in limits)
        if step <= 0 or stop <= start:
            self.error("'@hist_linear' needs start < stop and a "
                       "positive step", node.span)
            return None
        if (stop - start) // step > 1000:
            self.error("'@hist_linear' would have more than 1000 "
                       "buckets", node.span)
            return None
        return Histogram(HistogramKind.LINEAR, start, stop, step)


class Collector(_Calls):
    """Statements, and the walk over every scope."""

    def collect(self, scopes: List[Scope]) -> Constraints:
        self.declarations()
        for scope in scopes:
            self.scope = scope
            self.function = self.functions.get(scope.name) \
                if not scope.name.startswith("probe_") else None
            self.loop_depth = 0
            self.stmt(scope.body)
        return self.cs

    def declarations(self) -> None:
        """The types the script declares (``x:long``, ``global g = 1``)
        come first, so every use is checked against them."""
        declared = [(self.sym_var(g), g.type) for g in self.globals.values()]
        for function in self.functions.values():
            declared += [(self.sym_var(p), p.type) for p in function.params]
            declared.append((self.ret_var(function), function.return_type))
        for var, t in declared:
            if t is not None:
                self.cs.declare(var, t)

    def stmt(self, node) -> None:
        getattr(self, "stmt_" + type(node).__name__)(node)

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

    def loop_body(self, body):
        self.loop_depth += 1
        self.stmt(body)
        self.loop_depth -= 1

    def stmt_While(self, node):
        self.expect(node.cond, T.LONG)
        self.loop_body(node.body)

    def stmt_For(self, node):
        if node.init is not None:
            self.expr(node.init)
        if node.cond is not None:
            self.expect(node.cond, T.LONG)
        if node.step is not None:
            self.expr(node.step)
        self.loop_body(node.body)

    def stmt_Foreach(self, node):
        sym = self.globals.get(node.array)
        if sym is None or not sym.is_array:
            self.loop_body(node.body)
            return
        self.symbols[node] = sym
        self.scope.globals_read.add(node.array)
        if node.value_sort or any(key.sort for key in node.keys):
            # a sort leaves the array in its order (map.c): a change
            self.scope.globals_written.add(node.array)
        for i, key in enumerate(node.keys):
            local = self.bound_local(key.name, key)
            if i < len(sym.key_types) and local is not None:
                self.cs.same(self.sym_var(local), self.key_var(sym, i),
                             key.span, identifier_clash(local.name))
        self.foreach_value(node, sym)
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
        self.loop_body(node.body)

    def foreach_value(self, node, sym: GlobalSym) -> None:
        """The value variable, and the extractor a statistics array is
        sorted by (``foreach (k in s @sum-)``; @count by default)."""
        if sym.name in self.statistics:
            if node.value_var:
                self.error(f"foreach over statistics array '{sym.name}' "
                           "cannot take its values in a variable", node.span,
                           hint=f"read them with @count({sym.name}[k]) ...")
                self.quiet_local(node.value_var)
            if node.value_op and node.value_op not in EXTRACTORS:
                self.error(f"cannot sort by '{node.value_op}'", node.span,
                           hint="use one of " + ", ".join(EXTRACTORS))
            if node.value_op == "@variance":
                sym.uses_variance = True
            return
        if node.value_op:
            self.cs.when_known(self.sym_var(sym), node.span,
                               f"'{node.value_op}' sorts an array of "
                               f"statistics; '{sym.name}' holds "
                               "{type} values")
        local = self.bound_local(node.value_var, node) \
            if node.value_var else None
        if local is not None:
            self.cs.same(self.sym_var(local), self.sym_var(sym), node.span,
                         identifier_clash(local.name))

    def bound_local(self, name: str, node) -> Optional[LocalSym]:
        """The local a foreach or catch binds; none if ``name`` is a
        global's (elaborate made no local for it)."""
        local = self.scope.locals.get(name)
        if local is None:
            self.error(f"'{name}' is a global: the variables of foreach "
                       "and catch must be locals", node.span)
        return local

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
        var = self.expr(node.value)
        if var is not None:
            self.cs.same(self.ret_var(self.function), var, node.value.span,
                         f"type mismatch: function '{self.function.name}' "
                         "returns {there}, found {here}")

    def stmt_Delete(self, node):
        target = node.target
        if isinstance(target, A.Var) and target.name not in \
                self.scope.locals and target.name in self.globals and \
                self.globals[target.name].is_array:
            self.symbols[target] = self.globals[target.name]
            self.scope.globals_written.add(target.name)
        elif isinstance(target, (A.Index, A.Var)):
            self.assign_target(target, None)
        else:
            self.error("delete takes a variable, an array or an array "
                       "element", target.span)
            return
        sym = self.globals.get(target.name)
        if sym is not None and sym.is_array and \
                sym.name in self.statistics:
            # deleting must exclude '<<<' like reading does (see locks)
            self.scope.globals_read.add(target.name)

    def stmt_TryCatch(self, node):
        self.stmt(node.body)
        sym = self.bound_local(node.message_var, node) \
            if node.message_var else None
        if sym is not None:
            self.bind_type(sym, T.STRING, node)
        self.stmt(node.handler)


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
