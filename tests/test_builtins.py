"""Every built-in function is declared once: a signature in builtins.py
with either its C expression or one lowering in lower_calls.py."""

from __future__ import annotations

from stpc.compiler import lower_calls
from stpc.compiler.builtins import BUILTINS, VARIADIC_OUTPUT


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
    from stpc.compiler.unsupported import TAPSET_FUNCTIONS
    assert TAPSET_FUNCTIONS.isdisjoint(set(BUILTINS) | VARIADIC_OUTPUT)
