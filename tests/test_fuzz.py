"""A seeded mutational fuzzer over every script of the corpus and examples.

Each mutant (tokens deleted, duplicated, swapped, random bytes inserted,
parentheses nested deep, long operator chains, huge or malformed numbers,
the text cut short ...) goes through passes 1-3 in-process; the compiler
must accept it or reject it with an ``StpcError``, never end in anything
else (an ``InternalError``, a ``RecursionError``, a ``KeyError`` ...).

The pytest run tries a fixed few thousand mutants.  Run more offline, e.g.
``python tests/test_fuzz.py --mutants 30000 --seed 7``: it prints each
failure (kind and mutant) and a count by kind.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import scriptgen
from stpc.compiler import ast as A
from stpc.compiler import cli
from stpc.compiler.cli import MAX_SCRIPT_BYTES
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError
from stpc.compiler.parse import MAX_NESTING

ROOT = Path(__file__).parent.parent
# passes 1-3 of a script probing the kernel end in a located error here
NO_KERNEL = CompileOptions(kernel_release="0.0-none")
FILE = "mutant.stp"

_BYTES = "\x00\x01\t\n\r \"'\\%{}()[]$@#;:?!~^|&<>=+-*/.,0123456789aZ_\x7f" \
    "\x80\xa0\xe9\xff"
_NUMBERS = ("9" * 25, "9" * 5000, "0" + "7" * 30, "0x" + "f" * 17,
            "0x" + "f" * 5000, "09", "0x", "1_0", "0b1", "18446744073709551616",
            "18446744073709551615", "9223372036854775808", "0" * 40 + "1",
            "1e9", "0xg")
_CHAIN_OPERATORS = ("+", "-", "*", "/", ".", "&&", "||", "<", "==", "<<",
                    "&", "?:", "=", "+=", "in")
_PREFIXES = ("-", "!", "~", "+", "++", "--", "&")


def corpus() -> List[Tuple[str, str]]:
    """(name, text) of every corpus script and example."""
    paths = sorted(ROOT.glob("tests/corpus/**/*.stp")) + \
        sorted(ROOT.glob("examples/*.stp"))
    return [(str(p.relative_to(ROOT)), p.read_text(encoding="latin-1"))
            for p in paths]


class Mutator:
    """One random change to a script's text, drawn from ``rng``."""

    def __init__(self, rng: random.Random, deepest: int):
        self.rng = rng
        self.deepest = deepest
        self.kinds: Dict[str, Callable[[str, list], str]] = {
            "delete": self.delete, "duplicate": self.duplicate,
            "swap": self.swap, "replace": self.replace,
            "bytes": self.insert_bytes, "nest": self.nest,
            "chain": self.chain, "prefix": self.prefix,
            "number": self.number, "truncate": self.truncate,
            "blocks": self.blocks}

    def mutate(self, text: str) -> str:
        tokens = list(scriptgen.TOKEN.finditer(text))
        if not tokens:
            return self.insert_bytes(text, tokens)
        kind = self.rng.choice(sorted(self.kinds))
        return self.kinds[kind](text, tokens)

    def _token(self, tokens):
        return self.rng.choice(tokens)

    def _depth(self) -> int:
        """Mostly shallow, rarely as deep as ``deepest``."""
        if self.rng.random() < 0.02:
            return self.deepest
        return self.rng.choice((2, 10, 100, 300))

    @staticmethod
    def _put(text: str, token, new: str) -> str:
        return text[:token.start()] + new + text[token.end():]

    def delete(self, text, tokens):
        return self._put(text, self._token(tokens), "")

    def duplicate(self, text, tokens):
        token = self._token(tokens)
        return self._put(text, token, f"{token.group()} {token.group()}")

    def swap(self, text, tokens):
        at = self.rng.randrange(len(tokens))
        if at + 1 == len(tokens):
            return text
        first, second = tokens[at], tokens[at + 1]
        return (text[:first.start()] + second.group() +
                text[first.end():second.start()] + first.group() +
                text[second.end():])

    def replace(self, text, tokens):
        return self._put(text, self._token(tokens),
                         self._token(tokens).group())

    def insert_bytes(self, text, tokens):
        at = self.rng.randrange(len(text) + 1)
        noise = "".join(self.rng.choice(_BYTES)
                        for _ in range(self.rng.randint(1, 4)))
        return text[:at] + noise + text[at:]

    def nest(self, text, tokens):
        token, depth = self._token(tokens), self._depth()
        return self._put(text, token,
                         "(" * depth + token.group() + ")" * depth)

    def chain(self, text, tokens):
        token, depth = self._token(tokens), self._depth()
        op = self.rng.choice(_CHAIN_OPERATORS)
        word = token.group()
        if op == "?:":
            chained = f"{word} ? {word} : " * depth + word
        else:
            chained = f" {op} ".join([word] * (depth + 1))
        return self._put(text, token, chained)

    def prefix(self, text, tokens):
        token = self._token(tokens)
        ops = self.rng.choice(_PREFIXES) * self._depth()
        return self._put(text, token, ops + token.group())

    def number(self, text, tokens):
        numbers = [t for t in tokens if t.group()[0].isdigit()] or tokens
        return self._put(text, self.rng.choice(numbers),
                         self.rng.choice(_NUMBERS))

    def truncate(self, text, tokens):
        return text[:self.rng.randrange(len(text) + 1)]

    def blocks(self, text, tokens):
        """A statement (the token) deep inside blocks or ifs."""
        token, depth = self._token(tokens), self._depth()
        opener = self.rng.choice(("{", "if (1) {", "while (0) {",
                                  "try {", "for (;;) {"))
        closer = "} catch {}" if opener == "try {" else "}"
        return self._put(text, token, opener * depth + token.group() +
                         closer * depth)


