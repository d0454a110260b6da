"""Kernel BTF read into stpc's C type model (compiler/ctype.py).

Without DWARF, ``kernel.function("NAME")`` probes still get their
parameters and struct layouts: every kernel built with
CONFIG_DEBUG_INFO_BTF carries a compact type description in its ``.BTF``
section.  This module finds that blob for a kernel release, indexes it
once (names to type ids, type ids to record offsets) and builds ctype
objects only for the types a script actually reaches.

The format follows the kernel's Documentation/bpf/btf.rst: a header, a
type section of variable-length records (type id N is the N-th record,
id 0 is void) and a string section of NUL-terminated names.  Split BTF (a
module's ``.BTF``) continues the type ids and string offsets of vmlinux's.

Display: qualifiers print through ``ctype.Qualified`` as ``const char*``
(C's usual order), the same for BTF and DWARF; SystemTap's ``-L`` writes
``char const*``.  ``__user`` and other btf_type_tag annotations are dropped.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import lzma
import os
import pickle
import struct
import zlib
from array import array
from pathlib import Path
from typing import BinaryIO, Callable, Dict, List, Optional, Tuple

import zstandard
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from . import ctype
from .build import cache_dir
from .errors import EnvironmentProblem

BTF_MAGIC = 0xEB9F
INDEX_VERSION = 1

# Kinds, numbered as in include/uapi/linux/btf.h.
(INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST,
 RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG,
 ENUM64) = range(1, 20)

# Bytes that follow the 12-byte common record, per kind: a fixed part plus
# a per-item part times vlen.  Needed to step from one record to the next.
_FIXED_TRAILER = {INT: 4, ARRAY: 12, VAR: 4, DECL_TAG: 4}
_ITEM_SIZE = {STRUCT: 12, UNION: 12, ENUM: 8, FUNC_PROTO: 8, DATASEC: 12,
              ENUM64: 12}
_QUALIFIERS = {CONST: "const", VOLATILE: "volatile", RESTRICT: "restrict"}
_INT_SIGNED = 1

# Compressed payloads of a bzImage, by their leading bytes.
_PAYLOAD_MAGICS = [
    (b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"\x5d\x00\x00", "lzma"),
    (b"BZh", "bzip2"), (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x02\x21\x4c\x18", "lz4"), (b"\x89LZO", "lzo"),
]


class BtfFormatError(EnvironmentProblem):
    """The BTF (or the file holding it) is not what the format says."""


# --------------------------------------------------------------------------
# The index: what one pass over the type section learns, cached on disk.

class _Index:
    """Record offsets by type id, and type ids by name.

    ``types`` keys are ``struct X``, ``union X``, ``enum X`` and plain
    names for typedefs, integers and floats: how C spells them."""

    def __init__(self, offsets: array, functions: Dict[str, int],
                 types: Dict[str, int], blob_size: int):
        self.offsets = offsets
        self.functions = functions
        self.types = types
        self.blob_size = blob_size

    def dump(self) -> bytes:
        return pickle.dumps((INDEX_VERSION, self.blob_size,
                             self.offsets.tobytes(), self.functions,
                             self.types), protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(raw: bytes, blob_size: int) -> Optional["_Index"]:
        """The index, or None when ``raw`` is stale or unreadable."""
        try:
            version, size, offsets, functions, types = pickle.loads(raw)
        except Exception:   # a cache from another stpc or Python: rebuild
            return None
        if version != INDEX_VERSION or size != blob_size:
            return None
        return _Index(array("I", offsets), functions, types, size)


def _type_key(kind: int, name: str) -> Optional[str]:
    """How C names a type of this kind, for lookups; None: not looked up."""
    if not name:
        return None
    if kind == STRUCT:
        return f"struct {name}"
    if kind == UNION:
        return f"union {name}"
    if kind in (ENUM, ENUM64):
        return f"enum {name}"
    if kind in (TYPEDEF, INT, FLOAT):
        return name
    return None   # FWD: only a declaration; found through its definition


class _Layout:
    """Where the sections of one BTF blob are, and how to decode it."""

    def __init__(self, data: bytes):
        if len(data) < 24:
            raise BtfFormatError("BTF data is shorter than its header")
        magic = struct.unpack_from("<H", data)[0]
        if magic == BTF_MAGIC:
            self.endian = "<"
        elif magic == 0x9FEB:
            self.endian = ">"
        else:
            raise BtfFormatError(f"not BTF data (magic {magic:#06x})")
        (hdr_len, type_off, type_len, str_off,
         str_len) = struct.unpack_from(self.endian + "5I", data, 4)
        self.types_start = hdr_len + type_off
        self.types_end = self.types_start + type_len
        self.strings_start = hdr_len + str_off
        self.strings_len = str_len
        if max(self.types_end, self.strings_start + str_len) > len(data):
            raise BtfFormatError("BTF sections run past the end of the data")
        self.record = struct.Struct(self.endian + "III")
        self.u32 = struct.Struct(self.endian + "I")
        self.pair = struct.Struct(self.endian + "II")
        self.enum_item = struct.Struct(self.endian + "Ii")


def _trailer_size(kind: int, vlen: int) -> int:
    if kind < INT or kind > ENUM64:
        raise BtfFormatError(f"unknown BTF kind {kind}: a newer format "
                             "than this stpc reads")
    return _FIXED_TRAILER.get(kind, 0) + _ITEM_SIZE.get(kind, 0) * vlen


# --------------------------------------------------------------------------
# Structs whose members are read on first use.

class _LazyStruct(ctype.Struct):
    """A Struct that reads its members from BTF when first asked, so that
    building one type does not build every type reachable from it (and
    self-referential structs need no special care)."""

    def __init__(self, kind: str, name: str, size: int,
                 fill: Callable[[], List[ctype.Member]]):
        self._fill: Optional[Callable[[], List[ctype.Member]]] = fill
        super().__init__(kind, name, size)

    @property
    def members(self) -> List[ctype.Member]:
        if self._fill is not None:
            fill, self._fill = self._fill, None
            self._members = fill()
        return self._members

    @members.setter
    def members(self, value: List[ctype.Member]) -> None:
        self._members = value


def _place_bitfield(bit_position: int, bit_size: int,
                    unit: int) -> Tuple[int, int]:
    """(byte offset, bit offset) of a bit field, relative to the naturally
    aligned storage unit of its type when the field fits in one (how a
    translator reads it: one load of ``unit`` bytes, shift, mask)."""
    unit = max(unit, 1)
    start = bit_position // (unit * 8) * unit
    if bit_position + bit_size <= (start + unit) * 8:
        return start, bit_position - start * 8
    return bit_position // 8, bit_position % 8   # packed, straddles units


# --------------------------------------------------------------------------
# The public object.

class KernelBtf:
    """The types of one kernel (or module, for split BTF)."""

    def __init__(self, data: bytes, base: Optional["KernelBtf"] = None,
                 source: str = "<memory>", index: Optional[_Index] = None):
        self.source = source
        self._data = data
        self._base = base
        self._layout = _Layout(data)
        # Split BTF numbers its types and strings after the base's.
        self._first_id = base.type_count + 1 if base else 1
        self._string_base = base.string_size if base else 0
        self._index = index if index is not None else self._scan()
        self._built: Dict[int, ctype.CType] = {}
        self._building: set = set()

    # -- size of the id and string spaces, for split BTF on top of this --

    @property
    def type_count(self) -> int:
        """The highest type id described here or in the base."""
        return self._first_id - 1 + len(self._index.offsets)

    @property
    def string_size(self) -> int:
        return self._string_base + self._layout.strings_len

    # -- the interface --

    def function(self, name: str) -> Optional[ctype.Prototype]:
        """Parameters and return type of a function defined here (for
        split BTF: in the module, not in vmlinux)."""
        type_id = self._index.functions.get(name)
        if type_id is None:
            return None
        _, _, _, proto_id = self._record(type_id)
        return self._prototype(name, proto_id)

    def function_names(self) -> List[str]:
        return sorted(self._index.functions)

    def struct(self, name: str, kind: str = "struct") -> Optional[ctype.CType]:
        """``struct NAME``, ``union NAME`` or ``enum NAME`` (kind), with its
        layout; None when only declared or unknown."""
        return self.type_named(f"{kind} {name}")

    def type_named(self, cname: str) -> Optional[ctype.CType]:
        """A type as C spells it: ``struct task_struct``, ``pid_t``,
        ``unsigned int``.  Looks here first, then in the base."""
        type_id = self._index.types.get(" ".join(cname.split()))
        if type_id is not None:
            return self.ctype(type_id)
        return self._base.type_named(cname) if self._base else None

    def ctype(self, type_id: int) -> ctype.CType:
        """The ctype of a type id, built once."""
        if type_id < self._first_id:
            return self._base.ctype(type_id) if type_id else ctype.Void()
        built = self._built.get(type_id)
        if built is None:
            if type_id in self._building:
                raise BtfFormatError(f"BTF type {type_id} refers to itself "
                                     "other than through a struct")
            self._building.add(type_id)
            try:
                built = self._build(type_id)
            finally:
                self._building.discard(type_id)
            self._built[type_id] = built
        return built

    # -- reading records --

    def _record(self, type_id: int) -> Tuple[int, str, int, int]:
        """(kind, name, info, size_or_type) of a type id described here."""
        local = type_id - self._first_id
        if not 0 <= local < len(self._index.offsets):
            raise BtfFormatError(f"BTF type id {type_id} out of range")
        name_off, info, size_or_type = self._layout.record.unpack_from(
            self._data, self._index.offsets[local])
        return (info >> 24) & 0x1F, self._string(name_off), info, \
            size_or_type

    def _trailer(self, type_id: int) -> int:
        return self._index.offsets[type_id - self._first_id] + 12

    def _items(self, type_id: int, unpacker: struct.Struct,
               count: int) -> List[tuple]:
        start = self._trailer(type_id)
        return [unpacker.unpack_from(self._data, start + i * unpacker.size)
                for i in range(count)]

    def _string(self, offset: int) -> str:
        if offset < self._string_base:
            return self._base._string(offset)
        layout = self._layout
        start = layout.strings_start + offset - self._string_base
        end = self._data.find(b"\0", start,
                              layout.strings_start + layout.strings_len)
        if end < 0:
            raise BtfFormatError(f"BTF string offset {offset} out of range")
        return self._data[start:end].decode("utf-8", "replace")

    def _owner(self, type_id: int) -> "KernelBtf":
        """This BTF or the base that describes ``type_id`` (not void)."""
        btf = self
        while type_id < btf._first_id:
            btf = btf._base
        return btf

    # -- one pass over all records: the index --

    def _scan(self) -> _Index:
        layout, data = self._layout, self._data
        offsets = array("I")
        functions: Dict[str, int] = {}
        types: Dict[str, int] = {}
        position, type_id = layout.types_start, self._first_id
        while position < layout.types_end:
            offsets.append(position)
            name_off, info, _ = layout.record.unpack_from(data, position)
            kind = (info >> 24) & 0x1F
            if name_off:
                self._index_name(kind, name_off, type_id, functions, types)
            position += 12 + _trailer_size(kind, info & 0xFFFF)
            type_id += 1
        if position != layout.types_end:
            raise BtfFormatError("the BTF type section ends inside a record")
        return _Index(offsets, functions, types, len(data))

    def _index_name(self, kind: int, name_off: int, type_id: int,
                    functions: Dict[str, int], types: Dict[str, int]) -> None:
        name = self._string(name_off)
        if kind == FUNC:
            functions.setdefault(name, type_id)
            return
        key = _type_key(kind, name)
        if key is not None:
            types.setdefault(key, type_id)   # the first definition wins

    # -- building ctypes, one method per family of kinds --

    def _build(self, type_id: int) -> ctype.CType:
        kind, name, info, size_or_type = self._record(type_id)
        builder = self._BUILDERS.get(kind)
        if builder is None:   # VAR, DATASEC: never the type of anything
            return ctype.Void()
        return builder(self, type_id, name, info, size_or_type)

    def _build_int(self, type_id, name, info, size) -> ctype.CType:
        encoding = self._layout.u32.unpack_from(
            self._data, self._trailer(type_id))[0] >> 24
        return ctype.Base(name or f"int{size * 8}", size,
                          signed=bool(encoding & _INT_SIGNED))

    def _build_float(self, type_id, name, info, size) -> ctype.CType:
        return ctype.Base(name, size, signed=True, floating=True)

    def _build_pointer(self, type_id, name, info, target) -> ctype.CType:
        return ctype.Pointer(self.ctype(target))

    def _build_array(self, type_id, name, info, _) -> ctype.CType:
        element, _index_type, count = struct.unpack_from(
            self._layout.endian + "III", self._data, self._trailer(type_id))
        # BTF writes both `x[]` and `x[0]` as 0 elements.
        return ctype.Array(self.ctype(element), count or None)

    def _build_aggregate(self, type_id, name, info, size) -> ctype.CType:
        kind = "union" if (info >> 24) & 0x1F == UNION else "struct"
        return _LazyStruct(kind, name, size,
                           lambda: self._members(type_id, info))

    def _build_forward(self, type_id, name, info, _) -> ctype.CType:
        kind = "union" if info >> 31 else "struct"
        # Declared here, perhaps defined elsewhere (a module's split BTF
        # declares what vmlinux defines): prefer the definition.
        defined = self.type_named(f"{kind} {name}") if name else None
        if isinstance(defined, ctype.Struct):
            return defined
        return ctype.Struct(kind, name, 0, declaration=True)

    def _build_enum(self, type_id, name, info, size) -> ctype.CType:
        signed = bool(info >> 31)
        count = info & 0xFFFF
        if (info >> 24) & 0x1F == ENUM64:
            items = [(n, lo | hi << 32) for n, lo, hi in
                     self._items(type_id, self._layout.record, count)]
            if signed:
                items = [(n, v - (1 << 64) if v >> 63 else v)
                         for n, v in items]
        else:
            items = self._items(type_id, self._layout.enum_item, count)
            if not signed:
                items = [(n, v & 0xFFFFFFFF) for n, v in items]
        return ctype.Enum(name, size, signed,
                          [(self._string(n), v) for n, v in items])

    def _build_typedef(self, type_id, name, info, target) -> ctype.CType:
        return ctype.Typedef(name, self.ctype(target))

    def _build_qualified(self, type_id, name, info, target) -> ctype.CType:
        return ctype.Qualified(_QUALIFIERS[(info >> 24) & 0x1F],
                               self.ctype(target))

    def _build_transparent(self, type_id, name, info, target) -> ctype.CType:
        # TYPE_TAG (__user, __rcu...) and DECL_TAG annotate; they are no type.
        return self.ctype(target)

    def _build_function(self, type_id, name, info, _) -> ctype.CType:
        return ctype.Function()

    _BUILDERS = {
        INT: _build_int, FLOAT: _build_float, PTR: _build_pointer,
        ARRAY: _build_array, STRUCT: _build_aggregate,
        UNION: _build_aggregate, FWD: _build_forward, ENUM: _build_enum,
        ENUM64: _build_enum, TYPEDEF: _build_typedef,
        CONST: _build_qualified, VOLATILE: _build_qualified,
        RESTRICT: _build_qualified, TYPE_TAG: _build_transparent,
        DECL_TAG: _build_transparent, FUNC: _build_function,
        FUNC_PROTO: _build_function,
    }

    # -- members and parameters --

    def _members(self, type_id: int, info: int) -> List[ctype.Member]:
        kind_flag = bool(info >> 31)
        return [self._member(name_off, member_type, offset, kind_flag)
                for name_off, member_type, offset in
                self._items(type_id, self._layout.record, info & 0xFFFF)]

    def _member(self, name_off: int, member_type: int, offset: int,
                kind_flag: bool) -> ctype.Member:
        name, member_ctype = self._string(name_off), self.ctype(member_type)
        if kind_flag:   # offset packs bitfield_size << 24 | bit_offset
            bit_position, bit_size = offset & 0xFFFFFF, offset >> 24
        else:           # a bit field's size lives in its INT type instead
            bit_position, bit_size = self._int_bitfield(member_type, offset)
        if not bit_size:
            return ctype.Member(name, bit_position // 8, member_ctype)
        byte_offset, bit_offset = _place_bitfield(
            bit_position, bit_size, ctype.strip(member_ctype).size)
        return ctype.Member(name, byte_offset, member_ctype, bit_size,
                            bit_offset)

    def _int_bitfield(self, type_id: int, bit_position: int
                      ) -> Tuple[int, int]:
        """(bit position, bit size) for the old encoding, where an INT type
        of fewer bits than its size (or with a bit offset) marks a bit field;
        bit size 0 when the member is no bit field."""
        if type_id == 0:
            return bit_position, 0
        owner = self._owner(type_id)
        kind, _, _, size = owner._record(type_id)
        if kind != INT:
            return bit_position, 0
        encoding = owner._layout.u32.unpack_from(
            owner._data, owner._trailer(type_id))[0]
        bits, shift = encoding & 0xFF, (encoding >> 16) & 0xFF
        if bits == size * 8 and shift == 0:
            return bit_position, 0
        return bit_position + shift, bits

    def _prototype(self, name: str, proto_id: int) -> ctype.Prototype:
        owner = self._owner(proto_id)
        _, _, info, return_type = owner._record(proto_id)
        params = [ctype.Param(owner._string(n), owner.ctype(t))
                  for n, t in owner._items(proto_id, owner._layout.pair,
                                           info & 0xFFFF)
                  if t or n]   # a last (0, 0) parameter means "..."
        return ctype.Prototype(name, params, owner.ctype(return_type))


def parse_btf(data: bytes, base: Optional[KernelBtf] = None,
              source: str = "<memory>") -> KernelBtf:
    """Types from raw BTF bytes; ``base`` for a module's split BTF."""
    return KernelBtf(bytes(data), base, source)


