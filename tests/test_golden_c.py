"""Refactoring keeps the generated C: every corpus script's C has the
digest recorded in tests/golden_c.json (tests/golden_c.py explains)."""

from __future__ import annotations

import json

import pytest

import golden_c


def test_generated_c_is_unchanged(kver):
    recorded = json.loads(golden_c.DIGESTS.read_text())
    now = golden_c.record(kver)
    section = golden_c.kernel_section(kver)
    checked = [golden_c.ANY_KERNEL] + ([section] if section in recorded
                                       else [])
    changed = [f"{name} ({where})" for where in checked
               for name in sorted(set(recorded[where]) | set(now[where]))
               if recorded[where].get(name) != now[where].get(name)]
    assert not changed, (
        "the generated C changed for: " + ", ".join(changed) +
        "\nsee how: python tests/golden_c.py --compare HEAD; if meant: "
        "python tests/golden_c.py --update")
    if section not in recorded:
        pytest.skip(f"no digests recorded for {section}")
