"""Built-in functions: their signatures, for the type checker.

How each is translated to C lives in translate.py; output functions whose
arguments are of any type (print, printf ...) are typed there specially.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from .ir import T

L, S = T.LONG, T.STRING


@dataclass(frozen=True)
class Builtin:
    name: str
    ret: Optional[T]                # None: returns nothing
    params: Tuple[T, ...] = ()
    optional: int = 0               # trailing params that may be omitted


# Output functions taking any number of arguments of either type.
VARIADIC_OUTPUT = {"print", "println", "printd", "printdln", "printf",
                   "sprintf", "sprint", "sprintln"}

_TABLE = [
    Builtin("exit", None),
    Builtin("error", None, (S,)),
    Builtin("strlen", L, (S,)),
    Builtin("substr", S, (S, L, L), optional=1),
    Builtin("isinstr", L, (S, S)),
    Builtin("strtol", L, (S, L)),
    Builtin("str_replace", S, (S, S, S)),
    Builtin("text_str", S, (S,)),
    Builtin("tokenize", S, (S, S), optional=1),  # (delim): continues
    Builtin("stringat", L, (S, L)),
    Builtin("print_backtrace", None),
    Builtin("backtrace", S),
    Builtin("sprint_backtrace", S),
    Builtin("kernel_string", S, (L, S), optional=1),
    Builtin("kernel_string_n", S, (L, L)),
    Builtin("kernel_long", L, (L,)),
    Builtin("kernel_int", L, (L,)),
    Builtin("kernel_short", L, (L,)),
    Builtin("kernel_char", L, (L,)),
    Builtin("user_string", S, (L, S), optional=1),
    Builtin("user_string_n", S, (L, L)),
    Builtin("user_long", L, (L,)),
    Builtin("user_int", L, (L,)),
    Builtin("user_short", L, (L,)),
    Builtin("user_char", L, (L,)),
    Builtin("probefunc", S),
    Builtin("execname", S),
    Builtin("pid", L),
    Builtin("tid", L),
    Builtin("ppid", L),
    Builtin("uid", L),
    Builtin("cpu", L),
    Builtin("target", L),
    Builtin("pp", S),
    Builtin("gettimeofday_s", L),
    Builtin("gettimeofday_ms", L),
    Builtin("gettimeofday_us", L),
    Builtin("gettimeofday_ns", L),
    Builtin("local_clock_ns", L),
    Builtin("jiffies", L),
]

BUILTINS = {b.name: b for b in _TABLE}


def is_builtin(name: str) -> bool:
    return name in BUILTINS or name in VARIADIC_OUTPUT