# --------------------------------------------------------------------------
# Finding a kernel's BTF.

def _cache_dir() -> Path:
    return cache_dir() / "btf"


def _candidates(kver: str) -> List[Path]:
    """Where a kernel release's BTF may be, best first.  The running
    kernel's sysfs file counts only when it is that release."""
    paths = []
    if os.uname().release == kver:
        paths.append(Path("/sys/kernel/btf/vmlinux"))
    paths += [Path(f"/usr/lib/debug/boot/vmlinux-{kver}"),
              Path(f"/usr/lib/debug/lib/modules/{kver}/vmlinux"),
              Path(f"/boot/vmlinuz-{kver}")]
    return paths


def load_kernel_btf(kver: str, path: Optional[str] = None) -> KernelBtf:
    """The BTF of kernel release ``kver``, or of the file ``path`` (raw
    BTF, an ELF with a ``.BTF`` section, or a bzImage)."""
    if path is not None:
        source = Path(path)
        if not source.exists():
            raise EnvironmentProblem(f"BTF file {path} does not exist")
    else:
        source = next((p for p in _candidates(kver) if p.exists()), None)
        if source is None:
            raise EnvironmentProblem(
                f"no BTF found for kernel {kver}: none of "
                f"{', '.join(map(str, _candidates(kver)))} exists",
                hint=f"install linux-image-{kver}, or its -dbg package")
    return _load_cached(source)


