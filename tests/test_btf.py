"""compiler/btf.py: BTF read into ctype objects.

Synthetic blobs come from a small writer below (built from the format in
the kernel's Documentation/bpf/btf.rst); the real kernel image on this
machine checks the extraction from a bzImage and known kernel layouts.
"""

from __future__ import annotations

import gzip
import lzma
import os
import random
import struct
from pathlib import Path

import pytest
import zstandard

from stpc.compiler import btf, ctype
from stpc.compiler.errors import EnvironmentProblem

import vm  # tests/ is on sys.path (conftest.py)
from conftest import _unavailable


# --------------------------------------------------------------------------
# A BTF writer: records, strings and a header.

class BtfWriter:
    """Builds a BTF blob type by type; ``base`` makes it split BTF."""

    def __init__(self, base: "BtfWriter" = None):
        self.next_id = base.next_id if base else 1
        self.string_base = base.string_base + len(base.strings) if base else 0
        self.strings = bytearray() if base else bytearray(b"\0")
        self.offsets = {}
        self.records = []
        self.endian = "<"

    def string(self, text: str) -> int:
        if not text:
            return 0
        if text not in self.offsets:
            self.offsets[text] = self.string_base + len(self.strings)
            self.strings += text.encode() + b"\0"
        return self.offsets[text]

    def add(self, kind, name="", vlen=0, size_or_type=0, trailer=(),
            kind_flag=False) -> int:
        """Append one record; ``trailer`` is a list of (format, values)."""
        info = kind << 24 | vlen | (1 << 31 if kind_flag else 0)
        self.records.append((self.string(name), info, size_or_type,
                             list(trailer)))
        self.next_id += 1
        return self.next_id - 1

    def int_(self, name, size, signed=False, char=False, bool_=False,
             bits=None, bit_offset=0):
        encoding = (1 if signed else 0) | (2 if char else 0) | \
            (4 if bool_ else 0)
        word = encoding << 24 | bit_offset << 16 | (bits or size * 8)
        return self.add(btf.INT, name, 0, size, [("I", (word,))])

    def struct_(self, name, size, members, kind_flag=False, union=False):
        """members: (name, type id, bit offset, bit size)."""
        items = [("III", (self.string(n), t,
                          (bs << 24 | off) if kind_flag else off))
                 for n, t, off, bs in members]
        return self.add(btf.UNION if union else btf.STRUCT, name,
                        len(members), size, items, kind_flag)

    def enum(self, name, size, values, signed=False, wide=False):
        if wide:
            items = [("III", (self.string(n), v & 0xFFFFFFFF,
                              (v >> 32) & 0xFFFFFFFF)) for n, v in values]
        else:
            items = [("Ii", (self.string(n), v)) for n, v in values]
        return self.add(btf.ENUM64 if wide else btf.ENUM, name, len(values),
                        size, items, signed)

    def array(self, element, count, index_type):
        return self.add(btf.ARRAY, "", 0, 0,
                        [("III", (element, index_type, count))])

    def proto(self, return_type, params, varargs=False):
        items = [("II", (self.string(n), t)) for n, t in params]
        if varargs:
            items.append(("II", (0, 0)))
        return self.add(btf.FUNC_PROTO, "", len(items), return_type, items)

    def build(self) -> bytes:
        e = self.endian
        types = b"".join(
            struct.pack(e + "III", name, info, size_or_type) +
            b"".join(struct.pack(e + fmt, *values) for fmt, values in trailer)
            for name, info, size_or_type, trailer in self.records)
        header = struct.pack(e + "HBBIIIII", btf.BTF_MAGIC, 1, 0, 24, 0,
                             len(types), len(types), len(self.strings))
        return header + types + bytes(self.strings)


