"""Pass 4: generated C to a kernel module, with kbuild, through a
content-addressed cache."""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import (TYPE_CHECKING, Callable, ContextManager, List, Optional,
                    Tuple)

from .defines import RUNTIME_DEFINES
from .errors import EnvironmentProblem, StpcError, warn
from . import kbuild_replay
from .features import feature_defines
from .inputcache import cache_dir
from .kerneltree import default_build_tree, tree_identity
from ..loader import VERSION

if TYPE_CHECKING:
    from .ast import Span

_MARKER = re.compile(r"/\* (.+):(\d+):(\d+) \*/")
#: before embedded C (lower_embedded.py), which follows it verbatim
_EMBEDDED_MARKER = re.compile(r"/\* %\{ (.+):(\d+):(\d+) \*/")
_GCC_ERROR = re.compile(r"^(\S+?):(\d+):(\d+): (?:fatal )?error: (.*)$", re.M)


@dataclass(frozen=True)
class BuildOptions:
    kernel_release: str
    defines: Tuple[Tuple[str, str], ...] = ()   # checked by defines.py
    keep_build_dir: bool = False    # -k: build even when cached, and keep
    tree: Optional[Path] = None     # -r DIR; else the release's

    @property
    def build_tree(self) -> Path:
        return self.tree or default_build_tree(self.kernel_release)


def runtime_dir() -> Path:
    from importlib import resources
    return Path(str(resources.files("stpc.runtime_c")))


