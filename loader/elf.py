"""A ``.ko`` file's ELF structure, checked whole before anything in it is
read (standard library only).

The checks are the kernel's (``elf_validity_check`` in
kernel/module/main.c, and ``mod_check_sig`` for the signature trailer),
so that a file the kernel would refuse with a bare "Exec format error"
is refused here with a sentence saying where it is broken, plus one of
the loader's own: the ELF data must end where the file (or its appended
signature) begins, so that a file cut short or grown at the end is
refused even where the kernel would not notice (a signed module missing
its last byte no longer has a signature trailer, only junk).

Each problem is a Malformed whose text completes the sentence "FILE ..."
(e.g. "is truncated: ...").
"""

from __future__ import annotations

import struct
from typing import Dict, NamedTuple, Optional

#: The trailer the kernel looks for at the end of a signed module,
SIGNATURE_MAGIC = b"~Module signature appended~\n"
#: preceded by struct module_signature: algo, hash, id_type, signer_len,
#: key_id_len, 3 bytes of padding, the signature's length (big-endian)
MODULE_SIGNATURE = struct.Struct(">BBBBB3xI")
_PKEY_ID_PKCS7 = 2

_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")
_ELFCLASS64, _ELFDATA2LSB, _ET_REL, _EM_X86_64 = 2, 1, 1, 62
_SHT_NULL, _SHT_SYMTAB, _SHT_NOBITS = 0, 2, 8
_COMPRESSED = ((b"\xfd7zXZ\0", "xz", "xz -d"), (b"\x1f\x8b", "gzip", "gunzip"),
               (b"\x28\xb5\x2f\xfd", "zstd", "zstd -d"))


class Malformed(Exception):
    """What is wrong, as the rest of a sentence whose subject is the
    file."""


class Section(NamedTuple):
    offset: int
    size: int


def signature_size(data: bytes) -> Optional[int]:
    """The appended signature's length in bytes; None: unsigned (no
    trailer).  A trailer the kernel would reject is Malformed."""
    if not data.endswith(SIGNATURE_MAGIC):
        return None
    end = len(data) - len(SIGNATURE_MAGIC) - MODULE_SIGNATURE.size
    if end < _HEADER.size:
        raise Malformed("is truncated: it is too short to hold the module "
                        "signature its last bytes announce")
    *fields, size = MODULE_SIGNATURE.unpack_from(data, end)
    if fields != [0, 0, _PKEY_ID_PKCS7, 0, 0] or size >= end:
        raise Malformed(f"has a corrupt module signature trailer (bytes "
                        f"{end}-{len(data)}): sign it again")
    return size


def sections(data: bytes) -> Dict[str, Section]:
    """Every section by name, once the file is checked whole: the
    kernel's checks, and the ELF data ending at the signature, or at the
    end of the file when it has none."""
    _check_not_compressed(data)
    length = len(data) - _trailer_size(data)
    if len(data) < _HEADER.size:
        raise Malformed("is not a kernel module: it is too short for an "
                        "ELF header")
    (ident, e_type, machine, _, _, _, shoff, _, _, _, _, shentsize, shnum,
     shstrndx) = _HEADER.unpack_from(data)
    _check_identity(ident, e_type, machine)
    if shentsize != _SECTION_HEADER.size:
        raise Malformed(f"is corrupt: its ELF header gives section headers "
                        f"of {shentsize} bytes, not {_SECTION_HEADER.size}")
    table_end = shoff + shnum * shentsize
    if shoff >= length or table_end > length:
        raise Malformed(f"is truncated or corrupt: its section header table"
                        f" (bytes {shoff}-{table_end}) ends past its ELF "
                        f"data (bytes 0-{length})")
    headers = [_SECTION_HEADER.unpack_from(data, shoff + i * shentsize)
               for i in range(shnum)]
    names = _section_names(data, headers, shstrndx, length)
    found, end = {}, max(table_end, _HEADER.size)
    for index, (name_at, kind, _, addr, offset, size, link, _, _, _) in \
            enumerate(headers):
        if index == 0:
            if (kind, size, addr) != (_SHT_NULL, 0, 0):
                raise Malformed("is corrupt: its section 0 is not empty")
            continue
        if kind == _SHT_SYMTAB and not 0 < link < shnum:
            raise Malformed(f"is corrupt: its symbol table (section "
                            f"{index}) links to section {link}")
        name = _name(names, name_at, index)
        if kind in (_SHT_NULL, _SHT_NOBITS):
            size = 0
        _check_within(name, offset, size, length)
        end = max(end, offset + size)
        found.setdefault(name, Section(offset, size))   # the kernel's too
    if end != length:
        raise Malformed(_trailing(len(data), length, end))
    return found


def _trailer_size(data: bytes) -> int:
    size = signature_size(data)
    if size is None:
        return 0
    return size + MODULE_SIGNATURE.size + len(SIGNATURE_MAGIC)


def _check_not_compressed(data: bytes) -> None:
    for magic, kind, command in _COMPRESSED:
        if data.startswith(magic):
            raise Malformed(f"is {kind}-compressed: decompress it first "
                            f"({command})")


def _check_identity(ident: bytes, e_type: int, machine: int) -> None:
    if ident[:4] != b"\x7fELF":
        raise Malformed("is not a kernel module: it is not an ELF file")
    if ident[4] != _ELFCLASS64 or ident[5] != _ELFDATA2LSB:
        raise Malformed("is not an x86-64 kernel module: it is not a "
                        "64-bit little-endian ELF file")
    if e_type != _ET_REL:
        raise Malformed(f"is not a kernel module: its ELF type is {e_type},"
                        f" not a relocatable object ({_ET_REL})")
    if machine != _EM_X86_64:
        raise Malformed(f"is not an x86-64 kernel module: it is built for "
                        f"ELF machine {machine}, not {_EM_X86_64}")


def _section_names(data: bytes, headers, shstrndx: int,
                   length: int) -> bytes:
    if not 0 < shstrndx < len(headers):
        raise Malformed(f"is corrupt: its ELF header names section "
                        f"{shstrndx} as the section names, of "
                        f"{len(headers)}")
    offset, size = headers[shstrndx][4:6]
    _check_within("section names", offset, size, length)
    names = data[offset:offset + size]
    if not names.endswith(b"\0"):
        raise Malformed(f"is corrupt: its section names (bytes {offset}-"
                        f"{offset + size}) do not end with a NUL")
    return names


def _name(names: bytes, at: int, index: int) -> str:
    if at >= len(names):
        raise Malformed(f"is corrupt: the name of its section {index} is "
                        f"past the end of the section names")
    return names[at:names.index(b"\0", at)].decode("latin-1")


def _check_within(name: str, offset: int, size: int, length: int) -> None:
    if offset + size > length:
        raise Malformed(f"is truncated or corrupt: its {name} (bytes "
                        f"{offset}-{offset + size}) ends past its ELF data "
                        f"(bytes 0-{length})")


def _trailing(file_size: int, length: int, end: int) -> str:
    if length < file_size:
        return (f"has {length - end} bytes between its ELF data (bytes "
                f"0-{end}) and its module signature: it was modified "
                "after it was built")
    return (f"has {file_size - end} bytes after its ELF data (bytes "
            f"0-{end}) that are not a module signature: it was truncated "
            "or modified after it was built")
