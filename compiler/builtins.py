"""Built-in functions: their signatures, for the type checker, and the C
of those that are one C expression of their arguments.

The others are lowered by compiler/lower_calls.py; output functions whose
arguments are of any type (print, printf ...) are typed specially.
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
    # the C expression, {0}... standing for the arguments' C; empty: the
    # lowering in lower_calls.LOWERINGS
    c: str = ""


# Output functions taking any number of arguments of either type.
VARIADIC_OUTPUT = {"print", "println", "printd", "printdln", "printf",
                   "sprintf", "sprint", "sprintln"}

_TABLE = [
    Builtin("exit", None, c="({{ stpc_request_exit(); 0; }})"),
    Builtin("error", None, (S,)),
    Builtin("strlen", L, (S,), c="((s64)strnlen({0}, MAXSTRINGLEN))"),
    Builtin("substr", S, (S, L, L), optional=1),
    Builtin("isinstr", L, (S, S)),
    Builtin("strtol", L, (S, L)),
    Builtin("str_replace", S, (S, S, S)),
    Builtin("text_str", S, (S,)),
    Builtin("tokenize", S, (S, S), optional=1),  # (delim): continues
    Builtin("stringat", L, (S, L)),
    Builtin("print_backtrace", None, c="({{ stpc_print_backtrace(c); 0; }})"),
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
    Builtin("execname", S, c="current->comm"),
    Builtin("pid", L, c="((s64)task_tgid_nr(current))"),
    Builtin("tid", L, c="((s64)task_pid_nr(current))"),
    Builtin("ppid", L, c="((s64)task_tgid_nr(current->real_parent))"),
    Builtin("uid", L,
            c="((s64)from_kuid_munged(current_user_ns(), current_uid()))"),
    Builtin("cpu", L, c="((s64)smp_processor_id())"),
    Builtin("target", L, c="((s64)stpc_target)"),
    Builtin("pp", S, c="c->probe->point"),
    Builtin("gettimeofday_s", L, c="((s64)ktime_get_real_seconds())"),
    Builtin("gettimeofday_ms", L, c="((s64)ktime_to_ms(ktime_get_real()))"),
    Builtin("gettimeofday_us", L, c="((s64)ktime_to_us(ktime_get_real()))"),
    Builtin("gettimeofday_ns", L, c="((s64)ktime_get_real_ns())"),
    Builtin("local_clock_ns", L, c="((s64)local_clock())"),
    Builtin("jiffies", L, c="((s64)jiffies)"),
]

BUILTINS = {b.name: b for b in _TABLE}


def is_builtin(name: str) -> bool:
    return name in BUILTINS or name in VARIADIC_OUTPUT
