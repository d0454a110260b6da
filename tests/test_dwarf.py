"""DWARF resolution against the fixture module built from source (its
-O2 code gives registers, location lists, entry values, pieces and
stack slots), plus location expressions written by hand."""

from __future__ import annotations

import re
import subprocess

import pytest
from elftools.dwarf.dwarf_expr import DWARFExprParser

from stpc.compiler import ast as A
from stpc.compiler import ctype as C
from stpc.compiler.dwarf import DebugFile
from stpc.compiler.dwarftypes import variable_name, variable_type
from stpc.compiler.errors import ErrorCollector, StpcError
from stpc.compiler.listing import _parse_point, list_points
from stpc.compiler.location import (Computed, Frame, InMemory, InRegister,
                                    Pieces, Unavailable, compile_location)
from stpc.compiler.probes import (ProbeEnvironment, ProbeResolver,
                                  parse_pattern)

import fixture
import vm

LOOP_LINE = 242
SPAN = A.Span("t.stp", 1, 1)


@pytest.fixture(scope="module")
def debug(kver):
    return DebugFile(fixture.build_fixture(kver), "stpc_fixture")


def _function(debug, name):
    [function] = debug.find_functions(name)
    return function


def _params(debug, name):
    function = _function(debug, name)
    return {variable_name(d): d for d in debug.parameters(function)}


# -- functions, sections, lines --

def test_functions_are_found_by_glob_with_their_sections(debug):
    names = [f.name for f in debug.find_functions("stpc_fixture_*")]
    assert {"stpc_fixture_ints", "stpc_fixture_ptr", "stpc_fixture_struct",
            "stpc_fixture_byval", "stpc_fixture_return",
            "stpc_fixture_locals", "stpc_fixture_init"} <= set(names)
    init = _function(debug, "stpc_fixture_init")
    assert debug.locate(init.low_pc).section == ".init.text"
    ints = _function(debug, "stpc_fixture_ints")
    where = debug.locate(ints.low_pc)
    assert (where.module, where.section) == ("stpc_fixture", ".text")


