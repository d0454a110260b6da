"""The tapset library, as SystemTap 4.8 pulls it in: every ``.stp`` file
of the tapset directories (stpc's own, then each ``-I DIR``) is parsed,
and a file joins the compilation only when the script, or a file already
joined, uses something it defines: a function it calls, a global it
names, an alias one of its probe points names.  A joined file brings all
it has (its own probes, globals and private functions).

What stap 4.8 does, and stpc with it:
- each directory is searched in ``DIR/linux`` then ``DIR``, each of them
  first under the kernel's version and architecture (``KVER/x86_64``,
  ``KVER``, ``6.1.0/x86_64``, ``6.1.0``, ``6.1/x86_64``, ``6.1``,
  ``x86_64`` for a KVER ``6.1.0-ABI-amd64``), never deeper; a file seen
  twice (a link) is parsed once;
- a file that does not parse is skipped with a warning, used or not;
- a global the script declares is its own: no file is pulled in for it;
  a call pulls in every file that defines the function (stap overloads
  them), and the first definition is the one called, the script's
  before the library's (stpc has no overloading: the others are left
  out);
- a ``private`` function or global is no reason to pull its file in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Set, Tuple

from . import ast as A
from . import inputcache
from .aliases import aliases_naming
from .builtins import is_builtin
from .errors import StpcError, StpcWarning
from .parse import parse
from .preprocess import PreprocessEnv


@dataclasses.dataclass(frozen=True)
class Library:
    """The parsed tapset files, in search order, the warnings of the
    files skipped, and the text of every file read (for the locations of
    errors)."""
    files: Tuple[A.Script, ...]
    warnings: Tuple[StpcWarning, ...] = ()
    sources: Dict[str, str] = dataclasses.field(default_factory=dict)


def builtin_dir() -> Path:
    """stpc's own tapsets (package data of ``stpc.tapset``), by their real
    path: a checkout's venv reaches them through a link, and diagnostics
    and the C's markers name the checkout's files."""
    from .. import tapset
    return Path(tapset.__path__[0]).resolve()


def search_dirs(include: Sequence[str], env: PreprocessEnv) -> List[str]:
    """The directories searched, in order: stpc's tapsets, then each
    ``-I DIR``, each with stap's runtime, version and architecture
    subdirectories first."""
    suffixes = _version_suffixes(env.kernel_release, env.arch)
    return [os.path.join(base, *parts)
            for top in (str(builtin_dir()), *include)
            for base in (os.path.join(top, "linux"), top)
            for parts in suffixes]


def _version_suffixes(release: str, arch: str) -> List[Tuple[str, ...]]:
    versions = [release]
    version = release.split("-", 1)[0]
    while True:
        if version not in versions:
            versions.append(version)
        if version.count(".") < 2:
            break
        version = version.rsplit(".", 1)[0]
    return [parts for v in versions for parts in ((v, arch), (v,))] + \
        [(arch,), ()]


def library_paths(dirs: Sequence[str]) -> Iterator[str]:
    """The ``.stp`` files of ``dirs``, each directory's sorted by name, a
    file reached twice given once.  ``os.scandir``: the raw-input cache
    records the directories listed (compiler/inputcache.py)."""
    seen: Set[Tuple[int, int]] = set()
    for directory in dirs:
        try:
            with os.scandir(directory) as entries:
                names = sorted(entry.name for entry in entries
                               if entry.name.endswith(".stp"))
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            try:
                found = os.stat(path)
            except OSError:
                continue
            if (found.st_dev, found.st_ino) not in seen:
                seen.add((found.st_dev, found.st_ino))
                yield path


def load_library(include: Sequence[str], env: PreprocessEnv) -> Library:
    """Every tapset file parsed; one that does not is skipped, said in a
    warning at its first error (stap: "tapset ... has errors, and will be
    skipped")."""
    files, warnings, sources = [], [], {}
    stpc = inputcache.stpc_identity()
    for path in library_paths(search_dirs(include, env)):
        try:
            with open(path, "rb") as stream:
                sources[path] = stream.read().decode("latin-1")
            files.append(_parsed(path, sources[path], env, stpc))
        except StpcError as exc:
            first = getattr(exc, "errors", [exc])[0]
            warnings.append(StpcWarning(
                f"tapset \"{path}\" has errors, and will be skipped: "
                f"{first.message}", first.span, first.hint))
        except OSError as exc:
            warnings.append(StpcWarning(
                f"tapset \"{path}\" cannot be read: {exc.strerror}", None))
    return Library(tuple(files), tuple(warnings), sources)


def probe_aliases(library: Library) -> List[str]:
    """``NAME = POINTS`` (``+=`` for an epilogue alias) for every alias
    of the library's files, sorted, each once."""
    return sorted({str(alias) for file in library.files
                   for alias in file.aliases})


#: changes when what a parsed file's pickle holds changes meaning
PARSED_FORMAT = 1


def _parsed(path: str, text: str, env: PreprocessEnv, stpc: str
            ) -> A.Script:
    """The file parsed, from the cache when this stpc parsed the same
    text for the same conditions before: parsing the whole library costs
    a quarter of a second, loading it a hundredth.  A file with errors is
    never cached (it raises again)."""
    stored = inputcache.cache_dir() / "tapsets" / \
        f"{inputcache.DERIVED_TAPSET_PREFIX}" \
        f"{_parse_key(path, text, env, stpc)}.pickle"
    try:
        with open(stored, "rb") as stream:
            script = pickle.load(stream)
        if isinstance(script, A.Script):
            return script
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError,
            ImportError, IndexError, TypeError, ValueError):
        pass
    script = parse(text, path, env=env)
    try:
        stored.parent.mkdir(parents=True, exist_ok=True)
        temp = stored.with_name(f"{stored.name}.{os.getpid()}.tmp")
        with open(temp, "wb") as stream:
            pickle.dump(script, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, stored)
    except OSError:
        pass
    return script


