"""The end of a run: the lines that print every global the script wrote
but never read, as SystemTap does (arrays sorted by value, statistics
by @count, both descending)."""

from __future__ import annotations

from typing import List, Optional, Tuple

from .cstring import c_string
from .ir import GlobalSym, Program, T
from .templating import macros
from .storage import (STAT_FIELDS, STAT_SUMMARY, FrameView, entry_keys,
                      global_value, key_formats, map_capacity, map_ref,
                      stat_map_ref, stat_read, value_format, value_ref)


def unread_globals(
        program: Program) -> Optional[Tuple[FrameView, List[str]]]:
    """The lines that print the globals a script writes but never reads,
    and their frame; None if there are none."""
    unread = program.unread_globals()
    if not unread:
        return None
    frame = FrameView("stpc_locals_unread", "unread")
    lines = []
    for sym in unread:
        # the record kind tells the loader's JSON output what it reads
        lines.append(f"stpc_set_kind(c, {_print_kind(sym)});")
        if sym.is_array and sym.type is T.STATS:
            lines.append(_print_stat_array(program, sym, frame))
            continue
        if sym.is_array:
            lines.append(_print_array(program, sym, frame))
            continue
        if sym.type is T.STATS:
            lines.append(_print_stat(program, sym, frame))
            continue
        fmt, arg = value_format(sym.type, global_value(sym))
        lines.append(f"stpc_printf(c, {c_string(sym.name + '=' + fmt)}"
                     f" \"\\n\", {arg});")
    lines.append("stpc_set_kind(c, STPC_KIND_PRINTF);")
    return frame, lines


def _print_stat(program: Program, sym: GlobalSym, frame: FrameView) -> str:
    """``name @count=N @min=N @max=N @sum=N @avg=N``."""
    read = stat_read(program, sym, frame)
    fmt = sym.name + STAT_SUMMARY
    return f"{{ {read} stpc_printf(c, {c_string(fmt)}, {STAT_FIELDS}); }}"


def _print_stat_array(program: Program, sym: GlobalSym,
                      frame: FrameView) -> str:
    """``name[keys] @count=N ...`` per key, by @count descending."""
    keys, args = key_formats(sym, entry_keys("m"))
    line = f"{sym.name}[{keys}]{STAT_SUMMARY}"
    return macros("endprint.c").print_stat_array(
        stat_map_ref(program, sym.name), _sort_buffer(sym, frame),
        c_string(line), ", ".join(args + [STAT_FIELDS]))


def _sort_buffer(sym: GlobalSym, frame: FrameView) -> str:
    buf = f"sort_{sym.name}"
    frame.temps.append(
        f"struct stpc_map_entry *{buf}[{map_capacity(sym)}];")
    return buf


def _print_array(program: Program, sym: GlobalSym,
                 frame: FrameView) -> str:
    """One ``name[keys]=value`` line per entry, by value descending."""
    m = map_ref(program, sym.name)
    keys, args = key_formats(sym, entry_keys(m))
    fmt, arg = value_format(sym.type, value_ref(m, "e", sym.type))
    line = f"{sym.name}[{keys}]={fmt}\n"
    return macros("endprint.c").print_array(
        m, _sort_buffer(sym, frame), c_string(line),
        ", ".join(args + [arg]))


def _print_kind(sym: GlobalSym) -> str:
    """The stpc_kind of a global's end-of-run lines."""
    if sym.type is T.STATS:
        return "STPC_KIND_STATS"
    return "STPC_KIND_MAP" if sym.is_array else "STPC_KIND_VALUE"