def load_module_btf(path: str, base: KernelBtf) -> KernelBtf:
    """A module's split BTF, from its ``.ko`` (or ``.ko.xz``/``.ko.gz``),
    on top of the vmlinux BTF ``base``."""
    data = Path(path).read_bytes()
    if path.endswith(".xz"):
        data = lzma.decompress(data)
    elif path.endswith(".gz"):
        data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
    return KernelBtf(extract_btf(data, path), base, source=path)


def _source_key(source: Path) -> str:
    stat = source.stat()
    identity = f"{source.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def _load_cached(source: Path) -> KernelBtf:
    """Raw BTF and its index from the cache, else extracted and cached."""
    cache, key = _cache_dir(), _source_key(source)
    blob_file, index_file = cache / f"{key}.btf", cache / f"{key}.idx"
    blob = _read_or_none(blob_file)
    if blob is None:
        blob, extracted = _read_btf_file(source)
        if extracted:   # from an ELF or bzImage: worth keeping
            write_quietly(blob_file, blob)
    index_raw = _read_or_none(index_file)
    index = _Index.load(index_raw, len(blob)) if index_raw else None
    btf = KernelBtf(blob, source=str(source), index=index)
    if index is None:
        write_quietly(index_file, btf._index.dump())
    return btf


def _read_or_none(path: Path) -> Optional[bytes]:
    try:
        return path.read_bytes()
    except OSError:
        return None


