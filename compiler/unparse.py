"""Syntax tree back to script text: what ``-p1`` prints.

Expressions are fully parenthesised so the output shows how the parser
grouped them; parsing the output again gives the same tree.
"""

from __future__ import annotations

from typing import List

from . import ast as A
from .visit import ExprVisitor, StmtVisitor


def unparse(script: A.Script) -> str:
    out: List[str] = [f"%{{{block.code}%}}" for block in script.embedded]
    for decl in script.globals:
        out.append(_private(decl) + "global " + _global(decl))
    for function in script.functions:
        params = ", ".join(p.name + (f":{p.type_name}" if p.type_name else "")
                           for p in function.params)
        rtype = f":{function.return_type}" if function.return_type else ""
        out.append(f"{_private(function)}function {function.name}{rtype}"
                   f"({params})")
        if function.embedded is not None:
            out.append(f"%{{{function.embedded.code}%}}")
        else:
            out.extend(_block(function.body, 0))
    for alias in script.aliases:
        out.append(f"probe {alias}")
        out.extend(_block(alias.body, 0))
    for probe in script.probes:
        points = ", ".join(p.marked() for p in probe.points)
        out.append(f"probe {points}")
        out.extend(_block(probe.body, 0))
    return "\n".join(out) + "\n"


def _private(decl) -> str:
    return "private " if decl.private else ""


def _global(decl: A.Global) -> str:
    text = decl.name
    if decl.size is not None:
        text += f"[{decl.size}]"
    if isinstance(decl.init, str):
        text += " = " + _quote(decl.init)
    elif decl.init is not None:
        text += f" = {decl.init}"
    return text


def _block(block: A.Block, depth: int) -> List[str]:
    lines = [_pad(depth) + "{"]
    for stmt in block.body:
        lines.extend(_STMT_TEXT.visit_stmt(stmt, depth + 1))
    lines.append(_pad(depth) + "}")
    return lines


class _StmtText(StmtVisitor):
    """A statement's lines, indented ``depth`` levels."""

    def stmt_Block(self, node, depth):
        return _block(node, depth)

    def stmt_ExprStmt(self, node, depth):
        return [_pad(depth) + expr(node.expr) + ";"]

    def stmt_Empty(self, node, depth):
        return [_pad(depth) + ";"]

    def stmt_If(self, node, depth):
        lines = [_pad(depth) + f"if ({expr(node.cond)})"] + \
            self.visit_stmt(node.then, depth + 1)
        if node.otherwise is not None:
            lines += [_pad(depth) + "else"] + \
                self.visit_stmt(node.otherwise, depth + 1)
        return lines

    def stmt_While(self, node, depth):
        return [_pad(depth) + f"while ({expr(node.cond)})"] + \
            self.visit_stmt(node.body, depth + 1)

    def stmt_For(self, node, depth):
        parts = [expr(e) if e is not None else ""
                 for e in (node.init, node.cond, node.step)]
        return [_pad(depth) + f"for ({'; '.join(parts)})"] + \
            self.visit_stmt(node.body, depth + 1)

    def stmt_Foreach(self, node, depth):
        return [_pad(depth) + f"foreach ({_foreach_head(node)})"] + \
            self.visit_stmt(node.body, depth + 1)

    def stmt_Return(self, node, depth):
        value = f" {expr(node.value)}" if node.value is not None else ""
        # the ';' keeps a bare return from taking the next line as its value
        return [_pad(depth) + "return" + value + ";"]

    def stmt_Delete(self, node, depth):
        return [_pad(depth) + f"delete {expr(node.target)};"]

    def stmt_TryCatch(self, node, depth):
        catch = f"catch ({node.message_var})" if node.message_var else "catch"
        return [_pad(depth) + "try"] + _block(node.body, depth) + \
            [_pad(depth) + catch] + _block(node.handler, depth)

    def stmt_Break(self, node, depth):
        return [_pad(depth) + "break;"]

    def stmt_Continue(self, node, depth):
        return [_pad(depth) + "continue;"]

    def stmt_Next(self, node, depth):
        return [_pad(depth) + "next;"]


def _pad(depth: int) -> str:
    return "  " * depth


def _foreach_head(node: A.Foreach) -> str:
    keys = [k.name + k.sort for k in node.keys]
    head = keys[0] if len(keys) == 1 else "[" + ", ".join(keys) + "]"
    if node.value_var:
        head = f"{node.value_var} = {head}"
    by = f" {node.value_op} " if node.value_op else ""
    text = f"{head} in {node.array}{by}{node.value_sort}"
    if node.limit is not None:
        text += f" limit {expr(node.limit)}"
    return text


def expr(node) -> str:
    return _EXPR_TEXT.visit_expr(node)


