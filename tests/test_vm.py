"""Modules built by stpc, loaded and run in the VM, output compared
exactly.  The cases are listed in vmcases.py and run in one boot."""

from __future__ import annotations

import re

import pytest

import vm
import vmcases

pytestmark = pytest.mark.vm

_KVER = vm.find_kernel_release() or "none"
CASES = {case.id: case for case in vmcases.all_cases(_KVER)}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_case(case_id, vm_results):
    check_case(CASES[case_id], vm_results)


def check_case(case, vm_results) -> None:
    """The case ran in the batch, and its output and status are right."""
    case_id = case.id
    result = vm_results["results"].get(case_id)
    assert result is not None, f"{case_id} did not run in the VM"
    assert not result.get("crashed"), \
        f"the guest kernel died while {case_id} ran: {result['stderr']}"
    assert result["rc"] is not None, \
        f"{case_id} timed out after {case.timeout}s: {result['stdout']!r}"
    if case.stdout is not None:
        assert result["stdout"] == case.stdout
    if case.stderr is not None:
        assert result["stderr"] == case.stderr
    if case.stdout_pattern is not None:
        assert re.fullmatch(case.stdout_pattern, result["stdout"]), \
            result["stdout"]
    if case.stderr_pattern is not None:
        assert re.fullmatch(case.stderr_pattern, result["stderr"])
    assert result["rc"] == case.rc, result["stderr"]
    assert result["leftover_modules"] == [], \
        f"{case_id} left modules loaded"


def test_relocated_ko_runs_in_a_second_boot(vm_results_two_boots):
    """The example's --emit-ko module, built once, runs unchanged in a
    second boot, where the fixture it probes loaded elsewhere."""
    cases = vmcases.relocation_boot_cases(_KVER)
    outputs = []
    for case, results in zip(cases, vm_results_two_boots):
        check_case(case, results)
        assert kernel_warnings(results) == []
        outputs.append(results["results"][case.id]["stdout"].splitlines())
    (digest, address), (digest_again, address_again) = \
        (lines[:2] for lines in outputs)
    assert digest == digest_again
    assert address != address_again


def test_no_kernel_warnings(vm_results):
    """No oops, BUG or WARNING from the kernel during the whole batch."""
    assert kernel_warnings(vm_results) == []


def kernel_warnings(vm_results) -> list:
    """The batch's kernel log lines that tell of an oops, BUG or WARNING."""
    bad = re.compile(r"\b(BUG|WARNING|Oops|general protection|RIP:)\b")
    return [line for line in vm_results["dmesg"].splitlines()
            if bad.search(line)]
