"""Resolving ``kernel.*`` and ``module(...).*`` probe points against DWARF.

``module("NAME").function("PATTERN")[.call|.return|.inline]`` and
``.statement("func@file:LINE")`` (and the same on ``kernel``) become one
kprobe site per matching address, each a (module, section, offset) triple
plus the symbol the runtime expects there.  Where the DWARF comes from is
decided here: the path given, /lib/modules/KVER (modules.dep), Debian's
/usr/lib/debug tree, then ``--debuginfo-path`` / ``$STPC_DEBUGINFO_PATH``.
"""

from __future__ import annotations

import enum
import fnmatch
import lzma
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from . import ast as A
from .debuginfo import debuginfo_dir
from .defines import LIMITS
from .dwarf import DebugFile, Subprogram
from .errors import EnvironmentProblem, ErrorCollector, StpcError, nearest
from .ir import CodeSite, ProbeKind, ProbeSite, ResolvedSite
from .probed import ProbedModules
from .unsupported import unsupported_point

if TYPE_CHECKING:
    from .btf import KernelBtf


@dataclass(frozen=True)
class ProbeEnvironment:
    """What resolution needs to know of the machine being compiled for."""
    kernel_release: str
    debuginfo_path: Tuple[str, ...] = ()
    verbose: int = 0
    kernel_types: str = "auto"      # "dwarf", "btf", or whichever exists
    ftrace_entries: bool = True     # function entries may ride ftrace
    max_string_len: int = LIMITS["MAXSTRINGLEN"].default    # -D value


class FunctionSuffix(enum.Enum):
    """What follows .function("PATTERN"), as in SystemTap: which copies of
    the function are probed, and whether at their return."""
    NONE = ""           # out-of-line copies and inlined instances
    CALL = "call"       # out-of-line copies
    INLINE = "inline"   # inlined instances
    RETURN = "return"   # out-of-line copies, at their return


@dataclass
class Pattern:
    """``name@file:line`` split; ``file`` and ``line`` are optional."""
    function: str
    file: Optional[str] = None
    line: Optional[int] = None
    line_range: Optional[Tuple[int, int]] = None


_PATTERN = re.compile(r"^(?P<func>[^@:]+)(?:@(?P<file>[^:]+)"
                      r"(?::(?P<line>\d+)(?:-(?P<end>\d+))?)?)?$")


def parse_pattern(text: str, span: A.Span) -> Pattern:
    match = _PATTERN.match(text)
    if match is None:
        raise StpcError(f"malformed function pattern '{text}'", span,
                        hint="use NAME, a glob like acme_*, NAME@FILE "
                             "or NAME@FILE:LINE")
    line = match.group("line")
    end = match.group("end")
    return Pattern(match.group("func"), match.group("file"),
                   int(line) if line else None,
                   (int(line), int(end)) if end else None)


