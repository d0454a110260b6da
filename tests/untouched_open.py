"""Calls openat(-42, PATH) with PATH in a page this process has mapped but
never touched, so a probe at the syscall's entry finds no page there
(tests/vmcases.py, user_string_cases).  dfd -42 lets the probe pick out
this one call.

    untouched_open.py file   PATH lies in a fresh mapping of a file holding
                             "/etc/hostname": its page is in the page cache
    untouched_open.py anon   PATH lies in a fresh anonymous mapping: no
                             page anywhere yet (the kernel reads zeros)
    untouched_open.py none   PATH is the unmapped address 0x1000

Standard library only; runs in the test VM.
"""

import ctypes
import mmap
import os
import sys
import tempfile

MARK_DFD = -42
UNMAPPED = 0x1000

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.openat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]


def untouched_file_page() -> int:
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"/etc/hostname\0")
        f.flush()
        return _map(mmap.MAP_PRIVATE, f.fileno())


def untouched_anon_page() -> int:
    return _map(mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1)


def _map(flags: int, fd: int) -> int:
    # libc's mmap, not Python's: mmap.mmap would touch the pages
    addr = libc.mmap(None, mmap.PAGESIZE, mmap.PROT_READ, flags, fd, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap failed")
    return addr


def main() -> None:
    path = {"file": untouched_file_page, "anon": untouched_anon_page,
            "none": lambda: UNMAPPED}[sys.argv[1]]()
    fd = libc.openat(MARK_DFD, path, os.O_RDONLY)
    if fd >= 0:
        os.close(fd)


if __name__ == "__main__":
    main()
