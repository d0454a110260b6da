"""Compile-time errors: exact messages, positions, carets, exit status 1,
never a traceback.  Each tests/corpus/errors/NAME.stp has NAME.expected,
the whole stderr of `stpc -p2 NAME.stp` run in that directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stpc.compiler import cli

ERRORS = Path(__file__).parent / "corpus" / "errors"


def run_cli(argv, capsys, cwd=None, monkeypatch=None):
    if cwd is not None:
        monkeypatch.chdir(cwd)
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("script", sorted(p.name for p in
                                          ERRORS.glob("*.stp")))
def test_error_corpus(script, capsys, monkeypatch):
    status, out, err = run_cli(["-p2", script], capsys, ERRORS, monkeypatch)
    expected = (ERRORS / script).with_suffix(".expected").read_text()
    assert status == 1
    assert out == ""
    assert err == expected
    assert "Traceback" not in err


def test_error_corpus_is_large_enough():
    assert len(list(ERRORS.glob("*.stp"))) >= 40


def test_inline_script_syntax_error(capsys):
    status, out, err = run_cli(["-p1", "-e", "probe begin { x = ( }"],
                               capsys)
    assert status == 1
    assert err == ("<input>:1:21: error: syntax error at '}'\n"
                   "    probe begin { x = ( }\n"
                   "                        ^\n")


def test_missing_build_tree_is_one_sentence(capsys):
    status, out, err = run_cli(["-e", "probe begin { exit() }", "-p4", "-r",
                                "0.0-nonexistent"], capsys)
    assert status == 1
    assert err == ("error: kernel build tree /lib/modules/0.0-nonexistent/"
                   "build not found: install the headers (apt-get install "
                   "linux-headers-0.0-nonexistent) or pass -r with a kernel "
                   "release that has them\n")


def test_nothing_to_do(capsys):
    status, out, err = run_cli(["-e", "probe begin { exit() }"], capsys)
    assert status == 1
    assert "nothing to do" in err


def test_unreadable_script(capsys):
    status, out, err = run_cli(["-p1", "/nonexistent/x.stp"], capsys)
    assert status == 1
    assert err == "error: cannot read /nonexistent/x.stp: No such file or " \
                  "directory\n"


def test_internal_error_says_it_is_a_bug(capsys, monkeypatch):
    from stpc.compiler import elaborate

    def broken(script, env=None, **library):
        raise KeyError("boom")
    # the driver imports each pass when it first runs it
    monkeypatch.setattr(elaborate, "elaborate", broken)
    status, out, err = run_cli(["-p2", "-e", "probe begin { exit() }"],
                               capsys)
    assert status == 70
    assert "internal error: KeyError" in err
    assert "This is a bug in stpc" in err
    assert "Traceback" not in err


def test_bad_define(capsys):
    status, out, err = run_cli(["-p3", "-D", "X=1;rm", "-e",
                                "probe begin { exit() }"], capsys)
    assert status == 1
    assert "invalid -D option 'X=1;rm'" in err


def test_closed_stdout_exits_quietly(kver):
    """`stpc -l ... | grep -m1 x`: the reader left; stpc ends like a Unix
    tool killed by SIGPIPE, without an internal error."""
    reader, writer = os.pipe()
    os.close(reader)
    stpc = Path(sys.executable).parent / "stpc"
    proc = subprocess.run(
        [str(stpc), "-r", kver, "-l", 'kernel.function("vfs_*")'],
        stdout=writer, stderr=subprocess.PIPE, text=True)
    os.close(writer)
    assert (proc.returncode, proc.stderr) == (128 + signal.SIGPIPE, "")


def _chained_sum(terms: int) -> str:
    return ("probe begin { x = 1\n  y = " + " + ".join(["x"] * terms) +
            "\n  print(y); exit() }\n")


def _else_if_chain(branches: int) -> str:
    chain = "\n  else ".join(f"if (x == {i}) y = {i}" for i in range(branches))
    return f"probe begin {{ x = 3\n  {chain}\n  print(y); exit() }}\n"


@pytest.mark.parametrize("script", [_chained_sum(10_000),
                                    _else_if_chain(2_000)],
                         ids=["sum-10000-terms", "else-if-2000-branches"])
@pytest.mark.parametrize("last_pass", ["-p1", "-p2", "-p3"])
def test_deep_scripts_compile(script, last_pass, capsys):
    """Nesting as deep as SystemTap accepts (it takes 5,000 terms) and
    more hits no recursion limit in any pass."""
    status, out, err = run_cli([last_pass, "-e", script], capsys)
    assert (status, err) == (0, "")
    assert out


def test_an_optional_point_not_supported_yet_is_dropped(capsys):
    """As an optional point that matches nothing (docs/language.md), with
    a warning: it never fires, where SystemTap's would."""
    status, out, err = run_cli(["-p2", "-e", 'probe syscall.rseq?, '
                                'kernel.data("jiffies")?, begin '
                                '{ println(1) }'], capsys)
    assert status == 0
    assert [line for line in err.splitlines() if "warning" in line] == [
        "<input>:1:7: warning: optional probe point 'syscall.rseq' is "
        "unknown or unsupported: it never fires",
        "<input>:1:22: warning: optional probe point "
        "'kernel.data(\"jiffies\")' is unknown or unsupported: it "
        "never fires"]
    assert "begin" in out and "syscall" not in out and "data" not in out
