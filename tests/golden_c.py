"""The C that pass 3 generates for every corpus script, as digests.

Refactoring the compiler must not change the module it writes: this file
generates the C for every script of tests/corpus/run, tests/corpus/types,
tests/corpus/fixture and examples/ and compares it with what was recorded
in tests/golden_c.json (test_golden_c.py), or with what another commit
generates on this machine.

    python tests/golden_c.py --update        record the digests again
    python tests/golden_c.py --compare REV   diff this tree's C with REV's

Digests of scripts that probe no kernel code hold on any machine; those of
kernel probes are recorded per kernel release and per kind of kernel
types (DWARF or BTF), since the C holds the kernel's build-id and
offsets.  Scripts probing the fixture module are compared with --compare
only: the fixture's DWARF, hence its build-id, names the directory of the
checkout it was built in.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, NamedTuple, Tuple

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
DIGESTS = TESTS / "golden_c.json"
ANY_KERNEL = "any kernel"


class Script(NamedTuple):
    id: str
    path: Path
    args: Tuple[str, ...]
    debuginfo_path: Tuple[str, ...]


def scripts(kver: str, with_fixture: bool) -> Iterator[Script]:
    for folder in ("run", "types"):
        for path in sorted((TESTS / "corpus" / folder).glob("*.stp")):
            args = path.with_suffix(".args")
            words = shlex.split(args.read_text()) if args.exists() else []
            yield Script(f"{folder}/{path.stem}", path, tuple(words), ())
    for path in sorted((ROOT / "examples").glob("*.stp")):
        yield Script(f"examples/{path.stem}", path, (), ())
    if with_fixture:
        sys.path.insert(0, str(TESTS))
        from fixture import build_fixture
        where = str(build_fixture(kver).parent)
        for path in sorted((TESTS / "corpus" / "fixture").glob("*.stp")):
            yield Script(f"fixture/{path.stem}", path, (), (where,))


def generate(script: Script, kver: str) -> Tuple[str, bool]:
    """The script's C, and whether it probes kernel or module code.  The
    module's name, version and hash are fixed: they are not the
    translation's to decide.  The script is named by its path in the
    checkout, so that the C (its ``/* FILE:LINE:COL */`` markers) is the
    same in every clone; so are the tapsets' files."""
    from stpc.compiler.driver import CompileOptions, Compilation, run_deep
    from stpc.compiler.translate import ModuleInfo, translate
    options = CompileOptions(kernel_release=kver, script_args=script.args,
                             debuginfo_path=script.debuginfo_path)
    source = script.path.read_text(encoding="latin-1")
    name = str(script.path.relative_to(ROOT))
    program = Compilation(source, name, options).program()
    info = ModuleInfo("golden", "0" * 64, "golden", kver)
    c_source = run_deep(lambda: translate(program, info))
    # a tapset's markers name its file by its absolute path, which is the
    # checkout's: the same C in every clone names it from the checkout
    c_source = c_source.replace(f"{ROOT}/", "")
    return c_source, any(s.code is not None for s in program.sites)


def kernel_section(kver: str) -> str:
    from stpc.compiler.probes import ProbeEnvironment, find_vmlinux
    found = find_vmlinux(ProbeEnvironment(kver))
    return f"{kver} {'dwarf' if found else 'btf'}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("latin-1")).hexdigest()


def record(kver: str) -> Dict[str, Dict[str, str]]:
    """The digests of this tree's C, by section."""
    sections: Dict[str, Dict[str, str]] = {ANY_KERNEL: {},
                                           kernel_section(kver): {}}
    from stpc.compiler.errors import StpcError
    for script in scripts(kver, with_fixture=False):
        try:
            c_source, probes_code = generate(script, kver)
        except StpcError:
            continue        # a script the corpus expects to be refused
        section = kernel_section(kver) if probes_code else ANY_KERNEL
        sections[section][script.id] = digest(c_source)
    return sections


def update(kver: str) -> None:
    recorded = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    recorded.update(record(kver))
    DIGESTS.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


def dump(kver: str, out: Path) -> None:
    """Every script's C into OUT/ID.c (what --compare diffs)."""
    for script in scripts(kver, with_fixture=True):
        target = out / f"{script.id}.c"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.write_text(generate(script, kver)[0], encoding="latin-1")
        except Exception as exc:    # noqa: BLE001 - compared as text
            target.write_text(f"FAILED: {type(exc).__name__}: {exc}\n")


def compare(kver: str, rev: str) -> int:
    """Generates the C with REV's compiler and this tree's, and diffs."""
    with tempfile.TemporaryDirectory(prefix="golden-c-") as tmp:
        tmp_path = Path(tmp)
        tree = tmp_path / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q",
                        "--detach", str(tree), rev], check=True)
        try:
            package = tmp_path / "path" / "stpc"
            package.mkdir(parents=True)
            for part in ("compiler", "loader", "runtime_c", "tapset"):
                (package / part).symlink_to(tree / part)
            _dump_with(tmp_path / "path", tmp_path / "old", kver)
            dump(kver, tmp_path / "new")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove",
                            "--force", str(tree)], check=True)
        return _diff(tmp_path / "old", tmp_path / "new")


def _dump_with(path: Path, out: Path, kver: str) -> None:
    """``dump`` run by another tree's package, found first on the path."""
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if "
            "'editable' not in getattr(f, '__module__', '')]; "
            "sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]);"
            " import golden_c, stpc.compiler; "
            "assert stpc.compiler.__path__[0].startswith(sys.argv[1]); "
            "golden_c.dump(sys.argv[3], golden_c.Path(sys.argv[4]))")
    subprocess.run([sys.executable, "-c", code, str(path), str(TESTS), kver,
                    str(out)], check=True, env=dict(os.environ))


def _diff(old: Path, new: Path) -> int:
    names = sorted({p.relative_to(old) for p in old.rglob("*.c")} |
                   {p.relative_to(new) for p in new.rglob("*.c")})
    differ = 0
    for name in names:
        before = _lines(old / name)
        after = _lines(new / name)
        if before != after:
            differ += 1
            sys.stdout.writelines(difflib.unified_diff(
                before, after, f"old/{name}", f"new/{name}"))
    print(f"{len(names)} scripts, {differ} with different C",
          file=sys.stderr)
    return 1 if differ else 0


def _lines(path: Path):
    if not path.exists():
        return ["(missing)\n"]
    return path.read_text(encoding="latin-1").splitlines(keepends=True)


def main() -> int:
    sys.path.insert(0, str(TESTS))
    import vm
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--compare", metavar="REV")
    ap.add_argument("-r", dest="kver", default=vm.find_kernel_release())
    args = ap.parse_args()
    if args.compare:
        return compare(args.kver, args.compare)
    if args.update:
        update(args.kver)
        return 0
    ap.error("give --update or --compare REV")
    return 2


if __name__ == "__main__":
    sys.exit(main())
