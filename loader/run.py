"""Running a module: load it, start it, stream its output, stop it,
remove it.  Every way out of ``run_module`` removes the module."""

from __future__ import annotations

import errno
import os
import select
import signal
import sys
import time
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, NoReturn, Optional

from . import color, kmod, probed, protocol
from .image import ModuleImage, free_name, running_release
from .kmod import LoaderError

if TYPE_CHECKING:
    from .approved import Invoker
    from .command import Exec

#: a poll() on the data file sleeps until a record or the run's end; a
#: signal wakes it through the wakeup pipe; this bounds it all the same
_WAIT_MS = 1000
#: after a wakeup that brought nothing, before waiting again
_IDLE_SECONDS = 0.02
_READ_SIZE = 1 << 20
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


#: NamedTuples, not dataclasses, through the whole run: importing
#: dataclasses (and its inspect) costs every run's start more than these
class RunOptions(NamedTuple):
    output: Optional[str] = None       # -o FILE
    command: Optional[str] = None      # -c CMD
    target_pid: Optional[int] = None   # -x PID
    verbose: bool = False              # -v: the module reports more
    module_name: Optional[str] = None  # -m NAME: load under this name
    json: bool = False                 # --format json: NDJSON on stdout
    command_as: Optional[Invoker] = None   # --approved under sudo: -c's user


class RunResult(NamedTuple):
    errors: int
    skipped: int
    dropped: int
    refused: bool = False       # the module never started
    aborted: bool = False       # ended in error, e.g. past MAXSKIPPED

    @property
    def exit_status(self) -> int:
        return 1 if self.errors or self.aborted else 0


_CAP_SYS_MODULE = 16


