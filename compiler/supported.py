"""What this stpc supports, printed the way SystemTap's
``--dump-functions`` and ``--dump-probe-types`` print theirs: one
function signature or probe point form a line, sorted."""

from __future__ import annotations

from typing import List, Optional

from .builtins import BUILTINS, VARIADIC_SIGNATURES
from .elaborate import KNOWN_PROBE_POINTS, TIMER_UNITS
from .ir import T
from .probes import FunctionSuffix


def _type(ret: Optional[T]) -> str:
    return str(ret) if ret is not None else "unknown"    # SystemTap's word


def function_signatures() -> List[str]:
    """``NAME:TYPE (PARAM:TYPE, ...)``, a line for each number of
    arguments a built-in takes."""
    lines = [f"{name}:{_type(ret)} ({params})"
             for name, (ret, params) in VARIADIC_SIGNATURES.items()]
    for builtin in BUILTINS.values():
        for form in builtin.forms():
            params = ", ".join(f"{name}:{kind}" for name, kind in form)
            lines.append(f"{builtin.name}:{_type(builtin.ret)} ({params})")
    return sorted(lines)


def probe_types() -> List[str]:
    """Each probe point form, arguments written ``(number)`` or
    ``(string)``."""
    forms = [point.replace("(N)", "(number)") for point in KNOWN_PROBE_POINTS
             if not point.startswith("timer.") or "(" not in point]
    forms += [f"timer.{unit}(number)" for unit in TIMER_UNITS]
    for head in ("kernel", "module(string)"):
        forms += [f"{head}.function(string)" +
                  (f".{suffix.value}" if suffix.value else "")
                  for suffix in FunctionSuffix]
        forms.append(f"{head}.statement(string)")
    return sorted(forms)