def elf_with_section(name: str, payload: bytes) -> bytes:
    """A minimal ELF64 relocatable file holding one section."""
    names = b"\0.shstrtab\0" + name.encode() + b"\0"
    payload_at, names_at = 64, 64 + len(payload)
    headers_at = (names_at + len(names) + 7) & ~7
    elf_header = struct.pack(
        "<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, 1, 62, 1, 0,
        0, headers_at, 0, 64, 0, 0, 64, 3, 1)
    def section(name_at, kind, offset, size):
        return struct.pack("<IIQQQQIIQQ", name_at, kind, 0, 0, offset, size,
                           0, 0, 1, 0)
    body = elf_header + payload + names
    body += b"\0" * (headers_at - len(body))
    return body + section(0, 0, 0, 0) + section(1, 3, names_at, len(names)) \
        + section(11, 1, payload_at, len(payload))


def bzimage(payload: bytes) -> bytes:
    """Just enough of a bzImage: boot header pointing at a payload."""
    setup_sectors = 1
    image = bytearray((setup_sectors + 1) * 512)
    image[0x1F1] = setup_sectors
    image[0x202:0x206] = b"HdrS"
    struct.pack_into("<II", image, 0x248, 16, len(payload))
    return bytes(image) + b"\0" * 16 + payload + struct.pack("<I", 1234)


# --------------------------------------------------------------------------
# One blob with every kind.

@pytest.fixture(scope="module")
def sample():
    w = BtfWriter()
    ids = {}
    ids["int"] = w.int_("int", 4, signed=True)
    ids["char"] = w.int_("char", 1, signed=True, char=True)
    ids["uchar"] = w.int_("unsigned char", 1)
    ids["bool"] = w.int_("_Bool", 1, bool_=True)
    ids["ulong"] = w.int_("long unsigned int", 8)
    ids["uint"] = w.int_("unsigned int", 4)
    ids["double"] = w.add(btf.FLOAT, "double", 0, 8)
    ids["u3"] = w.int_("unsigned int", 4, bits=3)  # old-style bit field
    ids["const_char"] = w.add(btf.CONST, "", 0, ids["char"])
    ids["user_char"] = w.add(btf.TYPE_TAG, "user", 0, ids["const_char"])
    ids["string"] = w.add(btf.PTR, "", 0, ids["user_char"])
    ids["volatile_int"] = w.add(btf.VOLATILE, "", 0, ids["int"])
    ids["restrict_ptr"] = w.add(btf.RESTRICT, "", 0, ids["string"])
    ids["comm"] = w.array(ids["char"], 16, ids["int"])
    ids["flex"] = w.array(ids["uchar"], 0, ids["int"])
    ids["pid_t"] = w.add(btf.TYPEDEF, "pid_t", 0, ids["int"])
    # struct list_head { struct list_head *next, *prev; }: refers to itself
    list_head = w.next_id + 1   # after the pointer to it
    ids["list_ptr"] = w.add(btf.PTR, "", 0, list_head)
    ids["list_head"] = w.struct_("list_head", 16, [
        ("next", ids["list_ptr"], 0, 0), ("prev", ids["list_ptr"], 64, 0)])
    assert ids["list_head"] == list_head
    ids["color"] = w.enum("color", 4, [("RED", -1), ("GREEN", 7)],
                          signed=True)
    ids["mask"] = w.enum("mask", 4, [("ALL", -1)])
    ids["big"] = w.enum("big", 8, [("HUGE", 1 << 40), ("NEG", -2)],
                        signed=True, wide=True)
    ids["fwd_file"] = w.add(btf.FWD, "file")
    ids["fwd_union"] = w.add(btf.FWD, "u", kind_flag=True)
    ids["fwd_task"] = w.add(btf.FWD, "task")   # defined below
    ids["file_ptr"] = w.add(btf.PTR, "", 0, ids["fwd_file"])
    ids["cb_proto"] = w.proto(0, [("", ids["int"])])
    ids["cb"] = w.add(btf.PTR, "", 0, ids["cb_proto"])
    ids["anon_union"] = w.struct_("", 8, [
        ("x", ids["int"], 0, 0), ("y", ids["ulong"], 0, 0)], union=True)
    ids["task"] = w.struct_("task", 64, [
        ("pid", ids["pid_t"], 0, 0),
        ("a", ids["uint"], 32, 1), ("b", ids["uint"], 33, 3),
        ("c", ids["uint"], 36, 30),       # straddles: packed layout
        ("", ids["anon_union"], 128, 0),
        ("comm", ids["comm"], 192, 0),
        ("tasks", ids["list_head"], 320, 0),
        ("callback", ids["cb"], 448, 0),
        ("data", ids["flex"], 512, 0),
    ], kind_flag=True)
    ids["old_bits"] = w.struct_("old_bits", 8, [
        ("flag", ids["u3"], 37, 0), ("whole", ids["uint"], 0, 0)])
    ids["decl_tag"] = w.add(btf.DECL_TAG, "a tag", 0, ids["task"],
                            [("i", (-1,))])
    ids["open_proto"] = w.proto(ids["ulong"], [
        ("dfd", ids["int"]), ("filename", ids["string"]),
        ("file", ids["file_ptr"]), ("task", ids["fwd_task"])])
    ids["open"] = w.add(btf.FUNC, "do_open", 1, ids["open_proto"])
    ids["printk_proto"] = w.proto(0, [("fmt", ids["string"])], varargs=True)
    ids["printk"] = w.add(btf.FUNC, "printk", 1, ids["printk_proto"])
    ids["var"] = w.add(btf.VAR, "jiffies", 0, ids["ulong"], [("I", (1,))])
    w.add(btf.DATASEC, ".data", 1, 8, [("III", (ids["var"], 0, 8))])
    ids["after"] = w.int_("short int", 2, signed=True)   # still indexed
    return w, ids, btf.parse_btf(w.build())


