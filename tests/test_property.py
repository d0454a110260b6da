"""Property tests over random scripts (drawn by tests/scriptgen.py).

Well-typed scripts are accepted, translated, and their C builds with
-Werror.  Mutated scripts, which may be unparsable or ill-typed, are
accepted or rejected with a located ``StpcError``: never anything else, and
never a traceback from the command.

Examples are derandomized, so every run (and CI) tries the same scripts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import scriptgen
import vm
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError

FILE = "gen.stp"
# passes 1-3 never look at the kernel
NO_KERNEL = CompileOptions(kernel_release="0.0-none")
STPC = Path(sys.executable).with_name("stpc")
LOCATED = re.compile(r"^\S+:\d+:\d+: error: ", re.M)


def reproducible(examples: int, shrink: bool = True):
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink
                                                 else [])
    return settings(max_examples=examples, deadline=None, derandomize=True,
                    database=None, print_blob=False, phases=phases,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def translate(text: str, options: CompileOptions = NO_KERNEL) -> Compilation:
    comp = Compilation(text, FILE, options)
    comp.c_source()
    return comp


def explain(error: StpcError, text: str) -> str:
    return error.render({FILE: text})


def assert_located(error: StpcError, text: str) -> None:
    """Every error names a position inside the script."""
    lines = text.split("\n")
    for each in getattr(error, "errors", [error]):
        span = each.span
        assert span is not None, f"no location: {each.message}"
        assert span.file == FILE
        assert 1 <= span.line <= len(lines), explain(each, text)
        assert 1 <= span.col <= len(lines[span.line - 1]) + 1, \
            explain(each, text)


@reproducible(150)
@given(scriptgen.scripts())
def test_generated_scripts_translate(text):
    try:
        translate(text)
    except StpcError as exc:
        pytest.fail(f"a well-typed script was rejected:\n"
                    f"{explain(exc, text)}\n--- script ---\n{text}")


@reproducible(250)
@given(scriptgen.mutants())
def test_mutants_are_accepted_or_rejected_with_a_location(text):
    try:
        translate(text)
    except StpcError as exc:
        assert_located(exc, text)


@reproducible(4)
@given(scriptgen.mutants())
def test_cli_rejects_mutants_without_a_traceback(text):
    with tempfile.TemporaryDirectory(prefix="stpc-prop-") as tmp:
        script = Path(tmp) / FILE
        script.write_text(text, encoding="latin-1")
        proc = subprocess.run([str(STPC), "-p3", FILE], cwd=tmp,
                              capture_output=True, text=True)
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    if proc.returncode == 1:
        assert proc.stdout == ""
        assert LOCATED.search(proc.stderr), proc.stderr


def test_the_cli_check_sees_errors():
    """The CLI property above is not vacuous: a broken script fails it."""
    with tempfile.TemporaryDirectory(prefix="stpc-prop-") as tmp:
        (Path(tmp) / FILE).write_text("probe begin { x = }\n")
        proc = subprocess.run([str(STPC), "-p3", FILE], cwd=tmp,
                              capture_output=True, text=True)
    assert proc.returncode == 1
    assert LOCATED.search(proc.stderr)


@pytest.fixture(scope="module")
def build_release() -> str:
    """A kernel release with a build tree (no bootable kernel needed)."""
    release = vm.find_kernel_release() or next(
        (p.parent.name for p in sorted(Path("/lib/modules").glob(
            "*/build/Makefile"))), None)
    if release is None:
        reason = "no kernel build tree under /lib/modules"
        if os.environ.get("STPC_REQUIRE_VM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return release


# a kbuild takes seconds: report the first failing script as drawn, unshrunk
@pytest.mark.kbuild
@reproducible(12, shrink=False)
@given(text=scriptgen.scripts())
def test_generated_scripts_build_with_werror(build_release, text):
    comp = Compilation(text, FILE, CompileOptions(build_release))
    try:
        comp.module()
    except StpcError as exc:
        pytest.fail(f"{explain(exc, text)}\n--- script ---\n{text}")


# C that kbuild's -Werror refused, found by the property above: an uncalled
# function, a function body not using its frame, 'x < x', '(x & 1) == 2',
# '?:' and '*' as conditions, empty formats, and printf flags that
# SystemTap accepts but gcc's format check does not.
WERROR_REGRESSIONS = r'''
global g = 1
function unused_and_frameless() { g++ }
probe begin {
  x = g
  if (x < x || (x & 1) == 2) println("never")
  if (x ? 1 : 2) if (x * 2) printf("")
  printf("[%+c][%.2c][% s][%0s][%+u][% x][%#d][%05.3d][%0*.*x][%+p]\n",
         65, 66, "s", "t", 1, 2, 3, 4, 6, 2, 5, 6)
  s = sprintf("")
  println(s . sprintf("%-.3c", 67))
  exit()
}
'''


@pytest.mark.kbuild
def test_werror_regressions_build(build_release):
    comp = Compilation(WERROR_REGRESSIONS, FILE,
                       CompileOptions(build_release))
    try:
        comp.module()
    except StpcError as exc:
        pytest.fail(explain(exc, WERROR_REGRESSIONS))
