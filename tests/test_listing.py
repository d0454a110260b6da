"""`stpc -l/-L` and `-p2` as a SystemTap user reads them: every listed line
pastes back into a script (the module as it was named, .return values
as @entry()), types as C writes them, one line per function, and -p2
shows what each glob expanded to.

Exact lines against the fixture module given by its path; the shape of
the lines for Debian's kernel, from BTF (always there) and from DWARF
(when the -dbg vmlinux is in the cache)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from stpc.compiler import cli
from stpc.compiler import ctype as C
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError
from stpc.compiler.ir import ResolvedSite
from stpc.compiler.listing import list_points, readable_at
from stpc.compiler.probes import ProbeEnvironment, find_vmlinux

import fixture

OPENAT2 = ("$dfd:int $filename:const char * $how:struct open_how *")
OPENAT2_RETURN = ("$return:long int @entry($dfd):int "
                  "@entry($filename):const char * "
                  "@entry($how):struct open_how *")


@pytest.fixture(scope="module")
def ko(kver) -> str:
    return str(fixture.build_fixture(kver))


def _listed(kver, point: str, with_vars: bool = False, **options) -> list:
    return list(list_points(point, kver, with_vars=with_vars, **options))


def _function(ko: str, name: str, line: int, suffix: str = "") -> str:
    source = os.path.join(os.path.dirname(ko), "stpc_fixture.c")
    return f'module("{ko}").function("{name}@{source}:{line}"){suffix}'


def _point_of(line: str) -> str:
    """The probe point of a listed line, without what it can read."""
    return re.split(r" (?=[$@])", line, maxsplit=1)[0]


# -- types as C writes them --

CHAR = C.Base("char", 1, True)
INT = C.Base("int", 4, True)


@pytest.mark.parametrize("ctype, shown", [
    (C.Pointer(C.Qualified("const", CHAR)), "const char *"),
    (C.Qualified("const", C.Pointer(C.Qualified("const", CHAR))),
     "const char *const"),
    (C.Pointer(C.Qualified("const", C.Pointer(CHAR))), "char *const *"),
    (C.Qualified("const", C.Qualified("volatile", C.Pointer(INT))),
     "int *const volatile"),
    (C.Pointer(C.Array(INT, 4)), "int (*)[4]"),
    (C.Array(C.Pointer(CHAR), 4), "char *[4]"),
    (C.Array(C.Array(INT, 3), 2), "int[2][3]"),
    (C.Array(CHAR, None), "char[]"),
    (C.Pointer(C.Pointer(C.Struct("struct", "file", 0))), "struct file **"),
    (C.Pointer(C.Typedef("arr_t", C.Array(INT, 4))), "arr_t *"),
    (C.Qualified("const", C.Typedef("size_t", INT)), "const size_t"),
    (C.Pointer(C.Function()), "void *"),
    (C.Pointer(C.Void()), "void *"),
])
def test_types_are_written_as_c_type_names(ctype, shown):
    assert ctype.display() == shown


# -- the fixture module, named by its path --

def test_a_path_stays_the_path_and_types_read_as_c(kver, ko):
    assert _listed(kver, f'module("{ko}").function("stpc_fixture_ptr")',
                   True) == [_function(ko, "stpc_fixture_ptr", 192) +
                             " $p:int * $name:const char *"]


def test_every_listed_point_lists_itself_again(kver, ko):
    lines = _listed(kver, f'module("{ko}").function("*")')
    assert len(lines) > 10
    for line in lines:
        assert line.startswith(f'module("{ko}").function("')
        assert _listed(kver, line) == [line]


def test_one_sorted_line_per_function_inlined_copies_merged(kver, ko):
    lines = _listed(kver, f'module("{ko}").function("*")', True)
    names = [re.search(r'function\("(\w+)@', line).group(1)
             for line in lines]
    assert names == sorted(set(names))
    helper = [line for line in lines if "stpc_fixture_inlined_helper@" in line]
    assert helper == [_function(ko, "stpc_fixture_inlined_helper", 168) +
                      " $v:int"]


def test_statement_lines_in_order_each_pasting_back(kver, ko):
    lines = _listed(kver, f'module("{ko}").statement('
                          '"stpc_fixture_locals@stpc_fixture.c:236-243")')
    numbers = [int(re.search(r":(\d+)\"\)$", line).group(1))
               for line in lines]
    assert numbers == sorted(set(numbers)) and 242 in numbers
    for line in lines:
        assert _listed(kver, line) == [line]


def test_inline_points_keep_their_suffix(kver, ko):
    [line] = _listed(kver, f'module("{ko}").function('
                           '"stpc_fixture_inlined_helper").inline')
    assert line == _function(ko, "stpc_fixture_inlined_helper", 168,
                             ".inline")
    assert _listed(kver, line) == [line]


def test_entry_lists_what_has_a_location_there(kver, ko):
    lines = _listed(kver, f'module("{ko}").function("stpc_fixture_*")',
                    True)
    readable = {re.search(r'function\("(\w+)@', line).group(1):
                line.split(" ")[1:] for line in lines}
    # total is computed after the entry; r is only set at lines 221-222
    assert readable["stpc_fixture_ints"] == [
        "$i:int", "$u:unsigned", "int", "$s:short", "int",
        "$uc:unsigned", "char", "$l:long", "int", "$ul:long", "unsigned",
        "int"]
    assert readable["stpc_fixture_byval"] == [
        "$p:struct", "stpc_fixture_point", "$scale:int"]


def test_what_is_left_out_at_entry_is_refused_there(kver, ko):
    script = (f'probe module("{ko}").function("stpc_fixture_byval") '
              "{ println($r->x) }")
    with pytest.raises(StpcError, match=r"'\$r' is not available"):
        Compilation(script, "<t>", CompileOptions(kver)).program()


def test_return_lists_return_and_parameters_through_entry(kver, ko):
    lines = _listed(kver, f'module("{ko}").function('
                          '"stpc_fixture_re*").return', True)
    assert lines == [
        _function(ko, "stpc_fixture_return", 226, ".return") +
        " $return:long int @entry($a):long int @entry($b):long int"]
    [void] = _listed(kver, f'module("{ko}").function('
                           '"stpc_fixture_exit").return', True)
    assert void == _function(ko, "stpc_fixture_exit", 382, ".return")


def _reads(item: str) -> str:
    """A listed value as a script reads it: a struct by one member, inside
    @entry() for a value saved at entry."""
    expr, _, ctype = item.partition(":")
    if ctype != "struct stpc_fixture_point":
        return expr
    if expr.startswith("@entry("):
        return expr[:-1] + "->x)"
    return expr + "->x"


@pytest.mark.parametrize("suffix", ["", ".return"])
def test_every_listed_value_compiles_where_it_was_listed(kver, ko, suffix):
    lines = _listed(kver, f'module("{ko}").function("stpc_fixture_*")'
                          f"{suffix}", True)
    probes = []
    for line in lines:
        point = _point_of(line)
        items = re.findall(r"(?:^| )([$@][^ :]+:[^$@]+?)(?= [$@]|$)",
                           line[len(point):])
        reads = "".join(f" x = {_reads(item)};" for item in items)
        probes.append(f"probe {point} {{{reads} }}")
    assert any("@entry(" in p for p in probes) == (suffix == ".return")
    program = Compilation("\n".join(probes), "<listed>",
                          CompileOptions(kver)).program()
    assert len(program.sites) == len(lines)


# -- -p2 --

def _p2(script: str, capsys, *options) -> str:
    assert cli.main(["-p2", *options, "-e", script]) == 0
    return capsys.readouterr().out


def test_p2_shows_each_function_a_glob_matched(kver, ko, capsys):
    glob = f'module("{ko}").function("stpc_fixture_r*")'
    out = _p2(f"probe {glob} {{ }}", capsys, "-r", kver)
    probes = out.split("# probes\n")[1].splitlines()
    assert probes == [
        f"{_function(ko, name, line)} /* <- {glob}; "
        f"pc=<stpc_fixture:{symbol}>; {how}; handler 0, priority 0 */"
        for name, line, symbol, how in [
            ("stpc_fixture_rare", 253, "stpc_fixture_rare+0",
             "ftrace, no registers"),
            ("stpc_fixture_return", 226, "stpc_fixture_return+0",
             "ftrace, no registers"),
            ("stpc_fixture_run_one", 274,
             probes[2].split("pc=<stpc_fixture:")[1].split(">")[0],
             "kprobe")]]
    assert "stpc_fixture_proc_write+" in probes[2]  # inlined there


def test_p2_shows_how_each_probe_is_armed(kver, ko, capsys):
    script = (f'probe module("{ko}").function("stpc_fixture_return") {{ }} '
              f'probe module("{ko}").function("stpc_fixture_return").return '
              f'{{ }}')
    planned = [line.split("; ")[2] for line in
               _p2(script, capsys, "-r", kver).split("# probes\n")[1]
               .splitlines()]
    assert planned == ["ftrace, no registers", "kretprobe"]
    planned = [line.split("; ")[2] for line in
               _p2(script, capsys, "-r", kver, "-D", "STPC_NO_FTRACE")
               .split("# probes\n")[1].splitlines()]
    assert planned == ["kprobe", "kretprobe"]


@pytest.mark.parametrize("body, registers", [
    ("n++", "no registers"),
    # arguments in rdi and r9, a member read through one
    ("n += $i + $ul", "argument registers"),
    ("n += $item->id", "argument registers"),
    # memory at an address the script holds
    ("n += @cast(n, \"struct stpc_fixture_item\")->id", "no registers"),
    # a backtrace, or a register written (guru mode): every register
    ("print_backtrace()", "registers saved"),
    ("f()", "registers saved"),
    ("$i = 1", "registers saved"),
])
def test_p2_shows_which_registers_an_entry_handler_needs(kver, ko, capsys,
                                                         body, registers):
    """The ftrace_ops an entry rides is chosen by what its handler's
    target reads were compiled to: none, the argument registers (the ops
    that saves no register still has them), or every register."""
    function = "stpc_fixture_struct" if "item" in body else \
        "stpc_fixture_ints"
    script = (f"global n function f() {{ print_backtrace() }} "
              f'probe module("{ko}").function("{function}") {{ {body} }}')
    out = _p2(script, capsys, "-r", kver, "-g")
    assert out.split("# probes\n")[1].splitlines()[0].split("; ")[2] == \
        f"ftrace, {registers}"


def test_p2_shows_unused_globals_with_a_type(capsys):
    out = _p2("global used, unused, init = 5, name = \"x\", arr[3]; "
              "function never() { unused = \"s\" } "
              "probe begin { used = 1 }", capsys)
    assert out == ("# globals\n"
                   "used:long\n"
                   "unused:long /* unused */\n"
                   "init:long /* unused */\n"
                   "name:string /* unused */\n"
                   "arr[]:unknown /* unused */\n"
                   "# functions\n"
                   "# probes\n"
                   "begin /* handler 0, priority 0 */\n")


# -- the kernel --

@pytest.fixture
def no_dwarf(tmp_path, monkeypatch, kver):
    """Debian's default: no -dbg package, so no kernel DWARF."""
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path))
    if find_vmlinux(ProbeEnvironment(kver)) is not None:
        pytest.skip("a vmlinux with DWARF is installed")


