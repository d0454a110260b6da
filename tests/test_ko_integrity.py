"""A corrupted, truncated, tampered or foreign ``.ko`` is refused with one
sentence saying where it is broken, by ``--info`` and by the checks a run
makes before ``init_module``, and nothing is loaded (docs/precompiled.md,
"Checks before loading").  ``init_module`` is replaced by a stub that
fails the test: nothing here can load a module into this host's kernel."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from stpc.compiler import cli
from stpc.loader import elf, kmod, metadata, protocol, run
from stpc.loader.image import MODULE_SIGNATURE, SIGNATURE_MAGIC, ModuleImage
from stpc.loader.kmod import LoaderError
from test_loader_standalone import COMPILER_ONLY, run_python
from test_precompiled import SCRIPT, ko  # noqa: F401 - the fixture

KERNEL_MODULE = Path("/lib/modules/6.1.0-57-amd64/kernel/fs/9p/9p.ko")
COMPRESSED_MODULE = Path("/lib/modules/6.12.95+deb12-amd64/kernel/fs/9p/"
                         "9p.ko.xz")


class InitModuleCalled(Exception):
    """init_module was reached: the stub raises this instead of loading."""


@pytest.fixture(autouse=True)
def no_loading(monkeypatch):
    """init_module never runs; a run gets as far as it would as root on
    the kernel the module was built for, with nothing loaded."""
    calls = []

    def stub(image, params):
        calls.append(params)
        raise InitModuleCalled()
    monkeypatch.setattr(kmod, "init_module", stub)
    monkeypatch.setattr(run, "_may_load_modules", lambda: True)
    monkeypatch.setattr(kmod, "loaded_modules", lambda: [])
    return calls


@pytest.fixture
def built_for(monkeypatch, ko):  # noqa: F811 - the fixture
    release = ModuleImage.read(str(ko)).vermagic.split()[0]
    monkeypatch.setattr(run, "running_release", lambda: release)
    return release


@pytest.fixture(scope="module")
def data(ko):  # noqa: F811 - the fixture
    return ko.read_bytes()


@pytest.fixture(scope="module")
def info_range(data):
    return kmod.elf_section_range(data, protocol.INFO_SECTION)


@pytest.fixture
def refuse(tmp_path, capsys, no_loading):
    """refuse(DATA, OPTION) is the sentence ``stpc x.ko OPTION`` (--info or
    --run) prints, exit status 1, for a file holding DATA, which names the
    file (its directory left out here); the run path refuses DATA too,
    init_module not reached."""
    path = tmp_path / "x.ko"

    def refused(data: bytes, option: str = "--info") -> str:
        path.write_bytes(data)
        status = cli.main([str(path), option])
        out, err = capsys.readouterr()
        assert (status, out) == (1, ""), err
        assert err.startswith("ERROR: ") and err.count("\n") == 1, err
        assert str(path) in err, err
        with pytest.raises(LoaderError):
            run.run_module(ModuleImage.parse(data), run.RunOptions())
        assert no_loading == []
        return err[len("ERROR: "):-1].replace(str(path), "x.ko")
    return refused


def flipped(data: bytes, at: int, mask: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= mask
    return bytes(changed)


# -- the intact module reaches init_module (so the stub is where loading
#    would happen), and is described ----------------------------------------

@pytest.mark.kbuild
def test_the_intact_module_is_described_and_reaches_init_module(
        data, built_for, no_loading):
    with pytest.raises(InitModuleCalled):
        run.run_module(ModuleImage.parse(data), run.RunOptions())
    assert len(no_loading) == 1
    info = ModuleImage.parse(data).info
    assert info[metadata.CHECKSUM] == metadata.checksum(info)
    assert info["format"] == protocol.INFO_FORMAT


# -- .stpc_info, byte by byte ---------------------------------------------

@pytest.mark.kbuild
@pytest.mark.parametrize("mask", [0x01, 0x20, 0x80, 0xFF])
def test_every_byte_of_stpc_info_flipped_is_refused(
        data, info_range, refuse, built_for, mask):
    offset, size = info_range
    where = f"the .stpc_info section of x.ko (file bytes {offset}-" \
        f"{offset + size})"
    for at in range(offset, offset + size):
        corrupt = flipped(data, at, mask)
        told = refuse(corrupt, "--info")
        # the checksum's key itself, flipped, leaves no checksum
        assert told.startswith(where) or told.startswith(
            "x.ko has no checksum in its .stpc_info section"), told
        assert refuse(corrupt, "--run") == told


@pytest.mark.kbuild
def test_a_changed_value_is_caught_by_the_checksum(data, info_range,
                                                   refuse):
    offset, size = info_range
    text = data[offset:offset + size]
    at = offset + text.index(b'"nslots": 0') + len(b'"nslots": ')
    assert refuse(flipped(data, at, 0x01)) == (
        f"the .stpc_info section of x.ko (file bytes {offset}-"
        f"{offset + size}) is corrupt: its contents do not match its "
        f"metadata_sha256")


@pytest.mark.kbuild
def test_a_zeroed_section_is_refused(data, info_range, refuse):
    offset, size = info_range
    zeroed = data[:offset] + bytes(size) + data[offset + size:]
    assert refuse(zeroed, "--run") == (
        f"the .stpc_info section of x.ko (file bytes {offset}-"
        f"{offset + size}) is corrupt: byte 0 is a NUL")


@pytest.fixture(scope="module")
def other_ko(kver, tmp_path_factory):
    """A module of the same name and metadata size, from another script."""
    from stpc.compiler.driver import Compilation, CompileOptions
    comp = Compilation(SCRIPT.replace("hi", "ho"), "t.stp", CompileOptions(
        kernel_release=kver, module_name="pc_host"))
    return comp.module().read_bytes()


@pytest.mark.kbuild
def test_another_modules_stpc_info_is_refused(data, info_range, other_ko,
                                              refuse):
    offset, size = info_range
    other_offset, other_size = kmod.elf_section_range(
        other_ko, protocol.INFO_SECTION)
    assert other_size == size
    swapped = data[:offset] + \
        other_ko[other_offset:other_offset + size] + data[offset + size:]
    assert refuse(swapped) == (
        f"the .stpc_info section of x.ko (file bytes {offset}-"
        f"{offset + size}) does not belong to this module: its source_hash "
        f"is not the stpc_source_hash in .modinfo")


def _replaced_text(data: bytes, section, text: bytes) -> bytes:
    """DATA with the section holding TEXT, padded to its size."""
    offset, size = section
    assert len(text) < size
    padded = text + b" " * (size - 1 - len(text)) + b"\0"
    return data[:offset] + padded + data[offset + size:]


@pytest.mark.kbuild
@pytest.mark.parametrize("format_", [3, 4, protocol.INFO_FORMAT])
def test_a_module_of_an_older_stpc_is_refused(data, info_range, refuse,
                                              format_):
    info = ModuleImage.parse(data).info
    del info[metadata.CHECKSUM]
    older = _replaced_text(data, info_range, json.dumps(
        dict(info, format=format_), sort_keys=True).encode())
    assert refuse(older) == (
        f"x.ko has no checksum in its .stpc_info section (format "
        f"{format_}): it was built by an older stpc or modified; rebuild it "
        f"with this stpc (0.1.0)")


@pytest.mark.kbuild
def test_a_newer_format_is_refused(data):
    image = ModuleImage.parse(data)
    newer = metadata.sealed(dict(image.info, format=protocol.INFO_FORMAT + 1))
    section = newer.encode() + b"\0"
    with pytest.raises(LoaderError) as refused:
        metadata.verified(section, elf.Section(0, len(section)),
                          image.modinfo, "x.ko")
    assert str(refused.value) == (
        f"x.ko was built by another stpc (metadata format "
        f"{protocol.INFO_FORMAT + 1}, this stpc reads format "
        f"{protocol.INFO_FORMAT}): run it with that stpc or rebuild it with "
        f"this one (0.1.0)")


@pytest.mark.kbuild
def test_a_module_without_stpc_info_is_refused(data, refuse):
    names = data.rindex(b".stpc_info\0")
    renamed = data[:names] + b".stpc_infx" + data[names + 10:]
    assert refuse(renamed) == (
        "x.ko has no .stpc_info section: it was built by an older stpc or "
        "modified; rebuild it with this stpc (0.1.0)")


# -- the ELF structure ----------------------------------------------------

def _cuts(size: int):
    """Lengths to cut the file to: densely at both ends, sparsely
    between."""
    return sorted(set(range(0, 256)) | set(range(256, size, 1009)) |
                  set(range(max(0, size - 512), size)))


@pytest.mark.kbuild
def test_a_truncated_module_is_refused(data, refuse):
    for cut in _cuts(len(data)):
        with pytest.raises(LoaderError):
            ModuleImage.parse(data[:cut])
    # the last byte is the section header table's (readelf -S)
    shoff, = struct.unpack_from("<Q", data, 0x28)
    assert refuse(data[:-1], "--run") == (
        f"x.ko is truncated or corrupt: its section header table (bytes "
        f"{shoff}-{len(data)}) ends past its ELF data (bytes 0-"
        f"{len(data) - 1})")


@pytest.mark.kbuild
@pytest.mark.parametrize("junk", [b"\0", b"junk\n", bytes(range(256)) * 16])
def test_appended_bytes_are_refused(data, refuse, junk):
    assert refuse(data + junk) == (
        f"x.ko has {len(junk)} bytes after its ELF data (bytes 0-"
        f"{len(data)}) that are not a module signature: it was truncated or "
        f"modified after it was built")


def signed(data: bytes, size: int = 300) -> bytes:
    """DATA with a signature trailer as sign-file appends it."""
    return data + b"\x30" * size + MODULE_SIGNATURE.pack(0, 0, 2, 0, 0, size) \
        + SIGNATURE_MAGIC


@pytest.mark.kbuild
def test_a_signed_module_missing_its_last_byte_is_refused(
        data, refuse, built_for, no_loading):
    with pytest.raises(InitModuleCalled):
        run.run_module(ModuleImage.parse(signed(data)), run.RunOptions())
    no_loading.clear()
    cut = signed(data)[:-1]     # the kernel would see no signature, only junk
    assert refuse(cut, "--run") == (
        f"x.ko has {len(cut) - len(data)} bytes after its ELF data (bytes "
        f"0-{len(data)}) that are not a module signature: it was truncated "
        f"or modified after it was built")


@pytest.mark.kbuild
def test_a_corrupt_signature_trailer_is_refused(data, refuse):
    whole = signed(data)
    trailer = len(whole) - len(SIGNATURE_MAGIC) - MODULE_SIGNATURE.size
    for bad in (MODULE_SIGNATURE.pack(0, 0, 2, 0, 0, len(whole)),
                MODULE_SIGNATURE.pack(0, 0, 1, 0, 0, 300)):
        told = refuse(whole[:trailer] + bad + SIGNATURE_MAGIC)
        assert told == (f"x.ko has a corrupt module signature trailer "
                        f"(bytes {trailer}-{len(whole)}): sign it again")
    # a signature longer than it says leaves bytes between ELF and signature
    longer = data + b"\x30" + whole[len(data):]
    assert refuse(longer) == (
        f"x.ko has 1 bytes between its ELF data (bytes 0-{len(data)}) and "
        f"its module signature: it was modified after it was built")


@pytest.mark.kbuild
def test_no_flip_in_the_elf_headers_raises_anything_else(data):
    """Flipped header bytes are refused, or harmless to the checks (the
    kernel ignores e_entry, for instance): never a traceback."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    flips = [(at, mask) for at in range(64) for mask in (0x01, 0x80, 0xFF)]
    flips += [(at, 0x80) for at in range(shoff, len(data))]
    for at, mask in flips:
        try:
            ModuleImage.parse(flipped(data, at, mask))
        except LoaderError:
            pass


