"""Safe C literals for anything that reaches generated code."""

from __future__ import annotations

import re


def c_string(text: str) -> str:
    """A C string literal holding ``text``'s bytes.

    Scripts are read as Latin-1, so every character is one byte; anything
    outside printable ASCII, plus quote, backslash and '?' (trigraphs), is
    written as a three-digit octal escape, which cannot run on into a
    following digit.
    """
    out = ['"']
    for ch in text:
        code = ord(ch)
        if code > 0xFF:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8"))
        elif 32 <= code < 127 and ch not in '"\\?':
            out.append(ch)
        else:
            out.append(f"\\{code:03o}")
    out.append('"')
    return "".join(out)


#: between the two characters of '*/' (ends a comment), '/*' (gcc's
#: -Wcomment refuses one inside a comment) and '??' (a trigraph's start)
_COMMENT_BREAKS = re.compile(r"(?<=\*)(?=/)|(?<=/)(?=\*)|(?<=\?)(?=\?)")


def c_comment(text: str) -> str:
    """Text safe inside a C block comment: printable ASCII that neither
    ends the comment nor opens another, and has no trigraph."""
    return _COMMENT_BREAKS.sub(" ", re.sub(r"[^ -~]", "?", text))


def c_identifier(text: str) -> str:
    """A valid C identifier (and kernel module name) made from ``text``."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not ident or ident[0].isdigit():
        ident = "_" + ident
    return ident