def test_integers_floats_and_their_names(sample):
    _, ids, b = sample
    assert [b.ctype(ids[k]).display() for k in
            ("int", "char", "uchar", "bool", "ulong", "double")] == \
        ["int", "char", "unsigned char", "_Bool", "long unsigned int",
         "double"]
    char, ulong, double = (b.ctype(ids[k]) for k in ("char", "ulong",
                                                      "double"))
    assert char.signed and char.is_char and char.size == 1
    assert not ulong.signed and ulong.size == 8
    assert double.floating
    assert b.type_named("short int").size == 2
    assert isinstance(b.ctype(0), ctype.Void)


def test_pointers_qualifiers_and_type_tags(sample):
    _, ids, b = sample
    string = b.ctype(ids["string"])
    assert string.display() == "const char *"   # the "user" tag is dropped
    assert ctype.is_string_like(string)
    assert b.ctype(ids["volatile_int"]).display() == "volatile int"
    assert b.ctype(ids["restrict_ptr"]).qualifier == "restrict"
    assert b.ctype(ids["file_ptr"]).display() == "struct file *"
    assert b.ctype(ids["cb"]).display() == "void *"


def test_arrays_and_typedefs(sample):
    _, ids, b = sample
    comm = b.ctype(ids["comm"])
    assert comm.display() == "char[16]" and comm.size == 16
    assert b.ctype(ids["flex"]).count is None
    pid_t = b.type_named("pid_t")
    assert pid_t.display() == "pid_t" and ctype.strip(pid_t).name == "int"


def test_struct_layout_anonymous_members_and_self_reference(sample):
    _, ids, b = sample
    task = b.struct("task")
    assert task.size == 64 and not task.declaration
    assert task.member_names() == ["pid", "a", "b", "c", "x", "y", "comm",
                                   "tasks", "callback", "data"]
    assert task.member("x")[0] == 16 and task.member("y")[0] == 16
    assert task.member("comm")[0] == 24
    tasks = task.member("tasks")[1].type
    assert tasks is b.struct("list_head")
    assert tasks.members[0].type.target is tasks   # list_head refers to itself
    assert [(m.name, m.offset) for m in tasks.members] == \
        [("next", 0), ("prev", 8)]
    assert b.struct("", "union") is None


