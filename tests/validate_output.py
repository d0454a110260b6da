"""Checks NDJSON from `stpc --run --format json` (stdin) against
docs/output.schema.json; prints "valid N objects" or the first error.

Used in the test VM on real output (tests/vmcases.py) and by host tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / \
    "output.schema.json"


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check(lines) -> int:
    """The number of objects; raises ValidationError on the first bad one."""
    check_one = validator().validate
    count = 0
    for line in lines:
        check_one(json.loads(line))
        count += 1
    return count


if __name__ == "__main__":
    try:
        print(f"valid {check(sys.stdin)} objects")
    except (jsonschema.ValidationError, ValueError) as exc:
        print(f"invalid: {exc}".splitlines()[0])
        sys.exit(1)
