"""Calls openat(-42, PATH) with PATH in a page this process has mapped but
never touched, so a probe at the syscall's entry finds no page there
(tests/vmcases.py, user_string_cases).  dfd -42 lets the probe pick out
this one call.

    untouched_open.py file   PATH lies in a fresh mapping of a file holding
                             "/etc/hostname": its page is in the page cache
    untouched_open.py anon   PATH lies in a fresh anonymous mapping: no
                             page anywhere yet (the kernel reads zeros)
    untouched_open.py none   PATH is the unmapped address 0x1000
    untouched_open.py straddle-mapped
                             PATH "/etc/hostname" starts 5 bytes before a
                             page's end and goes on in the next page, both
                             touched: read whole across the boundary
    untouched_open.py straddle-unmapped
                             the same first 5 bytes, no NUL, and the next
                             page unmapped: the string runs into a hole

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
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.openat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]


def untouched_file_page() -> int:
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"/etc/hostname\0")
        f.flush()
        return _map(mmap.MAP_PRIVATE, f.fileno())


def untouched_anon_page() -> int:
    return _map(mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1)


def straddling_path(unmap_second: bool) -> int:
    pages = _map(mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, pages=2,
                 prot=mmap.PROT_READ | mmap.PROT_WRITE)
    path = b"/etc/hostname\0"
    start = pages + mmap.PAGESIZE - 5
    ctypes.memmove(start, path, len(path))
    if unmap_second and libc.munmap(ctypes.c_void_p(pages + mmap.PAGESIZE),
                                    mmap.PAGESIZE):
        raise OSError(ctypes.get_errno(), "munmap failed")
    return start


def _map(flags: int, fd: int, pages: int = 1,
         prot: int = mmap.PROT_READ) -> int:
    # libc's mmap, not Python's: mmap.mmap would touch the pages
    addr = libc.mmap(None, pages * mmap.PAGESIZE, prot, flags, fd, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap failed")
    return addr


def main() -> None:
    path = {"file": untouched_file_page, "anon": untouched_anon_page,
            "none": lambda: UNMAPPED,
            "straddle-mapped": lambda: straddling_path(False),
            "straddle-unmapped": lambda: straddling_path(True)}[sys.argv[1]]()
    fd = libc.openat(MARK_DFD, path, os.O_RDONLY)
    if fd >= 0:
        os.close(fd)


if __name__ == "__main__":
    main()
