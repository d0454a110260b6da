"""Tracepoint probes dispatched on their guard, once per event.

The syscall tapset's aliases all sit on the ``raw_syscalls`` tracepoints,
each beginning ``if ($id != NR) next`` (``$regs->orig_ax`` on
``sys_exit``): ``probe syscall.*`` would run a hundred handlers on every
system call for all but one to leave at once.  When several probes on
one tracepoint begin with such a guard on the same key, the module
registers one probe function for them (templates/module.c), which
computes the key once and runs, through a ``switch``, only the probes
whose constant it equals.

A guard is the handler's first statement (after an alias's prologue is
spliced in), ``if (KEY != CONST) next`` (or ``CONST != KEY``, or several
such tests of one KEY joined by ``&&``) without an ``else``, where CONST
is an integer literal (a ``@define`` expands to one) and KEY a
tracepoint argument (``$id``) or an integer member of the struct an
argument points to (``$regs->orig_ax``), read at a constant offset.  The matched handlers keep their guard: it holds, and it is
where a fault reading the key is reported (the probe function then runs
every probe of its group, whose guards each fault as before).

The groups are a side table of the ``Program`` (``dispatch``); ``-p2``
prints them.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from . import ast as A
from . import ctype as C
from .ir import DispatchGroup, DispatchKey, Handler, ProbeKind, ProbeSite
from .unparse import expr as expr_text

#: the sizes a key is read with (a scalar read, runtime_c/stpc_deref.h)
_KEY_SIZES = (1, 2, 4, 8)


def dispatch_groups(handlers: Sequence[Handler],
                    sites: Sequence[ProbeSite]) -> Tuple[DispatchGroup, ...]:
    """The tracepoint probes (by index in ``sites``) that share a
    dispatched probe function: two or more on one tracepoint, equally
    optional, guarded on one key; in the order of their first site."""
    found: Dict[tuple, List[Tuple[int, Tuple[int, ...]]]] = {}
    for index, site in enumerate(sites):
        guard = site_guard(site, handlers[site.handler].decl.body)
        if guard is None:
            continue
        key, values = guard
        place = (site.resolved.prototype.name, site.resolved.module,
                 site.point.optional, key)
        found.setdefault(place, []).append((index, values))
    return tuple(DispatchGroup(sites[members[0][0]].description, place[-1],
                               tuple(members))
                 for place, members in found.items() if len(members) > 1)


def site_guard(site: ProbeSite, body: A.Block
               ) -> Optional[Tuple[DispatchKey, Tuple[int, ...]]]:
    """The key and constants of the guard ``body`` begins with at a
    tracepoint site, or None."""
    if site.kind is not ProbeKind.TRACEPOINT:
        return None
    guard = _first_statement(body)
    if not isinstance(guard, A.If) or guard.otherwise is not None or \
            not isinstance(_first_statement(guard.then), A.Next):
        return None
    return _unequal(guard.cond, site.resolved.prototype)


def _unequal(cond, prototype: C.Prototype
             ) -> Optional[Tuple[DispatchKey, Tuple[int, ...]]]:
    """``KEY != CONST``, or a chain of them on one key joined by ``&&``
    (the key is none of the constants): the key and the constants."""
    if not isinstance(cond, A.Binary):
        return None
    if cond.op == "&&":
        left = _unequal(cond.left, prototype)
        right = _unequal(cond.right, prototype)
        if left is None or right is None or left[0] != right[0]:
            return None
        return left[0], left[1] + right[1]
    if cond.op != "!=":
        return None
    for operand, constant in ((cond.left, cond.right),
                              (cond.right, cond.left)):
        if isinstance(constant, A.IntLit):
            key = tracepoint_key(operand, prototype)
            if key is not None:
                return key, (constant.value,)
    return None


def tracepoint_key(node, prototype: C.Prototype) -> Optional[DispatchKey]:
    """``$arg`` or ``$arg->member`` as a key read from the probe
    function's argument words, or None for anything else."""
    if isinstance(node, A.TargetVar):
        found = _argument(node, prototype)
        if found is None:
            return None
        index, ctype = found
        return _scalar_key(node, index, None, ctype)
    if isinstance(node, A.Member) and isinstance(node.base, A.TargetVar):
        found = _argument(node.base, prototype)
        if found is None:
            return None
        index, ctype = found
        pointer = C.strip(ctype)
        if not isinstance(pointer, C.Pointer):
            return None
        struct = C.strip(pointer.target)
        if not isinstance(struct, C.Struct) or struct.declaration:
            return None
        member = struct.member(node.name)
        if member is None or member[1].bit_size:
            return None
        return _scalar_key(node, index, member[0], member[1].type)
    return None


def _argument(node: A.TargetVar, prototype: C.Prototype
              ) -> Optional[Tuple[int, C.CType]]:
    if node.context or node.pretty:
        return None
    for index, param in enumerate(prototype.params):
        if param.name == node.name:
            return index, param.type
    return None


def _scalar_key(node, arg: int, offset: Optional[int],
                ctype: C.CType) -> Optional[DispatchKey]:
    if not C.is_integer(ctype):
        return None
    t = C.strip(ctype)
    if t.size not in _KEY_SIZES:
        return None
    return DispatchKey(expr_text(node), arg, offset, t.size,
                       bool(getattr(t, "signed", False)))


def _first_statement(stmt) -> Optional[object]:
    """The first statement ``stmt`` runs: into blocks, past empty ones."""
    if isinstance(stmt, A.Block):
        for inner in stmt.body:
            found = _first_statement(inner)
            if found is not None:
                return found
        return None
    if isinstance(stmt, A.Empty):
        return None
    return stmt
