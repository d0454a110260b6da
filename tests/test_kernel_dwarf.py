"""Kernel probes against Debian's full vmlinux with DWARF (~630 MB, from
linux-image-KVER-dbg): resolution must stay cheap (symbol table, aranges,
one compilation unit, per-build-id indexes), and agree with readelf.

Runs when the vmlinux is in the cache ($STPC_CACHE_DIR/debuginfo/KVER) or
in /usr/lib/debug; with STPC_FETCH_DEBUGINFO=1 or STPC_REQUIRE_VM=1 (CI)
it is fetched first (`make debuginfo` does the same), else the tests skip.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stpc.compiler import ctype as C
from stpc.compiler.debuginfo import fetch_vmlinux
from stpc.compiler.dwarf import DebugFile
from stpc.compiler.dwarftypes import variable_name, variable_type
from stpc.compiler.errors import ErrorCollector
from stpc.compiler.indexcache import index_dir
from stpc.compiler.listing import _parse_point, list_points
from stpc.compiler.location import (Frame, InRegister, compile_location,
                                    select_expression)
from stpc.compiler.probes import (ProbeEnvironment, ProbeResolver,
                                  find_vmlinux)
from elftools.dwarf.dwarf_expr import DWARFExprParser

FUNCTION = "do_sys_openat2"


@pytest.fixture(scope="module")
def vmlinux(kver):
    path = find_vmlinux(ProbeEnvironment(kver))
    if path is None:
        if os.environ.get("STPC_FETCH_DEBUGINFO") == "1" or \
                os.environ.get("STPC_REQUIRE_VM") == "1":
            path = fetch_vmlinux(kver)
        else:
            pytest.skip(f"no vmlinux with DWARF for {kver}: run "
                        "`make debuginfo` (or stpc --fetch-debuginfo)")
    return path


@pytest.fixture(scope="module")
def debug(vmlinux):
    return DebugFile(vmlinux, "kernel")


@pytest.fixture(scope="module")
def readelf_symbols(vmlinux):
    """name -> value of the function symbols (and _stext), from readelf."""
    out = subprocess.run(["readelf", "-sW", str(vmlinux)], check=True,
                         capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[7] in (FUNCTION, "_stext",
                                              "do_sys_open"):
            values.setdefault(fields[7], int(fields[1], 16))
    return values


@pytest.fixture(scope="module")
def openat2(debug):
    [function] = debug.find_functions(FUNCTION)
    return function


def _list(kver, point, with_vars=False):
    return list(list_points(point, kver, with_vars=with_vars))


def test_function_is_stext_relative_like_the_symbol_table(debug, openat2,
                                                          readelf_symbols):
    where = debug.locate(openat2.low_pc)
    assert (where.module, where.section) == ("kernel", "_stext")
    assert where.offset == readelf_symbols[FUNCTION] - \
        readelf_symbols["_stext"]
    assert openat2.low_pc == readelf_symbols[FUNCTION]
    sym = debug.symbol_at(openat2.low_pc + 1)
    assert (sym.name, sym.address) == (FUNCTION, openat2.low_pc)
    assert openat2.decl_file.endswith("fs/open.c")


def test_build_id_and_indexes_in_the_cache(debug, vmlinux):
    out = subprocess.run(["readelf", "-n", str(vmlinux)],
                         capture_output=True, text=True).stdout
    assert f"Build ID: {debug.build_id}" in out
    assert any(p.name.startswith("symbols-")
               for p in index_dir(debug.build_id).iterdir())


def test_parameters_types_and_entry_registers(debug, openat2):
    params = debug.parameters(openat2)
    shown = [(variable_name(d), variable_type(d).display()) for d in params]
    assert shown == [("dfd", "int"), ("filename", "const char *"),
                     ("how", "struct open_how *")]
    parser = DWARFExprParser(debug.dwarf.structs)
    cu_low = openat2.die.cu.get_top_DIE().attributes.get("DW_AT_low_pc")
    frame = Frame(pc=openat2.low_pc, cfa=debug.cfa_rule(openat2.low_pc),
                  frame_base=None, entry_pc=openat2.low_pc,
                  relocate=lambda a: "0", fault_where="NULL")
    registers = []
    for die in params:
        expr = select_expression(debug.dwarf, die, "DW_AT_location",
                                 openat2.low_pc,
                                 cu_low.value if cu_low else 0)
        registers.append(compile_location(parser, expr, frame))
    assert registers == [InRegister("di"), InRegister("si"),
                         InRegister("dx")]
    assert debug.cfa_rule(openat2.low_pc) == (7, 8)


def test_struct_open_how_layout(debug, openat2):
    how = C.strip(variable_type(debug.parameters(openat2)[2]))
    assert isinstance(how, C.Pointer)
    layout = C.strip(how.target)
    expected = [("flags", 0, 8), ("mode", 8, 8), ("resolve", 16, 8)]
    assert [(m.name, m.offset, m.type.size) for m in layout.members] == \
        expected
    found = debug.find_struct("struct", "open_how")
    assert [(m.name, m.offset, m.type.size) for m in found.members] == \
        expected


def test_find_struct_without_a_probed_unit(vmlinux):
    fresh = DebugFile(vmlinux, "kernel")
    found = fresh.find_struct("struct", "open_how")
    assert found is not None and found.size == 24
    assert fresh.find_struct("struct", "no_such_struct_stpc") is None


def test_listing_with_variables(kver, vmlinux):
    [line] = _list(kver, f'kernel.function("{FUNCTION}")', True)
    assert line.startswith(f'kernel.function("{FUNCTION}@fs/open.c:')
    assert " $dfd:int $filename:const char * $how:struct open_how *" in line


def test_listing_from_the_command_line(kver, vmlinux):
    stpc = os.path.join(os.path.dirname(sys.executable), "stpc")
    proc = subprocess.run([stpc, "-L", f'kernel.function("{FUNCTION}")',
                           "-r", kver], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f'kernel.function("{FUNCTION}@fs/open.c:' in proc.stdout
    assert "$how:struct open_how *" in proc.stdout


def test_glob_and_file_patterns(kver, vmlinux):
    lines = _list(kver, 'kernel.function("do_sys_open*")')
    names = sorted(line.split('"')[1].split("@")[0] for line in lines)
    assert "do_sys_open" in names and FUNCTION in names
    assert all("@fs/open.c:" in line for line in lines)
    [line] = _list(kver, f'kernel.function("{FUNCTION}@fs/open.c")')
    assert line.startswith(f'kernel.function("{FUNCTION}@fs/open.c:')
    assert _list(kver, f'kernel.function("{FUNCTION}@fs/namei.c")?') == []


def test_statement_probe_on_a_line_with_code(kver, debug, openat2):
    lines = [n for n in debug.lines_of(openat2)
             if n > openat2.decl_line and debug.line_addresses(openat2, n)]
    assert lines, "no line of do_sys_openat2 has code"
    line = lines[len(lines) // 2]
    address = debug.line_addresses(openat2, line)[0]
    assert openat2.low_pc <= address < openat2.high_pc
    point = f'kernel.statement("{FUNCTION}@fs/open.c:{line}")'
    assert _list(kver, point) == [point]
    resolver = ProbeResolver(ProbeEnvironment(kver))
    errors = ErrorCollector()
    [site] = resolver.resolve(_parse_point(point), 0, 0, errors)
    errors.raise_if_any()
    assert site.code.offset == address - debug.symbol_value("_stext")
    # not at an entry: the CFA comes from the FDE covering the address
    register, offset = debug.cfa_rule(address)
    assert register == 7 and offset >= 8


def test_inlined_instances(debug):
    found = debug.find_inlined("build_open_flags")
    if not found:
        pytest.skip("build_open_flags is not inlined in this kernel")
    for sub in found:
        assert sub.is_inline and sub.name == "build_open_flags"
        assert sub.decl_file.endswith("fs/open.c")
        sym = debug.symbol_at(sub.low_pc)
        assert sym is not None and sym.address <= sub.low_pc


def test_unknown_function_is_an_error(kver, vmlinux):
    from stpc.compiler.errors import StpcError
    with pytest.raises(StpcError, match="no function matches"):
        _list(kver, 'kernel.function("no_such_function_stpc")')
