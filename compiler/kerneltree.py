"""The kernel ``-r`` names: its release and build tree, and the identity
of that tree.  Apart from build.py (pass 4, which re-exports these), so
that a raw-input cache hit finds its key without importing the build's
modules (subprocess, tempfile, kbuild replay, features)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

_UTS_RELEASE = re.compile(r'^#define UTS_RELEASE "([^"]+)"', re.M)


def default_build_tree(kernel_release: str) -> Path:
    return Path("/lib/modules") / kernel_release / "build"


@dataclass(frozen=True)
class KernelTree:
    """The kernel ``-r`` names: the release that DWARF and BTF are looked
    up by, and the build tree kbuild runs in."""
    release: str
    build_tree: Path
    named: bool = False     # -r DIR: the tree may hold DWARF too

    @classmethod
    def from_option(cls, option: Optional[str]) -> "KernelTree":
        """``-r KVER`` or, as with stap, ``-r DIR``: a release never has a
        ``/``.  No ``-r``: the running kernel."""
        if option is None:
            option = os.uname().release
        if "/" not in option:
            return cls(option, default_build_tree(option))
        tree = Path(option).absolute()
        return cls(release_of_tree(tree), tree, named=True)

    def debuginfo_path(self, given: Tuple[str, ...]) -> Tuple[str, ...]:
        """Where DWARF is searched: a tree given with ``-r DIR`` after the
        ``--debuginfo-path`` directories (its vmlinux, its modules)."""
        return given + ((str(self.build_tree),) if self.named else ())


def release_of_tree(tree: Path) -> str:
    """The release of the modules a build tree builds: UTS_RELEASE, which
    their vermagic carries.  stap reads include/config/kernel.release,
    which Debian's header packages set to the upstream version (6.1.192
    for 6.1.0-57-amd64), so that file comes second."""
    from .errors import EnvironmentProblem
    if not tree.is_dir():
        raise EnvironmentProblem(f"-r {tree}: no such directory")
    try:
        found = _UTS_RELEASE.search(
            (tree / "include/generated/utsrelease.h").read_text())
        if found:
            return found.group(1)
    except OSError:
        pass
    try:
        return (tree / "include/config/kernel.release").read_text().strip()
    except OSError:
        raise EnvironmentProblem(
            f"-r {tree}: not a kernel build tree, it has neither "
            "include/generated/utsrelease.h nor include/config/"
            "kernel.release", hint="give a kernel release, or a tree "
            "prepared for building modules (make modules_prepare)") \
            from None


def tree_identity(build_tree: Path) -> str:
    """What makes two build trees produce different modules."""
    digest = hashlib.sha256(str(build_tree.resolve()).encode())
    for name in ("include/generated/utsrelease.h", ".config",
                 "Module.symvers", "include/generated/autoconf.h"):
        path = build_tree / name
        if path.exists():
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()
