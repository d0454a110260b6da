"""Tracepoint probes dispatched on their guard (compiler/tpdispatch.py):
which handlers begin with a guard the probe function can test once,
which probes share one probe function, what -p2 says, and the C of that
function (built with -Werror)."""

from __future__ import annotations

import pytest

from stpc.compiler import ctype as C
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.ir import (DispatchKey, Handler, ProbeKind, ProbeSite,
                              ResolvedSite, Scope)
from stpc.compiler.parse import parse
from stpc.compiler.tpdispatch import dispatch_groups, site_guard
from stpc.compiler.unparse import describe_program

ULONG = C.Base("unsigned long", 8, False)
PT_REGS = C.Struct("struct", "pt_regs", 168, [
    C.Member("di", 112, ULONG), C.Member("orig_ax", 120, ULONG),
    C.Member("flags", 144, C.Base("unsigned int", 4, False), bit_size=3),
    C.Member("cs", 136, C.Base("unsigned short", 2, False))])
SYS_ENTER = C.Prototype("sys_enter", [
    C.Param("regs", C.Pointer(PT_REGS)), C.Param("id", C.Base("long", 8,
                                                              True))],
    C.Void())
# a made-up event: a signed 4-byte argument and a string
OTHER = C.Prototype("other_event", [
    C.Param("code", C.Base("int", 4, True)),
    C.Param("label", C.Pointer(C.Base("char", 1, True)))], C.Void())


def _sites(source: str, prototypes=None):
    """The handlers and tracepoint sites of SOURCE, each probe on
    sys_enter unless PROTOTYPES gives its event."""
    script = parse(source, "t.stp")
    handlers, sites = [], []
    for index, probe in enumerate(script.probes):
        prototype = (prototypes or {}).get(index, SYS_ENTER)
        handlers.append(Handler(probe, Scope("probe", probe.body), index))
        sites.append(ProbeSite(
            probe.points[0], ProbeKind.TRACEPOINT, 0, index, index,
            description=f'kernel.trace("x:{prototype.name}")',
            resolved=ResolvedSite(None, None, 0, False, prototype, None,
                                  tracepoint=True)))
    return handlers, sites


def _guard(body: str, prototype=SYS_ENTER):
    handlers, sites = _sites(f"probe kernel.trace(\"x\") {{ {body} }}",
                             {0: prototype})
    return site_guard(sites[0], handlers[0].decl.body)


ID = DispatchKey("$id", 1, None, 8, True)
ORIG_AX = DispatchKey("$regs->orig_ax", 0, 120, 8, False)


@pytest.mark.parametrize("body, expected", [
    ("if ($id != 3) next", (ID, (3,))),
    ("if (3 != $id) next; n = 1", (ID, (3,))),
    ("if ($id != 3) { next }", (ID, (3,))),
    ("{ ; { if ($id != 3) next } } n = 2", (ID, (3,))),
    ("if ($id != 22 && $id != 293) next", (ID, (22, 293))),
    ("if ($regs->orig_ax != 110) next", (ORIG_AX, (110,))),
    ("if ($regs->cs != 51) next",
     (DispatchKey("$regs->cs", 0, 136, 2, False), (51,))),
])
def test_a_guard_is_recognised(body, expected):
    assert _guard(body) == expected


@pytest.mark.parametrize("body", [
    "if ($id == 3) next",                   # == runs on everything else
    "if ($id != n) next",                   # not a constant
    "if ($id != 1 + 2) next",
    "n = 1; if ($id != 3) next",            # not the first statement
    "if ($id != 3) next else n = 1",        # an else
    "if ($id != 3) n = 1",                  # not next
    "if ($id != 3 || $id != 4) next",       # ||
    "if ($id != 3 && $regs->orig_ax != 4) next",    # two keys
    "if ($id != 3 && n) next",
    "if ($regs->flags != 3) next",          # a bit field
    "if ($regs->nosuch != 3) next",
    "if ($nosuch != 3) next",
    "if ($$parms != 3) next",
    "if (@entry($id) != 3) next",
    "if ($regs->orig_ax->x != 3) next",
])
def test_other_first_statements_are_not_guards(body):
    assert _guard(body) is None


