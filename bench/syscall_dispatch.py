#!/usr/bin/env python3
"""What `probe syscall.* { n++ }` (and `.return`) adds to each system
call, in one VM boot: since the tapset's tracepoint aliases are dispatched
on the call's number (compiler/tpdispatch.py), and, with --baseline REV,
as the stpc of REV compiled them, side by side.

    python3 bench/syscall_dispatch.py [-r KVER] [--rounds N] [--calls N]
                                      [--baseline REV]

bench/syscall_loop.c, built on the host, makes CALLS getppid() system
calls in a tight loop and times them.  The scripts are compiled on the
host (`-DSTP_NO_OVERLOAD`: before dispatching, every system call ran
each alias's handler, which under TCG passes the CPU share past which
the run stops; this measures the cost instead; `-DMAXSKIPPED=1000000`:
under TCG a run of `syscall.*` skipped over 100 hits at times, before
and after, which ends it with an error).  Nothing is loaded on the
host: ONE VM boot (tests/vm.py, TCG) runs the rounds; each round runs
every variant once, in an order rotated from round to round.  A probed
run must count at least one hit per call (n counts every system call of
the guest that an alias names), or the run fails.

Prints Markdown for docs/performance.md (bench/overhead.py's tables):
the median ns per call and its range over the rounds, the cost added over
no probe, that cost as a multiple of REV's `syscall.*`, and each probe's
added cost divided by REV's.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Optional

from guestbench import (ROOT, argument_parser, check_prerequisites,
                        round_lines, rounds_of_calls, run_guest, run_host,
                        scratch_dir)
from overhead import (Variant, baseline_stpc, exit_status, print_tables,
                      read_results)

BENCH = "syscall_dispatch"
LOOP = ROOT / "bench" / "syscall_loop.c"

SCRIPT = """global n
probe %s { n++ }
probe end { printf("%%d\\n", n) }
"""
# (variant, label, the probe point; none: no probe)
PROBES = [
    ("none", "no probe", None),
    ("syscalls_enter", "stpc `syscall.* { n++ }`", "syscall.*"),
    ("syscalls_exit", "stpc `syscall.*.return { n++ }`",
     "syscall.*.return"),
]


def _at_least_calls(out: str, calls: int) -> Optional[int]:
    """CALLS when the count printed is at least that (the loop's calls
    and whatever else the guest did), else that count."""
    words = out.split()
    count = int(words[-1]) if words and words[-1].isdigit() else None
    return calls if count is not None and count >= calls else count


def variants(baseline: Optional[str]) -> list[Variant]:
    found = [Variant("none", "no probe", "{round}",
                     lambda out, calls: calls)]
    suffixes = [("", "")] + ([("_base", f" at {baseline}")] if baseline
                             else [])
    for suffix, at in suffixes:
        found += [Variant(f"{key}{suffix}", f"{label}{at}",
                          f"stpc {key}{suffix}.ko --run -c '{{round}}'",
                          _at_least_calls)
                  for key, label, point in PROBES if point]
    return found


def build(work: Path, kver: str, baseline: Optional[str]) -> None:
    """The loop and every module on the host, into WORK."""
    run_host(BENCH, ["gcc", "-O2", "-o", str(work / "syscall_loop"),
                     str(LOOP)], work, "building the loop")
    compilers = [(["stpc"], "")]
    if baseline:
        compilers.append((baseline_stpc(work, baseline), "_base"))
    for key, _, point in PROBES:
        if point is None:
            continue
        (work / f"{key}.stp").write_text(SCRIPT % point)
        for stpc, suffix in compilers:
            run_host(BENCH, [*stpc, f"{key}.stp", "--emit-ko", "-m",
                             f"{key}{suffix}", "-r", kver,
                             "-DSTP_NO_OVERLOAD", "-DMAXSKIPPED=1000000"],
                     work,
                     f"stpc{suffix} on {point}")


def guest_script(work: Path, found: list[Variant], rounds: int,
                 calls: int) -> list[str]:
    q = shlex.quote
    # untimed: TCG translates the loop's code on its first run
    lines = [f"cd {q(str(work))}", "mkdir -p res",
             f"./syscall_loop {calls} res/warm.ns"]
    return lines + round_lines(
        found, rounds,
        lambda tag: f"{work / 'syscall_loop'} {calls} {work / tag}.ns")


def main() -> int:
    parser = argument_parser(__doc__)
    rounds_of_calls(parser, 200000, "getppid() calls")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run the scripts as compiled by the stpc "
                        "of git revision REV, in the same boot")
    args = parser.parse_args()
    check_prerequisites(BENCH, args.kver)
    found = variants(args.baseline)
    with scratch_dir("stpc-sysdispatch-") as tmp:
        work = Path(tmp)
        build(work, args.kver, args.baseline)
        run_guest(BENCH, work, guest_script(work, found, args.rounds,
                                            args.calls), args.kver,
                  timeout=600 + 120 * args.rounds * len(found))
        results = read_results(work, found, args.rounds, args.calls)
    print(f"getppid() called {args.calls} times per round in a tight loop, "
          f"timed in the guest; kernel {args.kver}, one VM boot (TCG); "
          f"median of {args.rounds} rounds, variants rotated from round "
          "to round. \"added\" is ns/call minus no probe's.\n")
    comparisons = [(key, f"{key}_base", "") for key, _, point in PROBES
                   if point and args.baseline]
    print_tables(results, found, "syscalls_enter_base",
                 f"x {args.baseline}'s syscall.*" if args.baseline else "",
                 comparisons)
    return exit_status(results, BENCH)


if __name__ == "__main__":
    sys.exit(main())
