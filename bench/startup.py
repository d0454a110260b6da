#!/usr/bin/env python3
"""Start-up benchmark: the commands that should cost little more than
starting Python, each as a whole process, as users run stpc.

    python3 bench/startup.py [--rounds N] [-r KVER] [--baseline REV]

The commands (wall and CPU seconds as in bench/compile.py, medians):

  python -c pass         the interpreter alone: the floor
  stpc --version
  hit, trivial           `stpc SCRIPT -p4` seen before: a raw-input cache
  hit, module probe      hit (compiler/inputcache.py), for the scripts of
                         bench/compile.py
  NAME.ko --run          a pre-compiled module's run up to the
                         init_module system call, where the process ends

The last loads nothing: an audit hook ends the process with status 0 at
the loader's first look-up of ``syscall`` through ctypes, which is how
it calls init_module, and refuses any process start; the module is
built for KVER, which must not be this host's release (the kernel would
refuse it even if the hook failed), and ``os.uname`` gives KVER to the
loader's check.  Its probe is a kernel function placed from BTF, so the
run resolves ``_stext`` and the function from /proc/kallsyms.

stpc runs from an installed layout (a venv of its own, without the
editable install's path finder, with bytecode cached), so that the
figures are a user's.  With ``--baseline REV`` the same commands run for
REV's tree too (``git archive``), alternating with this tree's round by
round and command by command, each with its own cache directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from compile import (MODULE_PROBE, TRIVIAL, bench_parser,  # noqa: E402
                     median, python_as_installed, timed)
sys.path.insert(0, str(ROOT / "tests"))
import fixture  # noqa: E402

PACKAGES = ("compiler", "loader", "runtime_c", "tapset")

KERNEL_FUNCTION = """global n
probe kernel.function("vfs_read") { n++ }
probe end { printf("%d\\n", n) }
"""

#: stpc's console script, as pip writes it
ENTRY = """import sys
from stpc.compiler.cli import main
sys.exit(main())
"""

#: ``STUB KVER stpc-argument...``: stpc until it would call init_module
STUB = """import os, sys
release = sys.argv.pop(1)
real = os.uname()
os.uname = lambda: os.uname_result((real.sysname, real.nodename, release,
                                    real.version, real.machine))
def stop(event, args):
    if event == "ctypes.dlsym" and args[1] == "syscall":
        os._exit(0)             # the loader is about to load: stop here
    if event in ("subprocess.Popen", "os.exec", "os.posix_spawn",
                 "os.system"):
        os._exit(3)             # insmod, modprobe: never
sys.addaudithook(stop)
from stpc.compiler.cli import main
main()
os._exit(4)                     # ended without reaching init_module
"""


class Variant:
    """One tree of stpc, importable as an installed ``stpc`` package."""

    def __init__(self, name: str, tree: Path, work: Path, python: str):
        self.name = name
        home = work / f"variant{len(list(work.glob('variant*')))}"
        (home / "stpc").mkdir(parents=True)
        for package in PACKAGES:
            (home / "stpc" / package).symlink_to(tree / package)
        self.python = python
        self.env = dict(python_as_installed(), PYTHONPATH=str(home),
                        STPC_CACHE_DIR=str(home / "cache"))
        self.entry, self.stub = work / "stpc_console.py", work / "stub.py"

    def stpc(self, *argv: str) -> List[str]:
        return [self.python, str(self.entry), *argv]

    def until_loaded(self, kver: str, ko: Path) -> List[str]:
        return [self.python, str(self.stub), kver, str(ko), "--run"]

    def must_run(self, argv: List[str], cwd: Optional[Path] = None) -> str:
        """Run where the timed runs run: the raw-input cache's key has the
        working directory."""
        proc = subprocess.run(argv, env=self.env, cwd=cwd,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{self.name}: failed: {' '.join(argv)}\n"
                             f"{proc.stderr}")
        return proc.stdout


def bench_python(work: Path) -> str:
    """A venv without stpc's editable install, whose .pth reaches this
    environment's packages (lark, pyelftools, jinja2 for the untimed
    builds): the interpreter and site of a user's install."""
    target = work / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    python = target / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; "
         "print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip()
    import lark             # noqa: F401 - where the dependencies are
    deps = Path(lark.__file__).resolve().parent.parent
    (Path(site) / "stpc-bench-deps.pth").write_text(f"{deps}\n")
    return str(python)


