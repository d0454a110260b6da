"""SystemTap's names for where a runtime error happened: the token a
node stands for, and its position (``near TOKEN at FILE:LINE:COL``)."""

from __future__ import annotations

from . import ast as A

_KEYWORD_STMTS = (A.If, A.While, A.For, A.Foreach, A.Return, A.Delete,
                  A.Next, A.Break, A.Continue, A.TryCatch)


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
