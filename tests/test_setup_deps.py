"""`make setup` installs everything the harness runs.

A fresh Debian 12 machine has only Debian's base system; `make demo` and
`make test` must install the rest.  A program that happens to be installed
on the development machine (busybox was one) passes every other test and
fails only for users.  So this test collects what the Makefile, kbuild, the
VM harness (tests/vm.py) and virtme-ng execute, asks dpkg which package
owns each one, and checks that package is one the Makefile installs, a
hard dependency of one (apt installs them with --no-install-recommends:
Depends and Pre-Depends only), or part of the base system (Essential or
Priority required: what `debootstrap --variant=minbase` installs).
Programs from the venv must belong to a pip package the Makefile installs.

`make fresh-check` proves the same end to end, slowly; this is the fast
guard.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

import vm

REPO = Path(__file__).resolve().parent.parent

#: What the Makefile's own recipes run (`make` itself included).
MAKEFILE_PROGRAMS = ("make", "sh", "python3", "dpkg", "apt-get", "apt-cache",
                     "grep", "sed", "sort", "tail", "printf", "touch", "rm")

#: What kbuild runs to build an out-of-tree module against Debian's headers
#: (seen with `strace -f -e trace=execve` on `stpc -p4` builds for 6.1 and
#: 6.12), besides the compiler and binutils named in `_kbuild_programs`.
KBUILD_PROGRAMS = ("make", "sh", "as", "awk", "sed", "grep", "cat", "cmp",
                   "rm", "mkdir", "dirname", "head", "sort", "uniq", "uname",
                   "getconf")

#: What `make debuginfo` (stpc.compiler.debuginfo) and the tests run:
#: openssl makes signing keys (tests/test_sign.py, the signing VM cases),
#: readelf checks DWARF fixtures.
TEST_PROGRAMS = ("dpkg-deb", "tar", "openssl", "readelf")

#: kbuild's helpers in the build tree.
BUILD_TREE_PROGRAMS = ("scripts/basic/fixdep", "scripts/mod/modpost",
                       "tools/objtool/objtool")

#: What virtme-ng runs without a lookup of its own: `file -L` on busybox
#: (it must be statically linked) and `file` on the kernel image (its
#: version); `make fresh-check` found it missing.
VIRTME_TOOLS = ("file",)

#: Venv programs run by name: vng starts virtme-run through the shell, the
#: Makefile and tests/demo.py run stpc (on the host and in the guest).
VENV_PROGRAMS = ("virtme-run", "stpc")

#: Words that start a guest wrapper line without running a program.
SHELL_BUILTINS = {"echo", "exit", "export"}

USR_MERGED = ("/bin/", "/sbin/", "/lib/", "/lib64/")

#: Where a fresh Debian machine's packages put programs (not /usr/local):
#: programs are looked up here, not on this machine's PATH, so that a
#: locally installed tool cannot stand in for a missing package.
DEBIAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


# --------------------------------------------------------------------------
# What the harness runs
# --------------------------------------------------------------------------

def _virtme_programs() -> dict[str, str | None]:
    """The host programs virtme-ng would start, found its own way."""
    from virtme import mkinitramfs, util
    from virtme.qemu_helpers import Qemu
    try:
        qemu = Qemu(None, "x86_64").qemubin
    except ValueError:      # "cannot find qemu for x86_64"
        qemu = None
    return {
        "qemu": qemu,
        "busybox": mkinitramfs.find_busybox("/", True),
        "modprobe": util.find_binary(["modprobe"]),
        "depmod": util.find_binary(["depmod"]),
    }


def _guest_programs() -> set[str]:
    """The programs tests/vm.py's guest wrapper script runs."""
    words = set()
    for line in vm._guest_script(Path("/x")).splitlines():
        if line.startswith("#!"):
            continue
        first = shlex.split(line)[0]
        if "=" not in first and first not in SHELL_BUILTINS:
            words.add(first)
    return words


def _kbuild_programs(kver: str) -> dict[str, str | None]:
    """What kbuild runs for ``kver`` beyond KBUILD_PROGRAMS, found the way
    kbuild finds it (reading the build tree, never running make in it: that
    rewrites files of the installed headers)."""
    build = Path(f"/lib/modules/{kver}/build")
    config = (build / "include/config/auto.conf").read_text()
    # CONFIG_CC_VERSION_TEXT=gcc-12 (Debian ...): the compiler's name; its
    # prefix (x86_64-linux-gnu- on 6.12) prefixes the binutils too.
    compiler = re.search(r"^CONFIG_CC_VERSION_TEXT=\"?(\S+)", config,
                         re.M).group(1)
    prefix = compiler[:compiler.rindex("gcc")]
    tools = [compiler, *(prefix + tool for tool in ("ld", "nm", "objcopy"))]
    tree = list(BUILD_TREE_PROGRAMS)
    if (build / "vmlinux").exists():
        # with vmlinux in the build tree, kbuild adds BTF to modules
        tools.append("pahole")
        tree.append("tools/bpf/resolve_btfids/resolve_btfids")
    found = {f"{kver} {tool}": shutil.which(tool, path=DEBIAN_PATH)
             for tool in tools}
    found.update({f"{kver} {name}": str(build / name) if
                  os.access(build / name, os.X_OK) else None
                  for name in tree})
    return found