@pytest.mark.kbuild
def test_wrong_class_machine_and_type_are_refused(data, refuse):
    for at, value, told in (
            (4, 1, "is not an x86-64 kernel module: it is not a 64-bit "
             "little-endian ELF file"),
            (5, 2, "is not an x86-64 kernel module: it is not a 64-bit "
             "little-endian ELF file"),
            (16, 2, "is not a kernel module: its ELF type is 2, not a "
             "relocatable object (1)"),
            (18, 183, "is not an x86-64 kernel module: it is built for ELF "
             "machine 183, not 62")):
        changed = bytearray(data)
        changed[at] = value
        assert refuse(bytes(changed)) == f"x.ko {told}"


@pytest.mark.parametrize("content, told", [
    (b"", "is not a kernel module: it is too short for an ELF header"),
    (b"#!/bin/sh\n" * 20, "is not a kernel module: it is not an ELF file"),
    (bytes(range(256)) * 64, "is not a kernel module: it is not an ELF "
     "file"),
    (b"\x1f\x8b\x08" + bytes(100), "is gzip-compressed: decompress it first "
     "(gunzip)"),
])
def test_files_that_are_no_modules_are_refused(content, told, refuse):
    assert refuse(content, "--info") == refuse(content, "--run") == \
        f"x.ko {told}"