@dataclass
class ProbeResolver:
    env: ProbeEnvironment
    probed: ProbedModules = field(default_factory=ProbedModules)
    _debug: Dict[str, DebugFile] = field(default_factory=dict)
    programs: Dict[str, object] = field(default_factory=dict)  # userprobes
    _btf: Optional[KernelBtf] = None

    def resolve(self, point: A.ProbePoint, handler: int, order: int,
                errors: ErrorCollector) -> List[ProbeSite]:
        """Every site of a kernel/module probe point; errors are
        collected, an optional point that matches nothing gives []."""
        try:
            sites = self._resolve(point, handler, order)
        except StpcError as exc:
            if point.optional and not isinstance(exc, MalformedPoint):
                return []
            if exc.span is None and not isinstance(exc, EnvironmentProblem):
                exc.span = point.span
            errors.add_error(exc)
            return []
        return sites

    # -- the point's shape --
    def _resolve(self, point: A.ProbePoint, handler: int,
                 order: int) -> List[ProbeSite]:
        unsupported = unsupported_point(point)
        if unsupported is not None:
            raise unsupported
        comps = point.components
        head = comps[0]
        if head.name == "process":
            from .userprobes import user_sites
            return user_sites(self, point, handler, order)
        if head.name == "kernel" and head.arg is None:
            module = "kernel"
        elif head.name == "module" and isinstance(head.arg, str):
            module = head.arg
        else:
            raise MalformedPoint(f"'{head.name}' probe points need a module "
                             "name: module(\"NAME\")", head.span)
        if len(comps) < 2 or comps[1].name not in ("function", "statement") \
                or not isinstance(comps[1].arg, str):
            raise MalformedPoint(f"expected .function(\"PATTERN\") or "
                             f".statement(\"PATTERN\") after {head.name}",
                             comps[-1].span)
        what = comps[1]
        suffix = FunctionSuffix.NONE
        for c in comps[2:]:
            if c.name not in _SUFFIX_NAMES or c.arg is not None \
                    or what.name == "statement" or len(comps) > 3:
                raise MalformedPoint(f"unsupported probe point suffix "
                                 f"'.{c.name}'", c.span,
                                 hint="use .call, .return or .inline")
            suffix = FunctionSuffix(c.name)
        pattern = parse_pattern(what.arg, what.span)
        if module == "kernel" and self.kernel_from_btf():
            return self._btf_sites(point, pattern, what, suffix, handler,
                                   order)
        debug_file = self.debug_file(module, head.span)
        if what.name == "statement":
            return self._statement_sites(point, debug_file, pattern, handler,
                                         order, what.span)
        return self._function_sites(point, debug_file, pattern, suffix,
                                    handler, order, what.span)

    # -- functions --
    def matching_functions(self, debug: DebugFile, pattern: Pattern,
                            suffix: FunctionSuffix, span,
                            inlined_by_default: Optional[bool] = None
                            ) -> List[Subprogram]:
        """The copies of the functions that ``suffix`` means; the kernel's
        inlined instances only when asked for with .inline (a full scan
        of vmlinux)."""
        if inlined_by_default is None:
            inlined_by_default = debug.relocatable
        found = []
        if suffix is not FunctionSuffix.INLINE:
            found += debug.find_functions(pattern.function)
        if suffix is FunctionSuffix.INLINE or (
                suffix is FunctionSuffix.NONE and inlined_by_default):
            found += debug.find_inlined(pattern.function)
        if pattern.file:
            found = [f for f in found
                     if fnmatch.fnmatchcase(f.decl_file, "*" + pattern.file)
                     or fnmatch.fnmatchcase(os.path.basename(f.decl_file),
                                            pattern.file)]
        if pattern.line is not None and pattern.line_range is None:
            found = [f for f in found if f.decl_line == pattern.line]
        if not found:
            names = [s.name.split(".", 1)[0]
                     for s in debug.function_symbols()]
            hint = nearest(pattern.function, names)
            where = "kernel" if debug.module == "kernel" \
                else debug.module if is_program(debug) \
                else f"module {debug.module}"
            raise StpcError(f"no function matches '{pattern.function}"
                            f"{'@' + pattern.file if pattern.file else ''}' "
                            f"in {where}", span, hint=hint)
        return found

    def _function_sites(self, point, debug, pattern, suffix, handler, order,
                        span) -> List[ProbeSite]:
        functions = self.matching_functions(debug, pattern, suffix, span)
        functions = _without_init_code(debug, functions, span)
        kind = ProbeKind.KRETPROBE if suffix is FunctionSuffix.RETURN \
            else ProbeKind.KPROBE
        module = self.probed_module(debug, point.optional)
        sites = []
        placed = set()
        for function in functions:
            pc = function.low_pc
            # inlined functions nested in each other may start at one
            # address (a tracepoint's trace_EVENT, static_key_false, ...
            # at its call): one site there, the first matched
            if pc in placed:
                continue
            placed.add(pc)
            where = f"{function.name}@{self.short_file(debug, function)}:" \
                    f"{function.decl_line}"
            text = describe(point, "function", where, suffix)
            sites.append(self.site(point, kind, handler, order + len(sites),
                                   debug, function, pc, module, text))
        return sites

    # -- kernel functions from BTF (no DWARF installed) --
    def _btf_sites(self, point, pattern, what, suffix: FunctionSuffix,
                   handler, order) -> List[ProbeSite]:
        """Entry and return probes on kernel functions, placed by symbol
        name (the loader reads each address from /proc/kallsyms)."""
        if what.name != "function" or pattern.file or \
                suffix is FunctionSuffix.INLINE:
            raise StpcError(
                f"no DWARF for kernel {self.env.kernel_release}: only "
                ".function(\"NAME\"), .call and .return probes work from "
                "BTF", what.span, hint="add --fetch-debuginfo, install "
                f"linux-image-{self.env.kernel_release}-dbg, or pass "
                "--debuginfo-path")
        btf = self.kernel_btf()
        names = sorted(n for n in btf.function_names()
                       if fnmatch.fnmatchcase(n, pattern.function))
        if not names:
            raise StpcError(f"no function matches '{pattern.function}' in "
                            "the kernel", what.span,
                            hint=nearest(pattern.function,
                                         btf.function_names()))
        returns = suffix is FunctionSuffix.RETURN
        kind = ProbeKind.KRETPROBE if returns else ProbeKind.KPROBE
        kernel = self.kernel_module(point.optional)
        sites = []
        for name in names:
            section = f"symbol:{name}"
            self.probed.add_slot(kernel, section)
            sites.append(ProbeSite(
                point, kind, 0, handler, order + len(sites),
                code=CodeSite(kernel, section, 0, name, 0, name),
                description=describe(point, "function", name, suffix),
                resolved=ResolvedSite(None, None, 0, returns,
                                      btf.function(name), btf),
                by_ftrace=self.by_ftrace(kind, 0)))
        return sites

    def kernel_from_btf(self) -> bool:
        if self.env.kernel_types == "auto":
            return find_vmlinux(self.env) is None
        return self.env.kernel_types == "btf"

    def kernel_btf(self) -> KernelBtf:
        if self._btf is None:
            from .btf import load_kernel_btf
            self._btf = load_kernel_btf(self.env.kernel_release)
            if self.env.verbose:
                print(f"stpc: kernel types from BTF: {self._btf.source}",
                      file=sys.stderr)
        return self._btf

    # -- statements --
    def _statement_sites(self, point, debug, pattern, handler, order,
                         span) -> List[ProbeSite]:
        module = self.probed_module(debug, point.optional)
        sites = []
        for function, line, pc in self.statements(debug, pattern, span):
            where = f"{function.name}@" \
                    f"{self.short_file(debug, function)}:{line}"
            text = describe(point, "statement", where, FunctionSuffix.NONE)
            sites.append(self.site(point, ProbeKind.KPROBE, handler,
                                   order + len(sites), debug, function,
                                   pc, module, text))
        return sites

    def statements(self, debug, pattern, span
                   ) -> List[Tuple[Subprogram, int, int]]:
        """(function, line, first address) of each line of the pattern
        that has code in a matching function."""
        if pattern.line is None:
            raise StpcError("a statement probe needs a line: "
                            "FUNCTION@FILE:LINE", span)
        candidates = self.matching_functions(
            debug, Pattern(pattern.function, pattern.file),
            FunctionSuffix.CALL, span)
        if not is_program(debug):
            candidates = _without_init_code(debug, candidates, span)
        first, last = pattern.line_range or (pattern.line, pattern.line)
        found = []
        for function in candidates:
            for line in range(first, last + 1):
                addresses = debug.line_addresses(function, line)
                if addresses:
                    found.append((function, line, addresses[0]))
        if not found:
            lines = sorted({n for f in candidates for n in debug.lines_of(f)})
            shown = ", ".join(str(n) for n in lines[:40])
            raise StpcError(f"no statement at line {pattern.line} of "
                            f"{pattern.function}", span,
                            hint=f"lines with code: {shown}" if lines
                            else None)
        return found

    # -- sites --
    def site(self, point, kind, handler, order, debug, function, pc,
             module, text) -> ProbeSite:
        address = debug.locate(pc)
        symbol = debug.symbol_at(pc)
        if symbol is None:
            raise StpcError(f"no symbol covers the address of "
                            f"{function.name}", point.span)
        self.probed.add_slot(module, address.section)
        code = CodeSite(module, address.section, address.offset,
                        symbol.name, pc - symbol.address, function.name,
                        symbol.size)
        return ProbeSite(point, kind, 0, handler, order, code=code,
                         description=text,
                         resolved=ResolvedSite(debug, function, pc,
                                               kind is ProbeKind.KRETPROBE),
                         by_ftrace=self.by_ftrace(kind, code.symbol_offset))

    def by_ftrace(self, kind: ProbeKind, symbol_offset: int) -> bool:
        """Whether ftrace, rather than a kprobe, carries a site: a
        function's entry, unless -D STPC_NO_FTRACE (the runtime still falls
        back to a kprobe where the kernel refuses)."""
        return (self.env.ftrace_entries and kind is ProbeKind.KPROBE
                and symbol_offset == 0)

    @staticmethod
    def short_file(debug: DebugFile, function: Subprogram) -> str:
        comp_dir = function.die.cu.get_top_DIE().attributes.get(
            "DW_AT_comp_dir")
        name = function.decl_file
        if comp_dir is not None:
            prefix = comp_dir.value.decode("utf-8", "replace").rstrip("/")
            if name.startswith(prefix + "/") and debug.module == "kernel":
                return name[len(prefix) + 1:]
        return name

    # -- probed modules --
    def probed_module(self, debug: DebugFile, optional: bool) -> str:
        return self._module(debug.module, debug.build_id, str(debug.path),
                            optional)

    def kernel_module(self, optional: bool) -> str:
        return self._module("kernel", "", self.kernel_btf().source, optional)

    def _module(self, name: str, build_id: str, source: str,
                optional: bool) -> str:
        if self.env.verbose and name not in self.probed:
            print(f"stpc: {name}: debug information from {source}",
                  file=sys.stderr)
        self.probed.add_module(name, build_id, source, optional)
        return name

    # -- debuginfo --
    def debug_file(self, module: str, span) -> DebugFile:
        key = module
        if key not in self._debug:
            self._debug[key] = self._open(module, span)
        return self._debug[key]

    def _open(self, module: str, span) -> DebugFile:
        if module == "kernel":
            path = find_vmlinux(self.env)
            if path is None:
                raise StpcError(
                    f"no DWARF for kernel {self.env.kernel_release}", span,
                    hint="add --fetch-debuginfo, install linux-image-"
                         f"{self.env.kernel_release}-dbg, or pass "
                         "--debuginfo-path DIR")
            return DebugFile(path, "kernel")
        if "/" in module:
            path = Path(module)
            if not path.exists():
                raise StpcError(f"module file {module} does not exist", span)
            return DebugFile(_plain_ko(path), module_name_of_file(path))
        candidates = find_module_debuginfo(module, self.env)
        for path in candidates:
            debug = DebugFile(_plain_ko(path), module)
            if debug.elf.get_section_by_name(".debug_info") is not None:
                return debug
        raise StpcError(f"no DWARF found for module {module}", span,
                        hint="pass the .ko path as module(\"/path/x.ko\"), or "
                             "--debuginfo-path DIR")


