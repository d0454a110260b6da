"""usymname()/usymdata()'s symbols: the probed files' functions by file
offset, checked against nm and readelf, carried into the module only when
the script calls one; and the *_arg() functions that read a function's
arguments without DWARF.  The VM cases uprobes/uaddr-usymname and
example/mallocsizes run them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.usyms import file_symbols

SOURCE = Path(__file__).resolve().parent / "uprobe_target.c"


@pytest.fixture(scope="module")
def binary(tmp_path_factory) -> Path:
    binary = tmp_path_factory.mktemp("usyms") / "uprobe_target"
    subprocess.run(["gcc", "-g", "-O2", "-o", str(binary), str(SOURCE)],
                   check=True)
    return binary


def _nm_sized(binary: Path) -> dict:
    out = subprocess.run(["nm", "-S", "--defined-only", str(binary)],
                         capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "Tt":
            found[fields[3]] = (int(fields[0], 16), int(fields[1], 16))
    return found


def _load_segments(binary: Path) -> list:
    out = subprocess.run(["readelf", "-lW", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    return [tuple(int(line.split()[i], 16) for i in (1, 2, 4))
            for line in out.splitlines() if line.split()[:1] == ["LOAD"]]


def test_functions_are_kept_by_file_offset_with_their_size(binary):
    symbols = {s.name: s for s in file_symbols(str(binary))}
    segments = _load_segments(binary)
    for name in ("main", "count_up", "order_total"):
        address, size = _nm_sized(binary)[name]
        offset = next(address - vaddr + off for off, vaddr, filesz
                      in segments if vaddr <= address < vaddr + filesz)
        assert (symbols[name].offset, symbols[name].size) == (offset, size)
    offsets = [s.offset for s in file_symbols(str(binary))]
    assert offsets == sorted(set(offsets))


def _c(kver, script: str) -> str:
    return Compilation(script, "t.stp",
                       CompileOptions(kernel_release=kver)).c_source()


def test_the_table_is_carried_only_when_called(kver, binary):
    point = f'process("{binary}").function("count_up")'
    with_calls = _c(kver, f'probe {point} {{ printf("%s %s %d\\n", '
                          'usymname(uaddr()), usymdata(uaddr()), uaddr()) }')
    assert "stpc_usymname(stpc_uaddr(), " in with_calls
    assert "stpc_usymdata(stpc_uaddr(), " in with_calls
    assert '"count_up" },' in with_calls
    assert ".nusym_files = 1," in with_calls
    without = _c(kver, f'probe {point} {{ println(uaddr()) }}')
    assert "stpc_usym_files" not in without


def test_function_arguments_are_read_from_the_calling_conventions_registers(
        kver, binary):
    """int_arg() and the others, for programs without DWARF (libc's
    malloc): the registers of the x86-64 calling convention, cast."""
    c_source = _c(kver, f'probe process("{binary}").function("count_up") '
                        '{ println(int_arg(1) + ulong_arg(6) + s32_arg(2)) }')
    assert "((s64)(s32)stpc_func_arg(c, c->regs, ((s64)1LL), " in c_source
    assert "((s64)(u64)stpc_func_arg(c, c->regs, ((s64)6LL), " in c_source
    assert "((s64)(s32)stpc_func_arg(c, c->regs, ((s64)2LL), " in c_source
