"""Globals that are only ever added to: per-CPU counters.

A scalar ``long`` global whose every write is ``g++``, ``g--``, ``++g``,
``--g``, ``g += e`` or ``g -= e`` used as a statement (its value thrown
away) needs no lock: each CPU adds to its own copy and a read sums them,
the way statistics work.  Anything else that writes the global (``=``, a
compound operator other than ``+=``/``-=``, ``delete``, an increment whose
value is used) keeps it an ordinary locked global.
"""

from __future__ import annotations

from typing import Iterator, Set

from . import ast as A
from .ir import GlobalSym, Program, T

_ADDING = ("+=", "-=")


def mark_counters(program: Program) -> None:
    """Sets ``GlobalSym.counter`` on the globals that qualify."""
    adds: Set[int] = set()      # ids of the statement-level adds
    added: Set[str] = set()
    bodies = [h.scope.body for h in program.handlers] + \
        [f.scope.body for f in program.functions.values()]
    for body in bodies:
        for node in _discarded_values(body):
            sym = _added_global(program, node)
            if sym is not None:
                adds.add(id(node))
                added.add(sym.name)
    disqualified = set()
    for body in bodies:
        for node in A.walk(body):
            target = _written_global(program, node)
            if target is not None and id(node) not in adds:
                disqualified.add(target)
    for name in added - disqualified:
        program.globals[name].counter = True


def _discarded_values(body) -> Iterator[object]:
    """Expressions whose value nothing uses."""
    for node in A.walk(body):
        if isinstance(node, A.ExprStmt):
            yield node.expr
        elif isinstance(node, A.For):
            yield from (e for e in (node.init, node.step) if e is not None)


def _added_global(program: Program, node) -> "GlobalSym | None":
    if isinstance(node, A.Crement):
        target = node.target
    elif isinstance(node, A.Assign) and node.op in _ADDING:
        target = node.target
    else:
        return None
    sym = program.symbols.get(target) if isinstance(target, A.Var) else None
    if isinstance(sym, GlobalSym) and not sym.is_array and \
            sym.type is T.LONG:
        return sym
    return None


def _written_global(program: Program, node) -> "str | None":
    if isinstance(node, (A.Assign, A.Crement, A.Delete)) and \
            isinstance(node.target, A.Var):
        sym = program.symbols.get(node.target)
        if isinstance(sym, GlobalSym):
            return sym.name
    return None
