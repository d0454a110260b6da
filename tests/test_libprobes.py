"""process("PATH").library("LIB").function(...) on the host: the library
found among the program's DT_NEEDED entries (or by path), the sites marked
with the program whose processes fire them, the errors.  The VM case
uprobes/library-malloc-program-only runs one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError
from stpc.compiler.libprobes import find_library

SOURCE = Path(__file__).resolve().parent / "uprobe_target.c"
LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")

pytestmark = pytest.mark.skipif(not LIBC.exists(), reason="no x86-64 glibc")


@pytest.fixture(scope="module")
def binary(tmp_path_factory) -> Path:
    binary = tmp_path_factory.mktemp("lib") / "uprobe_target"
    subprocess.run(["gcc", "-g", "-O2", "-o", str(binary), str(SOURCE)],
                   check=True)
    return binary


def _program(kver, script: str):
    return Compilation(script, "t.stp",
                       CompileOptions(kernel_release=kver)).program()


def _ldd_libc(binary: Path) -> str:
    out = subprocess.run(["ldd", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    return next(line.split("=>")[1].split()[0] for line in out.splitlines()
                if line.strip().startswith("libc.so.6"))


def test_a_needed_library_is_found_where_ldd_finds_it(binary):
    found = find_library(str(binary), "libc.so*", None)
    assert Path(found).resolve() == Path(_ldd_libc(binary)).resolve()


def test_sites_are_the_librarys_and_fire_in_the_program_only(kver, binary):
    site, = _program(kver, f'probe process("{binary}").library("libc.so.6")'
                           '.function("malloc") { }').sites
    plain, = _program(kver, f'probe process("{LIBC}").function("malloc") '
                            '{ }').sites
    assert (site.user.path, site.user.offset, site.user.build_id) == \
        (plain.user.path, plain.user.offset, plain.user.build_id)
    assert site.user.process == str(binary)
    assert plain.user.process == ""
    assert site.description == (f'process("{binary}").library("{LIBC}")'
                                '.function("malloc")')


def test_the_module_compares_the_programs_inode(kver, binary):
    c_source = Compilation(
        f'probe process("{binary}").library("{LIBC}").function("malloc") '
        '{ }', "t.stp", CompileOptions(kernel_release=kver)).c_source()
    assert f'.process = "{binary}",' in c_source
    assert f'.path = "{LIBC}",' in c_source


@pytest.mark.parametrize("library, message", [
    ("libm.so*", "{b} does not need a library 'libm.so*'"),
    ("/no/such/lib.so", "library /no/such/lib.so does not exist"),
])
def test_errors_are_located(kver, binary, library, message):
    with pytest.raises(StpcError) as caught:
        _program(kver, f'probe process("{binary}").library("{library}")'
                       '.function("malloc") { }')
    errors = getattr(caught.value, "errors", [caught.value])
    assert errors[0].message == message.format(b=binary)
    assert errors[0].span is not None


@pytest.mark.kbuild
def test_builds_for_both_kernels(kver, second_kver, binary, tmp_path,
                                 monkeypatch):
    """The library filter, usymname()/usymdata() and the *_arg()
    readers compile against both kernels' headers (-Werror)."""
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    script = f'''
        probe process("{binary}").library("libc.so.6").function("malloc") {{
            printf("%d %s %s\\n", ulong_arg(1), usymname(uaddr()),
                   usymdata(uaddr()))
        }}'''
    for release in (kver, second_kver):
        assert Compilation(script, "t.stp", CompileOptions(
            kernel_release=release)).module().exists()
