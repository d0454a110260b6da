"""What stpc says on stderr while it works: with ``-v``, a line per pass
in SystemTap's words and with stpc's counts; on a terminal, a status line
while kbuild runs.

``stap -v`` says ``Pass 2: analyzed script: 1 probe, 1 function, 0 embeds,
1 global using 3333virt/222res/111shr/444data kb, in 10usr/0sys/12real
ms.``: the process's memory after the pass, and the pass's CPU time (with
its children's: kbuild's) and wall time.  stpc says the same of itself
(the embeds are the top-level ``%{ %}`` blocks, which need -g).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from .ir import Program


@dataclass(frozen=True)
class Clock:
    """CPU and wall time at one moment.  The CPU times include those of
    the children waited for, as stap's do: pass 4's are kbuild's."""
    user: float
    system: float
    real: float

    @classmethod
    def now(cls) -> "Clock":
        times = os.times()
        return cls(times.user + times.children_user,
                   times.system + times.children_system, time.perf_counter())

    def since(self, start: "Clock") -> str:
        """stap's ``10usr/0sys/12real ms``."""
        spent = (self.user - start.user, self.system - start.system,
                 self.real - start.real)
        return "/".join(f"{seconds * 1000:.0f}{unit}" for seconds, unit in
                        zip(spent, ("usr", "sys", "real"))) + " ms"


def memory_used() -> Optional[str]:
    """stap's ``VIRTvirt/RESres/SHRshr/DATAdata kb`` of this process
    (``/proc/self/statm`` counts pages), or None without /proc."""
    try:
        pages = [int(field) for field in
                 Path("/proc/self/statm").read_text().split()[:6]]
    except OSError:
        return None
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    virt, resident, shared, _text, _lib, data = (n * page_kb for n in pages)
    return f"{virt}virt/{resident}res/{shared}shr/{data}data kb"


def pass_line(number: int, done: str, start: Clock,
              with_memory: bool = True) -> str:
    """``Pass N: DONE using MEMORY, in TIMES.``; pass 4 leaves the memory
    out, as stap does: the build's memory is kbuild's."""
    used = memory_used() if with_memory else None
    spent = Clock.now().since(start)
    if used is None:
        return f"Pass {number}: {done} in {spent}."
    return f"Pass {number}: {done} using {used}, in {spent}."


def counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def analyzed(program: Program) -> str:
    """The probes are the sites a probe point resolved to, as stap counts
    its derived probes: one per function a glob matched."""
    return (f"analyzed script: {counted(len(program.sites), 'probe')}, "
            f"{counted(len(program.functions), 'function')}, "
            f"{counted(len(program.script.embedded), 'embed')}, "
            f"{counted(len(program.globals), 'global')}")


def translated(c_source: str) -> str:
    lines = c_source.count("\n")
    return f"translated to C: {counted(lines, 'line')}"


def built(module: Path, kbuild_ran: bool) -> str:
    size = counted(module.stat().st_size, "byte")
    if kbuild_ran:
        return f'compiled C into "{module}" ({size})'
    return f'using cached "{module}" ({size})'


class BuildStatus:
    """``building module for KVER ... 2.3 s`` on stderr while kbuild runs,
    redrawn in place and erased when kbuild ends, only when stderr is a
    terminal.  kbuild runs on the pass's thread and Ctrl-C reaches the
    main thread: entered there around the pass, this takes the line (and
    the cursor rich hides) down on every way out."""

    def __init__(self, kernel_release: str):
        self.kernel_release = kernel_release
        self.kbuild_ran = False     # False: the cache had the module
        self._live = None

    def __enter__(self) -> "BuildStatus":
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop()

    @contextmanager
    def kbuild(self) -> Iterator[None]:
        """Entered by build() while kbuild runs."""
        self.kbuild_ran = True
        if sys.stderr.isatty():
            self._start()
        try:
            yield
        finally:
            self._stop()

    def _start(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text
        started = time.perf_counter()

        def line() -> Text:
            elapsed = time.perf_counter() - started
            return Text(f"building module for {self.kernel_release} ... "
                        f"{elapsed:.1f} s")
        self._live = Live(get_renderable=line, console=Console(stderr=True),
                          transient=True, refresh_per_second=10,
                          redirect_stdout=False)
        self._live.start(refresh=True)

    def _stop(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.stop()
