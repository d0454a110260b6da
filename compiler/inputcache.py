"""The raw-input cache: the module of a command seen before, found from
what the command was given, before any pass runs.

``$STPC_CACHE_DIR`` (default ``~/.cache/stpc``) holds, in one layout:

    KK/KEY/NAME.ko      a built module.  KEY (build.cache_key) hashes the
                        generated C, the module name, -D, the kernel tree
                        and the runtime: pass 4 looks it up.
    inputs/KK/KEY.json  a raw-input entry.  KEY (raw_key) hashes the
                        script's bytes, every option that changes the C or
                        the build, the directory the command ran in, and
                        stpc's own files.  The entry names the module above,
                        every file and directory passes 1-3 read (DWARF,
                        BTF, modules.dep, the debuginfo searched) and the
                        places a vmlinux would be taken from, each with
                        its identity, and the script's warnings.
    btf/, dwarf/BUILDID/  indexes of kernel BTF and DWARF (btf.py,
                        indexcache.py)
    debuginfo/KVER/     the vmlinux with DWARF --fetch-debuginfo keeps
    features/TREE.json  the kernel features kbuild found in a build tree
                        (features.py)
    tapsets/            tapset files' parsed trees, keyed on the text
                        and the conditions (tapsets.py)

KK is the first two hex digits of KEY.  An entry is used only when every
input it lists still has the identity it had (a stat each, nothing
read); otherwise, or when it cannot be read, the passes run as if it
were not there.  This module imports nothing of the compiler's passes,
so that a hit costs a process start and a few stats.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

from ..loader import VERSION

#: changes when the entry's JSON changes meaning
ENTRY_FORMAT = 2

#: an input's identity: (size, mtime_ns, ctime_ns) of a file, (mtime_ns,
#: ctime_ns) of a directory (its entries change it), None when absent.
#: The change time, which no one can set, stands for the inode: a file
#: replaced by another (a rename, a package upgrade, ``cp -p``) has a new
#: one, and unlike the inode number it is the same seen through a VM's
#: 9p share of the disk, where the module built on the host is run.
Identity = Optional[Tuple[int, ...]]


def cache_dir() -> Path:
    configured = os.environ.get("STPC_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "stpc"


def identity(path: str) -> Identity:
    try:
        found = os.stat(path)
    except OSError:
        return None
    if stat.S_ISDIR(found.st_mode):
        return (found.st_mtime_ns, found.st_ctime_ns)
    return (found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def _package_dirs() -> List[str]:
    from .. import loader, runtime_c, tapset
    here = os.path.dirname(os.path.abspath(__file__))
    return [here, *loader.__path__, *runtime_c.__path__, *tapset.__path__]


def _package_files() -> Iterator[str]:
    """stpc's own files: its Python, grammar, templates, runtime and
    tapsets."""
    pending = _package_dirs()
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    if entry.name != "__pycache__":
                        pending.append(entry.path)
                elif not entry.name.endswith(".pyc"):
                    yield entry.path


def stpc_identity() -> str:
    """What makes two stpc installations compile differently: its version
    and the identity of each of its files (an edit in a checkout
    counts)."""
    digest = hashlib.sha256(VERSION.encode())
    for path in sorted(_package_files()):
        digest.update(f"{path}:{identity(path)}\0".encode())
    return digest.hexdigest()


def raw_key(script: bytes, options: Dict[str, str]) -> str:
    digest = hashlib.sha256(f"{ENTRY_FORMAT}\0{stpc_identity()}\0".encode())
    for name in sorted(options):
        digest.update(f"{name}={options[name]}\0".encode())
    digest.update(script)
    return digest.hexdigest()


def _entry_path(key: str) -> Path:
    return cache_dir() / "inputs" / key[:2] / f"{key}.json"


@dataclass(frozen=True)
class StoredWarning:
    """A warning of pass 2 as the entry keeps it."""
    message: str
    file: Optional[str]
    line: int
    col: int
    hint: Optional[str]

    @classmethod
    def of(cls, warning) -> "StoredWarning":
        span = warning.span
        return cls(warning.message, span and span.file, span.line if span
                   else 0, span.col if span else 0, warning.hint)

    def restore(self):
        """The ``StpcWarning`` again (imports the syntax tree's module, so
        only when there is a warning)."""
        from .ast import Span
        from .errors import StpcWarning
        span = None if self.file is None else Span(self.file, self.line,
                                                    self.col)
        return StpcWarning(self.message, span, self.hint)


@dataclass(frozen=True)
class Hit:
    module: Path
    warnings: Tuple[StoredWarning, ...]


def lookup(key: str) -> Optional[Hit]:
    """The entry of ``key`` when every input it lists is unchanged and its
    module is still cached; None otherwise, also for an entry that cannot
    be read (a miss rebuilds it)."""
    try:
        entry = json.loads(_entry_path(key).read_text())
        if entry["format"] != ENTRY_FORMAT:
            return None
        for path, known in entry["inputs"]:
            if identity(path) != (None if known is None else tuple(known)):
                return None
        module = cache_dir() / entry["module"]
        if not module.is_file():
            return None
        warnings = tuple(StoredWarning(**w) for w in entry["warnings"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Hit(module, warnings)


def store(key: str, module: Path, inputs: Iterable[str],
          warnings: Iterable[StoredWarning]) -> None:
    """Records the entry; a module outside the cache (an unwritable cache)
    or an entry that cannot be written records nothing."""
    try:
        relative = module.relative_to(cache_dir())
    except ValueError:
        return
    entry = {"format": ENTRY_FORMAT, "module": str(relative),
             "inputs": [[path, identity(path)] for path in sorted(inputs)],
             "warnings": [w.__dict__ for w in warnings]}
    path = _entry_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(entry))
        os.replace(partial, path)
    except OSError:
        pass


# ---- what the passes read ----------------------------------------------

#: a tapset file's parsed tree, keyed on the file's text (tapsets.py)
DERIVED_TAPSET_PREFIX = "tapset-ast-"
#: lark's cache of the parsed grammar, derived from stap.lark, which
#: stpc_identity covers; the tapsets' trees, derived from files read
_DERIVED_PREFIXES = (".lark_cache_", DERIVED_TAPSET_PREFIX)
_WRITING_MODES = frozenset("wax+")


class ReadRecorder:
    """The files opened for reading and the directories listed while it
    is active: Python's audit events see every ``open`` and
    ``os.scandir`` (os.walk), whoever calls them, including pyelftools.
    The import system lists directories with ``os.listdir`` and opens
    ``.py`` files; neither is an input of the script."""

    _active: Optional["ReadRecorder"] = None
    _hooked = False

    def __init__(self) -> None:
        self.paths: set = set()
        self._own = tuple(os.path.join(d, "") for d in _package_dirs())

    @contextmanager
    def recording(self) -> Iterator["ReadRecorder"]:
        if not ReadRecorder._hooked:
            sys.addaudithook(_audit)    # cannot be removed: installed once
            ReadRecorder._hooked = True
        ReadRecorder._active = self
        try:
            yield self
        finally:
            ReadRecorder._active = None

    def saw(self, event: str, args: tuple) -> None:
        path = args[0] if args else None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return                      # a file descriptor
        if event == "open" and not _reading(args):
            return
        path = os.path.abspath(path)
        name = os.path.basename(path)
        if path.startswith(self._own) or name.endswith((".py", ".pyc")) \
                or name.startswith(_DERIVED_PREFIXES):
            return
        self.paths.add(path)


@contextmanager
def recorded_as(path: Path) -> Iterator[None]:
    """Reads whose result a cache file keeps and ``path`` decides (the
    thousands of modules that modules.dep lists): ``path`` is recorded
    in their place, so a cached build does not check each of them."""
    recorder = ReadRecorder._active
    ReadRecorder._active = None
    try:
        yield
    finally:
        ReadRecorder._active = recorder
        if recorder is not None:
            recorder.paths.add(os.path.abspath(path))


def _reading(args: tuple) -> bool:
    mode, flags = args[1], args[2]
    if isinstance(mode, str):
        return not _WRITING_MODES & set(mode)
    return isinstance(flags, int) and flags & os.O_ACCMODE == os.O_RDONLY


def _audit(event: str, args: tuple) -> None:
    recorder = ReadRecorder._active
    if recorder is not None and event in ("open", "os.scandir"):
        recorder.saw(event, args)
