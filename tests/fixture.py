"""Builds the stpc_fixture test module for a kernel release, out of the
source tree, into .cache/fixture/KVER[-VARIANT]/.

The variant "other" is the same source with one extra object, so it has
a different GNU build-id: the module a build-id check must refuse.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "fixture_module"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "fixture"
FILES = ("stpc_fixture.c", "stpc_fixture_trace.h", "Kbuild", "Makefile")
_OTHER_BUILD = '\nstatic const char stpc_fixture_variant[] __used = "other";\n'


def fixture_dir(kver: str, variant: str = "") -> Path:
    return CACHE / (f"{kver}-{variant}" if variant else kver)


def fixture_ko(kver: str, variant: str = "") -> Path:
    return fixture_dir(kver, variant) / "stpc_fixture.ko"


def build_fixture(kver: str, variant: str = "") -> Path:
    """The fixture's .ko for ``kver``, built once per source change (by
    one thread of one process at a time: `make test` runs the host and
    the VM tests side by side, and each open of the lock file is locked
    apart from the others, in one process as in two)."""
    out = fixture_dir(kver, variant)
    out.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        changed = False
        for name in FILES:
            text = (SOURCE / name).read_text()
            if name == "stpc_fixture.c" and variant:
                text += _OTHER_BUILD
            target = out / name
            if not target.exists() or target.read_text() != text:
                target.write_text(text)
                changed = True
        ko = out / "stpc_fixture.ko"
        if changed or not ko.exists():
            proc = subprocess.run(["make", "-C", str(out), f"KVER={kver}"],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"fixture build failed:\n{proc.stdout}"
                                   f"{proc.stderr}")
        return ko


def clean() -> None:
    shutil.rmtree(CACHE, ignore_errors=True)
