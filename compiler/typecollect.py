"""Collects the type constraints of a script: one walk over every scope.

The walk also makes the checks that need no types (arity, printf formats,
loops, histograms) and records what each scope reads, writes and calls;
it keeps them in script order among the constraints (typesolve.py), so
that errors come out in the order of the script.  Expressions are
typeexpr.py's, calls typecalls.py's; the statements are here.
"""

from __future__ import annotations

from typing import List, Optional, Set

from . import ast as A
from .ir import GlobalSym, LocalSym, Scope, T
from .typecalls import EXTRACTORS, CallTypes
from .typeexpr import identifier_clash
from .typesolve import Constraints
from .visit import StmtVisitor


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


class Collector(CallTypes, StmtVisitor):
    """Statements, and the walk over every scope."""

    def collect(self, scopes: List[Scope]) -> Constraints:
        self.declarations()
        owners = {id(f.scope): f for f in self.functions.values()}
        for scope in scopes:
            self.scope = scope
            self.function = owners.get(id(scope))   # None: a probe handler
            self.loop_depth = 0
            self.visit_stmt(scope.body)
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

    def stmt_Block(self, node):
        for child in node.body:
            self.visit_stmt(child)

    def stmt_Empty(self, node):
        pass

    def stmt_ExprStmt(self, node):
        self.expr(node.expr, used=False)

    def stmt_If(self, node):
        self.expect(node.cond, T.LONG)
        self.visit_stmt(node.then)
        if node.otherwise is not None:
            self.visit_stmt(node.otherwise)

    def loop_body(self, body):
        self.loop_depth += 1
        self.visit_stmt(body)
        self.loop_depth -= 1

    def stmt_While(self, node):
        self.expect(node.cond, T.LONG)
        self.loop_body(node.body)

    def stmt_For(self, node):
        if node.init is not None:
            self.expr(node.init, used=False)
        if node.cond is not None:
            self.expect(node.cond, T.LONG)
        if node.step is not None:
            self.expr(node.step, used=False)
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
        self.visit_stmt(node.body)
        sym = self.bound_local(node.message_var, node) \
            if node.message_var else None
        if sym is not None:
            self.bind_type(sym, T.STRING, node)
        self.visit_stmt(node.handler)


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