def _kernels() -> list[str]:
    return [k for k in (vm.find_kernel_release(),
                        vm.find_kernel_release(vm.SECOND_SERIES)) if k]


def harness_programs() -> dict[str, str | None]:
    """Every program the harness runs: name -> path (None: not found)."""
    wanted = {*MAKEFILE_PROGRAMS, *KBUILD_PROGRAMS, *TEST_PROGRAMS,
              *VIRTME_TOOLS, *_guest_programs()}
    found = {name: shutil.which(name, path=DEBIAN_PATH) for name in wanted}
    venv_bin = str(Path(sys.executable).parent)
    found.update({name: shutil.which(name, path=venv_bin)
                  for name in VENV_PROGRAMS})
    found["vng"] = vm._find_vng()
    found.update(_virtme_programs())
    for kver in _kernels():
        found.update(_kbuild_programs(kver))
    return found


def kernel_files() -> list[str]:
    """What vm.py boots and builds against, for each test kernel."""
    return [f for kver in _kernels()
            for f in (f"/boot/vmlinuz-{kver}", f"/lib/modules/{kver}/build")]


# --------------------------------------------------------------------------
# What the Makefile installs
# --------------------------------------------------------------------------

@lru_cache(maxsize=None)
def makefile_packages() -> dict[str, tuple[str, ...]]:
    """``{"apt": (...), "pip": (...)}`` as `make print-packages` lists them."""
    out = subprocess.run(["make", "-s", "--no-print-directory", "-C",
                          str(REPO), "print-packages"],
                         capture_output=True, text=True, check=True).stdout
    lists: dict[str, list[str]] = {"apt": [], "pip": []}
    for line in out.splitlines():
        kind, name = line.split()
        lists[kind].append(name)
    return {kind: tuple(names) for kind, names in lists.items()}


@lru_cache(maxsize=None)
def _dpkg_status() -> dict[str, dict[str, str]]:
    """Installed packages: name -> Essential, Priority, Provides, Depends."""
    fields = ("Package", "Essential", "Priority", "Provides", "Depends",
              "Pre-Depends", "db:Status-Status")
    fmt = "\\t".join(f"${{{f}}}" for f in fields) + "\\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True,
                         text=True, check=True).stdout
    status = {}
    for line in out.splitlines():
        row = dict(zip(fields, line.split("\t")))
        if row["db:Status-Status"] == "installed":
            status[row["Package"]] = row
    return status


def _names(field: str) -> list[list[str]]:
    """A Depends-style field as groups of alternative package names."""
    return [[re.split(r"[\s:(]", alt.strip(), maxsplit=1)[0]
             for alt in group.split("|")]
            for group in field.split(",") if group.strip()]


def _providers(status) -> dict[str, list[str]]:
    """Package or virtual package name -> installed packages giving it."""
    provides = {name: [name] for name in status}
    for name, row in status.items():
        for (virtual, *_) in _names(row["Provides"]):
            provides.setdefault(virtual, []).append(name)
    return provides


def installed_by_setup(apt_packages) -> set[str]:
    """The packages a fresh machine has after `make apt`: the base system,
    ``apt_packages`` and their hard dependencies.  Of alternatives
    ("a | b"), the first installed one counts."""
    status = _dpkg_status()
    providers = _providers(status)
    base = [name for name, row in status.items()
            if row["Essential"] == "yes" or row["Priority"] == "required"]
    closure: set[str] = set()
    todo = [*base, *apt_packages]
    while todo:
        for package in providers.get(todo.pop(), []):
            if package in closure:
                continue
            closure.add(package)
            row = status[package]
            for group in _names(row["Depends"]) + _names(row["Pre-Depends"]):
                chosen = next((alt for alt in group if alt in providers), None)
                if chosen:
                    todo.append(chosen)
    return closure


# --------------------------------------------------------------------------
# Who owns a file
# --------------------------------------------------------------------------

def _aliases(path: str) -> list[str]:
    """``path`` and its other name under /usr-merge (/bin/x = /usr/bin/x):
    dpkg knows each file under the name its package ships."""
    for prefix in USR_MERGED:
        if path.startswith(prefix):
            return [path, "/usr" + path]
        if path.startswith("/usr" + prefix):
            return [path, path[len("/usr"):]]
    return [path]


