"""``kernel.trace("SYSTEM:EVENT")`` probe points: the kernel's tracepoints.

Which tracepoints a kernel has, and their arguments, come from its BTF:
every tracepoint has a function ``__traceiter_EVENT(void *__data,
ARGS...)`` whose other parameters are the tracepoint's, named as in its
``TP_PROTO``.  The subsystem (``TRACE_SYSTEM``) is in no symbol's name;
like SystemTap, stpc reads it from the trace headers of the kernel's
build tree (the tree the module is built in), where each header sets
``TRACE_SYSTEM`` before its events.  A header may declare its events
through a macro of its own (``DEFINE_IRQ_VECTOR_EVENT(local_timer)``):
such macros are expanded once.  A tracepoint no header names has no
subsystem: ``kernel.trace("NAME")`` still matches it.

The runtime registers a probe function on each tracepoint by name
(runtime_c/tracepoints.c); the handler reads argument I from the array
that function fills, ``c->data``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, Optional

from . import ast as A
from . import ctype as C
from .inputcache import cache_dir
from .kerneltree import default_build_tree, tree_identity
from .errors import ErrorCollector, StpcError, nearest
from .ir import ProbeKind, ProbeSite, ResolvedSite
from .modtracepoints import ModuleEvents, ModuleFile, module_files

if TYPE_CHECKING:
    from .btf import KernelBtf
    from .probes import ProbeResolver

TRACEITER = "__traceiter_"
_CACHE_VERSION = 1

# a TRACE_SYSTEM definition, or an event declared by the kernel's macros
# (the name is their first argument, or for DEFINE_EVENT* their second)
_DECLARATIONS = re.compile(
    r"^[ \t]*#[ \t]*define[ \t]+TRACE_SYSTEM[ \t]+(?P<system>\w+)"
    r"|\b(?:TRACE_EVENT\w*|DECLARE_TRACE\w*|DECLARE_EVENT_NOP)"
    r"\s*\(\s*(?P<first>\w+)"
    r"|\bDEFINE_EVENT\w*\s*\(\s*\w+\s*,\s*(?P<second>[\w#\s]+?)\s*,", re.M)
# a header's own function-like macro whose body declares events
_MACRO = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(([\w\s,]*)\)"
                    r"((?:[^\n]*\\\n)*[^\n]*)", re.M)


@dataclass(frozen=True)
class Tracepoint:
    system: str         # "" when no trace header names it
    name: str
    prototype: C.Prototype  # named after the event; __data left out
    # a module's tracepoint: that module's types and build-id
    module: Optional[ModuleEvents] = field(default=None, compare=False)

    @property
    def point(self) -> str:
        where = f"{self.system}:{self.name}" if self.system else self.name
        return f'kernel.trace("{where}")'


def is_tracepoint_point(point: A.ProbePoint) -> bool:
    comps = point.components
    return len(comps) >= 2 and comps[0].name == "kernel" and \
        comps[0].arg is None and comps[1].name == "trace"


class KernelTracepoints:
    """The tracepoints of one kernel: BTF's, with the headers' subsystems,
    and those of its modules (modtracepoints.py), read when a pattern
    may name one."""

    def __init__(self, btf: KernelBtf, systems: Dict[str, str],
                 modules: Callable[[], List[ModuleFile]] = list):
        self.btf = btf
        self.systems = systems
        self.names = sorted(n[len(TRACEITER):] for n in btf.function_names()
                            if n.startswith(TRACEITER))
        self._modules = modules
        self._module_events: Dict[str, ModuleEvents] = {}

    def matching(self, pattern: str) -> List[Tracepoint]:
        """``SYSTEM:EVENT`` (globs in either half) or ``EVENT`` alone;
        a name without globs that vmlinux has is not looked for in the
        modules (a tracepoint's name is the kernel's, whoever defines
        it)."""
        system, _, event = pattern.rpartition(":")
        found = []
        for name in self.names:
            if not fnmatch.fnmatchcase(name, event):
                continue
            if ":" in pattern and not fnmatch.fnmatchcase(
                    self.systems.get(name, ""), system):
                continue
            found.append(self.tracepoint(name))
        if not found or _is_glob(pattern):
            found += self._in_modules(system if ":" in pattern else "*",
                                      event)
        return sorted(found, key=lambda t: (t.system, t.name))

    def _in_modules(self, system: str, event: str) -> List[Tracepoint]:
        found = []
        for module in self._modules():
            for name, its_system in module.events:
                if not (fnmatch.fnmatchcase(name, event) and
                        fnmatch.fnmatchcase(its_system, system)):
                    continue
                events = self._events_of(module)
                prototype = events.prototype(name)
                if prototype is not None:
                    found.append(Tracepoint(its_system, name, prototype,
                                            events))
        return found

    def _events_of(self, module: ModuleFile) -> ModuleEvents:
        if module.name not in self._module_events:
            self._module_events[module.name] = ModuleEvents(module, self.btf)
        return self._module_events[module.name]

    def tracepoint(self, name: str) -> Tracepoint:
        prototype = self.btf.function(TRACEITER + name)
        return Tracepoint(self.systems.get(name, ""), name,
                          replace(prototype, name=name,
                                  params=prototype.params[1:]))

    def known_points(self) -> List[str]:
        return [f"{self.systems[n]}:{n}" if n in self.systems else n
                for n in self.names] + \
            [f"{system}:{name}" for module in self._modules()
             for name, system in module.events]


def tracepoint_sites(resolver: ProbeResolver, point: A.ProbePoint,
                     handler: int, order: int,
                     errors: ErrorCollector) -> List[ProbeSite]:
    """Every site of a ``kernel.trace("PATTERN")`` point; errors are
    collected, an optional point that matches nothing gives []."""
    try:
        return _sites(resolver, point, handler, order)
    except StpcError as exc:
        if point.optional and exc.hint != _MALFORMED:
            return []
        errors.add_error(exc)
        return []


_MALFORMED = 'write kernel.trace("SYSTEM:EVENT"); globs like "sched:*" ' \
    'match several'


def _sites(resolver, point, handler, order) -> List[ProbeSite]:
    what = point.components[1]
    if not isinstance(what.arg, str) or len(point.components) > 2 or \
            not what.arg:
        raise StpcError("a tracepoint probe names its tracepoint as a "
                        "string", point.components[-1].span, hint=_MALFORMED)
    catalogue = kernel_tracepoints(resolver)
    found = catalogue.matching(what.arg)
    if not found:
        raise StpcError(f"no tracepoint matches '{what.arg}' in kernel "
                        f"{resolver.env.kernel_release}", what.span,
                        hint=nearest(what.arg, catalogue.known_points()) or
                        "stpc -l 'kernel.trace(\"*\")' lists them")
    if _is_glob(what.arg):
        # a glob leaves out what a name would be refused
        found = [t for t in found if _unreceivable(t) is None] or found[:1]
    sites = []
    for tracepoint in found:
        problem = _unreceivable(tracepoint)
        if problem is not None:
            raise StpcError(problem, what.span)
        module = tracepoint.module
        if module is not None:
            resolver.probed.add_module(module.module.name, module.build_id,
                                       module.source, point.optional)
        sites.append(ProbeSite(
            point, ProbeKind.TRACEPOINT, 0, handler, order + len(sites),
            description=tracepoint.point,
            resolved=ResolvedSite(
                None, None, 0, False, tracepoint.prototype, catalogue.btf,
                tracepoint=True,
                types=module,
                module=module.module.name if module else "")))
    return sites


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _unreceivable(tracepoint: Tracepoint) -> Optional[str]:
    """Why the runtime cannot receive a tracepoint's arguments, or None.
    It takes each as one 64-bit word: x86-64 passes an integer, a pointer
    or a struct of up to 8 bytes in one register or stack slot."""
    for param in tracepoint.prototype.params:
        t = C.strip(param.type)
        if t.size > 8 or (isinstance(t, C.Base) and t.floating):
            return (f"tracepoint {tracepoint.name} passes '{param.name}' "
                    f"({param.type.display()}) by value, which stpc cannot "
                    "receive yet")
    return None


def kernel_tracepoints(resolver: ProbeResolver) -> KernelTracepoints:
    btf = resolver.kernel_btf()
    kver = resolver.env.kernel_release
    tree = default_build_tree(kver)
    directories = list(resolver.env.debuginfo_path)
    extra = os.environ.get("STPC_DEBUGINFO_PATH")
    if extra:
        directories += extra.split(":")
    read: Dict[str, List[ModuleFile]] = {}

    def module_list() -> List[ModuleFile]:
        if "modules" not in read:
            read["modules"] = module_files(kver, directories, btf)
        return read["modules"]
    return KernelTracepoints(btf, cached_systems(tree), module_list)


# ---- the trace headers ---------------------------------------------------

def cached_systems(tree: Path) -> Dict[str, str]:
    """Each event's TRACE_SYSTEM in a build tree's headers, cached per
    tree (the headers of a release do not change)."""
    path = cache_dir() / "tracepoints" / \
        f"{tree_identity(tree)}-{_CACHE_VERSION}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        systems = header_systems(header_roots(tree))
    from .btf import write_quietly  # as probes.py: BTF only when needed
    write_quietly(path, json.dumps(systems).encode())
    return systems


def header_roots(tree: Path) -> List[Path]:
    """The build tree, and the source trees its Makefile includes
    (Debian splits the headers into -amd64 and -common)."""
    roots = [tree]
    try:
        makefile = (tree / "Makefile").read_text(errors="replace")
    except OSError:
        return [root for root in roots if root.is_dir()]
    for included in re.findall(r"^include\s+(\S+)/Makefile\s*$", makefile,
                               re.M):
        roots.append(Path(included))
    return [root for root in roots if root.is_dir()]


def header_systems(roots: List[Path]) -> Dict[str, str]:
    systems: Dict[str, str] = {}
    for header in _trace_headers(roots):
        for name, system in _declared_events(
                header.read_text(errors="replace")):
            systems.setdefault(name, system)
    return systems


def _trace_headers(roots: List[Path]) -> Iterator[Path]:
    for root in roots:
        for sub in ("include", "arch/x86/include"):
            for directory, _, files in os.walk(root / sub):
                if directory.endswith("/include/trace/stages"):
                    continue
                for name in sorted(files):
                    if name.endswith(".h"):
                        yield Path(directory) / name


def _declared_events(text: str) -> Iterator[tuple]:
    """(event, TRACE_SYSTEM) for each event a header declares, its own
    macros expanded once."""
    if "TRACE_SYSTEM" not in text:
        return
    text = _expand_macros(text)
    system = None
    for match in _DECLARATIONS.finditer(text):
        if match.group("system"):
            system = match.group("system")
            continue
        name = match.group("first") or match.group("second")
        name = re.sub(r"\s*##\s*", "", name)
        if system is not None and re.fullmatch(r"\w+", name):
            yield name, system


def _expand_macros(text: str) -> str:
    """The header with each use of its own event-declaring macros
    (``#define DEFINE_X(name) DEFINE_EVENT(t, name##_entry, ...)``)
    replaced by the macro's body, its parameters substituted."""
    macros = {}
    for match in _MACRO.finditer(text):
        body = match.group(3).replace("\\\n", " ")
        if re.search(r"\b(?:DEFINE_EVENT|TRACE_EVENT|DECLARE_TRACE)", body):
            params = [p.strip() for p in match.group(2).split(",")]
            macros[match.group(1)] = (params, body)
    if not macros:
        return text
    uses = re.compile(r"^[ \t]*(" + "|".join(map(re.escape, macros)) +
                      r")\s*\(([^()]*)\)", re.M)

    def expand(match) -> str:
        params, body = macros[match.group(1)]
        args = [a.strip() for a in match.group(2).split(",")]
        for param, arg in zip(params, args):
            body = re.sub(rf"\b{re.escape(param)}\b", arg, body)
        return body
    return uses.sub(expand, text)

