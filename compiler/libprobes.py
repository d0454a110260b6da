"""``process("PATH").library("LIB").function(...)`` (and ``.statement``):
uprobes in a shared library that fire only in the processes running
PATH, as SystemTap's do.

LIB is an absolute path, or a name (a glob) matched against PATH's
``DT_NEEDED`` entries and found where the dynamic linker looks: PATH's
``DT_RUNPATH``/``DT_RPATH`` (``$ORIGIN`` expanded), ``$LD_LIBRARY_PATH``,
the directories of ``/etc/ld.so.conf`` and the default ones.  The sites
are those of ``process("LIBPATH").function(...)``, each marked with the
program whose processes run its handler (the module compares the
task's executable inode, runtime_c/uprobes.c).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import glob
import os
from pathlib import Path
from typing import Iterator, List

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from . import ast as A
from .errors import StpcError, nearest
from .ir import ProbeSite

_DEFAULT_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                 "/lib64", "/usr/lib64", "/lib", "/usr/lib")


def is_library_point(point: A.ProbePoint) -> bool:
    comps = point.components
    return len(comps) >= 3 and comps[0].name == "process" and \
        comps[1].name == "library"


def library_sites(resolve_user, point: A.ProbePoint, program: str,
                  handler: int, order: int) -> List[ProbeSite]:
    """``resolve_user(point)`` places ``process("LIB").function(...)``;
    ``program`` is PATH, already found."""
    head, library = point.components[:2]
    if not isinstance(library.arg, str) or not library.arg:
        raise StpcError('.library takes a library: library("LIB")',
                        library.span)
    path = find_library(program, library.arg, library.span)
    inner = dataclasses.replace(point, components=(
        dataclasses.replace(head, arg=path), *point.components[2:]))
    prefix = f'process("{path}")'
    written = f'process("{program}").library("{path}")'
    return [dataclasses.replace(
                site, point=point,
                description=written + site.description[len(prefix):],
                user=dataclasses.replace(site.user, process=program))
            for site in resolve_user(inner, handler, order)]


def find_library(program: str, name: str, span) -> str:
    if "/" in name:
        path = os.path.abspath(name)
        if not os.path.isfile(path):
            raise StpcError(f"library {path} does not exist", span)
        return path
    needed, search = _dynamic(program, span)
    matching = [n for n in needed if fnmatch.fnmatchcase(n, name)]
    if not matching:
        raise StpcError(f"{program} does not need a library '{name}'",
                        span, hint=nearest(name, needed) or
                        ("it needs " + ", ".join(needed) if needed else
                         "it is linked statically"))
    for wanted in matching:
        for directory in search:
            candidate = Path(directory) / wanted
            if candidate.is_file():
                return str(candidate)
    raise StpcError(f"library {matching[0]} of {program} is in none of "
                    f"the library directories ({', '.join(search)})", span,
                    hint="give the library's absolute path")


def _dynamic(program: str, span):
    """PATH's DT_NEEDED names and where the dynamic linker searches."""
    try:
        with open(program, "rb") as stream:
            elf = ELFFile(stream)
            needed, own = [], []
            for section in elf.iter_sections():
                if not isinstance(section, DynamicSection):
                    continue
                for tag in section.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        needed.append(tag.needed)
                    elif tag.entry.d_tag in ("DT_RUNPATH", "DT_RPATH"):
                        own += getattr(tag, tag.entry.d_tag[3:].lower()) \
                            .split(":")
    except (OSError, ELFError) as exc:
        raise StpcError(f"cannot read {program}: {exc}", span)
    origin = os.path.dirname(program)
    own = [d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)
           for d in own if d]
    env = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    return needed, [*own, *env, *_ld_so_conf("/etc/ld.so.conf"),
                    *_DEFAULT_DIRS]


def _ld_so_conf(path: str, depth: int = 0) -> Iterator[str]:
    """The directories of ld.so.conf, its includes followed (bounded)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line.startswith("include ") and depth < 4:
            pattern = line.split(None, 1)[1]
            if not pattern.startswith("/"):
                pattern = os.path.join(os.path.dirname(path), pattern)
            for included in sorted(glob.glob(pattern)):
                yield from _ld_so_conf(included, depth + 1)
        elif line:
            yield line
