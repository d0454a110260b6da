#!/usr/bin/env python3
"""Compile benchmark: `stpc -p4` against `stap -p4` for the same script,
cold (a -D value neither cache has seen) and warm (the same command
again), as whole processes, paired and alternated round by round.

    python3 bench/compile.py [--rounds N] [-r KVER] [--no-stap]

Two scripts: a trivial one (a timer and a counter) and a module probe
with member chains, a string, an array of statistics and a global, on
the test fixture module (tests/fixture_module, built first).  Each tool
gets a cache directory of its own, in a temporary directory, and one
untimed build first (stap fills its caches of the kernel then).
SystemTap 4.8 builds only with a patched runtime copy (tests/stap_oracle.py,
docs/platform-notes); without stap, stpc's figures alone are printed.
Prints a Markdown table (medians; wall and CPU seconds, CPU being
user+system of the process and everything it waited for).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import fixture  # noqa: E402
import stap_oracle  # noqa: E402
import vm  # noqa: E402

TRIVIAL = """global n
probe timer.s(1) { n++ }
probe end { printf("%d\\n", n) }
"""

MODULE_PROBE = """global by_id, total
probe module("{ko}").function("stpc_fixture_struct") {{
	by_id[$item->id, kernel_string($item->owner->comm)] <<<
		$item->pos->x + $item->vals[2]
	total += $item->owner->uid
}}
probe end {{
	foreach ([id, comm] in by_id)
		printf("%d %s %d %d\\n", id, comm, @count(by_id[id, comm]),
		       @avg(by_id[id, comm]))
	printf("total=%d\\n", total)
}}
"""

#: MAXACTION is a limit of both tools: a new value is new C for both
LIMIT = "MAXACTION"


def stpc_command() -> str:
    beside = Path(sys.executable).parent / "stpc"
    return str(beside) if beside.exists() else "stpc"


def timed(argv: List[str], env: Dict[str, str]) -> Tuple[float, float]:
    """Wall and CPU seconds of one process, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    errors = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{errors}")
    return wall, usage.ru_utime + usage.ru_stime


class Tool:
    def __init__(self, name: str, base: List[str], env: Dict[str, str]):
        self.name, self.base, self.env = name, base, env

    def run(self, script: Path, limit: int) -> Tuple[float, float]:
        return timed(self.base + ["-p4", "-D", f"{LIMIT}={limit}",
                                  str(script)], self.env)


def python_as_installed() -> Dict[str, str]:
    """This environment without PYTHONDONTWRITEBYTECODE: users' Pythons
    cache bytecode (pip compiles it at install), and a sandbox that turns
    that off would time stpc recompiling its own sources on every run."""
    return {name: value for name, value in os.environ.items()
            if name != "PYTHONDONTWRITEBYTECODE"}


def tools(work: Path, kver: str, with_stap: bool) -> List[Tool]:
    found = [Tool("stpc", [stpc_command(), "-r", kver],
                  dict(python_as_installed(),
                       STPC_CACHE_DIR=str(work / "stpc")))]
    if with_stap and shutil.which("stap"):
        runtime = stap_oracle.ensure_runtime(work / "stap")
        found.append(Tool("stap", stap_oracle.stap_base(runtime, kver),
                          dict(os.environ,
                               SYSTEMTAP_DIR=str(work / "stap-dir"))))
    return found


def measure(script: Path, runners: List[Tool], rounds: int,
            first_limit: int) -> Dict[Tuple[str, str], List[Tuple]]:
    """{(tool, "cold"|"warm"): [(wall, cpu) per round]}; the order of the
    tools alternates round by round."""
    results: Dict[Tuple[str, str], List[Tuple]] = {}
    for number in range(rounds):
        order = runners if number % 2 == 0 else runners[::-1]
        limit = first_limit + number
        for phase in ("cold", "warm"):
            for tool in order:
                results.setdefault((tool.name, phase), []).append(
                    tool.run(script, limit))
    return results


def median(samples: List[Tuple], index: int) -> float:
    return statistics.median(sample[index] for sample in samples)


def table(name: str, results, names: List[str]) -> List[str]:
    rows = []
    for phase in ("cold", "warm"):
        cells = [f"{name}, {phase}"]
        for tool in names:
            samples = results[(tool, phase)]
            cells.append(f"{median(samples, 0):.2f} ({median(samples, 1):.2f})")
        if len(names) == 2:
            wall, cpu = (median(results[("stpc", phase)], index) /
                         median(results[("stap", phase)], index)
                         for index in (0, 1))
            cells.append(f"{wall:.2f}x ({cpu:.2f}x)")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def bench_parser(doc: str, rounds: int) -> argparse.ArgumentParser:
    """The options of the benchmarks that time whole stpc processes."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("-r", dest="kver", default=vm.find_kernel_release())
    parser.add_argument("--rounds", type=int, default=rounds)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = bench_parser(__doc__, rounds=5)
    parser.add_argument("--no-stap", action="store_true",
                        help="measure stpc only")
    args = parser.parse_args(argv)
    ko = fixture.build_fixture(args.kver)
    with tempfile.TemporaryDirectory(prefix="stpc-bench-") as tmp:
        work = Path(tmp)
        scripts = {"trivial": work / "trivial.stp",
                   "module probe": work / "module_probe.stp"}
        scripts["trivial"].write_text(TRIVIAL)
        scripts["module probe"].write_text(MODULE_PROBE.format(ko=ko))
        runners = tools(work, args.kver, not args.no_stap)
        names = [tool.name for tool in runners]
        for tool in runners:        # untimed: the tools' own caches
            tool.run(scripts["trivial"], 999)
        lines = []
        for offset, (name, script) in enumerate(scripts.items()):
            results = measure(script, runners, args.rounds,
                              1001 + offset * 100)
            lines += table(name, results, names)
    print(f"kernel {args.kver}, {os.cpu_count()} CPUs, median of "
          f"{args.rounds} rounds; seconds wall (CPU)\n")
    header = ["script, cache"] + [f"`{n} -p4`" for n in names]
    if len(names) == 2:
        header.append("stpc/stap")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
