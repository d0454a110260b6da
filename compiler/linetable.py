"""Line tables: the file names a unit's DIEs refer to (DW_AT_decl_file)
and which addresses begin a source line, for ``.statement`` probes and
for hints about where a variable is available."""

from __future__ import annotations

import functools
from typing import List, Sequence, Tuple

from elftools.dwarf.die import DIE

from .dies import attr

Ranges = Sequence[Tuple[int, int]]


class LineTables:
    def __init__(self, dwarf):
        self.dwarf = dwarf

    def decl_file(self, die: DIE) -> str:
        index = attr(die, "DW_AT_decl_file", None)
        if index is None:
            return ""
        files = self._file_table(die.cu.cu_offset)
        return files[index] if 0 <= index < len(files) else ""

    @functools.lru_cache(maxsize=None)
    def _file_table(self, cu_offset: int) -> List[str]:
        cu = self.dwarf.get_CU_at(cu_offset)
        program = self.dwarf.line_program_for_CU(cu)
        if program is None:
            return []
        names = []
        dirs = program.header["include_directory"]
        version = program.header["version"]
        for entry in program.header["file_entry"]:
            name = entry.name.decode("utf-8", "replace")
            dir_index = entry.dir_index
            if version < 5:
                dir_index -= 1
            if not name.startswith("/") and 0 <= dir_index < len(dirs):
                name = dirs[dir_index].decode("utf-8", "replace") + "/" + name
            names.append(name)
        if version < 5:
            names.insert(0, "")     # DWARF 4 file numbers start at 1
        return names

    def line_addresses(self, cu, ranges: Ranges, decl_file: str,
                       line: int) -> List[int]:
        """Addresses in ``ranges`` where ``line`` of ``decl_file`` begins
        a statement, lowest first."""
        program = self.dwarf.line_program_for_CU(cu)
        files = self._file_table(cu.cu_offset)
        found = set()
        for entry in program.get_entries():
            state = entry.state
            if state is None or state.end_sequence or not state.is_stmt:
                continue
            if state.line != line:
                continue
            if not 0 <= state.file < len(files) or \
                    not _same_file(files[state.file], decl_file):
                continue
            if any(lo <= state.address < hi for lo, hi in ranges):
                found.add(state.address)
        return sorted(found)

    def lines_in(self, cu, ranges: Ranges) -> List[int]:
        """Source lines with statements in ``ranges``."""
        program = self.dwarf.line_program_for_CU(cu)
        lines = set()
        for entry in program.get_entries():
            state = entry.state
            if state is not None and not state.end_sequence and \
                    any(lo <= state.address < hi for lo, hi in ranges):
                lines.add(state.line)
        return sorted(lines)


def _same_file(full: str, wanted: str) -> bool:
    return full == wanted or full.endswith("/" + wanted.lstrip("./")) \
        or wanted.endswith("/" + full)
