"""What bench/overhead.py and bench/many_probes.py share: checking what
they need, building on the host, and running one guest script in ONE
throwaway VM boot (tests/vm.py; nothing is ever loaded on the host)."""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import vm  # noqa: E402

DEFAULT_KVER = vm.find_kernel_release()


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """The benchmark's options, starting with -r KVER; its docstring's
    first paragraph is the description."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-r", dest="kver", default=DEFAULT_KVER,
                        help="kernel release to build for and boot "
                        "(default: the newest Debian 6.1 installed)")
    return parser


def rounds_of_calls(parser: argparse.ArgumentParser, calls: int,
                    what: str = "calls of the probed function") -> None:
    """--rounds (5) and --calls (CALLS), the options of a benchmark that
    times a number of calls in every round."""
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=calls,
                        help=f"{what} per round")


def check_prerequisites(bench: str, kver: str) -> None:
    """Exits saying what to install when the VM, the kernel's build tree
    or stpc is missing."""
    try:
        vm.check_available(kver)
    except vm.VMUnavailable as exc:
        raise SystemExit(f"{bench}: no VM to run in: {exc}") from None
    if not Path("/lib/modules", kver, "build").is_dir():
        raise SystemExit(f"{bench}: /lib/modules/{kver}/build missing: "
                         f"apt-get install linux-headers-{kver}")
    if shutil.which("stpc") is None:
        raise SystemExit(f"{bench}: stpc is not on PATH: run `make setup` "
                         "and put .venv/bin first on PATH (or run the "
                         "benchmark through its make target)")


def run_host(bench: str, argv: list[str], cwd: Path, what: str,
             env: dict | None = None,
             text: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=text,
                          env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{bench}: {what} failed ({shlex.join(argv)}):\n"
                         f"{proc.stdout!s}{proc.stderr!s}")
    return proc


def rotated(items: list, round_number: int) -> list:
    """Round r starts at item r: no variant always runs first, or always
    right after the same other one."""
    shift = round_number % len(items)
    return items[shift:] + items[:shift]


def round_lines(found: list, rounds: int,
                round_command: Callable[[str], str]) -> list[str]:
    """The shell lines of ROUNDS rounds of the variants FOUND, rotated:
    each variant's run with {round} as round_command(TAG), where TAG
    (res/KEY.R) names its .out and .err, and .rc if it fails."""
    lines = []
    for r in range(rounds):
        for variant in rotated(found, r):
            tag = f"res/{variant.key}.{r}"
            run = variant.run.format(round=round_command(tag))
            lines.append(f"{{ {run}; }} > {tag}.out 2> {tag}.err "
                         f"|| echo $? > {tag}.rc")
    return lines


def run_guest(bench: str, work: Path, lines: list[str], kver: str,
              timeout: int) -> None:
    """Runs LINES as one shell script in the VM, WORK shared read-write
    (the script leaves its results there)."""
    script = work / "guest.sh"
    script.write_text("\n".join(lines) + "\n")
    result = vm.run_in_vm(f"sh {shlex.quote(str(script))}", kver,
                          rwdirs=[str(work)], timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"{bench}: the guest failed:\n{result.stdout}"
                         f"{result.stderr}")


def scratch_dir(prefix: str):
    """A directory under the checkout's .cache (the VM shares it), removed
    at the end."""
    (ROOT / ".cache").mkdir(exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=prefix, dir=ROOT / ".cache")
