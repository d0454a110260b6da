"""The preprocessor (compiler/preprocess.py): macros and conditionals as
SystemTap 4.8 has them, errors located in the script, spans kept.

Each tests/corpus/preprocess/NAME.stp has NAME.expanded.stp, the script
written out as 6.1.0-57-amd64 (the lines of its configuration asked about
are in kernel.config) makes it: both parse to the same syntax tree.
Where SystemTap and that kernel are installed, ``stap -p1`` says the same
of both (the oracle the expanded scripts were checked with)."""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stpc.compiler.driver import CompileOptions, Compilation
from stpc.compiler.errors import StpcError
from stpc.compiler.parse import parse
from stpc.compiler.preprocess import (MAX_MACRO_DEPTH, PreprocessEnv,
                                      preprocess, version_compare)
from stpc.compiler.unparse import unparse

CORPUS = Path(__file__).parent / "corpus" / "preprocess"
RELEASE = "6.1.0-57-amd64"
ENV = PreprocessEnv(RELEASE, arch="x86_64",
                    config_path=CORPUS / "kernel.config")
SCRIPTS = sorted(p for p in CORPUS.glob("*.stp")
                 if not p.name.endswith(".expanded.stp"))


def args_of(path: Path):
    args = path.with_suffix(".args")
    return args.read_text().split() if args.exists() else []


def expanded(path: Path) -> Path:
    return path.with_suffix(".expanded.stp")


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_corpus_parses_as_written_out(path):
    args = args_of(path)
    assert unparse(parse(path.read_text(), path.name, args, env=ENV)) == \
        unparse(parse(expanded(path).read_text(), path.name, args, env=ENV))


def _stap_p1(path: Path, args) -> str:
    proc = subprocess.run(["stap", "-p1", "-r", RELEASE, path.name, *args],
                          cwd=path.parent, capture_output=True, text=True,
                          timeout=120)
    return "\n".join(line for line in (proc.stdout + proc.stderr)
                     .splitlines() if not line.startswith("#"))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_stap_agrees_with_the_corpus(path):
    if shutil.which("stap") is None or \
            not Path(f"/boot/config-{RELEASE}").exists():
        pytest.skip(f"SystemTap or the {RELEASE} configuration is missing")
    args = args_of(path)
    said = _stap_p1(path, args)
    assert "error" not in said
    assert said == _stap_p1(expanded(path), args)


def test_a_script_without_directives_is_parsed_as_it_is():
    source = 'probe begin { printf("%(%d%)\\n", 5 % (2)) } # %( @define'
    text = preprocess(source, "t.stp", ENV)
    assert text.text == source and not text.anchors


def test_spans_after_conditionals_are_the_scripts():
    source = ('probe begin {\n'
              '  x = %( kernel_v >= "6.0" %?\n'
              '        1\n'
              '      %: 2 %) + y; z = 3\n'
              '}\n')
    probe = parse(source, "t.stp", env=ENV).probes[0]
    assign = probe.body.body[0].expr
    assert (assign.value.span.line, assign.value.span.col) == (4, 15)
    assert (assign.value.right.span.line, assign.value.right.span.col) == \
        (4, 17)
    assert (assign.value.left.span.line, assign.value.left.span.col) == (3, 9)
    third = probe.body.body[1].expr
    assert (third.span.line, third.span.col) == (4, 22)


def test_a_macros_body_is_placed_where_it_is_used():
    source = ('@define pair(a) %( (@a + 1) * 2 %)\n'
              'probe begin {\n'
              '  x = 1 + @pair(y)\n'
              '}\n')
    assign = parse(source, "t.stp", env=ENV).probes[0].body.body[0].expr
    product = assign.value.right
    assert (product.span.line, product.span.col) == (3, 11)
    argument = product.left.left        # y, written at the use
    assert (argument.span.line, argument.span.col) == (3, 17)


def located(source, args=()):
    with pytest.raises(StpcError) as exc:
        parse(source, "t.stp", args, env=ENV)
    return exc.value.message, exc.value.span.line, exc.value.span.col


