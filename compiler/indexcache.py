"""Indexes of a debug file kept under its build-id:
``$STPC_CACHE_DIR/dwarf/BUILDID/NAME-vN.marshal``.

Whatever needs a pass over the whole of vmlinux (symbols, unit address
ranges, frame entries, where a struct is defined) is computed once per
kernel build and loaded from here afterwards.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from array import array
from pathlib import Path
from typing import Callable, Optional, TypeVar

from .build import cache_dir

# Bump when the layout of the index files changes.
INDEX_VERSION = 2

T = TypeVar("T")


def index_dir(build_id: str) -> Optional[Path]:
    if not build_id:
        return None
    return cache_dir() / "dwarf" / build_id


def cached(build_id: str, name: str, build: Callable[[], T],
           encode=lambda value: value, decode=lambda value: value) -> T:
    """``build()``, remembered in the cache under the file's build-id as
    ``encode(value)`` (marshal: plain tuples, strings, bytes and numbers
    load fastest); a broken or unwritable cache only costs the rebuild."""
    directory = index_dir(build_id)
    path = directory / f"{name}-v{INDEX_VERSION}.marshal" \
        if directory is not None else None
    if path is not None:
        try:
            with open(path, "rb") as stream:
                return decode(marshal.load(stream))
        except (OSError, EOFError, ValueError, TypeError):
            pass
    value = build()
    if path is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(temp, "wb") as stream:
                marshal.dump(encode(value), stream)
            os.replace(temp, path)
        except OSError:
            pass
    return value


def key(name: str) -> str:
    """A file-name-safe key for a name or glob."""
    if all(c.isalnum() or c in "_-." for c in name) and len(name) < 100:
        return name
    return hashlib.sha1(name.encode()).hexdigest()


def array_of(typecode: str, raw: bytes) -> array:
    result = array(typecode)
    result.frombytes(raw)
    return result
