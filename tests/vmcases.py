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
    stderr_pattern: Optional[str] = None  # regex the whole stderr matches
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


def prepare_work_dir() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "forever.stp").write_text(_FOREVER + "\n")


def all_cases(kver: str) -> List[VmCase]:
    return corpus_cases(kver) + example_cases(kver) + workflow_cases(kver)
