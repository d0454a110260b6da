"""SystemTap's names for where a runtime error happened: the token a
node stands for, and its position (``near TOKEN at FILE:LINE:COL``)."""

from __future__ import annotations

from . import ast as A
from .visit import STMT_NODES, ExprVisitor, StmtVisitor


def near(node) -> str:
    """SystemTap's description of the token a node stands for."""
    if isinstance(node, STMT_NODES):
        return _TOKEN.visit_stmt(node)
    return _TOKEN.visit_expr(node)


class _Token(ExprVisitor, StmtVisitor):
    """What SystemTap calls the token of each node."""

    def operator(self, node):
        return f"operator '{node.op}'"

    def identifier(self, node):
        return f"identifier '{node.name}'"

    def keyword(self, node):
        return "keyword"

    def token(self, node):
        return "token"

    expr_Unary = expr_Binary = expr_Assign = expr_Crement = operator
    expr_StatOp = expr_AtOp = operator
    expr_Var = expr_Index = expr_Call = identifier
    expr_InArray = keyword
    stmt_If = stmt_While = stmt_For = stmt_Foreach = keyword
    stmt_Return = stmt_Delete = stmt_TryCatch = keyword
    stmt_Next = stmt_Break = stmt_Continue = keyword
    expr_Ternary = stmt_Block = stmt_Empty = token

    def expr_IntLit(self, node):
        return f"number '{node.value}'"

    def expr_StrLit(self, node):
        return f"string '{node.value}'"

    def expr_TargetVar(self, node):
        return f"identifier '{'$$' if node.context else '$'}{node.name}'"

    def expr_Member(self, node):
        return "operator '->'"

    def expr_Subscript(self, node):
        return "operator '['"

    def expr_AddressOf(self, node):
        return "operator '&'"

    def stmt_ExprStmt(self, node):
        return self.visit_expr(node.expr)


_TOKEN = _Token()


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
