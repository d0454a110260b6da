"""Pass 2's Program is read-only: pass 2 decides every slot the loader
fills, including those of target variables' addresses, and translating a
program leaves it as it was."""

from __future__ import annotations

import dataclasses

import pytest

from stpc.compiler.driver import Compilation, CompileOptions, run_deep
from stpc.compiler.translate import ModuleInfo, translate

import fixture

# @var reads a .bss and a .data variable; the second only at the
# function's entry, through an index inside @entry()
ADDRESSES = """
global seen
probe module("stpc_fixture").function("stpc_fixture_struct").return {
    seen[@var("stpc_fixture_counter")] =
        @entry($item->vals[@var("stpc_fixture_cur_owner")->uid & 3])
}
"""
PLAIN = """
global n, s
probe begin { n = 1; s = "x"; n++ }
probe end { printf("%d %s\\n", n, s) }
"""


def _program(source: str, kver: str, debuginfo_path=()):
    options = CompileOptions(kernel_release=kver, module_name="t_prog",
                             debuginfo_path=debuginfo_path)
    return Compilation(source, "t.stp", options).program()


@pytest.fixture(scope="module")
def with_addresses(kver):
    where = str(fixture.build_fixture(kver).parent)
    return _program(ADDRESSES, kver, (where,))


def _translate(program) -> str:
    return run_deep(lambda: translate(
        program, ModuleInfo("t_prog", "0" * 64, "test")))


def test_pass_2_gives_target_variables_their_slots(with_addresses):
    slots = with_addresses.probed["stpc_fixture"].slots
    assert slots == (".gnu.linkonce.this_module", ".note.gnu.build-id",
                     ".text", ".bss", ".data")
    assert with_addresses.nslots == len(slots)


@pytest.mark.parametrize("which", ["addresses", "plain"])
def test_translating_leaves_the_program_as_it_was(which, kver, request):
    program = request.getfixturevalue("with_addresses") \
        if which == "addresses" else _program(PLAIN, kver)
    before = repr(program)
    first = _translate(program)
    assert repr(program) == before
    assert _translate(program) == first


def test_the_program_cannot_be_changed(with_addresses):
    program = with_addresses
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.probed = {}
    with pytest.raises(TypeError):
        program.globals["other"] = program.globals["seen"]
    with pytest.raises(TypeError):
        program.types[object()] = None
    with pytest.raises(AttributeError):
        program.sites.append(program.sites[0])
    site = program.sites[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        site.variant = -1
    with pytest.raises(dataclasses.FrozenInstanceError):
        site.resolved.pc = 0
    module = program.probed["stpc_fixture"]
    with pytest.raises(AttributeError):
        module.slots.append(".rodata")


def test_an_array_nothing_uses_gets_no_storage(kver):
    """SystemTap elides it; it has no type to store."""
    program = _program("global unused[3], used\n"
                       "probe begin { used[1] = 2; println(used[1]) }", kver)
    c_source = _translate(program)
    assert "/* used */" in c_source or '"used"' in c_source
    assert '"unused"' not in c_source


def test_an_initialiser_alone_is_not_printed_at_the_end(kver):
    """stap -p2 leaves out `trunc` (only initialised) and prints `on`
    (written, never read) at the end; a tapset's initialised global, such
    as syscall_string_trunc, must not print either."""
    program = _program("global on, trunc = 50, name = \"x\"\n"
                       "probe begin { on = 1; exit() }", kver)
    assert [g.name for g in program.unread_globals()] == ["on"]
