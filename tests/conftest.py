"""Shared fixtures: the kernel release, and the one VM boot that runs every
case in tests/vmcases.py.

VM tests skip only when the VM cannot start at all (no qemu, no kernel);
with STPC_REQUIRE_VM=1 (set by .ci/run) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

import fixture  # noqa: E402
import vm  # noqa: E402
import vmcases  # noqa: E402


_config = None


def pytest_configure(config):
    global _config
    _config = config
    config.addinivalue_line("markers", "vm: loads modules in the test VM")
    config.addinivalue_line("markers", "kbuild: builds modules with kbuild")


def _unavailable(reason: str):
    if os.environ.get("STPC_REQUIRE_VM") == "1":
        pytest.fail(f"VM required but unavailable: {reason}")
    pytest.skip(f"VM unavailable: {reason}")


@pytest.fixture(scope="session")
def kver() -> str:
    release = vm.find_kernel_release()
    if not release:
        _unavailable("no kernel with /boot/vmlinuz-KVER and a build tree: "
                     "apt-get install linux-image-amd64 linux-headers-amd64")
    return release


@pytest.fixture(scope="session")
def kernel_dwarf(kver) -> None:
    """Skips where the kernel's vmlinux with DWARF is absent (CI fetches it
    with `make debuginfo` first)."""
    if not vmcases.kernel_dwarf_available(kver):
        pytest.skip(f"no vmlinux with DWARF for {kver}: `make debuginfo`")


@pytest.fixture(scope="session")
def stap_kver() -> str:
    """The kernel release the SystemTap oracles give `stap -p2 -r`; skips
    where stap is not installed (CI)."""
    if shutil.which("stap") is None:
        pytest.skip("SystemTap is not installed")
    release = vm.find_kernel_release()
    if release is None:
        pytest.skip("no kernel release for stap -r")
    return release


def _prebuild(cases, kver) -> None:
    # the fixture first: scripts that probe it read its DWARF
    fixture.build_fixture(kver)
    fixture.build_fixture(kver, "other")
    commands = {}
    for case in cases:
        for argv in case.prebuild:
            commands[(str(case.cwd), tuple(argv))] = argv
    def build(item):
        (cwd, _), argv = item
        return argv, subprocess.run(argv, cwd=cwd, capture_output=True,
                                    text=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for argv, proc in pool.map(build, commands.items()):
            if proc.returncode != 0:
                pytest.fail(f"host build failed: {' '.join(argv)}\n"
                            f"{proc.stdout}{proc.stderr}")


def _selected(request, cases, test_name):
    """The cases whose tests ``pytest -k``/node ids selected: a partial run
    boots the VM for those only (a full run selects all of them)."""
    chosen = {item.callspec.params["case_id"]
              for item in request.session.items
              if item.originalname == test_name and hasattr(item, "callspec")}
    return [case for case in cases if case.id in chosen] or cases


@pytest.fixture(scope="session")
def vm_results(request, kver):
    return _run_batch(kver, _selected(request, vmcases.all_cases(kver),
                                      "test_case"))


@pytest.fixture(scope="session")
def second_kver() -> str:
    """The second test kernel (bookworm-backports' 6.12), when installed."""
    release = vm.find_kernel_release(vm.SECOND_SERIES)
    if not release:
        _unavailable(f"no {vm.SECOND_SERIES} kernel with a build tree: "
                     "make setup installs it from bookworm-backports")
    return release


@pytest.fixture(scope="session")
def vm_results_second(request, second_kver):
    """A second boot, on the second kernel, running a subset of the cases."""
    return _run_batch(second_kver, _selected(
        request, vmcases.second_kernel_cases(second_kver), "test_case_612"))


@pytest.fixture(scope="session")
def vm_results_sig_enforced(kver):
    """A boot that refuses modules without a trusted signature."""
    return _run_batch(kver, vmcases.sig_enforce_cases(kver),
                      append=["module.sig_enforce=1"])


@pytest.fixture(scope="session")
def vm_results_two_boots(kver):
    """Two boots of their own, a relocation case in each (one .ko run in
    both: vmcases.relocation_boot_cases)."""
    return [_run_batch(kver, [case])
            for case in vmcases.relocation_boot_cases(kver)]


#: boots a batch may crash before the rest of it is failed unrun
_MAX_CRASHES = 3
#: the console lines kept of a crash: the oops with its call trace
_CRASH_LINES = 120


def _run_batch(kver, cases, append=()):
    """Builds ``cases`` on the host, runs them all in one boot of ``kver``
    (with ``append`` on its command line); results by case id.  A case
    that crashes (or hangs) the guest kernel fails with the console's
    oops, and the cases after it run in a new boot."""
    try:
        vm.check_available(kver)
    except vm.VMUnavailable as exc:
        _unavailable(str(exc))
    vmcases.prepare_work_dir()
    _prebuild(cases, kver)
    results, dmesg, crashes = {}, [], 0
    remaining = list(cases)
    while remaining and crashes < _MAX_CRASHES:
        done, boot_dmesg, crash = _boot_batch(kver, remaining, append)
        results.update(done)
        dmesg.append(boot_dmesg)
        remaining = [c for c in remaining if c.id not in done]
        if crash is not None:
            crashes += 1
            results[remaining.pop(0).id] = _crashed_result(crash)
    for case in remaining:
        results[case.id] = _crashed_result(
            f"not run: the guest crashed {crashes} times before it")
    return {"results": results, "dmesg": "\n".join(dmesg)}


def _crashed_result(console: str) -> dict:
    return {"rc": None, "crashed": True, "stdout": "", "stderr": console,
            "leftover_modules": []}


def _boot_batch(kver, cases, append):
    """One boot running ``cases`` in order: the results it got, the
    kernel log, and the console's last lines if the guest died."""
    exchange = Path(tempfile.mkdtemp(prefix="stpc-vmtests-"))
    cases_file = exchange / "cases.json"
    results_file = exchange / "results.json"
    cache = os.environ.get("STPC_CACHE_DIR", "")
    cases_file.write_text(json.dumps([
        {"id": c.id, "shell": c.shell, "cwd": str(c.cwd),
         "timeout": c.timeout, "env": dict(c.env, STPC_CACHE_DIR=cache)}
        for c in cases]))
    command = (f"{sys.executable} {TESTS / 'vm_batch.py'} "
               f"{cases_file} {results_file}")
    total = sum(c.timeout for c in cases) + 300
    rwdirs = [str(exchange)] + ([cache] if cache else [])
    console = exchange / "console.log"
    watch = BatchWatch(exchange, kver, len(cases))
    try:
        run = vm.run_in_vm(command, kver, rwdirs, timeout=total,
                           append=append, console=console, watchdog=watch)
    except (vm.VMError, subprocess.TimeoutExpired) as exc:
        oops = vm._tail(_read_text(console), _CRASH_LINES)
        watch.report_new_results()
        return _read_results(results_file), oops, \
            f"the guest died or hung ({exc.__class__.__name__}: " \
            f"{str(exc).splitlines()[0]}); console saved in {console}; " \
            f"its end:\n{oops}"
    watch.report_new_results()   # those that ended after its last look
    if run.returncode != 0 or not results_file.exists():
        pytest.fail(f"VM batch failed (rc {run.returncode}):\n"
                    f"{run.stdout}\n{run.stderr}\n{vm._tail(run.console)}")
    return _read_results(results_file), run.dmesg, None


class BatchWatch:
    """The watchdog of one boot running a batch (vm.run_in_vm calls it
    every few seconds): reports each case as its result arrives, and
    gives up on a guest whose current case outlived its time limit by
    more than the batch runner needs to stop it (a kernel hang), or that
    started no case at all."""

    #: seconds from the start of the boot to the first case
    BOOT_LIMIT = 600
    #: seconds past a case's limit the guest's batch runner may take to
    #: stop it and record why
    GRACE = 120

    def __init__(self, exchange: Path, kver: str, count: int):
        self.exchange, self.kver, self.count = exchange, kver, count
        self.case_id, self.case_since = None, time.monotonic()
        self.reported = 0

    def __call__(self) -> str | None:
        self.report_new_results()
        current = _read_results(self.exchange / "current.json")
        now = time.monotonic()
        if not current:
            if now - self.case_since > self.BOOT_LIMIT:
                return f"no case started within {self.BOOT_LIMIT} s"
            return None
        if current["id"] != self.case_id:
            self.case_id, self.case_since = current["id"], now
        elif now - self.case_since > current["timeout"] + self.GRACE:
            return (f"case {self.case_id} went on {self.GRACE} s past its "
                    f"limit of {current['timeout']} s")
        return None

    def report_new_results(self) -> None:
        results = _read_results(self.exchange / "results.json")
        for case_id, result in list(results.items())[self.reported:]:
            self.reported += 1
            status = "timed out" if result["rc"] is None \
                else f"status {result['rc']}"
            _report(f"[VM {self.kver} {self.reported}/{self.count}] "
                    f"{case_id}: {status}, {result['seconds']} s")


def _report(line: str) -> None:
    """Prints past pytest's capture, so a long batch shows its progress."""
    capture = _config.pluginmanager.getplugin("capturemanager") \
        if _config is not None else None
    if capture is None:
        print(line, flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(line, flush=True)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _read_results(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
