"""Built-in functions: their signatures, for the type checker and
``stpc --dump-functions``, and the C of those that are one C expression
of their arguments.

The others are lowered by compiler/lower_calls.py; output functions whose
arguments are of any type (print, printf ...) are typed specially.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

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
    names: str = ""                 # the params' names, SystemTap's
    omits_first: bool = False       # the optional params lead instead

    def forms(self) -> Iterator[Tuple[Tuple[str, T], ...]]:
        """Each list of (name, type) a call may give, fewest first."""
        named = tuple(zip(self.names.split(), self.params))
        for omitted in range(self.optional, -1, -1):
            yield named[omitted:] if self.omits_first else \
                named[:len(named) - omitted]

    def param_types(self, count: int) -> Tuple[T, ...]:
        """The types of a call's ``count`` arguments."""
        for form in self.forms():
            if len(form) == count:
                return tuple(t for _, t in form)
        return self.params


# Output functions taking any number of arguments of either type, with
# their parameters as --dump-functions shows them.
VARIADIC_SIGNATURES = {
    "print": (None, "value:any, ..."), "println": (None, "..."),
    "sprint": (S, "..."), "sprintln": (S, "..."),
    "printd": (None, "delimiter:string, value:any, value:any, ..."),
    "printdln": (None, "delimiter:string, value:any, value:any, ..."),
    "printf": (None, "format:string, ..."),
    "sprintf": (S, "format:string, ..."),
}
VARIADIC_OUTPUT = frozenset(VARIADIC_SIGNATURES)

_TABLE = [
    Builtin("exit", None, c="({{ stpc_request_exit(); 0; }})"),
    Builtin("error", None, (S,), names="msg"),
    Builtin("strlen", L, (S,), names="s",
            c="((s64)strnlen({0}, MAXSTRINGLEN))"),
    Builtin("substr", S, (S, L, L), optional=1, names="str start length"),
    Builtin("isinstr", L, (S, S), names="s1 s2"),
    Builtin("strtol", L, (S, L), names="str base"),
    Builtin("str_replace", S, (S, S, S), names="prnt_str srch_str rplc_str"),
    Builtin("text_str", S, (S,), names="input"),
    # tokenize(delim) continues the string given last
    Builtin("tokenize", S, (S, S), optional=1, names="input delim",
            omits_first=True),
    Builtin("stringat", L, (S, L), names="str pos"),
    Builtin("print_backtrace", None, c="({{ stpc_print_backtrace(c); 0; }})"),
    Builtin("backtrace", S),
    Builtin("sprint_backtrace", S),
    Builtin("kernel_string", S, (L, S), optional=1, names="addr err_msg"),
    Builtin("kernel_string_n", S, (L, L), names="addr n"),
    Builtin("kernel_long", L, (L,), names="addr"),
    Builtin("kernel_int", L, (L,), names="addr"),
    Builtin("kernel_short", L, (L,), names="addr"),
    Builtin("kernel_char", L, (L,), names="addr"),
    Builtin("user_string", S, (L, S), optional=1, names="addr err_msg"),
    Builtin("user_string_n", S, (L, L), names="addr n"),
    Builtin("user_long", L, (L,), names="addr"),
    Builtin("user_int", L, (L,), names="addr"),
    Builtin("user_short", L, (L,), names="addr"),
    Builtin("user_char", L, (L,), names="addr"),
    Builtin("probefunc", S),
    Builtin("uaddr", L, c="stpc_uaddr()"),
    *(Builtin(name, L, (L,), names="n") for name in (
        "int_arg", "uint_arg", "long_arg", "ulong_arg", "longlong_arg",
        "ulonglong_arg", "pointer_arg", "s32_arg", "u32_arg", "s64_arg",
        "u64_arg")),
    Builtin("usymname", S, (L,), names="addr"),
    Builtin("usymdata", S, (L,), names="addr"),
    Builtin("print_ubacktrace", None,
            c="({{ stpc_print_ubacktrace(c); 0; }})"),
    Builtin("sprint_ubacktrace", S),
    Builtin("ubacktrace", S),
    Builtin("print_ustack", None, (S,), names="stk",
            c="({{ stpc_print_ustack(c, {0}); 0; }})"),
    Builtin("sprint_ustack", S, (S,), names="stk"),
    Builtin("execname", S, c="current->comm"),
    Builtin("pid", L, c="((s64)task_tgid_nr(current))"),
    Builtin("tid", L, c="((s64)task_pid_nr(current))"),
    Builtin("ppid", L, c="((s64)task_tgid_nr(current->real_parent))"),
    Builtin("task_current", L, c="((s64)(unsigned long)current)"),
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
#: the built-ins that print to the script's output: stap names each of
#: them print...; the sprint... ones return the same text instead
OUTPUT_BUILTINS = frozenset(
    name for name in (*VARIADIC_SIGNATURES, *(b.name for b in _TABLE))
    if name.startswith("print"))

BUILTINS = {b.name: b for b in _TABLE}


def is_builtin(name: str) -> bool:
    return name in BUILTINS or name in VARIADIC_OUTPUT