def _may_load_modules() -> bool:
    """Whether this process has CAP_SYS_MODULE, which init_module needs."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >>
                                _CAP_SYS_MODULE & 1)
    except OSError:
        pass
    return os.geteuid() == 0


def checked_image(image: ModuleImage, options: RunOptions) -> ModuleImage:
    """The image to load, after every check that needs no loading: for
    this kernel, run by root, under a free name."""
    image.check_kernel(running_release())
    if not _may_load_modules():
        raise LoaderError("running a probe module needs root "
                          "(CAP_SYS_MODULE): run stpc as root or with sudo")
    name = free_name(image, options.module_name, kmod.loaded_modules())
    return image if name == image.name else image.renamed(name)


def run_module(image: ModuleImage, options: RunOptions) -> RunResult:
    plan = None
    if options.command is not None:
        from .command import plan as command_plan
        plan = command_plan(options.command)
    image = checked_image(image, options)
    name = image.name
    with _StopSignals() as signals:
        addresses = probed.resolve(image.info)
        child = _Child(plan, options.command_as) if plan else None
        target = child.pid if child else options.target_pid
        params = [f"{protocol.PARAM_TARGET}={target}" if target else "",
                  addresses.param,
                  f"{protocol.PARAM_VERBOSE}=1" if options.verbose else ""]
        try:
            kmod.init_module(image.data, " ".join(p for p in params if p))
        except OSError as exc:
            if child:
                child.abandon()
            raise LoaderError(kmod.explain_load_error(exc, name,
                                                      image.modinfo)) \
                from None
        finally:
            addresses.release()
        try:
            with _Output(options.output, options.json) as out:
                times = _PhaseTimes(options.verbose, image.info)
                return _Session(name, out, child, signals, times).run()
        finally:
            if child:
                child.abandon()
            _remove(name)


class _StopSignals:
    """Turns SIGINT, SIGTERM and SIGHUP into a request to end the run.

    Installed before the module is loaded, so a signal at any moment ends
    the run cleanly (end probes, output drained, module removed)."""

    def __init__(self):
        self.received: Optional[int] = None
        self.previous = {}
        self.previous_wakeup = -1
        self.wakeup_fd = -1         # readable once a signal came

    def __enter__(self):
        read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wakeup_fd, self._write_end = read_end, write_end
        self.previous_wakeup = signal.set_wakeup_fd(write_end)
        self.previous = {sig: signal.signal(sig, self._handle)
                         for sig in _STOP_SIGNALS}
        # the -c command's end wakes a waiting loader too
        self.previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD,
                                                      self._ignore)
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self.previous_wakeup)
        os.close(self.wakeup_fd)
        os.close(self._write_end)

    def _handle(self, signum, frame) -> None:
        self.received = signum

    def _ignore(self, signum, frame) -> None:
        pass


# the points a session runs instead of arming them
_RUN_ONCE = ("begin", "end", "error", "never")


class _PhaseTimes:
    """With -v, how long the start command took to arm the probes and
    the stop command to disarm them (bench/many_probes.py reads these).
    ``armed`` counts the points start tries to arm (the module warns
    about any it cannot).  Start also runs the begin probes first, and
    stop the end probes after: without them the times are arming's
    alone."""

    def __init__(self, verbose: bool, info: Optional[dict]):
        self.verbose = verbose
        self.armed = sum(1 for point in (info or {}).get("probes", [])
                         if point.partition("(")[0] not in _RUN_ONCE)

    def report(self, what: str, started: float) -> None:
        if self.verbose:
            ms = (time.monotonic() - started) * 1000
            sys.stderr.write(f"stpc: {what} in {ms:.1f} ms\n")
            sys.stderr.flush()


def _remove(name: str) -> None:
    for _ in range(50):
        try:
            kmod.delete_module(name)
            return
        except OSError as exc:
            if exc.errno != errno.EAGAIN:
                raise LoaderError(f"could not remove module {name}: "
                                  f"{exc.strerror}") from None
            time.sleep(0.1)
    raise LoaderError(f"module {name} stayed busy; remove it with "
                      "'stpc --cleanup'")


class _Output:
    """Where records go: stdout (or -o FILE) and stderr."""

    def __init__(self, path: Optional[str], as_json: bool = False):
        self.path = path
        self.stdout: BinaryIO = sys.stdout.buffer
        self.json = None
        if as_json:
            from .ndjson import JsonLines
            self.json = JsonLines(self._write_text)

    def __enter__(self):
        if self.path:
            self.stdout = open(self.path, "wb")
        return self

    def __exit__(self, *exc):
        if self.json:
            self.json.close()
        self.stdout.flush()
        if self.path:
            self.stdout.close()

    def write(self, records) -> None:
        for _, stream, payload, kind in records:
            if stream == protocol.STREAM_STDERR:
                self.stdout.flush()
                sys.stderr.buffer.write(color.run_lines(payload))
                sys.stderr.flush()
            elif self.json:
                self.json.feed(kind, payload.decode("utf-8", "replace"))
            elif kind != protocol.KIND_HIST_NAME:
                self.stdout.write(payload)
        self.stdout.flush()

    def _write_text(self, text: str) -> None:
        self.stdout.write(text.encode())


class _Child:
    """The -c command: forked now, exec'd once the probes are armed, so
    that its pid, given to the module as target(), is the command's."""

    def __init__(self, plan: Exec, invoker: Optional[Invoker] = None):
        if invoker:
            from . import approved  # noqa: F401 - for the child, imported now
        release_read, self.release_fd = os.pipe()
        self.failure_fd, failure_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            self._exec_when_released(plan, invoker, release_read,
                                     failure_write)
        os.close(release_read)
        os.close(failure_write)
        self.status: Optional[int] = None

    def release(self) -> Optional[str]:
        """Lets the child exec; why it could not, if it could not."""
        os.write(self.release_fd, b"g")
        os.close(self.release_fd)
        self.release_fd = -1
        with open(self.failure_fd, "rb") as failure:   # EOF once exec'd
            self.failure_fd = -1
            return failure.read().decode(errors="replace") or None

    def exited(self) -> bool:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
        return self.status is not None

    def abandon(self) -> None:
        """Ends a child that never ran, or reaps one that did."""
        if self.release_fd >= 0:
            os.close(self.release_fd)     # its read gets EOF and it exits
            os.close(self.failure_fd)
            self.release_fd = self.failure_fd = -1
        if self.status is None:
            _, self.status = os.waitpid(self.pid, 0)

    def _exec_when_released(self, plan: Exec,
                            invoker: Optional[Invoker], release_fd: int,
                            failure_fd: int) -> NoReturn:
        """In the forked child: becomes INVOKER if given, waits for the
        word to go, then execs PLAN; a failure is told to the parent
        through FAILURE_FD (closed on exec).  The parent's ends are closed,
        so that its death ends the wait."""
        try:
            os.close(self.release_fd)
            os.close(self.failure_fd)
            if invoker:
                from .approved import become    # imported before the fork
                become(invoker)
            if os.read(release_fd, 1) == b"g":
                # Python ignores these; the command gets the usual defaults
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
                os.execvp(plan.program, plan.argv)
        except OSError as exc:
            os.write(failure_fd, f"{plan.program}: {exc.strerror}".encode())
        finally:
            os._exit(127)


