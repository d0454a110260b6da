"""Compile-time errors of kernel and module probes, against the fixture
module's DWARF: each names the problem, points at the token and hints at
what exists."""

from __future__ import annotations

import pytest

from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError, StpcErrors

import fixture

POINT = 'module("stpc_fixture").function("{}")'


@pytest.fixture(scope="module")
def compile_c(kver):
    directory = str(fixture.build_fixture(kver).parent)

    def compile_(source: str) -> str:
        options = CompileOptions(kver, debuginfo_path=(directory,))
        return Compilation(source, "t.stp", options).c_source()
    return compile_


def _error(compile_c, source: str) -> StpcError:
    with pytest.raises(StpcError) as info:
        compile_c(source)
    error = info.value
    if isinstance(error, StpcErrors):
        error = error.errors[0]
    return error


def _probe(function: str, body: str, suffix: str = "") -> str:
    return f"probe {POINT.format(function)}{suffix} {{ {body} }}"


CASES = [
    # (function, body, suffix, message part, hint part, token pointed at)
    ("stpc_fixture_intz", "", "", "no function matches 'stpc_fixture_intz'",
     "stpc_fixture_ints", "function"),
    ("stpc_fixture_ints", "println($j)", "", "unknown target variable '$j'",
     "$i", "$j"),
    ("stpc_fixture_struct", "println($item->nam)", "",
     "struct stpc_fixture_item has no member 'nam'", "'name'", "->nam"),
    ("stpc_fixture_struct", "println($item->pos)", "",
     "is a struct stpc_fixture_point, not a number", "members: x, y", "->pos"),
    ("stpc_fixture_ints", "println($return)", "",
     "$return is only available in .return probes", None, "$return"),
    ("stpc_fixture_return", "println(&$a)", ".return",
     "'$a' in a .return probe", "@entry($a)", "$a"),
    ("stpc_fixture_struct", 'println(@cast($item, "struct nope")->id)', "",
     "no struct nope", None, "@cast"),
    ("stpc_fixture_init", "", "", "is init code", None, "function"),
    ("stpc_fixture_ints", "println($$nonsense)", "",
     "unknown context variable '$$nonsense'", None, "$$nonsense"),
    ("stpc_fixture_return", "println(&@entry($a))", ".return",
     "'@entry' is not a target value", None, "@entry"),
]


@pytest.mark.parametrize("function,body,suffix,message,hint,token", CASES)
def test_probe_error(compile_c, function, body, suffix, message, hint,
                     token):
    source = _probe(function, body, suffix)
    error = _error(compile_c, source)
    assert message in error.message
    if hint is not None:
        assert hint in (error.hint or "")
    assert (error.span.line, error.span.col) == (1, source.index(token) + 1)


def test_optimized_out_variable_says_where_it_is_available(compile_c):
    # at the loop line, n has been replaced by a loop bound: readable at
    # entry only; the statement probe must say so or read it fine
    source = ('probe module("stpc_fixture").statement('
              '"stpc_fixture_locals@stpc_fixture.c:242") { println($n) }')
    try:
        compile_c(source)
    except StpcError as error:
        assert "is not available" in error.message
        assert "use .statement" in (error.hint or "") or error.hint is None


def test_target_variables_outside_kernel_probes(compile_c):
    error = _error(compile_c, "probe begin { println($x) }")
    assert "not available in 'begin' probes" in error.message
    error = _error(compile_c, "function f() { return $x } "
                   "probe begin { f() }")
    assert "only be used in kernel and module probe handlers" in \
        error.message
    assert "@cast" in error.hint


def _kernel_offset(kver, struct: str, *members: str) -> int:
    from stpc.compiler import ctype as C
    from stpc.compiler.btf import load_kernel_btf
    offset, found = 0, load_kernel_btf(kver).struct(struct)
    for name in members:
        at, member = C.strip(found).member(name)
        offset, found = offset + at, member.type
    return offset


def test_cast_reads_kernel_structs_in_functions_and_begin(compile_c, kver):
    """Away from a probed function, @cast reads the kernel's BTF: the
    member's offset is vmlinux's, read fault-safe."""
    c = compile_c('function tgid_of(t) { return @cast(t, "task_struct", '
                  '"kernel<linux/sched.h>")->tgid } '
                  'probe begin { println(tgid_of(0), " ", '
                  '@cast(0, "struct task_struct")->signal->nr_threads) }')
    tgid = _kernel_offset(kver, "task_struct", "tgid")
    signal = _kernel_offset(kver, "task_struct", "signal")
    threads = _kernel_offset(kver, "signal_struct", "nr_threads")
    assert f"stpc_deref(c, (((u64)(l->vars.l_t)) + {tgid}), 4," in c
    assert f"stpc_deref(c, (stpc_deref(c, (((u64)(((s64)0LL))) + " \
        f"{signal}), 8," in c and f"+ {threads}), 4," in c


@pytest.mark.parametrize("source, message", [
    ('function f(t) { return @cast(t, "task_struct", "ext4")->pid } '
     'probe begin { f(0) }',
     "@cast here reads the kernel's types: its module must be \"kernel\""),
    ('function f(t) { return @cast(t, "no_such_struct")->pid } '
     'probe begin { f(0) }',
     "no struct no_such_struct in the debug information of the kernel"),
    ('function f(t) { return @cast(t, "task_struct")->no_such_member } '
     'probe begin { f(0) }',
     "struct task_struct has no member 'no_such_member'"),
    ('probe begin { println(@cast(0, "enum pid_type")->x) }',
     "@cast type 'enum pid_type' must be 'struct NAME', 'union NAME' or "
     "'NAME'"),
    ('probe begin { println(@entry(@cast(0, "task_struct")->pid)) }',
     "@entry is only available in .return probes"),
])
def test_cast_errors_away_from_probed_functions(compile_c, source, message):
    assert message in _error(compile_c, source).message


def test_optional_point_that_matches_nothing_is_dropped(compile_c):
    c_source = compile_c(_probe("stpc_fixture_nope", "println(1)", "?") +
                         " probe begin { exit() }")
    assert "stpc_kprobes[] = {\n\t{ }" in c_source


def test_a_module_without_dwarf_is_named(kver):
    options = CompileOptions(kver)
    source = 'probe module("no_such_module_x").function("f") { }'
    with pytest.raises(StpcError) as info:
        Compilation(source, "t.stp", options).c_source()
    assert "no DWARF found for module no_such_module_x" in info.value.message


def test_an_error_in_a_wildcards_handler_is_reported_once(compile_c):
    """The handler is checked once per function the glob matched (three
    here); the same error at the same place is one error."""
    with pytest.raises(StpcError) as info:
        compile_c(_probe("stpc_fixture_r*", 'println(@cast(0, "struct '
                         'stpc_fixture_point")->nosuch)'))
    assert not isinstance(info.value, StpcErrors)
    assert info.value.message == \
        "struct stpc_fixture_point has no member 'nosuch'"
