"""The pre-compiled workflow and the fixture cases on the second kernel,
bookworm-backports' 6.12 (functions start at .text+0x10 there), in a
second VM boot.  Skips when 6.12 is not installed (fails with
STPC_REQUIRE_VM=1)."""

from __future__ import annotations

import pytest

import vm
import vmcases
from test_vm import check_case, kernel_warnings

pytestmark = pytest.mark.vm

_KVER = vm.find_kernel_release(vm.SECOND_SERIES) or "none"
CASES = {case.id: case for case in vmcases.second_kernel_cases(_KVER)}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_case_612(case_id, vm_results_second):
    check_case(CASES[case_id], vm_results_second)


def test_no_kernel_warnings_612(vm_results_second):
    assert kernel_warnings(vm_results_second) == []
