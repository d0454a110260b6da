"""Guru mode (-g): embedded C (``%{ ... %}``) and writes to target
variables, allowed only with -g; without it both stay refused, located."""

from __future__ import annotations

from pathlib import Path

import pytest

from stpc.compiler import build as build_pass
from stpc.compiler import cli
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.ast import Span
from stpc.compiler.errors import StpcError, StpcErrors
from stpc.compiler.parse import parse
from stpc.compiler.preprocess import PreprocessEnv
from stpc.compiler.unparse import unparse

GURU = PreprocessEnv("6.1.0-57-amd64", guru_mode=True)

EMBEDDED = """\
%{
#include <linux/jiffies.h>
static long stpc_test_double(long x) { return 2 * x; }
%}
function twice:long (a:long) %{ /* pure */ STAP_RETVALUE = stpc_test_double(STAP_ARG_a); %}
function greet:string (who:string, n:long) %{ /* pure */ /* unprivileged */
	snprintf(STAP_RETVALUE, MAXSTRINGLEN, "%s %lld", STAP_ARG_who,
		 (long long)STAP_ARG_n);
%}
function hz:long () %{ /* stable */ STAP_RETURN(HZ); %}
function name:string () %{ STAP_RETURN("stpc"); %}
function check (n) %{
	if (STAP_ARG_n > 2)
		STAP_ERROR("too big: %lld", (long long)STAP_ARG_n);
	(void)CONTEXT;
%}
function inferred (x) %{ STAP_RETVALUE = STAP_ARG_x + 1; %}
probe begin {
	println(twice(21), greet("n", 2), hz(), name())
	y = inferred(1); println(y + 1)
	check(3)
	exit()
}
"""


def compilation(text, release="6.1.0-57-amd64", guru=True, **options):
    return Compilation(text, "t.stp",
                       CompileOptions(release, guru=guru, **options))


def test_without_guru_mode_embedded_c_is_refused_where_it_starts():
    with pytest.raises(StpcError) as exc:
        compilation(EMBEDDED, guru=False).script()
    assert exc.value.message == "embedded C needs guru mode (-g)"
    assert (exc.value.span.line, exc.value.span.col) == (1, 1)


@pytest.mark.parametrize("text", [
    'probe kernel.function("vfs_read") { $count = 0 }',
    'probe kernel.function("vfs_read") { $file->f_flags |= 1 }',
    'probe kernel.function("vfs_read") { $count++ }',
])
def test_without_guru_mode_target_writes_are_refused(text):
    with pytest.raises(StpcError) as exc:
        parse(text, "t")
    assert exc.value.message == "writing a target variable needs guru mode (-g)"
    assert exc.value.span.line == 1


def test_embedded_c_in_an_expression_is_refused_even_with_guru_mode():
    with pytest.raises(StpcError) as exc:
        parse("probe begin { x = %{ 1 %} }", "t", env=GURU)
    assert exc.value.message.startswith("embedded C stands only")
    assert exc.value.span.col == 19


def test_guru_mode_parses_blocks_and_embedded_functions():
    script = parse(EMBEDDED, "t", env=GURU)
    assert [b.span.line for b in script.embedded] == [1]
    assert "stpc_test_double(long x)" in script.embedded[0].code
    twice = script.functions[0]
    assert twice.embedded.code.strip().endswith("stpc_test_double(STAP_ARG_a);")
    assert twice.body.body == ()
    again = parse(unparse(script), "t", env=GURU)
    assert unparse(again) == unparse(script)


def test_guru_mode_condition_follows_g():
    text = "probe begin { x = %( guru_mode == 1 %? 1 %: 2 %) println(x) }"
    assert "1" in unparse(compilation(text).script())
    assert "2" in unparse(compilation(text, guru=False).script())


def test_embedded_c_types_come_from_declarations_and_use():
    program = compilation(EMBEDDED).program()
    types = {name: str(f.return_type) for name, f in
             program.functions.items()}
    assert types == {"twice": "long", "greet": "string", "hz": "long",
                     "name": "string", "check": "None", "inferred": "long"}
    assert str(program.functions["check"].params[0].type) == "long"


def test_an_embedded_parameter_without_a_type_to_infer_is_an_error():
    text = "function f(a) %{ %}\nprobe begin { f(x) }"
    with pytest.raises(StpcErrors) as exc:
        compilation(text).program()
    unresolved = [e for e in exc.value.errors
                  if e.message == "unresolved type for identifier 'a'"]
    assert [(e.span.line, e.span.col) for e in unresolved] == [(1, 12)]


def test_embedded_c_is_emitted_with_markers_and_macros():
    c_source = compilation(EMBEDDED).c_source()
    top = c_source.index("/* %{ t.stp:1:1 */\n\n#include <linux/jiffies.h>")
    assert top < c_source.index("/* ---- probed modules")
    assert "#define STAP_ARG_a (l->vars.l_a)" in c_source
    assert "/* %{ t.stp:5:30 */\n /* pure */ STAP_RETVALUE" in c_source
    # STAP_ERROR's location is the call's, as in SystemTap
    assert ("c->error_location = \"near identifier 'check' at t.stp:21:2\""
            in c_source)