def test_bitfields_with_kind_flag(sample):
    _, _, b = sample
    task = b.struct("task")
    fields = {m.name: (m.offset, m.bit_size, m.bit_offset)
              for m in task.members}
    assert fields["a"] == (4, 1, 0)
    assert fields["b"] == (4, 3, 1)
    assert fields["c"] == (4, 30, 4)   # bits 36..65: no aligned unit holds it
    assert fields["pid"] == (0, 0, 0)


def test_bitfields_in_int_encoding(sample):
    _, _, b = sample
    old = b.struct("old_bits")
    flag, whole = old.members
    assert (flag.offset, flag.bit_size, flag.bit_offset) == (4, 3, 5)
    assert (whole.offset, whole.bit_size) == (0, 0)


def test_enums(sample):
    _, _, b = sample
    color, mask, big = (b.struct(n, "enum") for n in ("color", "mask", "big"))
    assert color.display() == "enum color" and color.signed
    assert color.enumerators == [("RED", -1), ("GREEN", 7)]
    assert mask.enumerators == [("ALL", 0xFFFFFFFF)] and not mask.signed
    assert big.size == 8 and big.enumerators == [("HUGE", 1 << 40),
                                                 ("NEG", -2)]


def test_forward_declarations(sample):
    _, ids, b = sample
    file = b.ctype(ids["fwd_file"])
    assert file.declaration and file.kind == "struct" and file.name == "file"
    assert b.ctype(ids["fwd_union"]).kind == "union"
    assert b.ctype(ids["fwd_task"]) is b.struct("task")   # defined here
    assert b.struct("file") is None   # only declared: no layout


def test_functions(sample):
    _, _, b = sample
    proto = b.function("do_open")
    assert proto.name == "do_open"
    assert [(p.name, p.type.display()) for p in proto.params] == [
        ("dfd", "int"), ("filename", "const char *"),
        ("file", "struct file *"), ("task", "struct task")]
    assert proto.return_type.display() == "long unsigned int"
    printk = b.function("printk")
    assert [p.name for p in printk.params] == ["fmt"]   # "..." dropped
    assert isinstance(printk.return_type, ctype.Void)
    assert b.function_names() == ["do_open", "printk"]
    assert b.function("jiffies") is None and b.function("nope") is None


def test_big_endian_blob():
    w = BtfWriter()
    w.endian = ">"
    int_id = w.int_("int", 4, signed=True)
    w.struct_("pair", 8, [("a", int_id, 0, 0), ("b", int_id, 32, 0)])
    pair = btf.parse_btf(w.build()).struct("pair")
    assert [(m.name, m.offset) for m in pair.members] == [("a", 0), ("b", 4)]


def test_split_btf_continues_the_base():
    base_writer = BtfWriter()
    int_id = base_writer.int_("int", 4, signed=True)
    base_writer.struct_("inode", 8, [("i_ino", int_id, 0, 0)])
    base_proto = base_writer.proto(int_id, [])
    base_writer.add(btf.FUNC, "vfs_read", 1, base_proto)
    base = btf.parse_btf(base_writer.build())

    w = BtfWriter(base_writer)
    fwd = w.add(btf.FWD, "inode")
    inode_ptr = w.add(btf.PTR, "", 0, fwd)
    w.struct_("ext4_inode_info", 16, [("vfs_inode", inode_ptr, 0, 0),
                                      ("i_flags", int_id, 64, 0)])
    proto = w.proto(int_id, [("inode", inode_ptr)])
    w.add(btf.FUNC, "ext4_sync", 1, proto)
    module = btf.parse_btf(w.build(), base)

    assert module.type_count == base.type_count + 5
    info = module.struct("ext4_inode_info")
    assert [m.name for m in info.members] == ["vfs_inode", "i_flags"]
    assert info.members[0].type.target is base.struct("inode")
    assert module.struct("inode") is base.struct("inode")
    sync = module.function("ext4_sync")
    assert [(p.name, p.type.display()) for p in sync.params] == \
        [("inode", "struct inode *")]
    assert sync.return_type is base.type_named("int")
    # A module's functions are its own: vmlinux's are not probed through it.
    assert module.function_names() == ["ext4_sync"]
    assert module.function("vfs_read") is None


