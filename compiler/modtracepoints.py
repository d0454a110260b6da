"""The tracepoints that kernel modules define, for ``kernel.trace``.

A module that defines tracepoints (``CREATE_TRACE_POINTS``) keeps their
names in its ``__tracepoints_strings`` section: one read of each ``.ko``
of ``/lib/modules/KVER`` (cached per release, keyed on ``modules.dep``)
and of the ``--debuginfo-path`` directories (read every time: they are
the user's) tells which module has which events.

An event's subsystem is the ``TRACE_SYSTEM`` its module was compiled
with: the module's ``event_EVENT`` (a ``struct trace_event_call``)
points through its ``class`` member to an ``event_class_CLASS`` whose
first member, ``system``, points to that string; both pointers are
relocations of the ``.ko``.  Its arguments are the parameters of
``__traceiter_EVENT`` after ``__data``, from the module's BTF (Debian's
modules carry split BTF over vmlinux's) or else its DWARF (a module
built out of tree without BTF).
"""

from __future__ import annotations

import io
import json
import lzma
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Tuple

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from . import ctype as C
from .build import cache_dir
from .elfsyms import read_build_id
from .inputcache import recorded_as

if TYPE_CHECKING:
    from .btf import KernelBtf
    from .dwarf import DebugFile

_CACHE_VERSION = 1
_NAMES_SECTION = b"__tracepoints_strings"
_KO_SUFFIXES = (".ko", ".ko.xz", ".ko.gz")


@dataclass(frozen=True)
class ModuleFile:
    name: str           # the module's name (dashes as underscores)
    path: Path
    events: Tuple[Tuple[str, str], ...]     # (event, TRACE_SYSTEM)


def read_ko(path: Path) -> bytes:
    """A module file's ELF bytes, decompressed."""
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    return data


def tracepoint_names(elf: bytes) -> List[str]:
    """The names in a 64-bit little-endian ELF's ``__tracepoints_strings``
    (read from the section headers alone: thousands of files are read)."""
    try:
        if elf[:6] != b"\x7fELF\x02\x01":
            return []
        shoff, = struct.unpack_from("<Q", elf, 0x28)
        entsize, count, names_index = struct.unpack_from("<HHH", elf, 0x3a)

        def header(i: int) -> tuple:
            # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size
            return struct.unpack_from("<IIQQQQ", elf, shoff + i * entsize)
        names_at = header(names_index)[4]
        for i in range(count):
            name, _, _, _, offset, size = header(i)
            start = names_at + name
            if elf[start:elf.index(b"\0", start)] == _NAMES_SECTION:
                return [n.decode("ascii", "replace")
                        for n in elf[offset:offset + size].split(b"\0") if n]
    except (struct.error, ValueError):
        pass
    return []


def _ko_files(directory: Path) -> Iterator[Path]:
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            if name.endswith(_KO_SUFFIXES):
                yield Path(root) / name


def _scan(directory: Path, class_offset: int) -> List[ModuleFile]:
    from .probes import module_name_of_file
    found = []
    for path in _ko_files(directory):
        try:
            elf = read_ko(path)
        except (OSError, lzma.LZMAError, zlib.error):
            continue
        events = tracepoint_names(elf)
        if events:
            name = module_name_of_file(path)
            systems = _Relocated(elf).systems(events, class_offset)
            found.append(ModuleFile(name, path, tuple(
                (event, systems.get(event, name)) for event in events)))
    return found


def _installed(kver: str, class_offset: int) -> List[ModuleFile]:
    """The modules of /lib/modules/KVER that define tracepoints, cached
    (a new kernel package rewrites modules.dep)."""
    root = Path("/lib/modules") / kver
    try:
        dep = (root / "modules.dep").stat()
    except OSError:
        return []
    path = cache_dir() / "tracepoints" / \
        f"modules-{kver}-{dep.st_size}-{dep.st_mtime_ns}-{_CACHE_VERSION}.json"
    try:
        return [ModuleFile(m["name"], Path(m["path"]),
                           tuple(map(tuple, m["events"])))
                for m in json.loads(path.read_text())]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    with recorded_as(root / "modules.dep"):
        found = [module for sub in ("kernel", "updates", "extra")
                 for module in _scan(root / sub, class_offset)]
    from .btf import write_quietly
    write_quietly(path, json.dumps([
        dict(name=m.name, path=str(m.path), events=list(m.events))
        for m in found]).encode())
    return found


def module_files(kver: str, directories: List[str],
                 kernel_btf: KernelBtf) -> List[ModuleFile]:
    """Every module defining tracepoints: the given directories' first
    (what the user pointed at), then the installed ones not named there."""
    class_offset = _class_offset(kernel_btf)
    named: Dict[str, ModuleFile] = {}
    for directory in directories:
        for module in _scan(Path(directory), class_offset):
            named.setdefault(module.name, module)
    for module in _installed(kver, class_offset):
        named.setdefault(module.name, module)
    return sorted(named.values(), key=lambda m: m.name)


