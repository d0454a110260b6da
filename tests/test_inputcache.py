"""The raw-input cache (compiler/inputcache.py): a second identical
command finds its module before any pass runs, says the same as the first,
and anything the compilation depended on sends it back through the passes.

kbuild is replaced by a stub writing the C as the ".ko" (the module cache
is tested with kbuild in test_build.py), and the kernel tree is a fake one
whose files the tests may touch.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from stpc.compiler import build, cli

import fake_kbuild

WARNED = "probe begin { x = 1; exit() }"


@pytest.fixture
def env(tmp_path, monkeypatch, kver):
    """A cache, a fake kernel tree for ``kver`` and a stub kbuild; the
    working directory is tmp_path."""
    tree = tmp_path / "tree"
    for name, text in {"Makefile": "", ".config": "CONFIG_X=y\n",
                       "include/generated/utsrelease.h":
                       f'#define UTS_RELEASE "{kver}"\n'}.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)

    fake_kbuild.install(monkeypatch, build)
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tree


class Runs:
    """cli.main in this process, counting the commands that ran the
    passes (a miss of the raw-input cache)."""

    def __init__(self, monkeypatch, capsys):
        self.capsys = capsys
        self.misses = 0
        passes = cli._run_passes

        def counted(*args, **kwargs):
            self.misses += 1
            return passes(*args, **kwargs)
        monkeypatch.setattr(cli, "_run_passes", counted)

    def __call__(self, *argv) -> tuple:
        status = cli.main(list(argv))
        out, err = self.capsys.readouterr()
        return status, out, err


@pytest.fixture
def runs(monkeypatch, capsys) -> Runs:
    return Runs(monkeypatch, capsys)


def entries(cache: Path) -> list:
    return sorted((cache / "inputs").glob("*/*.json"))


def test_a_hit_says_what_the_miss_said(env, runs, tmp_path):
    argv = ("-p4", "-r", str(env), "-e", WARNED)
    first = runs(*argv)
    assert first[0] == 0 and "warning: value stored to 'x'" in first[2]
    assert runs(*argv) == first
    assert runs.misses == 1
    assert Path(first[1].strip()).is_file()


def test_emit_ko_from_a_hit_writes_the_same_module(env, runs, tmp_path):
    script = tmp_path / "count.stp"
    script.write_text("global n\nprobe timer.s(1) { n++ }\n")
    argv = ("--emit-ko", "-r", str(env), str(script))
    first = runs(*argv)
    built = (tmp_path / "count.ko").read_bytes()
    (tmp_path / "count.ko").unlink()
    assert runs(*argv) == first
    assert runs.misses == 1
    assert (tmp_path / "count.ko").read_bytes() == built


def test_warning_options_apply_to_a_hit(env, runs):
    """-w and -W are not part of the key: the stored warnings are
    dropped, or made errors, as the passes' would be."""
    base = ("-p4", "-r", str(env), "-e", WARNED)
    runs(*base)
    quiet = runs("-w", *base)
    assert quiet[0] == 0 and quiet[2] == ""
    strict = runs("-W", *base)
    assert strict[0] == 1 and "error: value stored to 'x'" in strict[2]
    assert runs.misses == 1
    shutil.rmtree(os.environ["STPC_CACHE_DIR"])
    assert runs("-W", *base) == strict      # the same from the passes


@pytest.mark.parametrize("changed", [
    ("-e", "probe begin { y = 1; exit() }"),
    ("-D", "MAXACTION=2000", "-e", WARNED),
    ("-m", "named", "-e", WARNED),
    ("-t", "-e", WARNED),
    ("-e", WARNED, "an argument"),
])
def test_what_changes_the_c_or_the_build_misses(env, runs, changed):
    runs("-p4", "-r", str(env), "-e", WARNED)
    runs("-p4", "-r", str(env), *changed)
    runs("-p4", "-r", str(env), *changed)
    assert runs.misses == 2


def test_a_touched_kernel_tree_misses(env, runs):
    argv = ("-p4", "-r", str(env), "-e", WARNED)
    runs(*argv)
    os.utime(env / ".config", ns=(1, 1))
    runs(*argv)
    runs(*argv)
    assert runs.misses == 2


