"""The ``.stpc_info`` section: one JSON object, written by the compiler
in one canonical form and sealed with a sha256 of its contents, which the
loader checks before using anything in it (standard library only).

The checksum covers every key but itself and ``vermagic``: the compiler
does not know the kernel's VERMAGIC_STRING, which the C compiler
concatenates into the string, so the loader checks that one against
.modinfo's instead.  The checksum catches a damaged file, not a forged
one: module signatures, which the kernel checks, do that.
"""

from __future__ import annotations

import hashlib
import json
from typing import Dict, Optional

from . import VERSION, protocol
from .elf import Section
from .kmod import LoaderError

CHECKSUM = "metadata_sha256"
_UNCHECKED = (CHECKSUM, "vermagic")
#: keys .modinfo repeats (.stpc_info's, .modinfo's): a section moved in
#: from another module differs in one of them
_IN_MODINFO = (("module", "name"), ("stpc_version", "stpc_version"),
               ("source_hash", "stpc_source_hash"), ("vermagic", "vermagic"))


def canonical(info: dict) -> str:
    return json.dumps(info, sort_keys=True, separators=(", ", ": "),
                      ensure_ascii=True)


def checksum(info: dict) -> str:
    covered = {k: v for k, v in info.items() if k not in _UNCHECKED}
    return hashlib.sha256(canonical(covered).encode()).hexdigest()


def sealed(info: dict) -> str:
    """The section's text, as the compiler writes it."""
    return canonical(dict(info, **{CHECKSUM: checksum(info)}))


def verified(data: bytes, section: Optional[Section],
             modinfo: Dict[str, str], source: str) -> dict:
    """The metadata of a module whose ELF structure is whole, refused
    unless its form, its checksum and .modinfo all agree: each refusal
    says where in the file the section is, and what is wrong."""
    if section is None:
        raise LoaderError(f"{source} has no {protocol.INFO_SECTION} section:"
                          f" it was built by an older stpc or modified; "
                          f"rebuild it with this stpc ({VERSION})")
    where = (f"the {protocol.INFO_SECTION} section of {source} (file bytes "
             f"{section.offset}-{section.offset + section.size})")
    text = _json_text(data[section.offset:section.offset + section.size],
                      where)
    info = _parsed(text, where)
    if not isinstance(info.get(CHECKSUM), str):
        raise LoaderError(f"{source} has no checksum in its "
                          f"{protocol.INFO_SECTION} section (format "
                          f"{info.get('format')}): it was built by an older "
                          f"stpc or modified; rebuild it with this stpc "
                          f"({VERSION})")
    written = canonical(info).encode()
    if written != text:
        raise LoaderError(f"{where} is corrupt: from byte "
                          f"{_first_difference(written, text)} on, it is "
                          "not written as stpc writes it")
    if info[CHECKSUM] != checksum(info):
        raise LoaderError(f"{where} is corrupt: its contents do not match "
                          f"its {CHECKSUM}")
    if info.get("format") != protocol.INFO_FORMAT:
        raise LoaderError(f"{source} was built by another stpc (metadata "
                          f"format {info.get('format')}, this stpc reads "
                          f"format {protocol.INFO_FORMAT}): run it with that"
                          f" stpc or rebuild it with this one ({VERSION})")
    for key, modinfo_key in _IN_MODINFO:
        if info.get(key) != modinfo.get(modinfo_key):
            raise LoaderError(f"{where} does not belong to this module: its "
                              f"{key} is not the {modinfo_key} in .modinfo")
    return info


def _json_text(raw: bytes, where: str) -> bytes:
    """The section's text: a C string, one NUL at its end."""
    text, nul, rest = raw.partition(b"\0")
    if not nul or rest:
        at = f"byte {len(text)} is a NUL" if rest else "no NUL ends it"
        raise LoaderError(f"{where} is corrupt: {at}")
    return text


def _parsed(text: bytes, where: str) -> dict:
    try:
        info = json.loads(text.decode("ascii"))
    except UnicodeDecodeError as exc:
        raise LoaderError(f"{where} is corrupt: byte {exc.start} is not "
                          "ASCII") from None
    except json.JSONDecodeError as exc:
        what = exc.msg.lower().removesuffix(" at")
        raise LoaderError(f"{where} is corrupt: {what} at byte {exc.pos}") \
            from None
    except RecursionError:
        raise LoaderError(f"{where} is corrupt: its JSON nests too "
                          "deeply") from None
    if not isinstance(info, dict):
        raise LoaderError(f"{where} is corrupt: it is not a JSON object")
    return info


def _first_difference(a: bytes, b: bytes) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
                min(len(a), len(b)))