# ---- one module's events: subsystem and arguments -------------------------

def _class_offset(kernel_btf: KernelBtf) -> int:
    """Where ``struct trace_event_call`` keeps its ``class`` pointer."""
    call = kernel_btf.struct("trace_event_call")
    return next((m.offset for m in getattr(call, "members", [])
                 if m.name == "class"), -1)


class _Relocated:
    """A module's symbols and the relocations that fill its pointers."""

    def __init__(self, elf: bytes):
        self.elf = ELFFile(io.BytesIO(elf))
        self.symbols = {}
        self.objects = {}
        symtab = self.elf.get_section_by_name(".symtab")
        for symbol in symtab.iter_symbols() if symtab is not None else ():
            self.symbols.setdefault(symbol.name, symbol)
            if symbol["st_info"]["type"] == "STT_OBJECT":
                self.objects[(symbol["st_shndx"], symbol["st_value"])] = \
                    symbol.name
        self._relocations: Dict[int, Dict[int, Tuple[int, int]]] = {}

    def systems(self, events: List[str], class_offset: int
                ) -> Dict[str, str]:
        """``TRACE_SYSTEM`` of each event, through the relocations of
        ``event_EVENT.class`` and ``event_class_CLASS.system``."""
        systems = {}
        for event in events:
            event_class = self._pointer_at(f"event_{event}", class_offset)
            name = self.objects.get(event_class) if event_class else None
            string = self._pointer_at(name, 0) if name else None
            if string is not None:
                data = self.elf.get_section(string[0]).data()
                end = data.find(b"\0", string[1])
                if end >= 0:
                    systems[event] = data[string[1]:end].decode(
                        "ascii", "replace")
        return systems

    def _pointer_at(self, symbol_name: str, offset: int
                    ) -> Optional[Tuple[int, int]]:
        """(section index, offset) a relocated pointer at
        ``symbol_name + offset`` points to."""
        symbol = self.symbols.get(symbol_name)
        if symbol is None or not isinstance(symbol["st_shndx"], int) or \
                offset < 0:
            return None
        return self._targets(symbol["st_shndx"]).get(
            symbol["st_value"] + offset)

    def _targets(self, section_index: int) -> Dict[int, Tuple[int, int]]:
        if section_index not in self._relocations:
            targets = self._relocations[section_index] = {}
            section = self.elf.get_section(section_index)
            relocations = self.elf.get_section_by_name(".rela" +
                                                       section.name)
            if isinstance(relocations, RelocationSection):
                symtab = self.elf.get_section(relocations["sh_link"])
                for relocation in relocations.iter_relocations():
                    target = symtab.get_symbol(relocation["r_info_sym"])
                    if isinstance(target["st_shndx"], int):
                        targets[relocation["r_offset"]] = (
                            target["st_shndx"],
                            target["st_value"] + relocation["r_addend"])
        return self._relocations[section_index]


class ModuleEvents:
    """What one module tells of its events' arguments: its BTF, or its
    DWARF when it has no BTF, and its build-id."""

    def __init__(self, module: ModuleFile, kernel_btf: KernelBtf):
        self.module = module
        self.kernel_btf = kernel_btf
        self._elf = ELFFile(io.BytesIO(read_ko(module.path)))
        self.build_id = read_build_id(self._elf)
        self.btf = self._module_btf()
        self.debug = None if self.btf is not None else self._dwarf()

    def _module_btf(self) -> Optional[KernelBtf]:
        if self._elf.get_section_by_name(".BTF") is None:
            return None
        from .btf import load_module_btf
        return load_module_btf(str(self.module.path), self.kernel_btf)

    def _dwarf(self) -> Optional[DebugFile]:
        if self._elf.get_section_by_name(".debug_info") is None:
            return None
        from .dwarf import DebugFile
        from .probes import _plain_ko
        return DebugFile(_plain_ko(self.module.path), self.module.name)

    @property
    def source(self) -> str:
        return str(self.module.path)

    def prototype(self, event: str) -> Optional[C.Prototype]:
        """``__traceiter_EVENT``'s parameters after ``__data``, named as
        the event's ``TP_PROTO``."""
        name = f"__traceiter_{event}"
        if self.btf is not None:
            found = self.btf.function(name)
            if found is not None:
                return C.Prototype(event, found.params[1:],
                                   found.return_type)
        if self.debug is None:
            return None
        from .dwarftypes import function_return_type, variable_name, \
            variable_type
        for sub in self.debug.find_functions(name):
            params = [C.Param(variable_name(die) or "", variable_type(die))
                      for die in self.debug.parameters(sub)]
            return C.Prototype(event, params[1:], function_return_type(sub))
        return None

    def find_struct(self, kind: str, name: str) -> Optional[C.CType]:
        """A struct of the module's types, else the kernel's."""
        found = None
        if self.btf is not None:
            found = self.btf.struct(name, kind)
        elif self.debug is not None:
            found = self.debug.find_struct(kind, name)
        return found if found is not None else \
            self.kernel_btf.struct(name, kind)