def mutants(count: int, seed: int,
            deepest: int = 1000) -> Iterator[Tuple[str, str]]:
    """``count`` (origin, text) pairs: each a corpus script with one to
    three mutations."""
    rng = random.Random(seed)
    mutator = Mutator(rng, deepest)
    scripts = corpus()
    for _ in range(count):
        name, text = rng.choice(scripts)
        for _ in range(rng.choice((1, 1, 2, 3))):
            text = mutator.mutate(text)
        yield name, text


def failure(text: str) -> Optional[BaseException]:
    """What passes 1-3 raised on ``text`` other than an ``StpcError``."""
    try:
        Compilation(text, FILE, NO_KERNEL).c_source()
    except StpcError:
        return None
    except Exception as exc:    # noqa: BLE001 - any other one is the bug
        return exc
    return None


def shown(text: str, most: int = 2000) -> str:
    return text if len(text) <= most else \
        f"{text[:most]}\n... ({len(text)} characters)"


@pytest.mark.parametrize("seed", range(4))
def test_mutants_end_in_a_result_or_a_located_error(seed):
    for origin, text in mutants(1500, seed):
        exc = failure(text)
        if exc is not None:
            pytest.fail(f"{type(exc).__name__}: {exc}\n--- mutant of "
                        f"{origin} ---\n{shown(text)}")


def test_the_fuzzer_sees_failures(monkeypatch):
    """``failure`` is not vacuous: a pass raising a bug is reported."""
    def broken(self):
        raise KeyError("bug")
    monkeypatch.setattr(Compilation, "c_source", broken)
    assert isinstance(failure("probe begin {}"), KeyError)


@pytest.mark.parametrize("opener,inner,closer", [
    ("x +\n", "x", ""), ("(-", "x", ")"), ("{\n", "", "}"),
    ("if (1) {\n", "", "}")])
def test_nesting_past_the_limit_is_a_located_error(opener, inner, closer):
    """Deeper than every pass's stack holds: refused where it gets too
    deep, before any pass recurses."""
    levels = MAX_NESTING + 10
    text = "probe begin {\nx = 1\n" + opener * levels + inner + \
        closer * levels + "\n}\n"
    with pytest.raises(StpcError) as error:
        Compilation(text, FILE, NO_KERNEL).script()
    assert error.value.message == \
        f"the script nests more than {MAX_NESTING:,} levels deep here"
    assert error.value.span.line > 2


def test_a_script_past_the_size_limit_is_refused_unread(tmp_path, capsys):
    big = tmp_path / "big.stp"
    with big.open("w") as out:
        out.write("probe begin { exit() }\n")
        out.truncate(MAX_SCRIPT_BYTES + 1)
    assert cli.main(["-p1", str(big)]) == 1
    assert capsys.readouterr().err.startswith(
        f"error: {big} is larger than 4 MiB, the most stpc reads\n")
    assert cli.main(["-p1", "-e", "#" * (MAX_SCRIPT_BYTES + 1)]) == 1
    assert "the -e script is larger than 4 MiB" in capsys.readouterr().err
    big.write_text("probe begin { exit() }\n" +
                   "#" * (MAX_SCRIPT_BYTES - 100))
    assert cli.main(["-p1", str(big)]) == 0


def test_an_internal_error_names_a_deep_node_by_its_place():
    """Its repr would recurse as deep as the node nests."""
    span = A.Span(FILE, 3, 7)
    node = A.IntLit(span, 1)
    for _ in range(MAX_NESTING):
        node = A.Unary(span, "-", node)
    assert cli._described(KeyError(node)) == f"Unary at {FILE}:3:7"
    assert cli._described(KeyError("key")) == "'key'"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mutants", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deepest", type=int, default=25_000,
                        help="the rare deepest nesting or chain")
    parser.add_argument("--save", type=Path,
                        help="write each failing mutant into this directory")
    args = parser.parse_args()
    kinds: Counter = Counter()
    for number, (origin, text) in enumerate(
            mutants(args.mutants, args.seed, args.deepest)):
        exc = failure(text)
        if exc is None:
            continue
        kind = f"{type(exc).__name__}: {str(exc)[:80]}"
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"{number}.stp").write_text(text, "latin-1")
        if kind not in kinds:
            print(f"=== {kind}\n--- mutant of {origin} ---\n"
                  f"{shown(text, 600)}\n", flush=True)
        kinds[kind] += 1
    print(f"{args.mutants} mutants, {sum(kinds.values())} internal errors")
    for kind, count in kinds.most_common():
        print(f"{count:6} {kind}")
    return 1 if kinds else 0


if __name__ == "__main__":
    sys.exit(main())
