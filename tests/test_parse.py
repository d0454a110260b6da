"""The parser on every script the project ships: each parses, and -p1's
output is a fixed point (printing what it parsed and parsing that again
gives the same text), which checks spans-free structure end to end."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stpc.compiler import ast as A
from stpc.compiler.errors import StpcError
from stpc.compiler.parse import parse
from stpc.compiler.preprocess import PreprocessEnv
from stpc.compiler.unparse import unparse

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(list((ROOT / "tests" / "corpus" / "run").glob("*.stp")) +
                 list((ROOT / "examples").glob("*.stp")))


def script_args(path: Path):
    args = path.with_suffix(".args")
    return args.read_text().split() if args.exists() else ()


def preprocess_env(path: Path) -> PreprocessEnv:
    """Guru mode for the scripts run with -g (NAME.opts)."""
    opts = path.with_suffix(".opts")
    guru = opts.exists() and "-g" in opts.read_text().split()
    return dataclasses.replace(PreprocessEnv.for_kernel(), guru_mode=guru)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_unparse_is_a_fixed_point(path):
    env = preprocess_env(path)
    once = unparse(parse(path.read_text(encoding="latin-1"), path.name,
                         script_args(path), env=env))
    twice = unparse(parse(once, "again", env=env))
    assert once == twice


def test_run_corpus_is_large_enough():
    assert len(list((ROOT / "tests" / "corpus" / "run").glob("*.stp"))) \
        >= 120


@pytest.mark.parametrize("text,value", [
    ("$1", A.IntLit), ("@1", A.StrLit), ("$2 + 1", A.Binary),
])
def test_script_arguments_are_literals(text, value):
    script = parse(f"probe begin {{ x = {text} }}", "t.stp", ["0x10", "-3"])
    assert isinstance(first_stmt_of(script).expr.value, value)


def test_script_argument_values():
    script = parse('probe timer.ms($1) { x = $2; y = @1 }', "t.stp",
                   ["0x10", "-3"])
    probe = script.probes[0]
    assert probe.points[0].components[1].arg == 16
    assert probe.body.body[0].expr.value.value == -3
    assert probe.body.body[1].expr.value.value == "0x10"


def first_stmt_of(script):
    return script.probes[0].body.body[0]


def first_stmt(text):
    script = parse(f"probe begin {{ {text} }}", "t.stp")
    return script.probes[0].body.body[0]


@pytest.mark.parametrize("text,grouped", [
    ("x = 1 + 2 * 3", "(x = (1 + (2 * 3)))"),
    ("x = a . b + c", "(x = (a . (b + c)))"),
    ("x = a < b == c", "(x = ((a < b) == c))"),
    ("x = a || b && c", "(x = (a || (b && c)))"),
    ("x = a | b ^ c & d", "(x = (a | (b ^ (c & d))))"),
    ("x = a << 1 + 2", "(x = (a << (1 + 2)))"),
    ("x = y = 3", "(x = (y = 3))"),
    ("x = a ? b : c ? d : e", "(x = (a ? b : (c ? d : e)))"),
    ("x = -5 - -3", "(x = (-5 - -3))"),
    ("x += a++ + ++b", "(x += (a++ + ++b))"),
    ("x = !a == ~b", "(x = (!(a) == ~(b)))"),
    ("s <<< 1 + 2", "(s <<< (1 + 2))"),
    ("x = [1, \"a\"] in m", "(x = [1, \"a\"] in m)"),
    ("x = k in m", "(x = [k] in m)"),
])
def test_precedence(text, grouped):
    from stpc.compiler.unparse import expr
    assert expr(first_stmt(text).expr) == grouped


def test_spans_point_at_principal_tokens():
    stmt = first_stmt("x = a / b")
    assert stmt.expr.span == A.Span("t.stp", 1, 17)
    assert stmt.expr.value.span == A.Span("t.stp", 1, 21)


@pytest.mark.parametrize("literal,value", [
    ('"a\\nb"', "a\nb"), ('"\\t\\"\\\\"', "\t\"\\"), ('"\\101\\x42"', "AB"),
    ("0x1F", 31), ("017", 15), ("9223372036854775807", 2**63 - 1),
])
def test_literals(literal, value):
    assert first_stmt(f"x = {literal}").expr.value.value == value


def test_probe_points_and_globals():
    script = parse('global a = 1, b = "s", c[10]\n'
                   'probe begin(-5), end?, timer.ms(100) { }', "t.stp")
    assert [(g.name, g.size, g.init) for g in script.globals] == \
        [("a", None, 1), ("b", None, "s"), ("c", 10, None)]
    points = script.probes[0].points
    assert [str(p) for p in points] == ["begin(-5)", "end", "timer.ms(100)"]
    assert [p.optional for p in points] == [False, True, False]


def test_foreach_forms():
    stmt = first_stmt("foreach (v = [a, b-] in m+ limit 3) print(a)")
    assert stmt.value_var == "v"
    assert [(k.name, k.sort) for k in stmt.keys] == [("a", ""), ("b", "-")]
    assert (stmt.array, stmt.value_sort) == ("m", "+")
    assert stmt.limit.value == 3


def test_comments_are_ignored():
    script = parse("# hash\n// slash\n/* block\n */ probe begin { }", "t")
    assert len(script.probes) == 1


def test_target_expressions_parse_and_unparse():
    source = ('probe kernel.function("f") { println($a->b[$i + 1]->c, '
              '&$x->y, $$parms$, @cast($p, "struct s")->m, @entry($n), '
              '@var("v@f.c")->w, a & b, a-->b) }')
    script = parse(source, "t.stp")
    text = unparse(script)
    assert "$a->b[($i + 1)]->c" in text
    assert "&$x->y" in text and "$$parms$" in text
    assert '@cast($p, "struct s")->m' in text
    assert "((a & b))" in text or "(a & b)" in text
    assert unparse(parse(text, "t.stp")) == text


@pytest.mark.parametrize("text", [
    'x = 5 % (2)', 'printf("%(%{ %? %)\\n")', 's = "@define"',
    'x = @count(s)', 'private = 1'])
def test_unsupported_tokens_are_not_taken_from_valid_text(text):
    """%( and %{ only stand alone, @define only as a word, and 'private'
    only before a declaration, as in SystemTap's lexer."""
    assert parse(f"global s; probe begin {{ {text} }}", "t").probes


@pytest.mark.parametrize("text, column", [
    ("function f() %{ return 1; %} probe begin { }", 14),
    ("%{ int x; %} probe begin { }", 1),
    ("probe begin { x = %{ 1 %} }", 19),
])
def test_embedded_c_without_guru_mode_is_refused_where_it_starts(text,
                                                                 column):
    with pytest.raises(StpcError) as exc:
        parse(text, "t")
    assert exc.value.message == "embedded C needs guru mode (-g)"
    assert exc.value.span.col == column
