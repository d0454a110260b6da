"""DWARF reading without kbuild: modules written by tests/dwarf_writer.py
(DWARF 4 and 5), read through what pass 2 uses (DebugFile, the target
variable scope of a probe site, find_struct)."""

from __future__ import annotations

import pytest

from stpc.compiler import ctype as C
from stpc.compiler.dwarf import DebugFile
from stpc.compiler.elfsyms import CodeAddress
from stpc.compiler.ir import ResolvedSite
from stpc.compiler.location import (Computed, InMemory, InRegister, Pieces,
                                    Unavailable)
from stpc.compiler.varscope import DwarfScope

from dwarf_writer import (ATE_BOOLEAN, ATE_FLOAT, ATE_SIGNED,
                          ATE_SIGNED_CHAR, ATE_UNSIGNED, Addr,
                          Die, FrameEntry, LocList, Symbol, addr, breg,
                          call_frame_cfa, entry_value, fbreg, lit, piece,
                          plus_uconst, reg, stack_value, write_module)

F_START, F_SIZE = 0x10, 0x30        # f in .text
BLOCK = (0x20, 0x28)                # a lexical block of f (unit offsets)
SP = "((u64)c->regs->sp)"


def _types():
    """int, s32 and friends, struct node, union u, enum color."""
    int_ = Die("base_type", name="int", byte_size=4, encoding=ATE_SIGNED)
    uint = Die("base_type", name="unsigned int", byte_size=4,
               encoding=ATE_UNSIGNED)
    char = Die("base_type", name="char", byte_size=1,
               encoding=ATE_SIGNED_CHAR)
    long_ = Die("base_type", name="long", byte_size=8, encoding=ATE_SIGNED)
    double = Die("base_type", name="double", byte_size=8, encoding=ATE_FLOAT)
    bool_ = Die("base_type", name="_Bool", byte_size=1, encoding=ATE_BOOLEAN)
    s32 = Die("typedef", name="s32", type=int_)
    cv_s32 = Die("const_type", type=Die("volatile_type", type=s32))
    color = Die("enumeration_type", name="color", byte_size=4, type=int_,
                children=[Die("enumerator", name="RED", const_value=0),
                          Die("enumerator", name="DARK", const_value=-1)])
    node = Die("structure_type", name="node", byte_size=72)
    callback = Die("pointer_type", byte_size=8,
                   type=Die("subroutine_type", type=int_))
    anonymous = Die("union_type", byte_size=8, children=[
        Die("member", name="l", type=long_, data_member_location=0),
        Die("member", name="bytes", data_member_location=0,
            type=Die("array_type", type=char,
                     children=[Die("subrange_type", upper_bound=7)]))])
    node.children += [
        Die("member", name="next", data_member_location=0,
            type=Die("pointer_type", byte_size=8, type=node)),
        Die("member", name="flags", type=uint, byte_size=4, bit_size=3,
            data_bit_offset=64),
        Die("member", name="mode", type=uint, byte_size=4, bit_size=5,
            data_bit_offset=67),
        Die("member", name="grid", data_member_location=12,
            type=Die("array_type", type=int_, children=[
                Die("subrange_type", count=2),
                Die("subrange_type", upper_bound=2)])),
        Die("member", name="hue", type=color, data_member_location=36),
        Die("member", type=anonymous, data_member_location=40),
        Die("member", name="call", type=callback, data_member_location=48),
        Die("member", name="tail", data_member_location=56,
            type=Die("array_type", type=char,
                     children=[Die("subrange_type")]))]
    declared = Die("structure_type", name="node", declaration=True)
    return dict(int=int_, uint=uint, char=char, long=long_, double=double,
                bool=bool_, s32=s32, cv_s32=cv_s32, node=node,
                declared=declared)


