#!/usr/bin/env python3
"""Run shell commands as root inside a throwaway virtme-ng VM.

Why: stpc builds kernel modules, and loading them into the machine that runs
the test suite is unsafe (a bad probe can oops or hang the host).  virtme-ng
(``vng``) boots an installed kernel in QEMU with the host filesystem shared
read-only over 9p, so the guest sees the same Python, the same checkout and
the same kbuild tree, and we can insmod freely inside it.

How the result gets back reliably: vng passes guest output over virtio-serial
ports and the exit status over a "ret" port, but we do not depend on that.
The guest runs a small wrapper script that lives in a private host directory
shared read-write (``--rwdir``); the wrapper redirects the command's stdout
and stderr into files there and writes the exit status last.  So:

* guest stdout/stderr never mix with boot or kernel-console noise;
* a missing status file means the guest never finished (panic, hang) and is
  reported as ``VMError`` instead of a made-up exit status;
* vng's own stdout/stderr carry only the kernel console (we boot with
  ``--verbose``), kept as ``result.console`` for diagnosing crashes.

Guest facts worth knowing (virtme-ng 1.42, Debian 12 kernel 6.1):

* ``/`` is the host root, read-only.  /etc, /lib, /home, /opt, /srv, /usr,
  /var and /tmp get tmpfs overlays (writable, discarded at exit); other
  paths such as /root and the repository checkout are read-only unless
  passed with ``rwdirs``.  Only ``rwdirs`` writes reach the host.
* /proc, /sys, debugfs (/sys/kernel/debug) and tracefs are mounted.
* Nested KVM hangs on our CI hosts, so QEMU runs in TCG mode unless
  ``STPC_VM_KVM=1`` is set; a boot running one command takes ~20-45 s.

Library use::

    from tests.vm import find_kernel_release, run_in_vm, VMUnavailable
    res = run_in_vm("insmod x.ko && cat /proc/modules", find_kernel_release())

CLI use::

    python3 tests/vm.py [--kver K] [--rwdir D]... [--timeout S] -- CMD...
    python3 tests/vm.py --check

Standard library only.  Environment: ``STPC_KVER`` (kernel release),
``STPC_VM_KVM=1`` (use KVM), ``STPC_VM_KEEP=1`` (keep the exchange dir).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Host environment variables copied into the guest.  virtme-ng starts the
#: guest command with a fixed minimal PATH, which would pick /usr/bin/python3
#: instead of the pyenv/venv interpreter that has stpc's dependencies.
PASSTHROUGH_ENV = (
    "PATH", "PYENV_ROOT", "PYENV_VERSION", "PYTHONPATH", "VIRTUAL_ENV",
    "LANG", "LC_ALL", "STPC_KVER",
)

#: Appended to the guest PATH so root tools (insmod, rmmod, mount) resolve
#: even when the host caller's PATH lacks the sbin directories.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: CLI exit codes for failures that are not the guest command's own status.
EXIT_UNAVAILABLE = 77   # automake/meson "skip" convention
EXIT_TIMEOUT = 124      # same as timeout(1)
EXIT_VM_ERROR = 125


class VMUnavailable(Exception):
    """The VM cannot be started on this host; ``str()`` says what to install."""


class VMError(RuntimeError):
    """The VM started but the guest command never reported an exit status.

    Usually a kernel panic or a guest hang.  ``console`` holds the kernel
    console log; ``stdout``/``stderr`` hold whatever the command wrote.
    """

    def __init__(self, message: str, console: str = "", stdout: str = "",
                 stderr: str = ""):
        super().__init__(message)
        self.console = console
        self.stdout = stdout
        self.stderr = stderr


class VMResult(subprocess.CompletedProcess):
    """``CompletedProcess`` of the guest command, plus VM diagnostics.

    ``returncode``/``stdout``/``stderr`` belong to the guest command.
    ``console`` is the guest kernel console (boot log), ``dmesg`` the guest
    kernel ring buffer read right after the command, ``elapsed`` the wall
    time in seconds for boot + command + poweroff.
    """

    def __init__(self, args, returncode, stdout, stderr, console="",
                 dmesg="", elapsed=0.0):
        super().__init__(args, returncode, stdout, stderr)
        self.console = console
        self.dmesg = dmesg
        self.elapsed = elapsed


# --------------------------------------------------------------------------
# Kernel and tool discovery
# --------------------------------------------------------------------------

def _version_key(kver: str) -> list:
    """Natural-sort key, so 6.1.0-56 sorts after 6.1.0-9 and 6.10 after 6.9.

    Each token becomes a (number, text) pair so ints and strings never get
    compared with each other.
    """
    return [(int(tok), "") if tok.isdigit() else (-1, tok)
            for tok in re.split(r"(\d+)", kver) if tok]


#: Debian 12's own kernel series: the kernel the VM boots and modules are
#: built for unless a test asks for another.  Newer series installed from
#: bookworm-backports must not silently become the default.
DEFAULT_SERIES = "6.1"
#: The second kernel the test session boots (bookworm-backports).
SECOND_SERIES = "6.12"


def find_kernel_releases() -> list[str]:
    """Every bootable kernel release, newest first.

    A release counts only if both /boot/vmlinuz-KVER (to boot) and
    /lib/modules/KVER/build (to build test modules against) exist.
    """
    found = [p.name[len("vmlinuz-"):] for p in Path("/boot").glob("vmlinuz-*")]
    usable = [k for k in found if Path("/lib/modules", k, "build").is_dir()]
    return sorted(usable, key=_version_key, reverse=True)


def find_kernel_release(series: str = DEFAULT_SERIES) -> str | None:
    """The newest bootable release of ``series`` (e.g. "6.1"), or None.

    For the default series the env var STPC_KVER overrides the search and
    is returned unchecked, so that a wrong value fails loudly in run_in_vm
    instead of silently falling back.
    """
    forced = os.environ.get("STPC_KVER")
    if forced and series == DEFAULT_SERIES:
        return forced
    matching = [k for k in find_kernel_releases()
                if k.startswith(series + ".")]
    return matching[0] if matching else None


def _use_kvm() -> bool:
    """KVM only on explicit request: nested KVM hangs on our CI hosts."""
    return os.environ.get("STPC_VM_KVM") == "1"


def _find_vng() -> str | None:
    """Locate vng on PATH or next to the running interpreter.

    The second place matters when the caller runs a venv/pyenv python
    directly without having its bin directory on PATH.
    """
    found = shutil.which("vng")
    if found:
        return found
    beside = Path(sys.executable).parent / "vng"
    return str(beside) if os.access(beside, os.X_OK) else None


def check_available(kver: str | None) -> str:
    """Return the vng path, or raise VMUnavailable saying what is missing.

    Checked up front so tests can skip with a useful message instead of
    failing deep inside QEMU.
    """
    vng = _find_vng()
    if vng is None:
        raise VMUnavailable("vng not found: pip install virtme-ng")
    if shutil.which("qemu-system-x86_64") is None:
        raise VMUnavailable("qemu-system-x86_64 not found: "
                            "apt-get install qemu-system-x86")
    if not kver:
        raise VMUnavailable("no kernel with /boot/vmlinuz-KVER and "
                            "/lib/modules/KVER/build: apt-get install "
                            "linux-image-amd64 linux-headers-amd64")
    kernel = Path("/boot", f"vmlinuz-{kver}")
    if not os.access(kernel, os.R_OK):
        raise VMUnavailable(f"{kernel} missing or unreadable: apt-get install "
                            f"linux-image-{kver} (and make it readable)")
    if not Path("/lib/modules", kver).is_dir():
        raise VMUnavailable(f"/lib/modules/{kver} missing: apt-get install "
                            f"linux-image-{kver}")
    if _use_kvm() and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise VMUnavailable("STPC_VM_KVM=1 but /dev/kvm is not accessible: "
                            "unset STPC_VM_KVM or add yourself to group kvm")
    return vng


# --------------------------------------------------------------------------
# Guest wrapper script
# --------------------------------------------------------------------------

def _guest_path() -> str:
    """Host PATH followed by the system dirs, without duplicates."""
    parts = os.environ.get("PATH", "").split(":") + SYSTEM_PATH.split(":")
    return ":".join(dict.fromkeys(p for p in parts if p))


def _guest_script(xdir: Path) -> str:
    """Shell wrapper the guest runs: env, command, then status last.

    The command runs in a child shell so that ``exit``/``exec`` in it cannot
    skip the status write.  The status is written to a temp name and
    renamed, so the host never reads a half-written number.
    """
    env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
    env["PATH"] = _guest_path()
    q = shlex.quote
    lines = ["#!/bin/sh"]
    lines += [f"export {k}={q(v)}" for k, v in env.items()]
    lines += [
        f"/bin/sh {q(str(xdir / 'cmd.sh'))} </dev/null "
        f">{q(str(xdir / 'stdout'))} 2>{q(str(xdir / 'stderr'))}",
        "rc=$?",
        f"dmesg >{q(str(xdir / 'dmesg'))} 2>&1",
        f"echo $rc >{q(str(xdir / 'status.tmp'))}",
        f"mv {q(str(xdir / 'status.tmp'))} {q(str(xdir / 'status'))}",
        "sync",
        "exit $rc",
    ]
    return "\n".join(lines) + "\n"


def _prepare_exchange_dir(command: str, cwd: str) -> Path:
    """Create the private host<->guest directory holding script and results."""
    xdir = Path(tempfile.mkdtemp(prefix="stpc-vm-"))
    # cd inside cmd.sh so a failure lands in the command's stderr/status.
    (xdir / "cmd.sh").write_text(f"cd {shlex.quote(cwd)} || exit 125\n"
                                 f"{command}\n")
    (xdir / "guest.sh").write_text(_guest_script(xdir))
    return xdir


def _read(path: Path) -> str:
    """Read a result file as text; missing means the guest never wrote it."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