def describe(point: A.ProbePoint, what: str, where: str,
             suffix: FunctionSuffix) -> str:
    """One resolved site as a probe point the user can write again (pp(),
    -l, -p2): the module as the script names it, a .ko's path included."""
    first = point.components[0]
    head = first.name if first.arg is None else f'{first.name}("{first.arg}")'
    tail = ""
    if suffix in (FunctionSuffix.CALL, FunctionSuffix.RETURN):
        tail = f".{suffix.value}"
    return f'{head}.{what}("{where}"){tail}'


def is_program(debug: DebugFile) -> bool:
    """A user program's or library's DWARF (userprobes.py names it by
    its absolute path), not the kernel's or a module's."""
    return debug.module.startswith("/")


def _without_init_code(debug, functions, span):
    """Init code is freed once the kernel or module has started, so a
    glob leaves it out and a name that means only init code is refused."""
    kept = [f for f in functions
            if not _section_at(debug, f.low_pc).startswith(".init")]
    if kept or not functions:
        return kept
    first = functions[0]
    after = "the kernel has booted" if debug.module == "kernel" \
        else f"module {debug.module} has run its init"
    raise StpcError(f"{first.name} is init code "
                    f"({_section_at(debug, first.low_pc)}), freed once "
                    f"{after}: it cannot be probed", span)