def write_quietly(path: Path, data: bytes) -> None:
    """Cache a file atomically; a cache that cannot be written only costs
    time on the next run, so it is no error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        pass


# --------------------------------------------------------------------------
# Raw BTF out of the files that carry it.

def _is_raw_btf(data: bytes) -> bool:
    return data[:2] in (b"\x9f\xeb", b"\xeb\x9f")


def _read_btf_file(path: Path) -> Tuple[bytes, bool]:
    """(raw BTF, whether it was extracted) from a file.  An ELF file is
    read as a stream: a vmlinux with DWARF is over 600 MB."""
    with path.open("rb") as stream:
        if stream.read(4) == b"\x7fELF":
            stream.seek(0)
            return _elf_btf(stream, str(path)), True
        stream.seek(0)
        data = stream.read()
    blob = extract_btf(data, str(path))
    return blob, blob is not data


def extract_btf(data: bytes, source: str) -> bytes:
    """Raw BTF from raw BTF, an ELF file or a bzImage, told by magic."""
    if _is_raw_btf(data):
        return data
    if data[:4] == b"\x7fELF":
        return _elf_btf(io.BytesIO(data), source)
    if data[0x202:0x206] == b"HdrS":
        return _elf_btf(io.BytesIO(_bzimage_payload(data, source)), source)
    raise BtfFormatError(f"{source} is neither BTF, an ELF file nor a "
                         "bzImage kernel")


def _elf_btf(stream: BinaryIO, source: str) -> bytes:
    try:
        section = ELFFile(stream).get_section_by_name(".BTF")
    except ELFError as exc:
        raise BtfFormatError(f"{source}: unreadable ELF ({exc})") from None
    if section is None:
        raise EnvironmentProblem(f"{source} has no .BTF section: the kernel "
                                 "was built without CONFIG_DEBUG_INFO_BTF")
    return section.data()


def _bzimage_payload(image: bytes, source: str) -> bytes:
    """The decompressed vmlinux ELF inside a bzImage.  The boot header
    (boot protocol 2.08+) says where the compressed payload is."""
    setup_sectors = image[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sectors + 1) * 512 + payload_offset
    payload = image[start:start + payload_length]
    compression = next((name for magic, name in _PAYLOAD_MAGICS
                        if payload.startswith(magic)), None)
    if compression is None:
        raise BtfFormatError(f"{source}: no known compressed payload where "
                             "the boot header points")
    try:
        return _decompress(payload, compression, source)
    except (lzma.LZMAError, zlib.error, OSError, EOFError,
            zstandard.ZstdError) as exc:
        raise BtfFormatError(f"{source}: its {compression} payload cannot be "
                             f"decompressed ({exc})") from None


def _decompress(payload: bytes, compression: str, source: str) -> bytes:
    # The kernel appends the uncompressed size after the stream: a
    # decompressor object stops at the stream's end and ignores it.  Its
    # ``eof`` tells a whole stream from a truncated one.
    stream = _decompressor(compression, source)
    data = stream.decompress(payload)
    if not stream.eof:
        raise EOFError("the stream is truncated")
    return data


def _decompressor(compression: str, source: str):
    if compression in ("xz", "lzma"):
        fmt = lzma.FORMAT_XZ if compression == "xz" else lzma.FORMAT_ALONE
        return lzma.LZMADecompressor(format=fmt)
    if compression == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if compression == "bzip2":
        return bz2.BZ2Decompressor()
    if compression == "zstd":
        # Debian's 6.12 images: the frame header carries no content size,
        # so only a streaming decompressor accepts it.
        return zstandard.ZstdDecompressor().decompressobj()
    raise EnvironmentProblem(
        f"{source} is compressed with {compression}, which stpc cannot "
        "decompress; install the kernel's -dbg package or pass a vmlinux "
        "or raw BTF file")
