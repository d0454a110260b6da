"""@entry(EXPR) of any long or string expression in .return probes
(compiler/entryvalues.py), against the fixture module's DWARF: what is
refused and where, and where the values lie in the per-call data.  The
values themselves are checked in the VM (tests/corpus/fixture/entry_expr.stp,
uprobes/return-entry-expressions in tests/vmcases.py)."""

from __future__ import annotations

import re

import pytest

from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.entryvalues import ENTRY_DATA_MAX
from stpc.compiler.errors import StpcError, StpcErrors

import fixture

POINT = 'module("stpc_fixture").function("stpc_fixture_ptr")'
RETURN = f"probe {POINT}.return"


@pytest.fixture(scope="module")
def compile_c(kver):
    directory = str(fixture.build_fixture(kver).parent)

    def compile_(source: str, defines=()) -> str:
        options = CompileOptions(kver, debuginfo_path=(directory,),
                                 defines=tuple(defines))
        return Compilation(source, "t.stp", options).c_source()
    return compile_


def _errors(compile_c, source: str, defines=()) -> list:
    with pytest.raises(StpcError) as info:
        compile_c(source, defines)
    error = info.value
    return error.errors if isinstance(error, StpcErrors) else [error]


# (script, message part, the text the error points at)
REFUSED = [
    (f"global s {RETURN} {{ s <<< 1; println(@entry(s)) }}",
     "statistic 's' can only be read with @count", "s))"),
    (f"{RETURN} {{ println(@entry(@entry($p))) }}",
     "@entry inside @entry", "@entry($p)"),
    (f"{RETURN} {{ x = 1; println(@entry(x + 1)) }}",
     "local 'x' in @entry: the expression is read at the function's entry",
     "x + 1"),
    (f"{RETURN} {{ println(@entry($p, 1)) }}",
     "@entry takes one expression", "@entry"),
    (f"{RETURN}, {POINT} {{ println(@entry($p)) }}",
     "@entry is only available in .return probes", "@entry"),
    (f"function f() {{ return @entry(1) }} {RETURN} {{ println(f()) }}",
     "@entry is only available in .return probes", "@entry"),
    (f"{RETURN} {{ println(@entry(print(1))) }}",
     "function 'print' returns no value", "print(1)"),
]


@pytest.mark.parametrize("source, message, token", REFUSED)
def test_refused_at_its_place(compile_c, source, message, token):
    error = _errors(compile_c, source)[0]
    assert message in error.message
    assert error.span is not None
    assert (error.span.line, error.span.col) == (1, source.index(token) + 1)


def _strings(count: int) -> str:
    """A .return probe reading ``count`` strings at entry."""
    args = ", ".join(f'@entry(sprint({i}, kernel_string($name)))'
                     for i in range(count))
    return f"{RETURN} {{ println({args}) }}"


def test_entry_values_fit_the_per_call_data(compile_c):
    """Eight strings of the default MAXSTRINGLEN (512) fill the 4096
    bytes a call keeps; a ninth is refused where it is, and fits once
    MAXSTRINGLEN is lowered."""
    assert ENTRY_DATA_MAX == 4096
    compile_c(_strings(8))
    source = _strings(9)
    error = _errors(compile_c, source)[0]
    assert "take more than 4096 bytes a call" in error.message
    assert "MAXSTRINGLEN (512)" in error.message
    assert error.span.col == source.index("@entry(sprint(8") + 1
    compile_c(source, [("MAXSTRINGLEN", "256")])


def test_numbers_then_strings_in_the_per_call_data(compile_c):
    """The entry handler stores each value in the probe's data (numbers
    as s64s first, then strings of MAXSTRINGLEN); the .return handler
    reads them there, and the probe's data is that size."""
    c_source = compile_c(f'{RETURN} {{ printf("%s %d %s %d\\n", '
                         '@entry(kernel_string($name)), @entry($p + 1), '
                         '@entry(execname()), @entry(kernel_int($p))) }')
    entry = re.search(r"static void stpc_entry_\d+\(.*?\n}\n", c_source,
                      re.S).group(0)
    assert "stpc_str_assign(((char *)c->data + 16 + 0 * MAXSTRINGLEN), " \
        in entry
    assert "stpc_str_assign(((char *)c->data + 16 + 1 * MAXSTRINGLEN), " \
        "current->comm);" in entry
    assert "\t((s64 *)c->data)[0] = " in entry
    assert "\t((s64 *)c->data)[1] = " in entry
    assert ".entry_size = 16 + 2 * MAXSTRINGLEN," in c_source
    assert "const char * a0 = ((char *)c->data + 16 + 0 * MAXSTRINGLEN);" \
        in c_source


def test_a_global_read_at_entry_takes_the_probes_locks(compile_c):
    c_source = compile_c(f"global n {RETURN} {{ println(@entry(n++), n) }}")
    assert re.search(r"\.entry = {.*?\.nlocks = 1,", c_source, re.S)