def _runtime_identity() -> str:
    digest = hashlib.sha256()
    for path in sorted(runtime_dir().iterdir()):
        if path.suffix in (".c", ".h"):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _key(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def cache_key(c_source: str, module_name: str, options: BuildOptions) -> str:
    return _key(VERSION, _runtime_identity(), c_source, module_name,
                repr(options.defines), options.kernel_release,
                tree_identity(options.build_tree))


def _runtime_sizes(options: BuildOptions) -> List[Tuple[str, str]]:
    """The -D values the runtime object is compiled with: the sizes
    (RUNTIME_DEFINES), not the limits read at run time."""
    return [define for define in options.defines
            if define[0] in RUNTIME_DEFINES]


def runtime_key(options: BuildOptions) -> str:
    """What the runtime object depends on (_runtime_sizes)."""
    return _key(VERSION, _runtime_identity(), repr(_runtime_sizes(options)),
                options.kernel_release, tree_identity(options.build_tree))


def build(c_source: str, module_name: str, options: BuildOptions,
          verbose: int = 0,
          kbuilding: Optional[ContextManager] = None) -> Path:
    """The path of the built module, from the cache when already built.
    When the cache cannot be written the module is built in a scratch
    directory that lives until stpc exits.  ``kbuilding`` is entered
    while kbuild runs, not when the cache has the module."""
    if not (options.build_tree / "Makefile").exists():
        raise EnvironmentProblem(
            f"kernel build tree {options.build_tree} not found: install the "
            f"headers (apt-get install linux-headers-{options.kernel_release})"
            f" or pass -r with a kernel release that has them")
    key = cache_key(c_source, module_name, options)
    cached = cache_dir() / key[:2] / key / f"{module_name}.ko"
    if cached.exists() and not options.keep_build_dir:
        return cached
    with kbuilding or nullcontext():
        runtime = _cached_build(
            cache_dir() / "runtime" / runtime_key(options) / _RUNTIME_OBJECT,
            lambda workdir: _kbuild_runtime(workdir, options, verbose))
        return _cached_build(
            cached, lambda workdir: _kbuild(workdir, c_source, module_name,
                                            runtime, options, verbose),
            keep=options.keep_build_dir)


def _recipe(runtime: Path) -> Path:
    """The recorded kbuild commands (kbuild_replay.py) of modules that
    link this runtime object: same tree, stpc and sizes."""
    return runtime.with_name("kbuild-recipe.json")


def _cached_build(cached: Path, make: Callable[[Path], Path],
                  keep: bool = False) -> Path:
    """CACHED, made by MAKE in a scratch directory unless it is there
    already (and KEEP, -k, asks for no rebuild), with its kbuild command
    file (.NAME.cmd) beside it.  When the cache cannot be written the
    result stays in the scratch directory until stpc exits."""
    if cached.exists() and not keep:
        return cached
    workdir = Path(tempfile.mkdtemp(prefix="stpc-build-"))
    if keep:
        print(f'Keeping build directory "{workdir}"', file=sys.stderr)
    else:
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    built = make(workdir)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # the command file first: whoever finds CACHED finds it too
        for source, target in ((_command_file(built), _command_file(cached)),
                               (built, cached)):
            partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            shutil.copyfile(source, partial)
            os.replace(partial, target)
    except OSError as exc:
        if not keep:
            _warn_uncached(exc.strerror)
        return built
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return cached


@functools.lru_cache(maxsize=None)
def _warn_uncached(reason: str) -> None:
    """A read-only home or cache only costs the next run a rebuild; said
    once, for the runtime and the module."""
    warn(f"the module cache {cache_dir()} is not writable ({reason}): "
         "the module was built in a temporary directory, removed when stpc "
         "exits; set STPC_CACHE_DIR to a writable directory to keep it")


#: No BTF for the module: nothing reads a probe module's types, and a
#: tree that has a vmlinux would otherwise run pahole on every build (the
#: only user of PAHOLE_FLAGS, which kbuild computes by running
#: pahole-flags.sh again in every sub-make).
_NO_MODULE_BTF = ("CONFIG_DEBUG_INFO_BTF_MODULES=", "PAHOLE_FLAGS=")


#: the runtime, compiled apart: a file name no module name can take, as
#: module names have no '-'
_RUNTIME_OBJECT = "stpc-runtime.o"


def _command_file(built: Path) -> Path:
    return built.with_name(f".{built.name}.cmd")


def script_c_name(module_name: str) -> str:
    """The generated C's file in the build directory (kbuild wants the
    module's parts named apart from the module)."""
    return f"{module_name}-script.c"


def _kbuild(workdir: Path, c_source: str, module_name: str, runtime: Path,
            options: BuildOptions, verbose: int) -> Path:
    """The module: the script's C, and the runtime object linked in, by
    the commands of a previous build when it left a recipe
    (kbuild_replay.py), else by kbuild, which copies the runtime object
    (its _shipped rule)."""
    script = script_c_name(module_name)
    (workdir / script).write_text(c_source, encoding="latin-1")
    # modpost reads the command file of every object it links
    shutil.copyfile(runtime, workdir / _RUNTIME_OBJECT)
    shutil.copyfile(_command_file(runtime),
                    _command_file(workdir / _RUNTIME_OBJECT))
    flags = " ".join(_compile_flags(options, options.defines))
    ko = workdir / f"{module_name}.ko"
    if verbose <= 1 and kbuild_replay.replay(
            _recipe(runtime), workdir, module_name, flags,
            options.build_tree):
        return ko
    shutil.copyfile(runtime, workdir / f"{_RUNTIME_OBJECT}_shipped")
    (workdir / "Kbuild").write_text(
        f"obj-m := {module_name}.o\n"
        f"{module_name}-y := {script[:-2]}.o {_RUNTIME_OBJECT}\n"
        f"ccflags-y := {flags}\n" + kbuild_replay.ENV_RULE)
    output = _make(options, workdir, "modules", verbose)
    if output is not None or not ko.exists():
        raise _build_failure(output or "", c_source, script,
                             options.defines)
    kbuild_replay.record(workdir, module_name, flags, _recipe(runtime),
                         skip=_RUNTIME_OBJECT)
    return ko


def _kbuild_runtime(workdir: Path, options: BuildOptions,
                    verbose: int) -> Path:
    """The runtime, with the module's flags and only the sizes among the
    -D values; stpc_limits.h hides the other limits from it.  Compiled as
    a part of a module, as it is used: kbuild runs objtool on a module's
    linked object, and on a part only where it does not do that."""
    (workdir / "stpc-runtime.c").write_text('#include "stpc_runtime.c"\n')
    flags = _compile_flags(options, _runtime_sizes(options)) + \
        ["-DSTPC_RUNTIME_OBJECT"]
    (workdir / "Kbuild").write_text(
        f"obj-m := stpc_runtime_only.o\n"
        f"stpc_runtime_only-y := {_RUNTIME_OBJECT}\n"
        f"ccflags-y := {' '.join(flags)}\n")
    output = _make(options, workdir, _RUNTIME_OBJECT, verbose)
    built = workdir / _RUNTIME_OBJECT
    if output is not None or not built.exists():
        raise _build_failure(output or "", "", "", options.defines)
    return built


def _compile_flags(options: BuildOptions,
                   defines: List[Tuple[str, str]]) -> List[str]:
    # -Wno-restrict as 6.1's kbuild has it (6.12's leaves it on): GCC 12
    # takes a snprintf into one of a handler's string temporaries from
    # another (both reached through the context) for an overlap
    flags = [f"-I{runtime_dir()}", "-Werror", "-Wno-restrict"]
    flags += [f"-D{name}" for name in feature_defines(options.build_tree)]
    flags += [f"-D{name}={value}" if value else f"-D{name}"
              for name, value in defines]
    return flags


def _make(options: BuildOptions, workdir: Path, target: str,
          verbose: int) -> Optional[str]:
    """Runs kbuild on TARGET; its output when it failed, else None."""
    command = ["make", "-C", str(options.build_tree), f"M={workdir}",
               target, *_NO_MODULE_BTF]
    result = subprocess.run(command, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    if verbose > 1:
        print(result.stdout, end="", file=sys.stderr)
    return result.stdout if result.returncode != 0 else None


def _build_failure(output: str, c_source: str, script: str,
                   defines: Tuple[Tuple[str, str], ...]) -> StpcError:
    """A build error, pointed at the script line its C line came from.
    The limits are checked before the build (defines.py): a -D of another
    name may be the cause rather than stpc."""
    from .defines import LIMITS, SWITCHES
    first = _GCC_ERROR.search(output)
    span: Optional["Span"] = None
    message = "the generated C code did not compile"
    embedded = False
    if first:
        message += f": {first.group(4)}"
        if script and first.group(1).endswith(script):
            span = _script_span(c_source, int(first.group(2)),
                                int(first.group(3)))
            embedded = in_embedded_c(c_source, int(first.group(2)))
    tail = "\n".join(output.strip().splitlines()[-30:])
    others = [f"-D {name}" for name, _ in defines
              if name not in LIMITS and name not in SWITCHES]
    cause = (f"{', '.join(others)} may be the cause, or this is a bug in "
             "stpc" if others else "this is a bug in stpc")
    if embedded:
        cause = "the embedded C (%{ ... %}) is the likely cause"
    report = "" if embedded else "; please report it with the script"
    return StpcError(message, span,
                     hint=f"{cause}{report}. kbuild said:\n{tail}")


def _script_span(c_source: str, c_line: int,
                 c_col: int = 1) -> Optional["Span"]:
    """The script position of C line ``c_line``: its statement's, or in
    embedded C, the same line and column of the block in the script
    (gcc counts a tab up to the next multiple of 8 columns)."""
    from .ast import Span
    lines: List[str] = c_source.splitlines()[:c_line]
    for back, line in enumerate(reversed(lines)):
        embedded = _EMBEDDED_MARKER.search(line)
        if embedded:
            file, start, col = (embedded.group(1), int(embedded.group(2)),
                                int(embedded.group(3)))
            column = _char_column(lines[-1], c_col)
            if back == 1:       # the block's first line follows '%{'
                return Span(file, start, col + 1 + column)
            return Span(file, start + back - 1, column)
        match = _MARKER.search(line)
        if match:
            return Span(match.group(1), int(match.group(2)),
                        int(match.group(3)))
    return None


def in_embedded_c(c_source: str, c_line: int) -> bool:
    """Whether C line ``c_line`` is in (or after) embedded C rather than
    in a statement stpc generated."""
    for line in reversed(c_source.splitlines()[:c_line]):
        if _EMBEDDED_MARKER.search(line):
            return True
        if _MARKER.search(line):
            return False
    return False


def _char_column(line: str, display_column: int) -> int:
    shown = 1
    for index, char in enumerate(line, start=1):
        if shown >= display_column:
            return index
        shown = (shown + 8 - (shown - 1) % 8) if char == "\t" else shown + 1
    return display_column
