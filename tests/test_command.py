"""-c CMD on the host, loading nothing: how a command is cut into words
and whether it needs a shell (loader/command.py), and the loader's child
process exec'ing it, so that its pid is target()."""

from __future__ import annotations

import os

import pytest

from stpc.loader import command
from stpc.loader.command import SHELL, Exec
from stpc.loader.kmod import LoaderError
from stpc.loader.run import _Child

PROGRAMS = {"dd", "cat", "ls", "env", "tee", "find", "sleep"}


def plan(text: str) -> Exec:
    return command.plan(text, runs_program=PROGRAMS.__contains__)


def shell(script: str) -> Exec:
    return Exec(SHELL, ("sh", "-c", script))


@pytest.mark.parametrize("text, argv", [
    ("sleep 1", ["sleep", "1"]),
    ("  sleep\t1  ", ["sleep", "1"]),
    ("sh -c 'echo 3 > /proc/stpc_fixture'",
     ["sh", "-c", "echo 3 > /proc/stpc_fixture"]),
    ('printf "%s|%s;" a b', ["printf", "%s|%s;", "a", "b"]),
    ("a\\ b \\'c\\' \\$d \\*", ["a b", "'c'", "$d", "*"]),
    ('x "a\\"b" "\\$HOME" "c\\d" \'e\\f\'',
     ["x", 'a"b', "$HOME", "c\\d", "e\\f"]),
    ("x 'it''s' \"\" ''", ["x", "its", "", ""]),
    ("x a\\\nb", ["x", "ab"]),                # a line continuation
    ("x a#b a~b a=b 2", ["x", "a#b", "a~b", "a=b", "2"]),
    ("echo trailing\\", ["echo", "trailing\\"]),
    ("'if' true", ["if", "true"]),           # quoted: not a keyword
])
def test_plain_words_are_exec_directly(text, argv):
    assert plan(text) == Exec(argv[0], tuple(argv))


@pytest.mark.parametrize("text, script", [
    # one simple command naming a program: the shell execs it
    ("dd status=none < in > /proc/x", "exec dd status=none < in > /proc/x"),
    ("cat x 2>&1", "exec cat x 2>&1"),
    ("cat x 2>/dev/null >>log", "exec cat x 2>/dev/null >>log"),
    ("cat x >| y", "exec cat x >| y"),          # >| is a redirection
    ("2>/dev/null cat x", "2>/dev/null exec cat x"),
    ("> out cat x", "> out exec cat x"),       # the target is not the program
    ("A=1 B='x y' env", "A=1 B='x y' exec env"),
    ("ls *.c", "exec ls *.c"),
    ("ls ~/x", "exec ls ~/x"),
    ("ls $HOME ${PWD}", "exec ls $HOME ${PWD}"),
    ('ls "$HOME"', 'exec ls "$HOME"'),
    ("ls f[12] f?", "exec ls f[12] f?"),
    ("find . -exec ls {} \\;", "exec find . -exec ls {} \\;"),
    ("cat x # a comment, it's", "exec cat x # a comment, it's"),
    # the shell keeps running: operators, builtins, keywords, unknown names
    ("echo 3 | tee /proc/x", "echo 3 | tee /proc/x"),
    ("cat x; cat y", "cat x; cat y"),
    ("cat x && cat y", "cat x && cat y"),
    ("sleep 1 &", "sleep 1 &"),
    ("(cat x)", "(cat x)"),
    ("cat x\ncat y", "cat x\ncat y"),
    ("echo 3 > /proc/x", "echo 3 > /proc/x"),   # a builtin: no exec
    ("nosuch > x", "nosuch > x"),
    ("$PROG x", "$PROG x"),
    ("~/bin/x", "~/bin/x"),
    ("! cat x", "! cat x"),
    ("{ cat x; }", "{ cat x; }"),
    ("if cat x; then :; fi", "if cat x; then :; fi"),
    ("cat $(echo x)", "cat $(echo x)"),         # not cut any further
    ("cat `echo x`", "cat `echo x`"),
    ('cat "$(echo ")")"', 'cat "$(echo ")")"'),
    ("A=1", "A=1"),
    ("# only a comment", "# only a comment"),
])
def test_shell_syntax_runs_a_shell(text, script):
    assert plan(text) == shell(script)


@pytest.mark.parametrize("text, message", [
    ("", "-c: empty command"),
    (" \t\n", "-c: empty command"),
    ("echo 'oops", "-c: unmatched ' in: echo 'oops"),
    ('echo "oops', '-c: unmatched " in: echo "oops'),
    ('echo "a\\"', '-c: unmatched " in: echo "a\\"'),
    ("echo it's > x", "-c: unmatched ' in: echo it's > x"),
])
def test_bad_commands_are_refused(text, message):
    with pytest.raises(LoaderError) as caught:
        plan(text)
    assert str(caught.value) == message


def test_the_shell_is_asked_what_runs_a_program():
    """/bin/sh itself says which names are programs on PATH."""
    assert command.plan("cat x > y") == shell("exec cat x > y")
    assert command.plan("echo x > y") == shell("echo x > y")
    assert command.plan("cd /tmp > y") == shell("cd /tmp > y")
    assert command.plan("stpc-no-such-program > y") == \
        shell("stpc-no-such-program > y")
    assert command.plan("./x.sh > y") == shell("exec ./x.sh > y")


# -- the child process --------------------------------------------------

def run_child(text: str):
    """Runs -c TEXT as the loader does; its pid and why exec failed."""
    child = _Child(command.plan(text))
    failure = child.release()
    child.abandon()
    return child, failure


@pytest.mark.parametrize("text", [
    "sh -c 'echo $$ > {out}'",            # plain words: sh itself
    "sh -c 'echo $$' > {out}",            # one simple command: exec'd
])
def test_the_command_is_the_child_itself(tmp_path, text):
    out = tmp_path / "pid"
    child, failure = run_child(text.format(out=out))
    assert failure is None
    assert out.read_text() == f"{child.pid}\n"
    assert os.WIFEXITED(child.status) and os.WEXITSTATUS(child.status) == 0


def test_a_pipeline_keeps_the_shell_as_the_child(tmp_path):
    out = tmp_path / "ppid"
    child, failure = run_child(f"sh -c 'echo $PPID' | cat > {out}")
    assert failure is None
    assert out.read_text() == f"{child.pid}\n"


def test_a_missing_program_is_reported():
    child, failure = run_child("stpc-no-such-program --flag")
    assert failure == "stpc-no-such-program: No such file or directory"
    assert os.WEXITSTATUS(child.status) == 127


def test_the_command_sees_sigpipe_by_default(tmp_path):
    """Python ignores SIGPIPE; the command must not inherit that."""
    out = tmp_path / "sigpipe"
    run_child(f"sh -c 'grep SigIgn /proc/self/status > {out}'")
    ignored = int(out.read_text().split()[1], 16)
    assert not ignored & (1 << (13 - 1))


def test_an_abandoned_child_never_runs(tmp_path):
    out = tmp_path / "ran"
    child = _Child(command.plan(f"touch {out}"))
    child.abandon()
    assert not out.exists()
    assert os.WEXITSTATUS(child.status) == 127
