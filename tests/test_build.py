"""Pass 4 with the real kbuild: generated C compiles with -Werror, the
module carries its metadata, the cache works, build errors map back to
the script, and the DWARF fixture module builds."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stpc.compiler import build as build_pass
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.loader import VERSION
from stpc.loader.kmod import modinfo

pytestmark = pytest.mark.kbuild
FIXTURE = Path(__file__).resolve().parent / "fixture_module"
STPC = str(Path(sys.executable).parent / "stpc")
SCRIPT = 'global n = 2\nprobe begin { printf("%d\\n", n * 21); exit() }\n'


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def compile_script(kver, source=SCRIPT, name="t_build", defines=()):
    options = CompileOptions(kernel_release=kver, module_name=name,
                             defines=defines)
    return Compilation(source, "t.stp", options)


def test_module_metadata(kver, cache):
    comp = compile_script(kver)
    info = modinfo(comp.module().read_bytes())
    assert info["license"] == "GPL"
    assert info["name"] == "t_build"
    assert info["stpc_version"] == VERSION
    assert info["stpc_source_hash"] == hashlib.sha256(
        SCRIPT.encode()).hexdigest()
    assert info["vermagic"].split()[0] == kver


def test_second_build_comes_from_cache(kver, cache, monkeypatch):
    first = compile_script(kver).module()

    def no_make(*args, **kwargs):
        raise AssertionError("kbuild ran for a cached module")
    monkeypatch.setattr(subprocess, "run", no_make)
    assert compile_script(kver).module() == first


def test_defines_change_the_cache_key(kver, cache):
    plain = compile_script(kver).module()
    limited = compile_script(kver, defines=(("MAXSTRINGLEN", "64"),)).module()
    assert plain != limited


def test_c_error_maps_to_script_line():
    c_source = "int a;\n/* x.stp:7:3 */\nbad line\n"
    assert build_pass._script_span(c_source, 3).line == 7
    assert build_pass._script_span("no markers\n", 1) is None


def test_generated_c_has_script_markers(kver):
    c_source = compile_script(kver).c_source()
    assert "/* t.stp:2:15 */" in c_source
    assert 'MODULE_LICENSE("GPL");' in c_source


def test_fixture_module_builds_with_dwarf(kver):
    from elftools.elf.elffile import ELFFile
    subprocess.run(["make", "-C", str(FIXTURE), f"KVER={kver}"], check=True,
                   capture_output=True)
    with open(FIXTURE / "stpc_fixture.ko", "rb") as f:
        elf = ELFFile(f)
        assert elf.has_dwarf_info()
        dwarf = elf.get_dwarf_info()   # a .ko needs its relocations
        names = {die.attributes["DW_AT_name"].value.decode()
                 for cu in dwarf.iter_CUs() for die in cu.iter_DIEs()
                 if die.tag == "DW_TAG_subprogram"
                 and "DW_AT_name" in die.attributes}
    for function in ("stpc_fixture_ints", "stpc_fixture_ptr",
                     "stpc_fixture_struct", "stpc_fixture_byval",
                     "stpc_fixture_return", "stpc_fixture_locals"):
        assert function in names


def test_unwritable_cache_builds_in_a_temporary_directory(kver, tmp_path):
    """A cache that cannot be written (a read-only home) warns once and
    still builds; the scratch build directory is gone when stpc exits."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, STPC_CACHE_DIR=str(blocker / "cache"),
               TMPDIR=str(scratch))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "stpc"), "-e", SCRIPT,
         "--emit-ko", "-m", "t_uncached", "-r", kver], cwd=tmp_path,
        env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"warning: the module cache {blocker / 'cache'} is not writable "
        "(Not a directory): the module was built in a temporary directory, "
        "removed when stpc exits; set STPC_CACHE_DIR to a writable "
        "directory to keep it\n")
    assert modinfo((tmp_path / "t_uncached.ko").read_bytes())["name"] == \
        "t_uncached"
    assert list(scratch.glob("stpc-build-*")) == []


# ---- the runtime, an object of its own ---------------------------------------

def _code_words(text: str) -> set:
    """The identifiers of C code, comments and string literals left out."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*|\"(\\.|[^\"\\])*\"", " ", text,
                  flags=re.S)
    return set(re.findall(r"\w+", text))


@pytest.mark.parametrize("path", sorted(
    p for p in build_pass.runtime_dir().iterdir()
    # the limits' header, and the handler frame the generated module
    # includes (the runtime object never does)
    if p.suffix in (".c", ".h")
    and p.name not in ("stpc_limits.h", "stpc_handler.h")),
    ids=lambda p: p.name)
def test_the_runtime_uses_no_define_its_cache_key_leaves_out(path):
    from stpc.compiler.defines import LIMITS, RUNTIME_DEFINES, SWITCHES
    used = _code_words(path.read_text()) & (set(LIMITS) | set(SWITCHES))
    assert used <= set(RUNTIME_DEFINES)


def test_a_new_limit_reuses_the_runtime_and_a_new_size_does_not(
        cache, kver):
    options = [f"-r{kver}", "-p4", "-e", SCRIPT]
    for define in ("MAXACTION=77", "MAXACTION=78", "MAXSTRINGLEN=200"):
        proc = subprocess.run([STPC, "-D", define, *options],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    objects = sorted((cache / "runtime").glob("*/stpc-runtime.o"))
    assert len(objects) == 2        # the default sizes, and MAXSTRINGLEN's