def test_kernel_without_dwarf_lists_btf_parameters(kver, no_dwarf):
    point = 'kernel.function("do_sys_openat2")'
    assert _listed(kver, point, True) == [f"{point} {OPENAT2}"]
    assert _listed(kver, point + ".return", True) == [
        f"{point}.return {OPENAT2_RETURN}"]
    assert _listed(kver, point + ".call", True) == [
        f"{point}.call {OPENAT2}"]


def test_kernel_types_btf_is_honoured_from_the_command_line(kver):
    stpc = os.path.join(os.path.dirname(sys.executable), "stpc")
    proc = subprocess.run(
        [stpc, "-r", kver, "--kernel-types", "btf", "-L",
         'kernel.function("do_sys_openat2").return'],
        capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == ('kernel.function("do_sys_openat2").return '
                           f"{OPENAT2_RETURN}\n")


def test_btf_lists_only_parameters_in_registers():
    wide = C.Struct("struct", "pair", 16)
    params = [C.Param(f"a{i}", INT) for i in range(7)] + \
        [C.Param("", INT)]
    prototype = C.Prototype("many", [C.Param("p", wide)] + params, C.Void())
    entry = ResolvedSite(None, None, 0, False, prototype, None)
    assert readable_at(entry) == [f"$a{i}:int" for i in range(5)]
    returns = ResolvedSite(None, None, 0, True, prototype, None)
    assert readable_at(returns) == [f"@entry($a{i}):int" for i in range(5)]


def test_kernel_dwarf_listing_shape(kver, kernel_dwarf):
    [entry] = _listed(kver, 'kernel.function("do_sys_openat2")', True)
    assert entry.startswith('kernel.function("do_sys_openat2@fs/open.c:')
    assert f") {OPENAT2} " in entry
    [ret] = _listed(kver, 'kernel.function("do_sys_openat2").return', True)
    assert ret == f"{_point_of(entry)}.return {OPENAT2_RETURN}"
    assert _listed(kver, _point_of(entry)) == [_point_of(entry)]


def test_kernel_glob_is_listed_once_per_function(kver, kernel_dwarf):
    lines = _listed(kver, 'kernel.function("vfs_*")')
    names = [line.split('"')[1].split("@")[0] for line in lines]
    assert len(lines) > 20 and names == sorted(set(names))
    assert all(re.fullmatch(r'kernel\.function\("vfs_\w+@[\w/.-]+:\d+"\)',
                            line) for line in lines)