@pytest.mark.parametrize("source, message, line, col", [
    ("probe begin { x = %( foo == 1 %? 1 %) }", "a condition compares", 1,
     22),
    ("probe begin { x = %( (1 == 1) %? 1 %) }", "a condition compares", 1,
     22),
    ("probe begin { x = %( defined(x) %? 1 %) }", "a condition compares",
     1, 22),
    ("probe begin { x = %( %? 1 %: 2 %) }", "a condition compares", 1, 22),
    ("probe begin { x = %( 1 == 1 && %? 1 %) }", "a condition compares", 1,
     32),
    ("probe begin { x = %( kernel_v == 6 %? 1 %) }", "expected a string",
     1, 34),
    ("probe begin { x = %( kernel_v %? 1 %) }", "expected a comparison", 1,
     31),
    ("probe begin { x = %( 1 = 1 %? 1 %) }", "expected a comparison", 1,
     24),
    ("probe begin { x = %( arch >= \"x\" %? 1 %) }",
     "'arch' compares only with == or !=", 1, 27),
    ("probe begin { x = %( CONFIG_SMP < \"y\" %? 1 %) }",
     "'CONFIG_SMP' compares only", 1, 33),
    ("probe begin { x = %( guru_mode == \"0\" %? 1 %) }",
     "expected a number", 1, 35),
    ("probe begin { x = %( 1 < \"b\" %? 1 %) }", "expected a number", 1,
     26),
    ("probe begin { x = %( 0x10 == 16 %? 1 %) }", "number '0x10' in a "
     "condition is not decimal", 1, 22),
    ("probe begin { x = %( 1 == 1 1 %: 2 %) }", "expected '%?' after", 1,
     29),
    ("probe begin { x = %( 1 == 1 %? 1 %: 2 %: 3 %) }",
     "a second '%:'", 1, 39),
    ("probe begin { x = %( 1 == 1 %? 1 %? 2 %) }", "a second '%?'", 1, 34),
    ("probe begin { x = 1 %) }", "'%)' without '%(' before it", 1, 21),
    ("probe begin { x = 1 %: 2 }", "'%:' without '%('", 1, 21),
    ("probe begin {\n x = %( 1 == 1 %? 1 %: 2 }", "'%(' has no '%)'", 2,
     6),
    ("probe begin { x = %(", "'%(' has no condition", 1, 19),
    ("probe begin { x = %( $3 == 2 %? 1 %) }", "script argument '$3' not "
     "given (0 given)", 1, 22),
    ("@define foo bar", "expected '%(' or '(' after @define foo", 1, 13),
    ("@define %( 1 %)", "expected a macro name after @define", 1, 9),
    ("@define", "expected a macro name after @define, not end of file", 1,
     1),
    ("@define f(a,) %( 1 %)", "expected a parameter name", 1, 13),
    ("@define f(a b) %( 1 %)", "expected ',' or ')' after a parameter", 1,
     13),
    ("@define foo %( 1 +\nprobe begin { }", "macro @foo has no '%)'", 1,
     9),
    ("@define f %( 1 %)\n@define f %( 2 %)",
     "macro @f is already defined (line 1)", 2, 9),
    ("@define f(a, b) %( @a %)\nprobe begin { x = @f(1) }",
     "@f takes 2 arguments, 1 given", 2, 23),
    ("@define f(a) %( @a %)\nprobe begin { x = @f(1, (2, 3), 4) }",
     "@f takes 1 argument, more given", 2, 23),
    ("@define f(a) %( @a %)\nprobe begin { x = @f }",
     "expected '(' after @f, which takes 1 argument", 2, 22),
    ("@define f(a) %( @a %)\nprobe begin { x = @f(1", "@f( has no ')'", 2,
     19),
    ("@define f %( @f %)\nprobe begin { x = @f }",
     f"macro @f expands into itself, or macros nest more than "
     f"{MAX_MACRO_DEPTH} deep", 2, 19),
    ("@define f %( 1 ] %)\nprobe begin {\n  x = @f }",
     "syntax error at ']' (in expansion of @f)", 3, 7),
    ("@define f %( ' %)\nprobe begin { x = @f }",
     "unexpected character \"'\" (in expansion of @f)", 2, 19),
    ("@define f %( %( foo %? 1 %) %)\nprobe begin { x = @f }",
     "a condition compares", 2, 19),
    ("probe begin { %( 1 == 1 %? %{ x %} %) }", "embedded C", 1, 28),
    ("%( 1 == 1 %? probe begin { x = ( } %)", "syntax error at '}'", 1,
     34),
])
def test_errors_are_located(source, message, line, col):
    said, said_line, said_col = located(source)
    assert said.startswith(message)
    assert (said_line, said_col) == (line, col)