def test_a_file_replaced_with_the_same_size_and_mtime_is_changed(tmp_path):
    """A file renamed over an input (a package upgrade, ``cp -p``) keeps
    its size and modification time but is another file: its change time
    tells, where the inode number would not survive a VM's 9p share."""
    from stpc.compiler.inputcache import identity
    original, copy = tmp_path / "vmlinux", tmp_path / "vmlinux.new"
    original.write_bytes(b"old")
    os.utime(original, ns=(1, 1))
    before = identity(str(original))
    original.read_bytes()
    assert identity(str(original)) == before
    time.sleep(0.02)    # past the kernel's timestamp granularity, a tick
    copy.write_bytes(b"new")
    os.utime(copy, ns=(1, 1))
    os.replace(copy, original)
    assert identity(str(original)) != before


@pytest.mark.kbuild
def test_a_touched_dwarf_input_misses(env, runs, tmp_path, kver):
    """The module whose DWARF a probe point was resolved against is an
    input: touching it (as a rebuild would) sends the next command
    through the passes."""
    import fixture
    debug = tmp_path / "debug"
    debug.mkdir()
    ko = debug / "stpc_fixture.ko"
    shutil.copyfile(fixture.build_fixture(kver), ko)
    argv = ("-p4", "-r", str(env), "--debuginfo-path", str(debug), "-e",
            'probe module("stpc_fixture").function("stpc_fixture_struct") '
            "{ println($item->owner->uid) }")
    first = runs(*argv)
    assert first[0] == 0, first[2]
    inputs = [path for path, _ in
              json.loads(entries(tmp_path / "cache")[0].read_text())
              ["inputs"]]
    assert str(ko) in inputs
    assert runs(*argv) == first and runs.misses == 1
    os.utime(ko, ns=(1, 1))
    assert runs(*argv) == first and runs.misses == 2
    assert runs(*argv) == first and runs.misses == 2


def test_a_better_vmlinux_appearing_misses(env, runs, tmp_path, kver):
    """Where the kernel's DWARF may be is watched even when nothing is
    there: a vmlinux put in a --debuginfo-path directory would be used."""
    debug = tmp_path / "debug"
    debug.mkdir()
    argv = ("-p4", "-r", str(env), "--debuginfo-path", str(debug), "-e",
            WARNED)
    runs(*argv)
    (debug / f"vmlinux-{kver}").write_bytes(b"")
    runs(*argv)
    assert runs.misses == 2


def test_a_corrupt_or_dangling_entry_is_a_miss(env, runs, tmp_path):
    argv = ("-p4", "-r", str(env), "-e", WARNED)
    first = runs(*argv)
    [entry] = entries(tmp_path / "cache")
    for damage in ("{not json", json.dumps({"format": 1}), "[]", ""):
        entry.write_text(damage)
        assert runs(*argv) == first
    Path(first[1].strip()).unlink()       # the module it names is gone
    assert runs(*argv) == first
    assert runs.misses == 6
    assert runs(*argv) == first and runs.misses == 6


def test_v_and_k_run_the_passes(env, runs, tmp_path):
    argv = ("-p4", "-r", str(env), "-e", WARNED)
    runs(*argv)
    status, _, err = runs("-v", *argv)
    assert status == 0 and "Pass 1: parsed user script" in err
    status, _, err = runs("-k", *argv)
    assert status == 0 and "Keeping build directory" in err
    assert runs.misses == 3


def test_a_hit_imports_none_of_the_passes(env, tmp_path):
    """The point of the cache: a process that hits it starts no parser,
    DWARF reader or template engine, nor the build's modules (the
    first run, a miss, builds with the fake kbuild)."""
    import subprocess
    import sys
    argv = ["-p4", "-r", str(env), "-e", WARNED.replace("x = 1; ", "")]
    fake_build = ("from stpc.compiler import build\n"
                  f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                  "import fake_kbuild, pytest\n"
                  "fake_kbuild.install(pytest.MonkeyPatch(), build)\n")
    code = (f"status = cli.main({argv!r})\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('lark', 'elftools', 'jinja2', 'rich', 'subprocess') or m in "
            "('stpc.compiler.parse', 'stpc.compiler.elaborate', "
            "'stpc.compiler.translate', 'stpc.compiler.ast', "
            "'stpc.compiler.build', 'stpc.compiler.kbuild_replay'))\n"
            "print(status, heavy)\n")
    runs = [subprocess.run([sys.executable, "-c", "import sys\n"
                            "from stpc.compiler import cli\n" + build + code],
                           capture_output=True, text=True, cwd=tmp_path,
                           env=os.environ)
            for build in (fake_build, "")]
    first, second = (run.stdout.splitlines()[-1] for run in runs)
    assert first.startswith("0 ['"), runs[0].stderr
    assert second == "0 []", runs[1].stderr
