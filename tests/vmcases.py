"""Every test that loads a module: what to build on the host, what to run
in the VM, and what must come out.

All cases run in one VM boot (tests/conftest.py); modules are built on the
host first, so the VM only loads and runs them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from fixture import fixture_ko
from stpc.loader.probed import program_build_id
from test_loader_standalone import BLOCKER

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "run"
FIXTURE_CORPUS = ROOT / "tests" / "corpus" / "fixture"
EXAMPLES = ROOT / "examples"
WORK = ROOT / ".cache" / "vm-work"


@dataclass
class VmCase:
    id: str
    shell: str                      # run in the guest, as root
    cwd: Path
    prebuild: List[List[str]] = field(default_factory=list)   # host argv
    stdout: Optional[str] = None    # None: not checked
    stderr: Optional[str] = None
    rc: int = 0
    timeout: int = 180
    stderr_pattern: Optional[str] = None  # regex the whole stderr matches
    stdout_pattern: Optional[str] = None  # regex the whole stdout matches
    env: dict = field(default_factory=dict)


def _read(path: Path) -> Optional[str]:
    return path.read_text() if path.exists() else None


def _split_opts(script: Path) -> Tuple[List[str], List[str]]:
    """NAME.opts as the options of the build (-D, -g) and of the run."""
    opts = shlex.split(_read(script.with_suffix(".opts")) or "")
    for_build = [o for o in opts if o.startswith("-D") or o == "-g"]
    return for_build, [o for o in opts if o not in for_build]


def corpus_cases(kver: str) -> List[VmCase]:
    """tests/corpus/run/NAME.stp with NAME.out, and optionally NAME.err,
    NAME.rc, NAME.opts (extra stpc options, shell words) and NAME.args
    (script arguments, given after the script)."""
    cases = []
    for script in sorted(CORPUS.glob("*.stp")):
        build_opts, run_opts = _split_opts(script)
        script_args = shlex.split(_read(script.with_suffix(".args")) or "")
        module = f"t_{script.stem}"
        cases.append(VmCase(
            id=f"corpus/{script.stem}",
            shell=shlex.join(["stpc", f"{module}.ko", "--run"] + run_opts),
            cwd=CORPUS,
            prebuild=[["stpc", script.name, *script_args, "--emit-ko",
                       "-m", module, "-r", kver] + build_opts],
            stdout=_read(script.with_suffix(".out")) or "",
            stderr=_read(script.with_suffix(".err")) or "",
            rc=int(_read(script.with_suffix(".rc")) or 0)))
    return cases


# loads the fixture, runs a command, then removes the fixture again: that
# fails if the run left it pinned
_WITH_FIXTURE = ("insmod {ko} && {{ {run}; }}; rc=$?; "
                 "rmmod stpc_fixture || echo 'fixture still pinned'; "
                 "exit $rc")
_FIXTURE_WORKLOAD = "echo 3 > /proc/stpc_fixture"


def fixture_cases(kver: str) -> List[VmCase]:
    """tests/corpus/fixture/NAME.stp probe the fixture module, loaded
    first; the run's -c writes 3 to /proc/stpc_fixture (iterations
    k = 0, 1, 2) unless NAME.opts gives other options.  In NAME.out,
    @FIXTURE_DIR@ stands for the directory of the fixture's source.
    Each runs twice: function entries through ftrace (the default), and
    as kprobes (-D STPC_NO_FTRACE), with the same output."""
    ko = fixture_ko(kver)
    cases = []
    for script in sorted(FIXTURE_CORPUS.glob("*.stp")):
        build_opts, run_opts = _split_opts(script)
        run_opts = run_opts or ["-c", _FIXTURE_WORKLOAD]
        expected = (_read(script.with_suffix(".out")) or "").replace(
            "@FIXTURE_DIR@", str(ko.parent))
        for group, prefix, defines in (("fixture", "f", []),
                                       ("fixture-kprobes", "fk",
                                        ["-D", "STPC_NO_FTRACE"])):
            module = f"{prefix}_{script.stem}"
            run = shlex.join(["stpc", f"{module}.ko", "--run"] + run_opts)
            cases.append(VmCase(
                id=f"{group}/{script.stem}",
                shell=_WITH_FIXTURE.format(ko=ko, run=run),
                cwd=FIXTURE_CORPUS,
                prebuild=[["stpc", script.name, "--emit-ko", "-m", module,
                           "-r", kver, "--debuginfo-path", str(ko.parent)]
                          + build_opts + defines],
                stdout=expected,
                stderr=_read(script.with_suffix(".err")) or "",
                rc=int(_read(script.with_suffix(".rc")) or 0)))
    return cases


# an entry ftrace carries three times (a handler that reads no register
# and one that reads the argument $i, both on the ftrace_ops that saves
# none, and one that may take a backtrace, on the one that saves every
# register), one it cannot (notrace), and a return probe
_MECHANISMS = """
global hits
probe module("stpc_fixture").function("stpc_fixture_ints") { hits["ints"]++ }
probe module("stpc_fixture").function("stpc_fixture_ints") {
	hits["ints_i"] += $i
}
probe module("stpc_fixture").function("stpc_fixture_ints") {
	hits["ints_saved"] += $l
	if ($l > 1000000) print_backtrace()
}
probe module("stpc_fixture").function("stpc_fixture_untraced") {
	hits["untraced"] += $v
}
probe module("stpc_fixture").function("stpc_fixture_split").return {
	hits["split"]++
}
probe end { foreach (k+ in hits) printf("%s %d\\n", k, hits[k]) }
"""


def mechanism_cases(kver: str) -> List[VmCase]:
    """-v tells the memory preallocated, and how each probe was armed:
    ftrace where it can (saving every register only for the handler
    that may take a backtrace), a kprobe where it cannot (a notrace
    function) or for a return probe, and all of them as kprobes with
    -D STPC_NO_FTRACE; the output is the same."""
    ko = fixture_ko(kver)
    cases = []
    for name, defines, armed in (
            ("ftrace", [], "5 probes armed: 3 through ftrace "
             r"\(1 saving every register\), 2 kprobes"),
            ("kprobes", ["-D", "STPC_NO_FTRACE"],
             r"5 probes armed: 0 through ftrace \(0 saving every "
             r"register\), 5 kprobes")):
        module = f"mechanism_{name}"
        run = shlex.join(["stpc", f"{module}.ko", "--run", "-v", "-c",
                          _FIXTURE_WORKLOAD])
        cases.append(VmCase(
            id=f"mechanism/{name}",
            shell=_WITH_FIXTURE.format(ko=ko, run=run),
            cwd=WORK,
            prebuild=[["stpc", "mechanism.stp", "--emit-ko", "-m", module,
                       "-r", kver, "--debuginfo-path", str(ko.parent)]
                      + defines],
            stdout="ints 3\nints_i -12\nints_saved -3000000024\nsplit 3\n"
            "untraced 3\n", stderr=None,
            stderr_pattern=r"(?s).*stpc: \d+ bytes preallocated: [1-9]\d* for "
            r"\d+ CPUs' handler contexts, [1-9]\d* for arrays and statistics, "
            rf"[1-9]\d* for output\n.*stpc: {armed}\n.*"))
    return cases


def example_cases(kver: str) -> List[VmCase]:
    """Every examples/NAME.stp runs with `stpc NAME.stp --run` and the
    stpc options of NAME.opts (shell words, as in the corpus: `-c CMD`
    gives a workload and ends the run with it), and prints what NAME.out
    says exactly, or matches the regex of NAME.check (`re.fullmatch`
    over the whole stdout; its trailing newline is not part of it): the
    system-wide tools, whose output depends on what else ran.  Without
    either only the exit status is checked.  A system-wide run may skip
    (and warn about) probes when CPUs contend: only that warning may be
    on stderr.  A script that probes module("stpc_fixture") runs with
    the fixture loaded, one that probes libc with a guest-owned copy of
    it bound over its path (uprobe_cases).  Last, relocate.stp is built once with
    --emit-ko and run against two loads of the fixture (README.md)."""
    ko = fixture_ko(kver)
    cases = []
    for script in sorted(EXAMPLES.glob("*.stp")):
        build_opts, run_opts = _split_opts(script)
        if 'module("stpc_fixture")' in script.read_text():
            build_opts += ["--debuginfo-path", str(ko.parent)]
        run = shlex.join(["stpc", script.name, "--run"] + run_opts
                         + build_opts)
        if "--debuginfo-path" in build_opts:
            run = _WITH_FIXTURE.format(ko=ko, run=run)
        if f'process("{_LIBC}")' in script.read_text():
            run = _LIBC_GUEST_OWNED.format(run=run)
        expected = _read(script.with_suffix(".out"))
        check = _read(script.with_suffix(".check"))
        cases.append(VmCase(
            id=f"example/{script.stem}", shell=run, cwd=EXAMPLES,
            prebuild=[["stpc", script.name, "-p4", "-r", kver]
                      + build_opts],
            stdout=expected,
            stderr="" if expected is not None else None,
            stdout_pattern=check.rstrip("\n") if check else None,
            stderr_pattern=_MAYBE_SKIPPED if check else None))
    cases.append(_relocated_example(kver, ko))
    return cases


def _relocated_example(kver: str, ko: Path) -> VmCase:
    """One --emit-ko module, run before and after the fixture is unloaded
    and loaded again at another address."""
    script = EXAMPLES / "relocate.stp"
    _, run_opts = _split_opts(script)
    run = shlex.join(["stpc", "relocate.ko", "--run"] + run_opts)
    where = "cat /sys/module/stpc_fixture/sections/.text"
    once = f"insmod {ko} && {where} && {run} && rmmod stpc_fixture"
    expected = _read(script.with_suffix(".out")) or ""
    return VmCase(
        id="example/relocate-emit-ko", shell=f"{once} && {once}", cwd=WORK,
        prebuild=[["stpc", str(script), "--emit-ko", "-m", "relocate",
                   "-r", kver, "--debuginfo-path", str(ko.parent)]],
        stdout_pattern=f"(0x[0-9a-f]+\n{re.escape(expected)}){{2}}",
        stderr="")


def relocation_boot_cases(kver: str) -> List[VmCase]:
    """The relocate example across boots: its --emit-ko module, built
    once on the host, run in one boot and then in another (each case is
    a boot of its own: conftest's vm_results_two_boots).  Each prints the
    .ko's digest, the fixture's .text address and the run's output; the
    second boot loads crc7 before the fixture, which moves it."""
    ko = fixture_ko(kver)
    script = EXAMPLES / "relocate.stp"
    _, run_opts = _split_opts(script)
    run = shlex.join(["stpc", "relocate_boots.ko", "--run"] + run_opts)
    show = ("sha256sum relocate_boots.ko | cut -c1-64 && "
            f"insmod {ko} && cat /sys/module/stpc_fixture/sections/.text")
    pad = "/lib/modules/$(uname -r)/kernel/lib/crc7.ko"
    expected = _read(script.with_suffix(".out")) or ""
    pattern = f"[0-9a-f]{{64}}\n0x[0-9a-f]+\n{re.escape(expected)}"
    return [
        VmCase(id="relocate/first-boot", cwd=WORK,
               shell=f"{show} && {run} && rmmod stpc_fixture",
               prebuild=[["stpc", str(script), "--emit-ko", "-m",
                          "relocate_boots", "-r", kver, "--debuginfo-path",
                          str(ko.parent)]],
               stdout_pattern=pattern, stderr=""),
        VmCase(id="relocate/second-boot", cwd=WORK,
               shell=f"insmod {pad} && {show} && {run} && "
                     "rmmod stpc_fixture crc7",
               stdout_pattern=pattern, stderr=""),
    ]


# waits, bounded by the case's timeout, until the run has printed "up"
_UNTIL_UP = "until grep -q up /tmp/o; do sleep 0.2; done;"
_FOREVER = "probe begin { println(\"up\") } probe end { println(\"end\") }"
# armed both ways: ftrace (an entry) and a kretprobe
_KILLED = ('probe begin { println("up") } '
           'probe kernel.function("do_sys_openat2") { n++ } '
           'probe kernel.function("vfs_read").return { m++ }')
_ARMED_SITES = ("grep -c '^do_sys_openat2 ' "
                "/sys/kernel/tracing/enabled_functions; "
                "grep -c ' vfs_read+0x0' /sys/kernel/debug/kprobes/list; ")


def workflow_cases(kver: str) -> List[VmCase]:
    """The ways users run stpc, beyond `stpc script.stp --run`."""
    work = WORK
    forever = work / "forever.stp"
    emit = ["stpc", str(EXAMPLES / "hello.stp"), "--emit-ko", "-m",
            "hello_pre", "-r", kver]
    return [
        VmCase(id="workflow/emit-ko-then-run",
               shell="stpc hello_pre.ko --run", cwd=work,
               prebuild=[emit],
               stdout=_read(EXAMPLES / "hello.out"), stderr=""),
        _inline("workflow/inline-e", kver,
                'probe begin { printf("hello %d\\n", 6*7); exit() }',
                stdout="hello 42\n"),
        VmCase(id="workflow/output-file",
               shell="stpc hello_pre.ko --run -o /tmp/out.txt && "
                     "echo file: && cat /tmp/out.txt",
               cwd=work, prebuild=[emit],
               stdout="file:\n" + (_read(EXAMPLES / "hello.out") or ""),
               stderr=""),
        _inline("workflow/command-c", kver,
                'probe begin { println(target() > 0) } '
                'probe end { println("end") }',
                options=["-c", "echo child > /tmp/c.txt"],
                then="&& cat /tmp/c.txt", stdout="1\nend\nchild\n"),
        _inline("workflow/target-x", kver,
                "probe begin { println(target()); exit() }",
                options=["-x", "4242"], stdout="4242\n"),
        *[VmCase(id=f"workflow/sig{name.lower()}-runs-end-probes",
                 shell=f"stpc {forever} --run > /tmp/o & pid=$!; "
                       f"{_UNTIL_UP} kill -{name} $pid; wait $pid; "
                       "echo rc=$?; cat /tmp/o",
                 cwd=work,
                 prebuild=[["stpc", str(forever), "-p4", "-r", kver]],
                 stdout="rc=0\nup\nend\n", stderr="")
          for name in ("TERM", "INT", "HUP")],
        VmCase(id="workflow/cleanup-after-kill",
               shell=f"stpc {forever} --run > /tmp/o & pid=$!; "
                     f"{_UNTIL_UP} kill -KILL $pid; {{ wait $pid; }} 2>/dev/null; "
                     "grep -c '^stpc_' /proc/modules; stpc --cleanup "
                     "| sed 's/stpc_[0-9a-f]*/MODULE/'; "
                     "grep -c '^stpc_' /proc/modules || true",
               cwd=work,
               prebuild=[["stpc", str(forever), "-p4", "-r", kver]],
               stdout="1\nremoved MODULE\n0\n", stderr=""),
        # the module disarms by itself once its loader is gone
        VmCase(id="workflow/killed-loader-disarms",
               shell="stpc killed.ko --run > /tmp/o & pid=$!; "
                     f"{_UNTIL_UP} {_ARMED_SITES} kill -KILL $pid; "
                     "{ wait $pid; } 2>/dev/null; sleep 1; "
                     f"grep -o finished=1 /proc/stpc-killed/ctl; {_ARMED_SITES}"
                     "dmesg | grep -c 'killed: its loader is gone'; "
                     "stpc --cleanup",
               cwd=work,
               prebuild=[["stpc", "killed.stp", "--emit-ko", "-m", "killed",
                          "-r", kver, "--kernel-types", "btf"]],
               stdout="1\n1\nfinished=1\n0\n0\n1\nremoved killed\n",
               stderr=""),
        _inline("workflow/full-buffer-counts-drops", kver,
                'probe begin { for (i = 0; i < 3000; i++) '
                'printf("%0100d\\n", i); exit() }',
                defines=["-DSTPC_BUFFER_SIZE=32768", "-DMAXACTION=100000"],
                then="| wc -l", stdout=None, stderr=None,
                stderr_pattern=r"WARNING: \d+ output records dropped\n"),
        VmCase(id="workflow/without-cap-sys-module",
               shell="setpriv --inh-caps=-sys_module "
                     "--bounding-set=-sys_module stpc hello_pre.ko --run",
               cwd=work, prebuild=[emit], rc=1, stdout="",
               stderr="ERROR: running a probe module needs root "
                      "(CAP_SYS_MODULE): run stpc as root or with sudo\n"),
    ]


def _inline(case_id: str, kver: str, script: str, options=(), defines=(),
            then: str = "", **expect) -> VmCase:
    """A case running `stpc -e SCRIPT --run` in the guest; the host builds
    the same script first, so the guest finds it in the cache."""
    run = ["stpc", *defines, *options, "-e", script, "--run"]
    expect.setdefault("stderr", "")
    return VmCase(id=case_id, shell=f"{shlex.join(run)} {then}".strip(),
                  cwd=WORK,
                  prebuild=[["stpc", *defines, "-e", script, "-p4", "-r",
                             kver]],
                  **expect)


_PIN = ('probe module("stpc_fixture").function("stpc_fixture_ints") { } '
        'probe begin { println("up") } probe end { println("end") }')
_OPTIONAL = ('probe module("stpc_fixture").function("stpc_fixture_ints")? '
             '{ println("hit") } probe begin { println("begin"); exit() }')


_LATE = ('probe module("stpc_fixture").function("stpc_fixture_return")? '
         '{ printf("a=%d\\n", $a) } probe begin { println("up") }')
# the -c command opens a file that does not exist: openat returns -ENOENT.
# Other opens may name strings not yet paged in, which a probe cannot read
# (user_string with a fallback skips them).
_OPENAT = """
global opening
probe kernel.function("do_sys_openat2") {
	if (pid() == target() &&
	    isinstr(user_string($filename, ""), "stpc-no-such-file")) {
		printf("%s dfd=%d accmode=%d\\n", user_string($filename), $dfd,
		       $how->flags & 3)
		opening[tid()] = 1
	}
}
probe kernel.function("do_sys_openat2").return {
	if (tid() in opening) {
		printf("returned %d\\n", $return)
		delete opening[tid()]
	}
}
"""
_OPENAT_RUN = "exec cat /tmp/stpc-no-such-file 2>/dev/null"


# once per write to /proc/stpc_fixture: which process wrote, and whether
# it is target() or target()'s child
_WHO_WRITES = """
probe module("stpc_fixture").function("stpc_fixture_ints") {
	if ($i == -5)
		printf("%s pid=target:%d ppid=target:%d\\n", execname(),
		       pid() == target(), ppid() == target())
}
"""


def prepare_work_dir() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    files = {"forever.stp": _FOREVER + "\n", "killed.stp": _KILLED + "\n",
             "heavy.stp": _HEAVY + "\n", "numbered.stp": _NUMBERED + "\n",
             "pin.stp": _PIN + "\n", "optional.stp": _OPTIONAL + "\n",
             "late.stp": _LATE + "\n", "openat.stp": _OPENAT + "\n",
             "command.stp": _WHO_WRITES + "\n",
             "mechanism.stp": _MECHANISMS, "three.txt": "3\n"}
    files.update((f"{module}.stp", script + "\n")
                 for module, script in _USER_STRING_SCRIPTS.items())
    for name, text in files.items():
        _write_if_changed(WORK / name, text)
    _prepare_precompiled()


def _write_if_changed(path: Path, text: str) -> None:
    """Rewrites PATH only when its text differs, and atomically: a VM
    batch may be reading it (the host tests also prepare the directory)."""
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def all_cases(kver: str) -> List[VmCase]:
    """Every case; STPC_VM_CASES=REGEX keeps only the ids it matches (for
    quick runs while developing; CI runs them all)."""
    cases = corpus_cases(kver) + example_cases(kver) + \
        workflow_cases(kver) + fixture_cases(kver) + \
        mechanism_cases(kver) + \
        target_workflow_cases(kver) + kernel_cases(kver) + \
        user_string_cases(kver) + language_cases(kver) + \
        timing_cases(kver) + \
        precompiled_cases(kver) + command_cases(kver) + \
        robustness_cases(kver) + bad_pointer_and_runaway_cases(kver) + \
        concurrency_cases(kver) + output_pressure_cases(kver) + \
        tracepoint_cases(kver) + module_tracepoint_cases(kver) + \
        tapset_family_cases(kver) + task_function_cases(kver) + \
        syscall_tapset_cases(kver) + syscall_more_cases(kver) + \
        syscall_ipc_cases(kver) + syscall_mq_aio_cases(kver) + \
        syscall_admin_cases(kver) + \
        uprobe_cases(kver) + process_cases(kver) + library_cases(kver)
    wanted = os.environ.get("STPC_VM_CASES")
    if wanted:
        cases = [c for c in cases if re.search(wanted, c.id)]
    return cases


# a handler far heavier than the reads that fire it
_HEAVY = ('probe kernel.function("vfs_read") { '
          'for (i = 0; i < 20000; i++) x += i } '
          'probe begin { println("up") } probe end { println("end") }')
_HEAVY_DEFINES = ["-D", "MAXACTION=100000"]
# reads, one byte each, for as long as the run goes on
_READ_LOAD = ("while kill -0 $pid 2>/dev/null; do "
              "dd if=/dev/zero of=/dev/null bs=1 count=2000 2>/dev/null; done; ")
_OVERLOAD = (r"ERROR: probe overhead \(\d+ cycles\) exceeded threshold "
             r"\({threshold} cycles\) in last {interval} cycles\n"
             r"WARNING: Number of errors: 1, skipped probes: \d+\n")


# bad pointers, read in a timer's interrupt context
_BAD_READS = {
    "null": ("kernel_long(0)", "kernel", "0x0"),
    "list-poison": ("kernel_long(0xdead000000000100)", "kernel",
                    "0xdead000000000100"),
    "slab-poison": ("kernel_int(0x6b6b6b6b6b6b6b6b)", "kernel",
                    "0x6b6b6b6b6b6b6b6b"),
    "user-address-as-kernel": ("kernel_long(0x400000)", "kernel",
                               "0x400000"),
    "kernel-address-as-user": ("user_long(0xffffffff81000000)", "user",
                               "0xffffffff81000000"),
}
# endless or unbounded work where each probe kind runs
_RUNAWAY = {
    "loop-in-timer": ("probe timer.ms(1) { while (1) n++ }",
                      "MAXACTION exceeded"),
    "loop-in-kprobe": ('probe kernel.function("vfs_read") { while (1) n++ }',
                       "MAXACTION exceeded"),
    "recursion-in-timer": ("function f(n) { return n < 0 ? 0 : "
                           "f(n + 1) } probe timer.ms(1) { f(0) }",
                           "MAXNESTING exceeded"),
    "map-fill-in-kprobe": ('global a, n probe kernel.function("vfs_read") '
                           '{ a[n++] = n }',
                           "Array overflow, check MAXMAPENTRIES"),
    "string-growth-in-timer": ('probe timer.ms(1) { s = "x"; '
                               'while (1) s .= s }', "MAXACTION exceeded"),
}
_ERRORS_END = r"WARNING: Number of errors: \d+, skipped probes: \d+\n"


def bad_pointer_and_runaway_cases(kver: str) -> List[VmCase]:
    """Each ends the run with its error, and the kernel with no warning
    (test_no_kernel_warnings reads the whole batch's log)."""
    cases = [_inline(f"robustness/bad-pointer-{name}", kver,
                     f"probe timer.ms(1) {{ println({read}) }}", rc=1,
                     stdout="", stderr=None,
                     stderr_pattern=rf"(ERROR: {kind} read fault at {addr} "
                     rf"near identifier '\w+' at \S+:1:\d+\n)+"
                     + _ERRORS_END)
             for name, (read, kind, addr) in _BAD_READS.items()]
    # a small MAXMAPENTRIES fills in fewer reads
    cases += [_inline(f"robustness/runaway-{name}", kver, script, rc=1,
                      defines=["-DMAXMAPENTRIES=100"], stdout="", stderr=None,
                      stderr_pattern=rf"(ERROR: {error} near [^\n]+\n)+"
                      + _ERRORS_END)
              for name, (script, error) in _RUNAWAY.items()]
    return cases


# every CPU adds to one counter, one array and one aggregate; the end
# probe checks the three agree and that more than one CPU took part
_SHARED_TOTALS = """global n, by_cpu, hits
probe %s { n++; by_cpu[cpu()]++; hits <<< 1 }
probe end {
	sum = 0; cpus = 0
	foreach (c in by_cpu) { sum += by_cpu[c]; cpus++ }
	printf("%%d %%d %%d\\n", sum == n, @count(hits) == n, cpus > 1)
}"""
_TWO_READERS = ("sh -c 'taskset -c 0 dd if=/dev/zero of=/dev/null bs=1 "
                "count=20000 2>/dev/null & taskset -c 1 dd if=/dev/zero "
                "of=/dev/null bs=1 count=20000 2>/dev/null; wait'")


def concurrency_cases(kver: str) -> List[VmCase]:
    """Probes on both vCPUs into shared globals: totals exact."""
    return [
        _inline("robustness/concurrent-timer-profile", kver,
                _SHARED_TOTALS % "timer.profile", options=["-c", "sleep 3"],
                stdout="1 1 1\n", stderr=None,
                stderr_pattern=_MAYBE_SKIPPED),
        _inline("robustness/concurrent-kprobe", kver,
                _SHARED_TOTALS % 'kernel.function("vfs_read")',
                options=["-c", _TWO_READERS], stdout="1 1 1\n",
                stderr=None, stderr_pattern=_MAYBE_SKIPPED),
    ]


# one record per read of dd's, numbered; the end probe says how many
_NUMBERED = ('global i probe kernel.function("vfs_read") { '
             'if (execname() == "dd") printf("%d\\n", ++i) } '
             'probe begin { println("up") } probe end { printf("total %d\\n", i) }')
# the loader is stopped while dd reads, so the ring fills (or not)
_STOPPED_READER = ("stpc numbered{suffix}.ko --run > /tmp/o 2> /tmp/e & "
                   "pid=$!; " + _UNTIL_UP + " kill -STOP $pid; "
                   "dd if=/dev/zero of=/dev/null bs=1 count=20000 "
                   "2>/dev/null; kill -CONT $pid; kill -TERM $pid; "
                   "wait $pid; echo rc=$?; "
                   "dropped=$(sed -n 's/^WARNING: \\([0-9]*\\) output records "
                   "dropped$/\\1/p' /tmp/e); "
                   "awk -v dropped=${{dropped:-0}} "
                   "'/^total/ {{ total = $2; next }} /^up$/ {{ next }} "
                   "{{ if ($1 <= last) bad = 1; last = $1; n++ }} "
                   "END {{ print (bad ? \"reordered\" : \"in order\"), "
                   "(n + dropped == total ? \"all counted\" : \"miscounted\"), "
                   "(dropped > 0 ? \"some dropped\" : \"none dropped\") }}' "
                   "/tmp/o")


def output_pressure_cases(kver: str) -> List[VmCase]:
    """A reader far slower than the writer: records are whole and in
    order, and every one is either read or counted as dropped; with a
    bigger buffer (-s) none is dropped."""
    def build(suffix: str, *options: str) -> List[List[str]]:
        return [["stpc", "numbered.stp", "--emit-ko", "-m",
                 f"numbered{suffix}", "-r", kver, "--kernel-types", "btf",
                 *options]]

    return [
        VmCase(id="robustness/output-pressure-drops-counted", cwd=WORK,
               prebuild=build("", "-D", "STPC_BUFFER_SIZE=32768"),
               shell=_STOPPED_READER.format(suffix=""),
               stdout="rc=0\nin order all counted some dropped\n",
               stderr=""),
        VmCase(id="robustness/output-pressure-bigger-buffer", cwd=WORK,
               prebuild=build("_big", "-s", "16"),
               shell=_STOPPED_READER.format(suffix="_big"),
               stdout="rc=0\nin order all counted none dropped\n",
               stderr=""),
    ]


# what another user may do with a root run's files: nothing
_AS_NOBODY = "setpriv --reuid=65534 --regid=65534 --clear-groups "
_UNPRIVILEGED = (
    "stpc unprivileged.ko --run > /tmp/o & pid=$!; " + _UNTIL_UP +
    " for f in ctl data; do " + _AS_NOBODY +
    "cat /proc/stpc-unprivileged/$f >/dev/null 2>&1 || "
    "echo \"read $f refused\"; " + _AS_NOBODY +
    "sh -c \"echo stop > /proc/stpc-unprivileged/$f\" 2>/dev/null || "
    "echo \"write $f refused\"; done; " + _AS_NOBODY +
    "stpc unprivileged.ko --run -x 1 2>&1 | head -1; "
    "kill -TERM $pid; wait $pid; echo rc=$?; cat /tmp/o")


# /lib/modules/RELEASE/stpc made writable in the guest (an overlay on a
# fresh tmpfs), the module approved there; then sudo's caller runs it,
# its -c command runs as that user, and what is refused is refused
_APPROVED = (
    "K=$(uname -r); mount -t tmpfs -o mode=755 none /mnt && "
    "mkdir /mnt/up /mnt/work && mount -t overlay overlay -o "
    "lowerdir=/lib/modules/$K,upperdir=/mnt/up,workdir=/mnt/work "
    "/lib/modules/$K && mkdir -m 755 /lib/modules/$K/stpc && "
    "install -m 644 approved.ko /lib/modules/$K/stpc/ && "
    "SUDO_UID=65534 SUDO_GID=65534 stpc --approved approved "
    "-c 'id -u > /tmp/uid'; echo rc=$?; cat /tmp/uid; "
    "stpc --approved approved -c 'id -u > /tmp/uid0'; cat /tmp/uid0; " +
    _AS_NOBODY + "stpc --approved approved 2>&1; "
    "stpc --approved approved -o /tmp/x 2>&1; "
    "chmod 775 /lib/modules/$K/stpc; "
    "stpc --approved approved 2>&1 | sed \"s/$K/KVER/\"; "
    "chmod 755 /lib/modules/$K/stpc; chmod 664 /lib/modules/$K/stpc/*; "
    "stpc --approved approved 2>&1 | sed \"s/$K/KVER/\"")
_APPROVED_OUT = (
    "up\nend\nrc=0\n65534\nup\nend\n0\n"
    "ERROR: running a probe module needs root (CAP_SYS_MODULE): run stpc "
    "as root or with sudo\n"
    "ERROR: --approved runs an approved module as it is: '-o' cannot go "
    "with it\n"
    "ERROR: /usr/lib/modules/KVER/stpc could be changed by someone other "
    "than root (owner uid 0, mode drwxrwxr-x): approved modules are not "
    "read through it\n"
    "ERROR: /usr/lib/modules/KVER/stpc/approved.ko could be changed by "
    "someone other than root (owner uid 0, mode -rw-rw-r--): approved "
    "modules are not read through it\n")


def robustness_cases(kver: str) -> List[VmCase]:
    """Another user can do nothing to a run; heavy handlers on a hot
    function under a read load end the run (SystemTap's STP_OVERLOAD),
    unless -D STP_NO_OVERLOAD."""
    def heavy(module: str, *defines: str) -> List[List[str]]:
        return [["stpc", "heavy.stp", "--emit-ko", "-m", module, "-r", kver,
                 "--kernel-types", "btf", *_HEAVY_DEFINES, *defines]]

    def under_load(module: str, stop: str = "") -> str:
        return (f"stpc {module}.ko --run > /tmp/o 2> /tmp/e & pid=$!; "
                f"{_UNTIL_UP} {stop}{_READ_LOAD}wait $pid; echo rc=$?; "
                "cat /tmp/o; cat /tmp/e >&2")

    return [
        VmCase(id="robustness/another-user-can-do-nothing", cwd=WORK,
               prebuild=[["stpc", "forever.stp", "--emit-ko", "-m",
                          "unprivileged", "-r", kver]],
               shell=_UNPRIVILEGED, stderr="",
               stdout="read ctl refused\nwrite ctl refused\n"
                      "read data refused\nwrite data refused\n"
                      "ERROR: running a probe module needs root "
                      "(CAP_SYS_MODULE): run stpc as root or with sudo\n"
                      "rc=0\nup\nend\n"),
        VmCase(id="robustness/approved-modules-for-sudo-rules", cwd=WORK,
               prebuild=[["stpc", "forever.stp", "--emit-ko", "-m",
                          "approved", "-r", kver]],
               shell=_APPROVED, stdout=_APPROVED_OUT, stderr=""),
        VmCase(id="robustness/overload-ends-the-run", cwd=WORK,
               prebuild=heavy("overload"), shell=under_load("overload"),
               stdout="rc=1\nup\n", stderr=None,
               stderr_pattern=_OVERLOAD.format(threshold=500000000,
                                               interval=1000000000)),
        VmCase(id="robustness/overload-threshold-define", cwd=WORK,
               prebuild=heavy("overload_low",
                              "-D", "STP_OVERLOAD_THRESHOLD=100000000",
                              "-D", "STP_OVERLOAD_INTERVAL=200000000"),
               shell=under_load("overload_low"),
               stdout="rc=1\nup\n", stderr=None,
               stderr_pattern=_OVERLOAD.format(threshold=100000000,
                                               interval=200000000)),
        # the same load for ten seconds, then an ordinary stop
        VmCase(id="robustness/no-overload-switch", cwd=WORK,
               prebuild=heavy("no_overload", "-D", "STP_NO_OVERLOAD"),
               shell=under_load("no_overload",
                                stop="(sleep 10; kill -TERM $pid) & "),
               stdout="rc=0\nup\nend\n", stderr=""),
    ]


# one frame of print_backtrace(): " 0xADDR : symbol+0xOFF/0xSIZE [module]"
_FRAME = r" 0x[0-9a-f]{16} : \S+\+0x[0-9a-f]+/0x[0-9a-f]+ \[\S+\]\n"


# the CPUs' timer.profile handlers contend for the globals they write
_MAYBE_SKIPPED = r"(WARNING: Number of errors: 0, skipped probes: \d+\n)?"


def language_cases(kver: str) -> List[VmCase]:
    """Language features whose output varies from run to run, checked by
    its shape."""
    return [
        _inline("language/profile-backtrace", kver,
                "global done; probe timer.profile { bt = backtrace(); "
                "if (bt != \"\" && !done) { done = 1; print_backtrace(); "
                "println(\"--\"); println(bt); println(pp()); "
                "print(sprint_backtrace()) } } "
                "probe timer.ms(500) { exit() }",
                stdout=None, stdout_pattern=f"({_FRAME})+--\n"
                r"(0x[0-9a-f]+ )+\n"
                r"perf\.type\(1\)\.config\(0\)\.sample\(1000000\)\n"
                r"(\S+\+0x[0-9a-f]+ \[\S+\]\n)+",
                stderr=None, stderr_pattern=_MAYBE_SKIPPED),
        _inline("language/profile-every-cpu", kver,
                "global cpus; probe timer.profile { cpus[cpu()] = 1 } "
                "probe timer.ms(300) { exit() } "
                "probe end { println(\"cpus \", 0 in cpus, 1 in cpus) }",
                stdout="cpus 11\n", stderr=None,
                stderr_pattern=_MAYBE_SKIPPED),
        # MAXTRYLOCK=0: every lock attempt fails, so each run of the timer
        # is skipped; the fourth skip passes MAXSKIPPED ('g = 1' locks; a
        # counter, 'g++', would not)
        _inline("language/maxskipped", kver,
                "global g; probe timer.ms(5) { g = 1 } "
                "probe end { println(\"end\") } "
                "probe error { println(\"error probe\") }",
                defines=["-DMAXSKIPPED=3", "-DMAXTRYLOCK=0"],
                stdout="error probe\n", rc=1,
                stderr="ERROR: Skipped too many probes, check MAXSKIPPED or "
                       "try again with stap -t for more details.\n"
                       "WARNING: Number of errors: 0, skipped probes: 4\n"),
    ]


# stpc -t: SystemTap's probe hit report, after the end probes' output
_TIMING_LINE = (r"{point}, \({where}\), hits: {hits}, "
                r"cycles: \d+min/\d+avg/\d+max, variance: \d+, "
                r"from: {derivation}, index: {index}\n")
_TIMING_SCRIPT = ("global x, n; probe begin { x = 1 } "
                  "probe timer.ms(10) { if (++n >= 5) exit() } "
                  "probe end { println(\"end\") }")
_TIMING_KPROBE = 'probe module("stpc_fixture").function("stpc_fixture_ints") { }'


def _timing_report(*lines: tuple) -> str:
    """The report's pattern; each line (point, where, hits, derivation)
    as regexes, indexed in order."""
    body = "".join(_TIMING_LINE.format(point=p, where=w, hits=h,
                                       derivation=d, index=i)
                   for i, (p, w, h, d) in enumerate(lines))
    return r"----- probe hit report: \n" + body + r"----- refresh report:\n"


def timing_cases(kver: str) -> List[VmCase]:
    """-t on timers, begin and end (the end-of-run printing included) and
    on a module's kprobe; probes that never ran are left out."""
    ko = fixture_ko(kver)
    kprobe = "timing_kprobe"
    # the module was built with -t: it reports without being told
    run = shlex.join(["stpc", f"{kprobe}.ko", "--run", "-c",
                      _FIXTURE_WORKLOAD])
    return [
        _inline("language/timing-report", kver, _TIMING_SCRIPT,
                defines=["-t"],
                stdout_pattern="end\nx=1\n" + _timing_report(
                    ("begin", "<input>:1:14", "1", "begin"),
                    (r"timer\.ms\(10\)", "<input>:1:36", r"\d+",
                     r"timer\.ms\(10\)"),
                    ("end", "<input>:1:80", "1", "end"),
                    ("end", "<input>:1:1", "1", "end"))),
        VmCase(id="language/timing-kprobe",
               shell=_WITH_FIXTURE.format(ko=ko, run=run), cwd=WORK,
               prebuild=[["stpc", "-e", _TIMING_KPROBE, "--emit-ko", "-m",
                          kprobe, "-t", "-r", kver, "--debuginfo-path",
                          str(ko.parent)]],
               stderr="", stdout_pattern=_timing_report(
                   (r'module\("stpc_fixture"\)\.function\('
                    r'"stpc_fixture_ints@\S+:\d+"\)', "<input>:1:1", "3",
                    r'module\("stpc_fixture"\)\.function\('
                    r'"stpc_fixture_ints"\)'))),
    ]


def kernel_cases(kver: str) -> List[VmCase]:
    """kernel.function probes on a real kernel function, typed from BTF
    and, when the kernel's DWARF is installed, from DWARF."""
    kinds = ["btf"] + (["dwarf"] if kernel_dwarf_available(kver) else [])
    cases = []
    for kind in kinds:
        module = f"openat_{kind}"
        cases.append(VmCase(
            id=f"kernel/openat-{kind}",
            shell=shlex.join(["stpc", f"{module}.ko", "--run", "-c",
                              _OPENAT_RUN]),
            cwd=WORK,
            prebuild=[["stpc", str(WORK / "openat.stp"), "--emit-ko", "-m",
                       module, "-r", kver, "--kernel-types", kind]],
            stdout="/tmp/stpc-no-such-file dfd=-100 accmode=0\n"
                   "returned -2\n", stderr=None,
            # every open in the system takes the lock on `opening`: under
            # TCG a descheduled vCPU can hold it past the trylock bound
            stderr_pattern=_MAYBE_SKIPPED))
    return cases


# user_string() of paths in pages the opening process has not touched yet
# (cat's libc reads locale files through .rodata strings): read from the
# page cache at the syscall's entry, or after the syscall at .return
_CAT_OPENS = ('probe kernel.function("do_sys_openat2") { '
              'if (execname() == "cat") '
              'printf("open %s\\n", user_string($filename)) }')
_CAT_OPENS_RETURN = ('probe kernel.function("do_sys_openat2").return { '
                     'if (execname() == "cat") '
                     'printf("open %s\\n", user_string(@entry($filename))) }')
# five runs in one boot: whether a page is resident varies from run to run
_FIVE_CATS = ("for i in 1 2 3 4 5; do "
              "stpc {ko} --run -o /tmp/o -c 'cat /etc/hostname' >/dev/null "
              "|| echo \"run $i failed\"; "
              "grep -x 'open /etc/hostname' /tmp/o || echo \"run $i: none\"; "
              "done")
# tests/untouched_open.py opens with dfd -42 a path in a fresh mapping
_MARKED_OPEN = ('probe kernel.function("do_sys_openat2") { '
                'if ($dfd == -42) '
                'printf("open %s\\n", user_string($filename)) }')
_UNTOUCHED = ROOT / "tests" / "untouched_open.py"
_USER_STRING_SCRIPTS = {"cat_opens": _CAT_OPENS,
                        "cat_opens_return": _CAT_OPENS_RETURN,
                        "marked_open": _MARKED_OPEN}
_USER_FAULT = (r"ERROR: user read fault at 0x{addr}{hint} near identifier "
               r"'user_string' at \S+:1:\d+\n"
               r"WARNING: Number of errors: 1, skipped probes: 0\n")
_NOT_RESIDENT_HINT = re.escape(
    ' (the page is not in memory yet: read it in a .return probe through '
    '@entry(), or give a default as in user_string(p, "?"))')


def user_string_cases(kver: str) -> List[VmCase]:
    """user_string() at a syscall's entry, of user memory the process has
    mapped but not touched: read from the page cache when the page is
    there; otherwise an error that says which form works."""
    def built(module: str, **case) -> VmCase:
        return VmCase(cwd=WORK, prebuild=[[
            "stpc", f"{module}.stp", "--emit-ko", "-m", module, "-r",
            kver, "--kernel-types", "btf"]], **case)

    def marked(kind: str) -> str:
        return shlex.join(["stpc", "marked_open.ko", "--run", "-c",
                           f"python3 {_UNTOUCHED} {kind}"])

    five = "open /etc/hostname\n" * 5
    return [
        built("cat_opens", id="kernel/user-string-cat",
              shell=_FIVE_CATS.format(ko="cat_opens.ko"), stdout=five,
              stderr=""),
        built("cat_opens_return",
              id="kernel/user-string-cat-return",
              shell=_FIVE_CATS.format(ko="cat_opens_return.ko"),
              stdout=five, stderr=""),
        built("marked_open",
              id="kernel/user-string-untouched-file", shell=marked("file"),
              stdout="open /etc/hostname\n", stderr=""),
        built("marked_open",
              id="kernel/user-string-untouched-anon", shell=marked("anon"),
              stdout="", stderr=None, rc=1,
              stderr_pattern=_USER_FAULT.format(addr="[0-9a-f]+",
                                                hint=_NOT_RESIDENT_HINT)),
        built("marked_open",
              id="kernel/user-string-unmapped", shell=marked("none"),
              stdout="", stderr=None, rc=1,
              stderr_pattern=_USER_FAULT.format(addr="1000", hint="")),
        built("marked_open",
              id="kernel/user-string-straddles-pages",
              shell=marked("straddle-mapped"),
              stdout="open /etc/hostname\n", stderr=""),
        # the fault is the string's, at its start, not the hole's
        built("marked_open",
              id="kernel/user-string-runs-into-unmapped-page",
              shell=marked("straddle-unmapped"),
              stdout="", stderr=None, rc=1,
              stderr_pattern=_USER_FAULT.format(addr="[0-9a-f]+ffb",
                                                hint="")),
    ]


def kernel_dwarf_available(kver: str) -> bool:
    from stpc.compiler.probes import ProbeEnvironment, find_vmlinux
    return find_vmlinux(ProbeEnvironment(kver)) is not None


def target_workflow_cases(kver: str) -> List[VmCase]:
    """Pinning, build-ids and absent targets, around the fixture."""
    work = WORK
    ko, other = fixture_ko(kver), fixture_ko(kver, "other")
    script = work / "pin.stp"
    build = [["stpc", str(script), "--emit-ko", "-m", "pin", "-r", kver,
              "--debuginfo-path", str(ko.parent)]]
    optional = work / "optional.stp"
    late = [["stpc", str(work / "late.stp"), "--emit-ko", "-m", "late",
             "-r", kver, "--debuginfo-path", str(ko.parent)]]
    return [
        VmCase(id="targets/rmmod-fails-while-armed",
               shell=f"insmod {ko} && {{ stpc pin.ko --run > /tmp/o & "
                     f"pid=$!; {_UNTIL_UP} "
                     "rmmod stpc_fixture 2>/dev/null || echo busy; "
                     "kill -TERM $pid; wait $pid; echo rc=$?; "
                     "rmmod stpc_fixture && echo removed; cat /tmp/o; }",
               cwd=work, prebuild=build,
               stdout="busy\nrc=0\nremoved\nup\nend\n", stderr=""),
        VmCase(id="targets/build-id-mismatch-refused",
               shell=f"insmod {other} && {{ before=$(wc -l < /proc/modules);"
                     " stpc pin.ko --run; echo rc=$?; "
                     "[ $(wc -l < /proc/modules) = $before ] && echo same; "
                     "rmmod stpc_fixture; }",
               cwd=work, prebuild=build, stdout="rc=1\nsame\n",
               stderr=None,
               stderr_pattern=r"ERROR: build-id mismatch for stpc_fixture: "
                              r"expected ([0-9a-f]{40}), found "
                              r"(?!\1)[0-9a-f]{40}\n"),
        VmCase(id="targets/not-loaded-refused",
               shell="stpc pin.ko --run; echo rc=$?",
               cwd=work, prebuild=build, stdout="rc=1\n",
               stderr="ERROR: module stpc_fixture is not loaded\n"),
        VmCase(id="targets/loaded-and-unloaded-during-the-run",
               shell=f"stpc late.ko --run -v > /tmp/o 2> /tmp/e & pid=$!; "
                     f"{_UNTIL_UP} insmod {ko} && "
                     "echo 2 > /proc/stpc_fixture && "
                     "rmmod stpc_fixture && echo unloaded; "
                     "kill -TERM $pid; wait $pid; echo rc=$?; "
                     # the loader's own -v lines come when they come
                     "cat /tmp/o; grep -v -e '^stpc: armed ' "
                     "-e '^stpc: disarmed in ' /tmp/e",
               cwd=work,
               prebuild=late,
               stdout_pattern=r"unloaded\nrc=0\nup\na=-3\na=997\n"
               r"stpc: \d+ bytes preallocated: [^\n]*\n"
               r"stpc: 0 probes armed: 0 through ftrace \(0 saving every "
               r"register\), 0 kprobes\n"
               r"stpc: stpc_fixture loaded: 1 probes armed\n"
               r"stpc: stpc_fixture unloading: 1 probes disarmed\n",
               stderr=""),
        # churn: no probe outlives its module's unload, none is missed
        VmCase(id="targets/loaded-and-unloaded-ten-times",
               shell=f"stpc late.ko --run -v > /tmp/o 2> /tmp/e & pid=$!; "
                     f"{_UNTIL_UP} for i in 1 2 3 4 5 6 7 8 9 10; do "
                     f"insmod {ko} && echo 2 > /proc/stpc_fixture && "
                     "rmmod stpc_fixture || echo \"cycle $i failed\"; done; "
                     "kill -TERM $pid; wait $pid; echo rc=$?; "
                     "grep -c '^a=' /tmp/o; "
                     "grep -c 'stpc_fixture loaded: 1 probes armed' /tmp/e; "
                     "grep -c 'stpc_fixture unloading: 1 probes disarmed' "
                     "/tmp/e",
               cwd=work,
               prebuild=late,
               stdout="rc=0\n20\n10\n10\n", stderr=""),
        VmCase(id="targets/optional-probe-without-module",
               shell="stpc optional.ko --run",
               cwd=work,
               prebuild=[["stpc", str(optional), "--emit-ko", "-m",
                          "optional", "-r", kver, "--debuginfo-path",
                          str(ko.parent)]],
               stdout="begin\n", stderr=""),
    ]


# -- pre-compiled modules (docs/precompiled.md) --

# every kind of output record: printf, a histogram, and globals written but
# never read (a scalar, an array, statistics, an array of statistics)
_KINDS = """
global x, names, st, arr_st, h, hk
probe begin {
	x = 5; names["a", 1] = 3; names["b", 2] = 7
	st <<< 4; st <<< 9; arr_st["k"] <<< 2; h <<< 4; h <<< 9
	hk["r", 3] <<< 1
	printf("hello\\n"); print(@hist_log(h)); print(@hist_log(hk["r", 3]))
	printf("bye\\n"); exit()
}
"""
_BUCKETS = r'\[(\{"value": -?\d+, "count": \d+\}(, )?)+\]'
_HIST_JSON = (r'\{"type": "hist", "data": \{"h": ' + _BUCKETS + r'\}\}\n'
              r'\{"type": "hist", "data": \{"hk": \{"r,3": ' + _BUCKETS +
              r'\}\}\}\n')
_HIST_TEXT = r" *value \|-+ count\n(?: *-?\d+ \|@* *\d+\n| *~\n)+\n"
_KINDS_GLOBALS = [
    ("x=5", {"type": "map", "data": {"x": 5}}),
    ('names["b",2]=7\nnames["a",1]=3',
     {"type": "map", "data": {"names": {"b,2": 7, "a,1": 3}}}),
    ("st @count=2 @min=4 @max=9 @sum=13 @avg=6",
     {"type": "stats", "data": {"st": {"count": 2, "min": 4, "max": 9,
                                       "sum": 13, "avg": 6}}}),
    ('arr_st["k"] @count=1 @min=2 @max=2 @sum=2 @avg=2',
     {"type": "stats", "data": {"arr_st": {"k": {
         "count": 1, "min": 2, "max": 2, "sum": 2, "avg": 2}}}}),
]
_KINDS_JSON = (
    re.escape(json.dumps({"type": "printf", "data": "hello\n"}) + "\n") +
    _HIST_JSON +
    re.escape("".join(json.dumps(o) + "\n" for o in
                      [{"type": "printf", "data": "bye\n"}] +
                      [obj for _, obj in _KINDS_GLOBALS])))
_KINDS_TEXT = ("hello\n" + _HIST_TEXT * 2 + "bye\n" +
               re.escape("".join(text + "\n" for text, _ in _KINDS_GLOBALS)))
# runs a refused command; proves nothing was loaded and nothing is left
# (the modules and the /proc/stpc-* directories are as before)
_REFUSED = ("snap() {{ cut -d' ' -f1 /proc/modules | sort; "
            "ls -d /proc/stpc-* 2>/dev/null; }}; before=$(snap); {run}; "
            "echo rc=$?; [ \"$(snap)\" = \"$before\" ] && echo unchanged")
_REFUSED_OUT = "rc=1\nunchanged\n"


def _prepare_precompiled() -> None:
    _write_if_changed(WORK / "kinds.stp", _KINDS)
    (WORK / "nodeps").mkdir(exist_ok=True)
    # the compiler's dependencies unimportable, as on a production host
    _write_if_changed(WORK / "nodeps" / "sitecustomize.py", BLOCKER)


def precompiled_cases(kver: str) -> List[VmCase]:
    """Running a .ko built elsewhere: refusals before init_module, -m and
    automatic renaming, --format json, and the loader without the
    compiler's dependencies."""
    work, fixture = WORK, fixture_ko(kver)
    kinds = [["stpc", str(work / "kinds.stp"), "--emit-ko", "-m",
              "pc_kinds", "-r", kver]]
    forever = [["stpc", str(work / "forever.stp"), "--emit-ko", "-m",
                "pc_forever", "-r", kver]]
    other_kernel = "9" + kver[1:]
    # a copy claiming another kernel in .modinfo and in .stpc_info (whose
    # checksum leaves the vermagic out): same length, so the ELF stays whole
    patch = (f"d = open('pc_kinds.ko', 'rb').read(); "
             f"open('pc_wrong.ko', 'wb').write(d.replace("
             f"b'vermagic={kver}', b'vermagic={other_kernel}').replace("
             f"b'vermagic\": \"{kver}', b'vermagic\": \"{other_kernel}'))")
    wrong = [["sh", "-c", shlex.join(kinds[0]) + " && " +
              shlex.join([sys.executable, "-c", patch])]]
    refusals = [
        ("not-stpc", f"stpc {fixture} --run", [],
         f"ERROR: {fixture} is not a module stpc built (no stpc_version in "
         "its .modinfo)\n"),
        ("wrong-kernel", "stpc pc_wrong.ko --run", wrong,
         f"ERROR: pc_kinds was built for kernel {other_kernel} but this "
         f"kernel is {kver}: rebuild it with 'stpc SCRIPT --emit-ko -r "
         f"{kver}'\n"),
        ("target-not-loaded", "stpc pin.ko --run",
         [["stpc", str(work / "pin.stp"), "--emit-ko", "-m", "pin", "-r",
           kver, "--debuginfo-path", str(fixture.parent)]],
         "ERROR: module stpc_fixture is not loaded\n"),
        ("no-cap-sys-module", "setpriv --inh-caps=-sys_module "
         "--bounding-set=-sys_module stpc pc_kinds.ko --run", kinds,
         "ERROR: running a probe module needs root (CAP_SYS_MODULE): run "
         "stpc as root or with sudo\n"),
        ("bad-name", "stpc pc_kinds.ko --run -m no-dashes", kinds,
         "ERROR: 'no-dashes' is not a module name: use letters, digits "
         "and _, at most 55\n"),
    ]
    cases = [VmCase(id=f"precompiled/refused-{name}", cwd=work,
                    shell=_REFUSED.format(run=run), prebuild=build,
                    stdout=_REFUSED_OUT, stderr=stderr)
             for name, run, build, stderr in refusals]
    up = "until grep -q up /tmp/{0}; do sleep 0.2; done;"
    return cases + [
        VmCase(id="precompiled/refused-name-taken", cwd=work,
               shell="stpc pc_forever.ko --run > /tmp/a & pid=$!; "
                     f"{up.format('a')} "
                     + _REFUSED.format(run="stpc pc_kinds.ko --run -m "
                                       "pc_forever")
                     + "; kill -TERM $pid; wait $pid",
               prebuild=forever + kinds, stdout=_REFUSED_OUT,
               stderr="ERROR: a module named pc_forever is already loaded: "
                      "give another name with -m\n"),
        VmCase(id="precompiled/same-ko-twice-concurrently", cwd=work,
               shell="stpc pc_forever.ko --run > /tmp/a & a=$!; "
                     f"{up.format('a')} "
                     "stpc pc_forever.ko --run > /tmp/b & b=$!; "
                     f"{up.format('b')} "
                     "stpc pc_forever.ko --run -m pc_other > /tmp/c & c=$!; "
                     f"{up.format('c')} "
                     "grep -o '^pc_[a-z_0-9]*' /proc/modules | sort; "
                     "ls -d /proc/stpc-pc_* | sort; "
                     "kill -TERM $a $b $c; wait $a $b $c; echo rc=$?; "
                     "cat /tmp/a /tmp/b /tmp/c; "
                     "grep -c '^pc_' /proc/modules || true",
               prebuild=forever,
               stdout="pc_forever\npc_forever_2\npc_other\n"
                      "/proc/stpc-pc_forever\n/proc/stpc-pc_forever_2\n"
                      "/proc/stpc-pc_other\nrc=0\n"
                      "up\nend\nup\nend\nup\nend\n0\n", stderr=""),
        VmCase(id="precompiled/json-output", cwd=work,
               shell="stpc pc_kinds.ko --run --format json > /tmp/j && "
                     f"{sys.executable} {ROOT / 'tests' / 'validate_output.py'}"
                     " < /tmp/j && cat /tmp/j",
               prebuild=kinds, stdout=None, stderr="",
               stdout_pattern="valid 8 objects\n" + _KINDS_JSON),
        VmCase(id="precompiled/loader-without-compiler-deps", cwd=work,
               env={"PYTHONPATH": str(work / "nodeps")},
               shell=f"{sys.executable} -c 'import lark' 2>/dev/null || "
                     "echo blocked; stpc pc_kinds.ko --info >/dev/null && "
                     "echo info; stpc pc_kinds.ko --run",
               prebuild=kinds, stderr="", stdout=None,
               stdout_pattern="blocked\ninfo\n" + _KINDS_TEXT),
    ]



# -- the second kernel (bookworm-backports' 6.12), booted separately --

# a few language cases: output, maps, statistics, timers, runtime errors
_SECOND_KERNEL_CORPUS = ("args_basic", "arrays_basic", "hist_log",
                         "statarr_basic", "str_tokenize", "timer_ms",
                         "try_catch", "div_by_zero", "maxaction")


# scheduler.cpu_on is kernel.function("finish_task_switch"), a static
# function BTF does not name (on 6.1 either): only the kernel's DWARF
# places it, and the 6.12 -dbg package is not fetched here
_NEEDS_KERNEL_DWARF = {"tapset-family/scheduler-sleep"}


def second_kernel_cases(kver: str) -> List[VmCase]:
    """What must also pass on the second kernel: the fixture corpus both
    ways and the mechanism cases (its fentry calls follow an endbr64), the
    target workflow (pinning, build-ids), a few language cases, the
    emit-ko workflow, kernel probes (from BTF in a zstd image), user
    memory read from the page cache, tracepoints (the kernel's and
    modules'), and the tapsets' syscall and family aliases.
    STPC_VM_CASES filters these too.  6.12 under TCG may die of an `int3`
    oops at a static branch the kernel has just patched, with or without
    a module (docs/probes.md, "6.12 under TCG"): any case arming a
    tracepoint may meet it, so none is left out for it."""
    corpus = [c for c in corpus_cases(kver)
              if c.id.split("/")[1] in _SECOND_KERNEL_CORPUS]
    emit = [c for c in workflow_cases(kver)
            if c.id == "workflow/emit-ko-then-run"]
    untouched = [c for c in user_string_cases(kver)
                 if c.id.startswith("kernel/user-string-un")]
    cases = (fixture_cases(kver) + mechanism_cases(kver) +
             target_workflow_cases(kver) + corpus + emit + kernel_cases(kver) +
             untouched + tracepoint_cases(kver) +
             module_tracepoint_cases(kver) + syscall_tapset_cases(kver) +
             syscall_more_cases(kver) + syscall_ipc_cases(kver) +
             syscall_mq_aio_cases(kver) + syscall_admin_cases(kver) +
             [c for c in tapset_family_cases(kver)
              if c.id not in _NEEDS_KERNEL_DWARF] + uprobe_cases(kver) +
             process_cases(kver) + library_cases(kver))
    wanted = os.environ.get("STPC_VM_CASES")
    if wanted:
        cases = [c for c in cases if re.search(wanted, c.id)]
    return cases


# -- a boot with module.sig_enforce=1: only trusted signatures load --

_UNSIGNED_REFUSED = ("ERROR: the kernel refused {name}: it requires signed "
                     "modules and this one is not signed with a trusted "
                     "key\n")


def sig_enforce_cases(kver: str) -> List[VmCase]:
    """An unsigned module, and one signed with a key the kernel does not
    trust, are refused with one sentence, and nothing stays loaded."""
    work = WORK
    hello = str(EXAMPLES / "hello.stp")
    keygen = ("openssl req -new -x509 -newkey rsa:2048 -nodes -days 1 "
              "-subj /CN=stpc-test/ -outform DER -keyout sign_key.pem "
              "-out sign_cert.der 2>/dev/null")
    signed = shlex.join(["stpc", hello, "--emit-ko", "-m", "hello_signed",
                         "-r", kver, "--sign", "sign_key.pem,sign_cert.der"])
    after = "; echo rc=$?; grep -c '^{name} ' /proc/modules || true"
    return [
        VmCase(id="signing/unsigned-refused",
               shell="stpc hello_unsigned.ko --run" +
                     after.format(name="hello_unsigned"),
               cwd=work,
               prebuild=[["stpc", hello, "--emit-ko", "-m", "hello_unsigned",
                          "-r", kver]],
               stdout="rc=1\n0\n", stderr=_UNSIGNED_REFUSED.format(
                   name="hello_unsigned")),
        VmCase(id="signing/untrusted-key-refused",
               shell="stpc hello_signed.ko --run" +
                     after.format(name="hello_signed"),
               cwd=work, prebuild=[["sh", "-c", f"{keygen} && {signed}"]],
               stdout="rc=1\n0\n", stderr=_UNSIGNED_REFUSED.format(
                   name="hello_signed")),
    ]


def command_cases(kver: str) -> List[VmCase]:
    """-c CMD runs CMD as its own process, so target() is the process
    running the user's command: plain words are exec'd directly, a shell
    is started only for shell syntax, and it execs a lone simple command."""
    ko = fixture_ko(kver)
    writes = [
        ("sh-c", "sh -c 'echo 3 > /proc/stpc_fixture'",
         "sh pid=target:1 ppid=target:0\n"),
        ("plain-binary",
         f"dd if={WORK / 'three.txt'} of=/proc/stpc_fixture status=none",
         "dd pid=target:1 ppid=target:0\n"),
        ("redirection",
         f"dd status=none < {WORK / 'three.txt'} > /proc/stpc_fixture",
         "dd pid=target:1 ppid=target:0\n"),
        ("pipeline", "echo 3 | tee /proc/stpc_fixture > /dev/null",
         "tee pid=target:0 ppid=target:1\n"),
    ]
    build = [["stpc", str(WORK / "command.stp"), "--emit-ko", "-m",
              "command", "-r", kver, "--debuginfo-path", str(ko.parent)]]
    cases = [VmCase(id=f"command/{name}",
                    shell=_WITH_FIXTURE.format(ko=ko, run=shlex.join(
                        ["stpc", "command.ko", "--run", "-c", command])),
                    cwd=WORK, prebuild=build, stdout=expected, stderr="")
             for name, command, expected in writes]
    cases += [
        # a script run from source (not a .ko): the shell's $$ is target()
        _inline("command/script-sh-c", kver,
                'probe end { printf("target %d\\n", target()) }',
                options=["-c", "sh -c 'echo pid $$'"], stdout=None,
                stdout_pattern=r"pid (\d+)\ntarget \1\n"),
        _inline("command/missing-program", kver, _FOREVER,
                options=["-c", "stpc-no-such-program --flag"],
                then="; echo rc=$?", stdout="up\nend\nrc=1\n",
                stderr="ERROR: -c: cannot run stpc-no-such-program: "
                       "No such file or directory\n"),
        _inline("command/unmatched-quote", kver, _FOREVER,
                options=["-c", "echo 'oops"], then="; echo rc=$?",
                stdout="rc=1\n",
                stderr="ERROR: -c: unmatched ' in: echo 'oops\n"),
    ]
    return cases


# kernel.trace probes, under -c /bin/true (exec'd directly: target() is
# the process that execs it, once the probes are armed)
_TP_EXEC = ('probe kernel.trace("sched:sched_process_exec") { '
            'if (pid() == target()) printf("%s %s %s %d\\n", pp(), '
            'kernel_string($bprm->filename), kernel_string($p->comm), '
            '$old_pid == pid()) }')
_TP_SYSCALLS = ('global execs, calls probe kernel.trace("raw_syscalls:'
                'sys_enter") { if (pid() == target()) { calls++; '
                'if ($id == 59) execs++ } } probe end { '
                'printf("execve %d, more %d\\n", execs, calls > execs) }')
_TP_GLOB = ('global seen probe kernel.trace("sched:sched_process_*") { '
            'if (pid() == target()) seen[pp()]++ } '
            'probe end { foreach (p+ in seen) println(p) }')
# printing inside sched_switch, which the scheduler calls holding the
# runqueue's lock, each time target() is switched in once it is sleep
# (at least when its nanosleep ends); no global, so no lock to miss
_TP_SWITCH_PRINT = ('probe kernel.trace("sched:sched_switch") { '
                    'if ($next->tgid == target() && '
                    'kernel_string($next->comm) == "sleep") '
                    'printf("to %s: %s\\n", kernel_string($next->comm), '
                    '$$parms) }')
# a tracepoint hit constantly: left registered after the module is gone,
# the next context switch would jump into freed code
_TP_SWITCH = ('global n probe kernel.trace("sched:sched_switch") { n++ } '
              'probe end { println(n > 0) }')


def tracepoint_cases(kver: str) -> List[VmCase]:
    """kernel.trace probes: typed arguments, a glob, arming (-v) and
    disarming (the kernel goes on switching tasks afterwards)."""
    true = ["-c", "/bin/true"]
    return [
        _inline("tracepoint/exec-args", kver, _TP_EXEC, true,
                stdout='kernel.trace("sched:sched_process_exec") '
                       "/bin/true true 1\n"),
        _inline("tracepoint/sys-enter-id", kver, _TP_SYSCALLS, true,
                stdout="execve 1, more 1\n", stderr=None,
                stderr_pattern=_MAYBE_SKIPPED),
        _inline("tracepoint/glob", kver, _TP_GLOB, ["-v", *true],
                stdout='kernel.trace("sched:sched_process_exec")\n'
                       'kernel.trace("sched:sched_process_exit")\n',
                stderr=None, stderr_pattern=r"(?s).*stpc: [5-9] tracepoint "
                r"probes armed\n.*"),
        _inline("tracepoint/print-in-sched-switch", kver, _TP_SWITCH_PRINT,
                ["-c", "sleep 0.3"], stdout=None,
                stdout_pattern=r"(to sleep: preempt=0x[01] prev=0x[0-9a-f]+ "
                r"next=0x[0-9a-f]+ prev_state=0x[0-9a-f]+\n)+",
                stderr=None, stderr_pattern=_MAYBE_SKIPPED),
        _inline("tracepoint/disarmed-cleanly", kver, _TP_SWITCH,
                ["-c", "sleep 0.2"],
                then="&& for i in 1 2 3; do /bin/true; sleep 0.1; done "
                     "&& echo alive",
                stdout="1\nalive\n", stderr=None,
                stderr_pattern=_MAYBE_SKIPPED),
    ]


# a module's tracepoint: the fixture's, with the module loaded and
# unloaded twice during the run (armed when it comes, disarmed when it
# goes: rmmod succeeds, nothing is pinned); and a Debian module's, 9pnet's
# (loaded at start: the guest's root is a 9p share), under a -c command
# that reads a file nothing else in the guest reads
_TP_MODULE_LATE = ('probe kernel.trace("stpc_fixture:fixture_write")? { '
                   'printf("%s n=%u counter=%d id=%d\\n", pp(), $n, '
                   '$counter, $item->id) } probe begin { println("up") }')
_TP_9P = ('global n, msize probe kernel.trace("9p:9p_client_req") { '
          'if (pid() == target()) { n++; msize = $clnt->msize } } '
          'probe end { printf("requests %d, msize %d\\n", n > 0, '
          'msize >= 4096) }')


_UNREAD_9P_FILE = ROOT / "tests" / "fixture_module" / "README.md"


def module_tracepoint_cases(kver: str) -> List[VmCase]:
    """kernel.trace on modules' tracepoints, found through the tracepoint
    module notifier: one that loads and goes during the run, and a
    Debian module's that was loaded before it."""
    ko = fixture_ko(kver)
    late = [["stpc", "-e", _TP_MODULE_LATE, "--emit-ko", "-m", "tplate",
             "-r", kver, "--debuginfo-path", str(ko.parent)]]
    write = "echo {n} > /proc/stpc_fixture && rmmod stpc_fixture"
    return [
        VmCase(id="modtrace/loaded-and-unloaded-during-the-run",
               shell=f"stpc tplate.ko --run > /tmp/o & pid=$!; "
                     f"{_UNTIL_UP} insmod {ko} && {write.format(n=2)} && "
                     f"insmod {ko} && {write.format(n=1)} && "
                     "echo unloaded; kill -TERM $pid; wait $pid; "
                     "echo rc=$?; cat /tmp/o",
               cwd=WORK, prebuild=late,
               stdout="unloaded\nrc=0\nup\n"
                      'kernel.trace("stpc_fixture:fixture_write") n=2 '
                      "counter=12 id=101\n"
                      'kernel.trace("stpc_fixture:fixture_write") n=1 '
                      "counter=6 id=100\n",
               stderr=""),
        _inline("modtrace/debian-9pnet", kver, _TP_9P,
                ["-c", f"grep -q stpc {_UNREAD_9P_FILE}"],
                stdout="requests 1, msize 1\n"),
    ]


# ---- the tapset families (tapset/scheduler.stp, kprocess.stp, ioblock.stp,
# networking.stp): each alias under a -c workload that fires it; events
# are kept in globals and printed at the end, in the order they happened
# (prints from several CPUs could interleave otherwise)
_FAM_SCHED_SLEEP = """
global off, on, woken, switched
probe scheduler.cpu_off {
	if (@cast(task_prev, "struct task_struct")->tgid == target() && name == "cpu_off" && !idle &&
	    task_next != 0) off++ }
probe scheduler.cpu_on {
	if (pid() == target() && name == "cpu_on" && task_prev != 0) on++ }
probe scheduler.wakeup {
	if (task_pid == target() && name == "wakeup")
		woken[task_tid == task_pid, task_state, task_cpu >= 0,
		      task == 0] = 1 }
probe scheduler.ctxswitch {
	if (next_pid == target() && next_task_name == "sleep")
		switched[next_tid == next_pid, nexttsk_state,
			 next_priority ==
			 @cast(next_task, "struct task_struct")->prio, prev_task != 0] = 1 }
probe end {
	printf("cpu_off %d cpu_on %d\\n", off > 0, on > 0)
	foreach ([same, state, cpu, none] in woken)
		printf("wakeup %d %d %d %d\\n", same, state, cpu, none)
	foreach ([same, state, prio, prev] in switched)
		printf("ctxswitch %d %d %d %d\\n", same, state, prio, prev)
}
"""
_FAM_SCHED_FORK = """
global kids, order, n
probe scheduler.process_fork {
	if (parent_pid == target() && name == "process_fork") {
		kids[child_pid] = 1; order[n++] = "process_fork" } }
probe scheduler.wakeup_new {
	if (task_pid in kids && name == "wakeup_new")
		order[n++] = sprintf("wakeup_new %d", task_tid == task_pid) }
probe scheduler.process_exit {
	if (pid in kids && name == "process_exit")
		order[n++] = sprintf("process_exit %d", priority) }
probe end { for (i = 0; i < n; i++) println(order[i]) }
"""
_FAM_KPROCESS = """
global kids, order, n
probe kprocess.create {
	if (pid() == target()) {
		kids[new_pid] = 1
		order[n++] = sprintf("create %d %d", new_pid == new_tid,
				     @cast(task, "struct task_struct")->tgid == new_pid) } }
probe kprocess.start { if (pid() in kids) order[n++] = "start" }
probe kprocess.exec {
	if (pid() == target() || pid() in kids)
		order[n++] = sprintf("%s %s", name, argstr) }
probe kprocess.exec_complete {
	if (pid() == target() || pid() in kids)
		order[n++] = sprintf("exec_complete %s %d %d", name, errno,
				     success) }
probe kprocess.exit { if (pid() in kids) order[n++] = sprintf("exit %d", code) }
probe kprocess.release {
	if (released_pid in kids)
		order[n++] = sprintf("release %d", released_tid ==
					  @cast(task, "struct task_struct")->pid) }
probe end { for (i = 0; i < n; i++) println(order[i]) }
"""
_FAM_KPROCESS_OUT = "".join(re.escape(line) + "\n" for line in (
    'execve "/bin/sh", ["/bin/sh", "-c", "/bin/true; :"], [ENV]',
    "exec_complete execve 0 1", "create 1 1", "start",
    'execve "/bin/true", ["/bin/true"], [ENV]',
    "exec_complete execve 0 1", "exit 0", "release 1")).replace(
        re.escape("[ENV]"), r"\[.*")     # env_str may be cut at MAXSTRINGLEN
# dd writes one 4 KiB block straight to a RAM disk (brd, bio-based: each
# bio is submitted, queued and completed at once); the buffer is dd's
# anonymous memory, so no inode
_FAM_IOBLOCK = """
global seen
probe ioblock.request, ioblock_trace.request {
	if (devname == "ram0" && rw == 1)
		seen[name, sprintf("%d %d %d %d %d %d", size, sector, ino,
				   p_start_sect, bdev != 0, opf & 255)] = 1 }
probe ioblock.end {
	if (devname == "ram0" && rw == 1)
		seen[name, sprintf("%d %d %d", size, error, bytes_done >= 0)] = 1 }
probe ioblock_trace.end {
	if (devname == "ram0" && rw == 1)
		seen[name, sprintf("%d %d %d", size, q != 0, vcnt)] = 1 }
probe end { foreach ([what+, values] in seen) println(what, " ", values) }
"""
# one UDP datagram of 2 bytes to a closed port on loopback: 44 bytes with
# the Ethernet header on the way out, 30 when received (ETH_P_IP is 8 in
# the little-endian word the skb holds)
_FAM_NETDEV = """
global sent, got
probe netdev.transmit {
	if (dev_name == "lo" && length == 44 && truesize > 0) sent[protocol] = 1 }
probe netdev.receive {
	if (dev_name == "lo" && length == 30 && truesize > 0) got[protocol] = 1 }
probe end {
	foreach (p in sent) printf("transmit lo 44 %d\\n", p)
	foreach (p in got) printf("receive lo 30 %d\\n", p)
}
"""


def tapset_family_cases(kver: str) -> List[VmCase]:
    """The scheduler, kprocess, ioblock and netdev aliases fire with
    stap's variables."""
    ioblock = _inline("tapset-family/ioblock", kver, _FAM_IOBLOCK,
                      ["-c", "dd if=/dev/zero of=/dev/ram0 bs=4096 count=1 "
                             "oflag=direct status=none"],
                      stdout="ioblock.end 4096 0 1\n"
                             "ioblock.request 4096 0 -1 0 1 1\n"
                             "ioblock_trace.end 4096 1 1\n"
                             "ioblock_trace.request 4096 0 -1 0 1 1\n",
                      stderr=None, stderr_pattern=_MAYBE_SKIPPED)
    netdev = _inline("tapset-family/netdev", kver, _FAM_NETDEV,
                     ["-c", "/bin/bash -c 'echo x > /dev/udp/127.0.0.1/9'"],
                     stdout="transmit lo 44 8\nreceive lo 30 8\n",
                     stderr=None, stderr_pattern=_MAYBE_SKIPPED)
    return [
        _inline("tapset-family/scheduler-sleep", kver, _FAM_SCHED_SLEEP,
                ["-c", "sleep 0.2"],
                stdout="cpu_off 1 cpu_on 1\nwakeup 1 0 1 0\n"
                       "ctxswitch 1 0 1 1\n",
                stderr=None, stderr_pattern=_MAYBE_SKIPPED),
        _inline("tapset-family/scheduler-fork", kver, _FAM_SCHED_FORK,
                ["-c", "/bin/sh -c '/bin/true; :'"],
                stdout="process_fork\nwakeup_new 1\nprocess_exit 120\n",
                stderr=None, stderr_pattern=_MAYBE_SKIPPED),
        _inline("tapset-family/kprocess", kver, _FAM_KPROCESS,
                ["-c", "/bin/sh -c '/bin/true; :'"], stdout=None,
                stdout_pattern=_FAM_KPROCESS_OUT,
                stderr=None, stderr_pattern=_MAYBE_SKIPPED),
        VmCase(**{**vars(ioblock), "shell": "modprobe brd rd_nr=1 "
                  "rd_size=1024 && " + ioblock.shell}),
        VmCase(**{**vars(netdev),
                  "shell": "ip link set lo up; " + netdev.shell}),
    ]


# the syscall tapset: every alias once, from tests/syscall_workload.c,
# between its getpgid() (not printed: the mark, whose pgid varies) and the
# end of its execve()
# the wildcard handlers only read the globals: a handler that writes one
# takes its write lock whenever it fires (every system call of every task
# for the raw_syscalls aliases), and under TCG the others then skip
_SYSCALLS = """
global on, done
probe kernel.function("__x64_sys_getpgid") { if (pid() == target()) on = 1 }
probe syscall.execve.return { if (on && pid() == target()) done = 1 }
probe syscall.* {
	if (pid() == target() && (on && !done || name == "exit_group") &&
	    name != "kill" && name != "getpgid")
		printf("%s(%s)\\n", name, argstr)
}
probe syscall.kill {
	if (on && pid() == target())
		printf("kill(%s, %s)\\n", pid == pid() ? "pid()" : sprint(pid),
		       sig_name)
}
probe syscall.pipe.return {
	if (on && pid() == target())
		printf("%s = %s [%d, %d]\\n", name, retstr, pipe0, pipe1)
}
probe syscall.*.return {
	if (!on || pid() != target() || done && name != "execve" ||
	    name == "pipe" || name == "pipe2" || name == "getpgid")
		next
	if (name == "getpid")
		ret = retval == pid() ? "pid()" : retstr
	else if (name == "getppid")
		ret = retval == ppid() ? "ppid()" : retstr
	else if (name == "gettid")
		ret = retval == tid() ? "tid()" : retstr
	else if (name == "brk")
		ret = retval > 0 ? "an address" : retstr
	else if (name == "clone" || name == "fork" || name == "vfork")
		ret = retval > 0 ? "a pid" : retstr
	else if (name == "wait4")
		ret = retval >= 0 ? "a pid or 0" : retstr
	else
		ret = retstr
	printf("%s = %s\\n", name, ret)
}
"""
_SYSCALLS_OUT = """\
umask(022)
umask = 022
mkdir("/tmp/stpc-sc", 0755)
mkdir = 0
open("/tmp/stpc-sc/f", O_WRONLY|O_CREAT|O_TRUNC, 0644)
open = 3
write(3, "hello\\n", 6)
write = 6
pwrite(3, "hel", 3, 10)
pwrite = 3
writev(3, 0x10003000, 1)
writev = 3
fsync(3)
fsync = 0
ftruncate(3, 5)
ftruncate = 0
lseek(3, 0, SEEK_SET)
lseek = 0
close(3)
close = 0
openat(AT_FDCWD, "/tmp/stpc-sc/f", O_RDONLY|O_CLOEXEC)
openat = 3
read(3, 0x10001000, 4)
read = 4
pread(3, 0x10001000, 2, 1)
pread = 2
readv(3, 0x10003000, 1)
readv = 1
dup(3)
dup = 4
dup2(3, 10)
dup2 = 10
dup3(3, 11, O_CLOEXEC)
dup3 = 11
fcntl(3, F_GETFL, 0x0)
fcntl = 32768
ioctl(3, 21505, 0x10001000)
ioctl = -25 (ENOTTY)
fstat(3, 0x10002000)
fstat = 0
stat("/tmp/stpc-sc/f", 0x10002000)
stat = 0
lstat("/tmp/stpc-sc/f", 0x10002000)
lstat = 0
fstatat(AT_FDCWD, "/tmp/stpc-sc/f", 0x10002000, AT_SYMLINK_NOFOLLOW)
fstatat = 0
statx(AT_FDCWD, "/tmp/stpc-sc/f", 0x0, 0x7ff, 0x10002000)
statx = 0
access("/tmp/stpc-sc/missing", R_OK|W_OK)
access = -2 (ENOENT)
faccessat(AT_FDCWD, "/tmp/stpc-sc/f", F_OK)
faccessat = 0
openat(AT_FDCWD, "/tmp/stpc-sc/missing", O_RDONLY)
openat = -2 (ENOENT)
rename("/tmp/stpc-sc/f", "/tmp/stpc-sc/g")
rename = 0
renameat2(AT_FDCWD, "/tmp/stpc-sc/g", AT_FDCWD, "/tmp/stpc-sc/f", \
RENAME_NOREPLACE)
renameat2 = 0
chdir("/tmp/stpc-sc")
chdir = 0
fchdir(3)
fchdir = -20 (ENOTDIR)
getcwd(0x10001000, 256)
getcwd = 13
unlink("/tmp/stpc-sc/f")
unlink = 0
mkdirat(AT_FDCWD, "/tmp/stpc-sc/d", 0700)
mkdirat = 0
unlinkat(AT_FDCWD, "/tmp/stpc-sc/d", AT_REMOVEDIR)
unlinkat = 0
rmdir("/tmp/stpc-sc")
rmdir = 0
nanosleep([0.000001000], 0x0)
nanosleep = 0
clock_nanosleep(CLOCK_MONOTONIC, 0x0, [0.000001000], 0x0)
clock_nanosleep = 0
socket(PF_LOCAL, SOCK_STREAM|SOCK_CLOEXEC, 0)
socket = 5
socket(PF_INET, SOCK_DGRAM, IPPROTO_UDP)
socket = 6
setsockopt(6, SOL_SOCKET, SO_REUSEADDR, 0x10002900, 4)
setsockopt = 0
getsockopt(6, SOL_SOCKET, SO_TYPE, 0x10002900, 0x10002910)
getsockopt = 0
getpeername(6, 0x10002000, 0x10002910)
getpeername = -107 (ENOTCONN)
listen(5, 5)
listen = -22 (EINVAL)
accept(5, 0x0, 0x0)
accept = -22 (EINVAL)
accept4(5, 0x0, 0x0, SOCK_NONBLOCK)
accept4 = -22 (EINVAL)
socketpair(PF_LOCAL, SOCK_DGRAM, 0, 0x10002800)
socketpair = 0
getsockname(7, 0x10002000, 0x10002910)
getsockname = 0
sendmsg(7, 0x10002a00, MSG_DONTWAIT)
sendmsg = 3
recvmsg(8, 0x10002a00, MSG_PEEK)
recvmsg = 3
recvfrom(8, 0x10001000, 16, MSG_DONTWAIT, 0x0, 0x0)
recvfrom = 3
shutdown(7, SHUT_RDWR)
shutdown = 0
bind(6, {AF_INET, 127.0.0.1, 8080}, 16)
bind = 0
connect(6, {AF_INET, 127.0.0.1, 8080}, 16)
connect = 0
sendto(6, "ping", 4, MSG_DONTWAIT, {AF_INET, 127.0.0.1, 8080}, 16)
sendto = 4
connect(6, {AF_INET6, 0000:0000:0000:0000:0000:0000:0000:0001, 8080}, 28)
connect = -97 (EAFNOSUPPORT)
bind(5, {AF_UNIX, "/tmp/stpc-sc-sock"}, 20)
bind = 0
pipe([0, 0])
pipe = 0 [9, 12]
pipe2([0, 0], O_CLOEXEC)
pipe2 = 0 [13, 14]
mmap2(0x10008000, 4096, PROT_READ, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0)
mmap2 = 0x10008000
clone(CLONE_PARENT_SETTID|SIGCHLD, 0x0, 0x10002820, 0x0)
clone = a pid
fork()
fork = a pid
vfork()
vfork = a pid
mprotect(0x10003000, 4096, PROT_READ)
mprotect = 0
munmap(0x10003000, 4096)
munmap = 0
brk(0x0)
brk = an address
getpid()
getpid = pid()
getppid()
getppid = ppid()
gettid()
gettid = tid()
kill(pid(), SIG_0)
kill = 0
sched_yield()
sched_yield = 0
wait4(-1, 0x0, WNOHANG, 0x0)
wait4 = a pid or 0
execve("/bin/true", ["true", "x y"], ["A=1"])
execve = 0
exit_group(0)
"""
# the tapset's helpers, as stap's format
_SYSCALL_HELPERS = r"""probe begin {
	println(errno_str(-2), " ", errno_str(131), " [", errno_str(132), "] ",
		errno_p(-95), " ", errno_p(-512))
	println(return_str(1, -13), " ", return_str(1, -512), " ",
		return_str(2, 255), " ", return_str(3, 8))
	println(_sys_open_flag_str(0x80241), " ", _sys_open_flag_str(0x410002),
		" ", _sys_open_flag_str(0x1000))
	println(_mprotect_prot_str(0), " ", _mprotect_prot_str(7), " ",
		_mprotect_prot_str(0x10))
	println(_signal_name(9), " ", _signal_name(16), " ", _signal_name(29))
	println(_dfd_str(-100), " ", _dfd_str(5), " ", _access_mode_str(0), " ",
		_access_mode_str(7), " ", _wait4_opt_str(3))
	println(_fcntl_cmd_str(1030), " ", _fcntl_cmd_str(99), " ",
		string_quoted("a\"b\n"))
	println(_sock_type_str(0x80801), " ", _sock_type_str(7), " ",
		_sock_type_str(0x80000), " ", __fork_flags(0x11), " ",
		_mmap_flags(0x54040022))
	println(_sock_protocol_str(1, 6), " ", _sock_protocol_str(10, 6), " ",
		_sockopt_level_str(-1), " ", _msg_flags_str(0x80000041), " ",
		_shutdown_how_str(3), " ", _sock_family_str(28))
	exit()
}"""
_SYSCALL_HELPERS_OUT = """\
ENOENT ENOTRECOVERABLE [] 95 0
-13 (EACCES) -512 0xff 010
O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC O_RDWR|O_DIRECTORY|0x400000 O_RDONLY|O_SYNC
PROT_NONE PROT_READ|PROT_WRITE|PROT_EXEC 0x10
SIGKILL 0x10 SIGIO/SIGPOLL
AT_FDCWD 5 F_OK R_OK|W_OK|X_OK WNOHANG|WUNTRACED
F_DUPFD_CLOEXEC 0x63 "a\\"b\\n"
SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK 0x7 SOCK_CLOEXEC 0x0|SIGCHLD \
MAP_HUGE_2MB|MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB
6 IPPROTO_TCP 0xffffffffffffffff MSG_OOB|MSG_DONTWAIT 0x3 0x1c
"""


# syscall_any: names and numbers from the tracepoints
_SYSCALL_ANY = """
probe syscall_any {
	if (pid() == target() && name == "getpgid")
		printf("%d %s\\n", syscall_nr, name)
}
probe syscall_any.return {
	if (pid() == target() && syscall_nr == 186)
		printf("%s %d\\n", name, retval == tid())
}
"""

# probes guarded on one syscall number share a probe function that
# dispatches on it (compiler/tpdispatch.py): two on getppid's number (an
# alias and a guarded kernel.trace) both run, once; aliases whose calls
# the workload never makes stay silent; an unguarded probe on the same
# tracepoint keeps its own probe function and counts the same calls
_SYSCALL_DISPATCH = """
global seen, raw
probe kernel.trace("raw_syscalls:sys_enter") {
	if (pid() == target() && ($id == 110 || $id == 186 || $id == 37 ||
				  $id == 108))
		raw[$id]++
}
probe syscall.getppid, syscall.gettid, syscall.alarm, syscall.getegid {
	if (pid() == target()) seen[name, "entry"]++
}
probe kernel.trace("raw_syscalls:sys_enter") {
	if ($id != 110)
		next
	if (pid() == target()) seen["getppid", "trace"]++
}
probe syscall.getppid.return, syscall.gettid.return, syscall.alarm.return {
	if (pid() == target()) seen[name, "return"]++
}
probe end {
	printf("getppid %d %d %d gettid %d %d\\n", seen["getppid", "entry"],
	       seen["getppid", "trace"], seen["getppid", "return"],
	       seen["gettid", "entry"], seen["gettid", "return"])
	printf("silent %d %d %d\\n", seen["alarm", "entry"],
	       seen["getegid", "entry"], seen["alarm", "return"])
	printf("raw %d %d %d %d\\n", raw[110], raw[186], raw[37], raw[108])
}
"""


# tapset/task.stp: the task_* functions (@cast in functions) on the
# exiting -c command, checked against the built-ins that read current,
# and its nice value as `nice -n 5` set it (prio 125, 25 above the 100
# real-time levels)
_TASK_FUNCTIONS = """
probe begin { println(task_pid(task_current()) == pid()) }
probe kernel.trace("sched:sched_process_exit") {
	if (pid() == target()) {
		t = task_current()
		printf("%d %d %d %d %d %d %d\\n", task_pid(t) == pid(),
		       task_tid(t) == tid(), task_pid(task_parent(t)) == ppid(),
		       task_execname(t) == execname(), task_uid(t) == uid(),
		       task_cpu(t) == cpu(), task_parent(t) != t)
		printf("%s nice=%d prio=%d uid=%d euid=%d gid=%d egid=%d state=%d\\n",
		       task_execname(t), task_nice(t), task_prio(t), task_uid(t),
		       task_euid(t), task_gid(t), task_egid(t), task_state(t))
	}
}
"""


def task_function_cases(kver: str) -> List[VmCase]:
    return [_inline("tapset/task-functions", kver, _TASK_FUNCTIONS,
                    ["-c", "nice -n 5 /bin/true"],
                    stdout="1\n1 1 1 1 1 1 1\n"
                           "true nice=5 prio=25 uid=0 euid=0 gid=0 egid=0 "
                           "state=0\n",
                    stderr=None, stderr_pattern=_MAYBE_SKIPPED)]


def _lines_in_order(expected: str) -> str:
    """A pattern for EXPECTED's lines in order, the first and last
    present and any other maybe missing: under TCG a run of this
    case skipped 41 hits (reported on stderr), returns among them: its
    wildcard return handler then wrote a global, taking the write lock
    on every system call (it now only reads them, and a run skipped
    none).  Each line printed must still be exactly right."""
    lines = [re.escape(line) + "\n" for line in expected.splitlines()]
    middle = "".join(f"(?:{line})?" for line in lines[1:-1])
    return lines[0] + middle + lines[-1]


def syscall_tapset_cases(kver: str) -> List[VmCase]:
    """The syscall tapset (tapset/syscalls.stp): each alias's name,
    argstr and retstr under a -c command that makes every one of them."""
    workload = WORK / "syscall_workload"
    compile_workload = ["gcc", "-O1", "-o", str(workload),
                        str(ROOT / "tests" / "syscall_workload.c")]
    # syscall.* holds the raw-syscall tracepoint aliases, each run on every
    # system call of the guest: under TCG that passed STP_OVERLOAD's 50%
    # once (as for tapset/syscalls-more), which this case does not check
    under_workload = [
        _inline("tapset/syscalls", kver, _SYSCALLS, ["-c", str(workload)],
                defines=["-DSTP_NO_OVERLOAD"], stdout=None, stdout_pattern=_lines_in_order(_SYSCALLS_OUT),
                stderr=None, stderr_pattern=_MAYBE_SKIPPED),
        _inline("tapset/syscall-any", kver, _SYSCALL_ANY,
                ["-c", str(workload)], stdout="121 getpgid\ngettid 1\n",
                stderr=None, stderr_pattern=_MAYBE_SKIPPED),
        _inline("tapset/syscall-dispatch", kver, _SYSCALL_DISPATCH,
                ["-c", str(workload)],
                stdout="getppid 1 1 1 gettid 1 1\nsilent 0 0 0\n"
                       "raw 1 1 0 0\n",
                stderr=None, stderr_pattern=_MAYBE_SKIPPED)]
    for case in under_workload:
        case.prebuild.insert(0, compile_workload)
    return under_workload + [_inline("tapset/syscall-helpers", kver,
                                     _SYSCALL_HELPERS,
                                     stdout=_SYSCALL_HELPERS_OUT)]


# process(...) probes on tests/uprobe_target.c.  A uprobe cannot be
# registered on a file the guest reads over 9p (-EIO): the guest mounts
# a tmpfs over the fixture's directory and copies the same bytes back, so
# the path and build-id are those the host compiled against.
UPROBE_DIR = WORK / "uprobes"
UPROBE_TARGET = UPROBE_DIR / "uprobe_target"
UPROBE_SOURCE = ROOT / "tests" / "uprobe_target.c"
# its second compilation unit: globals of another unit than main's
UPROBE_STOCK = ROOT / "tests" / "uprobe_stock.c"
# every case builds the one program the same way: a module is built for
# its build-id
UPROBE_BUILD = ["gcc", "-g", "-O2", "-o", str(UPROBE_TARGET),
                str(UPROBE_SOURCE), str(UPROBE_STOCK)]
_GUEST_OWNED = ("cp {dir}/uprobe_target /tmp/uprobe_target && "
                "mount -t tmpfs uprobes {dir} && "
                "cp /tmp/uprobe_target {dir}/ && ( {run} ); rc=$?; "
                "umount {dir}; exit $rc")

_UPROBE_VARS = """
global inlined, quantities
probe process("@BIN@").function("order_total") {
	printf("order_total id=%d quantity=%d tag=%s label=%s target=%d %s %s\\n",
	       $o->id, $o->quantity, user_string($o->tag), user_string($label),
	       pid() == target(), execname(), probefunc())
}
probe process("@BIN@").function("count_up") { printf("count_up %s\\n", $$parms) }
probe process("@BIN@").function("count_up").return {
	printf("count_up returns %d\\n", $return)
}
probe process("@BIN@").function("price_of") { inlined++; quantities += $quantity }
probe end { printf("price_of inlined %d times, quantities %d\\n", inlined, quantities) }
"""
_UPROBE_VARS_OUT = """\
order_total id=101 quantity=2 tag=first label=order target=1 uprobe_target order_total
order_total id=102 quantity=5 tag=second label=order target=1 uprobe_target order_total
order_total id=103 quantity=1 tag=third label=order target=1 uprobe_target order_total
count_up limit=0x4
count_up returns 6
price_of inlined 3 times, quantities 8
"""
# the loop's marked line, each iteration before its addition
_UPROBE_STATEMENT = """
probe process("@BIN@").statement("count_up@*:@LOOP@") {
	printf("i=%d sum=%d\\n", $i, $sum)
}
"""
_UPROBE_LOOP_LINE = next(
    i for i, text in enumerate(UPROBE_SOURCE.read_text().splitlines(), 1)
    if "/* loop body */" in text)
# a .return reads parameters at entry: @entry() and SystemTap's implicit
# form ($o->id), each call its own values
_UPROBE_ENTRY = """
probe process("@BIN@").function("order_total").return {
	printf("order %d total %d label %s\\n", $o->id, $return,
	       user_string(@entry($label)))
}
probe process("@BIN@").function("count_up").return {
	printf("count_up(%d) returns %d\\n", $limit, $return)
}
"""
_UPROBE_ENTRY_OUT = """\
order 101 total 17 label order
order 102 total 38 label order
order 103 total 10 label order
count_up(4) returns 6
"""
# @entry(EXPR) of any expression at a process(...) .return: strings (one
# read from an untouched .rodata literal), a script function's call,
# arithmetic, a global bumped at entry
_UPROBE_ENTRY_EXPR = """
global entered
function scaled(n) { return n * 10 }
probe process("@BIN@").function("order_total").return {
	printf("%s order %d tag %s quantity*10 %d call %d returned %d\\n",
	       @entry(execname()), @entry($o->id + 1000),
	       @entry(user_string($o->tag)), @entry(scaled($o->quantity)),
	       @entry(++entered), $return)
}
"""
_UPROBE_ENTRY_EXPR_OUT = """\
uprobe_target order 1101 tag first quantity*10 20 call 1 returned 17
uprobe_target order 1102 tag second quantity*10 50 call 2 returned 38
uprobe_target order 1103 tag third quantity*10 10 call 3 returned 10
"""
# under -c, only the target fires: the shell's child running the program
# first is another process; the program it then execs is the target
_UPROBE_TARGET_ONLY = """
probe process("@BIN@").function("count_up") { printf("count_up %d\\n", $limit) }
"""


# SDT marks (the fixture's shop:order and shop:done, each with a
# semaphore).  shop:order runs only while its semaphore is set, and
# shop:done passes how many times it ran: 3 when a probe on shop:order
# armed its semaphore, 0 when only shop:done is probed.  The semaphores
# are the program's globals: read as $name and @var at the (PIE, so
# load-biased) program's count_up, both are 1 while their marks are probed
_MARK_ARGS = """
probe process("@BIN@").mark("order") {
	printf("%s:%s quantity=%d total=%d tag=%s in %s\\n", $$provider, $$name,
	       $arg1, $arg2, user_string($arg3), probefunc())
	println($$parms)
}
probe process("@BIN@").provider("shop").mark("done") {
	printf("%s traced=%d grand=%d\\n", pp(), $arg1, $arg2)
}
probe process("@BIN@").function("count_up") {
	printf("semaphores order=%d done=%d\\n", $shop_order_semaphore,
	       @var("shop_done_semaphore@uprobe_target.c"))
}
probe process("@BIN@").function("count_up").return {
	printf("order semaphore at entry %d\\n", $shop_order_semaphore)
}
"""
_MARK_ARGS_OUT = "".join(
    re.escape(f"shop:order quantity={quantity} total={quantity * 7 + 3} "
              f"tag={tag} in main\n") +
    re.escape(f"$arg1={quantity:#x} $arg2={quantity * 7 + 3:#x} ") +
    r"\$arg3=0x[0-9a-f]+\n"
    for quantity, tag in ((2, "first"), (5, "second"), (1, "third"))) + \
    re.escape(f'process("{UPROBE_TARGET}").provider("shop").mark("done") '
              "traced=3 grand=65\n") + \
    re.escape("semaphores order=1 done=1\norder semaphore at entry 1\n")
# the program's globals where SystemTap reads them: @var of another
# compilation unit's (uprobe_stock.c, whose constructor took 8 off
# stock_left), by file and by program; $name and @var at a mark, from
# the DWARF of the function the mark is in; and the locals in scope at a
# mark and at a statement, innermost scope first (SystemTap's order)
_UPROBE_GLOBALS = """
probe process("@BIN@").mark("order") { println($$locals) }
probe process("@BIN@").mark("done") {
	printf("done semaphore=%d stock=%d %s\\n", $shop_done_semaphore,
	       @var("stock_left@uprobe_stock.c"), user_string(@var("stock_name")))
	println($$locals)
}
probe process("@BIN@").function("count_up") {
	printf("count_up stock=%d %s\\n", @var("stock_left", "@BIN@"),
	       user_string(@var("stock_name@uprobe_stock.c", "@BIN@")))
}
probe process("@BIN@").statement("count_up@*:@LOOP@") {
	printf("%s | %s\\n", $$locals, $$vars)
}
"""
_UPROBE_GLOBALS_OUT = """\
total=0x11 orders=[...] grand=0x11 i=? traced=0x1
total=0x26 orders=[...] grand=0x37 i=? traced=0x2
total=0xa orders=[...] grand=0x41 i=? traced=0x3
done semaphore=1 stock=92 widgets
orders=[...] grand=0x41 i=? traced=0x3
count_up stock=92 widgets
i=0x0 sum=0x0 | limit=0x4 i=0x0 sum=0x0
i=0x1 sum=0x0 | limit=0x4 i=0x1 sum=0x0
i=0x2 sum=0x1 | limit=0x4 i=0x2 sum=0x1
i=0x3 sum=0x3 | limit=0x4 i=0x3 sum=0x3
"""
_MARK_UNARMED = """
probe process("@BIN@").mark("done") { printf("traced=%d grand=%d\\n", $arg1, $arg2) }
"""


def _uprobe_case(case_id: str, kver: str, script: str, command: str,
                 before: str = "", **expect) -> VmCase:
    script = script.replace("@BIN@", str(UPROBE_TARGET)).replace(
        "@LOOP@", str(_UPROBE_LOOP_LINE))
    case = _inline(case_id, kver, script, ["-c", command], **expect)
    case.prebuild.insert(0, UPROBE_BUILD)
    case.shell = _GUEST_OWNED.format(dir=UPROBE_DIR,
                                     run=before + case.shell)
    return case


def _uprobe_ko_case(case_id: str, kver: str, script: str, command: str,
                    **expect) -> VmCase:
    """As _uprobe_case, the module built on the host with --emit-ko:
    the guest runs the .ko without compiling the script again (slow
    under TCG)."""
    script = script.replace("@BIN@", str(UPROBE_TARGET))
    module = "t_" + re.sub(r"\W", "_", case_id)
    expect.setdefault("stderr", "")
    return VmCase(
        id=case_id, cwd=WORK,
        prebuild=[UPROBE_BUILD,
                  ["stpc", "-e", script, "--emit-ko", "-m", module,
                   "-r", kver]],
        shell=_GUEST_OWNED.format(dir=UPROBE_DIR, run=shlex.join(
            ["stpc", f"{module}.ko", "--run", "-c", command])), **expect)


# libc has no DWARF here: malloc is found in its .dynsym.  A file bound
# over the library's path makes it guest-owned for the processes started
# after (the -c command); the build-id is the host's.  Processes the run
# started may still map it at the end: detached lazily
_LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def _bound_copy(path: str, name: str) -> str:
    """A shell template running {run} while a tmpfs copy of ``path`` is
    bound over it (in /tmp/NAME, which stays: several cases of one boot
    bind the same file)."""
    copy = f"/tmp/{name}/{os.path.basename(path)}"
    return (f"mkdir -p /tmp/{name} && mount -t tmpfs {name} /tmp/{name} && "
            f"cp {path} /tmp/{name}/ && mount --bind {copy} {path} && "
            "( {run} ); rc=$?; umount -l " + path +
            f"; umount -l /tmp/{name}; exit $rc")


_LIBC_GUEST_OWNED = _bound_copy(_LIBC, "libc")
_MALLOC = f"""
global calls
probe process("{_LIBC}").function("malloc") {{ calls++ }}
probe end {{ printf("malloc called %d times\\n", calls) }}
"""


def uprobe_cases(kver: str) -> List[VmCase]:
    UPROBE_DIR.mkdir(parents=True, exist_ok=True)
    target = str(UPROBE_TARGET)
    return [
        _uprobe_case("uprobes/vars-entry-return-inline", kver, _UPROBE_VARS,
                     target, stdout=_UPROBE_VARS_OUT),
        _uprobe_case("uprobes/target-only", kver, _UPROBE_TARGET_ONLY,
                     f"sh -c '{target} 5; exec {target} 7'",
                     stdout="count_up 7\n"),
        _uprobe_case("uprobes/statement-loop", kver, _UPROBE_STATEMENT,
                     target, stdout="i=0 sum=0\ni=1 sum=0\ni=2 sum=1\n"
                                    "i=3 sum=3\n"),
        _uprobe_case("uprobes/mark-args-semaphore", kver, _MARK_ARGS,
                     target, stdout=None, stdout_pattern=_MARK_ARGS_OUT),
        _uprobe_case("uprobes/mark-semaphore-unarmed", kver, _MARK_UNARMED,
                     target, stdout="traced=0 grand=65\n"),
        _uprobe_case("uprobes/globals-other-unit-mark-locals", kver,
                     _UPROBE_GLOBALS, target, stdout=_UPROBE_GLOBALS_OUT),
        _python_mark_case(kver),
        _uprobe_ko_case("uprobes/return-entry-values", kver, _UPROBE_ENTRY,
                        target, stdout=_UPROBE_ENTRY_OUT),
        _uprobe_ko_case("uprobes/return-entry-expressions", kver,
                        _UPROBE_ENTRY_EXPR, target,
                        stdout=_UPROBE_ENTRY_EXPR_OUT),
        _other_build_id_case(kver),
        _other_build_id_module_case(kver),
        _libc_case("uprobes/libc-malloc-by-symbol", kver, _MALLOC, target,
                   stdout="malloc called 3 times\n"),
    ]


# process.begin/.end.  Under -c the bare forms and the program's are the
# target's: its begin comes at its exec, in its own context
_PROC_TARGET = """
probe process.begin { printf("begin %s target=%d\\n", execname(), pid() == target()) }
probe process("@BIN@").begin { printf("%s %s\\n", pp(), execname()) }
probe process.end { printf("end %s target=%d\\n", execname(), pid() == target()) }
probe process("@BIN@").end { printf("%s %s\\n", pp(), execname()) }
"""
_PROC_TARGET_OUT = """\
begin uprobe_target target=1
process("@BIN@").begin uprobe_target
end uprobe_target target=1
process("@BIN@").end uprobe_target
"""
PROC_TARGET = UPROBE_DIR / "proc_target"
# without -c: a process started before the run (a tail, blocked in a
# system call: it begins when it leaves one), a program that forks a child
# of the same file and then execs /bin/true.  "started" (printed before
# the probes are armed) tells the shell the run is up
_PROC_WALK = """
probe begin { println("started") }
probe process("/usr/bin/tail").begin { printf("%s %s\\n", pp(), execname()) }
probe process("/usr/bin/tail").end { printf("%s %s\\n", pp(), execname()); exit() }
"""
_PROC_FORK = """
global ends, first
probe begin { println("started") }
probe process("@PROC@").begin {
	if (!first) first = pid()
	printf("begin %s child=%d\\n", execname(), pid() != first)
}
probe process("@PROC@").end {
	printf("end %s child=%d\\n", execname(), pid() != first)
	if (++ends == 2) exit()
}
"""
_PROC_FORK_OUT = """\
started
begin proc_target child=0
begin proc_target child=1
end proc_target child=1
end true child=0
"""
# the run in the background, writing to a file (emptied first: the
# background shell may open it after the loop's first look); the shell
# waits for "started", runs the workload, and gives the run 30 s to end by itself
# (then interrupts it: the output shows how far it got)
_AFTER_STARTED = (": > /tmp/out.txt; {before}{run} >> /tmp/out.txt 2>&1 & "
                  "r=$!; "
                  "until grep -q started /tmp/out.txt; do sleep 0.2; done; "
                  "{then}; i=0; while kill -0 $r 2>/dev/null && "
                  "[ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done; "
                  "kill -INT $r 2>/dev/null; wait $r; rc=$?; "
                  "cat /tmp/out.txt; exit $rc")


def _started_case(case_id: str, kver: str, script: str, then: str,
                  before: str = "", **expect) -> VmCase:
    module = "t_" + case_id.replace("/", "_").replace("-", "_")
    return VmCase(
        id=case_id, cwd=WORK,
        prebuild=[["stpc", "-e", script, "--emit-ko", "-m", module,
                   "-r", kver]],
        shell=_AFTER_STARTED.format(run=f"stpc {module}.ko --run",
                                    then=then, before=before),
        stderr="", **expect)


# libc's malloc in the fixture's processes only: ls, run first in the
# same run (no -c), mallocs too; the fixture's end stops the run
_LIB_MALLOC = f"""
global calls
probe begin {{ println("started") }}
probe process("@BIN@").library("libc.so.6").function("malloc") {{ calls++ }}
probe process("@BIN@").end {{ exit() }}
probe end {{ printf("malloc called %d times in %s\\n", calls, "uprobe_target") }}
"""


# uaddr() is the probed address (at a return: the caller's, where it
# returns to); usymname()/usymdata() find the fixture's functions.  The
# user backtraces walk count_up, main (by .eh_frame), then the libc
# frame that called main, shown in hex (libc is not probed: no symbols,
# no rules, the walk ends there, as SystemTap's without -d)
_USYMS = """
probe process("@BIN@").function("main") { println(usymname(0)) }
probe process("@BIN@").function("count_up") {
	printf("%s %s\\n", usymname(uaddr()), usymdata(uaddr() + 2))
	print_ubacktrace()
	print(sprint_ubacktrace())
	bt = ubacktrace()
	println(bt)
	print_ustack(bt)
	print(sprint_ustack(bt))
}
probe process("@BIN@").function("count_up").return {
	printf("back in %s\\n", usymname(uaddr()))
	print_ubacktrace()
}
"""


def _usyms_pattern(binary: str) -> str:
    """The output of _USYMS: addresses vary, the same address is the same
    group everywhere."""
    path = re.escape(binary)
    name = re.escape(os.path.basename(binary))
    hexa = "0x[0-9a-f]+"
    ustack = (rf" \2 : count_up\+0x0/\1 \[{path}\]\n"
              rf" \3 : main\+\4/\5 \[{path}\]\n \6 : \6\n")
    return (rf"0x0\ncount_up count_up\+0x2/({hexa}) \[{path}\]\n"
            rf" ({hexa}) : count_up\+0x0/\1 \[{path}\]\n"
            rf" ({hexa}) : main\+({hexa})/({hexa}) \[{path}\]\n"
            rf" ({hexa})\n"
            rf"count_up\+0x0 \[{name}\]\nmain\+\4 \[{name}\]\n\6\n"
            rf"\2 \3 \6 \n{ustack}{ustack}"
            rf"back in main\n \3 : main\+\4/\5 \[{path}\]\n \6\n")


def library_cases(kver: str) -> List[VmCase]:
    target = str(UPROBE_TARGET)
    case = _started_case("uprobes/library-malloc-program-only", kver,
                         _LIB_MALLOC.replace("@BIN@", target),
                         f"ls / > /dev/null; {target}",
                         stdout="started\nmalloc called 3 times in "
                                "uprobe_target\n")
    case.prebuild.insert(0, UPROBE_BUILD)
    # the program too is a guest-owned copy: its inode, compared with the
    # running task's executable, is a new one at each lookup on 9p
    case.shell = _LIBC_GUEST_OWNED.format(run=_bound_copy(
        target, "library_program").format(run=case.shell))
    usyms = _uprobe_ko_case("uprobes/uaddr-usymname-ubacktrace", kver,
                            _USYMS, target,
                            stdout_pattern=_usyms_pattern(target))
    return [case, usyms]


# process.thread.begin/.end: for the thread the program starts (in its
# own context), not for the main thread; both the program's and the bare
# forms, under -c
THREAD_TARGET = UPROBE_DIR / "thread_target"
_THREADS = """
probe process("@THR@").begin { printf("begin main=%d\\n", tid() == pid()) }
probe process("@THR@").thread.begin { printf("%s main=%d\\n", pp(), tid() == pid()) }
probe process.thread.begin { printf("thread begin %s\\n", execname()) }
probe process("@THR@").thread.end { printf("%s main=%d\\n", pp(), tid() == pid()) }
probe process.end { printf("end main=%d\\n", tid() == pid()) }
"""
_THREADS_OUT = """\
begin main=1
process("@THR@").thread.begin main=0
thread begin thread_target
process("@THR@").thread.end main=0
end main=1
"""


def _threads_case(kver: str) -> VmCase:
    binary = str(THREAD_TARGET)
    script = _THREADS.replace("@THR@", binary)
    return VmCase(
        id="uprobes/process-thread-begin-end", cwd=WORK,
        prebuild=[["gcc", "-O2", "-pthread", "-o", binary,
                   str(ROOT / "tests" / "thread_target.c")],
                  ["stpc", "-e", script, "--emit-ko", "-m", "t_threads",
                   "-r", kver]],
        shell=_bound_copy(binary, "thread_target").format(run=shlex.join(
            ["stpc", "t_threads.ko", "--run", "-c", binary])),
        stdout=_THREADS_OUT.replace("@THR@", binary), stderr="")


def process_cases(kver: str) -> List[VmCase]:
    UPROBE_DIR.mkdir(parents=True, exist_ok=True)
    target = str(UPROBE_TARGET)
    fork = _started_case(
        "uprobes/process-fork-exec", kver,
        _PROC_FORK.replace("@PROC@", str(PROC_TARGET)),
        str(PROC_TARGET),
        stdout=_PROC_FORK_OUT)
    fork.prebuild.insert(0, ["gcc", "-O2", "-o", str(PROC_TARGET),
                             str(ROOT / "tests" / "proc_target.c")])
    # a file of the 9p share gets a new inode at each lookup: the path
    # the module looks up and the one exec'd must be one guest-owned file
    fork.shell = _bound_copy(str(PROC_TARGET), "proc_target").format(
        run=fork.shell)
    return [
        _uprobe_ko_case("uprobes/process-begin-end-target", kver,
                        _PROC_TARGET, target, stdout=_PROC_TARGET_OUT.replace(
                            "@BIN@", target)),
        _started_case("uprobes/process-existing", kver, _PROC_WALK,
                      "kill $s", before="tail -f /dev/null & s=$!; ",
                      stdout='started\nprocess("/usr/bin/tail")'
                      '.begin tail\nprocess("/usr/bin/tail").end tail\n'),
        fork,
        _threads_case(kver),
    ]


def _other_build_id_case(kver: str) -> VmCase:
    """A module built for the fixture, run where another file is at its
    path: refused before anything is loaded."""
    target = str(UPROBE_TARGET)
    return _other_file_case(
        kver, "uprobes/other-build-id-refused", "t_uprobe_other", ["stpc"],
        re.escape(f"ERROR: {target} is not the file the probes were placed "
                  f"in: its build-id is {program_build_id('/bin/true')}, "
                  "expected ") + "[0-9a-f]{40}\n")


# the loader with its build-id check of probed programs left out, as if
# the file had changed after it looked: the module's own check refuses
_UNCHECKED_RUN = ("import sys; import stpc.loader.probed as probed; "
                  "probed.check_program = lambda path, build_id: None; "
                  "from stpc.compiler.cli import main; "
                  "sys.exit(main(sys.argv[1:]))")


def _other_build_id_module_case(kver: str) -> VmCase:
    """The same, where only the module looks: it arms nothing from the
    other file and the run ends before the -c command starts."""
    target = str(UPROBE_TARGET)
    return _other_file_case(
        kver, "uprobes/other-build-id-refused-by-module",
        "t_uprobe_unchecked", [sys.executable, "-c", _UNCHECKED_RUN],
        re.escape(f"ERROR: cannot arm probe process(\"{target}\")")
        + r"[^\n]*" + re.escape(
            f": {target} is not the file it was compiled for (its build-id "
            "differs)\n") + r"(.*\n)*")


def _other_file_case(kver: str, case_id: str, module: str,
                     loader: List[str], stderr_pattern: str) -> VmCase:
    """A module built for the fixture program, run by @loader where
    /bin/true was copied to the program's path."""
    target = str(UPROBE_TARGET)
    script = _UPROBE_TARGET_ONLY.replace("@BIN@", target)
    run = shlex.join([*loader, f"{module}.ko", "--run", "-c", target])
    return VmCase(
        id=case_id, cwd=WORK,
        prebuild=[UPROBE_BUILD,
                  ["stpc", "-e", script, "--emit-ko", "-m", module,
                   "-r", kver]],
        shell=_GUEST_OWNED.format(
            dir=UPROBE_DIR, run=f"cp /bin/true {target} && {run}"),
        rc=1, stdout="", stderr=None, stderr_pattern=stderr_pattern)


def _libc_case(case_id: str, kver: str, script: str, command: str,
               **expect) -> VmCase:
    case = _uprobe_case(case_id, kver, script, command, **expect)
    case.shell = _LIBC_GUEST_OWNED.format(run=case.shell)
    return case


# Debian's python3.11 has SDT marks with semaphores (it computes their
# arguments only when, say, PyDTrace_IMPORT_FIND_LOAD_START_ENABLED()):
# a real binary, whose import marks fire once each for a module the
# command imports (its function__entry does not fire for functions
# called from Python code in 3.11)
_PYTHON = "/usr/bin/python3.11"
_PYTHON_IMPORT = f"""
probe process("{_PYTHON}").mark("import-find-load-start") {{
	if (user_string($arg1) == "json")
		printf("%s %s\\n", pp(), user_string($arg1))
}}
probe process("{_PYTHON}").mark("import__find__load__done") {{
	if (user_string($arg1) == "json")
		printf("%s found=%d\\n", $$name, $arg2)
}}
"""


def _python_mark_case(kver: str) -> VmCase:
    case = _inline("uprobes/mark-python-import", kver, _PYTHON_IMPORT,
                   ["-c", f"{_PYTHON} -S -c 'import json'"],
                   stdout=f'process("{_PYTHON}").mark('
                          '"import__find__load__start") json\n'
                          "import__find__load__done found=1\n")
    case.shell = _bound_copy(_PYTHON, "python").format(run=case.shell)
    return case


# the syscall tapset's second part (syscalls_ids.stp, syscalls_files.stp,
# syscalls_more.stp): every alias of it once, from
# tests/syscall_workload2.c, between its umask() and its exit(); the
# calls that return the caller's pid (it leads its session and group
# from setsid() on) print pid(), time() "a time".  The mark is a
# function probe: syscall.umask would join syscalls.stp, whose
# syscall_string_trunc, read by no probe used, would print at the end.
def _syscalls_more_script() -> str:
    from test_tapset_syscalls_more import NO_RETURN, STAP_ENTRY
    entries = ", ".join(f"syscall.{name}" for name in STAP_ENTRY)
    returns = ", ".join(f"syscall.{name}.return" for name in STAP_ENTRY
                        if name not in NO_RETURN)
    return f"""
global on
probe kernel.function("__x64_sys_umask") {{ if (pid() == target()) on = 1 }}
probe {entries} {{
	if (on && pid() == target())
		printf("%s(%s)\\n", name, argstr)
}}
probe {returns} {{
	if (!on || pid() != target())
		next
	if (name == "time" || name == "times")
		ret = "a time"
	else if (retval == pid() && (name == "setsid" || name == "getpgid" ||
		 name == "getpgrp" || name == "getsid" ||
		 name == "set_tid_address"))
		ret = "pid()"
	else
		ret = retstr
	printf("%s = %s\\n", name, ret)
}}
"""


_SYSCALLS_MORE_OUT = """\
getuid()
getuid = 0
geteuid()
geteuid = 0
getgid()
getgid = 0
getegid()
getegid = 0
setuid(0)
setuid = 0
setgid(0)
setgid = 0
setreuid(-1, -1)
setreuid = 0
setregid(-1, -1)
setregid = 0
setresuid(-1, -1, -1)
setresuid = 0
setresgid(-1, -1, -1)
setresgid = 0
getresuid(0x20000800, 0x20000804, 0x20000808)
getresuid = 0
getresgid(0x20000800, 0x20000804, 0x20000808)
getresgid = 0
setgroups(0, 0x0)
setgroups = 0
getgroups(0, 0x0)
getgroups = 0
setfsuid(-1)
setfsuid = 0
setfsgid(-1)
setfsgid = 0
setsid()
setsid = pid()
setpgid(0, 0)
setpgid = -1 (EPERM)
getpgid(0)
getpgid = pid()
getpgrp()
getpgrp = pid()
getsid(0)
getsid = pid()
tgkill(1, 1, SIG_0)
tgkill = 0
tkill(1, SIG_0)
tkill = 0
set_tid_address(0x20002820)
set_tid_address = pid()
uname(0x20003000)
uname = 0
personality(0xffffffff)
personality = 0
getcpu(0x20004000, 0x20004004, 0x0)
getcpu = 0
getpriority(PRIO_PROCESS, 0)
getpriority = 20
setpriority(PRIO_PROCESS, 0, 0)
setpriority = 0
sched_getaffinity(0, 128, 0x20004000)
sched_getaffinity = 8
sched_setaffinity(0, 8, 0x20004000)
sched_setaffinity = 0
sched_getparam(0, 0x20000c00)
sched_getparam = 0
sched_setparam(0, 0x20000c00)
sched_setparam = 0
sched_getscheduler(0)
sched_getscheduler = 0
sched_setscheduler(0, SCHED_OTHER, 0x20000c00)
sched_setscheduler = 0
sched_get_priority_max(SCHED_FIFO)
sched_get_priority_max = 99
sched_get_priority_min(SCHED_FIFO)
sched_get_priority_min = 1
getrlimit(RLIMIT_NOFILE, 0x20002000)
getrlimit = 0
getrusage(RUSAGE_SELF, 0x20002000)
getrusage = 0
capget(0x20000900, 0x20000910)
capget = 0
capset(0x20000900, 0x20000910)
capset = 0
creat("/tmp/stpc-sc2/f", 0644)
creat = 3
fchmod(3, 0600)
fchmod = 0
fchown(3, 0, 0)
fchown = 0
chmod("/tmp/stpc-sc2/f", 0640)
chmod = 0
chown("/tmp/stpc-sc2/f", -1, -1)
chown = 0
lchown("/tmp/stpc-sc2/f", 0, 0)
lchown = 0
fchmodat(AT_FDCWD, "/tmp/stpc-sc2/f", 0644)
fchmodat = 0
fchownat(AT_FDCWD, "/tmp/stpc-sc2/f", 0, 0, AT_SYMLINK_NOFOLLOW)
fchownat = 0
truncate("/tmp/stpc-sc2/f", 3)
truncate = 0
fdatasync(3)
fdatasync = 0
syncfs(3)
syncfs = 0
sync()
sync = 0
flock(3, LOCK_EX|LOCK_NB)
flock = 0
link("/tmp/stpc-sc2/f", "/tmp/stpc-sc2/l")
link = 0
linkat(AT_FDCWD, "/tmp/stpc-sc2/l", AT_FDCWD, "/tmp/stpc-sc2/l2", 0x0)
linkat = 0
symlink("/tmp/stpc-sc2/f", "/tmp/stpc-sc2/s")
symlink = 0
symlinkat("/tmp/stpc-sc2/f", AT_FDCWD, "/tmp/stpc-sc2/s2")
symlinkat = 0
readlink("/tmp/stpc-sc2/s", 0x20001000, 64)
readlink = 15
readlinkat(AT_FDCWD, "/tmp/stpc-sc2/s2", 0x20001000, 64)
readlinkat = 15
renameat(AT_FDCWD, "/tmp/stpc-sc2/l2", AT_FDCWD, "/tmp/stpc-sc2/r")
renameat = 0
statfs("/tmp/stpc-sc2", 0x20002000)
statfs = 0
fstatfs(3, 0x20002000)
fstatfs = 0
getdents(3, 0x20002000, 4096)
getdents = -20 (ENOTDIR)
chroot("/")
chroot = 0
sendfile(6, 4, 0x20000b90, 3)
sendfile = 3
tee(5, 8, 3, 0x0)
tee = 3
splice(5, 0x0, 8, 0x0, 3, SPLICE_F_NONBLOCK)
splice = 3
copy_file_range(4, 0x20000b80, 4, 0x20000b88, 3, 0x0)
copy_file_range = 3
preadv(4, 0x20000b40, 1, 0x0)
preadv = 3
pwritev(4, 0x20000b40, 1, 0x10)
pwritev = 3
poll(0x20000c40, 0, 0)
poll = 0
ppoll(0x20000c40, 0, [0.000000000], 0x0, 8)
ppoll = 0
pselect6(0, 0x0, 0x0, 0x0, [0.000000000], 0x0)
pselect6 = 0
epoll_create(0)
epoll_create = 9
epoll_ctl(9, EPOLL_CTL_ADD, 5, 0x20000a00)
epoll_ctl = 0
epoll_wait(9, 0x20000a40, 4, 0)
epoll_wait = 0
epoll_pwait(9, 0x20000a40, 4, 0, 0x0, 8)
epoll_pwait = 0
madvise(0x20000000, 4096, MADV_WILLNEED)
madvise = 0
mremap(0x20008000, 4096, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, 0x20010000)
mremap = 0x20010000
msync(0x20000000, 4096, MS_ASYNC)
msync = 0
mincore(0x20000000, 4096, 0x20004000)
mincore = 0
mlock(0x20000000, 4096)
mlock = 0
munlock(0x20000000, 4096)
munlock = 0
mlockall(MCL_FUTURE)
mlockall = 0
munlockall()
munlockall = 0
alarm(1)
alarm = 0
pause()
pause = -514
getitimer(ITIMER_REAL, 0x20002000)
getitimer = 0
clock_gettime(CLOCK_MONOTONIC, 0x20002000)
clock_gettime = 0
clock_getres(CLOCK_REALTIME, 0x20002000)
clock_getres = 0
gettimeofday(0x20002000, 0x0)
gettimeofday = 0
time(0x0)
time = a time
timerfd_create(CLOCK_MONOTONIC, 0x0)
timerfd_create = 10
timerfd_gettime(10, 0x20002000)
timerfd_gettime = 0
inotify_init1(0x0)
inotify_init1 = 11
inotify_rm_watch(11, 1)
inotify_rm_watch = -22 (EINVAL)
memfd_create("stpc", MFD_CLOEXEC)
memfd_create = 12
getrandom("rand", 8, 0x4)
getrandom = 8
rt_sigpending(0x20002000, 8)
rt_sigpending = 0
set_robust_list(0x20005000, 24)
set_robust_list = 0
get_robust_list(0, 0x20002000, 0x20002008)
get_robust_list = 0
rt_sigaction(SIGUSR1, {0x20000000, SA_RESTART|SA_RESTORER, 0x20000010, \
[SIGINT|SIGPIPE|SIGUSR2]}, 0x20002000, 8)
rt_sigaction = 0
rt_sigaction(SIGUSR2, {SIG_IGN}, 0x0, 8)
rt_sigaction = 0
rt_sigprocmask(SIG_BLOCK, [SIGUSR1], 0x20002000, 8)
rt_sigprocmask = 0
rt_sigprocmask(SIG_SETMASK, NULL, 0x20002000, 8)
rt_sigprocmask = 0
sigaltstack({ss_sp=0x20006000, ss_flags=0x0, ss_size=65536}, 0x20002000)
sigaltstack = 0
select(0, 0x0, 0x0, 0x0, [0.000000])
select = 0
setitimer(ITIMER_VIRTUAL, [1.000500,0.000000], 0x20002000)
setitimer = 0
setrlimit(RLIMIT_CORE, [0,0])
setrlimit = 0
prlimit64(0, RLIMIT_CORE, [0,0], 0x20002000)
prlimit64 = 0
prlimit64(0, RLIMIT_NOFILE, NULL, 0x20002000)
prlimit64 = 0
times({tms_utime=0, tms_stime=0, tms_cutime=0, tms_cstime=0})
times = a time
sysinfo({uptime=0, loads=[0, 0, 0], totalram=0, freeram=0, sharedram=0, \
bufferram=0, totalswap=0, freeswap=0, procs=0})
sysinfo = 0
mknod("/tmp/stpc-sc2/p", S_IFIFO|0644, 0)
mknod = 0
mknodat(AT_FDCWD, "/tmp/stpc-sc2/n", S_IFREG|0600, 0)
mknodat = 0
utimensat(AT_FDCWD, "/tmp/stpc-sc2/f", [1.000000500][UTIME_OMIT], \
AT_SYMLINK_NOFOLLOW)
utimensat = 0
fallocate(4, FALLOC_FL_KEEP_SIZE, 0x1000, 4096)
fallocate = 0
fadvise64(4, 0, 4096, POSIX_FADV_SEQUENTIAL)
fadvise64 = 0
waitid(P_ALL, 0, 0x20002000, WNOHANG|WEXITED, 0x0)
waitid = -10 (ECHILD)
inotify_add_watch(11, "/tmp/stpc-sc2", IN_CREATE|IN_DELETE)
inotify_add_watch = 1
inotify_init()
inotify_init = 13
eventfd(3)
eventfd = 14
eventfd2(0, EFD_NONBLOCK|EFD_CLOEXEC)
eventfd2 = 15
epoll_create1(EPOLL_CLOEXEC)
epoll_create1 = 16
signalfd(-1, 0x20005180, 8)
signalfd = 17
signalfd4(-1, 0x20005180, 8, SFD_CLOEXEC)
signalfd4 = 18
timerfd_settime(10, 0x0, [1.000500,100.000000], 0x20002000)
timerfd_settime = 0
membarrier(MEMBARRIER_CMD_QUERY, 1)
membarrier = -22 (EINVAL)
unshare(CLONE_FILES|CLONE_SYSVSEM)
unshare = 0
setns(-1, CLONE_NEWNET)
setns = -9 (EBADF)
settimeofday([5.2000000], [-60, 0])
settimeofday = -22 (EINVAL)
sync_file_range(4, 0, 4096, SYNC_FILE_RANGE_WRITE)
sync_file_range = 0
readahead(4, 0, 4096)
readahead = 0
utimes("/tmp/stpc-sc2/f", [1.000500][2.000000])
utimes = 0
futimesat(AT_FDCWD, "/tmp/stpc-sc2/f", NULL)
futimesat = 0
prctl(PR_GET_KEEPCAPS)
prctl = 0
prctl(PR_GET_NAME, 0x20002000)
prctl = 0
prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN)
prctl = 1
prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY)
prctl = 0
prctl(0x7fff, 0x1, 0x2, 0x3, 0x4)
prctl = -22 (EINVAL)
futex(0x20005840, FUTEX_WAKE, 1)
futex = 0
futex(0x20005840, FUTEX_WAIT, 1, [0.000000000])
futex = -11 (EAGAIN)
futex(0x20005840, FUTEX_WAKE_OP, 1, 0, 0x20005844, \
{FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0})
futex = 0
futex(0x20005840, FUTEX_WAKE_PRIVATE, 1)
futex = 0
rt_sigqueueinfo(0, SIGUSR1, {si_signo=SIGUSR1, si_code=SI_QUEUE, si_pid=0, \
si_uid=0})
rt_sigqueueinfo = -3 (ESRCH)
rt_sigtimedwait([SIGUSR1], {si_signo=SIGUSR1, si_code=SI_QUEUE, si_pid=0, \
si_uid=0}, [0.000000000], 8)
rt_sigtimedwait = -11 (EAGAIN)
alarm(1)
alarm = 0
rt_sigsuspend([EMPTY], 8)
rt_sigsuspend = -514
mount("/", "/tmp/stpc-sc2/m", "stpcfs", MS_NOSUID|MS_NODEV, "size=1m")
mount = -2 (ENOENT)
umount("/tmp/stpc-sc2", MNT_DETACH)
umount = -22 (EINVAL)
exit(0)
"""


# the helpers of aux_syscalls_more.stp, as stap's format
_SYSCALL_MORE_HELPERS = r"""probe begin {
	println(_sched_policy_str(0x40000001), " ", _sched_policy_str(4), " ",
		_sched_policy_str(-1), " ", _priority_which_str(2), " ",
		_itimer_which_str(3))
	println(_rlimit_resource_str(-1), " ", _rlimit_resource_str(7), " ",
		_rlimit_resource_str(17), " ", _rusage_who_str(-1), " ",
		_rusage_who_str(-2), " ", _rusage_who_str(5))
	println(_flock_cmd_str(0xc0), " ", _flock_cmd_str(0), " ",
		_flock_cmd_str(0x108), " ", _stp_splice_flags_str(0xf))
	println(_madvice_advice_str(100), " ", _madvice_advice_str(7), " ",
		_mremap_flags(4), " ", _msync_flag_str(6), " ",
		_mlockall_flags_str(7))
	println(_opoll_op_str(2), " ", _mfd_flags_str(0x80003), " ",
		_getrandom_flags_str(4))
	println(_sigprocmask_how_str(-1), " ", _stpc_sigset_str(0x1800), " ",
		_stpc_sigset_str(1 << 40), " ", _stp_sigset_u(0), " ",
		_stp_sigaltstack_u(0), " ", _struct_rlimit_u(1))
	println(_mknod_mode_str(0x21b6), " ", _mknod_mode_str(0xa1ff), " ",
		_mknod_mode_str(0), " ", _stp_fallocate_mode_str(0x23), " ",
		_fadvice_advice_str(6), " ", _waitid_which_str(3), " ",
		_inotify_watch_mask_str(0x80001000), " ",
		_eventfd2_flag_str(0x80801))
	println(_struct_timeval_u(1, 2), " ", _struct_timeval_u(1, 3), " ",
		_struct_timezone_u(0), " ", _struct_timezone_u(1), " ",
		_struct_itimerspec_u(0), " ", _struct_itimerspec_u(1), " ",
		_stp_timerfd_flags_str(0x80803))
	println(_epoll_create1_flag_str(0x80001), " ",
		_signalfd4_flags_str(0), " ", _sync_file_range_flags_str(7), " ",
		_membarrier_cmd_str(-1), " ", _membarrier_cmd_str(1))
	println(_mountflags_str(0xc0ed0000), " ", _mountflags_str(0), " ",
		_umountflags_str(0x1f))
	println(_prctl_argstr(0x59616d61, -1, 0, 0, 0), " ",
		_prctl_argstr(0x59616d61, 5, 0, 0, 0), " ",
		_prctl_argstr(28, 0x43, 0, 0, 0))
	println(_prctl_argstr(33, 2, 5, 0, 0), " ",
		_prctl_argstr(33, 0, 9, 0, 0), " ",
		_prctl_argstr(22, 2, 0x10, 0, 0), " ",
		_prctl_argstr(35, 99, 1, 0, 0))
	println(_prctl_argstr(12, 0x80, 0, 0, 0), " ",
		_prctl_argstr(4, -1, 0, 0, 0), " ",
		_prctl_argstr(-1, 0, 0, 0, 0), " ",
		_prctl_argstr(24, 40, 0, 0, 0))
	println(_futex_wake_op_str(0x9a801fff), " ",
		_futex_wake_op_str(0x7f000000), " ", _futex_op_str(0x181))
	println(_stpc_futex_argstr(0x10, 4, 1, -1, 0x20, -5), " ",
		_stpc_futex_argstr(0x10, 3, 1, -1, 0, 0), " ",
		_stpc_futex_argstr(0x10, 10, 1, 0, 0, 0xff))
	println(_stp_siginfo_u(0), " ", _stp_siginfo_u(1))
	println(_sockopt_optname_str(9), " ", _sockopt_optname_str(36), " ",
		_sockopt_optname_str(67), " ", _sockopt_optname_str(68))
	exit()
}"""
_SYSCALL_MORE_HELPERS_OUT = """\
SCHED_RESET_ON_FORK|SCHED_FIFO 0x4 0xffffffff PRIO_USER 0x3
RLIM_INFINITY RLIMIT_NOFILE 0x11 RUSAGE_CHILDREN RUSAGE_BOTH 0x5
LOCK_READ|LOCK_WRITE 0x0 LOCK_UN|0x100 \
SPLICE_F_MOVE|SPLICE_F_NONBLOCK|SPLICE_F_MORE|SPLICE_F_GIFT
MADV_HWPOISON 0x7 0x4 MS_INVALIDATE|MS_SYNC MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT
EPOLL_CTL_DEL MFD_CLOEXEC|MFD_ALLOW_SEALING|O_CLOEXEC 0x4
0xffffffffffffffff [SIGPIPE|SIGUSR2] [EMPTY] NULL 0x0 0x1
S_IFCHR|0666 0120777 00 FALLOC_FL_KEEP_SIZE|FALLOC_FL_PUNCH_HOLE|0x20 0x6 0x3 \
IN_ONESHOT|0x1000 EFD_NONBLOCK|EFD_CLOEXEC|EFD_SEMAPHORE
0x1 NULL NULL 0x1 NULL 0x1 \
TFD_TIMER_ABSTIME|TFD_TIMER_CANCEL_ON_SET|TFD_CLOEXEC|TFD_NONBLOCK
EPOLL_CLOEXEC|0x1 0x0 \
SYNC_FILE_RANGE_WAIT_BEFORE|SYNC_FILE_RANGE_WRITE|SYNC_FILE_RANGE_WAIT_AFTER \
0xffffffff MEMBARRIER_CMD_SHARED
MS_POSIXACL|MS_PRIVATE|MS_SLAVE|MS_RELATIME|MS_KERNMOUNT|MS_I_VERSION|0xc0000000 \
0x0 MNT_FORCE|MNT_DETACH|MNT_EXPIRE|UMOUNT_NOFOLLOW|0x10
PR_SET_PTRACER, PR_SET_PTRACER_ANY PR_SET_PTRACER, 5 \
PR_SET_SECUREBITS, SECBIT_NOROOT|SECBIT_NOROOT_LOCKED|0x40
PR_MCE_KILL, 0x2, 0x5 PR_MCE_KILL, PR_MCE_KILL_CLEAR \
PR_SET_SECCOMP, SECCOMP_MODE_FILTER, 0x10 PR_SET_MM, 0x63, 0x1
PR_SET_FPEXC, PR_FP_EXC_SW_ENABLE PR_SET_DUMPABLE, 18446744073709551615 \
0xffffffff, 0x0, 0x0, 0x0, 0x0 PR_CAPBSET_DROP, 0x28
{FUTEX_OP_OPARG_SHIFT|FUTEX_OP_ADD, -2047, 0xa, -1} {0x7, 0, 0xf, 0} 0x181
0x10, FUTEX_CMP_REQUEUE, 1, 18446744073709551615, 0x20, -5 \
0x10, FUTEX_REQUEUE, 1, -1, 0x0 0x10, FUTEX_WAKE_BITSET, 1, 0xff
NULL 0x1
SO_KEEPALIVE SO_MARK SO_SNDTIMEO_NEW 0x44
"""


def syscall_more_cases(kver: str) -> List[VmCase]:
    """The syscall tapset's second part: each alias's name, argstr and
    retstr under a -c command that makes every one of them."""
    workload = WORK / "syscall_workload2"
    # Every syscall of the guest runs each tracepoint alias's handler
    # (53 entries, 53 returns): under TCG that passed STP_OVERLOAD's 50%
    # at times, which this case (formatting) does not check.
    case = _inline("tapset/syscalls-more", kver, _syscalls_more_script(),
                   ["-c", str(workload)], defines=["-DSTP_NO_OVERLOAD"],
                   stdout=_SYSCALLS_MORE_OUT,
                   stderr=None, stderr_pattern=_MAYBE_SKIPPED)
    case.prebuild.insert(0, ["gcc", "-O1", "-o", str(workload),
                             str(ROOT / "tests" / "syscall_workload2.c")])
    return [case, _inline("tapset/syscall-more-helpers", kver,
                          _SYSCALL_MORE_HELPERS,
                          stdout=_SYSCALL_MORE_HELPERS_OUT)]


def _each_call_printed(calls, argstr: str = "argstr") -> str:
    """Probes that print each of @calls the -c command makes once it has
    called umask(), as name(@argstr) and name = retstr; the script
    declares `global on`."""
    entries = ", ".join(f"syscall.{name}" for name in calls)
    returns = ", ".join(f"syscall.{name}.return" for name in calls)
    return f"""\
probe kernel.function("__x64_sys_umask") {{ if (pid() == target()) on = 1 }}
probe {entries} {{
	if (on && pid() == target())
		printf("%s(%s)\\n", name, {argstr})
}}
probe {returns} {{
	if (on && pid() == target())
		printf("%s = %s\\n", name, retstr)
}}
"""


def _syscalls_ipc_script() -> str:
    """The helpers' edge cases at begin, then each call of the workload's
    (tests/syscall_workload3.c) as name(argstr) and name = retstr."""
    from test_tapset_syscalls_ipc import STAP_ENTRY
    return f"""
global on
probe begin {{
	println(_stp_xattr_flags_str(3), " ", _stp_xattr_flags_str(4), " ",
		_stp_msgget_key_str(-1), " ", __sem_flags(0), "|",
		__sem_flags(0x11ff), " ", __sem_flags(0x600))
	println(_stp_shmget_flags_str(0x1a4), " ",
		_stp_shmget_flags_str(0x1800), " ",
		_stp_shmget_flags_str(0x10000), " ", _stp_msgflg_str(0), " ",
		_stp_msgflg_str(0x7800))
	println(_shmat_flags_str(0xe000), " ", _shmat_flags_str(0x10000), " ",
		_stp_msgctl_cmd_str(0x10c), " ", _stp_msgctl_cmd_str(0x10d), " ",
		_semctl_cmd(20), " ", _semctl_cmd(0x113))
	println(_struct_itimerspec_u(0))
}}
""" + _each_call_printed(STAP_ENTRY)


_SYSCALLS_IPC_OUT = """\
XATTR_CREATE|XATTR_REPLACE 0x4 -1 |0x1000|0777 IPC_CREAT|IPC_EXCL
0x0|0644 SHM_HUGETLB|SHM_NORESERVE 0x10000 0x0 \
MSG_NOERROR|MSG_EXCEPT|IPC_NOWAIT|0x4000
SHM_RND|SHM_REMAP|SHM_EXEC 0x10000 IPC_64|MSG_INFO IPC_64|0xd 0x14 \
IPC_64|SEM_INFO
NULL
setxattr("/tmp/stpc-sc3/f", "trusted.stpc", "ab", 3, XATTR_CREATE)
setxattr = 0
lsetxattr("/tmp/stpc-sc3/f", "trusted.b", 0x20000380, 0, XATTR_REPLACE)
lsetxattr = -61 (ENODATA)
fsetxattr(3, "trusted.b", "\\x01z"", 3, 0x0)
fsetxattr = 0
getxattr("/tmp/stpc-sc3/f", "trusted.stpc", 0x20001000, 64)
getxattr = 3
lgetxattr("/tmp/stpc-sc3/f", "trusted.b", 0x20001000, 64)
lgetxattr = 3
fgetxattr(3, "trusted.stpc", 0x0, 0)
fgetxattr = 3
listxattr("/tmp/stpc-sc3/f", 0x20001000, 64)
listxattr = 23
llistxattr("/tmp/stpc-sc3/f", 0x0, 0)
llistxattr = 23
flistxattr(3, 0x20001000, 1)
flistxattr = -34 (ERANGE)
removexattr("/tmp/stpc-sc3/f", "trusted.stpc")
removexattr = 0
lremovexattr("/tmp/stpc-sc3/f", "trusted.stpc")
lremovexattr = -61 (ENODATA)
fremovexattr(3, "trusted.b")
fremovexattr = 0
msgget(IPC_PRIVATE, IPC_CREAT|0600)
msgget = 0
msgsnd(0, 0x20000400, 3, IPC_NOWAIT)
msgsnd = 0
msgrcv(0, 0x20000480, 16, 1, MSG_NOERROR|IPC_NOWAIT)
msgrcv = 3
msgctl(0, IPC_RMID, 0x0)
msgctl = 0
semget(IPC_PRIVATE, 1, IPC_CREAT|IPC_EXCL|0600)
semget = 0
semop(0, 0x20000500, 1)
semop = 0
semtimedop(0, 0x20000540, 1, [0.000000500])
semtimedop = 0
semctl(0, 0, GETVAL, 0x0)
semctl = 0
semctl(0, 0, IPC_64|IPC_STAT, 0x20000600)
semctl = -22 (EINVAL)
semctl(0, 0, IPC_RMID, 0x0)
semctl = 0
shmget(0, 4096, IPC_CREAT|0600)
shmget = 0
shmat(0, 0x20010000, SHM_RDONLY)
shmat = 536936448
shmdt(0x20010000)
shmdt = 0
shmctl(0, IPC_RMID, 0x0)
shmctl = 0
timer_create(CLOCK_MONOTONIC, 0x0, 0x20000700)
timer_create = 0
timer_settime(0, 0, [1.000500,100.000000], 0x20001000)
timer_settime = 0
timer_gettime(0, 0x20001000)
timer_gettime = 0
timer_getoverrun(0)
timer_getoverrun = 0
timer_delete(0)
timer_delete = 0
"""


def syscall_ipc_cases(kver: str) -> List[VmCase]:
    """The syscall tapset's extended attribute, SysV IPC and POSIX timer
    calls: the helpers' edge cases, then each alias's name, argstr and
    retstr under a -c command that makes every one of them.  The IPC and
    timer aliases are tracepoint handlers run on every syscall of the guest (as in
    syscall_more_cases: no STP_OVERLOAD)."""
    workload = WORK / "syscall_workload3"
    case = _inline("tapset/syscalls-ipc", kver, _syscalls_ipc_script(),
                   ["-c", str(workload)], defines=["-DSTP_NO_OVERLOAD"],
                   stdout=_SYSCALLS_IPC_OUT,
                   stderr=None, stderr_pattern=_MAYBE_SKIPPED)
    case.prebuild.insert(0, ["gcc", "-O1", "-o", str(workload),
                             str(ROOT / "tests" / "syscall_workload3.c")])
    return [case]


# The syscall cases' script function that prints the arguments leading
# an argstr that are value as mask (a number that differs from run to
# run: the workload's process id)
_LEADING_AS = """
function leading_as:string (args:string, value:long, mask:string) {
	number = sprint(value)
	shown = ""
	while (value && (args == number ||
			 substr(args, 0, strlen(number) + 2) == number . ", ")) {
		shown .= mask
		args = substr(args, strlen(number), strlen(args))
		if (args != "") {
			shown .= ", "
			args = substr(args, 2, strlen(args))
		}
	}
	return shown . args
}
"""


def _syscalls_mq_aio_script() -> str:
    """The helpers' edge cases at begin, then each call of the workload's
    (tests/syscall_workload4.c) as name(argstr) and name = retstr.  The
    workload's process id prints as PID when it leads an argstr; the AIO
    context, which differs from run to run too, is matched by the case's
    pattern.  No probe here writes a global: the tapset's tracepoint
    aliases run on every system call of the guest, and a writer would
    take its lock on each (under single-threaded TCG a reader on the
    other vCPU then waits a whole time slice and its probe is skipped)."""
    from test_tapset_syscalls_mq import STAP_ENTRY
    return f"""
global on
{_LEADING_AS}probe begin {{
	println(_stp_ioprio_which_str(1), " ", _stp_ioprio_which_str(0), " ",
		_stp_ioprio_which_str(-1), " ", _stp_ioprio_value_str(0x6007),
		" ", _stp_ioprio_value_str(0), " ", _stp_ioprio_value_str(-1))
	println(_kcmp_type_str(7), " ", _kcmp_type_str(8), " ",
		_kcmp_type_str(6), " ", _stp_mlock2_str(0), " ",
		_stp_mlock2_str(3))
	println(_pkey_alloc_init_val_str(3), " ", _pkey_alloc_init_val_str(4),
		" ", _preadv2_flags_str(3), " ", _preadv2_flags_str(0))
	println(_struct_sched_attr_u(0), " ", _struct_sched_attr_u(1))
}}
""" + _each_call_printed(STAP_ENTRY, 'leading_as(argstr, target(), "PID")')


def _sched_attr_str(size: int, nice: int) -> str:
    """_struct_sched_attr_u of a struct sched_attr with only its size and
    nice value set."""
    return f"{{size={size}, sched_policy=0, sched_flags=0, " \
        f"sched_nice={nice}, sched_priority=0, sched_runtime=0, " \
        "sched_deadline=0, sched_period=0}"


_SYSCALLS_MQ_AIO_OUT = """\
IOPRIO_WHO_PROCESS 0 -1 IOPRIO_CLASS_IDLE|7 IOPRIO_CLASS_NONE|0 0x7|8191
0x7 KCMP_TYPES KCMP_SYSVSEM 0x0 MLOCK_ONFAULT|0x2
PKEY_DISABLE_ACCESS|PKEY_DISABLE_WRITE 0x4 RWF_HIPRI|0x2 0x0
NULL 0x1
mq_open("stpc-mq", O_RDWR|O_CREAT, 0600, 0x20000240)
mq_open = 8
mq_open("stpc-mq", O_RDONLY)
mq_open = 9
mq_timedsend(8, 0x20000300, 3, 7, 0x20000380)
mq_timedsend = 0
mq_timedreceive(9, 0x20000340, 16, 0x20000360, 0x0)
mq_timedreceive = 3
mq_notify(8, 0x0)
mq_notify = 0
mq_getsetattr(8, 0x0, 0x20000280)
mq_getsetattr = 0
mq_unlink("stpc-mq")
mq_unlink = 0
mq_unlink("stpc-mq")
mq_unlink = -2 (ENOENT)
io_setup(4, 0x20000400)
io_setup = 0
io_submit(CTX, 1, 0x20000480)
io_submit = 1
io_getevents(CTX, 1, 4, 0x200004c0, [1.000000000])
io_getevents = 1
io_cancel(CTX, 0x20000440, 0x20000580)
io_cancel = -22 (EINVAL)
io_destroy(CTX)
io_destroy = 0
ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_CLASS_BE|4)
ioprio_set = 0
ioprio_get(IOPRIO_WHO_PROCESS, 0)
ioprio_get = 16388
kcmp(PID, PID, KCMP_FILE, 3, 3)
kcmp = 0
kcmp(PID, PID, KCMP_VM, 0, 0)
kcmp = 0
process_vm_writev(PID, 0x20000700, 1, 0x20000710, 1, 0)
process_vm_writev = 3
process_vm_readv(PID, 0x20000700, 1, 0x20000710, 1, 0)
process_vm_readv = 3
sched_setattr(0, """ + _sched_attr_str(48, -2) + """, 0)
sched_setattr = 0
sched_getattr(0, """ + _sched_attr_str(0, 0) + """, 56, 0)
sched_getattr = 0
sched_rr_get_interval(0, 0x20000680)
sched_rr_get_interval = 0
mlock2(0x20002000, 4096, MLOCK_ONFAULT)
mlock2 = 0
pkey_alloc(0, PKEY_DISABLE_WRITE)
pkey_alloc = 1
pkey_mprotect(0x20003000, 4096, PROT_READ|PROT_WRITE, 1)
pkey_mprotect = 0
pkey_free(1)
pkey_free = 0
pwritev2(3, 0x20000740, 1, 0x10, 0x2)
pwritev2 = 3
preadv2(3, 0x20000740, 1, 0x0, RWF_HIPRI)
preadv2 = 3
vmsplice(5, 0x20000740, 1, SPLICE_F_NONBLOCK)
vmsplice = 3
sendmmsg(6, 0x20000800, 1, MSG_DONTWAIT)
sendmmsg = 1
recvmmsg(7, 0x20000900, 1, MSG_DONTWAIT, [1.000000500])
recvmmsg = 1
"""


def _same_number_as(name: str, text: str) -> str:
    """A pattern matching @text with the same decimal number, whatever it
    is, at each of @name's places."""
    first, *rest = [re.escape(part) for part in text.split(name)]
    places = ["(?P<number>\\d+)"] + ["(?P=number)"] * (len(rest) - 1)
    return first + "".join(place + part for place, part in zip(places, rest))


def syscall_mq_aio_cases(kver: str) -> List[VmCase]:
    """The syscall tapset's POSIX message queue, AIO, process, memory and
    I/O calls: the helpers' edge cases, then each alias's name, argstr
    and retstr under a -c command that makes every one of them.  Most
    are tracepoint handlers run on every syscall of the guest (as in
    syscall_more_cases: no STP_OVERLOAD)."""
    workload = WORK / "syscall_workload4"
    case = _inline("tapset/syscalls-mq-aio", kver, _syscalls_mq_aio_script(),
                   ["-c", str(workload)], defines=["-DSTP_NO_OVERLOAD"],
                   stdout=None, stdout_pattern=_same_number_as(
                       "CTX", _SYSCALLS_MQ_AIO_OUT),
                   stderr=None, stderr_pattern=_MAYBE_SKIPPED)
    case.prebuild.insert(0, ["gcc", "-O1", "-o", str(workload),
                             str(ROOT / "tests" / "syscall_workload4.c")])
    return [case]


def _syscalls_admin_script() -> str:
    """The helpers' edge cases at begin, then each call of the workload's
    (tests/syscall_workload5.c) as name(argstr) and name = retstr, and
    wait4's return with its status_str; the workload's process id prints
    as PID where it leads an argstr."""
    from test_tapset_syscalls_admin import STAP_ENTRY
    return f"""
global on
{_LEADING_AS}
probe begin {{
	println(_stp_keyctl_perm_str(0), " ",
		_stp_keyctl_perm_str(0xc1020304), " ",
		_stp_keyctl_cmd_str(-5), " ",
		_stp_keyctl_keyring_shortcut_str(5), " ",
		_stp_keyctl_default_keyrings_str(7))
	println(_fanotify_init_flags_str(0x107), " ",
		_fanotify_init_flags_str(0xc), " ",
		_fanotify_mark_mask_str(0x100000000), " ",
		_faccessat2_flags_str(0x300), " ",
		_userfaultfd_flags_str(0))
	println(_mempolicy_mode_str(0xc002), " ", _mempolicy_mode_str(-1), " ",
		_mempolicy_mode_str(0x2005), " ", _mempolicy_flags_str(0))
	println(_swapon_flags_str(0x8000), " ", _swapon_flags_str(0), " ",
		_swapon_flags_str(0x80001), " ", _adjtimex_return_str(1), " ",
		_adjtimex_return_str(7), " ", _struct_timex_u(0))
	println(_kexec_flags_str(0), " ", _reboot_flag_str(0), " ",
		_reboot_magic_str(1), " ", _bpf_cmd_str(-1), " ",
		_seccomp_flags_str(3), " ", _module_flags_str(0), " ",
		_finit_module_flags_str(4), " ",
		_perf_event_open_flags_str(0x18))
	println(_quotactl_cmd_str(0x12345603), " ",
		_quotactl_quota_type_str(9), " ", _struct_dqinfo_u(0), " ",
		__ptrace_request_str(-1), " ", _ptrace_options_str(0x100), " ",
		_stp_elf_notes_str(0x502), " ", _stp_struct_iovec_u(0), " ",
		_arch_ptrace_prctl_str(0))
	println(_stp_arch_prctl_func_str(0x100001002), " ",
		_stp_arch_prctl_func_str(-1), " ", _struct_user_desc_u(0))
	println(_wait_status_str(0x300), ", ", _wait_status_str(0x10009), ", ",
		_wait_status_str(0x8b), ", ", _wait_status_str(0x1137f), ", ",
		_wait_status_str(0x3057f), ", ", _wait_status_str(0xffff), ", ",
		_wait_status_str(-1))
	println(ctime(-2147483648), ", ", ctime(2147483647), ", ", ctime(-1))
	try {{
		println(ctime(2147483648))
	}} catch (message) {{
		println(message)
	}}
}}
probe syscall.wait4.return {{
	if (on && pid() == target())
		printf("wait4 = %s %s\\n", retval > 0 ? "a pid" : retstr,
		       status_str)
}}
""" + _each_call_printed(STAP_ENTRY, 'leading_as(argstr, target(), "PID")')


#: the fields of a zeroed struct timex, as _struct_timex_u prints them
#: after its modes
_TIMEX_ZERO = "constant=0, esterror=0, freq=0, maxerror=0, offset=0, " \
    "precision=0, status=0, tick=0, tolerance=0}"


#: the workload's struct user_desc (TLS entry 1, which is none), as
#: set_thread_area and get_thread_area print it; both calls are
#: sys_ni_syscall for x86-64's 64-bit tasks
_USER_DESC = "{entry_number=1, base_addr=4096, limit=1048575, " \
    "seg_32bit=1, contents=2, read_exec_only=0, limit_in_pages=1, " \
    "seg_not_present=0, useable=1, lm=0}"


def _memfd_secret_return(kver: str) -> str:
    """memfd_secret's retstr for flags it does not know: ENOSYS on 6.1,
    where secretmem waits for secretmem.enable=1; EINVAL from 6.5 on, where
    it is on unless disabled."""
    if kver.startswith("6.1."):
        return "memfd_secret = -38 (ENOSYS)"
    return "memfd_secret = -22 (EINVAL)"


def _syscalls_admin_out(kver: str) -> str:
    """The case's output: the helpers' edge cases, then each call with its
    return, in the workload's order."""
    return """\
0 KEY_POS_VIEW|KEY_USR_READ|KEY_GRP_VIEW|KEY_GRP_READ|KEY_OTH_WRITE|3221225472 -5 5 7
FAN_CLASS_CONTENT|FAN_CLOEXEC|FAN_NONBLOCK|0x100 0xc 0x100000000 AT_SYMLINK_NOFOLLOW|AT_EACCESS 0x0
0xc000|MPOL_BIND 0xffffffff 0x2000|0x5 0x0
SWAP_FLAG_PREFER|0 0x0 0x80000 1 (TIME_INS) 7 (7) NULL
KEXEC_ARCH_DEFAULT LINUX_REBOOT_CMD_CAD_OFF 0x1 0xffffffffffffffff 0x3 0x0 0x4 PERF_FLAG_FD_CLOEXEC|0x10
0x123456|0x3 0x9 NULL 0xffffffffffffffff 0x100 NT_METAG_TLS NULL 0x0
ARCH_SET_FS -1 NULL
WEXITSTATUS=3, WTERMSIG=SIGKILL | 0x10000, WCOREDUMP, WSTOPSIG=SIGSTOP | 0x10000, WSTOPSIG=SIGTRAP | PTRACE_EVENT_CLONE << 8, WIFCONTINUED, ?=0xffffffffffffffff
Fri Dec 13 20:45:52 1901, Tue Jan 19 03:14:07 2038, Wed Dec 31 23:59:59 1969
Time too far in the future to be converted
init_module(0x20000340, 16, "a=1")
init_module = -8 (ENOEXEC)
finit_module(99, "a=1", MODULE_INIT_IGNORE_VERMAGIC|0x8)
finit_module = -22 (EINVAL)
delete_module("stpc_none", O_NONBLOCK)
delete_module = -2 (ENOENT)
execveat(AT_FDCWD, "/stpc-no-such-file", ["x"], ["A=1"], 0x0)
execveat = -2 (ENOENT)
add_key("user", "stpc-key", "secret", 6, 12345)
add_key = -126 (ENOKEY)
request_key("user", "stpc-key", 0x0, 0)
request_key = -126 (ENOKEY)
keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0)
keyctl = -126 (ENOKEY)
keyctl(KEYCTL_SETPERM, 12345, KEY_POS_VIEW|KEY_POS_READ|KEY_POS_WRITE|KEY_POS_SEARCH|KEY_POS_LINK|KEY_POS_SETATTR|KEY_USR_VIEW|128)
keyctl = -22 (EINVAL)
keyctl(KEYCTL_SET_REQKEY_KEYRING, KEY_REQKEY_DEFL_NO_CHANGE)
keyctl = 0
keyctl(KEYCTL_READ, 12345, 0x200006c0, 16)
keyctl = -126 (ENOKEY)
keyctl(KEYCTL_SEARCH, 12345, "user", "stpc-key", 0)
keyctl = -126 (ENOKEY)
keyctl(99, 1, 2, 3, 4)
keyctl = -95 (EOPNOTSUPP)
ptrace(PTRACE_PEEKDATA, 99999, 0x20002000, [0x20000d00])
ptrace = -3 (ESRCH)
ptrace(PTRACE_CONT, 99999, 0x0, SIGUSR1)
ptrace = -3 (ESRCH)
ptrace(PTRACE_GETREGSET, 99999, NT_PRSTATUS, [{0x20000e00, 256}])
ptrace = -3 (ESRCH)
ptrace(PTRACE_SETOPTIONS, 99999, 0x0, PTRACE_O_EXITKILL|PTRACE_O_TRACESYSGOOD)
ptrace = -3 (ESRCH)
ptrace(PTRACE_ARCH_PRCTL, 99999, 0x20000d00, ARCH_GET_FS)
ptrace = -3 (ESRCH)
ptrace(0x4300, 99999, 0x0, 0x0)
ptrace = -3 (ESRCH)
perf_event_open(0x20000400, -1, -1, -1, PERF_FLAG_FD_CLOEXEC)
perf_event_open = -22 (EINVAL)
bpf(BPF_MAP_CREATE, 0x20000400, 16)
bpf = -22 (EINVAL)
bpf(0x63, 0x20000400, 16)
bpf = -22 (EINVAL)
seccomp(0x2, 0x0, 0x20000660)
seccomp = 0
seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, 0x0)
seccomp = -14 (EFAULT)
userfaultfd(O_NONBLOCK|O_CLOEXEC)
userfaultfd = 4
faccessat2(AT_FDCWD, "/tmp/stpc-sc5/f", R_OK|W_OK, AT_EACCESS)
faccessat2 = 0
fanotify_init(FAN_CLASS_NOTIF|FAN_CLOEXEC, O_RDONLY)
fanotify_init = 5
fanotify_mark(5, FAN_MARK_ADD, FAN_CLOSE_WRITE|FAN_OPEN|FAN_ONDIR, AT_FDCWD, "/tmp/stpc-sc5")
fanotify_mark = 0
name_to_handle_at(AT_FDCWD, "/tmp/stpc-sc5/f", 0x20000600, 0x20000640, 0x0)
name_to_handle_at = -95 (EOPNOTSUPP)
open_by_handle_at(AT_FDCWD, 0x20000600, O_RDONLY)
open_by_handle_at = -22 (EINVAL)
memfd_secret(MFD_CLOEXEC|MFD_ALLOW_SEALING|0xfc)
""" + _memfd_secret_return(kver) + """
pivot_root("/stpc-no-such-file", "/tmp/stpc-sc5")
pivot_root = -2 (ENOENT)
quotactl(Q_GETQUOTA|USRQUOTA, "/dev/stpc-none", 0, {dqb_bhardlimit=0, dqb_bsoftlimit=0, dqb_curspace=0, dqb_ihardlimit=0, dqb_isoftlimit=0, ...})
quotactl = -2 (ENOENT)
quotactl(Q_QUOTAON|GRPQUOTA, "/dev/stpc-none", QFMT_VFS_V0, "/quota.group")
quotactl = -2 (ENOENT)
quotactl(Q_GETINFO|USRQUOTA, "/dev/stpc-none", 0, {dqi_bgrace=0, dqi_igrace=0, dqi_flags=0, dqi_valid=0})
quotactl = -2 (ENOENT)
quotactl(Q_GETFMT|0x2, "/dev/stpc-none", 0, 200006c0)
quotactl = -2 (ENOENT)
quotactl(Q_SYNC|USRQUOTA, 0x0, 0, 0x0)
quotactl = 0
quotactl(Q_XGETQUOTA|USRQUOTA, 0x20000c00, 0, 0x20000c40)
quotactl = -2 (ENOENT)
acct("/stpc-no-such-file")
acct = -2 (ENOENT)
acct(0x0)
acct = 0
sysfs(1, "stpc-nofs")
sysfs = -22 (EINVAL)
sysfs(2, 0, 0x200006c0)
sysfs = 0
sysfs(4, 0x1, 0x2)
sysfs = -22 (EINVAL)
ustat(1234, 0x200006c0)
ustat = -22 (EINVAL)
vhangup()
vhangup = 0
swapon("/tmp/stpc-sc5/f", SWAP_FLAG_PREFER|SWAP_FLAG_DISCARD|5)
swapon = -22 (EINVAL)
swapoff("/tmp/stpc-sc5/f")
swapoff = -22 (EINVAL)
utime("/tmp/stpc-sc5/f", [Thu Jan  1 00:00:00 1970, Tue Feb 29 00:00:00 2000])
utime = 0
utime("/tmp/stpc-sc5/f", [Thu Jan  1 00:00:00 1970, Thu Jan  1 00:00:00 1970])
utime = 0
remap_file_pages(0x20001000, 0x1000, PROT_NONE, 0x0, 0x0)
remap_file_pages = -22 (EINVAL)
mbind(0x20002000, 4096, MPOL_F_STATIC_NODES|MPOL_BIND, 0x20000720, 2, 0x0)
mbind = 0
get_mempolicy(0x20000740, 0x0, 0, 0x0, 0x0)
get_mempolicy = 0
set_mempolicy(MPOL_DEFAULT, 0x0, 0)
set_mempolicy = 0
migrate_pages(0, 2, 0x20000720, 0x20000720)
migrate_pages = 0
move_pages(0, 1, 0x20000750, 0x0, 0x20000760, 0x0)
move_pages = 0
adjtimex({0x0, """ + _TIMEX_ZERO + """)
adjtimex = 5 (TIME_ERROR)
adjtimex({ADJ_OFFSET_SINGLESHOT, """ + _TIMEX_ZERO + """)
adjtimex = -22 (-22)
clock_adjtime(CLOCK_REALTIME, {0x0, """ + _TIMEX_ZERO + """)
clock_adjtime = 5
clock_settime(CLOCK_MONOTONIC, [1.000000500])
clock_settime = -22 (EINVAL)
reboot(LINUX_REBOOT_MAGIC1, 0x1234, LINUX_REBOOT_CMD_HALT, 0x0)
reboot = -22 (EINVAL)
sethostname("stpc", -1)
sethostname = -22 (EINVAL)
setdomainname("stpc", 100)
setdomainname = -22 (EINVAL)
syslog(99, 0x0, 0)
syslog = -22 (EINVAL)
syslog(3, 0x200006c0, 0)
syslog = 0
ioperm(0x80, 0x1, 0x0)
ioperm = 0
modify_ldt(0, 0x20000a40, 16)
modify_ldt = 0
kexec_load(0x0, 17, 0x0, KEXEC_ARCH_386|KEXEC_ARCH_X86_64)
kexec_load = -22 (EINVAL)
kexec_file_load(-1, -1, 6, "quiet", KEXEC_FILE_NO_INITRAMFS)
kexec_file_load = -9 (EBADF)
restart_syscall()
restart_syscall = -4 (EINTR)
rt_tgsigqueueinfo(PID, PID, SIG_0, {si_signo=SIG_0, si_code=SI_QUEUE, si_pid=1, si_uid=0})
rt_tgsigqueueinfo = 0
arch_prctl(ARCH_GET_FS, 536883200)
arch_prctl = 0
arch_prctl(39321, 0)
arch_prctl = -22 (EINVAL)
sysctl(0x200006c0)
sysctl = -38 (ENOSYS)
iopl(0)
iopl = 0
iopl(4)
iopl = -22 (EINVAL)
set_thread_area(""" + _USER_DESC + """)
set_thread_area = -38 (ENOSYS)
set_thread_area(NULL)
set_thread_area = -38 (ENOSYS)
get_thread_area(""" + _USER_DESC + """)
get_thread_area = -38 (ENOSYS)
get_thread_area(0x10)
get_thread_area = -38 (ENOSYS)
uselib("/stpc-no-such-file")
uselib = -38 (ENOSYS)
lookup_dcookie(0x1234, 0x200006c0, 0x10)
lookup_dcookie = -38 (ENOSYS)
wait4 = a pid WEXITSTATUS=3
wait4 = -10 (ECHILD) N/A
"""


def syscall_admin_cases(kver: str) -> List[VmCase]:
    """The syscall tapset's administration calls (syscalls_admin.stp): the
    helpers' edge cases, then each alias's name, argstr and retstr under
    a -c command that makes every one of them.  Every alias is a
    tracepoint handler run on every syscall of the guest (as in
    syscall_mq_aio_cases: no STP_OVERLOAD)."""
    workload = WORK / "syscall_workload5"
    case = _inline("tapset/syscalls-admin", kver, _syscalls_admin_script(),
                   ["-c", str(workload)], defines=["-DSTP_NO_OVERLOAD"],
                   stdout=_syscalls_admin_out(kver),
                   stderr=None, stderr_pattern=_MAYBE_SKIPPED)
    case.prebuild.insert(0, ["gcc", "-O1", "-o", str(workload),
                             str(ROOT / "tests" / "syscall_workload5.c")])
    return [case]
