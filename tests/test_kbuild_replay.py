"""Replaying a module's recorded kbuild commands (compiler/kbuild_replay.py)
builds the very module make builds, without make, and leaves to make what
it cannot do."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from stpc.compiler import build as build_pass
from stpc.compiler import kbuild_replay
from stpc.compiler.driver import Compilation, CompileOptions

SCRIPT = 'global n\nprobe begin { n = 42; printf("%d\\n", n); exit() }\n'


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def compile_module(kver, limit):
    options = CompileOptions(kernel_release=kver, module_name="t_replay",
                             defines=(("MAXACTION", str(limit)),))
    return Compilation(SCRIPT, "t.stp", options).module()


def recipes(cache):
    return sorted(cache.glob("runtime/*/kbuild-recipe.json"))


def in_one_directory(monkeypatch, tmp_path):
    """Every build directory the same path, as the module's DWARF names
    it: two builds of one C then differ only if their commands do."""
    workdir = tmp_path / "build"

    def fresh(*args, **kwargs):
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        return str(workdir)
    monkeypatch.setattr(tempfile, "mkdtemp", fresh)


def make_must_not_run(*args, **kwargs):
    raise AssertionError("make ran although a recipe was there")


@pytest.mark.kbuild
def test_a_replayed_build_is_make_s_byte_for_byte(kver, cache, tmp_path,
                                                  monkeypatch):
    compile_module(kver, 1001)          # make, which records the recipe
    assert len(recipes(cache)) == 1
    in_one_directory(monkeypatch, tmp_path)
    with monkeypatch.context() as without_recipe:
        without_recipe.setattr(kbuild_replay, "replay",
                               lambda *args, **kwargs: False)
        made = compile_module(kver, 1002).read_bytes()
    for module in cache.glob("*/*/t_replay.ko"):
        shutil.rmtree(module.parent)
    monkeypatch.setattr(build_pass, "_make", make_must_not_run)
    assert compile_module(kver, 1002).read_bytes() == made


@pytest.mark.kbuild
def test_a_failing_replay_leaves_the_build_to_make(kver, cache,
                                                   monkeypatch):
    compile_module(kver, 1003)
    recipe = recipes(cache)[0]
    text = recipe.read_text()
    recipe.write_text(text.replace('"commands": [["', '"commands": '
                                   '[["@STPC_WORKDIR@/x", "false"], ["', 1))
    made = []
    real_make = build_pass._make

    def counted_make(*args, **kwargs):
        made.append(args)
        return real_make(*args, **kwargs)
    monkeypatch.setattr(build_pass, "_make", counted_make)
    assert compile_module(kver, 1004).exists()
    assert len(made) == 1


def test_a_name_also_found_elsewhere_makes_no_recipe():
    workdir = Path("/tmp/w")
    command = "ld -m elf_x86_64 -o /tmp/w/x86.o"
    assert kbuild_replay._placeholders(command, workdir, "x86", "") is None
    assert kbuild_replay._placeholders(command, workdir, "probe", "") == \
        "ld -m elf_x86_64 -o @STPC_WORKDIR@/x86.o"


def test_the_module_s_name_is_replaced_where_kbuild_puts_it():
    workdir = Path("/tmp/w")
    command = ("gcc -Wp,-MMD,/tmp/w/.m1-script.o.d -I/r -DX=1 "
               "-DKBUILD_BASENAME='\"m1_script\"' -DKBUILD_MODNAME='\"m1\"' "
               "-D__KBUILD_MODNAME=kmod_m1 -c -o /tmp/w/m1-script.o "
               "/tmp/w/m1-script.c")
    filled = kbuild_replay._filled(
        kbuild_replay._placeholders(command, workdir, "m1", "-I/r -DX=1"),
        Path("/tmp/v"), "other", "-I/r -DX=2")
    assert filled == command.replace("/tmp/w", "/tmp/v").replace(
        "m1", "other").replace("X=1", "X=2")