# --------------------------------------------------------------------------
# Running vng
# --------------------------------------------------------------------------

def _rwdir_arg(path: str) -> str:
    """``--rwdir=P=P`` for an absolute P; vng splits on '=' and QEMU on ','."""
    p = os.path.abspath(path)
    if "=" in p or "," in p:
        raise ValueError(f"rwdir path may not contain '=' or ',': {p!r}")
    if not os.path.isdir(p):
        raise ValueError(f"rwdir is not a directory: {p!r}")
    return f"--rwdir={p}={p}"


#: TCG with one host thread for all the guest's CPUs.  With a thread
#: per CPU (QEMU's default), a guest CPU has executed code that another
#: had just rewritten as it was before: the int3 the kernel places while
#: it patches text (static keys, ftrace, kprobes), after the patching
#: ended, which oopses ("Oops: int3", seen at boot with no module loaded
#: on 6.12); a jump to 0 at a system call's entry on 6.1 while ftrace
#: patched its call site looked the same.  The tests patch the kernel's
#: text at every run; one thread runs the CPUs in turns (docs/setup.md).
TCG_ACCEL = "tcg,thread=single"


def vng_command(vng: str, kver: str, exec_cmd: str, rwdirs=(),
                memory: str = "2G", cpus: int = 2,
                append=()) -> list[str]:
    """Build the vng argv.

    ``-r /boot/vmlinuz-KVER`` boots the installed kernel (vng finds its
    modules in /lib/modules/KVER of the shared root); ``--user root`` so
    insmod works whoever runs the tests; ``--verbose`` sends the kernel
    console to vng's stderr, which we keep as a crash log (the command's own
    output goes to files, so nothing mixes).  ``--force-9p``: bookworm has
    only qemu's old C virtiofsd, which vng tries first and cannot start
    (``fuse: invalid argument``); it then falls back to 9p anyway, after
    about 3 s of retries per boot.  ``append`` holds extra kernel
    command-line words, e.g. ``module.sig_enforce=1``.
    """
    argv = [vng, "--run", f"/boot/vmlinuz-{kver}", "--user", "root",
            "--memory", str(memory), "--cpus", str(cpus), "--verbose",
            "--force-9p"]
    if not _use_kvm():
        argv += ["--disable-kvm", f"--qemu-opts=-accel {TCG_ACCEL}"]
    argv += [_rwdir_arg(d) for d in rwdirs]
    argv += [f"--append={word}" for word in append]
    argv += ["--exec", exec_cmd]
    return argv