def _section_at(debug, address: int) -> str:
    if debug.relocatable:
        return debug.locate(address).section
    for section in debug.elf.iter_sections():
        start = section["sh_addr"]
        if section["sh_flags"] & 0x2 and \
                start <= address < start + section["sh_size"]:
            return section.name
    return ""


_SUFFIX_NAMES = tuple(s.value for s in FunctionSuffix if s.value)


class MalformedPoint(StpcError):
    """A probe point that is wrong whatever the machine: never optional."""


def module_name_of_file(path: Path) -> str:
    """A .ko's module name: its file name, with dashes as underscores."""
    name = path.name
    for suffix in (".xz", ".zst", ".gz"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".ko").removesuffix(".debug").replace("-", "_")


def _plain_ko(path: Path) -> Path:
    """An uncompressed copy of a .ko.xz (Debian may compress modules)."""
    if path.suffix != ".xz":
        return path
    out = Path(tempfile.mkdtemp(prefix="stpc-ko-")) / path.stem
    out.write_bytes(lzma.decompress(path.read_bytes()))
    return out


def vmlinux_candidates(env: ProbeEnvironment) -> List[Path]:
    """Where the kernel's DWARF may be, best first (the raw-input cache
    watches them all: a better one appearing changes the compilation)."""
    kver = env.kernel_release
    return [Path(d) / f"vmlinux-{kver}" for d in env.debuginfo_path] + \
        [Path(d) / "vmlinux" for d in env.debuginfo_path] + [
        Path(f"/usr/lib/debug/boot/vmlinux-{kver}"),
        Path(f"/usr/lib/debug/lib/modules/{kver}/vmlinux"),
        # fetched by `stpc --fetch-debuginfo` (compiler/debuginfo.py)
        debuginfo_dir(kver) / f"vmlinux-{kver}"]


