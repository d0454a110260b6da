"""The frame around each handler (runtime_c/stpc_handler.h) is built for
what that handler uses: a counter gets no frame zeroing, no lock walk and
no flush, in the generated C and in the machine code kbuild makes of it;
a handler that reads a local before setting it, takes a lock and prints
keeps all three."""

from __future__ import annotations

import re
import subprocess

import pytest

from stpc.compiler import ast as A
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.lower_stmt import assigned_before_read
from stpc.compiler.parse import parse

SCRIPT = """global n, seen
probe timer.ms(10) { n++ }
probe timer.ms(20) { if (n) x = n; seen[x] = 1; printf("%d\\n", x) }
probe timer.ms(30) { y = n * 2; z = y + 1; n += z }
"""


def _generated(kver: str, name: str) -> Compilation:
    return Compilation(SCRIPT, "t.stp", CompileOptions(
        kernel_release=kver, module_name=name))


def _runner(c_source: str, handler: str) -> str:
    return re.search(r"static void stpc_run_%s_other\(.*?\n}\n" % handler,
                     c_source, re.S).group(0)


def _handler(c_source: str, handler: str) -> str:
    return re.search(r"static void stpc_%s\(struct stpc_context \*c\)\n"
                     r"{\n.*?\n}\n" % handler, c_source, re.S).group(0)


def test_a_counter_gets_no_zeroing_lock_or_flush(kver):
    c_source = _generated(kver, "t_frame").c_source()
    runner = _runner(c_source, "probe_0")
    assert "/* locks */ false" in runner
    assert "/* prints */ false" in runner
    assert "memset" not in _handler(c_source, "probe_0")


def test_a_handler_that_needs_them_keeps_them(kver):
    c_source = _generated(kver, "t_frame").c_source()
    runner = _runner(c_source, "probe_1")
    assert "/* locks */ true" in runner
    assert "/* prints */ true" in runner
    assert "memset(&l->vars" in _handler(c_source, "probe_1")


def test_locals_set_before_any_read_need_no_zeroing(kver):
    c_source = _generated(kver, "t_frame").c_source()
    assert "memset" not in _handler(c_source, "probe_2")


def _body(text: str) -> A.Block:
    return parse(f"probe begin {{ {text} }}", "t.stp").probes[0].body


@pytest.mark.parametrize("body, names, expected", [
    ("x = 1; y = x + 1; print(y)", {"x", "y"}, True),
    ("x = x + 1", {"x"}, False),                 # read by its own setting
    ("if (1) x = 1; print(x)", {"x"}, False),    # set in a branch only
    ("print(x); x = 1", {"x"}, False),
    ("x = 1; x .= \"a\"", {"x"}, True),
    ("x += 1", {"x"}, False),                    # '+=' reads it
    ("foreach (k in a) print(k)", {"k"}, False),
])
def test_assigned_before_read(body, names, expected):
    assert assigned_before_read(_body(body), names) is expected


@pytest.mark.kbuild
def test_the_counter_runner_calls_neither_flush_nor_lock(kver, tmp_path,
                                                         monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    module = _generated(kver, "t_frame_ko").module()
    dump = subprocess.run(["objdump", "-dr", str(module)], check=True,
                          capture_output=True, text=True).stdout
    functions = dict(re.findall(r"<(stpc_run_probe_\d_other)>:\n(.*?)\n\n",
                                dump, re.S))
    counter, locked = (functions["stpc_run_probe_0_other"],
                       functions["stpc_run_probe_1_other"])
    for callee in ("stpc_flush", "stpc_lock_globals", "stpc_unlock_globals"):
        assert callee not in counter
        assert callee in locked


@pytest.mark.parametrize("call", [
    'print("x")', 'println("x")', 'printd(",", 1, 2)', 'printdln(",", 1, 2)',
    'printf("x")', "print_backtrace()", "print_ubacktrace()",
    'print_ustack("")'])
def test_a_handler_whose_only_call_prints_keeps_its_flush(kver, call):
    c_source = Compilation(f"probe timer.ms(10) {{ {call} }}", "t.stp",
                           CompileOptions(kernel_release=kver,
                                          module_name="t_prints")).c_source()
    assert "/* prints */ true" in _runner(c_source, "probe_0")


ENTRY_SCRIPT = """global picks
function pick() { printf("picked\\n"); return picks++ % 4 }
probe module("stpc_fixture").function("stpc_fixture_struct").return {
	printf("%d %d\\n", @entry($item->vals[pick()]), @entry($item->id))
}
probe module("stpc_fixture").function("stpc_fixture_return").return {
	printf("%d\\n", @entry($a) + picks)
}
"""


def test_an_entry_handler_prints_and_locks_when_its_values_need_it(kver):
    """What an @entry() value reads runs at the function's entry, in a
    frame of its own: one calling a printing function flushes and takes
    the globals' locks; one reading parameters only does neither."""
    import fixture

    directory = str(fixture.build_fixture(kver).parent)
    c_source = Compilation(ENTRY_SCRIPT, "t.stp", CompileOptions(
        kernel_release=kver, module_name="t_entry",
        debuginfo_path=(directory,))).c_source()
    frames = re.findall(r"static void stpc_run_entry_\d+_other\(.*?"
                        r"/\* locks \*/ (\w+),\s*/\* prints \*/ (\w+)",
                        c_source, re.S)
    assert sorted(frames) == [("false", "false"), ("true", "true")]


ENTRIES = "global n\n" + "".join(
    'probe kernel.function("%s") { n += %d }\n' % (name, i)
    for i, name in enumerate(("vfs_read", "vfs_write", "vfs_open",
                              "vfs_fsync", "vfs_getattr", "vfs_statfs")))


def test_function_entries_call_their_first_runners_directly(kver):
    """stpc_run_entry (entry_ftrace.h's call on a hit) compares with the
    runners of the first four entry sites and calls them directly; the
    others go through the pointer (tests/corpus/fixture/dispatch.stp runs
    both ways)."""
    from stpc.compiler.translate import DIRECT_ENTRY_RUNNERS
    c_source = Compilation(ENTRIES, "t.stp", CompileOptions(
        kernel_release=kver, module_name="t_entries")).c_source()
    dispatch = re.search(r"\nvoid stpc_run_entry\(.*?\n}\n", c_source,
                         re.S).group(0)
    direct = re.findall(r"if \(p->run == stpc_run_(\w+)\) {\n"
                        r"\t\tstpc_run_\1\(p, regs, NULL\);", dispatch)
    assert direct == [f"probe_{i}_other"
                      for i in range(DIRECT_ENTRY_RUNNERS)]
    assert dispatch.rstrip().endswith("p->run(p, regs, NULL);\n}")