def _parse_key(path: str, text: str, env: PreprocessEnv, stpc: str) -> str:
    """Everything a tapset file's tree depends on: stpc's own files
    (``stpc``: the grammar and the parser), the file's name (its spans)
    and text, and what its conditions can ask."""
    config = str(env.config_path or "")
    digest = hashlib.sha256("\0".join((
        str(PARSED_FORMAT), stpc, path, text,
        env.kernel_release, env.arch, str(env.guru_mode), config,
        str(inputcache.identity(config) if config else None),
    )).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def needed_files(script: A.Script, library: Library
                 ) -> Tuple[A.Script, ...]:
    """The library files the script uses, directly or through the files
    it uses, in the order they were found needed."""
    declared = {decl.name for decl in script.globals}
    needed: List[A.Script] = []
    pending = [script]
    while pending:
        uses = _Uses.of(pending.pop(0))
        for candidate in library.files:
            if any(candidate is f for f in needed):
                continue
            if _provides(candidate, uses, declared):
                needed.append(candidate)
                pending.append(candidate)
                declared |= {decl.name for decl in candidate.globals}
    return tuple(needed)


def with_library(script: A.Script, files: Sequence[A.Script]) -> A.Script:
    """The script and the files as one script: theirs after its own; a
    function already defined before is left out (the first is called).
    Without files, the script itself."""
    if not files:
        return script
    functions = list(script.functions)
    defined = {decl.name for decl in functions}
    for file in files:
        for decl in file.functions:
            if decl.name not in defined:
                defined.add(decl.name)
                functions.append(decl)
    return dataclasses.replace(
        script,
        globals=script.globals + tuple(g for f in files for g in f.globals),
        functions=tuple(functions),
        probes=script.probes + tuple(p for f in files for p in f.probes),
        aliases=script.aliases + tuple(a for f in files for a in f.aliases))


@dataclasses.dataclass
class _Uses:
    """What one file names that another may define."""
    calls: Set[str]
    names: Set[str]
    points: List[A.ProbePoint]

    @classmethod
    def of(cls, script: A.Script) -> "_Uses":
        uses = cls(set(), set(), [])
        bodies: List[Tuple[A.Block, Set[str]]] = \
            [(p.body, set()) for p in script.probes] + \
            [(a.body, set()) for a in script.aliases] + \
            [(f.body, {param.name for param in f.params})
             for f in script.functions]
        for body, params in bodies:
            for node in A.walk(body):
                uses.add(node, params)
        uses.points = [point for probe in script.probes
                       for point in probe.points] + \
            [point for alias in script.aliases for point in alias.points]
        return uses

    def add(self, node, params: Set[str]) -> None:
        if isinstance(node, A.Call) and not is_builtin(node.name):
            self.calls.add(node.name)
        elif isinstance(node, A.Var) and node.name not in params:
            self.names.add(node.name)
        elif isinstance(node, A.Index):
            self.names.add(node.name)
        elif isinstance(node, (A.InArray, A.Foreach)):
            self.names.add(node.array)


def _provides(file: A.Script, uses: _Uses, declared: Set[str]) -> bool:
    public = [decl for decl in file.functions if not decl.private]
    if any(decl.name in uses.calls for decl in public):
        return True
    if any(not decl.private and decl.name in uses.names - declared
           for decl in file.globals):
        return True
    return bool(file.aliases) and any(
        aliases_naming(point, file.aliases) for point in uses.points)

