"""Which member reads of a handler share one copy of kernel memory.

A handler reading ``$item->kind``, ``$item->size`` and ``$item->owner``
makes one fault-safe read per member.  Members read off the same pointer
(the same ``$var`` or chain prefix, hence the same C expression for the
pointer) that lie within BLOCK_BYTES of each other are read instead
through one block (runtime_c/stpc_deref.h, ``stpc_block_deref``): the
first read copies the whole range, the others take their bytes from the
copy.  The copy is made on first use and again whenever the pointer's
value differs from the copy's, so no read is hoisted past control flow;
where the copy faults each member is read on its own, so errors and their
locations do not change.

The plan is a side table from Member nodes to their block; targetvars.py
reads it while compiling the chains.  Left out: a handler that writes
target memory (guru mode: a write between two reads must be seen), a
``.return`` handler (its chains are read at entry), user memory, bit
fields, members that are not 1, 2, 4 or 8 byte scalars, and chains with
a subscript or cast on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from . import ast as A
from .targetvars import written_targets

#: the most bytes one block copies (runtime_c: STPC_READ_BLOCK_WORDS words)
BLOCK_BYTES = 64
WORD = 8


@dataclass(frozen=True)
class ReadBlock:
    """One block: the frame temporary holding the copy, where the copy
    starts from the pointer, and how many words it copies."""
    name: str
    start: int
    words: int


#: (offset from the pointer, size) of a scalar member read off a pointer
Layout = Callable[[A.Member], Optional[Tuple[int, int]]]


def chain_key(node) -> Optional[Tuple[str, ...]]:
    """The names of a ``$var->a->b`` chain, or None for anything else
    (a subscript, a cast, a context group on the way)."""
    names: List[str] = []
    while isinstance(node, A.Member):
        names.append(node.name)
        node = node.base
    if not isinstance(node, A.TargetVar) or node.context:
        return None
    names.append("$" + node.name)
    return tuple(reversed(names))


def unread_members(body) -> set:
    """Members named without being read: under ``&`` or ``@defined``."""
    found = set()
    for node in A.walk(body):
        if isinstance(node, A.AddressOf):
            found.add(node.operand)
        elif isinstance(node, A.AtOp) and node.op == "@defined":
            found.update(node.args)
    return found


def plan_read_blocks(body, layout: Layout,
                     new_name: Callable[[], str]) -> Dict[A.Member, ReadBlock]:
    """The handler's member reads that go through a block, and the block
    of each.  ``layout`` gives a member's offset and size (None where it
    is not a scalar member off a kernel pointer); ``new_name`` names a
    block's frame temporary."""
    if written_targets(body):
        return {}
    unread = unread_members(body)
    reads: Dict[Tuple[str, ...], List[Tuple[int, int, A.Member]]] = {}
    for node in A.walk(body):
        if not isinstance(node, A.Member) or node in unread:
            continue
        base = chain_key(node.base)
        place = layout(node) if base is not None else None
        if place is not None:
            reads.setdefault(base, []).append((*place, node))
    plan: Dict[A.Member, ReadBlock] = {}
    for members in reads.values():
        for cluster in _clusters(sorted(members, key=lambda m: m[:2])):
            start = cluster[0][0]
            end = max(offset + size for offset, size, _ in cluster)
            block = ReadBlock(new_name(), start, -(-(end - start) // WORD))
            plan.update((node, block) for _, _, node in cluster)
    return plan


def _clusters(members):
    """Runs of members (sorted by offset) within BLOCK_BYTES of the
    first, of two reads or more."""
    run: list = []
    for member in members:
        offset, size, _ = member
        if run and offset + size - run[0][0] > BLOCK_BYTES:
            if len(run) > 1:
                yield run
            run = []
        run.append(member)
    if len(run) > 1:
        yield run
