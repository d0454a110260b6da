#!/usr/bin/env python3
"""A wildcard over more than 1,000 kernel functions: how long it takes to
compile, to arm, to disarm, and what each hit costs.

    python3 bench/many_probes.py [-r KVER] [--rounds N] [--reads N]
                                 [--compile-rounds N] [--kernel-types T ...]

The script is `global n  probe kernel.function("*_show")? { n++ }
probe end { printf("%d\\n", n) }`: the show functions of sysfs, procfs
and debugfs files (1,312 in Debian 6.1's BTF, more in its DWARF), called
only when such a file is read, so probing them all is safe; `?` lets the
run go on past a function that refuses a kprobe (the module warns).

On the host: the whole `stpc --emit-ko` process, timed, with a cold module
cache (a fresh -D value each time; the DWARF index in $STPC_CACHE_DIR
stays warm), once per --kernel-types (default: btf, and dwarf when its
debuginfo is installed, `make debuginfo`).  In ONE VM boot (tests/vm.py,
TCG): rounds of a module without kernel probes (the baseline: the loader
runs beside the workload as in the others), a single probe on
uevent_seqnum_show and each wildcard module, rotated from round to
round.  Each runs a workload that
reads /sys/kernel/uevent_seqnum --reads times (pread at offset 0: every
read calls kernfs_seq_show, sysfs_kf_seq_show, kobj_attr_show and
uevent_seqnum_show, all in the wildcard).  Arm and disarm times are the
loader's (`stpc NAME.ko --run -v` prints them), the probes refused are
the module's "cannot arm" warnings, and a hit's cost is the workload's
added time divided by the hits the script counted.

Prints Markdown tables for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from guestbench import (argument_parser, check_prerequisites, rotated,
                        run_guest, run_host, scratch_dir)

BENCH = "many_probes"
PATTERN = "*_show"
SCRIPT = """global n
probe kernel.function("%s")? { n++ }
probe end { printf("%%d\\n", n) }
"""
NONE = 'probe end { printf("0\\n") }\n'
ONE = "uevent_seqnum_show"
WORKLOAD = """import os, sys, time
reads, out = int(sys.argv[1]), sys.argv[2]
fd = os.open("/sys/kernel/uevent_seqnum", os.O_RDONLY)
start = time.monotonic_ns()
for _ in range(reads):
    os.pread(fd, 64, 0)
elapsed = time.monotonic_ns() - start
with open(out, "w") as f:
    f.write(f"{reads} {elapsed}\\n")
