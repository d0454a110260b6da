"""Kernel module plumbing with the standard library only: reading a
``.ko``'s ``.modinfo``, and the init_module/delete_module system calls."""

from __future__ import annotations

import errno
import os
from typing import Dict, List, Tuple

from . import elf

SYS_INIT_MODULE = 175       # x86-64
SYS_DELETE_MODULE = 176
O_NONBLOCK = 0o4000


class LoaderError(Exception):
    """A problem the user can act on; the message is one sentence."""


def elf_section(image: bytes, wanted: str) -> bytes:
    """The contents of section ``wanted`` of a module."""
    offset, size = elf_section_range(image, wanted)
    return image[offset:offset + size]


def elf_section_range(image: bytes, wanted: str) -> Tuple[int, int]:
    """(file offset, size) of section ``wanted``."""
    try:
        section = elf.sections(image).get(wanted)
    except elf.Malformed as exc:
        raise LoaderError(f"this module {exc}") from None
    if section is None:
        raise LoaderError(f"no {wanted} section")
    return section.offset, section.size


def modinfo(image: bytes) -> Dict[str, str]:
    """``.modinfo`` entries; the last of repeated keys wins."""
    return parse_modinfo(elf_section(image, ".modinfo"))


def parse_modinfo(section: bytes) -> Dict[str, str]:
    info: Dict[str, str] = {}
    for entry in section.split(b"\0"):
        key, sep, value = entry.decode("utf-8", "replace").partition("=")
        if sep:
            info[key] = value
    return info


def _libc():
    """ctypes and libc's ``syscall``: imported only to load or remove a
    module, not by --info, --version or a cache hit."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return ctypes, libc


def init_module(image: bytes, params: str) -> None:
    ctypes, libc = _libc()
    ret = libc.syscall(ctypes.c_long(SYS_INIT_MODULE),
                       ctypes.c_char_p(image), ctypes.c_ulong(len(image)),
                       ctypes.c_char_p(params.encode()))
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def delete_module(name: str) -> None:
    ctypes, libc = _libc()
    ret = libc.syscall(ctypes.c_long(SYS_DELETE_MODULE),
                       ctypes.c_char_p(name.encode()),
                       ctypes.c_uint(O_NONBLOCK))
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def loaded_modules() -> List[str]:
    try:
        with open("/proc/modules") as modules:
            return [line.split()[0] for line in modules if line.strip()]
    except OSError:
        return []


def explain_load_error(exc: OSError, name: str, info: Dict[str, str]) -> str:
    """One sentence saying why init_module failed and what to do."""
    if exc.errno == errno.EEXIST:
        return (f"a module named {name} is already loaded: remove it with "
                f"'stpc --cleanup' or rmmod, or give another name with -m")
    if exc.errno == errno.EPERM:
        return ("loading a module needs root (CAP_SYS_MODULE), and "
                "module loading must not be disabled")
    if exc.errno in (errno.ENOEXEC, errno.EINVAL):
        built_for = info.get("vermagic", "?").split()[0]
        running = os.uname().release
        if built_for != running:
            return (f"the kernel refused {name}: it was built for "
                    f"{built_for}, this kernel is {running}; rebuild with "
                    f"-r {running}")
        return (f"the kernel refused {name} ({exc.strerror}); "
                "see the kernel log (dmesg) for why")
    if exc.errno == errno.EKEYREJECTED:
        return (f"the kernel refused {name}: it requires signed modules "
                "and this one is not signed with a trusted key")
    return f"loading {name} failed: {exc.strerror}"
