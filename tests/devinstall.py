#!/usr/bin/env python3
"""Makes the checkout's packages importable from the venv by links.

`pip install -e .` maps `stpc.compiler` to `compiler/` and so on with a
path finder that site.py imports at every interpreter start; the finder
imports pathlib, re, fnmatch and urllib.parse, which stpc's own fast
paths (`--version`, a cache hit, `stpc X.ko --run`) avoid.  In the test
VM, under TCG, that cost is paid by every stpc process of every case.
Links in site-packages (site-packages/stpc/compiler -> the checkout's
compiler/, ...) give the same mapping through Python's own path finder,
with nothing imported at start-up; new modules in the checkout are seen
at once, as with the editable install.

    python tests/devinstall.py      (run by `make setup` after pip)
"""

from __future__ import annotations

import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parent.parent


def package_dirs(repo: Path) -> Dict[str, Path]:
    """pyproject's package-dir mapping: package name -> its folder."""
    with open(repo / "pyproject.toml", "rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {name: repo / folder for name, folder in mapping.items()}


def link_packages(site: Path, repo: Path) -> None:
    """Replaces the editable finder in SITE with one link per package."""
    for finder in site.glob("__editable__*stpc*"):
        finder.unlink()
    for name, folder in package_dirs(repo).items():
        link = site.joinpath(*name.split("."))
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(folder, target_is_directory=True)


def main() -> int:
    link_packages(Path(sysconfig.get_paths()["purelib"]), REPO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
