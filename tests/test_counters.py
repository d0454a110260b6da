"""Globals that are only added to become per-CPU counters without a lock;
any other write keeps them ordinary locked globals."""

from __future__ import annotations

import re

import pytest

from stpc.compiler.driver import Compilation, CompileOptions


def compile_script(source: str) -> Compilation:
    return Compilation(source, "t.stp", CompileOptions(kernel_release="any", module_name="t_cnt"))


@pytest.mark.parametrize("body", [
    "n++", "++n", "n--", "--n", "n += 3", "n -= pid()",
    "for (i = 0; i < 3; n++) i++",
    "for (n++; 0; ) {}",
    "bump()",
])
def test_adds_used_as_statements_make_a_counter(body):
    comp = compile_script(
        f"global n = 4\nfunction bump() {{ n += 2 }}\n"
        f"probe begin {{ {body}; println(n); exit() }}\n")
    assert comp.program().globals["n"].counter


@pytest.mark.parametrize("body", [
    "n++; n = 0",
    "x = n++",
    "println(n += 1)",
    "n *= 2",
    "n++; delete n",
    "n++; if (n++) {}",
    "n = n + 1",
])
def test_any_other_write_keeps_a_locked_global(body):
    comp = compile_script(f"global n\nprobe begin {{ {body}; exit() }}\n")
    assert not comp.program().globals["n"].counter


def test_strings_arrays_and_statistics_are_never_counters():
    comp = compile_script(
        'global s, a, st\nprobe begin { s .= "x"; a[1]++; a[2] += 1; '
        'st <<< 1; exit() }\n')
    assert not any(g.counter for g in comp.program().globals.values())


def test_a_local_shadowing_a_global_does_not_count():
    comp = compile_script(
        "global n\nfunction f(n) { n++; return n }\n"
        "probe begin { n = f(1); exit() }\n")
    assert not comp.program().globals["n"].counter


def _lock_entries(c_source: str):
    return re.findall(r"\{ \.index = (\d+), \.write = (\d) \}", c_source)


def test_counters_take_no_lock_and_are_per_cpu():
    comp = compile_script(
        "global hits, seen\n"
        "probe timer.profile { hits++; seen[cpu()] = 1 }\n"
        "probe timer.s(1) { printf(\"%d\\n\", hits); exit() }\n")
    source = comp.c_source()
    assert "static DEFINE_PER_CPU(s64, stpc_pc_hits);" in source
    assert "this_cpu_add(stpc_pc_hits, v)" in source
    assert "stpc_counter_read(&stpc_pc_hits, stpc_g.g_hits)" in source
    hits = comp.program().globals["hits"].index
    seen = comp.program().globals["seen"].index
    indices = {int(index) for index, _ in _lock_entries(source)}
    assert seen in indices and hits not in indices