@pytest.mark.skipif(not KERNEL_MODULE.exists(), reason="no Debian module")
def test_a_plain_kernel_module_is_refused(refuse):
    assert refuse(KERNEL_MODULE.read_bytes(), "--run") == (
        "x.ko is not a module stpc built (no stpc_version in its .modinfo)")
    # the signed module is whole; without its last byte it is not
    assert refuse(KERNEL_MODULE.read_bytes()[:-1]).startswith("x.ko has ")


@pytest.mark.skipif(not COMPRESSED_MODULE.exists(), reason="no .ko.xz")
def test_a_compressed_module_is_refused(refuse):
    assert refuse(COMPRESSED_MODULE.read_bytes()) == (
        "x.ko is xz-compressed: decompress it first (xz -d)")


# -- the command line, as a user runs it ----------------------------------

def stubbed_cli(path: Path, option: str):
    """stpc PATH OPTION with the loader alone (the compiler's dependencies
    unimportable) and init_module replaced by an exit."""
    return run_python(
        "import stpc.loader.kmod as kmod\n"
        "def never(*args): raise SystemExit('init_module reached')\n"
        "kmod.init_module = never\n"
        "from stpc.compiler.cli import main\n"
        f"raise SystemExit(main([{str(path)!r}, {option!r}]))")


