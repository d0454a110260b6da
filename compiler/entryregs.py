"""Which of the probed registers a function-entry handler needs: that
picks the ftrace_ops that carries its site (runtime_c/entry_ftrace.h).

The ops that saves every register (FTRACE_OPS_FL_SAVE_REGS) costs the
most per hit; the one that does not still hands its callback the
argument registers and the stack pointer at the entry (x86-64's
ftrace_regs, where the kernel has it).  The answer comes from what the
target-variable reads were compiled to (targetvars notes every register
their C reads or writes), never from the text of the generated C; what
pass 2 cannot see through (embedded C, backtraces) needs them all.
"""

from __future__ import annotations

from typing import AbstractSet, Iterable, Mapping, Set

from . import ast as A
from .ir import EntryRegisters, FunctionInfo, Handler
from .varscope import ARGUMENT_REGISTERS

# what the ftrace_ops that saves no register still holds at an entry
ENTRY_ARGUMENTS = frozenset(ARGUMENT_REGISTERS) | {"sp"}

# built-ins that walk the interrupted context (backtraces): kept where
# the handler sees everything a kprobe would give it
_CONTEXT_CALLS = frozenset({"print_backtrace", "backtrace",
                            "sprint_backtrace"})


def entry_registers(reads: AbstractSet[str], writes: bool,
                    opaque: bool) -> EntryRegisters:
    """What a handler needs, from the registers its target reads use,
    whether it writes one (guru mode), and whether it runs C pass 2
    cannot see through."""
    if opaque or writes or not reads <= ENTRY_ARGUMENTS:
        return EntryRegisters.ALL
    return EntryRegisters.ARGUMENTS if reads else EntryRegisters.NONE


def opaque_handlers(handlers: Iterable[Handler],
                    functions: Mapping[str, FunctionInfo],
                    top_level_c: bool) -> Set[int]:
    """The handlers (by index) that may run embedded C (a function with
    a %{ %} body, called directly or not) or a backtrace built-in: all
    of them when the script has top-level embedded C."""
    handlers = list(handlers)
    if top_level_c:
        return {h.index for h in handlers}
    opaque_functions = _opaque_functions(functions)
    return {h.index for h in handlers
            if h.scope.calls & opaque_functions or _calls_context(h.decl.body)}


def _opaque_functions(functions: Mapping[str, FunctionInfo]) -> Set[str]:
    """Functions that run embedded C or a backtrace, or call one that
    does, to any depth."""
    found = {name for name, f in functions.items()
             if f.decl.embedded is not None or _calls_context(f.decl.body)}
    changed = True
    while changed:
        changed = False
        for name, f in functions.items():
            if name not in found and f.scope.calls & found:
                found.add(name)
                changed = True
    return found


def _calls_context(body) -> bool:
    return any(isinstance(node, A.Call) and node.name in _CONTEXT_CALLS
               for node in A.walk(body))
