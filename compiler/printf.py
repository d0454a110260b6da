"""printf format strings: parsed at compile time, checked against the
arguments, and rewritten as a format for the kernel's vsnprintf."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

from .errors import StpcError
from .ir import T

# As SystemTap: at most one flag character, and only the 'l' length
# modifier (a '0' after a flag is part of the width).
_SPEC = re.compile(
    r"%(?P<flags>[-+ 0#]?)(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?"
    r"(?P<length>l)?(?P<conv>.?)", re.S)

_INTEGER = {"d": "lld", "i": "lld", "u": "llu", "x": "llx", "X": "llX",
            "o": "llo"}


@dataclass(frozen=True)
class Conversion:
    flags: str
    width: Union[str, int, None]     # "*" takes an argument
    precision: Union[str, int, None]
    conv: str

    def arg_types(self) -> List[T]:
        types = [T.LONG for part in (self.width, self.precision)
                 if part == "*"]
        if self.conv == "%":
            return types
        return types + [T.STRING if self.conv == "s" else T.LONG]

    def kernel_format(self) -> str:
        width = "" if self.width is None else str(self.width)
        prec = "" if self.precision is None else "." + str(self.precision)
        if self.conv == "%":
            return "%%"
        if self.conv == "p":
            return f"%#{self.flags.replace('#', '')}{width}{prec}llx"
        suffix = _INTEGER.get(self.conv, self.conv)
        return f"%{self.flags}{width}{prec}{suffix}"

    def gcc_rejects(self) -> bool:
        """What SystemTap and the kernel's vsnprintf accept but gcc's
        format check (an error under -Werror) refuses: a flag the
        conversion ignores, a precision on %c, and '0' with a precision,
        which both still zero-pad."""
        conv, flags = self.conv, self.flags
        if conv in ("c", "s"):
            return flags in ("+", " ", "#", "0") or \
                (conv == "c" and self.precision is not None)
        if conv in ("u", "x", "X", "o", "p") and flags in ("+", " "):
            return True
        if conv in ("d", "i") and flags == "#":
            return True
        return conv != "%" and flags == "0" and self.precision is not None


Piece = Union[str, Conversion]


def parse_format(fmt: str, span) -> List[Piece]:
    pieces: List[Piece] = []
    pos = 0
    while True:
        start = fmt.find("%", pos)
        if start < 0:
            break
        if start > pos:
            pieces.append(fmt[pos:start])
        match = _SPEC.match(fmt, start)
        conv = match.group("conv")
        if conv == "%" and match.end() - start > 2:
            conv = match.group(0)[1:]
        if conv not in "diuxXoscp%" or not conv:
            raise StpcError(f"invalid or unsupported printf conversion "
                            f"'%{conv}' in format string", span,
                            hint="supported: %d %i %u %x %X %o %s %c %p %%, with at "
                            "most one of the flags - + space 0 #")
        pieces.append(Conversion(match.group("flags"),
                                 _number_or_star(match.group("width")),
                                 _number_or_star(match.group("prec")), conv))
        pos = match.end()
    if pos < len(fmt):
        pieces.append(fmt[pos:])
    return pieces


def _number_or_star(text: Optional[str]):
    if text is None or text == "*":
        return text
    return int(text)


def gcc_checkable(pieces: List[Piece]) -> bool:
    return not any(isinstance(p, Conversion) and p.gcc_rejects()
                   for p in pieces)


def format_arg_types(pieces: List[Piece]) -> List[T]:
    return [t for p in pieces if isinstance(p, Conversion)
            for t in p.arg_types()]


def kernel_format(pieces: List[Piece]) -> Tuple[str, List[str]]:
    """The vsnprintf format, and how to pass each argument: "long",
    "int", "string", or "octal" (a long shown as by ``%#o``, passed as a
    string because the kernel prints 0 as "0" where SystemTap prints
    "00")."""
    out = []
    args: List[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece.replace("%", "%%"))
            continue
        for part in (piece.width, piece.precision):
            if part == "*":
                args.append("int")
        if piece.conv == "o" and piece.flags == "#" and \
                piece.precision is None:
            width = "" if piece.width is None else str(piece.width)
            out.append(f"%{width}s")
            args.append("octal")
            continue
        out.append(piece.kernel_format())
        if piece.conv != "%":
            args.append({"s": "string", "c": "int"}.get(piece.conv, "long"))
    return "".join(out), args