"""
_ARMED = re.compile(r"^stpc: armed (\d+) probes in ([\d.]+) ms$", re.M)
_DISARMED = re.compile(r"^stpc: disarmed in ([\d.]+) ms$", re.M)
_REFUSED = re.compile(r"cannot arm probe")


@dataclass
class Variant:
    key: str                    # also the module's name
    label: str
    sites: int = 0              # probe points compiled
    compile_s: list = field(default_factory=list)


@dataclass
class Round:
    ns_per_read: float
    hits: int = 0
    armed_ms: float = 0.0
    disarmed_ms: float = 0.0
    refused: int = 0


def _stpc(work: Path, script: str, name: str, kver: str, kind: str,
          nonce: str = "") -> None:
    argv = ["stpc", script, "--emit-ko", "-m", name, "-r", kver,
            "--kernel-types", kind, "-w"]
    if nonce:       # a macro stpc does not know: only the C changes
        argv.append(f"-DSTPC_BENCH_COLD={nonce}")
    run_host(BENCH, argv, work, f"compiling {script} ({kind})")


def _has_dwarf(work: Path, kver: str) -> bool:
    proc = subprocess.run(["stpc", "-L", f'kernel.function("{ONE}")', "-r",
                           kver, "--kernel-types", "dwarf"], cwd=work,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{BENCH}: DWARF left out (`make debuginfo` installs it):\n"
              f"{proc.stderr.strip()}", file=sys.stderr)
    return proc.returncode == 0


def compile_modules(work: Path, kver: str, kinds: list[str],
                    rounds: int) -> list[Variant]:
    """The baseline and the single probe once; each wildcard ROUNDS
    times, each time with a cold module cache."""
    (work / "none.stp").write_text(NONE)
    (work / "one.stp").write_text(SCRIPT % ONE)
    (work / "many.stp").write_text(SCRIPT % PATTERN)
    _stpc(work, "none.stp", "none", kver, "btf")
    _stpc(work, "one.stp", "one", kver, "btf")
    found = [Variant("none", "no kernel probe"),
             Variant("one", f"one probe (`{ONE}`)", sites=1)]
    for kind in kinds:
        if kind == "dwarf" and not _has_dwarf(work, kver):
            continue
        variant = Variant(f"many_{kind}", f"`{PATTERN}` ({kind.upper()})")
        for r in range(rounds):
            started = time.monotonic()
            _stpc(work, "many.stp", variant.key, kver, kind,
                  nonce=f"{time.time_ns()}")
            variant.compile_s.append(time.monotonic() - started)
        info = json.loads(run_host(
            BENCH, ["stpc", "--info", "--format", "json", f"{variant.key}.ko"],
            work, "reading the module's probes").stdout)
        variant.sites = sum(1 for p in info["probes"] if p != "end")
        found.append(variant)
    return found


def guest_script(work: Path, found: list[Variant], rounds: int,
                 reads: int) -> list[str]:
    (work / "workload.py").write_text(WORKLOAD)
    lines = [f"cd {shlex.quote(str(work))}", "mkdir -p res",
             # untimed: TCG translates the loop's code on its first run
             f"python3 workload.py {reads} /dev/null"]
    for r in range(rounds):
        for variant in rotated(found, r):
            tag = f"res/{variant.key}.{r}"
            load = f"python3 workload.py {reads} {tag}.ns"
            lines.append(f"stpc {variant.key}.ko --run -v -c '{load}' "
                         f"> {tag}.out 2> {tag}.err || echo $? > {tag}.rc")
    return lines


def _read_round(tag: Path) -> Round:
    def text(suffix: str) -> str:
        path = Path(f"{tag}.{suffix}")
        return path.read_text() if path.exists() else ""
    if not text("ns"):
        raise SystemExit(f"{BENCH}: {tag.name}: the workload did not run; "
                         f"stderr:\n{text('err')}")
    made, ns = (int(word) for word in text("ns").split())
    result = Round(ns / made)
    err = text("err")
    armed, disarmed = _ARMED.search(err), _DISARMED.search(err)
    words = text("out").split()
    if not (armed and disarmed and words and words[-1].isdigit()):
        raise SystemExit(f"{BENCH}: {tag.name}: no count, or no arm/disarm "
                         f"times (a loader without -v's times?):\n"
                         f"{text('out')}{err}")
    result.hits = int(words[-1])
    result.armed_ms = float(armed.group(2))
    result.disarmed_ms = float(disarmed.group(1))
    result.refused = len(_REFUSED.findall(err))
    return result


def read_results(work: Path, found: list[Variant],
                 rounds: int) -> dict[str, list[Round]]:
    return {v.key: [_read_round(work / "res" / f"{v.key}.{r}")
                    for r in range(rounds)] for v in found}


def _median(values) -> float:
    return statistics.median(list(values))


def report(found: list[Variant], results: dict[str, list[Round]],
           kver: str, args: argparse.Namespace) -> None:
    compiled = [v for v in found if v.compile_s]
    print(f"Compile: the whole `stpc many.stp --emit-ko -m NAME -r {kver} "
          "--kernel-types KIND` process, module cache cold (a fresh -D "
          f"value), median of {args.compile_rounds}.\n")
    print("| wildcard | probe points | compile s | range |\n|---|---|---|---|")
    for v in compiled:
        print(f"| {v.label} | {v.sites} | {_median(v.compile_s):.2f} | "
              f"{min(v.compile_s):.2f}-{max(v.compile_s):.2f} |")
    base = _median(r.ns_per_read for r in results["none"])
    print(f"\nIn the VM (TCG), kernel {kver}: {args.reads} reads of "
          "/sys/kernel/uevent_seqnum per round, median of "
          f"{args.rounds} rounds rotated in one boot. Arm and disarm are "
          "the loader's `-v` times; a hit's cost is the reads' added time "
          "over the module without kernel probes, divided by the hits "
          "counted.\n")
    print("| variant | probes armed | refused | arm ms | disarm ms | "
          "ns/read | range | hits/read | ns/hit added |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for v in found:
        rounds = results[v.key]
        per_read = _median(r.ns_per_read for r in rounds)
        reads = [r.ns_per_read for r in rounds]
        hits = _median(r.hits for r in rounds)
        refused = max(r.refused for r in rounds)
        per_hit = (f"{hits / args.reads:.2f} | "
                   f"{(per_read - base) * args.reads / hits:.0f}"
                   if hits else " | ")
        print(f"| {v.label} | {v.sites - refused} | {refused} | "
              f"{_median(r.armed_ms for r in rounds):.0f} | "
              f"{_median(r.disarmed_ms for r in rounds):.0f} | "
              f"{per_read:.0f} | {min(reads):.0f}-{max(reads):.0f} | "
              f"{per_hit} |")

def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds in the VM")
    parser.add_argument("--reads", type=int, default=100000,
                        help="reads of the sysfs file per round")
    parser.add_argument("--compile-rounds", type=int, default=3)
    parser.add_argument("--kernel-types", nargs="+", default=["btf", "dwarf"],
                        choices=["btf", "dwarf"],
                        help="how the wildcard is placed (one module each)")
    args = parser.parse_args()
    check_prerequisites(BENCH, args.kver)
    with scratch_dir("stpc-many-probes-") as tmp:
        work = Path(tmp)
        found = compile_modules(work, args.kver, args.kernel_types,
                                args.compile_rounds)
        run_guest(BENCH, work, guest_script(work, found, args.rounds,
                                            args.reads), args.kver,
                  timeout=900 + 300 * args.rounds * len(found))
        results = read_results(work, found, args.rounds)
    report(found, results, args.kver, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