class _ExprText(ExprVisitor):
    """An expression's text, every operation in parentheses."""

    def expr_IntLit(self, node):
        return str(node.value)

    def expr_StrLit(self, node):
        return _quote(node.value)

    def expr_Var(self, node):
        return node.name

    def expr_Index(self, node):
        return f"{node.name}[{_list(node.keys)}]"

    def expr_Call(self, node):
        return f"{node.name}({_list(node.args)})"

    def expr_StatOp(self, node):
        return f"{node.op}({_list(node.args)})"

    def expr_Unary(self, node):
        return f"{node.op}({expr(node.operand)})"

    def expr_Binary(self, node):
        return f"({expr(node.left)} {node.op} {expr(node.right)})"

    def expr_Ternary(self, node):
        return (f"({expr(node.cond)} ? {expr(node.then)} : "
                f"{expr(node.otherwise)})")

    def expr_Assign(self, node):
        return f"({expr(node.target)} {node.op} {expr(node.value)})"

    def expr_Crement(self, node):
        if node.prefix:
            return f"{node.op}{expr(node.target)}"
        return f"{expr(node.target)}{node.op}"

    def expr_InArray(self, node):
        return f"[{_list(node.keys)}] in {node.array}"

    def expr_TargetVar(self, node):
        sigil = "$$" if node.context else "$"
        return f"{sigil}{node.name}{'$' if node.pretty else ''}"

    def expr_AtOp(self, node):
        return f"{node.op}({_list(node.args)})"

    def expr_Member(self, node):
        return f"{expr(node.base)}->{node.name}"

    def expr_Subscript(self, node):
        return f"{expr(node.base)}[{expr(node.index)}]"

    def expr_AddressOf(self, node):
        return f"&{expr(node.operand)}"


_STMT_TEXT = _StmtText()
_EXPR_TEXT = _ExprText()


def _quote(text: str) -> str:
    """A script string literal for ``text``."""
    named = {"\n": "\\n", "\t": "\\t", "\\": "\\\\", '"': '\\"'}
    out = []
    for ch in text:
        if ch in named:
            out.append(named[ch])
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append(f"\\{ord(ch) & 0xFF:03o}")
    return '"' + "".join(out) + '"'


def _list(nodes) -> str:
    return ", ".join(expr(n) for n in nodes)


def describe_program(program) -> str:
    """What ``-p2`` prints: the elaborated globals, functions and probes,
    each probe point as what it resolved to."""
    used = set().union(*(h.scope.globals_read | h.scope.globals_written
                         for h in program.handlers),
                       *(f.scope.globals_read | f.scope.globals_written
                         for f in program.functions.values()))
    out = ["# globals"]
    out.extend(_typed_global(sym, sym.name in used)
               for sym in program.globals.values())
    out.append("# functions")
    for function in program.functions.values():
        params = ", ".join(f"{p.name}:{p.type}" for p in function.params)
        rtype = function.return_type or "unknown"
        out.append(f"{function.name}:{rtype} ({params})")
        out.extend(_locals(function.scope, exclude=function.params))
    out.append("# probes")
    for site in sorted(program.sites, key=lambda s: s.order):
        handler = program.handlers[site.handler]
        out.append(_resolved_site(site))
        out.extend(_locals(handler.scope, exclude=()))
    if program.dispatch:
        out.append("# tracepoint dispatch")
        out.extend(_dispatch_group(program, group)
                   for group in program.dispatch)
    return "\n".join(out) + "\n"


def _dispatch_group(program, group) -> str:
    """The probes sharing one probe function, by the constant each
    runs for (compiler/tpdispatch.py)."""
    cases = ", ".join("|".join(str(value) for value in values) +
                      f" -> handler {program.sites[index].handler}"
                      for index, values in group.members)
    return (f"{group.point} /* one probe function for "
            f"{len(group.members)} probes, on {group.key.text}: "
            f"{cases} */")


def _typed_global(sym, used: bool) -> str:
    """A global nothing uses has no type from its uses: a scalar is then
    the long the module holds (read as 0), an array has none."""
    keys = ""
    if sym.is_array:
        keys = "[" + ", ".join(str(t) for t in sym.key_types) + "]"
    vtype = sym.type or ("unknown" if sym.is_array else "long")
    return f"{sym.name}{keys}:{vtype}" + ("" if used else " /* unused */")


def _resolved_site(site) -> str:
    """A probe point as it resolved (a function of a glob, with its file
    and line), what the script wrote and where the kprobe goes."""
    notes = []
    shown = site.description or str(site.point)
    if shown != str(site.point):
        notes.append(f"<- {site.point}")
    if site.point.via:
        notes.append(f"<- {site.point.via}")
    if site.code is not None:
        code = site.code
        notes.append(f"pc=<{code.module}:{code.symbol}"
                     f"+{code.symbol_offset}>")
        notes.append(f"ftrace, {site.registers.value}" if site.by_ftrace
                     else site.kind.value)
    if site.user is not None:
        notes.append(f"{site.user.path}+{site.user.offset:#x} (address "
                     f"{site.user.address:#x}, build-id "
                     f"{site.user.build_id})")
        if site.user.semaphore_offset:
            notes.append(f"semaphore {site.user.path}"
                         f"+{site.user.semaphore_offset:#x}")
        if site.user.process:
            notes.append(f"in {site.user.process} processes only")
        notes.append(site.kind.value)
    notes.append(f"handler {site.handler}, priority {site.priority}")
    return f"{shown} /* {'; '.join(notes)} */"


def _locals(scope, exclude) -> List[str]:
    skip = {p.name for p in exclude}
    return [f"  local {sym.name}:{sym.type}" for sym in scope.locals.values()
            if sym.name not in skip]