def _unit(t):
    node_ptr = Die("pointer_type", byte_size=8, type=t["node"])
    f = Die("subprogram", name="f", external=True, type=t["int"],
            low_pc=Addr(".text", F_START), high_pc=F_SIZE,
            frame_base=call_frame_cfa(), decl_line=7, children=[
        Die("formal_parameter", name="a", type=t["int"], location=reg(5)),
        Die("formal_parameter", name="p", type=node_ptr, location=LocList((
            (F_START, F_START + 4, reg(4)),
            (F_START + 4, F_START + F_SIZE, fbreg(-24))))),
        Die("formal_parameter", name="first", type=t["int"],
            location=LocList(((F_START, F_START + F_SIZE,
                               entry_value(reg(5)) + stack_value()),))),
        Die("variable", name="total", type=t["long"],
            location=breg(6, -8)),
        Die("variable", name="pair", type=t["long"],
            location=reg(0) + piece(4) + reg(2) + piece(4)),
        Die("variable", name="seven", type=t["int"],
            location=lit(5) + plus_uconst(2) + stack_value()),
        Die("variable", name="ratio", type=t["double"], location=reg(17)),
        Die("variable", name="ok", type=t["bool"], location=reg(2)),
        Die("variable", name="cvp", location=reg(1),
            type=Die("pointer_type", byte_size=8, type=t["cv_s32"])),
        Die("lexical_block", low_pc=Addr(".text", BLOCK[0]),
            high_pc=BLOCK[1] - BLOCK[0], children=[
            Die("variable", name="a", type=t["s32"], location=reg(3)),
            Die("variable", name="inner", type=t["char"],
                location=breg(7, 4))])])
    g = Die("variable", name="g", type=t["s32"], external=True,
            location=addr(".data", 8))
    # the declaration first: find_struct must skip it
    return Die("compile_unit", name="synthetic.c", low_pc=Addr(".text", 0),
               high_pc=0x100, children=[t["declared"], f, g])


