"""``@entry(EXPR)`` in a .return probe: EXPR is evaluated when the probed
function is entered, and the probe reads the value it had then.

Any long or string expression is allowed, as in SystemTap: target
variables of the function at its entry, globals, calls.  Pass 2 checks
where @entry is used and what it holds (``check_entry_uses``); pass 3
places the values a .return probe reads at entry in the per-call storage
its entry handler fills (``EntryLayout``): a kretprobe instance's data,
or a process(...) .return's table (runtime_c/uentry.c).
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

from . import ast as A
from .errors import ErrorCollector
from .ir import FunctionInfo, Handler, ProbeKind, ProbeSite, T
from .targetvars import entry_captures

#: the bytes of entry values one call of a .return keeps: the kernel's
#: KRETPROBE_MAX_DATA_SIZE, and the runtime's STPC_UENTRY_MAX_SIZE
#: (runtime_c/stpc_runtime.h) for process(...) .return probes
ENTRY_DATA_MAX = 4096

_RETURN_KINDS = (ProbeKind.KRETPROBE, ProbeKind.URETPROBE)
_NOT_AT_RETURN = "@entry is only available in .return probes"


def is_entry(node) -> bool:
    return isinstance(node, A.AtOp) and node.op == "@entry"


def check_entry_uses(functions: Mapping[str, FunctionInfo],
                     handlers: Sequence[Handler],
                     sites: Sequence[ProbeSite], types: Mapping[object, T],
                     max_string_len: int, errors: ErrorCollector) -> None:
    """@entry only in the handlers of .return probes, with an
    expression that can be read at entry (type inference checked that it
    is one, of a type that can be stored), and values that fit the
    per-call storage."""
    for function in functions.values():
        for node in A.walk(function.decl.body):
            if is_entry(node):
                errors.add(_NOT_AT_RETURN, node.span,
                           hint="a function has no entry to read it at: "
                                "pass the value from the .return probe")
    kinds: Dict[int, set] = {}
    for site in sites:
        kinds.setdefault(site.handler, set()).add(site.kind)
    for handler in handlers:
        uses = [node for node in A.walk(handler.decl.body) if is_entry(node)]
        if uses and kinds.get(handler.index, set()) - set(_RETURN_KINDS):
            for node in uses:
                errors.add(_NOT_AT_RETURN, node.span,
                           hint="in a function's .return probe it reads "
                                "its expression when the function is "
                                "entered")
            continue
        for node in uses:
            _check_expression(node, handler, errors)
        if uses:
            _check_size(handler, types, max_string_len, errors)


def _check_expression(node: A.AtOp, handler: Handler,
                      errors: ErrorCollector) -> None:
    for inner in A.walk(node.args[0]):
        if is_entry(inner):
            errors.add("@entry inside @entry: its expression is read at "
                       "entry already", inner.span)
        elif isinstance(inner, A.Var) and inner.name in handler.scope.locals:
            errors.add(f"local '{inner.name}' in @entry: the expression is "
                       "read at the function's entry, where the probe's "
                       "locals are not set", inner.span,
                       hint="use a global, or read the local outside "
                            "@entry")


def _check_size(handler: Handler, types: Mapping[object, T],
                max_string_len: int, errors: ErrorCollector) -> None:
    total = 0
    for node in entry_captures(handler.decl.body, returns=True):
        total += max_string_len if _is_string(node, types) else 8
        if total > ENTRY_DATA_MAX:
            errors.add(f"the values this .return probe reads at entry take "
                       f"more than {ENTRY_DATA_MAX} bytes a call: each "
                       f"string takes MAXSTRINGLEN ({max_string_len}), "
                       "each number 8", node.span,
                       hint="read fewer strings at entry, or lower "
                            "MAXSTRINGLEN with -D")
            return


def _is_string(node, types: Mapping[object, T]) -> bool:
    return types.get(node) is T.STRING


class EntryLayout:
    """Where a .return probe's entry values lie in its per-call data
    (``c->data`` in both of its handlers): the numbers first, as s64s,
    then the strings, MAXSTRINGLEN bytes each."""

    def __init__(self, captures: Sequence[object], types: Mapping[object, T]):
        self.captures = list(captures)
        strings = [node for node in self.captures if _is_string(node, types)]
        numbers = [node for node in self.captures
                   if not _is_string(node, types)]
        self.slots: Dict[object, str] = {
            node: f"((s64 *)c->data)[{i}]" for i, node in enumerate(numbers)}
        self.refs: Dict[object, str] = {
            node: f"({slot})" for node, slot in self.slots.items()}
        self.refs.update(
            (node, f"((char *)c->data + {8 * len(numbers)} + "
                   f"{j} * MAXSTRINGLEN)") for j, node in enumerate(strings))
        self.strings = frozenset(strings)
        self.size = f"{8 * len(numbers)} + {len(strings)} * MAXSTRINGLEN" \
            if strings else str(8 * len(numbers))

    def __contains__(self, node) -> bool:
        return node in self.refs

    def ref(self, node) -> str:
        """The C of the value: an s64 lvalue, or a MAXSTRINGLEN buffer."""
        return self.refs[node]

    def store(self, node, value: str) -> str:
        """A C statement saving ``value``, the capture's C, at entry."""
        if node in self.strings:
            return f"stpc_str_assign({self.ref(node)}, {value});"
        return f"{self.slots[node]} = {value};"