@pytest.mark.kbuild
def test_the_cli_refuses_without_a_traceback(data, info_range, tmp_path):
    """A sample of the cases above through the real command line."""
    offset, size = info_range
    cases = [flipped(data, offset + at, 0x01) for at in range(0, size, 37)]
    cases += [data[:-1], data + b"x", b"", b"\x7fELF"]
    path = tmp_path / "x.ko"
    for corrupt in cases:
        path.write_bytes(corrupt)
        for option in ("--info", "--run"):
            proc = stubbed_cli(path, option)
            assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
            assert proc.stderr.startswith("ERROR: ") and \
                proc.stderr.count("\n") == 1, proc.stderr
            assert str(path) in proc.stderr


@pytest.mark.skipif(not COMPRESSED_MODULE.exists(), reason="no .ko.xz")
def test_a_ko_xz_is_refused_by_name(tmp_path):
    path = tmp_path / "9p.ko.xz"
    path.write_bytes(COMPRESSED_MODULE.read_bytes())
    for option in ("--info", "--run"):
        proc = stubbed_cli(path, option)
        assert (proc.returncode, proc.stderr) == (
            1, f"ERROR: {path} is xz-compressed: decompress it first "
            f"(xz -d)\n")


@pytest.mark.kbuild
def test_a_ko_run_up_to_init_module_imports_no_compiler_module(ko):  # noqa: F811
    """Everything a run does before loading (read and check the file):
    stopped at ctypes' look-up of syscall, before anything is loaded; the
    release checked is the module's, no module is taken as loaded."""
    from stpc.loader.image import ModuleImage
    release = ModuleImage.read(str(ko)).vermagic.split()[0]
    code = (
        "import os, sys\n"
        "from stpc.loader import run\n"
        f"run.running_release = lambda: {release!r}\n"
        "run._may_load_modules = lambda: True\n"
        "run.kmod.loaded_modules = lambda: []\n"
        "run.probed.resolve = lambda info: run.probed.ProbedAddresses([])\n"
        "def stop(event, args):\n"
        "    if event == 'ctypes.dlsym' and args[1] == 'syscall':\n"
        "        heavy = sorted(m for m in sys.modules if m.split('.')[0] in"
        f" ('lark', 'elftools', 'jinja2') or m in {COMPILER_ONLY[3:]!r})\n"
        "        print('init_module', heavy)\n"
        "        sys.stdout.flush()\n"
        "        os._exit(0)\n"
        "sys.addaudithook(stop)\n"
        "from stpc.compiler.cli import main\n"
        f"main([{str(ko)!r}, '--run'])\n"
        "os._exit(4)\n")
    proc = run_python(code)
    assert (proc.returncode, proc.stdout) == \
        (0, "init_module ['ctypes']\n"), proc.stderr
