"""Fetching Debian's kernel DWARF on request (``stpc --fetch-debuginfo``,
``make debuginfo``).

Debian ships vmlinux with DWARF in ``linux-image-KVER-dbg`` (a .deb of
~860 MB holding ~630 MB of vmlinux and every module's debug file).  We
download the .deb with ``apt-get download`` into a temporary directory,
extract only ``./usr/lib/debug/boot/vmlinux-KVER`` into
``$STPC_CACHE_DIR/debuginfo/KVER/`` and delete the .deb.  Nothing is
fetched implicitly: a normal compile only looks in the cache
(``find_vmlinux`` in compiler/probes.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, TextIO

from .build import cache_dir
from .errors import EnvironmentProblem


def debuginfo_dir(kernel_release: str) -> Path:
    return cache_dir() / "debuginfo" / kernel_release


def cached_vmlinux(kernel_release: str) -> Optional[Path]:
    """The vmlinux with DWARF fetched earlier for this kernel, if any."""
    path = debuginfo_dir(kernel_release) / f"vmlinux-{kernel_release}"
    return path if path.is_file() else None


def package_name(kernel_release: str) -> str:
    return f"linux-image-{kernel_release}-dbg"


def fetch_vmlinux(kernel_release: str,
                  log: Optional[TextIO] = sys.stderr) -> Path:
    """Downloads and extracts the kernel's vmlinux with DWARF, once;
    returns its path in the cache."""
    found = cached_vmlinux(kernel_release)
    if found is not None:
        return found
    for tool in ("apt-get", "dpkg-deb", "tar"):
        if shutil.which(tool) is None:
            raise EnvironmentProblem(
                f"fetching debuginfo needs {tool} (Debian's tools)")
    package = package_name(kernel_release)
    target = debuginfo_dir(kernel_release)
    target.mkdir(parents=True, exist_ok=True)
    if log is not None:
        print(f"stpc: fetching {package} (about 860 MB) and extracting "
              f"vmlinux into {target}", file=log, flush=True)
    member = f"./usr/lib/debug/boot/vmlinux-{kernel_release}"
    with tempfile.TemporaryDirectory(prefix="stpc-dbg-",
                                     dir=target) as work:
        try:
            _run(["apt-get", "download", package], cwd=work,
                 what=f"apt-get download {package}")
        except EnvironmentProblem:
            # a fresh machine may have no package lists yet
            _run(["apt-get", "update"], cwd=work, what="apt-get update")
            _run(["apt-get", "download", package], cwd=work,
                 what=f"apt-get download {package}")
        debs = sorted(Path(work).glob("*.deb"))
        if not debs:
            raise EnvironmentProblem(f"apt-get download {package} gave "
                                     "no .deb")
        extract = Path(work) / "x"
        extract.mkdir()
        dpkg = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])],
                                stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "-C", str(extract), member],
                             stdin=dpkg.stdout, stderr=subprocess.PIPE)
        dpkg.stdout.close()
        dpkg.wait()
        debs[0].unlink()
        if dpkg.returncode != 0 or tar.returncode != 0:
            raise EnvironmentProblem(
                f"cannot extract vmlinux from {package}: "
                f"{tar.stderr.decode(errors='replace').strip()}")
        final = target / f"vmlinux-{kernel_release}"
        os.replace(extract / member, final)
    return final


def _run(command, cwd: str, what: str) -> None:
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise EnvironmentProblem(f"{what} failed: "
                                 f"{message[-1] if message else 'no output'}",
                                 hint="is the package in apt's sources? "
                                      "(apt-get update)")


def main(argv=None) -> int:
    """``python -m stpc.compiler.debuginfo [KVER]`` (used by make)."""
    args = sys.argv[1:] if argv is None else argv
    release = args[0] if args else os.uname().release
    try:
        print(fetch_vmlinux(release))
    except EnvironmentProblem as exc:
        print(f"stpc: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
