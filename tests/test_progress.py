"""`-r DIR` (a kernel build tree, as stap takes it), `-v`'s line per pass
in stap's words, and the status line a terminal shows while kbuild runs.
Every case runs the installed `stpc` in a subprocess, and none loads a
module."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

STPC = str(Path(sys.executable).parent / "stpc")
SCRIPT = "probe begin { exit() }"
# two probes, one function, one global
COUNTED = """global n
function twice(x) { return 2 * x }
probe begin { n = twice(n + 1) }
probe end { println(n) }"""
MEMORY = r"\d+virt/\d+res/\d+shr/\d+data kb"
TIMES = r"\d+usr/\d+sys/\d+real ms"


def stpc(*argv, cache=None, cwd=None):
    env = dict(os.environ, STPC_CACHE_DIR=str(cache)) if cache else None
    return subprocess.run([STPC, *argv], capture_output=True, text=True,
                          env=env, cwd=cwd)


def build_tree(kver: str) -> str:
    return f"/lib/modules/{kver}/build"


def fake_tree(root: Path, files: dict) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def on_a_terminal(argv, cache: Path) -> tuple:
    """stpc's exit status, stdout and what its stderr, a pseudo-terminal,
    showed."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [STPC, *argv], stdout=subprocess.PIPE, stderr=terminal,
        env=dict(os.environ, STPC_CACHE_DIR=str(cache), TERM="xterm"))
    os.close(terminal)
    shown = b""
    while select.select([controller], [], [], 600)[0]:
        try:
            chunk = os.read(controller, 4096)
        except OSError:         # EIO: stpc closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    stdout = proc.stdout.read().decode()
    return proc.wait(), stdout, shown.decode(errors="replace")


# ---- -r DIR ------------------------------------------------------------

def test_a_build_tree_gives_the_release_its_modules_carry(kver):
    """Debian's headers put the upstream version in
    include/config/kernel.release (stap reads 6.1.192 there for
    6.1.0-57-amd64): the release is UTS_RELEASE, what vermagic says, so
    the C (its .stpc_info names the release) is the release's."""
    by_tree = stpc("-p3", "-r", build_tree(kver), "-e", SCRIPT)
    by_release = stpc("-p3", "-r", kver, "-e", SCRIPT)
    assert by_tree.returncode == 0, by_tree.stderr
    assert f"\\042kernel_release\\042: \\042{kver}\\042" in by_tree.stdout
    assert by_tree.stdout == by_release.stdout


def test_a_build_tree_resolves_kernel_probes_for_its_release(kver):
    point = 'kernel.function("do_sys_openat2")'
    script = f"probe {point} {{ println($dfd) }}"
    by_tree = stpc("-p2", "-r", build_tree(kver), "-e", script)
    assert by_tree.returncode == 0, by_tree.stderr
    assert point in by_tree.stdout
    assert by_tree.stdout == stpc("-p2", "-r", kver, "-e", script).stdout


def test_a_relative_build_tree_is_a_directory(kver):
    """A release never has a '/': anything with one is a directory."""
    parent = Path(build_tree(kver)).parent
    proc = stpc("-p3", "-r", "./build", "-e", SCRIPT, cwd=parent)
    assert proc.returncode == 0, proc.stderr
    assert f"\\042kernel_release\\042: \\042{kver}\\042" in proc.stdout


def test_the_release_comes_from_utsrelease_then_kernel_release(tmp_path):
    both = fake_tree(tmp_path / "both", {
        "include/generated/utsrelease.h":
            '#define UTS_RELEASE "9.9.0-1-test"\n',
        "include/config/kernel.release": "9.9.9\n"})
    only_config = fake_tree(tmp_path / "config", {
        "include/config/kernel.release": "9.9.9-plain\n"})
    for tree, release in ((both, "9.9.0-1-test"),
                          (only_config, "9.9.9-plain")):
        proc = stpc("-p3", "-r", str(tree), "-e", SCRIPT)
        assert proc.returncode == 0, proc.stderr
        assert f"\\042kernel_release\\042: \\042{release}\\042" in proc.stdout