def test_build_errors_in_embedded_c_point_into_the_block():
    c_source = "\n".join(["x", "/* %{ t.stp:3:20 */", " a = b;",
                          "\tc = d;", "/* t.stp:9:2 */", "e"])
    # the block's first line starts after '%{'
    assert build_pass._script_span(c_source, 3, 6) == Span("t.stp", 3, 27)
    span = build_pass._script_span(c_source, 4, 13)
    assert (span.line, span.col) == (4, 6)   # the tab counts 8 in gcc
    assert build_pass.in_embedded_c(c_source, 4)
    assert not build_pass.in_embedded_c(c_source, 6)


def test_guru_mode_changes_the_raw_input_key():
    tree = Path("/lib/modules/6.1.0-57-amd64/build")
    options = CompileOptions("6.1.0-57-amd64", build_tree=tree)
    guru = CompileOptions("6.1.0-57-amd64", build_tree=tree, guru=True)
    assert cli._raw_key(options, "t.stp", "probe begin {}") != \
        cli._raw_key(guru, "t.stp", "probe begin {}")


@pytest.mark.kbuild
def test_embedded_functions_build_with_werror(kver, tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    assert compilation(EMBEDDED, kver).module().exists()


@pytest.mark.kbuild
def test_a_compile_error_in_embedded_c_is_located_in_it(kver, tmp_path,
                                                         monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    text = ("function bad:long () %{\n"
            "\tlong x = 1;\n"
            "\tSTAP_RETVALUE = x + no_such_name;\n"
            "%}\n"
            "probe begin { println(bad()) }\n")
    with pytest.raises(StpcError) as exc:
        compilation(text, kver).module()
    assert "no_such_name" in exc.value.message
    assert (exc.value.span.line, exc.value.span.col) == (3, 22)
    assert exc.value.hint.startswith("the embedded C")


# ---- $target writes, at a real kernel function (the vmlinux's DWARF) ----

WRITES = """\
probe kernel.function("vfs_read") {
	$count = 0
	$file->f_flags |= 1
	println($pos[0]++);
	--$file->f_pos
}
"""


@pytest.fixture(scope="module")
def dwarf_release():
    from stpc.compiler.probes import ProbeEnvironment, find_vmlinux
    release = "6.1.0-57-amd64"
    if find_vmlinux(ProbeEnvironment(release)) is None:
        pytest.skip(f"no vmlinux with DWARF for {release} in the cache")
    return release


def dwarf_compilation(text, release, **options):
    return compilation(text, release, kernel_types="dwarf", **options)


def test_target_writes_lower_to_registers_and_fault_safe_stores(
        dwarf_release):
    c_source = dwarf_compilation(WRITES, dwarf_release).c_source()
    # $count is in a register at the entry: its saved value is written
    assert "s64 r = v; c->regs->dx = (unsigned long)(r); r;" in c_source
    # a member: read, or-ed, then stored through the fault-safe helper
    assert "static __maybe_unused void stpc_kernel_write(" in c_source
    assert ("stpc_kernel_write(c, (((u64)c->regs->di) + 64), r, 4, "
            "\"near operator '->' at t.stp:3:7\")") in c_source
    # x++ gives the old value, --x the new one
    assert "old; })" in c_source and "r; })" in c_source


def test_without_target_writes_there_is_no_write_helper(dwarf_release):
    text = 'probe kernel.function("vfs_read") { println($count) }'
    c_source = dwarf_compilation(text, dwarf_release).c_source()
    assert "stpc_kernel_write" not in c_source


@pytest.mark.parametrize("body, message, column", [
    ("$file->f_path = 1", "'->f_path' is struct path: only integers and "
     "pointers can be written", 6),
    ('@cast(0, "struct task_struct")->in_execve = 1',
     "'->in_execve' cannot be written at", 31),
    ('$count = "x"', "type mismatch: expected long, found string", 1),
    ("$nothere = 1", "unknown target variable '$nothere'", 1),
])
def test_unwritable_targets_are_located_errors(dwarf_release, body, message,
                                               column):
    text = f'probe kernel.function("vfs_read") {{\n{body}\n}}'
    with pytest.raises(StpcError) as exc:
        dwarf_compilation(text, dwarf_release).program()
    assert exc.value.message.startswith(message)
    assert (exc.value.span.line, exc.value.span.col) == (2, column)


@pytest.mark.kbuild
def test_target_writes_build_with_werror(dwarf_release):
    # the shared cache: it holds the vmlinux's DWARF index (a module found
    # there was built from the same C, with -Werror)
    text = WRITES + ('probe kernel.function("vfs_read").return '
                     '{ $return = -5 }\n')
    assert dwarf_compilation(text, dwarf_release).module().exists()