def test_a_misspelled_condition_gets_a_hint():
    with pytest.raises(StpcError) as exc:
        parse("probe begin { x = %( kernl_v == \"6\" %? 1 %) }", "t.stp",
              env=ENV)
    assert "'kernel_v'" in exc.value.hint


def test_macros_expanding_without_end_are_refused():
    doubling = "".join(f"@define m{i} %( @m{i + 1} @m{i + 1} %)\n"
                       for i in range(30)) + "@define m30 %( 1 %)\n"
    message, _, _ = located(doubling + "probe begin { x = @m0 }")
    assert message.startswith("macros expand into more than")


def test_a_macro_is_not_defined_in_a_branch_not_taken():
    """As stap 4.8 does (its manual says both branches are expanded)."""
    script = parse("%( 1 == 0 %? @define f %( 1 %) %: @define f %( 2 %) %)"
                   "\n@define g(a) %( @a %)"
                   "\nprobe begin { x = @f %( 1 == 0 %? @g(1, 2) %) }",
                   "t.stp", env=ENV)
    assert script.probes[0].body.body[0].expr.value.value == 2


def test_missing_configuration_is_an_error_at_the_option():
    env = PreprocessEnv(RELEASE, config_path=None)
    with pytest.raises(StpcError) as exc:
        parse("probe begin { x = %( arch == \"*\" && CONFIG_SMP == \"y\" %? 1"
              " %) }", "t.stp", env=env)
    assert exc.value.message.startswith("no kernel configuration to read "
                                        "CONFIG_SMP")
    assert exc.value.span.col == 37


def test_the_compilation_asks_about_its_kernel(tmp_path):
    (tmp_path / ".config").write_text("CONFIG_STPC_TEST=m\n")
    source = ('probe begin { x = %( kernel_vr == "9.8.7-test" && '
              'CONFIG_STPC_TEST == "m" %? 1 %: 2 %) }')
    options = CompileOptions("9.8.7-test", build_tree=tmp_path)
    script = Compilation(source, "t.stp", options).script()
    assert script.probes[0].body.body[0].expr.value.value == 1


def test_the_default_environment_is_the_running_kernels():
    source = (f'probe begin {{ x = %( kernel_vr == "{os.uname().release}" '
              f'&& arch != "" && guru_mode == 0 %? 1 %: 2 %) }}')
    script = parse(source, "t.stp")
    assert script.probes[0].body.body[0].expr.value.value == 1


VERSIONS = ["", "0", "00", "000", "01", "010", "09", "1", "9", "10", "1.0",
            "1.01", "1.1", "1.10", "1.9", "2.6.13", "2.6.13-1", "6.1",
            "6.1.0", "6.1.0-57", "6.10", "6.12.95+deb12", "a", "a1", "a10",
            "a9", "1a", "0a", "00a", "1.001", "1.0a"]


def test_versions_order_as_the_manual_says():
    ordered = ["000", "00", "01", "010", "09", "0", "1", "9", "10"]
    for left, right in itertools.combinations(ordered, 2):
        assert version_compare(left, right) < 0 < \
            version_compare(right, left)


def test_versions_order_as_glibc_strverscmp():
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "strverscmp"):
        pytest.skip("no strverscmp in this C library")
    for left, right in itertools.product(VERSIONS, repeat=2):
        expected = libc.strverscmp(left.encode(), right.encode())
        said = version_compare(left, right)
        assert (said > 0) - (said < 0) == (expected > 0) - (expected < 0), \
            (left, right)