def test_a_directory_that_is_no_build_tree_is_refused(tmp_path):
    proc = stpc("-p2", "-r", str(tmp_path), "-e", SCRIPT)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith(
        f"error: -r {tmp_path}: not a kernel build tree, it has neither "
        "include/generated/utsrelease.h nor include/config/kernel.release")
    missing = stpc("-p2", "-r", str(tmp_path / "none"), "-e", SCRIPT)
    assert (missing.returncode, missing.stderr) == (
        1, f"error: -r {tmp_path / 'none'}: no such directory\n")


def test_a_tree_without_kbuild_is_refused_at_pass_4(tmp_path):
    tree = fake_tree(tmp_path, {"include/config/kernel.release": "9.9\n"})
    proc = stpc("-p4", "-r", str(tree), "-e", SCRIPT, cache=tmp_path / "c")
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        f"error: kernel build tree {tree} not found")


# ---- -v ----------------------------------------------------------------

def test_v_says_each_pass_as_stap_does_with_stpc_counts():
    proc = stpc("-v", "-p3", "-e", COUNTED)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    c_lines = proc.stdout.count("\n")
    expected = [
        rf"Pass 1: parsed user script using {MEMORY}, in {TIMES}\.",
        r"Pass 2: analyzed script: 2 probes, 1 function, 0 embeds, 1 global using "
        rf"{MEMORY}, in {TIMES}\.",
        rf"Pass 3: translated to C: {c_lines} lines using {MEMORY}, "
        rf"in {TIMES}\."]
    assert len(lines) == len(expected), proc.stderr
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), line


def test_v_counts_in_the_singular_and_probes_per_site():
    """Counts agree in number, and the probes counted are the sites, as
    stap counts its derived probes: one probe on two timers is two."""
    proc = stpc("-v", "-p2", "-e", "probe timer.s(1), timer.s(2) { }")
    assert "Pass 2: analyzed script: 2 probes, 0 functions, 0 embeds, 0 globals " \
        in proc.stderr, proc.stderr
    proc = stpc("-v", "-p2", "-e", SCRIPT)
    assert "Pass 2: analyzed script: 1 probe, 0 functions, 0 embeds, 0 globals " \
        in proc.stderr, proc.stderr


def test_without_v_the_passes_say_nothing():
    proc = stpc("-p3", "-e", COUNTED)
    assert (proc.returncode, proc.stderr) == (0, "")


# ---- with kbuild -------------------------------------------------------

@pytest.mark.kbuild
def test_a_build_tree_builds_the_module_of_its_release(kver, tmp_path):
    """-r DIR and -r KVER name the same tree: the second finds the first's
    module in the cache.  Pass 4 says the module and its size, and
    whether kbuild built it."""
    cache = tmp_path / "cache"
    built = stpc("-v", "-p4", "-r", build_tree(kver), "-e", SCRIPT,
                 cache=cache)
    assert built.returncode == 0, built.stderr
    module = Path(built.stdout.strip())
    size = module.stat().st_size
    assert re.fullmatch(
        rf'Pass 4: compiled C into "{re.escape(str(module))}" \({size} '
        rf'bytes\) in {TIMES}\.', built.stderr.splitlines()[-1])
    cached = stpc("-v", "-p4", "-r", kver, "-e", SCRIPT, cache=cache)
    assert cached.stdout == built.stdout
    assert re.fullmatch(
        rf'Pass 4: using cached "{re.escape(str(module))}" \({size} '
        rf'bytes\) in {TIMES}\.', cached.stderr.splitlines()[-1])


@pytest.mark.kbuild
def test_a_terminal_shows_the_build_while_kbuild_runs(kver, tmp_path):
    argv = ["-p4", "-r", kver, "-e", SCRIPT]
    status, stdout, shown = on_a_terminal(argv, tmp_path)
    assert status == 0, shown
    assert re.search(rf"building module for {re.escape(kver)} \.\.\. "
                     r"\d+\.\d s", shown), shown
    assert stdout.endswith(".ko\n")
    status, _, shown = on_a_terminal(argv, tmp_path)  # cached: no build
    assert (status, shown) == (0, "")


@pytest.mark.kbuild
def test_no_status_line_when_stderr_is_piped(kver, tmp_path):
    proc = stpc("-p4", "-r", kver, "-e", SCRIPT, cache=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.endswith(".ko\n")
    assert list(tmp_path.rglob("*.ko")), "the module was not built"
