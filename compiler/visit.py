"""The one way passes dispatch on AST nodes.

A visitor of expressions defines ``expr_<Node>`` for every expression
node, a visitor of statements ``stmt_<Node>`` for every statement node;
a node it does not handle must be named in ``REJECTS`` with the reason.
The check runs when the class is defined, so adding a node to ``ast.py``
without teaching every visitor about it fails at import (and
``tests/test_visitors.py`` lists the visitors it checked).
"""

from __future__ import annotations

import typing
from typing import Callable, ClassVar, Dict, List, Mapping

from . import ast as A
from .errors import InternalError

EXPR_NODES = typing.get_args(A.Expr)
STMT_NODES = typing.get_args(A.Stmt)

#: Every visitor class checked, for the exhaustiveness test.
VISITORS: List[type] = []


class _Visitor:
    """Builds a dispatch table over ``NODES`` for ``PREFIX``."""
    PREFIX: ClassVar[str] = ""
    NODES: ClassVar[tuple] = ()
    #: node class -> why this visitor never sees it
    REJECTS: ClassVar[Mapping[type, str]] = {}
    _table: ClassVar[Dict[type, Callable]]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("ABSTRACT"):
            return
        for base in cls.__mro__:
            if base.__dict__.get("ABSTRACT") and "NODES" in base.__dict__:
                cls._check(base)
        VISITORS.append(cls)

    @classmethod
    def _check(cls, family: type) -> None:
        table = {}
        for node in family.NODES:
            method = getattr(cls, family.PREFIX + node.__name__, None)
            if method is not None:
                table[node] = method
            elif node not in cls.REJECTS:
                raise TypeError(f"{cls.__qualname__} handles no "
                                f"{node.__name__} and does not reject it")
        setattr(cls, "_table_" + family.PREFIX, table)

    def rejected(self, node, reason: str):
        """A node this visitor rejects reached it: a bug in an earlier
        pass, unless a subclass says otherwise."""
        raise InternalError(f"{type(self).__name__} reached a "
                            f"{type(node).__name__}: {reason}")

    def _dispatch(self, prefix: str, node, *args):
        method = getattr(type(self), "_table_" + prefix).get(type(node))
        if method is None:
            return self.rejected(node, self.REJECTS[type(node)])
        return method(self, node, *args)


class ExprVisitor(_Visitor):
    """``visit_expr(node)`` calls ``expr_<Node>(node)``."""
    ABSTRACT = True
    PREFIX = "expr_"
    NODES = EXPR_NODES

    def visit_expr(self, node, *args):
        return self._dispatch("expr_", node, *args)


class StmtVisitor(_Visitor):
    """``visit_stmt(node)`` calls ``stmt_<Node>(node)``."""
    ABSTRACT = True
    PREFIX = "stmt_"
    NODES = STMT_NODES

    def visit_stmt(self, node, *args):
        return self._dispatch("stmt_", node, *args)
