#!/usr/bin/env python3
"""Deep scripts: passes 1-3 (parse, elaborate, translate) of a script with
one N-term sum, with the compiler's iterative ``ast.walk`` against a
recursive generator walk (what it replaced), side by side in one run.

    python3 bench/deep_script.py [--terms N ...] [--rounds R]

Prints a Markdown table for docs/performance.md (median seconds).
"""

from __future__ import annotations

import argparse
import statistics
import time
from unittest import mock

from stpc.compiler import ast as A
from stpc.compiler.driver import Compilation, CompileOptions


def recursive_walk(node):
    """The walk ast.walk replaced: each level re-yields what is below it,
    so a node at depth d costs d steps."""
    yield node
    for value in vars(node).values():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if hasattr(item, "span") and not isinstance(item, A.Span):
                yield from recursive_walk(item)


def script(terms: int) -> str:
    return ("probe begin { x = 1\n  y = " + " + ".join(["x"] * terms) +
            "\n  print(y); exit() }\n")


def passes_1_to_3(source: str) -> float:
    start = time.perf_counter()
    Compilation(source, "deep.stp", CompileOptions("bench")).c_source()
    return time.perf_counter() - start


def measure(terms: int, rounds: int) -> tuple:
    source = script(terms)
    iterative = [passes_1_to_3(source) for _ in range(rounds)]
    with mock.patch.object(A, "walk", recursive_walk):
        recursive = [passes_1_to_3(source) for _ in range(rounds)]
    return statistics.median(iterative), statistics.median(recursive)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terms", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print("| terms | iterative walk (s) | recursive walk (s) | ratio |")
    print("|---|---|---|---|")
    for terms in args.terms:
        fast, slow = measure(terms, args.rounds)
        print(f"| {terms} | {fast:.2f} | {slow:.2f} | {slow / fast:.1f}x |")


if __name__ == "__main__":
    main()
