"""Finding DIEs of vmlinux by searching the bytes of its DWARF, without
walking units: vmlinux has ~2,500 units and millions of DIEs, and
pyelftools parses a unit's DIEs in Python, one by one.

A DIE named NAME has a DW_AT_name attribute holding (as DW_FORM_strp)
the 4-byte offset of NAME in .debug_str; the DIE itself starts 1 to 3
bytes before it (its abbreviation code, a ULEB128) when the name is its
first attribute, as GCC writes it.  So: find NAME in .debug_str, find
each 4-byte use of its offset in .debug_info, and parse a DIE 1 to 3
bytes before each; a parse that fails or gives a DIE whose name is not
right there was a coincidence.  References (DW_AT_abstract_origin,
DW_FORM_ref4) are found the same way.
"""

from __future__ import annotations

import bisect
import fnmatch
import functools
import os
import struct
from array import array
from typing import Callable, Iterator, List, Optional

from elftools.dwarf.die import DIE

from .pyelftools_adapter import is_in_place, parse_die_at

_UNIT_HEADER = 11     # bytes in a DWARF 2-4 unit header (DWARF 5: 12)


class DieScan:
    def __init__(self, dwarf, mapped, fileno: int,
                 unit: Callable[[int], object]):
        """``mapped``: the whole file, memory-mapped (``fileno`` its
        descriptor); ``unit(offset)``: the compilation unit at an offset
        (the debug file remembers which units were reached)."""
        self.dwarf, self._map, self._fileno = dwarf, mapped, fileno
        self._unit = unit

    @functools.cached_property
    def unit_offsets(self) -> array:
        """Where each unit of .debug_info starts (from the unit headers)."""
        section = self.dwarf.debug_info_sec
        base, size = section.global_offset, section.size
        starts, pos = array("Q"), 0
        while pos + 4 <= size:      # pread: no page of the map is touched
            starts.append(pos)
            length, wide = struct.unpack(
                "<IQ", os.pread(self._fileno, 12, base + pos))
            pos += 12 + wide if length == 0xFFFFFFFF else 4 + length
        return starts

    def die_at(self, offset: int) -> DIE:
        starts = self.unit_offsets
        cu = self._unit(starts[bisect.bisect_right(starts, offset) - 1])
        return cu.get_DIE_from_refaddr(offset)

    def dies_named(self, name_glob: str, low: int = 0,
                   high: Optional[int] = None) -> Iterator[DIE]:
        """DIEs (at .debug_info offsets low..high) whose DW_AT_name
        matches the glob."""
        section = self.dwarf.debug_info_sec
        if not self._in_place:
            return
        high = section.size if high is None else high
        for value in self._string_offsets(name_glob):
            for at in self._find_all(struct.pack("<I", value), low, high):
                for back in (1, 2, 3):
                    die = self._try_die(at - back, lambda d, at=at: (
                        "DW_AT_name" in d.attributes and
                        d.attributes["DW_AT_name"].offset == at and
                        d.attributes["DW_AT_name"].form == "DW_FORM_strp"))
                    if die is not None:
                        yield die
                        break

    def references_to(self, target: DIE, tag: str) -> Iterator[DIE]:
        """DIEs with ``tag`` of the target's unit whose first attribute is
        a DW_AT_abstract_origin reference (DW_FORM_ref4) to it."""
        cu = target.cu
        unit, end = cu.cu_offset, cu.cu_offset + cu.size
        needle = struct.pack("<I", target.offset - unit)
        for at in self._find_all(needle, unit, end):
            for back in (1, 2, 3):
                die = self._try_die(at - back, lambda d, at=at: (
                    d.tag == tag and
                    "DW_AT_abstract_origin" in d.attributes and
                    d.attributes["DW_AT_abstract_origin"].offset == at))
                if die is not None:
                    yield die
                    break

    def _try_die(self, offset: int, check) -> Optional[DIE]:
        """The DIE at ``offset`` if one starts there and passes
        ``check`` (offsets here are guesses: anything may fail)."""
        starts = self.unit_offsets
        unit = starts[bisect.bisect_right(starts, offset) - 1]
        if offset <= unit + _UNIT_HEADER:
            return None
        try:
            if not check(parse_die_at(self.dwarf.get_CU_at(unit), offset)):
                return None
        except Exception:       # noqa: BLE001 - a wrong guess
            return None
        return self._unit(unit).get_DIE_from_refaddr(offset)

    def _string_offsets(self, name_glob: str) -> List[int]:
        """Offsets in .debug_str of strings matching the glob (a string
        may also be the tail of a longer one)."""
        section = self.dwarf.debug_str_sec
        if section is None:
            return []
        base, size = section.global_offset, section.size
        data = self._map
        found = []
        wild = [i for i, c in enumerate(name_glob) if c in "*?["]
        literal = name_glob[:wild[0]] if wild else name_glob + "\0"
        needle = literal.encode()
        if not needle:
            pos = 0
            while pos < size:
                end = data.find(b"\0", base + pos, base + size) - base
                if end < 0:
                    break
                text = data[base + pos:base + end].decode("utf-8", "replace")
                if fnmatch.fnmatchcase(text, name_glob):
                    found.append(pos)
                pos = end + 1
            return found
        pos = data.find(needle, base, base + size)
        while pos >= 0:
            if not wild:
                found.append(pos - base)
            else:
                end = data.find(b"\0", pos, base + size)
                text = data[pos:end].decode("utf-8", "replace")
                if fnmatch.fnmatchcase(text, name_glob):
                    found.append(pos - base)
            pos = data.find(needle, pos + 1, base + size)
        return found

    @functools.cached_property
    def _in_place(self) -> bool:
        """Whether .debug_info and .debug_str are read straight from the
        map (not decompressed), so their bytes can be searched there."""
        return all(is_in_place(sec) for sec in (self.dwarf.debug_info_sec,
                                                self.dwarf.debug_str_sec))

    def _find_all(self, needle: bytes, low: int, high: int) -> Iterator[int]:
        """Offsets of ``needle`` in .debug_info[low:high]."""
        base = self.dwarf.debug_info_sec.global_offset
        data = self._map
        hit = data.find(needle, base + low, base + high)
        while hit >= 0:
            yield hit - base
            hit = data.find(needle, hit + 1, base + high)
