"""Resolving ``process("PATH").function("PATTERN")``, ``.statement(...)``
and ``.mark("NAME")`` probe points: uprobes.

PATH is absolute, or a program name searched in ``$PATH`` as SystemTap
does.  The functions come from the program's DWARF (the file itself, or
``/usr/lib/debug/.build-id/xx/yyyy.debug`` and the same layout under
``--debuginfo-path``).  A uprobe is placed by file offset, which the
program headers give for a virtual address (the segment that maps it);
the module looks the file up by path when it arms the probe, after the
loader has checked the file's build-id (``.stpc_info``'s "programs").
A mark (sdt.py) is placed the same way, at the address of its note; its
semaphore, if any, by its file offset too: the kernel counts it up while
the uprobe is registered.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from . import ast as A
from .dwarf import DebugFile
from .elfsyms import build_id_note
from .errors import StpcError, nearest
from .ir import ProbeKind, ProbeSite, ResolvedSite, UserSite
from .sdt import SdtNote, read_notes
from .libprobes import is_library_point, library_sites

if TYPE_CHECKING:
    from .probes import ProbeResolver

_PT_LOAD = 1


@dataclass(frozen=True)
class ElfFunction:
    """A function of the ELF symbol table (a program without DWARF)."""
    name: str
    address: int


@dataclass
class UserProgram:
    """A probed program or library: where it is, what it is, how its
    addresses map to file offsets, and its DWARF (or, without DWARF, the
    functions of its symbol table)."""
    path: str
    build_id: str
    build_id_offset: int                    # of its bytes, in the file
    segments: List[Tuple[int, int, int]]    # PT_LOAD: vaddr, filesz, offset
    debug: Optional[DebugFile]
    symbols: List[ElfFunction]
    marks: List[SdtNote]

    def file_offset(self, address: int, span) -> int:
        offset = segment_offset(self.segments, address)
        if offset is None:
            raise StpcError(f"address {address:#x} of {self.path} is in no "
                            "loadable segment", span)
        return offset

    def site(self, address: int, function: str, span,
             **extra) -> UserSite:
        """Where a uprobe at link-time ``address`` goes."""
        return UserSite(self.path, self.build_id, self.build_id_offset,
                        self.file_offset(address, span), address, function,
                        **extra)


def load_segments(elf: ELFFile) -> List[Tuple[int, int, int]]:
    """The file's PT_LOAD segments: (vaddr, filesz, offset)."""
    return [(seg["p_vaddr"], seg["p_filesz"], seg["p_offset"])
            for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD"]


def segment_offset(segments: List[Tuple[int, int, int]],
                   address: int) -> Optional[int]:
    """The file offset of a virtual address, None outside the segments."""
    for vaddr, size, offset in segments:
        if vaddr <= address < vaddr + size:
            return address - vaddr + offset
    return None


def function_symbols(elf: ELFFile):
    """The defined, sized functions of .symtab (else .dynsym)."""
    table = elf.get_section_by_name(".symtab") or \
        elf.get_section_by_name(".dynsym")
    return [] if table is None else [
        symbol for symbol in table.iter_symbols()
        if symbol["st_info"]["type"] == "STT_FUNC" and
        symbol["st_shndx"] != "SHN_UNDEF" and symbol["st_size"]]


def find_program(name: str, span) -> str:
    """The absolute path of ``process("NAME")``."""
    if "/" not in name:
        found = shutil.which(name)
        if found is None:
            raise StpcError(f"no program '{name}' in $PATH", span,
                            hint="give the program's absolute path")
        return os.path.abspath(found)
    path = os.path.abspath(name)
    if not os.path.isfile(path):
        raise StpcError(f"program {path} does not exist", span)
    return path


def open_program(path: str, debuginfo_path: Tuple[str, ...],
                 span) -> UserProgram:
    try:
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            build_id, build_id_offset = build_id_note(elf)
            segments = load_segments(elf)
            has_dwarf = elf.get_section_by_name(".debug_info") is not None
            symbols = _elf_functions(elf)
            marks = read_notes(elf, path)
    except (OSError, ELFError) as exc:
        raise StpcError(f"cannot read {path}: {exc}", span)
    if not build_id:
        raise StpcError(f"{path} has no GNU build-id: stpc could not check "
                        "at run time that it is the file probed", span,
                        hint="link it with -Wl,--build-id")
    debug_path = Path(path) if has_dwarf else \
        _separate_debug_file(build_id, debuginfo_path)
    debug = DebugFile(debug_path, path) if debug_path else None
    return UserProgram(path, build_id, build_id_offset, segments, debug,
                       symbols, marks)


def _elf_functions(elf: ELFFile) -> List[ElfFunction]:
    """The functions of the symbol table by address (aliases: several
    names at one address)."""
    found = {ElfFunction(symbol.name.split("@", 1)[0], symbol["st_value"])
             for symbol in function_symbols(elf)}
    return sorted(found, key=lambda f: (f.address, f.name))


def no_dwarf_hint(program: UserProgram) -> str:
    build_id = program.build_id
    return ("build it with -g, or install its debug symbols (the file "
            f"/usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug)")


def _separate_debug_file(build_id: str,
                         debuginfo_path: Tuple[str, ...]) -> Optional[Path]:
    relative = Path(".build-id") / build_id[:2] / f"{build_id[2:]}.debug"
    for root in (*debuginfo_path, "/usr/lib/debug"):
        candidate = Path(root) / relative
        if candidate.is_file():
            return candidate
    return None


def user_sites(resolver: "ProbeResolver", point: A.ProbePoint, handler: int,
               order: int) -> List[ProbeSite]:
    """The uprobe sites of ``process("PATH").function("PATTERN")``."""
    from .probes import FunctionSuffix, Pattern, MalformedPoint, describe, \
        parse_pattern
    comps = point.components
    head = comps[0]
    if not isinstance(head.arg, str):
        raise MalformedPoint("'process' probe points need a program: "
                         "process(\"PATH\")", head.span)
    if is_library_point(point):
        return library_sites(
            lambda inner, h, o: user_sites(resolver, inner, h, o), point,
            find_program(head.arg, head.span), handler, order)
    if any(c.name in ("mark", "provider") for c in comps[1:]):
        return mark_sites(resolver, point, handler, order)
    if len(comps) < 2 or comps[1].name not in ("function", "statement") \
            or not isinstance(comps[1].arg, str):
        raise MalformedPoint("expected .function(\"PATTERN\"), "
                         ".statement(\"PATTERN\") or .mark(\"NAME\") after "
                         "process(\"PATH\")",
                         comps[-1].span)
    what = comps[1]
    suffix = FunctionSuffix.NONE
    for c in comps[2:]:
        if what.name == "statement":
            raise MalformedPoint(f"unsupported probe point suffix '.{c.name}'",
                             c.span, hint="a statement probe takes none")
        if c.name not in ("call", "return", "inline") or c.arg is not None \
                or len(comps) > 3:
            raise MalformedPoint(f"unsupported probe point suffix '.{c.name}'",
                             c.span, hint="use .call, .return or .inline")
        suffix = FunctionSuffix(c.name)
    pattern = parse_pattern(what.arg, what.span)
    program = _program(resolver, head.arg, head.span)
    if program.debug is None:
        if what.name == "statement":
            raise StpcError(f"{program.path} has no DWARF: statement probes "
                            "need its line table", what.span,
                            hint=no_dwarf_hint(program))
        return _symbol_sites(program, point, pattern, suffix, handler, order)
    if what.name == "statement":
        return _statement_sites(resolver, program, point, pattern, handler,
                                order)
    try:
        functions = resolver.matching_functions(
            program.debug, Pattern(pattern.function, pattern.file,
                                   pattern.line),
            suffix, what.span, inlined_by_default=True)
    except StpcError:
        # an alias (libc's malloc is __libc_malloc in its DWARF)
        if pattern.file or not _symbols_matching(program, pattern.function):
            raise
        return _symbol_sites(program, point, pattern, suffix, handler, order)
    returns = suffix is FunctionSuffix.RETURN
    return [_dwarf_site(program, point, handler, order + i, function,
                        function.low_pc, returns, describe(
                            point, "function", f"{function.name}@"
                            f"{function.decl_file}:{function.decl_line}",
                            suffix))
            for i, function in enumerate(
                sorted(functions, key=lambda f: (f.low_pc, f.name)))]


def _statement_sites(resolver, program: UserProgram, point, pattern,
                     handler: int, order: int) -> List[ProbeSite]:
    from .probes import FunctionSuffix, describe
    what = point.components[1]
    return [_dwarf_site(program, point, handler, order + i, function, pc,
                        False, describe(
                            point, "statement", f"{function.name}@"
                            f"{function.decl_file}:{line}",
                            FunctionSuffix.NONE))
            for i, (function, line, pc) in enumerate(
                resolver.statements(program.debug, pattern, what.span))]


def _dwarf_site(program: UserProgram, point: A.ProbePoint, handler: int,
                order: int, function, pc: int, returns: bool,
                description: str) -> ProbeSite:
    span = point.components[1].span
    return ProbeSite(
        point, ProbeKind.URETPROBE if returns else ProbeKind.UPROBE, 0,
        handler, order, description=description,
        resolved=ResolvedSite(program.debug, function, pc, returns,
                              user=True),
        user=program.site(pc, function.name, span))


def _program(resolver: "ProbeResolver", name: str, span) -> UserProgram:
    path = find_program(name, span)
    program = resolver.programs.get(path)
    if program is None:
        program = open_program(path, resolver.env.debuginfo_path, span)
        resolver.programs[path] = program
    return program


def _symbols_matching(program: UserProgram, glob: str) -> List[ElfFunction]:
    """The functions whose name matches, one per address."""
    found: Dict[int, ElfFunction] = {}
    for function in program.symbols:
        if fnmatch.fnmatchcase(function.name, glob):
            found.setdefault(function.address, function)
    return list(found.values())


def _symbol_sites(program: UserProgram, point: A.ProbePoint, pattern,
                  suffix, handler: int, order: int) -> List[ProbeSite]:
    """Sites of a program without DWARF, by symbol name."""
    from .probes import FunctionSuffix, describe
    what = point.components[1]
    if pattern.file or suffix is FunctionSuffix.INLINE:
        raise StpcError(f"{program.path} has no DWARF: only "
                        ".function(\"NAME\"), .call and .return probes "
                        "work from its symbol table", what.span,
                        hint=no_dwarf_hint(program))
    functions = _symbols_matching(program, pattern.function)
    if not functions:
        raise StpcError(f"no function matches '{pattern.function}' in the "
                        f"symbol table of {program.path}", what.span,
                        hint=nearest(pattern.function,
                                     [f.name for f in program.symbols]))
    returns = suffix is FunctionSuffix.RETURN
    kind = ProbeKind.URETPROBE if returns else ProbeKind.UPROBE
    return [ProbeSite(point, kind, 0, handler, order + i,
                      description=describe(point, "function", f.name,
                                           suffix),
                      user=program.site(f.address, f.name, what.span))
            for i, f in enumerate(functions)]


def mark_sites(resolver: "ProbeResolver", point: A.ProbePoint, handler: int,
               order: int) -> List[ProbeSite]:
    """The uprobe sites of ``process("PATH")[.provider("P")].mark("N")``:
    globs in both; a ``-`` in N matches the ``__`` the notes of
    DTrace-style providers have instead."""
    from .probes import MalformedPoint
    head, *rest = point.components
    names = [c.name for c in rest]
    if names not in (["mark"], ["provider", "mark"]) or \
            not all(isinstance(c.arg, str) for c in rest):
        raise MalformedPoint("expected .mark(\"NAME\") or "
                             ".provider(\"PROVIDER\").mark(\"NAME\") after "
                             "process(\"PATH\")", rest[-1].span)
    provider = rest[0].arg if len(rest) == 2 else "*"
    mark = rest[-1]
    program = _program(resolver, head.arg, head.span)
    if not program.marks:
        raise StpcError(f"{program.path} has no SDT marks (no "
                        ".note.stapsdt section)", mark.span,
                        hint="marks come from <sys/sdt.h>'s STAP_PROBE "
                             "and DTRACE_PROBE macros")
    glob = mark.arg.replace("-", "__")
    notes = [note for note in program.marks
             if fnmatch.fnmatchcase(note.name, glob) and
             fnmatch.fnmatchcase(note.provider, provider)]
    if not notes:
        raise StpcError(f"no mark matches '{mark.arg}' in {program.path}",
                        mark.span, hint=nearest(mark.arg, sorted(
                            {n.name for n in program.marks})))
    prefix = f'process("{head.arg}")' + \
        (f'.provider("{rest[0].arg}")' if len(rest) == 2 else "")
    return [_mark_site(program, point, handler, order + i, note,
                       f'{prefix}.mark("{note.name}")')
            for i, note in enumerate(notes)]


def _mark_site(program: UserProgram, point: A.ProbePoint, handler: int,
               order: int, note: SdtNote, description: str) -> ProbeSite:
    span = point.components[-1].span
    semaphore = program.file_offset(note.semaphore, span) \
        if note.semaphore else 0
    # the function the mark is in gives its locals and its globals
    function = program.debug.function_containing(note.pc) \
        if program.debug is not None else None
    return ProbeSite(
        point, ProbeKind.UPROBE, 0, handler, order, description=description,
        resolved=ResolvedSite(program.debug if function else None, function,
                              note.pc, False, user=True, mark=note),
        user=program.site(note.pc, _function_at(program, note.pc), span,
                          semaphore_offset=semaphore))


def _function_at(program: UserProgram, address: int) -> str:
    """The symbol-table function the address is in, for probefunc()."""
    before = [f for f in program.symbols if f.address <= address]
    return before[-1].name if before else ""