@pytest.fixture(params=[4, 5], ids=["dwarf4", "dwarf5"], scope="module")
def debug(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic") / f"v{request.param}.ko"
    write_module(path, _unit(_types()), version=request.param,
                 symbols=[Symbol("f", Addr(".text", F_START), F_SIZE)],
                 frames=[FrameEntry(Addr(".text", F_START), F_SIZE,
                                    ((1, 16), (4, 24)))])
    return DebugFile(path, "synthetic")


def _relocate(debug):
    def c_address(address: int) -> str:
        where = debug.locate(address)
        return f"RELOC({where.section}+{where.offset:#x})"
    return c_address


def _scope(debug, pc_offset=0x18):
    [f] = debug.find_functions("f")
    site = ResolvedSite(debug, f, f.low_pc - F_START + pc_offset, False)
    return DwarfScope(site, _relocate(debug))


def _variables(scope):
    return {v.name: v for v in scope.variables()}


def _where(scope, name):
    return _variables(scope)[name].location("W", set())


# -- addresses and frames --

def test_functions_are_found_in_their_section(debug):
    [f] = debug.find_functions("f")
    assert (f.name, f.decl_line, f.high_pc - f.low_pc) == ("f", 7, F_SIZE)
    assert debug.locate(f.low_pc) == CodeAddress("synthetic", ".text",
                                                 F_START)
    assert debug.find_functions("g*") == []


def test_cfa_follows_the_frame_entry(debug):
    [f] = debug.find_functions("f")
    assert [debug.cfa_rule(f.low_pc + d) for d in (0, 1, 3, 4, F_SIZE)] \
        == [(7, 8), (7, 16), (7, 16), (7, 24), None]


# -- locations --

def test_locations_at_one_pc(debug):
    scope = _scope(debug)
    assert _where(scope, "total") == InMemory("(((u64)c->regs->bp) + -8LL)")
    # x86-64 DWARF registers: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi
    assert _where(scope, "pair") == Pieces(((4, InRegister("ax")),
                                            (4, InRegister("cx"))))
    assert _where(scope, "seven") == Computed("(5ULL + 2ULL)")
    assert _where(scope, "cvp") == InRegister("dx")
    with pytest.raises(Unavailable):    # xmm0: not in struct pt_regs
        _where(scope, "ratio")


def test_location_lists_and_the_frame_base(debug):
    early, late = _scope(debug, F_START + 2), _scope(debug, 0x30)
    assert _where(early, "p") == InRegister("si")
    # DW_OP_fbreg over DW_AT_frame_base DW_OP_call_frame_cfa: rsp + 24
    assert _where(late, "p") == InMemory(f"(({SP} + 24LL) + -24LL)")


def test_entry_values_only_at_the_entry(debug):
    assert _where(_scope(debug, F_START), "first") == \
        Computed("((u64)c->regs->di)")
    with pytest.raises(Unavailable):
        _where(_scope(debug, F_START + 1), "first")


def _registers_read(scope, name):
    registers = set()
    _variables(scope)[name].location("W", registers)
    return registers


def test_the_registers_an_address_is_computed_from_are_noted(debug):
    """What entryregs.py picks an entry's ftrace_ops from: the registers
    in addresses and computed values; a value held in a register is
    noted when it is loaded (targetvars), not here."""
    assert _registers_read(_scope(debug), "total") == {"bp"}
    # the frame base: the CFA, from rsp
    assert _registers_read(_scope(debug, 0x30), "p") == {"sp"}
    assert _registers_read(_scope(debug, F_START), "first") == {"di"}
    assert _registers_read(_scope(debug), "cvp") == set()
    assert _registers_read(_scope(debug), "seven") == set()


def test_a_block_variable_hides_a_parameter(debug):
    outside, inside = _scope(debug, BLOCK[0] - 1), _scope(debug, BLOCK[0])
    assert "inner" not in _variables(outside)
    assert _where(outside, "a") == InRegister("di")
    assert _where(inside, "a") == InRegister("bx")
    assert _where(inside, "inner") == InMemory(f"({SP} + 4LL)")
    assert _variables(inside)["a"].type.display() == "s32"
    assert not _variables(inside)["a"].is_param


def test_a_global_is_relocated_into_its_section(debug):
    g = _scope(debug).global_variable("g", None)
    assert g.location("W", set()) == InMemory("RELOC(.data+0x8)")
    assert g.type.display() == "s32"


# -- types --

def test_base_types_typedefs_and_qualifiers(debug):
    scope = _scope(debug)
    a = _variables(scope)["a"].type
    assert (a.display(), a.size, a.signed, a.floating) == ("int", 4, True,
                                                          False)
    cvp = _variables(scope)["cvp"].type
    assert cvp.display() == "const volatile s32 *"
    assert isinstance(cvp.target, C.Qualified) and \
        isinstance(cvp.target.target, C.Qualified)
    assert C.strip(cvp.target).display() == "int" and cvp.target.size == 4
    assert scope.return_type().display() == "int"
    ratio, ok = (_variables(scope)[n].type for n in ("ratio", "ok"))
    assert (ratio.size, ratio.floating, ratio.signed) == (8, True, False)
    assert (ok.size, ok.floating, ok.signed) == (1, False, False)
    assert not ok.is_char and C.is_integer(ok) and not C.is_integer(ratio)


def test_struct_members_bitfields_and_arrays(debug):
    node = debug.find_struct("struct", "node")
    assert (node.display(), node.size, node.declaration) == \
        ("struct node", 72, False)
    assert node.member_names() == ["next", "flags", "mode", "grid", "hue",
                                   "l", "bytes", "call", "tail"]
    members = {m.name: m for m in node.members}
    assert members["next"].type.target is node      # a cycle, read once
    flags, mode = members["flags"], members["mode"]
    assert (flags.offset, flags.bit_offset, flags.bit_size) == (8, 0, 3)
    assert (mode.offset, mode.bit_offset, mode.bit_size) == (8, 3, 5)
    grid = members["grid"].type
    assert (grid.count, grid.element.count, grid.size) == (2, 3, 24)
    assert members["tail"].type.count is None
    assert node.member("bytes")[0] == 40
    assert node.member("bytes")[1].type.size == 8
    call = members["call"].type
    assert isinstance(call, C.Pointer) and isinstance(call.target,
                                                      C.Function)
    assert debug.find_struct("struct", "missing") is None


def test_enums(debug):
    hue = dict((m.name, m) for m in debug.find_struct(
        "struct", "node").members)["hue"].type
    assert (hue.display(), hue.size, hue.signed) == ("enum color", 4, True)
    assert hue.enumerators == [("RED", 0), ("DARK", -1)]
    assert C.is_integer(hue)


def test_pointer_to_struct_parameter(debug):
    p = _variables(_scope(debug))["p"]
    assert p.is_param and p.type.display() == "struct node *"
    assert C.strip(p.type.target).member("mode")[1].bit_size == 5
