"""Compile-time warnings: exact messages and positions, source order,
-w and -W.  Each tests/corpus/warn/NAME.stp has NAME.stderr, the whole
stderr of `stpc -p2 [NAME.opts] NAME.stp` run in that directory (exit
status NAME.rc, 0 without one), and NAME.stap, what SystemTap 4.8 warns
about it (tests/stap_warnings.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import stap_warnings  # noqa: E402

WARN = stap_warnings.WARN
SCRIPTS = sorted(WARN.glob("*.stp"))


def _options(script: Path) -> list:
    opts = script.with_suffix(".opts")
    return opts.read_text().split() if opts.exists() else []


def _status(script: Path) -> int:
    rc = script.with_suffix(".rc")
    return int(rc.read_text()) if rc.exists() else 0


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_warning_corpus(script):
    status, out, err = stap_warnings.stpc_stderr(script, _options(script))
    assert err == script.with_suffix(".stderr").read_text()
    assert status == _status(script)
    assert (out == "") == (status != 0)     # -W: nothing listed


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_stpc_warns_where_stap_warns(script):
    expected = [line for line in
                stap_warnings.read_expected(script.with_suffix(".stap"))
                if (script.name, line) not in stap_warnings.STAP_ONLY]
    assert stap_warnings.stpc_warnings(script) == expected


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_expectations_are_what_stap_prints(script, stap_kver):
    assert stap_warnings.stap_warnings(script, stap_kver) == \
        stap_warnings.read_expected(script.with_suffix(".stap"))


def test_the_corpus_covers_every_warning():
    said = "".join(s.with_suffix(".stderr").read_text() for s in SCRIPTS)
    for words in ("never-assigned local variable", "(similar: ",
                  "never-assigned global variable", "is never read",
                  "side-effect-free expression", "has an empty body",
                  "eliding unused function", "optional probe point"):
        assert words in said
    assert ": error: never-assigned" in said      # -W
    options = {tuple(_options(s)) for s in SCRIPTS}
    assert {("-w",), ("-W",), ("-W", "-w")} <= options


def test_the_run_and_types_corpora_warn_only_as_recorded():
    """tests/corpus/warn/corpora.warnings: what stpc warns about in the
    other corpora (`tests/stap_warnings.py --corpora` rewrites it; its
    --compare shows which of them stap gives too)."""
    assert stap_warnings.corpora_warnings(
        stap_warnings.other_corpora()) == \
        stap_warnings.read_expected(stap_warnings.CORPORA_WARNINGS)


def test_warnings_change_no_c(capsys):
    from stpc.compiler import cli
    script = str(WARN / "order.stp")
    assert cli.main(["-p3", script]) == 0
    warned = capsys.readouterr()
    assert cli.main(["-p3", "-w", script]) == 0
    quiet = capsys.readouterr()
    assert warned.out == quiet.out and quiet.err == ""
    assert warned.err == (WARN / "order.stderr").read_text().replace(
        "order.stp:", f"{script}:")     # once, as in pass 2


def test_no_warnings_no_error_with_W(capsys):
    from stpc.compiler import cli
    assert cli.main(["-p2", "-W", "-e", "probe begin { exit() }"]) == 0
    assert capsys.readouterr().err == ""


def test_warnings_of_inline_scripts_are_located(capsys):
    from stpc.compiler import cli
    assert cli.main(["-p2", "-e", "probe begin { x = 1; exit() }"]) == 0
    assert capsys.readouterr().err == (
        "<input>:1:17: warning: value stored to 'x' is never read\n"
        "    probe begin { x = 1; exit() }\n"
        "                    ^\n")


def test_a_script_that_fails_gives_its_errors_only(capsys):
    """Warnings come with the program pass 2 makes: an error stops it,
    and the error says what the warning would ('did you mean')."""
    from stpc.compiler import cli
    assert cli.main(["-p2", "-e", "global count\n"
                     "probe begin { count = 1; print(coutn) }"]) == 1
    err = capsys.readouterr().err
    assert "warning" not in err and "did you mean 'count'?" in err
