"""The one error hierarchy of the compiler.

Every problem a user can cause is an ``StpcError``; the CLI renders it once
with the source line and a caret.  A problem that does not stop the
compilation is an ``StpcWarning``, rendered the same way.  Anything else
escaping a pass is a bug and is rendered as one.
"""

from __future__ import annotations

import difflib
import functools
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence

from ..loader.color import label

if TYPE_CHECKING:
    from .ast import Span


def render(kind: str, message: str, span: Optional[Span],
           hint: Optional[str], sources: dict) -> str:
    """Format as ``FILE:LINE:COL: KIND: MESSAGE`` plus line and caret."""
    if span is None:
        lines = [f"{label(kind)} {message}"]
    else:
        lines = [f"{span}: {label(kind)} {message}"]
        text = sources.get(span.file)
        if text is not None:
            source_lines = _source_lines(text)
            if 0 < span.line <= len(source_lines):
                line = source_lines[span.line - 1]
                before = line[:span.col - 1].expandtabs(8)
                lines.append(f"    {line.expandtabs(8)}")
                lines.append("    " + " " * len(before) + "^")
    if hint:
        lines.append(f"{label('hint')} {hint}")
    return "\n".join(lines)


@functools.lru_cache(maxsize=4)
def _source_lines(text: str) -> List[str]:
    """Split once for all the errors and warnings shown from one script."""
    return text.splitlines()


class StpcError(Exception):
    def __init__(self, message: str, span: Optional[Span] = None, *,
                 hint: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

    def render(self, sources: dict) -> str:
        return render("error", self.message, self.span, self.hint, sources)


class StpcErrors(StpcError):
    """Several independent errors found by one pass, reported together."""

    def __init__(self, errors: Sequence[StpcError]):
        super().__init__(errors[0].message, errors[0].span, hint=errors[0].hint)
        self.errors = list(errors)

    def render(self, sources: dict) -> str:
        return "\n".join(e.render(sources) for e in self.errors)


class InternalError(Exception):
    """A state no valid input reaches: a bug in stpc, reported as one."""


@dataclass(frozen=True)
class StpcWarning:
    """A problem in a script that does not stop its compilation (pass 2
    finds them; the CLI prints them, or makes them errors with -W)."""
    message: str
    span: Optional[Span]
    hint: Optional[str] = None

    def render(self, sources: dict) -> str:
        return render("warning", self.message, self.span, self.hint, sources)

    def as_error(self) -> StpcError:
        return StpcError(self.message, self.span, hint=self.hint)


def warn(message: str) -> None:
    """A problem with the command or the machine that does not stop the
    compilation, said on stderr."""
    print(StpcWarning(message, None).render({}), file=sys.stderr)


class EnvironmentProblem(StpcError):
    """The machine lacks something (a build tree, root, qemu): no location."""


def nearest(name: str, candidates: Iterable[str]) -> Optional[str]:
    """A ``did you mean`` hint naming the closest candidates, if any are."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3,
                                      cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


class ErrorCollector:
    """Gathers errors so one pass can report all it found at once."""

    def __init__(self) -> None:
        self.errors: List[StpcError] = []

    def add(self, message: str, span: Optional[Span], *,
            hint: Optional[str] = None) -> None:
        self.add_error(StpcError(message, span, hint=hint))

    def add_error(self, error: StpcError) -> None:
        """Records an error; the same one at the same place (a handler
        checked once per function a wildcard matched) only once."""
        if not any(type(e) is type(error) and e.message == error.message
                   and e.span == error.span and e.hint == error.hint
                   for e in self.errors):
            self.errors.append(error)

    def raise_if_any(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise StpcErrors(self.errors)
