"""The soak (`make test-stress`): kprobes on hot kernel functions, a
kretprobe, timers on every CPU and a user workload on both vCPUs, for
STPC_STRESS_SECONDS (600 by default) in one boot.  Every record arrives
(the script numbers them), the kernel logs no warning, and neither the
loader's memory nor the kernel's slab and vmalloc memory grows with the
hits.  Skipped probes are allowed (MAXSKIPPED is raised): under TCG a
vCPU that holds a global's lock may be descheduled by the host.  Runs
only when STPC_STRESS=1 (`make test-stress` sets it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import vm
from test_vm import kernel_warnings

pytestmark = [pytest.mark.vm, pytest.mark.skipif(
    os.environ.get("STPC_STRESS") != "1",
    reason="the soak runs with make test-stress")]

SECONDS = int(os.environ.get("STPC_STRESS_SECONDS", "600"))
STPC = Path(sys.executable).with_name("stpc")

SOAK = """global seq, reads, writes, ticks
probe begin { println("up") }
probe kernel.function("vfs_read") { reads++ }
probe kernel.function("vfs_write").return { writes++ }
probe kernel.function("do_sys_openat2") {
	if (execname() == "cat") printf("open %d\\n", ++seq)
}
probe timer.profile { ticks++ }
probe timer.ms(10) { printf("tick %d %d %d %d\\n", ++seq, reads, writes, ticks) }
probe end { printf("end %d\\n", seq) }
"""

# opens, reads and writes on each vCPU until the deadline
_LOAD = ("end=$(( $(date +%s) + {seconds} )); "
         "while [ $(date +%s) -lt $end ]; do cat /etc/hostname >/dev/null; "
         "dd if=/dev/zero of=/dev/null bs=4k count=50 2>/dev/null; done")
_MEMORY = ("awk '/^(Slab|VmallocUsed):/ {{ kb += $2 }} END {{ print kb }}' "
           "/proc/meminfo")
_GUEST = """cd {work}
stpc soak.ko --run -o {work}/soak.out 2> {work}/soak.err & pid=$!
until grep -q '^up$' {work}/soak.out 2>/dev/null; do sleep 0.5; done
for cpu in 0 1; do taskset -c $cpu sh -c '{load}' & load="$load $!"; done
for sample in 1 2 3 4 5; do
	sleep {step}
	echo "rss $(awk '/^VmRSS:/ {{print $2}}' /proc/$pid/status)"
	echo "kernel $({memory})"
done
wait $load
kill -TERM $pid; wait $pid; echo "rc $?"
"""


def _numbers(output: str) -> tuple[list[int], int]:
    """The record numbers seen, and the last one the end probe gave."""
    seen = [int(m.group(1)) for m in
            re.finditer(r"^(?:open|tick) (\d+)\b", output, re.M)]
    last = re.search(r"^end (\d+)$", output, re.M)
    assert last, output[-500:]
    return seen, int(last.group(1))


def test_soak(kver):
    work = Path(tempfile.mkdtemp(prefix="stpc-soak-"))
    (work / "soak.stp").write_text(SOAK)
    build = subprocess.run(
        [str(STPC), "soak.stp", "--emit-ko", "-m", "soak", "-r", kver,
         "--kernel-types", "btf", "-D", f"MAXSKIPPED={2**31 - 1}"],
        cwd=work, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    guest = _GUEST.format(work=work, memory=_MEMORY, step=SECONDS // 5,
                          load=_LOAD.format(seconds=SECONDS))
    run = vm.run_in_vm(guest, kver, [str(work)], timeout=SECONDS + 600)
    rss, kernel, status = (
        [int(v) for v in re.findall(rf"^{key} (\d+)$", run.stdout, re.M)]
        for key in ("rss", "kernel", "rc"))
    assert status == [0], run.stdout + run.stderr
    # a probe that finds its CPU busy (timer.profile interrupting a
    # handler) or a global locked too long is skipped and counted, as in
    # SystemTap; the counting probes may skip, which loses no record
    errors = (work / "soak.err").read_text()
    skipped = re.fullmatch(r"(?:WARNING: Number of errors: 0, skipped "
                           r"probes: (\d+)\n)?", errors)
    assert skipped, errors
    seen, last = _numbers((work / "soak.out").read_text())
    assert last >= SECONDS * 50, "the timer and the opens fired too rarely"
    assert sorted(seen) == list(range(1, last + 1)), "records lost"
    # five samples through the load; the first fifth is the warm-up
    assert rss[-1] - rss[1] <= 2048, f"loader RSS grew: {rss} kB"
    assert kernel[-1] - kernel[1] <= 16384, \
        f"slab+vmalloc grew: {kernel} kB"
    assert kernel_warnings({"dmesg": run.dmesg}) == []
    print(f"soak {SECONDS} s: {last} records, {skipped.group(1) or 0} "
          f"probes skipped, loader RSS {rss} kB, slab+vmalloc {kernel} kB")
