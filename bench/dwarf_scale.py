#!/usr/bin/env python3
"""Kernel DWARF at scale: resolving kernel.function("do_sys_openat2") and
its parameters against Debian's full vmlinux with DWARF (~630 MB), each
run a fresh `stpc` process, first with an empty stpc cache (the
per-build-id indexes get built) and then again with it warm.

    python3 bench/dwarf_scale.py [-r KVER] [--rounds N] [--fetch]

Needs the vmlinux of linux-image-KVER-dbg (`make debuginfo`, or --fetch).
Wall time is the child's; CPU is its user+sys and peak RSS its
ru_maxrss, both from os.wait4 (the per-child form of
getrusage(RUSAGE_CHILDREN)).  The OS page cache is warm in every run
(dropping it would disturb other users of the machine).  Prints a
Markdown table for docs/performance.md.
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

from stpc.compiler.debuginfo import fetch_vmlinux
from stpc.compiler.probes import ProbeEnvironment, find_vmlinux

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import vm  # noqa: E402

POINT = 'kernel.function("do_sys_openat2")'
SCRIPT = """probe kernel.function("do_sys_openat2") {
  printf("%s %d\\n", kernel_string($filename), $how->flags)
}
"""


def stpc() -> str:
    return shutil.which("stpc") or str(Path(sys.executable).parent / "stpc")


def run_and_wait(argv, cache: str, expect: str) -> dict:
    """One fresh process, reaped with wait4: wall seconds, CPU seconds
    and peak RSS in MB."""
    env = dict(os.environ, STPC_CACHE_DIR=cache)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if child.returncode != 0 or expect not in text:
            raise SystemExit(f"{' '.join(argv)} failed:\n{text}"
                             f"{err.read().decode()}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": usage.ru_maxrss / 1024}


def one_round(kver: str, debuginfo: Path, script: Path) -> dict:
    common = ["-r", kver, "--debuginfo-path", str(debuginfo)]
    listing = [stpc(), "-L", POINT] + common
    compile_ = [stpc(), "-p3", str(script)] + common
    row = {}
    with tempfile.TemporaryDirectory(prefix="stpc-bench-") as cache:
        # what any stpc process costs: no DWARF read at all
        row["-p1 -e 'probe begin {}', floor"] = run_and_wait(
            [stpc(), "-p1", "-e", "probe begin {}"], cache, "begin")
        # -L: "@fs/open.c" only appears when the DWARF was read
        row["-L, cold"] = run_and_wait(listing, cache, "@fs/open.c")
        row["-L, warm"] = run_and_wait(listing, cache, "@fs/open.c")
    with tempfile.TemporaryDirectory(prefix="stpc-bench-") as cache:
        # -p3: $filename is the 2nd argument (rsi), $how the 3rd (rdx)
        row["-p3, cold"] = run_and_wait(compile_, cache, "c->regs->dx")
        row["-p3, warm"] = run_and_wait(compile_, cache, "c->regs->dx")
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-r", dest="kver", default=vm.find_kernel_release())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fetch", action="store_true",
                        help="fetch the -dbg vmlinux first if missing")
    args = parser.parse_args()
    vmlinux = find_vmlinux(ProbeEnvironment(args.kver))
    if vmlinux is None:
        if not args.fetch:
            raise SystemExit(f"no vmlinux with DWARF for {args.kver}: run "
                             "`make debuginfo` or pass --fetch")
        vmlinux = fetch_vmlinux(args.kver)
    with tempfile.TemporaryDirectory(prefix="stpc-bench-") as work:
        script = Path(work) / "openat2.stp"
        script.write_text(SCRIPT)
        rows = [one_round(args.kver, vmlinux.parent, script)
                for _ in range(args.rounds)]
    size = vmlinux.stat().st_size / 2**20
    print(f"{POINT} against {vmlinux.name} ({size:.0f} MB), kernel "
          f"{args.kver}; each run a fresh stpc process; median of "
          f"{args.rounds} rounds (peak RSS: the largest)\n")
    print("| run | wall s | CPU s | peak RSS MB |\n|---|---|---|---|")
    for key in rows[0]:
        wall = statistics.median(r[key]["wall"] for r in rows)
        cpu = statistics.median(r[key]["cpu"] for r in rows)
        rss = max(r[key]["rss"] for r in rows)
        what, when = key.rsplit(", ", 1)
        label = f"`stpc {what}`" + (" (startup floor)" if when == "floor"
                                     else f" ({when} cache)")
        print(f"| {label} | {wall:.2f} | {cpu:.2f} | {rss:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
