#!/usr/bin/env python3
"""Compile-time benchmark: each pass's time for one script, a cold kbuild
against a cache hit, measured side by side in one run.

    python3 bench/compile_time.py [SCRIPT] [-r KVER] [--rounds N]

Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stpc.compiler.driver import Compilation, CompileOptions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import vm  # noqa: E402


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def one_round(path: Path, kver: str, cache: str) -> dict:
    os.environ["STPC_CACHE_DIR"] = cache
    comp = Compilation.from_file(str(path), CompileOptions(kver))
    row = {"parse": timed(comp.script), "elaborate": timed(comp.program),
           "translate": timed(comp.c_source), "build (cold)":
           timed(comp.module)}
    again = Compilation.from_file(str(path), CompileOptions(kver))
    row["all passes (cache hit)"] = timed(again.module)
    row["`stpc -p4` process (cache hit)"] = timed(lambda: subprocess.run(
        ["stpc", str(path), "-p4", "-r", kver], check=True,
        stdout=subprocess.DEVNULL))
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("script", nargs="?",
                        default=str(ROOT / "examples" / "arith.stp"))
    parser.add_argument("-r", dest="kver", default=vm.find_kernel_release())
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as cache:
            rows.append(one_round(Path(args.script), args.kver, cache))
    print(f"script: {Path(args.script).name}, kernel {args.kver}, "
          f"median of {args.rounds} rounds\n")
    print("| step | seconds |\n|---|---|")
    medians = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
    for key, value in medians.items():
        print(f"| {key} | {value:.3f} |")
    ratio = medians["build (cold)"] / medians["all passes (cache hit)"]
    print(f"\ncold build / cache hit: {ratio:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