def test_function_offsets_match_the_symbol_table(debug, kver):
    out = subprocess.run(["readelf", "-sW", str(debug.path)],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[7] == "stpc_fixture_return":
            value = int(fields[1], 16)
    ret = _function(debug, "stpc_fixture_return")
    assert debug.locate(ret.low_pc).offset == value


def test_build_id_matches_readelf(debug):
    out = subprocess.run(["readelf", "-n", str(debug.path)],
                         capture_output=True, text=True).stdout
    assert f"Build ID: {debug.build_id}" in out


def test_declaration_file_and_line(debug):
    ints = _function(debug, "stpc_fixture_ints")
    assert ints.decl_file.endswith("/stpc_fixture.c")
    source = (fixture.SOURCE / "stpc_fixture.c").read_text().splitlines()
    assert "stpc_fixture_ints(" in source[ints.decl_line - 1]


def test_the_loop_line_has_one_statement_address(debug):
    locals_fn = _function(debug, "stpc_fixture_locals")
    source = (fixture.SOURCE / "stpc_fixture.c").read_text().splitlines()
    assert "STPC_FIXTURE_LOOP_LINE" in source[LOOP_LINE - 1]
    [address] = debug.line_addresses(locals_fn, LOOP_LINE)
    assert locals_fn.low_pc < address < locals_fn.high_pc
    names = [variable_name(d) for d in debug.variables_at(locals_fn, address)]
    assert sorted(names) == ["acc", "i", "n", "sum"]


def _section_offsets(ko) -> dict:
    """name -> value of each defined symbol: an offset in its section."""
    out = subprocess.run(["nm", str(ko)], capture_output=True, text=True,
                         check=True).stdout
    return {fields[2]: int(fields[0], 16)
            for fields in map(str.split, out.splitlines())
            if len(fields) == 3}


@pytest.mark.parametrize("release", vm.find_kernel_releases())
def test_a_function_gcc_split_in_two_is_one_function(release):
    ko = fixture.build_fixture(release)
    symbols = _section_offsets(ko)
    assert "stpc_fixture_split.cold" in symbols, "GCC no longer splits it"
    debug = DebugFile(ko, "stpc_fixture")
    [split] = debug.find_functions("stpc_fixture_split")
    parts = {(debug.locate(low).section, debug.locate(low).offset)
             for low, _ in split.ranges}
    assert parts == {(".text", symbols["stpc_fixture_split"]),
                     (".text.unlikely", symbols["stpc_fixture_split.cold"])}
    entry = debug.locate(split.low_pc)
    assert (entry.section, entry.offset) == \
        (".text", symbols["stpc_fixture_split"])
    names = [f.name for f in debug.find_functions("stpc_fixture_*")]
    assert names.count("stpc_fixture_split") == 1


def test_inlined_instances_are_found(debug):
    inlined = debug.find_inlined("stpc_fixture_inlined_helper")
    assert inlined and all(f.is_inline for f in inlined)


def test_patterns():
    p = parse_pattern("f*@dir/x.c:12", SPAN)
    assert (p.function, p.file, p.line) == ("f*", "dir/x.c", 12)
    assert parse_pattern("name", SPAN).file is None
    with pytest.raises(StpcError):
        parse_pattern("a@b:c:d", SPAN)


# -- probe points: one per function, init code left out --

def _list(kver, point: str, with_vars: bool = False) -> list:
    directory = str(fixture.build_fixture(kver).parent)
    return list(list_points(point, kver, (directory,), with_vars))


def _listed_names(lines) -> list:
    return [re.match(r'module\("stpc_fixture"\)\.function\("(\w+)@',
                     line).group(1) for line in lines]


def test_listing_shows_each_function_once(kver):
    lines = _list(kver, 'module("stpc_fixture").function("*")')
    assert len(lines) == len(set(lines))
    assert _listed_names(lines).count("stpc_fixture_split") == 1
    [ret] = _list(kver, 'module("stpc_fixture").function('
                        '"stpc_fixture_split").return')
    assert ret.endswith(".return")
    [entry] = _list(kver, 'module("stpc_fixture").function('
                          '"stpc_fixture_split")', with_vars=True)
    assert entry.endswith(") $v:long int")


def test_one_site_per_address_across_a_glob(kver):
    directory = str(fixture.build_fixture(kver).parent)
    resolver = ProbeResolver(ProbeEnvironment(kver, (directory,)))
    point = _parse_point('module("stpc_fixture").function("*")')
    errors = ErrorCollector()
    sites = resolver.resolve(point, 0, 0, errors)
    errors.raise_if_any()
    places = [(s.code.section, s.code.offset) for s in sites]
    assert len(places) == len(set(places))
    split = [s for s in sites if s.code.function == "stpc_fixture_split"]
    assert [(s.code.section, s.code.symbol, s.code.symbol_offset)
            for s in split] == [(".text", "stpc_fixture_split", 0)]


def test_globs_skip_init_code_but_not_exit_code(kver):
    names = _listed_names(_list(kver, 'module("stpc_fixture").function('
                                      '"stpc_fixture_*")'))
    assert "stpc_fixture_exit" in names
    assert "stpc_fixture_ints" in names
    assert not {"stpc_fixture_init", "stpc_fixture_init_proc"} & set(names)


@pytest.mark.parametrize("name", ["stpc_fixture_init",
                                  "stpc_fixture_init_proc"])
def test_naming_init_code_is_an_error_that_says_why(kver, name):
    with pytest.raises(StpcError) as info:
        _list(kver, f'module("stpc_fixture").function("{name}")')
    assert info.value.message == (
        f"{name} is init code (.init.text), freed once module "
        "stpc_fixture has run its init: it cannot be probed")


def test_a_statement_in_init_code_is_an_error(kver, debug):
    [init] = debug.find_functions("stpc_fixture_init_proc")
    line = debug.lines_of(init)[-1]
    with pytest.raises(StpcError) as info:
        _list(kver, 'module("stpc_fixture").statement('
                    f'"stpc_fixture_init_proc@stpc_fixture.c:{line}")')
    assert info.value.message.startswith(
        "stpc_fixture_init_proc is init code (.init.text)")


# -- types --

def test_parameter_types_follow_dwarf(debug):
    params = _params(debug, "stpc_fixture_ints")
    types = {n: C.strip(variable_type(d)) for n, d in params.items()}
    assert (types["s"].size, types["s"].signed) == (2, True)
    assert (types["uc"].size, types["uc"].signed) == (1, False)
    assert (types["ul"].size, types["ul"].signed) == (8, False)
    item = C.strip(variable_type(_params(debug, "stpc_fixture_struct")["item"]))
    struct = C.strip(item.target)
    assert struct.display() == "struct stpc_fixture_item"
    offset, name = struct.member("name")
    assert C.strip(name.type).display() == "char[16]"
    assert C.is_string_like(name.type)
    assert struct.member("pos")[0] == 32
    assert struct.member("missing") is None


# -- locations at the probe address --

def _location(debug, function_name, variable, pc=None):
    function = _function(debug, function_name)
    pc = function.low_pc if pc is None else pc
    die = {variable_name(d): d
           for d in debug.variables_at(function, pc)}[variable]
    from stpc.compiler.location import select_expression
    cu_low = die.cu.get_top_DIE().attributes["DW_AT_low_pc"].value
    expr = select_expression(debug.dwarf, die, "DW_AT_location", pc, cu_low)
    base = function.die.attributes.get("DW_AT_frame_base")
    frame = Frame(pc, debug.cfa_rule(pc), bytes(base.value) if base else None,
                  function.low_pc, lambda a: f"RELOC({a:#x})", "W")
    return compile_location(DWARFExprParser(debug.dwarf.structs), expr, frame)


def test_entry_parameters_are_in_argument_registers(debug):
    registers = ["di", "si", "dx", "cx", "r8", "r9"]
    for name, register in zip(["i", "u", "s", "uc", "l", "ul"], registers):
        assert _location(debug, "stpc_fixture_ints", name) == \
            InRegister(register)


def test_struct_by_value_is_in_two_register_pieces(debug):
    loc = _location(debug, "stpc_fixture_byval", "p")
    assert loc == Pieces(((8, InRegister("di")), (8, InRegister("si"))))


def test_loop_locals_at_the_statement(debug):
    function = _function(debug, "stpc_fixture_locals")
    [pc] = debug.line_addresses(function, LOOP_LINE)
    for name in ("i", "sum", "acc"):
        loc = _location(debug, "stpc_fixture_locals", name, pc)
        assert isinstance(loc, (InRegister, Computed)), (name, loc)


def test_cfa_at_entry_is_above_the_return_address(debug):
    ints = _function(debug, "stpc_fixture_ints")
    assert debug.cfa_rule(ints.low_pc) == (7, 8)


# -- location expressions written by hand --

def _run(expr, pc=0x10, entry=0x10, cfa=(7, 8), frame_base=b"\x9c"):
    frame = Frame(pc, cfa, frame_base, entry, lambda a: f"RELOC({a:#x})",
                  "W")
    parser = DWARFExprParser(_structs())
    return compile_location(parser, bytes(expr), frame)


def _structs():
    from elftools.dwarf.structs import DWARFStructs
    return DWARFStructs(little_endian=True, dwarf_format=32, address_size=8)


def test_hand_written_expressions():
    # DW_OP_breg7 8; DW_OP_deref -> the pointer stored at sp + 8
    loc = _run([0x77, 0x08, 0x06])
    assert isinstance(loc, InMemory) and "stpc_deref" in loc.address
    # DW_OP_fbreg -16 with frame base DW_OP_call_frame_cfa
    loc = _run([0x91, 0x70])
    assert loc == InMemory("((((u64)c->regs->sp) + 8LL) + -16LL)")
    # DW_OP_lit5; DW_OP_stack_value
    assert _run([0x35, 0x9f]) == Computed("5ULL")
    # DW_OP_addr X; DW_OP_stack_value: a relocated address
    assert _run([0x03] + list((0x1020).to_bytes(8, "little")) + [0x9f]) \
        == Computed("RELOC(0x1020)")
    # DW_OP_breg3 -1; DW_OP_stack_value
    assert _run([0x73, 0x7f, 0x9f]) == \
        Computed("(((u64)c->regs->bx) + -1LL)")


def test_entry_values_only_at_the_entry():
    entry_rdi = [0xa3, 0x01, 0x55, 0x9f]    # DW_OP_entry_value(reg5)
    assert _run(entry_rdi) == Computed("((u64)c->regs->di)")
    with pytest.raises(Unavailable):
        _run(entry_rdi, pc=0x20)


def test_unknown_operations_are_unavailable():
    with pytest.raises(Unavailable):
        _run([0x96, 0x96])      # DW_OP_nop twice: no value at all