def test_module_file_with_split_btf(tmp_path):
    base_writer = BtfWriter()
    int_id = base_writer.int_("int", 4, signed=True)
    base = btf.parse_btf(base_writer.build())
    w = BtfWriter(base_writer)
    w.add(btf.FUNC, "mod_init", 1, w.proto(int_id, []))
    path = tmp_path / "mod.ko.xz"
    path.write_bytes(lzma.compress(elf_with_section(".BTF", w.build())))
    module = btf.load_module_btf(str(path), base)
    assert module.function("mod_init").return_type is base.type_named("int")


@pytest.mark.parametrize("data, message", [
    (b"\x00" * 40, "not BTF data"),
    (b"\x9f\xeb\x01\x00" + b"\x00" * 10, "shorter than its header"),
    (struct.pack("<HBBIIIII", btf.BTF_MAGIC, 1, 0, 24, 0, 100, 100, 1),
     "past the end"),
    (struct.pack("<HBBIIIII", btf.BTF_MAGIC, 1, 0, 24, 0, 12, 12, 1) +
     struct.pack("<III", 0, 31 << 24, 0) + b"\0", "unknown BTF kind 31"),
    (struct.pack("<HBBIIIII", btf.BTF_MAGIC, 1, 0, 24, 0, 12, 12, 1) +
     struct.pack("<III", 0, btf.ENUM << 24 | 1, 4) + b"\0",
     "ends inside a record"),
    (struct.pack("<HBBIIIII", btf.BTF_MAGIC, 1, 0, 24, 0, 12, 12, 1) +
     struct.pack("<III", 99, btf.TYPEDEF << 24, 0) + b"\0",
     "string offset 99"),
])
def test_malformed_blobs_are_environment_problems(data, message):
    with pytest.raises(EnvironmentProblem, match=message):
        btf.parse_btf(data)


# --------------------------------------------------------------------------
# Finding BTF in files, and the cache.

@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "btf"


def small_blob() -> bytes:
    w = BtfWriter()
    int_id = w.int_("int", 4, signed=True)
    w.add(btf.FUNC, "f", 1, w.proto(int_id, [("x", int_id)]))
    return w.build()


@pytest.mark.parametrize("wrap", [
    lambda blob: blob,
    lambda blob: elf_with_section(".BTF", blob),
    lambda blob: bzimage(gzip.compress(elf_with_section(".BTF", blob))),
    lambda blob: bzimage(lzma.compress(elf_with_section(".BTF", blob),
                                       format=lzma.FORMAT_XZ)),
    lambda blob: bzimage(kernel_zstd(elf_with_section(".BTF", blob))),
], ids=["raw", "elf", "bzimage-gzip", "bzimage-xz", "bzimage-zstd"])
def test_load_from_a_file(tmp_path, cache, wrap):
    path = tmp_path / "image"
    path.write_bytes(wrap(small_blob()))
    for _ in range(2):   # the second load comes from the cache
        loaded = btf.load_kernel_btf("9.9.9", str(path))
        assert [p.name for p in loaded.function("f").params] == ["x"]
        assert loaded.source == str(path)
    assert any(cache.glob("*.idx"))


def test_changed_file_is_read_again(tmp_path, cache):
    path = tmp_path / "btf"
    path.write_bytes(small_blob())
    assert btf.load_kernel_btf("9.9.9", str(path)).function("f")
    w = BtfWriter()
    w.add(btf.FUNC, "g", 1, w.proto(0, []))
    path.write_bytes(w.build())
    os.utime(path, ns=(1, 1))
    assert btf.load_kernel_btf("9.9.9", str(path)).function_names() == ["g"]


def test_elf_without_btf(tmp_path, cache):
    path = tmp_path / "vmlinux"
    path.write_bytes(elf_with_section(".text", b"\x90" * 8))
    with pytest.raises(EnvironmentProblem, match="no .BTF section"):
        btf.load_kernel_btf("9.9.9", str(path))