def find_vmlinux(env: ProbeEnvironment) -> Optional[Path]:
    return next((p for p in vmlinux_candidates(env) if p.is_file()), None)


def find_module_debuginfo(module: str, env: ProbeEnvironment) -> List[Path]:
    """Files that may hold the DWARF of ``module``, best first."""
    kver = env.kernel_release
    found: List[Path] = []
    relative = _modules_dep_path(module, kver)
    if relative is not None:
        found.append(Path(f"/lib/modules/{kver}") / relative)
        found.append(Path(f"/usr/lib/debug/lib/modules/{kver}") / relative)
    search = list(env.debuginfo_path)
    extra = os.environ.get("STPC_DEBUGINFO_PATH")
    if extra:
        search.extend(extra.split(":"))
    for directory in search:
        for root, _, files in os.walk(directory):
            for name in files:
                if ".ko" in name and module_name_of_file(Path(name)) == \
                        module:
                    found.append(Path(root) / name)
    return [p for p in found if p.is_file()]


def _modules_dep_path(module: str, kver: str) -> Optional[str]:
    try:
        with open(f"/lib/modules/{kver}/modules.dep") as dep:
            for line in dep:
                path = line.split(":", 1)[0]
                if module_name_of_file(Path(path)) == module:
                    return path
    except OSError:
        pass
    return None
