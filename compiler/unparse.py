"""Syntax tree back to script text: what ``-p1`` prints.

Expressions are fully parenthesised so the output shows how the parser
grouped them; parsing the output again gives the same tree.
"""

from __future__ import annotations

from typing import List

from . import ast as A


def unparse(script: A.Script) -> str:
    out: List[str] = []
    for decl in script.globals:
        out.append("global " + _global(decl))
    for function in script.functions:
        params = ", ".join(p.name + (f":{p.type_name}" if p.type_name else "")
                           for p in function.params)
        rtype = f":{function.return_type}" if function.return_type else ""
        out.append(f"function {function.name}{rtype}({params})")
        out.extend(_block(function.body, 0))
    for probe in script.probes:
        points = ", ".join(str(p) + ("?" if p.optional else "")
                           for p in probe.points)
        out.append(f"probe {points}")
        out.extend(_block(probe.body, 0))
    return "\n".join(out) + "\n"


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
    pad = "  " * depth
    lines = [pad + "{"]
    for stmt in block.body:
        lines.extend(_stmt(stmt, depth + 1))
    lines.append(pad + "}")
    return lines


def _stmt(node, depth: int) -> List[str]:
    pad = "  " * depth
    if isinstance(node, A.Block):
        return _block(node, depth)
    if isinstance(node, A.ExprStmt):
        return [pad + expr(node.expr) + ";"]
    if isinstance(node, A.Empty):
        return [pad + ";"]
    if isinstance(node, A.If):
        lines = [pad + f"if ({expr(node.cond)})"] + _stmt(node.then, depth + 1)
        if node.otherwise is not None:
            lines += [pad + "else"] + _stmt(node.otherwise, depth + 1)
        return lines
    if isinstance(node, A.While):
        return [pad + f"while ({expr(node.cond)})"] + \
            _stmt(node.body, depth + 1)
    if isinstance(node, A.For):
        parts = [expr(e) if e is not None else ""
                 for e in (node.init, node.cond, node.step)]
        return [pad + f"for ({'; '.join(parts)})"] + \
            _stmt(node.body, depth + 1)
    if isinstance(node, A.Foreach):
        return [pad + f"foreach ({_foreach_head(node)})"] + \
            _stmt(node.body, depth + 1)
    if isinstance(node, A.Return):
        value = f" {expr(node.value)}" if node.value is not None else ""
        # the ';' keeps a bare return from taking the next line as its value
        return [pad + "return" + value + ";"]
    if isinstance(node, A.Delete):
        return [pad + f"delete {expr(node.target)};"]
    if isinstance(node, A.TryCatch):
        catch = f"catch ({node.message_var})" if node.message_var else "catch"
        return [pad + "try"] + _block(node.body, depth) + [pad + catch] + \
            _block(node.handler, depth)
    keyword = {A.Break: "break", A.Continue: "continue", A.Next: "next"}
    return [pad + keyword[type(node)] + ";"]


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
    if isinstance(node, A.IntLit):
        return str(node.value)
    if isinstance(node, A.StrLit):
        return _quote(node.value)
    if isinstance(node, A.Var):
        return node.name
    if isinstance(node, A.Index):
        return f"{node.name}[{_list(node.keys)}]"
    if isinstance(node, A.Call):
        return f"{node.name}({_list(node.args)})"
    if isinstance(node, A.StatOp):
        return f"{node.op}({_list(node.args)})"
    if isinstance(node, A.Unary):
        return f"{node.op}({expr(node.operand)})"
    if isinstance(node, A.Binary):
        return f"({expr(node.left)} {node.op} {expr(node.right)})"
    if isinstance(node, A.Ternary):
        return (f"({expr(node.cond)} ? {expr(node.then)} : "
                f"{expr(node.otherwise)})")
    if isinstance(node, A.Assign):
        return f"({expr(node.target)} {node.op} {expr(node.value)})"
    if isinstance(node, A.Crement):
        if node.prefix:
            return f"{node.op}{expr(node.target)}"
        return f"{expr(node.target)}{node.op}"
    if isinstance(node, A.InArray):
        return f"[{_list(node.keys)}] in {node.array}"
    return _target_expr(node)


def _target_expr(node) -> str:
    if isinstance(node, A.TargetVar):
        sigil = "$$" if node.context else "$"
        return f"{sigil}{node.name}{'$' if node.pretty else ''}"
    if isinstance(node, A.AtOp):
        return f"{node.op}({_list(node.args)})"
    if isinstance(node, A.Member):
        return f"{expr(node.base)}->{node.name}"
    if isinstance(node, A.Subscript):
        return f"{expr(node.base)}[{expr(node.index)}]"
    if isinstance(node, A.AddressOf):
        return f"&{expr(node.operand)}"
    raise TypeError(f"unparse: unknown node {type(node).__name__}")


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
    """What ``-p2`` prints: the elaborated globals, functions and probes."""
    out = ["# globals"]
    for sym in program.globals.values():
        keys = ""
        if sym.is_array:
            keys = "[" + ", ".join(str(t) for t in sym.key_types) + "]"
        out.append(f"{sym.name}{keys}:{sym.type}")
    out.append("# functions")
    for function in program.functions.values():
        params = ", ".join(f"{p.name}:{p.type}" for p in function.params)
        rtype = function.return_type or "unknown"
        out.append(f"{function.name}:{rtype} ({params})")
        out.extend(_locals(function.scope, exclude=function.params))
    out.append("# probes")
    for site in sorted(program.sites, key=lambda s: s.order):
        handler = program.handlers[site.handler]
        out.append(f"{site.point} /* handler {site.handler}, "
                   f"priority {site.priority} */")
        out.extend(_locals(handler.scope, exclude=()))
    return "\n".join(out) + "\n"


def _locals(scope, exclude) -> List[str]:
    skip = {p.name for p in exclude}
    return [f"  local {sym.name}:{sym.type}" for sym in scope.locals.values()
            if sym.name not in skip]