@lru_cache(maxsize=None)
def _dpkg_files() -> dict[str, set[str]]:
    """Every path dpkg installed -> the packages shipping it (dpkg's own
    file lists; one pass instead of a slow `dpkg -S` per path)."""
    owners: dict[str, set[str]] = {}
    for listing in Path("/var/lib/dpkg/info").glob("*.list"):
        package = listing.stem.split(":")[0]
        for line in listing.read_text(errors="replace").splitlines():
            owners.setdefault(line, set()).add(package)
    return owners


def dpkg_owners(path: str) -> set[str]:
    """The packages that ship ``path`` (empty if none does)."""
    files = _dpkg_files()
    return set().union(*(files.get(name, ()) for name in _aliases(path)))


def _chain(path: str) -> list[str]:
    """``path``, each symlink it leads through, and the final file (an
    alternatives link such as /usr/bin/awk belongs to no package; the
    program it ends at does)."""
    chain = [path]
    while os.path.islink(chain[-1]) and len(chain) < 40:
        target = os.readlink(chain[-1])
        chain.append(os.path.normpath(os.path.join(
            os.path.dirname(chain[-1]), target)))
    return chain + [os.path.realpath(path)]


@lru_cache(maxsize=None)
def _venv_programs() -> dict[str, str]:
    """Each program in the venv's bin directory -> its pip distribution."""
    venv_bin = Path(sys.executable).parent
    owners = {}
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            if file.parent.name == "bin":
                located = os.path.realpath(dist.locate_file(file))
                if Path(located).parent == venv_bin.resolve():
                    owners[located] = dist.metadata["Name"]
    return owners


def _venv_owner(path: str) -> str | None:
    """The pip distribution that installed ``path``."""
    return _venv_programs().get(os.path.realpath(path))


def unprovided(files: dict[str, str | None], apt_packages,
               pip_packages) -> list[str]:
    """Why each of ``files`` (label -> path) that `make setup` would not
    install is missing; empty when all are provided."""
    installed = installed_by_setup(apt_packages)
    wanted_pip = {_normal(p) for p in (*pip_packages, "stpc")}
    problems = []
    for label, path in files.items():
        if path is None:
            problems.append(f"{label}: not found on this machine")
        elif path.startswith(sys.prefix + os.sep):
            owner = _venv_owner(path)
            if owner is None or _normal(owner) not in wanted_pip:
                problems.append(f"{label} ({path}): from pip package "
                                f"{owner}, which the Makefile does not "
                                f"install")
        else:
            problems += _apt_problems(label, path, installed)
    return problems


def _apt_problems(label: str, path: str, installed: set[str]) -> list[str]:
    chain = _chain(path)
    owners = {link: dpkg_owners(link) for link in chain}
    if not owners[chain[-1]]:
        return [f"{label} ({chain[-1]}): no Debian package ships it"]
    return [f"{label} ({link}): from {'/'.join(pkgs)}, which neither the "
            f"Makefile's packages nor the base system pull in"
            for link, pkgs in owners.items()
            if pkgs and not installed.intersection(pkgs)]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

def everything() -> dict[str, str | None]:
    files = harness_programs()
    files.update({f: f if os.path.exists(f) else None
                  for f in kernel_files()})
    return files


def test_setup_installs_everything_the_harness_runs():
    packages = makefile_packages()
    problems = unprovided(everything(), packages["apt"], packages["pip"])
    assert not problems, ("make setup misses:\n  " + "\n  ".join(problems))


def test_harness_finds_test_kernels():
    # an empty kernel list would make the check above pass vacuously
    assert len(_kernels()) == 2, "both test kernels (6.1, 6.12) installed"


@pytest.mark.parametrize("package, program", [
    ("busybox-static", "busybox"), ("file", "file"),
    ("qemu-system-x86", "qemu"), ("make", "make")])
def test_dropping_a_package_is_caught(package, program):
    packages = makefile_packages()
    apt = [p for p in packages["apt"] if p != package]
    assert package in packages["apt"]
    files = {program: everything()[program]}
    assert unprovided(files, apt, packages["pip"])


def test_dropping_virtme_ng_is_caught():
    files = {"vng": vm._find_vng()}
    assert unprovided(files, makefile_packages()["apt"], ())


def test_vng_finds_virtme_run_without_the_venv_on_path(monkeypatch):
    # `.venv/bin/python tests/vm.py` with a plain PATH: vng starts
    # virtme-run by name
    monkeypatch.setenv("PATH", DEBIAN_PATH)
    vng = vm._find_vng()
    path = vm.vng_environment(vng)["PATH"]
    assert shutil.which("virtme-run", path=path) == \
        str(Path(vng).parent / "virtme-run")
