"""Which probe handlers may call given built-ins, directly or through
script functions to any depth.  What pass 2 cannot see through, embedded
C (a function with a %{ %} body, or top-level C), counts as calling
anything.  entryregs.py asks about the built-ins that walk the
interrupted context, translate.py about the ones that print.
"""

from __future__ import annotations

from typing import AbstractSet, Iterable, Mapping, Set

from . import ast as A
from .ir import FunctionInfo, Handler


def handlers_calling(handlers: Iterable[Handler],
                     functions: Mapping[str, FunctionInfo],
                     top_level_c: bool,
                     builtins: AbstractSet[str]) -> Set[int]:
    """The handlers (by index) that may call one of ``builtins``: all of
    them when the script has top-level embedded C."""
    handlers = list(handlers)
    if top_level_c:
        return {h.index for h in handlers}
    reaching = _functions_calling(functions, builtins)
    return {h.index for h in handlers
            if h.scope.calls & reaching or _calls(h.decl.body, builtins)}


def expressions_calling(nodes: Iterable, functions: Mapping[str, FunctionInfo],
                        top_level_c: bool,
                        builtins: AbstractSet[str]) -> bool:
    """Whether evaluating ``nodes`` may call one of ``builtins``."""
    if top_level_c:
        return True
    reaching = _functions_calling(functions, builtins) | builtins
    return any(isinstance(node, A.Call) and node.name in reaching
               for root in nodes for node in A.walk(root))


def _functions_calling(functions: Mapping[str, FunctionInfo],
                       builtins: AbstractSet[str]) -> Set[str]:
    found = {name for name, f in functions.items()
             if f.decl.embedded is not None or _calls(f.decl.body, builtins)}
    changed = True
    while changed:
        changed = False
        for name, f in functions.items():
            if name not in found and f.scope.calls & found:
                found.add(name)
                changed = True
    return found


def _calls(body, builtins: AbstractSet[str]) -> bool:
    return any(isinstance(node, A.Call) and node.name in builtins
               for node in A.walk(body))