def kernel_zstd(data: bytes) -> bytes:
    """Compressed as the kernel's build does it: a zstd frame without its
    content size, followed by the uncompressed size."""
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(data)
    return frame + struct.pack("<I", len(data))


def test_lz4_image_is_reported(tmp_path, cache):
    path = tmp_path / "vmlinuz"
    path.write_bytes(bzimage(b"\x02\x21\x4c\x18" + b"\0" * 32))
    with pytest.raises(EnvironmentProblem, match="compressed with lz4"):
        btf.load_kernel_btf("9.9.9", str(path))


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress,
                                      kernel_zstd],
                         ids=["gzip", "xz", "zstd"])
def test_corrupt_image_is_reported(tmp_path, cache, compress):
    path = tmp_path / "vmlinuz"
    incompressible = random.Random(0).randbytes(4096)
    path.write_bytes(bzimage(compress(incompressible)[:24] + b"\xff" * 64))
    with pytest.raises(EnvironmentProblem, match="cannot be decompressed"):
        btf.load_kernel_btf("9.9.9", str(path))


def test_missing_btf(tmp_path, cache):
    with pytest.raises(EnvironmentProblem, match="no BTF found for kernel "
                       "0.0.0-none: none of .*/boot/vmlinuz-0.0.0-none"):
        btf.load_kernel_btf("0.0.0-none")
    with pytest.raises(EnvironmentProblem, match="does not exist"):
        btf.load_kernel_btf("0.0.0-none", str(tmp_path / "absent"))


# --------------------------------------------------------------------------
# The Debian kernel image on this machine.

@pytest.fixture(scope="module", params=[vm.DEFAULT_SERIES,
                                        vm.SECOND_SERIES])
def kernel(request, tmp_path_factory):
    """Both test kernels: 6.1's image is xz-compressed, 6.12's zstd."""
    kver = vm.find_kernel_release(request.param)
    if not kver or not Path(f"/boot/vmlinuz-{kver}").exists():
        _unavailable(f"no /boot/vmlinuz-KVER of {request.param}: make setup "
                     "installs it")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STPC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        btf.load_kernel_btf(kver)   # cold: extracts and caches
        loaded = btf.load_kernel_btf(kver)  # warm: from the cache
    return loaded, None, kver


def test_kernel_function_parameters(kernel):
    loaded, warm, _ = kernel
    proto = loaded.function("do_sys_openat2")
    assert [(p.name, p.type.display()) for p in proto.params] == [
        ("dfd", "int"), ("filename", "const char *"),
        ("how", "struct open_how *")]
    assert proto.return_type.display() == "long int"
    assert "vfs_read" in loaded.function_names()


def test_kernel_structs(kernel):
    loaded, _, _ = kernel
    how = loaded.struct("open_how")
    assert [(m.name, m.offset, m.type.size) for m in how.members] == [
        ("flags", 0, 8), ("mode", 8, 8), ("resolve", 16, 8)]
    task = loaded.struct("task_struct")
    comm_offset, comm = task.member("comm")
    assert comm.type.display() == "char[16]" and comm_offset > 0
    pid_offset, pid = task.member("pid")
    assert pid.type.display() == "pid_t" and ctype.strip(pid.type).size == 4
    assert pid_offset < comm_offset < task.size


def test_kernel_module_split_btf(kernel):
    loaded, _, kver = kernel
    directory = Path(f"/lib/modules/{kver}/kernel/fs/ext4")
    ext4 = next(directory.glob("ext4.ko*"), None)   # 6.12's are .ko.xz
    if ext4 is None:
        pytest.skip(f"{directory}/ext4.ko is not installed")
    module = btf.load_module_btf(str(ext4), loaded)
    proto = module.function("ext4_file_open")
    assert [(p.name, p.type.display()) for p in proto.params] == [
        ("inode", "struct inode *"), ("filp", "struct file *")]
    vfs_inode = module.struct("ext4_inode_info").member("vfs_inode")[1]
    assert vfs_inode.type is loaded.struct("inode")