def vng_environment(vng: str) -> dict[str, str]:
    """The environment vng runs in: vng's own directory first on PATH.

    vng starts ``virtme-run`` by name, so a venv's vng run without the venv
    on PATH (``.venv/bin/python tests/vm.py``) would fail to find it.
    """
    path = os.environ.get("PATH", SYSTEM_PATH)
    return {**os.environ, "PATH": f"{os.path.dirname(vng)}:{path}"}


#: seconds between two looks at a running guest's watchdog
WATCHDOG_PERIOD = 2.0


def _run_vng(argv: list[str], timeout: float, console: Path,
             watchdog=None) -> tuple[int, str, float]:
    """Run vng with no stdin and its own session; return (rc, log, seconds).

    stdin is /dev/null so vng never tries terminal handling (CI has no TTY).
    A new session lets a timeout kill vng *and* its forked QEMU together.
    The console goes to the file ``console`` as it comes, so a guest that
    dies or hangs leaves its last words even if the caller is killed too.
    ``watchdog``, called every few seconds, returns why the guest should
    be given up on (it made no progress), or None.
    """
    start = time.monotonic()
    with open(console, "wb") as log_file:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                env=vng_environment(argv[0]))
        try:
            _wait_guest(proc, start + timeout, watchdog)
        except BaseException as exc:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            _explain_stop(exc, argv, timeout, _read(console))
    return proc.returncode, _read(console), time.monotonic() - start


