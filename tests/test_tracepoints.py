"""kernel.trace("SYSTEM:EVENT"): the installed kernel's tracepoints from
its BTF, their subsystems from its build tree's trace headers, globs in
either half, errors located on the point, -l/-L, the generated C (built
with -Werror), and the header parser on small headers."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from stpc.compiler import ctype as C
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError
from stpc.compiler.ir import ProbeKind
from stpc.compiler.listing import list_points
from stpc.compiler.tracepoints import (Tracepoint, _declared_events,
                                      _unreceivable)

EXEC = ('kernel.trace("sched:sched_process_exec") $p:struct task_struct * '
        '$old_pid:pid_t $bprm:struct linux_binprm *')
SWITCH = ('kernel.trace("sched:sched_switch") $preempt:bool '
          '$prev:struct task_struct * $next:struct task_struct * '
          '$prev_state:unsigned int')


def _program(kver, source: str):
    options = CompileOptions(kernel_release=kver, module_name="t_tp")
    return Compilation(source, "t.stp", options)


def _points(kver, pattern: str, with_vars: bool = False) -> list:
    return list(list_points(f'kernel.trace("{pattern}")', kver,
                            with_vars=with_vars))


# -- resolution against the installed kernel --

@pytest.mark.parametrize("pattern, expected", [
    ("sched:sched_switch", ['kernel.trace("sched:sched_switch")']),
    ("sched_switch", ['kernel.trace("sched:sched_switch")']),
    ("*:sys_enter", ['kernel.trace("raw_syscalls:sys_enter")']),
    ("raw_syscalls:sys_e*", ['kernel.trace("raw_syscalls:sys_enter")',
                             'kernel.trace("raw_syscalls:sys_exit")']),
    ("irq:irq_handler_e*", ['kernel.trace("irq:irq_handler_entry")',
                            'kernel.trace("irq:irq_handler_exit")']),
    ("block:block_rq_issue", ['kernel.trace("block:block_rq_issue")']),
    ("net:net_dev_xmit", ['kernel.trace("net:net_dev_xmit")']),
    # declared by a macro of the header's own (DEFINE_IRQ_VECTOR_EVENT)
    ("local_timer_entry", ['kernel.trace("irq_vectors:local_timer_entry")']),
    # the header is syscalls.h, its TRACE_SYSTEM raw_syscalls
    ("syscalls:*", None),
])
def test_patterns_match_the_kernels_tracepoints(kver, pattern, expected):
    if expected is None:
        with pytest.raises(StpcError, match="no tracepoint matches"):
            _points(kver, pattern)
    else:
        assert _points(kver, pattern) == expected


def test_a_subsystem_glob_lists_every_event_of_it_sorted(kver):
    listed = _points(kver, "sched:*")
    assert listed == sorted(listed)
    assert len(listed) > 20
    assert all(p.startswith('kernel.trace("sched:') for p in listed)
    assert 'kernel.trace("sched:sched_process_fork")' in listed


def test_dash_L_shows_the_arguments_typed(kver):
    assert _points(kver, "sched:sched_process_exec", True) == [EXEC]
    assert _points(kver, "sched:sched_switch", True) == [SWITCH]
    assert _points(kver, "raw_syscalls:sys_enter", True) == [
        'kernel.trace("raw_syscalls:sys_enter") $regs:struct pt_regs * '
        '$id:long int']


@pytest.mark.skipif(shutil.which("stap") is None,
                    reason="SystemTap is not installed")
def test_the_names_and_arguments_are_stap_s(stap_kver):
    """stap -L, types written as stpc writes them (C's order)."""
    proc = subprocess.run(["stap", "-L", 'kernel.trace("sched:sched_*")',
                           "-r", stap_kver], capture_output=True, text=True,
                          timeout=600)
    theirs = sorted(line.replace("*", " *").replace("  *", " *")
                    for line in proc.stdout.splitlines())
    ours = _points(stap_kver, "sched:sched_*", True)
    assert ours == theirs


# -- errors, located --

def test_an_unknown_tracepoint_is_an_error_with_the_nearest(kver):
    with pytest.raises(StpcError) as caught:
        _program(kver, 'probe kernel.trace("sched:sched_swich") { }').program()
    error = caught.value
    assert "no tracepoint matches 'sched:sched_swich'" in error.message
    assert "sched:sched_switch" in error.hint
    assert (error.span.line, error.span.col) == (1, 14)


def test_a_tracepoint_needs_a_string(kver):
    with pytest.raises(StpcError, match="names its tracepoint as a string"):
        _program(kver, "probe kernel.trace(3) { }").program()


def test_an_optional_tracepoint_that_matches_nothing_is_dropped(kver):
    program = _program(kver, 'probe kernel.trace("nosuch:thing")?, begin '
                       '{ }').program()
    assert [s.kind for s in program.sites] == [ProbeKind.BEGIN]


def test_an_unknown_argument_lists_the_known_ones(kver):
    with pytest.raises(StpcError) as caught:
        _program(kver, 'probe kernel.trace("sched:sched_switch") '
                 '{ println($next_pid) }').program()
    assert "unknown target variable '$next_pid'" in caught.value.message
    assert "$prev_state" in caught.value.hint


def _tracepoint(*types) -> Tracepoint:
    params = [C.Param(f"a{i}", t) for i, t in enumerate(types)]
    return Tracepoint("demo", "demo_event",
                      C.Prototype("demo_event", params, C.Void()))


def test_arguments_must_each_fit_a_word():
    """x86-64 passes each in one register or stack slot; the probe
    function takes them as 64-bit words."""
    word = C.Struct("struct", "pfn", 8)
    assert _unreceivable(_tracepoint(C.Pointer(word), word,
                                     C.Base("int", 4, True))) is None
    wide = _unreceivable(_tracepoint(C.Struct("struct", "wide", 16)))
    assert wide == ("tracepoint demo_event passes 'a0' (struct wide) by "
                    "value, which stpc cannot receive yet")
    assert "'a1' (double)" in _unreceivable(_tracepoint(
        C.Base("int", 4, True), C.Base("double", 8, True, floating=True)))


# -- the generated C --

SCRIPT = """
global n
probe kernel.trace("sched:sched_process_exec") {
	printf("%s %s %d %s\\n", pp(), kernel_string($bprm->filename), $old_pid,
	       $$parms)
}
probe kernel.trace("raw_syscalls:sys_enter") { n[$id]++ }
probe kernel.trace("sched:sched_switch") {
	if ($prev_state > 1000) println($$vars$)
}
"""


def test_arguments_are_read_from_the_probe_functions_words(kver):
    c_source = _program(kver, SCRIPT).c_source()
    assert "static void stpc_tracepoint_0(void *probe, u64 a0, u64 a1, " \
           "u64 a2)" in c_source
    assert "u64 args[] = { a0, a1, a2 };" in c_source
    assert '.name = "sched_process_exec",' in c_source
    # $old_pid is a pid_t: the word's low half, sign-extended
    assert "((s64)(s32)((((u64)(((u64 *)c->data)[1])) & 0xffffffffULL)))" \
        in c_source
    assert ".ntracepoints = 3," in c_source


def test_a_script_without_tracepoints_has_no_tracepoint_table(kver):
    c_source = _program(kver, "probe begin { exit() }").c_source()
    assert "stpc_tracepoints" not in c_source


@pytest.mark.kbuild
def test_the_generated_c_builds_with_werror(kver, tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    assert _program(kver, SCRIPT).module().exists()


# -- modules' tracepoints --

FIXTURE_WRITE = ('kernel.trace("stpc_fixture:fixture_write") '
                 '$n:unsigned int $counter:int '
                 '$item:const struct stpc_fixture_item *')
MODULE_SCRIPT = """
probe kernel.trace("stpc_fixture:fixture_write") {
	printf("%d %d %d %s\\n", $n, $counter, $item->id,
	       kernel_string($item->name))
}
"""


@pytest.fixture(scope="module")
def fixture_dir(kver):
    from fixture import build_fixture
    return str(build_fixture(kver).parent)


def _module_program(kver, fixture_dir, source: str):
    options = CompileOptions(kernel_release=kver, module_name="t_tpm",
                             debuginfo_path=(fixture_dir,))
    return Compilation(source, "t.stp", options)


def test_a_modules_tracepoint_is_found_with_its_system_and_arguments(
        kver, fixture_dir):
    """The fixture's TRACE_SYSTEM is its header's, read through the
    module's relocations; the arguments and the struct from its DWARF."""
    for pattern in ("stpc_fixture:fixture_write", "fixture_write",
                    "stpc_fix*:*", "*:fixture_wr*"):
        assert list(list_points(f'kernel.trace("{pattern}")', kver,
                                with_vars=True,
                                debuginfo_path=(fixture_dir,))) == \
            [FIXTURE_WRITE], pattern


def test_a_modules_tracepoint_is_probed_through_its_module(kver,
                                                           fixture_dir):
    program = _module_program(kver, fixture_dir, MODULE_SCRIPT).program()
    module = program.probed["stpc_fixture"]
    assert module.build_id and not module.optional
    c_source = _module_program(kver, fixture_dir, MODULE_SCRIPT).c_source()
    assert '.name = "fixture_write",' in c_source
    assert f".module = {module.index}," in c_source


def test_the_module_tracepoint_c_builds_with_werror(kver, fixture_dir,
                                                   tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    assert _module_program(kver, fixture_dir, MODULE_SCRIPT).module() \
        .exists()


def test_the_installed_modules_are_read_for_their_tracepoints(kver):
    """kvm.ko's kvm:kvm_set_irq (its header is in the build tree too),
    typed from kvm.ko's BTF."""
    assert _points(kver, "kvm:kvm_set_irq", True) == [
        'kernel.trace("kvm:kvm_set_irq") $gsi:unsigned int $level:int '
        '$irq_source_id:int']


def test_a_debian_modules_tracepoints_are_stap_s(stap_kver):
    proc = subprocess.run(["stap", "-L", 'kernel.trace("kvm:kvm_set_irq")',
                           "-r", stap_kver], capture_output=True, text=True,
                          timeout=600)
    assert _points(stap_kver, "kvm:kvm_set_irq", True) == \
        proc.stdout.splitlines()


# -- the header parser --

HEADER = """
#undef TRACE_SYSTEM
#define TRACE_SYSTEM demo

TRACE_EVENT(demo_plain,
	TP_PROTO(int a), TP_ARGS(a), TP_STRUCT__entry(), TP_fast_assign(),
	TP_printk(""));
DECLARE_EVENT_CLASS(demo_class, TP_PROTO(int a), TP_ARGS(a));
DEFINE_EVENT(demo_class, demo_defined,
	TP_PROTO(int a), TP_ARGS(a));
#define DEFINE_DEMO_PAIR(name) \\
	DEFINE_EVENT(demo_class, name##_entry, TP_PROTO(int a), TP_ARGS(a)); \\
	DEFINE_EVENT(demo_class, name##_exit, TP_PROTO(int a), TP_ARGS(a))
DEFINE_DEMO_PAIR(tick);
"""


def test_headers_give_each_event_its_trace_system():
    declared = dict(_declared_events(HEADER))
    assert {name: declared[name] for name in
            ("demo_plain", "demo_defined", "tick_entry", "tick_exit")} == \
        dict.fromkeys(("demo_plain", "demo_defined", "tick_entry",
                       "tick_exit"), "demo")
    assert "demo_class" not in declared


def test_a_header_without_trace_system_declares_nothing():
    assert list(_declared_events("TRACE_EVENT(x, TP_PROTO(int a))")) == []
