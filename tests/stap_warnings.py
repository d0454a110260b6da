#!/usr/bin/env python3
"""The warnings SystemTap gives, as the oracle for stpc's.

Both sides are normalised to one line per warning, ``LINE: MESSAGE`` in
stpc's wording (stap's own words, where stpc words it differently, are
mapped below), by line:

    stap 4.8 (``stap -p2 -v``)                 stpc
    never-assigned local/global variable 'x'   the same; stap lists a
      (similar: ...)                           global among its own similar
                                               names, stpc does not
    Eliding assignment to 'x'                  value stored to 'x' is never
                                               read
    Eliding side-effect-free expression        side-effect-free expression:
                                               the statement does nothing
    Probe 'begin' has been elided              probe 'begin' has an empty body
                                               (stap names the point's first
                                               component, stpc all of it)

``-v`` makes stap print each warning, not the first of each text only.
Left out of stap's: the symbol-table warning of Debian's stub System.map,
and the "side-effect-free expression" stap gives for what is left of an
assignment it elided; a warning with no stpc wording stays as
``stap: MESSAGE``.  stpc's own warnings (``STPC_ONLY``: an unused
function, an optional probe point stpc does not know) have no stap
counterpart at this verbosity and are not compared; ``STAP_ONLY`` lists
the warnings of stap that stpc does not give, on purpose.

Each tests/corpus/warn/NAME.stp has NAME.stap, stap's warnings in this
form; tests/test_warnings.py checks stpc gives the same.  The warnings
stpc gives on the run and types corpora are on record in
tests/corpus/warn/corpora.warnings.  Regenerate, or compare:

    .venv/bin/python tests/stap_warnings.py [NAME.stp ...]      # NAME.stap
    .venv/bin/python tests/stap_warnings.py --corpora           # the record
    .venv/bin/python tests/stap_warnings.py --compare [NAME.stp ...]

(the warn corpus by default; ``--compare`` with no script also takes the
run and types corpora, and exits 1 on a difference).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stap_types import read_expected, record  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
WARN = CORPUS / "warn"
OTHER_CORPORA = ("run", "types")
CORPORA_WARNINGS = WARN / "corpora.warnings"
HEADER = ("# stap -p2 -v (SystemTap 4.8), normalised by "
          "tests/stap_warnings.py\n")
CORPORA_HEADER = """\
# stpc -p2's warnings on tests/corpus/run and tests/corpus/types, written
# by tests/stap_warnings.py --corpora; its --compare checks that stap gives
# the same, but for stpc's own (an optional point stpc does not know, an
# unused function)
"""

#: stpc's warnings that SystemTap does not give (by default)
STPC_ONLY = (re.compile(r"eliding unused function '"),
             re.compile(r"optional probe point '.*' is unknown or "
                        r"unsupported"))

#: stap's warnings stpc does not give, on purpose: (script, line)
STAP_ONLY = {
    # stap elides '1 / x;', and with it the division by zero it may
    # raise; stpc runs it
    ("no_effect.stp", "12: side-effect-free expression: the statement "
     "does nothing"),
    # stap finds that pure() has no side effects; stpc does not look
    # into functions
    ("no_effect.stp", "13: side-effect-free expression: the statement "
     "does nothing"),
}

_STAP_WARNING = re.compile(r"^WARNING: (?P<message>.*): "
                           r"(?P<token>(?:identifier|operator|keyword|number"
                           r"|string)(?: '[^']*')?) "
                           r"at [^:\s]*:(?P<line>\d+):(?P<col>\d+)$")
_STAP_WORDS = [
    (re.compile(r"^(never-assigned (?:local|global) variable '(\w+)')"
                r"(?: \(similar: ([^)]*)\))?$"), "never-assigned"),
    (re.compile(r"^Eliding assignment to '(\w+)'$"), "store"),
    (re.compile(r"^Eliding side-effect-free expression $"), "no-effect"),
    (re.compile(r"^Probe '([^']+)' has been elided$"), "empty-probe"),
]
_STPC_WARNING = re.compile(r"^[^:\s]*:(?P<line>\d+):\d+: warning: "
                           r"(?P<message>.*)$")
_EMPTY_PROBE = re.compile(r"^probe '(\w+)[^']*' has an empty body$")


def normalise_stap(stderr: str) -> List[str]:
    found = []
    stores = set()      # (line, name) of the assignments stap elided
    for raw in stderr.splitlines():
        match = _STAP_WARNING.match(raw)
        if match is None:
            continue
        line, token = int(match["line"]), match["token"]
        message = _stpc_wording(match["message"])
        if message.startswith("value stored"):
            stores.add((line, message.split("'")[1]))
        elif message.startswith("side-effect-free") and \
                token.startswith("identifier '") and \
                (line, token.split("'")[1]) in stores:
            continue        # what stap left of an assignment it elided
        found.append(f"{line}: {message}")
    return _in_order(found)


def _in_order(lines: List[str]) -> List[str]:
    return sorted(lines, key=lambda line: (int(line.split(":")[0]), line))


def _stpc_wording(message: str) -> str:
    for pattern, kind in _STAP_WORDS:
        match = pattern.match(message)
        if match is None:
            continue
        if kind == "never-assigned":
            similar = [name for name in (match[3] or "").split(", ")
                       if name and name != match[2]]
            return match[1] + (f" (similar: {', '.join(similar)})"
                               if similar else "")
        if kind == "store":
            return f"value stored to '{match[1]}' is never read"
        if kind == "no-effect":
            return "side-effect-free expression: the statement does nothing"
        return f"probe '{match[1]}' has an empty body"
    return f"stap: {message}"       # a warning stpc has no word for


def normalise_stpc(stderr: str) -> List[str]:
    found = []
    for raw in stderr.splitlines():
        match = _STPC_WARNING.match(raw)
        if match is None:
            continue
        message = match["message"]
        if any(pattern.match(message) for pattern in STPC_ONLY):
            continue
        empty = _EMPTY_PROBE.match(message)
        if empty is not None:
            message = f"probe '{empty[1]}' has an empty body"
        found.append(f"{match['line']}: {message}")
    return _in_order(found)


def script_args(script: Path) -> List[str]:
    args = script.with_suffix(".args")
    return shlex.split(args.read_text()) if args.exists() else []


def stap_warnings(script: Path, kver: str) -> List[str]:
    proc = subprocess.run(["stap", "-p2", "-v", "-r", kver, script.name,
                           *script_args(script)],
                          cwd=script.parent, capture_output=True, text=True)
    if "Pass 1: parse failed" in proc.stderr:
        raise ValueError(f"stap cannot parse {script}:\n{proc.stderr}")
    return normalise_stap(proc.stderr)


def stpc_stderr(script: Path, options: Sequence[str] = ()) -> tuple:
    """(exit status, stdout, stderr) of ``stpc -p2 [OPTIONS] NAME.stp``
    run in the script's directory."""
    from stpc.compiler import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(script.parent), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        status = cli.main(["-p2", *options, script.name,
                           *script_args(script)])
    return status, out.getvalue(), err.getvalue()


