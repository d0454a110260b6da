"""Every test that loads a module: what to build on the host, what to run
in the VM, and what must come out.

All cases run in one VM boot (tests/conftest.py); modules are built on the
host first, so the VM only loads and runs them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "run"
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
    stdout_check: Optional[str] = None   # name of a custom check
    env: dict = field(default_factory=dict)


def _read(path: Path) -> Optional[str]:
    return path.read_text() if path.exists() else None


def corpus_cases(kver: str) -> List[VmCase]:
    """tests/corpus/run/NAME.stp with NAME.out, and optionally NAME.err,
    NAME.rc and NAME.opts (extra stpc options, shell words)."""
    cases = []
    for script in sorted(CORPUS.glob("*.stp")):
        opts = shlex.split(_read(script.with_suffix(".opts")) or "")
        build_opts = [o for o in opts if o.startswith("-D")]
        run_opts = [o for o in opts if not o.startswith("-D")]
        module = f"t_{script.stem}"
        cases.append(VmCase(
            id=f"corpus/{script.stem}",
            shell=shlex.join(["stpc", f"{module}.ko", "--run"] + run_opts),
            cwd=CORPUS,
            prebuild=[["stpc", script.name, "--emit-ko", "-m", module,
                       "-r", kver] + build_opts],
            stdout=_read(script.with_suffix(".out")) or "",
            stderr=_read(script.with_suffix(".err")) or "",
            rc=int(_read(script.with_suffix(".rc")) or 0)))
    return cases


def example_cases(kver: str) -> List[VmCase]:
    """Every example runs, and prints what its .out file says."""
    return [VmCase(id=f"example/{script.stem}",
                   shell=shlex.join(["stpc", script.name, "--run"]),
                   cwd=EXAMPLES,
                   prebuild=[["stpc", script.name, "-p4", "-r", kver]],
                   stdout=_read(script.with_suffix(".out")),
                   stderr="")
            for script in sorted(EXAMPLES.glob("*.stp"))]


# waits, bounded by the case's timeout, until the run has printed "up"
_UNTIL_UP = "until grep -q up /tmp/o; do sleep 0.2; done;"
_FOREVER = "probe begin { println(\"up\") } probe end { println(\"end\") }"


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
        VmCase(id="workflow/inline-e",
               shell="stpc -e 'probe begin { printf(\"hello %d\\n\", 6*7); "
                     "exit() }' --run",
               cwd=work,
               prebuild=[["stpc", "-e", 'probe begin { printf("hello %d\\n",'
                          ' 6*7); exit() }', "-p4", "-r", kver]],
               stdout="hello 42\n", stderr=""),
        VmCase(id="workflow/output-file",
               shell="stpc hello_pre.ko --run -o /tmp/out.txt && "
                     "echo file: && cat /tmp/out.txt",
               cwd=work, prebuild=[emit],
               stdout="file:\n" + (_read(EXAMPLES / "hello.out") or ""),
               stderr=""),
        VmCase(id="workflow/command-c",
               shell="stpc -c 'echo child > /tmp/c.txt' -e "
                     "'probe begin { println(target() > 0) } "
                     "probe end { println(\"end\") }' --run && "
                     "cat /tmp/c.txt",
               cwd=work,
               prebuild=[["stpc", "-e", "probe begin { println(target() > 0)"
                          " } probe end { println(\"end\") }", "-p4",
                          "-r", kver]],
               stdout="1\nend\nchild\n", stderr=""),
        VmCase(id="workflow/target-x",
               shell="stpc -x 4242 -e 'probe begin { println(target()); "
                     "exit() }' --run",
               cwd=work,
               prebuild=[["stpc", "-e", "probe begin { println(target()); "
                          "exit() }", "-p4", "-r", kver]],
               stdout="4242\n", stderr=""),
        VmCase(id="workflow/sigterm-runs-end-probes",
               shell=f"stpc {forever} --run > /tmp/o & pid=$!; "
                     f"{_UNTIL_UP} kill -TERM $pid; wait $pid; "
                     "echo rc=$?; cat /tmp/o",
               cwd=work,
               prebuild=[["stpc", str(forever), "-p4", "-r", kver]],
               stdout="rc=0\nup\nend\n", stderr=""),
        VmCase(id="workflow/cleanup-after-kill",
               shell=f"stpc {forever} --run > /tmp/o & pid=$!; "
                     f"{_UNTIL_UP} kill -KILL $pid; {{ wait $pid; }} 2>/dev/null; "
                     "grep -c '^stpc_' /proc/modules; stpc --cleanup "
                     "| sed 's/stpc_[0-9a-f]*/MODULE/'; "
                     "grep -c '^stpc_' /proc/modules || true",
               cwd=work,
               prebuild=[["stpc", str(forever), "-p4", "-r", kver]],
               stdout="1\nremoved MODULE\n0\n", stderr=""),
        VmCase(id="workflow/without-cap-sys-module",
               shell="setpriv --inh-caps=-sys_module "
                     "--bounding-set=-sys_module stpc hello_pre.ko --run",
               cwd=work, prebuild=[emit], rc=1, stdout="",
               stderr="ERROR: running a probe module needs root "
                      "(CAP_SYS_MODULE): run stpc as root or with sudo\n"),
    ]


def prepare_work_dir() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "forever.stp").write_text(_FOREVER + "\n")


def all_cases(kver: str) -> List[VmCase]:
    return corpus_cases(kver) + example_cases(kver) + workflow_cases(kver)
