"""Type inference against SystemTap's: each tests/corpus/types/NAME.stp
has NAME.types, what `stap -p2` inferred (tests/stap_types.py made it);
stpc -p2 must infer the same, or refuse the script for the same reason."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import stap_types  # noqa: E402

SCRIPTS = sorted(stap_types.CORPUS.glob("*.stp"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_stpc_infers_what_stap_infers(script):
    expected = stap_types.read_expected(script.with_suffix(".types"))
    got = stap_types.stpc_types(script)
    if expected and expected[0].startswith("error"):
        assert set(expected) <= set(got)
    else:
        assert got == expected


def test_types_corpus_covers_both_outcomes():
    outcomes = [stap_types.read_expected(s.with_suffix(".types"))[:1]
                for s in SCRIPTS]
    assert sum(o[:1] == ["error mismatch"] for o in outcomes) >= 1
    assert sum(bool(o) and o[0].startswith("error unresolved")
               for o in outcomes) >= 3
    assert len(SCRIPTS) >= 20


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_expectations_are_what_stap_prints(script, stap_kver):
    assert stap_types.stap_types(script, stap_kver) == \
        stap_types.read_expected(script.with_suffix(".types"))


def test_a_function_named_like_a_handler_is_a_function():
    """Handlers' scopes are named probe_N; a function of that name is a
    function all the same: it may return, and its type is inferred."""
    from stpc.compiler.driver import Compilation, CompileOptions
    from stpc.compiler.ir import T
    comp = Compilation("function probe_0() { return 7 }\n"
                       "probe begin { println(probe_0()); exit() }\n",
                       "t.stp", CompileOptions(kernel_release="any",
                                               module_name="t_fn"))
    assert comp.program().functions["probe_0"].return_type is T.LONG
