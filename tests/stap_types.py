#!/usr/bin/env python3
"""The types SystemTap infers, as the oracle for stpc's type inference.

Each tests/corpus/types/NAME.stp has NAME.types: what ``stap -p2 -r KVER
NAME.stp`` (SystemTap 4.8; pass 2 only, so nothing is built or loaded)
prints, normalised to one sorted line per typed name:

    global NAME:TYPE [KEYTYPE, ...]      (the keys only for arrays)
    function NAME:TYPE (PARAM:TYPE, ...)
    local SCOPE NAME:TYPE                (SCOPE: a function or probe point)

or, when stap refuses the script, the kind of its first semantic error:

    error unresolved NAME                (unresolved type : identifier 'NAME')
    error mismatch                       (type mismatch ...)

Left out: functions the script does not define (tapset ones such as exit),
the temporaries stap makes (``__idx0``, ``__val``) and scopes with no local
left.  stap elides what nothing uses, so the scripts use every variable.

``stpc_types(script)`` turns ``stpc -p2`` into the same form;
tests/test_types.py compares the two.  Regenerate the expectations with

    .venv/bin/python tests/stap_types.py [NAME.stp ...]

(all of tests/corpus/types by default).
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, List

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "types"
HEADER = "# stap -p2 (SystemTap 4.8), normalised by tests/stap_types.py\n"
_UNRESOLVED = re.compile(r"semantic error: unresolved type : identifier "
                         r"'([^']+)'")
_STPC_UNRESOLVED = re.compile(r"error: unresolved (?:return )?type (?:for|of)"
                              r" (?:identifier|global|function|a key of "
                              r"array) '([^']+)'")


def defined_functions(source: str) -> set:
    return set(re.findall(r"\bfunction\s+(\w+)", source))


def normalise_stap(stdout: str, source: str) -> List[str]:
    """stap -p2's listing as the sorted lines described above."""
    ours = defined_functions(source)
    lines, section, scope = [], None, None
    for line in stdout.splitlines():
        if line.startswith("# "):
            section, scope = line[2:], None
            continue
        if line.strip() == "# locals":
            continue
        if section == "globals":
            name, _, rest = line.partition(":")
            lines.append(f"global {name}:{rest}")
        elif not line.startswith("  "):
            scope = _stap_scope(line, section, ours)
            if scope is not None and section == "functions":
                lines.append(f"function {line}")
        elif scope is not None and not line.strip().startswith("__"):
            lines.append(f"local {scope} {line.strip()}")
    return sorted(lines)


def _stap_scope(header: str, section: str, ours: set):
    if section == "functions":
        name = header.partition(":")[0]
        return name if name in ours else None
    return header.partition(" /*")[0]


def stap_errors(stderr: str) -> List[str]:
    for line in stderr.splitlines():
        found = _UNRESOLVED.search(line)
        if found:
            return [f"error unresolved {found.group(1)}"]
        if line.startswith("semantic error: type mismatch"):
            return ["error mismatch"]
    raise ValueError("stap failed without a semantic error:\n" + stderr)


def stap_types(script: Path, kver: str) -> List[str]:
    proc = subprocess.run(["stap", "-p2", "-r", kver, script.name],
                          cwd=script.parent, capture_output=True, text=True)
    if proc.returncode != 0:
        return stap_errors(proc.stderr)
    return normalise_stap(proc.stdout, script.read_text())


def normalise_stpc(stdout: str) -> List[str]:
    """stpc -p2's listing in the same form."""
    lines, section, scope = [], None, None
    for line in stdout.splitlines():
        if line.startswith("# "):
            section = line[2:]
            continue
        if line.startswith("  local "):
            lines.append(f"local {scope} {line[len('  local '):]}")
        elif section == "globals":
            head, _, rtype = line.rpartition(":")
            name, _, keys = head.partition("[")
            keys = f" [{keys}" if keys else ""
            lines.append(f"global {name}:{rtype}{keys}")
        elif section == "functions":
            scope = line.partition(":")[0]
            lines.append(f"function {line}")
        else:
            scope = line.partition(" /*")[0]
    return sorted(lines)


def stpc_types(script: Path) -> List[str]:
    """Every type error stpc reports, or its listing; stap shows only its
    first error, so the test checks that one is among them."""
    from stpc.compiler import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["-p2", str(script)])
    if status == 0:
        return normalise_stpc(out.getvalue())
    errors = [f"error unresolved {name}"
              for name in _STPC_UNRESOLVED.findall(err.getvalue())]
    if "error: type mismatch" in err.getvalue():
        errors.append("error mismatch")
    if not errors:
        raise ValueError("stpc failed without a type error:\n" +
                         err.getvalue())
    return errors


def read_expected(path: Path) -> List[str]:
    return [line for line in path.read_text().splitlines()
            if line and not line.startswith("#")]


def main(argv: List[str]) -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    import vm
    kver = vm.find_kernel_release()
    scripts = [Path(a).resolve() for a in argv] or \
        sorted(CORPUS.glob("*.stp"))
    record(scripts, lambda script: stap_types(script, kver), ".types",
           HEADER)
    return 0


def record(scripts: List[Path], expected: Callable[[Path], List[str]],
           suffix: str, header: str) -> None:
    """Writes each script's expected lines next to it, as NAME.SUFFIX."""
    for script in scripts:
        lines = expected(script)
        script.with_suffix(suffix).write_text(
            header + "".join(line + "\n" for line in lines))
        print(f"{script.with_suffix(suffix).name}: {len(lines)} line(s)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