def stpc_warnings(script: Path) -> List[str]:
    return normalise_stpc(stpc_stderr(script)[2])


def corpora_warnings(scripts: List[Path]) -> List[str]:
    """Each warning stpc gives on the scripts, one line with its
    location: ``DIR/NAME.stp:LINE:COL: warning: MESSAGE``."""
    found = []
    for script in scripts:
        where = script.parent.relative_to(CORPUS)
        found += [f"{where}/{line}" for line in
                  stpc_stderr(script)[2].splitlines()
                  if ": warning: " in line]
    return found


def _compare(scripts: List[Path], kver: str) -> int:
    """Prints the differences; a script stpc refuses is left out, as
    stpc warns only about a script it compiles."""
    different = refused = 0
    for script in scripts:
        status, _, err = stpc_stderr(script)
        if status != 0:
            refused += 1
            continue
        stap = [line for line in stap_warnings(script, kver)
                if (script.name, line) not in STAP_ONLY]
        stpc = normalise_stpc(err)
        if stap != stpc:
            different += 1
            print(f"{script}:")
            for line in sorted(set(stap) - set(stpc)):
                print(f"  stap only  {line}")
            for line in sorted(set(stpc) - set(stap)):
                print(f"  stpc only  {line}")
    print(f"{len(scripts)} scripts ({refused} refused by stpc), "
          f"{different} with different warnings")
    return 1 if different else 0


def other_corpora() -> List[Path]:
    return [script for name in OTHER_CORPORA
            for script in sorted((CORPUS / name).glob("*.stp"))]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--corpora", action="store_true")
    parser.add_argument("scripts", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.corpora:
        lines = corpora_warnings(other_corpora())
        CORPORA_WARNINGS.write_text(CORPORA_HEADER + "".join(
            line + "\n" for line in lines))
        print(f"{CORPORA_WARNINGS.name}: {len(lines)} warning(s)")
        return 0
    import vm
    kver = vm.find_kernel_release()
    scripts = [s.resolve() for s in args.scripts] or \
        sorted(WARN.glob("*.stp"))
    if args.compare:
        if not args.scripts:
            scripts += other_corpora()
        return _compare(scripts, kver)
    record(scripts, lambda script: stap_warnings(script, kver), ".stap",
           HEADER)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
