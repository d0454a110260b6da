"""The function symbols ``usymname()``, ``usymdata()`` and the user
backtraces look addresses up in: those of the files the script's uprobes
are placed in (programs and libraries), carried into the module only
when the script calls one of them.  Each symbol is kept by file offset
(through the program headers), which the module reaches from an address
through the task's mapping of the file (runtime_c/usyms.c).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from . import ast as A
from .errors import StpcError
from .userprobes import function_symbols, load_segments, segment_offset

# the calls that walk the user stack (runtime_c/ustack.c): they need the
# files' unwind rules as well as their symbols
STACK_CALLS = ("ubacktrace", "sprint_ubacktrace", "print_ubacktrace")
CALLS = ("usymname", "usymdata", "print_ustack", "sprint_ustack") + \
    STACK_CALLS
# an alias of several names at one address: the exported name first
_BINDINGS = {"STB_GLOBAL": 0, "STB_WEAK": 1, "STB_LOCAL": 2}


@dataclass(frozen=True)
class UserSymbol:
    offset: int         # in the file
    size: int
    name: str


def calls_usyms(program, calls=CALLS) -> bool:
    """Whether the script calls one of ``calls``."""
    bodies = [h.decl.body for h in program.handlers] + \
        [f.decl.body for f in program.functions.values()]
    return any(isinstance(node, A.Call) and node.name in calls
               for body in bodies if body is not None
               for node in A.walk(body))


def file_symbols(path: str) -> List[UserSymbol]:
    """The sized functions of the file's .symtab (else .dynsym), one per
    address, sorted by file offset."""
    try:
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            segments = load_segments(elf)
            symbols = function_symbols(elf)
    except (OSError, ELFError) as exc:
        raise StpcError(f"cannot read {path}: {exc}", None)
    best: Dict[int, tuple] = {}
    for symbol in symbols:
        offset = segment_offset(segments, symbol["st_value"])
        if offset is None:
            continue
        name = symbol.name.split("@", 1)[0]
        rank = (_BINDINGS.get(symbol["st_info"]["bind"], 3),
                name.startswith("_"), name)
        if offset not in best or rank < best[offset][0]:
            best[offset] = (rank, UserSymbol(offset, symbol["st_size"],
                                             name))
    return [entry[1] for _, entry in sorted(best.items())]


def user_address(address: int, probe_address: int) -> str:
    """The C of a program's link-time ``address`` (a global variable's)
    where the file is loaded in the probed task: plus the load bias,
    the probed instruction's address (the uprobe handler's ip) less its
    link-time one; 0 for a program not built as PIE."""
    return (f"((u64){address:#x}ULL + ((u64)instruction_pointer(c->regs) - "
            f"{probe_address:#x}ULL))")
