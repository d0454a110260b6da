"""process.begin/.end probe points on the host: their sites, the filters
the module gets, the errors, and the build for both kernels.  The VM
cases (tests/vmcases.py, process_cases) run them."""

from __future__ import annotations

import shutil

import pytest

from stpc.compiler import cli
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError
from stpc.compiler.ir import ProbeKind, ProcessSite

TRUE = shutil.which("true")


def _program(kver, script: str):
    return Compilation(script, "t.stp",
                       CompileOptions(kernel_release=kver)).program()


def _c(kver, script: str) -> str:
    return Compilation(script, "t.stp",
                       CompileOptions(kernel_release=kver)).c_source()


def test_the_forms_and_whom_they_are_for(kver):
    program = _program(kver, '''
        probe process.begin, process("true").end, process(42).begin { }''')
    assert [s.kind for s in program.sites] == [ProbeKind.PROCESS] * 3
    assert [s.process for s in program.sites] == [
        ProcessSite(None, None, False), ProcessSite(TRUE, None, True),
        ProcessSite(None, 42, False)]
    assert [s.description for s in program.sites] == [
        "process.begin", f'process("{TRUE}").end', "process(42).begin"]


def test_the_module_gets_each_filter_once(kver):
    c_source = _c(kver, f'''
        probe process("{TRUE}").begin {{ println(pid()) }}
        probe process.end {{ println(pid()) }}
        probe process("{TRUE}").end {{ println(execname()) }}''')
    filters = c_source.split("stpc_proc_filters[] = {", 1)[1]
    filters = filters.split("};", 1)[0]
    assert filters.split() == ["{", ".path", "=", f'"{TRUE}",', ".pid",
                               "=", "0", "},", "{", ".path", "=", "NULL,",
                               ".pid", "=", "0", "},"]
    probes = c_source.split("stpc_procprobes[] = {", 1)[1].split("\n};", 1)[0]
    assert [line.strip() for line in probes.splitlines()
            if ".filter" in line or ".is_end" in line] == [
        ".filter = 0,", ".is_end = 0,", ".filter = 1,", ".is_end = 1,",
        ".filter = 0,", ".is_end = 1,"]
    assert ".nprocprobes = 3," in c_source
    assert ".nproc_filters = 2," in c_source


def test_thread_forms_share_the_process_filters(kver):
    """process.thread.begin/.end: the forms of process.begin/.end, each
    probe marked as a thread's; the filter of a program is one."""
    program = _program(kver, f'''
        probe process.thread.begin, process("true").thread.end,
              process(42).thread.begin, process("true").begin {{ }}''')
    assert [s.process for s in program.sites] == [
        ProcessSite(None, None, False, True),
        ProcessSite(TRUE, None, True, True),
        ProcessSite(None, 42, False, True), ProcessSite(TRUE, None, False)]
    assert [s.description for s in program.sites] == [
        "process.thread.begin", f'process("{TRUE}").thread.end',
        "process(42).thread.begin", f'process("{TRUE}").begin']
    c_source = _c(kver, f'''
        probe process("{TRUE}").thread.begin {{ println(tid()) }}
        probe process("{TRUE}").end {{ println(pid()) }}''')
    probes = c_source.split("stpc_procprobes[] = {", 1)[1].split("\n};", 1)[0]
    assert [line.strip() for line in probes.splitlines()
            if ".filter" in line or ".is_" in line] == [
        ".filter = 0,", ".is_end = 0,", ".is_thread = 1,",
        ".filter = 0,", ".is_end = 1,", ".is_thread = 0,"]
    assert ".nproc_filters = 1," in c_source


@pytest.mark.parametrize("point", ["process.thread", "process.thread.start",
                                   'process.thread("x").begin'])
def test_other_thread_points_are_not_lifetime_points(kver, point):
    with pytest.raises(StpcError):
        _program(kver, f"probe {point} {{ }}")


@pytest.mark.parametrize("point, message", [
    ('process("/no/such/program").begin', "program /no/such/program does "
     "not exist"),
    ('process("stpc-no-such-program").end',
     "no program 'stpc-no-such-program' in $PATH"),
    ("process(0).begin", "process(PID) takes a positive pid"),
])
def test_errors_are_located(kver, point, message):
    with pytest.raises(StpcError) as caught:
        _program(kver, f"probe {point} {{ }}")
    errors = getattr(caught.value, "errors", [caught.value])
    assert errors[0].message == message
    assert errors[0].span is not None


def test_an_optional_point_of_a_missing_program_is_left_out(kver):
    program = _program(kver, 'probe process("/no/such").begin?, '
                             'process.end { }')
    assert [s.description for s in program.sites] == ["process.end"]


@pytest.mark.kbuild
def test_builds_for_both_kernels(kver, second_kver, tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    script = f'''
        probe process.begin {{ printf("%s %d\\n", execname(), pid()) }}
        probe process("{TRUE}").end {{ println(pid()) }}
        probe process.thread.begin, process(1).thread.end {{
            println(tid())
        }}'''
    for release in (kver, second_kver):
        assert Compilation(script, "t.stp", CompileOptions(
            kernel_release=release)).module().exists()


def test_p2_lists_the_thread_probes(kver, capsys):
    assert cli.main(["-p2", "-r", kver, "-e",
                     f'probe process("{TRUE}").thread.begin, '
                     'process.thread.end { println(tid()) }']) == 0
    out = capsys.readouterr().out
    assert out.split("# probes\n")[1] == (
        f'process("{TRUE}").thread.begin /* handler 0, priority 0 */\n'
        'process.thread.end /* handler 0, priority 0 */\n')
