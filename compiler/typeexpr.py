"""Type constraints of expressions: the first part of the walk that
typecollect.py makes over every scope.

Each expression gives a type variable (typesolve.py), or None when it has
no type; calls and the statistics extractors are typecalls.py's.
"""

from __future__ import annotations

from typing import Dict, Optional, Set

from . import ast as A
from .ir import FunctionInfo, GlobalSym, LocalSym, Scope, Symbol, T
from .typesolve import Constraints
from .visit import ExprVisitor

_EXPECTED = "type mismatch: expected {here}, found {there}"
_HIST_ONLY_PRINTED = "a histogram can only be printed, with print or println"


def identifier_clash(name: str) -> str:
    return f"type mismatch for identifier '{name}': " \
        "{here} here, {there} elsewhere"


class WalkState:
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


class ExprTypes(WalkState, ExprVisitor):
    """Expressions: each gives a type variable, or None when it has no
    type (a call of a function that returns nothing, an error).  Calls
    and statistics are CallTypes', which completes the visitor."""
    ABSTRACT = True

    def expr(self, node, hist_ok: bool = False,
             used: bool = True) -> Optional[int]:
        """A histogram is refused unless the caller (print and friends,
        '=', a call) takes it and says why not.  A call ``used`` as a value
        must return one."""
        var = self.visit_expr(node)
        if var in self.hist_vars and not hist_ok:
            self.error(_HIST_ONLY_PRINTED, node.span)
            return None
        if var is not None:
            self.cs.nodes[node] = var
        if used and isinstance(node, A.Call):
            self.cs.valued_calls.append(node)
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
        elif isinstance(target, A.TARGET_NODES):
            # a write to the probed code: parse.py took it only with -g
            self.expect(target, T.LONG)
            if value is not None:
                self.cs.require(value, T.LONG, target.span, _EXPECTED)
            return self.fixed(T.LONG)
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
        if node.op == "@entry":
            self.error("@entry takes one expression", node.span,
                       hint="for example @entry($ptr->len) or "
                            "@entry(gettimeofday_ns())")
            return None
        for arg in node.args:
            self.expr(arg)
        self.error(f"'{node.op}' is not supported yet", node.span)
        return self.fixed(T.LONG)
