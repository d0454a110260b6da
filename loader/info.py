"""``stpc --info NAME.ko``: what a module is and needs, read from its
file (nothing is loaded; no root needed).  A table through rich when it
is importable, plain text otherwise; or JSON with ``--format json``."""

from __future__ import annotations

import json
import sys
from typing import List, Tuple

from .image import ModuleImage, info_of


def show(image: ModuleImage, as_json: bool) -> None:
    info = info_of(image)
    if as_json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return
    rows = _rows(info)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        _print_plain(rows)
        return
    table = Table(title=f"stpc module {info['module']}", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")   # hashes and build-ids whole
    for key, value in rows:
        table.add_row(key, value)
    Console(file=sys.stdout, soft_wrap=True).print(table)


def _rows(info: dict) -> List[Tuple[str, str]]:
    """(field, text) pairs, one per line of the table."""
    rows = [(key, str(info[key])) for key in
            ("module", "stpc_version", "format", "kernel_release",
             "vermagic", "source_hash", "nslots") if key in info]
    for name, meaning in sorted(info.get("parameters", {}).items()):
        rows.append((f"parameter {name}", meaning))
    for target in info.get("targets", []):
        optional = ", optional" if target["optional"] else ""
        rows.append((f"target {target['name']}",
                     f"build-id {target['build_id'] or '-'}; slots "
                     f"{target['first_slot']}..: "
                     f"{', '.join(target['slots'])}{optional}"))
    for probe in info.get("probes", []):
        rows.append(("probe", probe))
    return rows


def _print_plain(rows: List[Tuple[str, str]]) -> None:
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
