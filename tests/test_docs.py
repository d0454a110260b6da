"""docs/architecture.md names every module of the compiler, the loader
and the runtime, each with what it owns."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PATTERNS = ("compiler/*.py", "compiler/*.lark", "compiler/templates/*",
            "loader/*.py", "runtime_c/*.c", "runtime_c/*.h",
            "runtime_c/*.py")


def _entries() -> set:
    """The modules an entry of the module list is about: the paths named
    at the head of each item, before the colon that starts what it owns."""
    listing = ARCHITECTURE.read_text().split("## Modules", 1)[1]
    items = re.split(r"^\s*- ", listing, flags=re.M)[1:]
    return {path for item in items
            for path in re.findall(r"`([^`]+)`", item.split("`:", 1)[0] + "`")}


def _mentions() -> set:
    return set(re.findall(r"`((?:compiler|loader|runtime_c)/[^`]+)`",
                          ARCHITECTURE.read_text()))


def test_every_module_has_an_entry():
    modules = {str(path.relative_to(ROOT)) for pattern in PATTERNS
               for path in ROOT.glob(pattern)}
    missing = sorted(m for m in modules if m not in _entries()
                     and not m.endswith("compiler/__init__.py"))
    assert not missing, f"not in docs/architecture.md: {missing}"


def test_no_entry_for_a_module_that_is_gone():
    gone = sorted(e for e in _mentions() if not (ROOT / e).exists())
    assert not gone, f"docs/architecture.md names missing files: {gone}"
