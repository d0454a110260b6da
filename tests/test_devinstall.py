"""The venv reaches the checkout's packages through links, not through the
editable install's path finder (tests/devinstall.py, run by `make setup`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import devinstall

REPO = Path(__file__).resolve().parent.parent

_IMPORT = ("import sys; sys.path.insert(0, sys.argv[1]); "
           "import stpc.compiler.cli, stpc.loader.run, stpc.runtime_c, "
           "stpc.tapset; print(stpc.compiler.__path__[0]); "
           "print('pathlib' in sys.modules)")


def test_links_replace_the_editable_finder(tmp_path):
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "__editable__.stpc-0.1.0.pth").write_text("import finder\n")
    (site / "__editable___stpc_0_1_0_finder.py").write_text("")
    (site / "other.pth").write_text("")
    devinstall.link_packages(site, REPO)
    devinstall.link_packages(site, REPO)        # again: links replaced
    assert sorted(p.name for p in site.iterdir()) == ["other.pth", "stpc"]
    for name, folder in devinstall.package_dirs(REPO).items():
        link = site.joinpath(*name.split("."))
        assert link.is_symlink() and link.resolve() == folder.resolve()
    out = subprocess.run([sys.executable, "-S", "-c", _IMPORT, str(site)],
                         capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == [str(site / "stpc" / "compiler"), "False"]


def test_the_venv_starts_without_the_editable_finder():
    # `make setup` ran devinstall.py: an interpreter of the venv imports
    # no path finder (and so no pathlib) before stpc's own code runs
    out = subprocess.run([sys.executable, "-c", "import sys; print("
                          "sorted(m for m in sys.modules if 'editable' in m"
                          " or m == 'pathlib'))"],
                         capture_output=True, text=True, check=True).stdout
    assert out == "[]\n", ("the venv still has the editable finder: run "
                           "`python tests/devinstall.py` (make setup does)")
