#!/usr/bin/env python3
"""`make test`: the host tests and the VM tests, side by side.

The VM tests spend most of their time in one guest under TCG, which keeps
one core busy; the host tests spend theirs compiling, on one core too.
Run one after the other they took most of CI's time limit; run together
they share the machine's two cores.  Each run's output is relayed line by
line as it comes, each line marked with the run it belongs to (so a run
cut short still shows how far each side got).  Arguments are passed to
both pytest runs (e.g. ``-k corpus``).

Standard library only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

#: pytest's status when no test was selected (a -k matching one side only)
NO_TESTS = 5

_print_lock = threading.Lock()


def main(extra: list) -> int:
    started = time.monotonic()
    runs = {"host": start("not vm", extra), "vm": start("vm", extra)}
    relays = [threading.Thread(target=relay, args=(run.stdout, name))
              for name, run in runs.items()]
    for thread in relays:
        thread.start()
    try:
        statuses = {name: run.wait() for name, run in runs.items()}
    finally:
        for run in runs.values():
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGTERM)
                run.wait()
    for thread in relays:
        thread.join()
    print(f"host tests: status {statuses['host']}, VM tests: status "
          f"{statuses['vm']}, {time.monotonic() - started:.0f} s",
          flush=True)
    return combined(*statuses.values())


def start(marker: str, extra: list) -> subprocess.Popen:
    # a session of its own: stopping it stops a guest's QEMU too
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-m", marker, *extra,
         "tests"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)


def relay(stream, name: str) -> None:
    """Copies STREAM to stdout a whole line at a time, each marked."""
    mark = f"{name:<4}| ".encode()
    for line in iter(stream.readline, b""):
        with _print_lock:
            sys.stdout.buffer.write(mark + line)
            sys.stdout.flush()


def combined(*statuses: int) -> int:
    """Failure if either failed; "no tests" only when neither ran any."""
    ran = [status for status in statuses if status != NO_TESTS]
    if not ran:
        return NO_TESTS
    return max(ran)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
