"""The ``Compilation``: runs the passes in order, each callable alone.

    1 parse      source        -> ast.Script       (parse.py)
    2 elaborate  ast.Script    -> ir.Program       (elaborate.py)
    3 translate  ir.Program    -> C source         (translate.py)
    4 build      C source      -> NAME.ko          (build.py)
    5 run        NAME.ko       -> output           (stpc.loader)
"""

from __future__ import annotations

import functools
import hashlib
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Tuple, TypeVar

from ..loader import VERSION

if TYPE_CHECKING:
    from . import ast as A
    from .errors import StpcWarning
    from .ir import Program
    from .preprocess import PreprocessEnv
    from .probes import ProbeEnvironment

R = TypeVar("R")

#: How deep the passes may recurse, and the stack that takes: every pass
#: walks a 10,000-term expression (SystemTap takes 5,000) that deep.
_RECURSION_LIMIT = 200_000
_STACK_BYTES = 1 << 30


def run_deep(work: Callable[[], R]) -> R:
    """``work()`` on a thread whose stack holds the recursion limit.  The
    stack is reserved, not used: only the pages a deep script touches
    cost memory."""
    outcome: list = []

    def target() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:   # noqa: BLE001 - re-raised below
            outcome.append((False, exc))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), _RECURSION_LIMIT))
    previous = threading.stack_size(_STACK_BYTES)
    try:
        worker = threading.Thread(target=target, name="stpc-pass",
                                  daemon=True)
        worker.start()
    finally:
        threading.stack_size(previous)
    worker.join()
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value


@dataclass(frozen=True)
class CompileOptions:
    kernel_release: str
    module_name: Optional[str] = None
    defines: Tuple[Tuple[str, str], ...] = ()
    verbose: int = 0
    script_args: Tuple[str, ...] = ()   # what $1/@1 ... stand for
    debuginfo_path: Tuple[str, ...] = ()  # --debuginfo-path DIRs
    kernel_types: str = "auto"      # --kernel-types: dwarf, btf or auto
    keep_build_dir: bool = False    # -k
    timing: bool = False            # -t: the probe hit report
    build_tree: Optional[Path] = None   # -r DIR; else the release's
    guru: bool = False              # -g: embedded C, target writes
    tapset_dirs: Tuple[str, ...] = ()   # -I DIRs, after stpc's tapsets


class Compilation:
    def __init__(self, source: str, file: str, options: CompileOptions):
        self.source = source
        self.file = file
        self.options = options
        self.source_hash = hashlib.sha256(source.encode("latin-1")).hexdigest()
        self._script: Optional[A.Script] = None
        self._program: Optional[Program] = None
        self._c_source: Optional[str] = None
        self._module: Optional[Path] = None
        self._library_warnings: Tuple["StpcWarning", ...] = ()
        self._library_aliases: Tuple[str, ...] = ()
        #: every file's text by name, for the locations of its errors
        self.sources = {file: source}

    @property
    def module_name(self) -> str:
        if self.options.module_name:
            from .cstring import c_identifier
            return c_identifier(self.options.module_name)[:55]
        return "stpc_" + self.source_hash[:16]

    def _timed(self, number: int, work: Callable[[], R],
               done: Callable[[R], str]) -> R:
        """``work()`` as pass ``number``; with -v, stap's line saying what
        the pass did (``done(result)``), the memory and the time it took."""
        from . import progress
        start = progress.Clock.now()
        result = run_deep(work)
        if self.options.verbose:
            print(progress.pass_line(number, done(result), start,
                                     with_memory=number < 4),
                  file=sys.stderr)
        return result

    @functools.cached_property
    def _preprocess_env(self) -> "PreprocessEnv":
        """What the conditions of the script and the tapsets ask about."""
        from .preprocess import PreprocessEnv
        env = PreprocessEnv.for_kernel(self.options.kernel_release,
                                       self.options.build_tree)
        return replace(env, guru_mode=self.options.guru)

    def script(self) -> "A.Script":
        """The user's script alone, as ``-p1`` prints it."""
        if self._script is None:
            from .parse import parse
            env = self._preprocess_env
            self._script = self._timed(1,
                                       lambda: parse(self.source, self.file,
                                                     self.options.script_args,
                                                     env=env),
                                       lambda _: "parsed user script")
        return self._script

    def linked_script(self) -> "A.Script":
        """The user's script with the tapset files it uses (all are
        parsed, as stap parses them; only those are kept)."""
        from . import tapsets
        script = self.script()
        library = run_deep(lambda: tapsets.load_library(
            self.options.tapset_dirs, self._preprocess_env))
        files = tapsets.needed_files(script, library)
        self._library_warnings = library.warnings
        self._library_aliases = tuple(str(alias.name)
                                      for file in library.files
                                      for alias in file.aliases)
        self.sources.update(library.sources)
        return tapsets.with_library(script, files)

    def program(self) -> "Program":
        if self._program is None:
            from dataclasses import replace
            from . import progress
            from .elaborate import elaborate
            script = self.linked_script()
            env = self.probe_environment()
            program = self._timed(2, lambda: elaborate(
                script, env, library_aliases=self._library_aliases),
                progress.analyzed)
            warnings = self._with_library_warnings(program.warnings)
            if warnings != program.warnings:
                program = replace(program, warnings=warnings)
            self._program = program
        return self._program

    def _with_library_warnings(self, warnings: Tuple["StpcWarning", ...]
                               ) -> Tuple["StpcWarning", ...]:
        """The tapset files skipped, then the script's warnings: none in
        the tapsets' code, as stap says none (their aliases set variables
        a probe need not read)."""
        return self._library_warnings + tuple(
            w for w in warnings
            if w.span is None or w.span.file not in self.sources or
            w.span.file == self.file)

    def probe_environment(self) -> "ProbeEnvironment":
        from .defines import limit_in_effect
        from .probes import ProbeEnvironment
        return ProbeEnvironment(self.options.kernel_release,
                                self.options.debuginfo_path,
                                self.options.verbose,
                                self.options.kernel_types,
                                ftrace_entries=not any(
                                    name == "STPC_NO_FTRACE"
                                    for name, _ in self.options.defines),
                                max_string_len=limit_in_effect(
                                    dict(self.options.defines),
                                    "MAXSTRINGLEN"))

    def c_source(self) -> str:
        if self._c_source is None:
            from . import progress
            from .translate import ModuleInfo, translate
            program = self.program()
            info = ModuleInfo(self.module_name, self.source_hash, VERSION,
                              self.options.kernel_release,
                              self.options.timing)
            self._c_source = self._timed(3, lambda: translate(program, info),
                                         progress.translated)
        return self._c_source

    def module(self) -> Path:
        if self._module is None:
            from . import progress
            from .build import BuildOptions, build
            c_source = self.c_source()
            options = BuildOptions(self.options.kernel_release,
                                   self.options.defines,
                                   self.options.keep_build_dir,
                                   self.options.build_tree)
            with progress.BuildStatus(self.options.kernel_release) as status:
                self._module = self._timed(
                    4, lambda: build(c_source, self.module_name, options,
                                     self.options.verbose, status.kbuild()),
                    lambda module: progress.built(module, status.kbuild_ran))
        return self._module
