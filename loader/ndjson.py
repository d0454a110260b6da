"""``--format json``: a run's stdout as NDJSON, one ``{"type", "data"}``
object a line, in bpftrace's shape (docs/output.schema.json):

  printf  data: one printed line (its newline kept)
  map     data: {NAME: value} for a scalar global, {NAME: {KEYS: value}}
          for an array (KEYS: the keys joined by ",")
  stats   data: {NAME: {count, min, max, sum, avg}}, or per KEYS
  hist    data: {NAME: buckets}, or {NAME: {KEYS: buckets}} for an element
          of an array of statistics; buckets: [{value, count}], one per
          bucket printed

The module marks each stdout record with its kind (enum stpc_kind); the
text is the same as in a plain run, parsed here.  A kind's text may come
in several records, so text is buffered until its unit is complete.
"""

from __future__ import annotations

import json
import re
from typing import Callable, List, Optional, Tuple

from . import protocol

_KEY = re.compile(r'"([^"]*)"|(-?\d+)')
# NAME=value, NAME[KEYS]=value, NAME @count=N ..., NAME[KEYS] @count=N ...
# NAME or NAME[KEYS]: a global's, or a histogram's label
_NAME_KEYS = r'(\w+)(?:\[((?:"[^"]*"|-?\d+|,)*)\])?'
_GLOBAL = re.compile(_NAME_KEYS + r'(?:=(.*)| (@.*))')
_HIST_LABEL = re.compile(_NAME_KEYS)
_HIST_ROW = re.compile(r"\s*(\S+) \|@*\s*(\d+)")
_STAT_FIELD = re.compile(r"@(\w+)=(-?\d+)")
_UNITS = {protocol.KIND_PRINTF: re.compile(r"[^\n]*\n"),
          protocol.KIND_HIST: re.compile(r"(?:[^\n]+\n)*\n")}


class JsonLines:
    """Feeds on (kind, text) of stdout records; writes JSON lines."""

    def __init__(self, write: Callable[[str], None]):
        self.write = write
        self.kind = protocol.KIND_PRINTF
        self.text = ""
        self.global_: Optional[Tuple[str, object]] = None  # being collected
        self.hist_names: List[str] = []     # of the histograms coming
        self.naming = ""    # a histogram's name, while its records come

    def feed(self, kind: int, text: str) -> None:
        if kind == protocol.KIND_HIST_NAME:
            self.naming += text
            return
        if self.naming:
            self.hist_names.append(self.naming)
            self.naming = ""
        if kind != self.kind:
            self.close()
            self.kind = kind
        self.text += text
        self._emit(final=False)

    def close(self) -> None:
        """Ends the current kind: whatever is buffered goes out."""
        self._emit(final=True)

    def _emit(self, final: bool) -> None:
        if self.kind == protocol.KIND_PRINTF:
            for line in self._take(final):
                self._object("printf", line)
        elif self.kind == protocol.KIND_HIST:
            for hist in self._take(final):
                self._object("hist", self._named_hist(_hist(hist)))
        else:
            self._emit_globals(final)

    def _take(self, final: bool) -> List[str]:
        """Removes the complete units (lines, histograms) at the front of
        the buffer, and when ``final`` the incomplete rest too."""
        unit, units, pos = _UNITS[self.kind], [], 0
        while True:
            match = unit.match(self.text, pos)
            if not match or match.end() == pos:
                break
            units.append(match.group(0))
            pos = match.end()
        if final and pos < len(self.text):
            units.append(self.text[pos:])
            pos = len(self.text)
        self.text = self.text[pos:]
        return units

    def _emit_globals(self, final: bool) -> None:
        """One object per global: its lines are consecutive, so a global
        is complete when the next one starts, or at the end."""
        lines = self.text.split("\n")
        self.text = "" if final else lines.pop()   # an unfinished line
        for line in filter(None, lines):
            name, entry = _global_line(line)
            if self.global_ and self.global_[0] != name:
                self._global_object(*self.global_)
                self.global_ = None
            sofar = self.global_[1] if self.global_ else None
            self.global_ = (name, _merge(sofar, entry))
        if final and self.global_:
            self._global_object(*self.global_)
            self.global_ = None

    def _named_hist(self, buckets: list) -> dict:
        label = self.hist_names.pop(0) if self.hist_names else ""
        name, keys = _hist_label(label)
        return {name: buckets if keys is None else {keys: buckets}}

    def _global_object(self, name: str, value) -> None:
        kind = "stats" if self.kind == protocol.KIND_STATS else "map"
        self._object(kind, {name: value})

    def _object(self, kind: str, data) -> None:
        self.write(json.dumps({"type": kind, "data": data}) + "\n")


def _merge(sofar, entry):
    """A scalar's value, or the growing dict of an array's entries."""
    if isinstance(entry, tuple):
        merged = dict(sofar or {})
        merged[entry[0]] = entry[1]
        return merged
    return entry


def _global_line(line: str):
    """(name, value) of a scalar's line, (name, (keys, value)) of an
    array entry's; a statistic's value is the dict of its fields."""
    match = _GLOBAL.fullmatch(line)
    if not match:
        return line, line
    name, keys, raw, fields = match.groups()
    if fields is not None:
        value = {k: int(v) for k, v in _STAT_FIELD.findall(fields)}
    else:
        value = _scalar(raw)
    return (name, value) if keys is None else (name, (_keys(keys), value))


def _keys(text: str) -> str:
    return ",".join(quoted if number == "" else number
                    for quoted, number in _KEY.findall(text))


def _scalar(raw: str):
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return raw[1:-1]
    try:
        return int(raw)
    except ValueError:
        return raw


def _hist_label(label: str):
    """(name, KEYS or None) of a histogram's "name" or "name[keys]"."""
    match = _HIST_LABEL.fullmatch(label)
    if not match:
        return label, None
    name, keys = match.groups()
    return name, None if keys is None else _keys(keys)


def _hist(text: str) -> list:
    buckets = []
    for line in text.split("\n"):
        row = _HIST_ROW.fullmatch(line)
        if row and row.group(1) != "value":
            buckets.append({"value": _scalar(row.group(1)),
                            "count": int(row.group(2))})
    return buckets
