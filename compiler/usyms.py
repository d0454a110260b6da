"""The function symbols ``usymname()`` and ``usymdata()`` look addresses
up in: those of the files the script's uprobes are placed in (programs
and libraries), carried into the module only when the script calls one
of them.  Each symbol is kept by file offset (through the program
headers), which the module reaches from an address through the task's
mapping of the file (runtime_c/usyms.c).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from . import ast as A
from .errors import StpcError

CALLS = ("usymname", "usymdata")
# an alias of several names at one address: the exported name first
_BINDINGS = {"STB_GLOBAL": 0, "STB_WEAK": 1, "STB_LOCAL": 2}


@dataclass(frozen=True)
class UserSymbol:
    offset: int         # in the file
    size: int
    name: str


def calls_usyms(program) -> bool:
    bodies = [h.decl.body for h in program.handlers] + \
        [f.decl.body for f in program.functions.values()]
    return any(isinstance(node, A.Call) and node.name in CALLS
               for body in bodies if body is not None
               for node in A.walk(body))


def file_symbols(path: str) -> List[UserSymbol]:
    """The sized functions of the file's .symtab (else .dynsym), one per
    address, sorted by file offset."""
    try:
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            segments = [(seg["p_vaddr"], seg["p_filesz"], seg["p_offset"])
                        for seg in elf.iter_segments()
                        if seg["p_type"] == "PT_LOAD"]
            table = elf.get_section_by_name(".symtab") or \
                elf.get_section_by_name(".dynsym")
            symbols = [] if table is None else [
                s for s in table.iter_symbols()
                if s["st_info"]["type"] == "STT_FUNC" and s["st_size"]
                and s["st_shndx"] != "SHN_UNDEF"]
    except (OSError, ELFError) as exc:
        raise StpcError(f"cannot read {path}: {exc}", None)
    best: Dict[int, tuple] = {}
    for symbol in symbols:
        offset = _file_offset(segments, symbol["st_value"])
        if offset is None:
            continue
        name = symbol.name.split("@", 1)[0]
        rank = (_BINDINGS.get(symbol["st_info"]["bind"], 3),
                name.startswith("_"), name)
        if offset not in best or rank < best[offset][0]:
            best[offset] = (rank, UserSymbol(offset, symbol["st_size"],
                                             name))
    return [entry[1] for _, entry in sorted(best.items())]


def _file_offset(segments, address: int):
    for vaddr, size, offset in segments:
        if vaddr <= address < vaddr + size:
            return address - vaddr + offset
    return None
