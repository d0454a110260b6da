"""``-D NAME=VALUE`` and ``-s MB``, checked before anything is built.

The runtime's limits (runtime_c/stpc_limits.h) take whole numbers in a
range the module builds and runs with; a value outside it is refused here,
with the range, instead of failing in kbuild (or, worse, building a module
that overflows the kernel stack).  Other names are passed to the C
compiler as they are, with a warning: they may be meant for C code, or be
a typo of a limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import StpcError, nearest, warn
from ..loader.protocol import RECORD, RECORD_ALIGN

Define = Tuple[str, str]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: what a value may hold to reach the C compiler through the Kbuild file
#: unchanged: no blank, quote, '$' or '#' make would read
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_+\-*/().]*$")
#: decimal or hex: a leading 0 would be octal to C, and decimal to a reader
_NUMBER = re.compile(r"^(?:0[xX][0-9a-fA-F]+|0|[1-9][0-9]*)$")

_INT_MAX = 2**31 - 1
#: the loader reads the data file 1 MiB at a time (loader/run.py), and
#: one record (a header and a handler's output) must fit in a read
_LOADER_READ = 1 << 20
#: a handler spinning for a lock longer than this stalls its CPU
_MAX_LOCK_WAIT_US = 1_000_000
_LOCK_WAIT = ("a handler waits up to MAXTRYLOCK times TRYLOCKDELAY "
              "microseconds for a lock, with preemption off: one second at "
              "most, or its CPU stalls")


@dataclass(frozen=True)
class Limit:
    name: str
    low: int
    high: int
    default: Optional[int]      # None: the compiler computes it
    why: str                    # why the range ends where it does
    power_of_two: bool = False


LIMITS: Dict[str, Limit] = {limit.name: limit for limit in (
    Limit("MAXSTRINGLEN", 16, 65536, 512,
          "the runtime needs 16 bytes at least (runtime_c/stpc_limits.h); "
          "longer strings are untested, and each string variable, "
          "temporary and array slot takes MAXSTRINGLEN bytes"),
    Limit("MAXACTION", 1, _INT_MAX // 10, 1000,
          "begin and end probes may take ten times MAXACTION, a C int"),
    Limit("MAXACTION_INTERRUPTIBLE", 1, _INT_MAX, None,
          "it is a C int"),
    Limit("MAXNESTING", 1, 64, None,
          "each call level is a frame on the kernel stack the probe runs "
          "on (about 64 bytes): deeper recursion could overflow it"),
    Limit("MAXMAPENTRIES", 1, 2**31, 2048,
          "arrays are indexed with 32-bit numbers"),
    Limit("MAXTRYLOCK", 0, 100_000, 100, _LOCK_WAIT),
    Limit("TRYLOCKDELAY", 0, 10_000, 10, _LOCK_WAIT),
    Limit("MAXSKIPPED", 0, _INT_MAX, 100, "it is a C int"),
    Limit("MAXERRORS", 0, _INT_MAX, 0, "it is a C int"),
    Limit("STP_OVERLOAD_INTERVAL", 1, 2**62, 1_000_000_000,
          "it is a number of cycles the runtime adds up in 64 bits"),
    Limit("STP_OVERLOAD_THRESHOLD", 1, 2**62, 500_000_000,
          "it is a number of cycles the runtime adds up in 64 bits"),
    Limit("STPC_OVERLOAD_SAMPLE", 1, 1 << 16, 8,
          "the overload check times one handler in this many on each CPU "
          "(runtime_c/stpc_handler.h): a power of two, and the cycles of "
          "one handler times it must not overflow 64 bits",
          power_of_two=True),
    Limit("STPC_PRINT_BUFSIZE", 64, _LOADER_READ - RECORD.size, 8192,
          "a handler's output is one record: a line (64 bytes) at least, "
          "and at most what the loader reads at once (1 MiB), record "
          "header included"),
    Limit("STPC_BUFFER_SIZE", 1 << 15, 1 << 31, 1 << 20,
          "the output ring of each CPU is a power of two, from 32 KiB (two "
          "records of 8 KiB) to 2 GiB (-s 2048)", power_of_two=True),
)}

#: SystemTap's settings for parts of its runtime stpc does not have
_STAP_ONLY = frozenset((
    "MAXBACKTRACE", "MAXTRACE", "MINSTACKSPACE", "INTERRUPTIBLE",
    "STP_PROCFS_BUFSIZE", "MAXUPROBES", "STP_MAXMEMORY"))


def check_defines(texts: Sequence[str],
                  buffer_mb: Optional[int] = None) -> Tuple[Define, ...]:
    """The -D options (and -s, as STPC_BUFFER_SIZE) as (NAME, VALUE) pairs
    for the C compiler, numbers written in decimal; refused when a limit
    would not build or run, warned about when stpc does not know the
    name."""
    defines: List[Define] = []
    given: Dict[str, str] = {}
    for text in texts:
        name, value = _one_define(text)
        if name in given:
            raise StpcError(f"-D {name} given twice ({given[name]!r} and "
                            f"{text!r})", hint="give each name once")
        given[name] = text
        defines.append((name, value))
    if buffer_mb is not None:
        if "STPC_BUFFER_SIZE" in given:
            raise StpcError("-s and -D STPC_BUFFER_SIZE set the same "
                            "buffer: give one of them")
        defines.append(("STPC_BUFFER_SIZE", str(_buffer_bytes(buffer_mb))))
    _check_together(dict(defines))
    return tuple(defines)


#: stpc's on/off switches, given as -D NAME (or NAME=1)
#: the -D names that change the runtime's code: the sizes at the top of
#: runtime_c/stpc_limits.h and the switch kprobes.c reads; every other
#: limit is read at run time from the module (struct stpc_run_limits)
RUNTIME_DEFINES = ("MAXSTRINGLEN", "STPC_PRINT_BUFSIZE", "STPC_BUFFER_SIZE",
                   "STPC_NO_FTRACE")

SWITCHES: Dict[str, str] = {
    "STPC_NO_FTRACE": "function entries are kprobes, never ftrace",
    "STP_NO_OVERLOAD": "handlers may take any share of a CPU: no "
                       "STP_OVERLOAD_THRESHOLD check",
}


def _one_define(text: str) -> Define:
    name, equals, value = text.partition("=")
    limit = LIMITS.get(name)
    if limit is not None:
        return name, str(_limit_value(limit, text, value if equals else None))
    if name in SWITCHES:
        if value not in ("", "1"):
            raise StpcError(f"-D {text}: {name} is a switch",
                            hint=f"write -D {name} to turn it on "
                            f"({SWITCHES[name]})")
        return name, ""
    if not _NAME.match(name) or not _SAFE_VALUE.match(value):
        raise StpcError(f"invalid -D option '{text}'",
                        hint="use -D NAME=VALUE with a C identifier and a "
                        "number or identifier as value")
    if name in _STAP_ONLY:
        warn(f"-D {text}: SystemTap's {name} has no effect in stpc")
    elif not equals:
        raise StpcError(f"-D {text}: no value given",
                        hint=f"write -D {name}=VALUE (-D {name}=1 for a "
                        "flag)")
    else:
        similar = nearest(name, LIMITS)
        warn(f"-D {text}: {name} is none of stpc's limits; it is passed to "
             "the C compiler as it is" +
             (f" ({similar})" if similar else ""))
    return name, value


def _limit_value(limit: Limit, text: str, value: Optional[str]) -> int:
    if value is None or not _NUMBER.match(value):
        what = ("no value given" if value is None else
                "not a number in decimal or hexadecimal (0x...)")
        raise StpcError(f"-D {text}: {what}",
                        hint=f"{limit.name} takes a number from "
                        f"{_range(limit)}")
    number = int(value, 16) if value[:2].lower() == "0x" else int(value)
    if not limit.low <= number <= limit.high:
        raise StpcError(f"-D {text}: {limit.name} must be from "
                        f"{_range(limit)}", hint=limit.why)
    if limit.power_of_two and number & (number - 1):
        raise StpcError(f"-D {text}: {limit.name} must be a power of two",
                        hint=limit.why)
    return number


def _range(limit: Limit) -> str:
    return f"{limit.low} to {limit.high}"


def _buffer_bytes(megabytes: int) -> int:
    """-s MB: the ring's limits, in megabytes (stap takes 1 to 4095)."""
    ring = LIMITS["STPC_BUFFER_SIZE"]
    low, high = max(ring.low >> 20, 1), ring.high >> 20
    if not low <= megabytes <= high or megabytes & (megabytes - 1):
        raise StpcError(f"-s {megabytes}: the buffer size must be a power "
                        f"of two from {low} to {high} (megabytes per CPU)")
    return megabytes << 20