class _Session:
    def __init__(self, name: str, out: _Output, child: Optional[_Child],
                 signals: _StopSignals, times: _PhaseTimes):
        self.name = name
        self.times = times
        self.out = out
        self.child = child
        self.signals = signals
        base = protocol.proc_dir(name)
        self.ctl_path = f"{base}/{protocol.CTL_FILE}"
        self.data_fd = os.open(f"{base}/{protocol.DATA_FILE}", os.O_RDONLY)
        self.command_failed = False

    def run(self) -> RunResult:
        times = self.times
        try:
            started = time.monotonic()
            if not self._start():
                return RunResult(1, 0, 0, refused=True)
            times.report(f"armed {times.armed} probes", started)
            if self.child:
                self._release_child()
            self._wait_for_end()
            stopping = time.monotonic()
            self._command(protocol.CMD_DISARM)
            times.report("disarmed", stopping)
            self._drain()
            self._command(protocol.CMD_STOP)
            self._drain()
            status = self._status()
        finally:
            os.close(self.data_fd)
        return self._finish(status)

    def _release_child(self) -> None:
        failure = self.child.release()
        if failure:
            self.command_failed = True
            _warn(f"ERROR: -c: cannot run {failure}")

    def _start(self) -> bool:
        """False if the module refused to start; it has said why on its
        stderr stream (a target that does not match, for instance)."""
        try:
            self._command(protocol.CMD_START)
        except OSError:
            self._drain()
            return False
        return True

    def _command(self, word: str) -> None:
        with open(self.ctl_path, "w") as ctl:
            ctl.write(word)

    def _status(self) -> dict:
        with open(self.ctl_path) as ctl:
            return protocol.parse_status(ctl.read())

    def _drain(self) -> bool:
        """Moves pending records to the output; True if there were any."""
        any_data = False
        while True:
            data = os.read(self.data_fd, _READ_SIZE)
            if not data:
                return any_data
            any_data = True
            self.out.write(protocol.parse_records(data))

    def _wait_for_end(self) -> None:
        """Sleeps in poll() until records, the run's end, a signal or the
        -c command's end; the module wakes the data file (docs)."""
        waiting = select.poll()
        waiting.register(self.data_fd, select.POLLIN)
        waiting.register(self.signals.wakeup_fd, select.POLLIN)
        readable = False
        while self.signals.received is None:
            got_data = self._drain()
            state = self._status()["state"]
            if state in (protocol.STATE_STOPPING, protocol.STATE_ERROR):
                return
            if self.child and self.child.exited():
                return
            if got_data:
                continue
            if readable:
                time.sleep(_IDLE_SECONDS)   # readable, yet nothing came
            ready = dict(waiting.poll(_WAIT_MS))
            if self.signals.wakeup_fd in ready:
                _empty(self.signals.wakeup_fd)
            readable = self.data_fd in ready

    def _finish(self, status: dict) -> RunResult:
        result = RunResult(status["errors"], status["skipped"],
                           status["dropped"],
                           aborted=status["state"] == protocol.STATE_ERROR
                           or self.command_failed)
        if result.dropped:
            _warn(f"WARNING: {result.dropped} output records dropped")
        if result.errors or result.skipped:
            _warn(f"WARNING: Number of errors: {result.errors}, "
                  f"skipped probes: {result.skipped}")
        return result


def _empty(fd: int) -> None:
    try:
        while os.read(fd, 64):
            pass
    except BlockingIOError:
        pass


def _warn(line: str) -> None:
    sys.stderr.write(color.run_lines(line.encode()).decode() + "\n")
    sys.stderr.flush()


def cleanup() -> int:
    """Removes stpc modules left loaded by a loader that was killed."""
    removed = 0
    for name in kmod.loaded_modules():
        marker = f"/sys/module/{name}/parameters/{protocol.PARAM_PROTOCOL}"
        if not os.path.exists(marker):
            continue
        _remove(name)
        print(f"removed {name}")
        removed += 1
    return removed
