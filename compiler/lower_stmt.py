"""Pass 3, statements: a probe handler's or a function's body to C lines.

Every statement is preceded by a ``/* FILE:LINE:COL */`` marker (C errors
map back to the script through it) and a step of the MAXACTION count;
its expressions are lowered by lower_expr.py.
"""

from __future__ import annotations

from typing import List

from . import ast as A
from .cstring import c_comment, c_string
from .ir import GlobalSym, T
from .lower_expr import ExprLowering
from .near import location, statement_location
from .storage import (STAT_OPS, assign_local, key_ref, map_capacity, map_ref,
                      member_decl, stat_map_ref, stat_ref, value_ref)
from .visit import StmtVisitor


def lower_body(exprs: ExprLowering, block: A.Block,
               locals_: dict) -> List[str]:
    """The C lines of a scope's body; its locals join its frame."""
    for sym in locals_.values():
        exprs.frame.vars.append(member_decl(f"l_{sym.name}", sym.type))
    lowering = StmtLowering(exprs)
    for stmt in block.body:
        lowering.stmt(stmt)
    return lowering.lines


def assigned_before_read(block: A.Block, names) -> bool:
    """Whether each of the locals ``names`` is set by a plain assignment
    among ``block``'s top-level statements before anything reads it: a
    handler's frame then needs no zeroing first.  Anything else (a local
    set in a branch or a loop, read by its own assignment, or never set
    there) says no."""
    unset = set(names)
    for stmt in block.body:
        target = _local_set(stmt, unset)
        read = stmt.expr.value if target else stmt
        if any(isinstance(node, A.Var) and node.name in unset
               for node in A.walk(read)):
            return False
        unset.discard(target)
    return not unset


def _local_set(stmt, names) -> str:
    """The local of ``names`` that ``stmt`` sets with a plain '=', or ""."""
    if (isinstance(stmt, A.ExprStmt) and isinstance(stmt.expr, A.Assign)
            and stmt.expr.op == "=" and isinstance(stmt.expr.target, A.Var)
            and stmt.expr.target.name in names):
        return stmt.expr.target.name
    return ""


class StmtLowering(StmtVisitor):
    """Lowers the statements of one scope to C lines."""

    def __init__(self, exprs: ExprLowering):
        self.exprs = exprs
        self.program = exprs.program
        self.frame = exprs.frame
        self.function = exprs.function
        self.expr = exprs.expr
        self.cond = exprs.cond
        self.lines: List[str] = []
        self.indent = 1
        self.catch_label = "out"

    def emit(self, line: str) -> None:
        self.lines.append("\t" * self.indent + line)

    def stmt(self, node) -> None:
        if not isinstance(node, A.Block):   # its statements say where
            self.emit(f"/* {c_comment(str(node.span))} */")
            self.emit(f"STPC_STEP(c, {c_string(statement_location(node))}, "
                      f"{self.catch_label});")
        self.visit_stmt(node)

    def stmt_Block(self, node):
        for child in node.body:
            self.stmt(child)

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
            stat_op = STAT_OPS[node.value_op or "@count"]
            self.emit(f"fn = stpc_map_sorted_by(fm, {buf}, {column}, "
                      f"{direction}, {stat_op});")
            self.emit(f"for (fi = 0; fi < fn && (fe = {buf}[fi]); fi++) {{")
        self.indent += 1
        self.loop_step(node, node.body)
        self.emit("if (limit >= 0 && done++ >= limit)")
        self.emit("\tbreak;")
        for i, key in enumerate(node.keys):
            self.emit(assign_local(f"l->vars.l_{key.name}",
                                    key_ref("fm", "fe", i, sym.key_types[i]),
                                    sym.key_types[i]))
        if node.value_var:
            self.emit(assign_local(f"l->vars.l_{node.value_var}",
                                    value_ref("fm", "fe", sym.type),
                                    sym.type))
        self.stmt(node.body)
        self.indent -= 1
        self.emit("}")
        self.indent -= 1
        self.emit("}")

    def temp_entries(self, sym) -> str:
        name = self.frame.new_name("sort")
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
            self.emit(f"{{ {self.exprs.key_prelude(sym, target.keys)} "
                      f"stpc_map_delete({m}, &key); }}")
        elif isinstance(sym, GlobalSym) and sym.is_array:
            self.emit(f"stpc_map_clear({map_ref(self.program, sym.name)});")
        elif self.exprs.type_of(target) is T.STRING:
            self.emit(f"{self.exprs.var_ref(target)}[0] = '\\0';")
        else:
            self.emit(f"{self.exprs.var_ref(target)} = 0;")

    def delete_statistics(self, target, sym: GlobalSym) -> None:
        if not sym.is_array:
            self.emit(f"stpc_stat_clear({stat_ref(self.program, sym.name)});")
            return
        sm = stat_map_ref(self.program, sym.name)
        if isinstance(target, A.Index):
            self.emit(f"{{ {self.exprs.key_prelude(sym, target.keys)} "
                      f"stpc_stat_map_delete({sm}, &key); }}")
        else:
            self.emit(f"stpc_stat_map_clear({sm});")

    def stmt_TryCatch(self, node):
        label = self.frame.new_name("catch")
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
            if self.catch_label != "out":   # the value's error is caught
                self.emit(f"if (unlikely(c->last_error)) "
                          f"goto {self.catch_label};")
        self.emit("goto out;")


def _sort_column(node: A.Foreach):
    """(column, direction) for stpc_map_sorted, or (None, 0) unsorted."""
    if node.value_sort:
        return 0, 1 if node.value_sort == "+" else -1
    for i, key in enumerate(node.keys):
        if key.sort:
            return i + 1, 1 if key.sort == "+" else -1
    return None, 0


def _has_statements(node) -> bool:
    if isinstance(node, A.Block):
        return any(_has_statements(child) for child in node.body)
    return not isinstance(node, A.Empty)
