"""`stpc --approved NAME` refuses, before anything is loaded: a name that
is a path, options that would act as root for sudo's caller, and a module
or directory that someone other than root could change.  The module that
passes every check is run in the VM (robustness/approved-*)."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from stpc.loader import approved
from stpc.loader.kmod import LoaderError

STPC = str(Path(sys.executable).parent / "stpc")
ME = os.getuid()


def refusal(*argv) -> str:
    proc = subprocess.run([STPC, *argv], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
    return proc.stderr


@pytest.mark.parametrize("name", ["../evil", "/tmp/x", "x.ko", "", "a b",
                                  "a" * 56])
def test_a_name_that_is_not_a_module_name_is_refused(name):
    assert refusal("--approved", name) == (
        f"ERROR: --approved takes a module's name (letters, digits and "
        f"'_'), not {name!r}\n")


@pytest.mark.parametrize("argv, word", [
    (["-o", "/etc/passwd"], "-o"), (["-D", "MAXACTION=1"], "-D"),
    (["--cleanup"], "--cleanup"), (["-m", "other"], "-m"),
    (["evil.ko", "--run"], "evil.ko"), (["-e", "probe begin {}"], "-e"),
    (["--debuginfo-path", "/tmp"], "--debuginfo-path")])
def test_options_that_act_as_root_are_refused(argv, word):
    assert refusal("--approved", "x", *argv) == (
        f"ERROR: --approved runs an approved module as it is: '{word}' "
        f"cannot go with it\n")


def test_the_options_it_takes_pass_the_check(tmp_path):
    # -c, -x, -v, --format, --color: refused later, for the missing module
    err = refusal("--approved", "x", "-c", "true", "-x", "1", "-v",
                  "--format", "json", "--color", "never")
    assert err.startswith("ERROR: no approved modules: /lib/modules/")


@pytest.fixture
def approved_dir(tmp_path):
    directory = tmp_path / "approved"
    directory.mkdir(mode=0o755)
    module = directory / "mod.ko"
    module.write_bytes(b"not checked here")
    module.chmod(0o644)
    directory.chmod(0o755)
    return directory


@pytest.mark.parametrize("mode", [0o775, 0o757, 0o777])
def test_a_directory_others_can_write_is_refused(approved_dir, mode):
    approved_dir.chmod(mode)
    with pytest.raises(LoaderError, match=rf"^{approved_dir} could be "
                       rf"changed by someone other than root \(owner uid "
                       rf"{ME}, mode d[-rwx]+\): approved modules are not "
                       rf"read through it$"):
        approved.approved_module("mod", str(approved_dir), owner=ME)


def test_a_module_others_can_write_is_refused_after_its_directory(
        approved_dir, monkeypatch):
    (approved_dir / "mod.ko").chmod(0o664)
    # the directory passes; /tmp above it would not, so stop there
    monkeypatch.setattr(approved, "_check_ancestors",
                        lambda real, owner, shown: None)
    with pytest.raises(LoaderError, match=r"mod\.ko could be changed by "
                       r"someone other than root .*-rw-rw-r--"):
        approved.approved_module("mod", str(approved_dir), owner=ME)


def test_a_directory_of_another_owner_is_refused(approved_dir):
    with pytest.raises(LoaderError, match=rf"owner uid {ME},"):
        approved.approved_module("mod", str(approved_dir), owner=ME + 1)


def test_a_symlinked_module_is_not_followed(approved_dir, monkeypatch):
    (approved_dir / "link.ko").symlink_to(approved_dir / "mod.ko")
    monkeypatch.setattr(approved, "_check_ancestors",
                        lambda real, owner, shown: None)
    with pytest.raises(LoaderError, match=r"^link is not an approved "
                       r"module: .*link\.ko: Too many levels of symbolic "
                       r"links$"):
        approved.approved_module("link", str(approved_dir), owner=ME)


def test_the_checked_module_is_read(approved_dir, monkeypatch):
    monkeypatch.setattr(approved, "_check_ancestors",
                        lambda real, owner, shown: None)
    assert approved.approved_module("mod", str(approved_dir),
                                    owner=ME) == b"not checked here"


def test_every_directory_up_to_the_root_is_checked(tmp_path):
    # tmp_path lies under a temporary directory everyone may write
    (tmp_path / "a").mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    above = next(d for d in tmp_path.resolve().parents
                 if d.stat().st_uid != ME or d.stat().st_mode & 0o022)
    with pytest.raises(LoaderError, match=rf"^{above} could be changed"):
        approved.approved_module("mod", str(tmp_path / "a"), owner=ME)


@pytest.mark.skipif(os.geteuid() != 0, reason="sudo's caller matters to "
                    "root only")
def test_sudos_caller_is_who_the_command_runs_as(monkeypatch):
    nobody = pwd.getpwnam("nobody")
    monkeypatch.setenv("SUDO_UID", str(nobody.pw_uid))
    monkeypatch.setenv("SUDO_GID", str(nobody.pw_gid))
    invoker = approved.sudo_invoker()
    assert (invoker.uid, invoker.gid, invoker.name) == (
        nobody.pw_uid, nobody.pw_gid, "nobody")
    assert nobody.pw_gid in invoker.groups
    monkeypatch.setenv("SUDO_UID", "0")
    assert approved.sudo_invoker() is None
    monkeypatch.delenv("SUDO_UID")
    assert approved.sudo_invoker() is None
