"""Colour on a terminal: the prefixes of messages (``error:``,
``warning:``, ``hint:``, and the run's ``ERROR:`` and ``WARNING:``) in
colour when stderr is a terminal, as gcc and SystemTap show them; plain
when it is not, or when NO_COLOR is set (https://no-color.org), unless
``--color=always`` asks for colour anyway.  Standard library only."""

from __future__ import annotations

import os
import re
import sys
from typing import Optional, TextIO

CHOICES = ("auto", "always", "never")
# SystemTap's colours (stap(1), SYSTEMTAP_COLORS), and cyan for hints
_RED, _YELLOW, _CYAN = "01;31", "00;33", "01;36"
_STYLES = {"error": _RED, "ERROR": _RED, "warning": _YELLOW,
           "WARNING": _YELLOW, "hint": _CYAN}
_LINE_PREFIX = re.compile(rb"^(ERROR|WARNING):", re.M)

_enabled = False


def configure(choice: str, stream: Optional[TextIO] = None) -> None:
    """Decides once, from --color, whether stderr gets colour."""
    global _enabled
    if choice == "auto":
        stream = sys.stderr if stream is None else stream
        _enabled = (not os.environ.get("NO_COLOR") and
                    os.environ.get("TERM") != "dumb" and stream.isatty())
    else:
        _enabled = choice == "always"


def _paint(text: str, style: str) -> str:
    return f"\033[{style}m{text}\033[0m"


def label(word: str) -> str:
    """``WORD:``, coloured when stderr has colour."""
    text = f"{word}:"
    return _paint(text, _STYLES[word]) if _enabled else text


def run_lines(data: bytes) -> bytes:
    """The run's stderr with the ``ERROR:``/``WARNING:`` starting its
    lines coloured when stderr has colour."""
    if not _enabled:
        return data
    return _LINE_PREFIX.sub(
        lambda m: _paint(m.group(0).decode(), _STYLES[m.group(1).decode()])
        .encode(), data)