class _Stalled(Exception):
    """The watchdog gave up on the guest; the message says why."""


def _wait_guest(proc, deadline: float, watchdog) -> None:
    """Returns when vng exits; raises TimeoutExpired at ``deadline``,
    _Stalled when the watchdog gives up on the guest."""
    while True:
        try:
            proc.wait(timeout=max(0.0, min(WATCHDOG_PERIOD,
                                           deadline - time.monotonic())))
            return
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise
        stalled = watchdog() if watchdog is not None else None
        if stalled is not None:
            raise _Stalled(stalled)


def _explain_stop(exc: BaseException, argv, timeout: float, log: str):
    """Re-raises why a guest was stopped, with its console attached."""
    if isinstance(exc, _Stalled):
        raise VMError(f"the guest was stopped: {exc}; console tail:\n"
                      f"{_tail(log)}", log) from None
    if isinstance(exc, subprocess.TimeoutExpired):
        raise subprocess.TimeoutExpired(argv, timeout, output=log) from None
    raise exc


def _collect(xdir: Path, command: str, vng_rc: int, log: str,
             elapsed: float) -> VMResult:
    """Turn the exchange dir into a VMResult, or raise VMError."""
    stdout, stderr = _read(xdir / "stdout"), _read(xdir / "stderr")
    status = _read(xdir / "status").strip()
    if not status.isdigit():
        raise VMError(f"guest did not report an exit status (vng exit "
                      f"{vng_rc}; kernel panic or guest failure?); console "
                      f"tail:\n{_tail(log)}", log, stdout, stderr)
    return VMResult(command, int(status), stdout, stderr, console=log,
                    dmesg=_read(xdir / "dmesg"), elapsed=elapsed)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def run_in_vm(command: str, kver: str, rwdirs: list[str] = (),
              timeout: float = 900, memory: str = "2G",
              cpus: int = 2, append: list[str] = (), watchdog=None,
              console: Path | None = None) -> VMResult:
    """Run ``command`` (a /bin/sh command line) as root in a fresh VM.

    The guest starts in the caller's cwd with the caller's PATH.  Returns a
    VMResult whose returncode/stdout/stderr are the guest command's.
    Raises VMUnavailable if the host lacks vng/QEMU/the kernel, VMError if
    the guest never reported a status, subprocess.TimeoutExpired after
    ``timeout`` seconds (the VM is killed; ``.output`` has the console).
    Only directories in ``rwdirs`` are writable back to the host;
    ``append`` adds words to the guest kernel's command line.
    ``watchdog`` and ``console`` (where the kernel console is written as
    it comes; by default a file removed afterwards) are _run_vng's.
    """
    vng = check_available(kver)
    xdir = _prepare_exchange_dir(command, os.getcwd())
    try:
        argv = vng_command(vng, kver, f"/bin/sh {shlex.quote(str(xdir))}"
                           "/guest.sh", [str(xdir), *rwdirs], memory, cpus,
                           append)
        rc, log, elapsed = _run_vng(argv, timeout,
                                    console or xdir / "console.log",
                                    watchdog)
        return _collect(xdir, command, rc, log, elapsed)
    finally:
        if os.environ.get("STPC_VM_KEEP") != "1":
            shutil.rmtree(xdir, ignore_errors=True)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def _parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Run CMD as root in a throwaway virtme-ng VM and exit "
                    "with its status.  Pass a shell line as: -- sh -c '...'")
    ap.add_argument("--kver", help="kernel release (default: STPC_KVER or "
                    "the newest of --series with /lib/modules/KVER/build)")
    ap.add_argument("--series", default=DEFAULT_SERIES,
                    help=f"kernel series to pick the release from (default "
                    f"{DEFAULT_SERIES}; the second test kernel is "
                    f"{SECOND_SERIES})")
    ap.add_argument("--append", action="append", default=[],
                    help="extra kernel command-line word (repeatable)")
    ap.add_argument("--rwdir", action="append", default=[],
                    help="host dir the guest may write (repeatable)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--memory", default="2G")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--check", action="store_true",
                    help="boot, run `true`, report the boot time")
    ap.add_argument("--print-kver", action="store_true",
                    help="print the kernel release the VM would boot")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    if args.cmd[:1] == ["--"]:
        args.cmd = args.cmd[1:]
    if not args.check and not args.print_kver and not args.cmd:
        ap.error("no command given (use -- CMD... or --check)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    kver = args.kver or find_kernel_release(args.series)
    if args.print_kver:
        print(kver or "")
        return 0 if kver else EXIT_UNAVAILABLE
    command = "true" if args.check else shlex.join(args.cmd)
    try:
        res = run_in_vm(command, kver, args.rwdir, args.timeout,
                        args.memory, args.cpus, args.append)
    except VMUnavailable as exc:
        print(f"vm.py: VM unavailable: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except subprocess.TimeoutExpired as exc:
        print(f"vm.py: timed out after {exc.timeout:.0f} s; console tail:\n"
              f"{_tail(exc.output or '')}", file=sys.stderr)
        return EXIT_TIMEOUT
    except VMError as exc:
        sys.stdout.write(exc.stdout)
        sys.stderr.write(exc.stderr)
        print(f"vm.py: {exc}", file=sys.stderr)
        return EXIT_VM_ERROR
    sys.stdout.write(res.stdout)
    sys.stderr.write(res.stderr)
    if args.check:
        mode = "KVM" if _use_kvm() else "TCG"
        print(f"VM OK: kernel {kver}, {mode}, boot+run+poweroff "
              f"{res.elapsed:.1f} s, guest exit {res.returncode}")
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
