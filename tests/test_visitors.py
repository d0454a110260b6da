"""Every visitor of the syntax tree handles every expression and statement
node or says it rejects it (compiler/visit.py checks that when the class
is defined).  These tests list the visitors that were checked, and show
that a node added to the tree without teaching them fails the check."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import stpc.compiler
from stpc.compiler import ast as A
from stpc.compiler import visit
from stpc.compiler.errors import InternalError

for _module in pkgutil.iter_modules(stpc.compiler.__path__):
    importlib.import_module(f"stpc.compiler.{_module.name}")

EXPECTED = {
    "stpc.compiler.lower_expr.ExprLowering",
    "stpc.compiler.lower_stmt.StmtLowering",
    "stpc.compiler.near._Token",
    "stpc.compiler.targetvars.TargetCompiler",
    "stpc.compiler.typecollect.Collector",
    "stpc.compiler.unparse._ExprText",
    "stpc.compiler.unparse._StmtText",
}
FAMILIES = (visit.ExprVisitor, visit.StmtVisitor)
CHECKED = [c for c in visit.VISITORS if c.__module__.startswith("stpc.")]
SPAN = A.Span("t.stp", 1, 1)


def _name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _families(cls):
    return [family for family in FAMILIES if issubclass(cls, family)]


@A.node
class _Unknown:
    """A node the tree does not have (yet)."""
    span: A.Span


def test_every_visitor_of_the_compiler_is_the_expected_one():
    assert {_name(c) for c in CHECKED} == EXPECTED


@pytest.mark.parametrize("visitor", CHECKED, ids=_name)
def test_a_visitor_handles_or_rejects_every_node(visitor):
    for family in _families(visitor):
        for node in family.NODES:
            handled = hasattr(visitor, family.PREFIX + node.__name__)
            assert handled != (node in visitor.REJECTS), node.__name__


@pytest.mark.parametrize("visitor", CHECKED, ids=_name)
def test_a_new_node_fails_the_check_of_every_visitor(visitor, monkeypatch):
    for family in _families(visitor):
        monkeypatch.setattr(family, "NODES", family.NODES + (_Unknown,))
        with pytest.raises(TypeError, match="handles no _Unknown"):
            type("Again", (visitor,), {})
        monkeypatch.undo()


def test_a_rejected_node_reaching_a_visitor_is_a_bug(monkeypatch):
    monkeypatch.setattr(visit, "VISITORS", [])

    class OnlyNumbers(visit.ExprVisitor):
        REJECTS = {node: "no names here" for node in visit.EXPR_NODES
                   if node is not A.IntLit}

        def expr_IntLit(self, node):
            return node.value

    assert visit.VISITORS == [OnlyNumbers]
    assert OnlyNumbers().visit_expr(A.IntLit(SPAN, 7)) == 7
    with pytest.raises(InternalError, match="reached a Var: no names here"):
        OnlyNumbers().visit_expr(A.Var(SPAN, "x"))