def test_a_narrow_argument_is_its_word_truncated_and_sign_extended():
    assert _guard("if ($code != -1) next", OTHER) == (
        DispatchKey("$code", 0, None, 4, True), (-1,))
    assert _guard("if ($label != 0) next", OTHER) == (
        DispatchKey("$label", 1, None, 8, False), (0,))


def test_probes_on_one_tracepoint_and_key_share_a_function():
    handlers, sites = _sites("""
probe kernel.trace("a") { if ($id != 3) next; n = 1 }
probe kernel.trace("a") { n = 2 }
probe kernel.trace("a") { if (39 != $id) next }
probe kernel.trace("a") { if ($regs->orig_ax != 3) next }
probe kernel.trace("a") { if ($id != 3) next }
""")
    groups = dispatch_groups(handlers, sites)
    assert len(groups) == 1
    assert groups[0].key == ID
    assert groups[0].members == ((0, (3,)), (2, (39,)), (4, (3,)))


def test_a_lone_guard_different_events_or_optional_probes_make_no_group():
    handlers, sites = _sites("""
probe kernel.trace("a") { if ($id != 3) next }
probe kernel.trace("b") { if ($code != 3) next }
probe kernel.trace("c")? { if ($id != 4) next }
""", {1: OTHER})
    assert dispatch_groups(handlers, sites) == ()


# -- the whole pipeline, against the installed kernel --

def _program(kver, source: str):
    options = CompileOptions(kernel_release=kver, module_name="t_tpd")
    return Compilation(source, "t.stp", options)


SCRIPT = """
global n
probe kernel.trace("raw_syscalls:sys_enter") { n++ }
probe syscall.getppid, syscall.gettid { n++ }
probe kernel.trace("raw_syscalls:sys_enter") { if ($id != 110) next; n++ }
probe syscall.getppid.return, syscall.pipe.return { n++ }
"""


def test_the_syscall_aliases_are_dispatched_and_p2_says_so(kver):
    program = _program(kver, SCRIPT).program()
    text = describe_program(program)
    assert text.split("# tracepoint dispatch\n")[1] == (
        'kernel.trace("raw_syscalls:sys_enter") /* one probe function for '
        '3 probes, on $id: 110 -> handler 1, 186 -> handler 2, 110 -> '
        'handler 3 */\n'
        'kernel.trace("raw_syscalls:sys_exit") /* one probe function for '
        '2 probes, on $regs->orig_ax: 110 -> handler 4, 22|293 -> handler '
        '5 */\n')


def test_the_dispatching_function_switches_on_the_key_read_once(kver):
    c_source = _program(kver, SCRIPT).c_source()
    # the unguarded probe keeps its own function, then the group's
    assert ".nprobes = 1," in c_source and ".nprobes = 3," in c_source
    assert c_source.count("static void stpc_tracepoint_") == 3
    enter = c_source.split("static void stpc_tracepoint_1(")[1]
    enter = enter.split("\n}\n")[0]
    assert "switch ((s64)a1) {" in enter
    assert enter.index("case 110LL:") < enter.index("case 186LL:")
    case = enter.split("case 110LL:")[1].split("break;")[0]
    assert case.count("(&stpc_tracepoint_probes[") == 2
    leave = c_source.split("static void stpc_tracepoint_2(")[1]
    leave = leave.split("\n}\n")[0]
    assert "stpc_read_kernel_scalar(&raw, a0 + 120, 8)" in leave
    assert "stpc_run_probes_data(probe, 2, args);" in leave
    assert "switch ((s64)raw) {" in leave
    assert "case 22LL:" in leave and "case 293LL:" in leave


@pytest.mark.kbuild
def test_the_generated_c_builds_with_werror(kver, tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    assert _program(kver, SCRIPT).module().exists()
