#!/usr/bin/env python3
"""`make test`: the host tests and the VM tests, side by side.

The VM tests spend most of their time in one guest under TCG, which keeps
one core busy; the host tests spend theirs compiling, on one core too.
Run one after the other they took most of CI's time limit; run together
they share the machine's two cores.  The host tests print as they go; the
VM tests' output is kept and printed when both are done.  Arguments are
passed to both pytest runs (e.g. ``-k corpus``).

Standard library only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

#: pytest's status when no test was selected (a -k matching one side only)
NO_TESTS = 5


def pytest_argv(marker: str, extra: list) -> list:
    return [sys.executable, "-m", "pytest", "-q", "-m", marker, *extra,
            "tests"]


def main(extra: list) -> int:
    started = time.monotonic()
    with tempfile.TemporaryFile() as vm_log:
        # a session of its own: stopping it stops its guest's QEMU too
        vm = subprocess.Popen(pytest_argv("vm", extra), stdout=vm_log,
                              stderr=subprocess.STDOUT, start_new_session=True)
        try:
            print("host tests (the VM tests run beside them):", flush=True)
            host_status = subprocess.call(pytest_argv("not vm", extra))
            vm_status = vm.wait()
        finally:
            if vm.poll() is None:
                os.killpg(vm.pid, signal.SIGTERM)
                vm.wait()
        vm_log.seek(0)
        print(f"VM tests ({time.monotonic() - started:.0f} s since both "
              "started):", flush=True)
        sys.stdout.buffer.write(vm_log.read())
        sys.stdout.flush()
    return combined(host_status, vm_status)


def combined(*statuses: int) -> int:
    """Failure if either failed; "no tests" only when neither ran any."""
    ran = [status for status in statuses if status != NO_TESTS]
    if not ran:
        return NO_TESTS
    return max(ran)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
