"""``stpc --info NAME.ko``: what a module is and needs, and whether this
host can run it, read from its file (nothing is loaded; no root needed).
Text wrapped to 80 columns, or JSON with ``--format json``; standard
library only."""

from __future__ import annotations

import json
import textwrap
from typing import Iterator, List, Tuple

from .image import ModuleImage, info_of

WIDTH = 79                  # at most, so that no line fills an 80-column
_KEY_WIDTH = 15             # terminal; a sha256 fits beside the keys


def show(image: ModuleImage, as_json: bool) -> None:
    info = info_of(image)
    if as_json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return
    print("\n".join(render(_rows(info))))


def render(rows: List[Tuple[str, str]]) -> Iterator[str]:
    """``KEY  VALUE`` lines, each value wrapped at spaces (or, a word too
    long for the line, anywhere) and continued under itself (under the
    text of a ``- `` item)."""
    indent = " " * _KEY_WIDTH
    for key, value in rows:
        hanging = "  " if value.startswith("- ") else ""
        lines = textwrap.wrap(value, WIDTH - _KEY_WIDTH,
                              subsequent_indent=hanging,
                              break_on_hyphens=False) or [""]
        yield f"{key:<{_KEY_WIDTH}}{lines[0]}".rstrip()
        for line in lines[1:]:
            yield indent + line


_PLAIN = (("kernel_release", "built for"), ("vermagic", "vermagic"),
          ("source_hash", "source sha256"), ("nslots", "address slots"),
          ("metadata_sha256", "checksum"))


def _rows(info: dict) -> List[Tuple[str, str]]:
    """(key, text) pairs, a key left empty where a list continues."""
    rows = [("module", info["module"]),
            ("built by", f"stpc {info['stpc_version']}, metadata format "
                         f"{info['format']}")]
    rows += [(label, str(info[key])) for key, label in _PLAIN]
    rows += _fit(info["this_kernel"])
    size = info["signature_bytes"]
    rows.append(("signed", f"yes: a {size}-byte signature appended"
                 if size else "no"))
    rows += _listed("parameters", [f"{name}: {meaning}" for name, meaning
                                   in sorted(info["parameters"].items())])
    rows += _listed("targets", [_target(t) for t in info["targets"]])
    rows += _listed("programs", [f"{p['path']}: build-id {p['build_id']}"
                                 for p in info.get("programs", [])])
    probes = info["probes"]
    return rows + _listed(f"probes ({len(probes)})", probes)


def _fit(this_kernel: dict) -> List[Tuple[str, str]]:
    problems = this_kernel["problems"]
    verdict = "does not fit it:" if problems else "fits it"
    return _listed("this kernel", [f"{this_kernel['release']}: {verdict}"] +
                   [f"- {problem}" for problem in problems])


def _target(target: dict) -> str:
    optional = " (optional)" if target["optional"] else ""
    return (f"{target['name']}{optional}: build-id "
            f"{target['build_id'] or '-'}, slots from "
            f"{target['first_slot']}: {', '.join(target['slots'])}")


def _listed(key: str, items: List[str]) -> List[Tuple[str, str]]:
    """The key beside the first item only."""
    return [(key if i == 0 else "", item) for i, item in enumerate(items)]