def baseline_tree(rev: str, work: Path) -> Path:
    tree = work / "baseline-src"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive,
                   check=True)
    return tree


def commands(variant: Variant, kver: str, scripts: Dict[str, Path],
             ko: Path) -> Dict[str, List[str]]:
    found = {"python -c pass": [variant.python, "-c", "pass"],
             "stpc --version": variant.stpc("--version")}
    for name, script in scripts.items():
        found[f"hit, {name}"] = variant.stpc(str(script), "-p4", "-r", kver)
    found["NAME.ko --run, to init_module"] = variant.until_loaded(kver, ko)
    return found


def main(argv: Optional[List[str]] = None) -> int:
    parser = bench_parser(__doc__, rounds=11)
    parser.add_argument("--baseline", metavar="REV",
                        help="also time REV's tree, paired with this one")
    args = parser.parse_args(argv)
    if args.kver == os.uname().release:
        raise SystemExit("the .ko run is measured for a kernel this host "
                         "does not run: give -r another release")
    fixture_ko = fixture.build_fixture(args.kver)
    with tempfile.TemporaryDirectory(prefix="stpc-startup-") as tmp:
        work = Path(tmp)
        python = bench_python(work)
        (work / "stpc_console.py").write_text(ENTRY)
        (work / "stub.py").write_text(STUB)
        scripts = {"trivial": work / "trivial.stp",
                   "module probe": work / "module_probe.stp"}
        scripts["trivial"].write_text(TRIVIAL)
        scripts["module probe"].write_text(MODULE_PROBE.format(ko=fixture_ko))
        (work / "kfn.stp").write_text(KERNEL_FUNCTION)
        variants = [Variant("this tree", ROOT, work, python)]
        if args.baseline:
            variants.insert(0, Variant(args.baseline,
                                       baseline_tree(args.baseline, work),
                                       work, python))
        ko = work / "stpc_startup.ko"
        variants[-1].must_run(variants[-1].stpc(
            str(work / "kfn.stp"), "--emit-ko", "-m", ko.stem, "-r",
            args.kver, "--kernel-types", "btf"), work)
        argvs = {v.name: commands(v, args.kver, scripts, ko)
                 for v in variants}
        # untimed: the cold builds, bytecode, and one run of each command
        for variant in variants:
            for argv in argvs[variant.name].values():
                variant.must_run(argv)
        results: Dict[Tuple[str, str], List[Tuple[float, float]]] = {}
        names = list(argvs[variants[0].name])
        for number in range(args.rounds):
            order = variants if number % 2 == 0 else variants[::-1]
            for name in names:
                for variant in order:
                    results.setdefault((variant.name, name), []).append(
                        timed(argvs[variant.name][name], variant.env))
    print(f"kernel {args.kver}, {os.cpu_count()} CPUs, median of "
          f"{args.rounds} rounds; seconds wall (CPU)\n")
    header = ["command"] + [v.name for v in variants]
    if len(variants) == 2:
        header.append("after/before")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name in names:
        medians = [tuple(median(results[(v.name, name)], i) for i in (0, 1))
                   for v in variants]
        cells = [name] + [f"{wall:.3f} ({cpu:.3f})" for wall, cpu in medians]
        if len(variants) == 2:
            cells.append(f"{medians[1][0] / medians[0][0]:.2f}x "
                         f"({medians[1][1] / medians[0][1]:.2f}x)")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
