"""The user backtraces' unwind rules (compiler/uunwind.py): the fixture's
.eh_frame rows checked against readelf's interpretation of them, the
rows carried into the module only when the script walks the user stack,
and the C built for both kernels.  The VM case
uprobes/uaddr-usymname-ubacktrace walks a real stack."""

from __future__ import annotations

import bisect
import re
import subprocess
from pathlib import Path

import pytest

from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError
from stpc.compiler.uunwind import (CFA_NONE, CFA_RSP, RBP_SAME,
                                   file_unwind_rows)
from test_uprobes import _build
from test_usyms import _c


@pytest.fixture(scope="module")
def binary(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("ustack"))


def _readelf(binary: Path, *args: str) -> str:
    return subprocess.run(["readelf", *args, str(binary)],
                          capture_output=True, text=True, check=True).stdout


def _file_offset(binary: Path, address: int) -> int:
    for line in _readelf(binary, "-lW").splitlines():
        fields = line.split()
        if fields[:1] == ["LOAD"]:
            offset, vaddr, filesz = (int(fields[i], 16) for i in (1, 2, 4))
            if vaddr <= address < vaddr + filesz:
                return address - vaddr + offset
    raise AssertionError(f"{address:#x} is in no segment")


def _symbol(binary: Path, name: str) -> tuple:
    for line in _readelf(binary, "-sW").splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[7] == name:
            return int(fields[1], 16), int(fields[2])
    raise AssertionError(f"no symbol {name}")


def _readelf_rows(binary: Path, start: int) -> list:
    """(address, CFA offset from rsp, rbp's slot or None) of the FDE that
    starts at ``start``, from `readelf -wF`."""
    text = _readelf(binary, "-wF")
    fde = re.search(rf"FDE cie=\S+ pc=0*{start:x}\.\.\S+\n((?:.+\n)*)",
                    text)
    lines = fde.group(1).splitlines()
    if not lines:       # the CIE's one rule: CFA = rsp + 8
        return [(start, 8, None)]
    columns = lines[0].split()
    rows = []
    for line in lines[1:]:
        fields = dict(zip(columns, line.split()))
        rbp = fields.get("rbp", "u")
        assert fields["CFA"].startswith("rsp+")
        rows.append((int(fields["LOC"], 16), int(fields["CFA"][4:]),
                     int(rbp[1:]) if rbp.startswith("c") else None))
    return rows


def _rule_at(rows, offset: int):
    index = bisect.bisect_right([row.offset for row in rows], offset) - 1
    return rows[index].rule() if index >= 0 else None


@pytest.mark.parametrize("function", ["main", "count_up", "order_total"])
def test_rows_are_readelfs_rules_by_file_offset(binary, function):
    rows = file_unwind_rows(str(binary))
    address, size = _symbol(binary, function)
    for at, cfa, rbp in _readelf_rows(binary, address):
        assert _rule_at(rows, _file_offset(binary, at)) == \
            (CFA_RSP, cfa, RBP_SAME if rbp is None else rbp)
    end = _file_offset(binary, address + size - 1) + 1
    # the FDE's range ends there, or another function's rows begin
    assert _rule_at(rows, end)[0] == CFA_NONE or \
        any(row.offset == end for row in rows)


def test_rows_are_sorted_and_each_changes_the_rule(binary):
    rows = file_unwind_rows(str(binary))
    assert [r.offset for r in rows] == sorted({r.offset for r in rows})
    assert all(a.rule() != b.rule() for a, b in zip(rows, rows[1:]))


def test_start_ends_the_walk(binary):
    """_start's return address is undefined: the outermost frame."""
    address, _ = _symbol(binary, "_start")
    rows = file_unwind_rows(str(binary))
    assert _rule_at(rows, _file_offset(binary, address))[0] == CFA_NONE


def test_without_unwind_tables_no_row_covers_the_functions(tmp_path):
    """Built without .eh_frame for its own code, a frame of the program
    has no rule: the runtime's walk falls back to the entry rule."""
    binary = _build(tmp_path, "-fno-asynchronous-unwind-tables",
                    "-fno-unwind-tables")
    rows = file_unwind_rows(str(binary))
    address, _ = _symbol(binary, "count_up")
    rule = _rule_at(rows, _file_offset(binary, address))
    assert rule is None or rule[0] == CFA_NONE


def test_an_unreadable_file_is_an_error(tmp_path):
    missing = tmp_path / "gone"
    with pytest.raises(StpcError, match="cannot read the unwind rules"):
        file_unwind_rows(str(missing))


def test_rules_are_carried_only_when_the_stack_is_walked(kver, binary):
    point = f'process("{binary}").function("count_up")'
    walking = _c(kver, f'probe {point} {{ print_ubacktrace() '
                       'print(sprint_ubacktrace()) '
                       'print_ustack(ubacktrace()) '
                       'print(sprint_ustack(ubacktrace())) }')
    assert "stpc_print_ubacktrace(c);" in walking
    assert "stpc_sprint_ubacktrace(c, " in walking
    assert "stpc_print_ustack(c, stpc_ubacktrace(c, " in walking
    assert "stpc_sprint_ustack(stpc_ubacktrace(c, " in walking
    assert ".frames = stpc_uframes_0," in walking
    assert '"count_up" },' in walking
    symbols_only = _c(kver, f'probe {point} {{ println(usymname(uaddr())) }}')
    assert '"count_up" },' in symbols_only
    assert "stpc_uframes_0" not in symbols_only
    symbols_only = _c(kver, f'probe {point} {{ print_ustack("0x1") }}')
    assert "stpc_uframes_0" not in symbols_only


@pytest.mark.kbuild
def test_builds_for_both_kernels(kver, second_kver, binary, tmp_path,
                                 monkeypatch):
    """The walk and its printers compile against both kernels' headers
    (-Werror), the libc rules (its .eh_frame has ~28,000 rows) too."""
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    script = f'''
        probe process("{binary}").function("count_up"),
              process("/lib/x86_64-linux-gnu/libc.so.6").function("free") {{
            print_ubacktrace()
            printf("%s%s\\n", sprint_ubacktrace(), ubacktrace())
            print_ustack(ubacktrace())
            print(sprint_ustack(ubacktrace()))
        }}'''
    for release in (kver, second_kver):
        assert Compilation(script, "t.stp", CompileOptions(
            kernel_release=release)).module().exists()
