#!/usr/bin/env python3
"""What a user-space probe adds to every call of the function it probes:
stpc against a bare uprobe module, SystemTap 4.8 and bpftrace, side by
side in one VM boot.

    python3 bench/uprobe_overhead.py [-r KVER] [--rounds N] [--calls N]
                                     [--no-stap] [--no-bpftrace]

bench/uprobe/ is built on the host: the user program uprobe_target
(gcc -g -O2), where `uprobe_target N` calls the noinline
bench_hit(kind, value) N times and times the loop itself, and with
kbuild the module stpc_bench_uprobe, one uprobe with an empty handler
that counts its hits, placed at the file offset of bench_hit (its ELF
symbol, through the segment arithmetic of compiler/userprobes.py).
stpc's scripts (and SystemTap's) are compiled on the host against the
program's path.  Uprobes cannot be registered on the VM's 9p share, so
the guest mounts a tmpfs over the program's directory and copies the same
bytes there (the build-id stpc checks is the host's).  Then, as
bench/overhead.py (whose helpers this reuses): ONE VM boot, rounds that
run every variant once in an order rotated from round to round, each
loading its probe, running the program, and unloading it; every variant
must report as many hits as calls made, or the run fails.

Prints Markdown for docs/performance.md: the median ns per call (and the
range over the rounds), the cost the probe adds over no probe, that added
cost as a multiple of the bare uprobe's, and stpc's added cost divided by
the others'.  Under TCG every figure is slower and noisier than on
hardware: compare ratios within one run, not times across runs.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from elftools.elf.elffile import ELFFile

from guestbench import (ROOT, argument_parser, check_prerequisites,
                        round_lines, rounds_of_calls, run_guest, run_host,
                        scratch_dir)
from overhead import (Rounds, Variant, _bare, _bpf_count_hits, _last_int,
                      exit_status, print_tables, read_results)
from stap_oracle import ensure_runtime  # tests/, on sys.path by guestbench
from stpc.compiler.features import feature_defines
from stpc.compiler.userprobes import (function_symbols, load_segments,
                                      segment_offset)

SOURCES = ROOT / "bench" / "uprobe"
BENCH = "uprobe_overhead"
PROGRAM = "uprobe_target"
FUNCTION = "bench_hit"
BARE = "stpc_bench_uprobe"

POINT = 'process("%s").function("' + FUNCTION + '")'
COUNT = """global n
probe %s { n++ }
probe end { printf("%%d\\n", n) }
"""
ARGS = """global values
probe %s { values[$kind] <<< $value }
probe end {
	foreach (k in values)
		printf("%%d %%d %%d\\n", k, @count(values[k]), @sum(values[k]))
}
"""
BPF_COUNT = "uprobe:%s:" + FUNCTION + " { @n = count(); }\n"


def _args_hits(out: str, calls: int) -> Optional[int]:
    """The calls the statistics counted, if their sums are right too
    (call i passes kind i % 4 and value 10 + i % 4)."""
    rows = [[int(word) for word in line.split()] for line in out.split("\n")
            if len(line.split()) == 3 and
            all(w.isdigit() for w in line.split())]
    if sum(row[2] for row in rows) != sum(10 + i % 4 for i in range(calls)):
        return None
    return sum(row[1] for row in rows)


# (variant, tool it needs beyond stpc, label, guest shell, hits' reader)
VARIANTS = [
    ("none", "", "no probe", "{round}", lambda out, calls: calls),
    ("bare", "", "bare uprobe (empty handler)",
     _bare(BARE, "path=$PROG offset=$OFFSET"), _last_int),
    ("stpc_count", "", "stpc `n++`",
     "stpc stpc_count.ko --run -c '{round}'", _last_int),
    ("stpc_args", "", "stpc `$kind`, `$value` + `<<<` into an array",
     "stpc stpc_args.ko --run -c '{round}'", _args_hits),
    ("stap_count", "stap", "SystemTap `n++`",
     "staprun -c '{round}' stap_count.ko", _last_int),
    ("stap_args", "stap", "SystemTap `$kind`, `$value` + `<<<`",
     "staprun -c '{round}' stap_args.ko", _args_hits),
    ("bpf_count", "bpftrace", "bpftrace `count()`",
     "bpftrace -c '{round}' bpf_count.bt", _bpf_count_hits),
]

# (stpc's variant, the other, the target for stpc's added cost / the other's)
COMPARISONS = [
    ("stpc_count", "bare", ""),
    ("stpc_args", "bare", ""),
    ("stpc_count", "stap_count", ""),
    ("stpc_args", "stap_args", ""),
    ("stpc_count", "bpf_count", ""),
]


def function_offset(program: Path) -> int:
    """The file offset of FUNCTION in PROGRAM, where a uprobe goes."""
    with program.open("rb") as f:
        elf = ELFFile(f)
        symbol = next(s for s in function_symbols(elf)
                      if s.name == FUNCTION)
        offset = segment_offset(load_segments(elf), symbol["st_value"])
    if offset is None:
        raise SystemExit(f"{BENCH}: {FUNCTION} is in no loadable segment")
    return offset


def _stap_builds(work: Path, kver: str, program: Path) -> list[str]:
    """SystemTap's two modules, or [] (said why) when it cannot build
    them for this kernel."""
    runtime = ensure_runtime(work)
    built = []
    for name, script in (("count", COUNT), ("args", ARGS)):
        (work / f"stap_{name}.stp").write_text(script % (POINT % program))
        # STP_NO_OVERLOAD: under TCG its handlers take more than the
        # half of the CPU time past which SystemTap ends the run
        argv = ["stap", "-R", str(runtime), "-r", kver, "-p4", "-m",
                f"stap_{name}", "-DSTP_NO_OVERLOAD", f"stap_{name}.stp"]
        proc = subprocess.run(argv, cwd=work, capture_output=True, text=True)
        if proc.returncode != 0:
            error = [line for line in proc.stderr.splitlines()
                     if "error" in line.lower()][:1]
            print(f"{BENCH}: SystemTap left out: it cannot build for {kver} "
                  f"({shlex.join(argv)}: {' '.join(error) or 'failed'})",
                  file=sys.stderr)
            return []
        built.append(f"stap_{name}")
    return built


def build(work: Path, kver: str, stap: bool, bpftrace: bool) -> set[str]:
    """Every program, module and script on the host, into WORK; returns
    the tools whose variants can run."""
    (work / "prog").mkdir()
    program = work / "prog" / PROGRAM
    run_host(BENCH, ["gcc", "-g", "-O2", "-o", str(program),
                     str(SOURCES / f"{PROGRAM}.c")], work,
             f"building {PROGRAM}")
    for name in ("Kbuild", f"{BARE}.c"):
        shutil.copy(SOURCES / name, work)
    features = " ".join(f"-D{name}" for name in feature_defines(
        Path("/lib/modules", kver, "build")))
    run_host(BENCH, ["make", "-C", f"/lib/modules/{kver}/build",
                     f"M={work}", f"STPC_BENCH_FEATURES={features}",
                     "modules"], work, f"building {BARE}")
    for name, script in (("count", COUNT), ("args", ARGS)):
        (work / f"stpc_{name}.stp").write_text(script % (POINT % program))
        run_host(BENCH, ["stpc", f"stpc_{name}.stp", "--emit-ko", "-m",
                         f"stpc_{name}", "-r", kver], work,
                 f"stpc on the {name} script")
    tools = {""}
    if stap and _stap_builds(work, kver, program):
        tools.add("stap")
    if bpftrace:
        (work / "bpf_count.bt").write_text(BPF_COUNT % program)
        tools.add("bpftrace")
    return tools


def guest_script(work: Path, found: list[Variant], rounds: int,
                 calls: int) -> list[str]:
    """Puts the program on a guest-owned tmpfs at its own path, then runs
    every round."""
    q = shlex.quote
    prog = work / "prog"
    program = prog / PROGRAM
    # exec: the program is the -c command's own process (stpc's -c
    # filters process probes to it)
    (work / "round.sh").write_text(
        f"exec {q(str(program))} {calls} > \"$1\"\n")
    lines = [f"cd {q(str(work))}", "mkdir -p res",
             f"cp {q(str(program))} /tmp/{PROGRAM} || exit 1",
             f"mount -t tmpfs uprobe_bench {q(str(prog))} || exit 1",
             f"cp /tmp/{PROGRAM} {q(str(prog))}/ || exit 1",
             f"PROG={q(str(program))}",
             f"OFFSET={function_offset(program)}",
             # untimed: TCG translates the loop's code on its first run
             f"{q(str(program))} {calls} > /dev/null"]
    # bpftrace -c wants a path: `sh` is both /bin/sh and /usr/bin/sh
    lines += round_lines(found, rounds,
                         lambda tag: f"/bin/sh round.sh {tag}.ns")
    # results leave the tmpfs before it goes: only the program is on it
    lines.append(f"umount {q(str(prog))}")
    return lines


def report(results: dict[str, Rounds], found: list[Variant],
           kver: str, rounds: int, calls: int) -> None:
    print(f"{FUNCTION}() called {calls} times per round by a user program "
          f"that times its own loop; kernel {kver}, one VM boot (TCG); "
          f"median of {rounds} rounds, variants rotated from round to "
          "round. \"added\" is ns/call minus no probe's; \"x bare\" is "
          "added cost / the bare uprobe's added cost.\n")
    print_tables(results, found, "bare", "x bare", COMPARISONS)


def main() -> int:
    parser = argument_parser(__doc__)
    rounds_of_calls(parser, 50000)
    parser.add_argument("--no-stap", action="store_true",
                        help="leave SystemTap out even when installed")
    parser.add_argument("--no-bpftrace", action="store_true",
                        help="leave bpftrace out even when installed")
    args = parser.parse_args()
    check_prerequisites(BENCH, args.kver)
    stap = not args.no_stap and shutil.which("stap") is not None
    bpftrace = not args.no_bpftrace and shutil.which("bpftrace") is not None
    for tool, used in (("stap", stap), ("bpftrace", bpftrace)):
        if not used:
            print(f"{BENCH}: {tool} left out (not installed, or "
                  f"--no-{tool})", file=sys.stderr)
    with scratch_dir("stpc-uprobe-overhead-") as tmp:
        work = Path(tmp)
        tools = build(work, args.kver, stap, bpftrace)
        found = [Variant(key, label, run, hits)
                 for key, tool, label, run, hits in VARIANTS
                 if tool in tools]
        run_guest(BENCH, work, guest_script(work, found, args.rounds,
                                            args.calls), args.kver,
                  timeout=600 + 120 * args.rounds * len(found))
        results = read_results(work, found, args.rounds, args.calls)
    report(results, found, args.kver, args.rounds, args.calls)
    return exit_status(results, BENCH)


if __name__ == "__main__":
    sys.exit(main())