def limit_in_effect(values: Dict[str, str], name: str) -> int:
    """A limit as checked -D options (decimal) give it, or its default."""
    given = values.get(name)
    return int(given) if given is not None else LIMITS[name].default


def _check_together(values: Dict[str, str]) -> None:
    """Limits that bound each other, each given or left at its default."""
    def value(name: str) -> int:
        return limit_in_effect(values, name)

    aligned = -(-value("STPC_PRINT_BUFSIZE") // RECORD_ALIGN) * RECORD_ALIGN
    record = RECORD.size + aligned
    ring = value("STPC_BUFFER_SIZE")
    if ring < 2 * record:
        raise StpcError(f"the output ring (STPC_BUFFER_SIZE, {ring} bytes) "
                        "must hold two records of a handler's output "
                        f"(STPC_PRINT_BUFSIZE): {2 * record} bytes at "
                        "least")
    threshold = value("STP_OVERLOAD_THRESHOLD")
    interval = value("STP_OVERLOAD_INTERVAL")
    if threshold > interval:
        raise StpcError(f"STP_OVERLOAD_THRESHOLD ({threshold} cycles) is "
                        f"more than STP_OVERLOAD_INTERVAL ({interval} "
                        "cycles): the overload check could never end a run",
                        hint="to turn the check off, write -D "
                        "STP_NO_OVERLOAD")
    tries, delay = value("MAXTRYLOCK"), value("TRYLOCKDELAY")
    if tries * delay > _MAX_LOCK_WAIT_US:
        raise StpcError(f"a handler would wait up to {tries * delay} "
                        f"microseconds for a lock (MAXTRYLOCK {tries} times "
                        f"TRYLOCKDELAY {delay}): one second at most",
                        hint="lower MAXTRYLOCK or TRYLOCKDELAY")
