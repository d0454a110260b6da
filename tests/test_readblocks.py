"""Which member reads of a handler share one block copy (readblocks.py),
planned on parsed handlers with a made-up layout, and the C the fixture
module's struct probe compiles to."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from stpc.compiler import ast as A
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.parse import parse
from stpc.compiler.preprocess import PreprocessEnv
from stpc.compiler.readblocks import plan_read_blocks

import fixture

# member name -> (offset, size) off any pointer; others are not scalars
LAYOUT = {"a": (0, 4), "b": (8, 8), "c": (16, 2), "d": (60, 4),
          "far": (120, 8), "farther": (128, 4), "next": (0, 8)}


def _plan(body_text: str, guru: bool = False):
    """The plan of one handler, as {member text: (block, start, words)}."""
    env = replace(PreprocessEnv.for_kernel(), guru_mode=guru)
    script = parse(f"probe kernel.function(\"f\") {{ {body_text} }}",
                   "t.stp", env=env)
    names = (f"rb{n}" for n in itertools.count())
    plan = plan_read_blocks(script.probes[0].body,
                            lambda node: LAYOUT.get(node.name),
                            lambda: next(names))
    return {_text(node): (block.name, block.start, block.words)
            for node, block in plan.items()}


def _text(node) -> str:
    if isinstance(node, A.Member):
        return f"{_text(node.base)}->{node.name}"
    return f"${node.name}"


def test_members_off_one_pointer_share_a_block():
    plan = _plan("println($p->a, $p->b, $p->c + $p->d)")
    assert plan == {"$p->a": ("rb0", 0, 8), "$p->b": ("rb0", 0, 8),
                    "$p->c": ("rb0", 0, 8), "$p->d": ("rb0", 0, 8)}


def test_the_block_starts_at_the_first_member_and_ends_past_the_last():
    assert set(_plan("println($p->b + $p->c)").values()) == {("rb0", 8, 2)}


def test_a_chain_prefix_is_a_base_of_its_own():
    plan = _plan("println($p->next->a, $p->next->b, $p->a)")
    assert plan["$p->next->a"] == plan["$p->next->b"]
    assert plan["$p->next"] == plan["$p->a"] != plan["$p->next->a"]


def test_one_read_off_a_base_is_left_alone():
    assert _plan("println($p->a, $q->b)") == {}


def test_a_member_read_twice_shares_its_copy():
    assert set(_plan("if ($p->a) println($p->a)").values()) == \
        {("rb0", 0, 1)}


def test_members_too_far_apart_are_split():
    """a to d span 64 bytes, a to far 128: far starts a block of its own."""
    plan = _plan("println($p->a, $p->b, $p->d, $p->far, $p->farther)")
    assert plan["$p->a"] == plan["$p->b"] == plan["$p->d"] == ("rb0", 0, 8)
    assert plan["$p->far"] == plan["$p->farther"] == ("rb1", 120, 2)


def test_a_member_too_far_from_all_others_is_left_alone():
    assert set(_plan("println($p->a, $p->b, $p->far)")) == {"$p->a", "$p->b"}


def test_members_that_are_not_read_or_not_scalars_are_left_out():
    plan = _plan("println(&$p->a, @defined($p->c), $p->b, $p->name, "
                 "$p->d)")
    assert set(plan) == {"$p->b", "$p->d"}


def test_subscripts_and_casts_on_the_way_are_left_out():
    assert _plan('println($p[0]->a, $p[0]->b, @cast($p, "s")->a, '
                 '@cast($p, "s")->b)') == {}


def test_a_handler_that_writes_target_memory_has_no_block():
    assert _plan("$p->a = 1; println($p->b, $p->c)", guru=True) == {}
    assert _plan("$p->c++; println($p->a, $p->b)", guru=True) == {}


POINT = 'module("stpc_fixture").function("{}")'


@pytest.fixture(scope="module")
def compile_c(kver):
    directory = str(fixture.build_fixture(kver).parent)

    def compile_(source: str, guru: bool = False) -> str:
        options = CompileOptions(kver, debuginfo_path=(directory,),
                                 guru=guru)
        return Compilation(source, "t.stp", options).c_source()
    return compile_


def test_fixture_members_are_read_through_one_block(compile_c):
    """struct stpc_fixture_item: id at 0, label at 24, owner at 48, flags
    at 56 (2 bytes): one copy of 58 bytes, 8 words; the owner's uid is
    read off another pointer, on its own; name (an array) and pos (a
    struct) are not read."""
    c = compile_c(f"probe {POINT.format('stpc_fixture_struct')} {{ "
                  "println($item->id, kernel_string($item->label), "
                  "$item->owner->uid, $item->flags, kernel_string($item->name), "
                  "$item->pos->x) }")
    block = "stpc_block_deref(c, &l->rb0, ((u64)c->regs->di), 0, 8, "
    for offset, size in ((0, 4), (24, 8), (48, 8), (56, 2)):
        assert f"{block}{offset}, {size}, " in c
    assert c.count("stpc_block_deref(c, ") == 4
    assert "struct stpc_read_block rb0;" in c
    assert "l->rb0.filled = false;" in c
    assert f"stpc_deref(c, {block}48, 8, " in c     # ->uid, at offset 0
    assert "+ 32), 8, " in c                        # ->pos->x


def test_fixture_writes_and_return_probes_read_each_member(compile_c):
    reads = "println($item->id, $item->flags)"
    written = compile_c(f"probe {POINT.format('stpc_fixture_struct')} {{ "
                        f"$item->flags = 3; {reads} }}", guru=True)
    returned = compile_c(f"probe {POINT.format('stpc_fixture_struct')}"
                         f".return {{ {reads} }}")
    for c in (written, returned):
        assert "stpc_block_deref(c, " not in c
        assert "struct stpc_read_block" not in c
