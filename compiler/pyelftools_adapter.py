"""Where stpc uses pyelftools beyond its documented interface.

pyelftools copies each DWARF section it reads into memory and parses
call frame information a whole section at a time; for vmlinux (~230 MB
of DWARF, ~100,000 frame entries) both are too slow, so we reach into a
few of its internals.  Each reach is one function here, with why it is
needed, so that a new pyelftools release has one module to re-check
(written against 0.33).
"""

from __future__ import annotations

from elftools.dwarf.callframe import CallFrameInfo
from elftools.dwarf.die import DIE
from elftools.dwarf.dwarfinfo import DebugSectionDescriptor
from elftools.elf.elffile import ELFFile

_SHF_COMPRESSED = 0x800


class SectionStream:
    """A read-only file-like window on one section of a mapped file, so
    pyelftools reads the kernel's DWARF in place: only the pages a lookup
    touches are ever read."""

    __slots__ = ("_map", "_base", "_size", "_pos")

    def __init__(self, mapped, base: int, size: int):
        self._map, self._base, self._size, self._pos = mapped, base, size, 0

    def read(self, n: int = -1) -> bytes:
        pos = self._pos
        end = self._size if n is None or n < 0 else min(pos + n, self._size)
        if end <= pos:
            return b""
        self._pos = end
        return self._map[self._base + pos:self._base + end]

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            offset += self._size
        self._pos = max(offset, 0)
        return self._pos

    def tell(self) -> int:
        return self._pos


def read_dwarf_in_place(elf: ELFFile, mapped) -> None:
    """Makes ``elf.get_dwarf_info()`` read the DWARF sections through
    ``mapped`` (the whole file, memory-mapped) instead of copying each
    into a BytesIO.  Patch: ``ELFFile._read_dwarf_section`` (private) is
    the one place that decides how a section is read and offers no hook,
    so it is replaced on this instance only.  Compressed sections still
    go through the original, which decompresses them; relocations are
    never applied (vmlinux's already hold final values)."""
    original = elf._read_dwarf_section

    def read(section, relocate: bool) -> DebugSectionDescriptor:
        if section["sh_flags"] & _SHF_COMPRESSED or \
                section["sh_type"] == "SHT_NOBITS":
            return original(section, False)
        return DebugSectionDescriptor(
            stream=SectionStream(mapped, section["sh_offset"],
                                 section["sh_size"]),
            name=section.name, global_offset=section["sh_offset"],
            size=section["sh_size"], address=section["sh_addr"])

    elf._read_dwarf_section = read


def is_in_place(section: DebugSectionDescriptor) -> bool:
    """Whether a section read by ``read_dwarf_in_place`` is the mapped
    file itself (not a decompressed copy), so its bytes can be searched
    in the map."""
    return isinstance(getattr(section, "stream", None), SectionStream)


def debug_frame(dwarf) -> CallFrameInfo:
    """A parser of .debug_frame that has parsed nothing yet.  pyelftools
    only offers ``DWARFInfo.CFI_entries()``, which parses every entry;
    its (undocumented) constructor lets ``frame_entry_at`` parse one."""
    section = dwarf.debug_frame_sec
    return CallFrameInfo(section.stream, section.size, section.address,
                         dwarf.structs)


def frame_entry_at(cfi: CallFrameInfo, offset: int):
    """The CIE or FDE starting at ``offset`` of .debug_frame, parsed
    alone (with its CIE).  ``_parse_entry_at`` is private, and the only
    way not to parse the whole section for one entry."""
    return cfi._parse_entry_at(offset)


def parse_die_at(cu, offset: int) -> DIE:
    """Parses a DIE at an offset that may not start one (a guess from a
    byte search; anything may raise).  ``CompileUnit.get_DIE_from_refaddr``
    would keep a wrongly parsed DIE in the unit's cache, so the DIE is
    built directly (its constructor is not documented)."""
    return DIE(cu, cu.dwarfinfo.debug_info_sec.stream, offset)
