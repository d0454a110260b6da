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

from .callreach import handlers_calling
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
    """The handlers (by index) that may run embedded C or a backtrace
    built-in."""
    return handlers_calling(handlers, functions, top_level_c,
                            _CONTEXT_CALLS)
