"""``stpc --approved NAME``: modules an administrator has approved, which
the members of a group may run through sudo (SystemTap's ``stapusr``
group and its ``/lib/modules/RELEASE/systemtap`` directory).

Only a bare module name is taken, and only from a directory that root
alone can change, all the way up to ``/``; the module is read from the
file descriptor that was checked, so the bytes loaded are the bytes
approved.  Under sudo, ``-c CMD`` runs as the user who called sudo, not
as root.  docs/precompiled.md has the sudoers rule.  Standard library
only.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from dataclasses import dataclass
from typing import Optional, Tuple

from .kmod import LoaderError

APPROVED_DIR = "/lib/modules/{release}/stpc"
#: a module name (MODULE_NAME_LEN is 56 with its NUL): no path at all
_NAME = re.compile(r"[A-Za-z0-9_]{1,55}\Z")


@dataclass(frozen=True)
class Invoker:
    """The user on whose behalf root runs stpc, as sudo records them."""
    uid: int
    gid: int
    groups: Tuple[int, ...]
    name: str
    home: str


def approved_module(name: str, directory: str, owner: int = 0) -> bytes:
    """The bytes of DIRECTORY/NAME.ko, once the file and every directory
    above it are shown to be changeable by OWNER (root) alone."""
    if not _NAME.match(name):
        raise LoaderError(f"--approved takes a module's name (letters, "
                          f"digits and '_'), not {name!r}")
    real = os.path.realpath(directory)
    _check_ancestors(real, owner, shown=directory)
    path = os.path.join(real, name + ".ko")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise LoaderError(f"{name} is not an approved module: "
                          f"{os.path.join(directory, name + '.ko')}: "
                          f"{exc.strerror}") from None
    with os.fdopen(fd, "rb") as module:
        _check_owned(os.fstat(fd), path, owner, "a regular file",
                     stat.S_ISREG)
        return module.read()


def _check_ancestors(real: str, owner: int, shown: str) -> None:
    path = real
    while True:
        try:
            found = os.lstat(path)
        except OSError as exc:
            raise LoaderError(f"no approved modules: {shown}: "
                              f"{exc.strerror}") from None
        _check_owned(found, path, owner, "a directory", stat.S_ISDIR)
        if path == "/":
            return
        path = os.path.dirname(path)


def _check_owned(found: os.stat_result, path: str, owner: int, kind: str,
                 is_kind) -> None:
    if not is_kind(found.st_mode):
        raise LoaderError(f"{path} is not {kind}: approved modules are "
                          f"not read through it")
    if found.st_uid != owner or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise LoaderError(
            f"{path} could be changed by someone other than root (owner "
            f"uid {found.st_uid}, mode {stat.filemode(found.st_mode)}): "
            f"approved modules are not read through it")


def sudo_invoker() -> Optional[Invoker]:
    """Who called sudo, when root runs on their behalf; None otherwise."""
    uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
    if os.geteuid() != 0 or not uid or not gid or int(uid) == 0:
        return None
    try:
        entry = pwd.getpwuid(int(uid))
    except KeyError:
        raise LoaderError(f"SUDO_UID {uid} names no user") from None
    groups = os.getgrouplist(entry.pw_name, int(gid))
    return Invoker(int(uid), int(gid), tuple(groups), entry.pw_name,
                   entry.pw_dir)


def become(invoker: Invoker) -> None:
    """In the -c command's child, before exec: the invoker's ids and the
    environment variables that name them; groups first, uid last."""
    os.setgroups(list(invoker.groups))
    os.setresgid(invoker.gid, invoker.gid, invoker.gid)
    os.setresuid(invoker.uid, invoker.uid, invoker.uid)
    os.environ.update(HOME=invoker.home, USER=invoker.name,
                      LOGNAME=invoker.name)
