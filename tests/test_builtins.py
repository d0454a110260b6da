"""Every built-in function is declared once: a signature in builtins.py
with either its C expression or one lowering in lower_calls.py; the
signatures are what --dump-functions and docs/language.md show."""

from __future__ import annotations

from pathlib import Path

from stpc.compiler import lower_calls
from stpc.compiler.builtins import BUILTINS, VARIADIC_OUTPUT
from stpc.compiler.supported import function_signatures
from stpc.compiler.unsupported import TAPSET_FUNCTIONS


def test_every_builtin_has_exactly_one_lowering():
    for name, builtin in BUILTINS.items():
        lowered = name in lower_calls.LOWERINGS
        assert lowered != bool(builtin.c), (
            f"{name}: {'both' if lowered else 'neither'} a C expression "
            "and a lowering")


def test_every_lowering_lowers_a_builtin():
    names = set(BUILTINS) | VARIADIC_OUTPUT
    assert set(lower_calls.LOWERINGS) - names == set()
    assert VARIADIC_OUTPUT <= set(lower_calls.LOWERINGS)


def test_c_expressions_take_the_arguments_declared():
    for builtin in BUILTINS.values():
        if builtin.c:
            args = [f"<{i}>" for i in range(len(builtin.params))]
            lowered = builtin.c.format(*args)
            assert all(arg in lowered for arg in args), builtin.name


def test_tapset_names_are_not_builtins():
    """A name stpc has is never refused as a tapset function."""
    assert TAPSET_FUNCTIONS.isdisjoint(set(BUILTINS) | VARIADIC_OUTPUT)


def test_every_parameter_is_named():
    for builtin in BUILTINS.values():
        assert len(builtin.names.split()) == len(builtin.params), \
            builtin.name


def test_tokenize_with_one_argument_takes_the_delimiters():
    forms = list(BUILTINS["tokenize"].forms())
    assert [[name for name, _ in form] for form in forms] == \
        [["delim"], ["input", "delim"]]


def test_docs_list_what_dump_functions_prints():
    """docs/language.md's list of functions is --dump-functions' output."""
    docs = (Path(__file__).resolve().parent.parent / "docs" /
            "language.md").read_text()
    block = docs.split("stpc --dump-functions` lists them", 1)[1]
    block = block.split("```\n", 1)[1].split("```", 1)[0]
    assert [line.strip() for line in block.strip().splitlines()] == \
        function_signatures()
    for name in set(BUILTINS) | VARIADIC_OUTPUT:
        assert f"  {name}:" in block, name
