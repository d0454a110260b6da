"""Pass 1's preprocessor, run before lark: SystemTap's macros (``@define
NAME %( BODY %)``, used as ``@NAME``) and conditionals (``%( CONDITION %?
TOKENS %: TOKENS %)``).

As in SystemTap 4.8, it works on tokens, in one pass: the conditionals
keep one branch each, and macros are defined and expanded in the tokens
kept.  The text lark parses is made of the kept tokens;
``Preprocessed`` maps every offset of it back to the script, so that spans
point into the original file (a token of a macro's body to the place the
macro is used).
"""

from __future__ import annotations

import bisect
import fnmatch
import functools
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, \
    Tuple

import lark

from . import ast as A
from .errors import StpcError, nearest

#: The SystemTap release whose language stpc speaks (``systemtap_v``)
SYSTEMTAP_VERSION = "4.8"
#: How deep macros may expand inside macros (one expanding into itself
#: never ends), and how many tokens all expansions may make
MAX_MACRO_DEPTH = 64
MAX_EXPANDED_TOKENS = 1_000_000


# ---- the environment conditions ask about ------------------------------

def _stap_arch(machine: str) -> str:
    """The kernel build system's name for a machine, as SystemTap's
    ``arch`` says it (``uname -m`` names, normalized)."""
    for pattern, arch in (("i?86", "i386"), ("aarch64", "arm64"),
                          ("arm*", "arm"), ("s390x", "s390"),
                          ("ppc64*", "powerpc"), ("mips*", "mips")):
        if fnmatch.fnmatchcase(machine, pattern):
            return arch
    return machine


@functools.lru_cache(maxsize=8)
def _config_values(path: Optional[Path]) -> Dict[str, str]:
    """``CONFIG_NAME=VALUE`` lines of a kernel's ``.config``; the value as
    written (SystemTap keeps a string's quotes)."""
    if path is None:
        return {}
    values = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        name, equal, value = line.partition("=")
        if equal and name.startswith("CONFIG_"):
            values[name] = value
    return values


def config_file(release: str, build_tree: Optional[Path] = None
                ) -> Optional[Path]:
    """The kernel configuration of ``release``: its build tree's
    ``.config``, else ``/boot/config-RELEASE``; None when neither is."""
    tree = build_tree or Path("/lib/modules") / release / "build"
    for candidate in (tree / ".config", Path("/boot") / f"config-{release}"):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class PreprocessEnv:
    """What the conditions ``kernel_v``, ``kernel_vr``, ``arch``,
    ``CONFIG_...`` and ``guru_mode`` are compared with."""
    kernel_release: str
    arch: str = field(default_factory=lambda: _stap_arch(platform.machine()))
    config_path: Optional[Path] = None
    guru_mode: bool = False

    @classmethod
    def for_kernel(cls, release: Optional[str] = None,
                   build_tree: Optional[Path] = None) -> "PreprocessEnv":
        """The kernel ``release`` (the running one by default), its
        configuration read from ``build_tree`` or where kbuild has it."""
        release = release or os.uname().release
        return cls(release, config_path=config_file(release, build_tree))

    def config(self, name: str) -> str:
        """A configuration option's value; "" when unset (as in stap)."""
        return _config_values(self.config_path).get(name, "")


# ---- tokens --------------------------------------------------------------

_LEXEME = re.compile(r"""
    (?P<space>\s+|\#[^\n]*|//[^\n]*|/\*[\s\S]*?\*/)
  | (?P<embedded>%\{[\s\S]*?%\})
  | (?P<pp>%[(?:)])
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<arg>[$@](?:[0-9]+|\#))
  | (?P<define>@define(?![A-Za-z0-9_]))
  | (?P<at>@[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<number>[0-9][0-9A-Za-z]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[\s\S])
""", re.VERBOSE)


class _Use(NamedTuple):
    """The outermost macro use a token was expanded from."""
    offset: int
    macro: str


class _Token(NamedTuple):
    kind: str
    text: str
    start: int
    index: int              # in the file's tokens: adjacent ones touch
    use: Optional[_Use] = None

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _tokens(source: str) -> List[_Token]:
    # the last alternative takes any character: the matches tile the text
    matches = (m for m in _LEXEME.finditer(source) if m.lastgroup != "space")
    return [_Token(match.lastgroup, match.group(), match.start(), index)
            for index, match in enumerate(matches)]


# ---- the text lark parses, and its way back to the script ----------------

class _Anchor(NamedTuple):
    out: int                # where in the parsed text
    source: int             # stands for this offset of the script
    follows: bool           # later offsets follow on (else all are here)
    macro: Optional[str]    # expanded from this macro's body


@dataclass(frozen=True)
class Preprocessed:
    """The text to parse; ``anchors`` empty when it is the script."""
    text: str
    source: str
    anchors: Tuple[_Anchor, ...] = ()

    @functools.cached_property
    def _outs(self) -> List[int]:
        return [anchor.out for anchor in self.anchors]

    @functools.cached_property
    def _line_starts(self) -> List[int]:
        return [0] + [m.end() for m in re.finditer("\n", self.source)]

    def place(self, offset: int) -> Tuple[int, int, Optional[str]]:
        """Line, column and macro (or None) of an offset of ``text``."""
        source_offset, macro = offset, None
        if self.anchors:
            anchor = self.anchors[
                max(bisect.bisect_right(self._outs, offset) - 1, 0)]
            source_offset, macro = anchor.source, anchor.macro
            if anchor.follows:
                source_offset += max(offset - anchor.out, 0)
        line = bisect.bisect_right(self._line_starts, source_offset)
        return line, source_offset - self._line_starts[line - 1] + 1, macro

    def restore_positions(self, tree: lark.Tree) -> None:
        """Give the tree's tokens and nodes their lines and columns in the
        script (lark counted them in ``text``)."""
        if not self.anchors:
            return
        for node in tree.iter_subtrees():
            if not getattr(node.meta, "empty", True):
                node.meta.line, node.meta.column, _ = \
                    self.place(node.meta.start_pos)
            for child in node.children:
                if isinstance(child, lark.Token) and \
                        child.start_pos is not None:
                    child.line, child.column, _ = self.place(child.start_pos)


def _joined(source: str, tokens: Sequence[_Token]) -> Preprocessed:
    """The kept tokens as text: the script's own text between tokens that
    follow each other there, a space elsewhere."""
    pieces: List[str] = []
    anchors: List[_Anchor] = []
    length = 0
    previous: Optional[_Token] = None
    for token in tokens:
        if previous is not None and token.index == previous.index + 1 \
                and token.use == previous.use:
            piece = source[previous.end:token.end]
        else:
            piece = " " + token.text
            use = token.use
            anchors.append(_Anchor(length + 1,
                                   use.offset if use else token.start,
                                   use is None, use.macro if use else None))
        pieces.append(piece)
        length += len(piece)
        previous = token
    return Preprocessed("".join(pieces) + "\n", source, tuple(anchors))


def _span(source: str, file: str, offset: int) -> A.Span:
    line, column, _ = Preprocessed(source, source).place(offset)
    return A.Span(file, line, column)


# ---- entry point -----------------------------------------------------------

_DIRECTIVES = re.compile(r"%[()?:]|@define")


def preprocess(source: str, file: str, env: PreprocessEnv,
               args: Sequence[str] = ()) -> Preprocessed:
    """The script with its macros expanded and its conditionals decided;
    the script itself when it has neither."""
    if not _DIRECTIVES.search(source):
        return Preprocessed(source, source)
    tokens = _tokens(source)
    if not any(t.kind in ("pp", "define") for t in tokens):
        return Preprocessed(source, source)
    errors = _Errors(source, file)
    kept = _Selector(errors, _Conditions(errors, env, tuple(args))) \
        .select(_Stream(tokens, errors))
    return _joined(source, kept)


class _Errors:
    """Makes located errors; a token of a macro's body is placed where the
    macro is used, and the message says so."""

    def __init__(self, source: str, file: str):
        self.source, self.file = source, file

    def at(self, token: Optional[_Token], message: str,
           hint: Optional[str] = None, fallback: int = 0) -> StpcError:
        offset = fallback if token is None else \
            (token.use.offset if token.use else token.start)
        if token is not None and token.use:
            message += f" (in expansion of @{token.use.macro})"
        return StpcError(message, _span(self.source, self.file, offset),
                         hint=hint)


def _shown(token: Optional[_Token]) -> str:
    return "end of file" if token is None else f"'{token.text}'"


# ---- macros ----------------------------------------------------------------

@dataclass(frozen=True)
class _Macro:
    name: _Token
    params: Optional[Tuple[str, ...]]     # None: used without parentheses
    body: Tuple[_Token, ...]


class _Frame:
    """Tokens being read: the file's, or a macro's body at one use."""

    def __init__(self, tokens: Sequence[_Token], depth: int):
        self.tokens, self.depth, self.position = tokens, depth, 0


class _Stream:
    """The file's tokens in order.  While expanding, ``@define`` registers
    a macro for the rest of the file, and ``@NAME`` after it reads as the
    body, its ``@PARAM``s replaced by the arguments.  As in SystemTap 4.8
    (its manual says otherwise), nothing is expanded or defined in a
    branch not taken."""

    def __init__(self, tokens: Sequence[_Token], errors: _Errors):
        self.errors = errors
        self.frames = [_Frame(tokens, 0)]
        self.macros: Dict[str, _Macro] = {}
        self.made = 0

    def next(self, expanding: bool) -> Optional[_Token]:
        while self.frames:
            frame = self.frames[-1]
            if frame.position == len(frame.tokens):
                self.frames.pop()
                continue
            token = frame.tokens[frame.position]
            if expanding and token.kind == "define":
                frame.position = self._define(frame.tokens,
                                              frame.position + 1)
            elif expanding and token.kind == "at" and \
                    token.text[1:] in self.macros:
                body, frame.position = self._use(frame.tokens,
                                                 frame.position, frame.depth)
                self.frames.append(_Frame(body, frame.depth + 1))
            else:
                frame.position += 1
                return token
        return None

    def _define(self, tokens: Sequence[_Token], position: int) -> int:
        name = _at(tokens, position)
        if name is None or name.kind != "name":
            raise self.errors.at(name, f"expected a macro name after "
                                 f"@define, not {_shown(name)}",
                                 fallback=tokens[position - 1].start)
        params: Optional[Tuple[str, ...]] = None
        position += 1
        if _text(tokens, position) == "(":
            params, position = self._params(tokens, position + 1)
        opening = _at(tokens, position)
        if _text(tokens, position) != "%(":
            raise self.errors.at(opening, f"expected '%(' or '(' after "
                                 f"@define {name.text}, not "
                                 f"{_shown(opening)}",
                                 fallback=name.start,
                                 hint="@define NAME %( BODY %) or "
                                      "@define NAME(A, B) %( BODY %)")
        end = _closing(tokens, position)
        if end is None:
            raise self.errors.at(name, f"macro @{name.text} has no '%)' "
                                 "closing its body")
        earlier = self.macros.get(name.text)
        if earlier is not None:
            line, _, _ = Preprocessed(self.errors.source,
                                      self.errors.source).place(
                                          earlier.name.start)
            raise self.errors.at(name, f"macro @{name.text} is already "
                                 f"defined (line {line})")
        self.macros[name.text] = _Macro(name, params,
                                        tuple(tokens[position + 1:end]))
        return end + 1

    def _params(self, tokens: Sequence[_Token], position: int
                ) -> Tuple[Tuple[str, ...], int]:
        params: List[str] = []
        while True:
            token = _at(tokens, position)
            if token is None or token.kind != "name":
                raise self.errors.at(token, "expected a parameter name, not "
                                     f"{_shown(token)}",
                                     fallback=tokens[position - 1].start)
            params.append(token.text)
            after = _text(tokens, position + 1)
            if after == ")":
                return tuple(params), position + 2
            if after != ",":
                raise self.errors.at(_at(tokens, position + 1),
                                     "expected ',' or ')' after a "
                                     "parameter, not "
                                     f"{_shown(_at(tokens, position + 1))}",
                                     fallback=token.start)
            position += 2

    def _use(self, tokens: Sequence[_Token], position: int, depth: int
             ) -> Tuple[List[_Token], int]:
        use = tokens[position]
        macro = self.macros[use.text[1:]]
        if depth >= MAX_MACRO_DEPTH:
            raise self.errors.at(use, f"macro {use.text} expands into "
                                 "itself, or macros nest more than "
                                 f"{MAX_MACRO_DEPTH} deep")
        args: Dict[str, List[_Token]] = {}
        position += 1
        if macro.params is not None:
            values, position = self._args(tokens, position, use, macro)
            args = dict(zip(macro.params, values))
        site = use.use or _Use(use.start, use.text[1:])
        body: List[_Token] = []
        for token in macro.body:
            if token.kind == "at" and token.text[1:] in args:
                body.extend(args[token.text[1:]])
            else:
                body.append(token._replace(use=site))
        self.made += len(body)
        if self.made > MAX_EXPANDED_TOKENS:
            raise self.errors.at(use, f"macros expand into more than "
                                 f"{MAX_EXPANDED_TOKENS:,} tokens")
        return body, position

    def _args(self, tokens: Sequence[_Token], position: int, use: _Token,
              macro: _Macro) -> Tuple[List[List[_Token]], int]:
        """The arguments of ``@NAME(A, B)``: split at the commas outside
        brackets."""
        wanted = len(macro.params or ())
        if _text(tokens, position) != "(":
            raise self.errors.at(_at(tokens, position),
                                 f"expected '(' after {use.text}, which "
                                 f"takes {_arguments(wanted)}",
                                 fallback=use.start)
        values: List[List[_Token]] = [[]]
        nesting = 0
        for index in range(position + 1, len(tokens)):
            token = tokens[index]
            if nesting == 0 and token.text == "," and len(values) == wanted:
                raise self.errors.at(token, f"{use.text} takes "
                                     f"{_arguments(wanted)}, more given")
            if nesting == 0 and token.text == ")":
                if len(values) != wanted:
                    raise self.errors.at(token, f"{use.text} takes "
                                         f"{_arguments(wanted)}, "
                                         f"{len(values)} given")
                return values, index + 1
            if nesting == 0 and token.text == ",":
                values.append([])
                continue
            nesting += (token.text in "([{") - (token.text in ")]}")
            values[-1].append(token)
        raise self.errors.at(use, f"{use.text}( has no ')'")


def _arguments(count: int) -> str:
    return f"{count} argument{'s' if count != 1 else ''}"


def _at(tokens: Sequence[_Token], position: int) -> Optional[_Token]:
    return tokens[position] if position < len(tokens) else None


def _text(tokens: Sequence[_Token], position: int) -> str:
    token = _at(tokens, position)
    return "" if token is None else token.text


def _closing(tokens: Sequence[_Token], opening: int) -> Optional[int]:
    """The index of the ``%)`` matching the ``%(`` at ``opening``."""
    nesting = 0
    for index in range(opening, len(tokens)):
        nesting += {"%(": 1, "%)": -1}.get(tokens[index].text, 0)
        if nesting == 0:
            return index
    return None


# ---- conditionals ------------------------------------------------------------

class _Branch:
    """An open ``%(``: its condition's value, and which part we are in."""

    def __init__(self, opening: _Token, value: bool, live: bool):
        self.opening, self.value, self.live = opening, value, live
        self.otherwise: Optional[_Token] = None     # the %: once seen

    @property
    def keeps(self) -> bool:
        return self.live and self.value == (self.otherwise is None)


class _Selector:
    """Keeps the tokens of the branches whose conditions hold.  Inside a
    branch not taken, nested conditionals are skipped unread, as in
    SystemTap."""

    def __init__(self, errors: _Errors, conditions: "_Conditions"):
        self.errors, self.conditions = errors, conditions

    def select(self, stream: _Stream) -> List[_Token]:
        kept: List[_Token] = []
        open_branches: List[_Branch] = []
        while True:
            live = not open_branches or open_branches[-1].keeps
            token = stream.next(expanding=live)
            if token is None:
                break
            if token.text == "%(":
                value = live and self._decide(stream, token)
                open_branches.append(_Branch(token, value, live))
            elif token.kind == "pp":
                self._close_part(token, open_branches, live)
            elif live:
                kept.append(token)
        if open_branches:
            raise self.errors.at(open_branches[-1].opening,
                                 "'%(' has no '%)' closing it",
                                 hint="%( CONDITION %? TOKENS %: TOKENS %)")
        return kept

    def _decide(self, stream: _Stream, opening: _Token) -> bool:
        """The condition after ``opening``, read through its ``%?``."""
        condition: List[_Token] = []
        while not condition or condition[-1].kind != "pp":
            token = stream.next(expanding=True)
            if token is None:
                break
            condition.append(token)
        if not condition:
            raise self.errors.at(opening, "'%(' has no condition after it")
        value, position = self.conditions.decide(condition, 0)
        if _text(condition, position) != "%?":
            raise self._expected_then(condition, position, opening)
        return value

    def _expected_then(self, tokens: Sequence[_Token], position: int,
                       opening: _Token) -> StpcError:
        token = _at(tokens, position)
        return self.errors.at(token, "expected '%?' after the condition, "
                              f"not {_shown(token)}", fallback=opening.start,
                              hint="%( CONDITION %? TOKENS %: TOKENS %); "
                                   "join conditions with && and ||")

    def _close_part(self, token: _Token, open_branches: List[_Branch],
                    live: bool) -> None:
        if not open_branches:
            raise self.errors.at(token, f"'{token.text}' without '%(' "
                                 "before it",
                                 hint="%( CONDITION %? TOKENS %: TOKENS %)")
        branch = open_branches[-1]
        if token.text == "%)":
            open_branches.pop()
        elif not branch.live:
            return
        elif token.text == "%?":
            raise self.errors.at(token, "a second '%?' in one conditional")
        elif branch.otherwise is not None:
            raise self.errors.at(token, "a second '%:' in one conditional")
        else:
            branch.otherwise = token


class _Value(NamedTuple):
    kind: str           # "string" or "number"
    value: object
    token: _Token


_COMPARISONS: Dict[str, Callable[[int], bool]] = {
    "==": lambda c: c == 0, "!=": lambda c: c != 0, "<": lambda c: c < 0,
    "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0}
_EQUALITY = ("==", "!=")
_DECIMAL = re.compile("[0-9]+")
_SUBJECTS = ("arch", "kernel_v", "kernel_vr", "systemtap_v", "runtime",
             "systemtap_privilege", "guru_mode", "CONFIG_...")


class _Conditions:
    """Decides a condition: comparisons joined by ``&&`` and ``||`` (which
    binds less); no parentheses, as in SystemTap 4.8."""

    def __init__(self, errors: _Errors, env: PreprocessEnv,
                 args: Tuple[str, ...]):
        self.errors, self.env, self.args = errors, env, args

    def decide(self, tokens: Sequence[_Token], position: int
               ) -> Tuple[bool, int]:
        return self._joined(tokens, position, "||")

    def _joined(self, tokens: Sequence[_Token], position: int, joiner: str
                ) -> Tuple[bool, int]:
        """Terms joined by ``joiner``: by ``||`` terms joined by ``&&``,
        by ``&&`` comparisons; every one is read, to check it."""
        values: List[bool] = []
        while not values or _text(tokens, position) == joiner:
            position += bool(values)
            if joiner == "||":
                value, position = self._joined(tokens, position, "&&")
            else:
                value, position = self._comparison(tokens, position)
            values.append(value)
        return (any(values) if joiner == "||" else all(values)), position

    def _comparison(self, tokens: Sequence[_Token], position: int
                    ) -> Tuple[bool, int]:
        left = self._operand(tokens, position)
        operator = _at(tokens, position + 1)
        if operator is None or operator.text not in _COMPARISONS:
            raise self.errors.at(operator, "expected a comparison operator, "
                                 f"not {_shown(operator)}",
                                 fallback=left.token.start)
        right = self._operand(tokens, position + 2)
        return self._compare(left, operator, right), position + 3

    def _operand(self, tokens: Sequence[_Token], position: int) -> _Value:
        token = _at(tokens, position)
        if token is None:
            raise self.errors.at(None, "the condition ends too early",
                                 fallback=tokens[-1].start)
        if token.kind == "arg":
            return self._script_arg(token)
        if token.kind == "string":
            return _Value("string", _unquoted(token.text), token)
        if token.kind == "number":
            return _Value("number", self._number(token), token)
        if token.kind == "name" and (token.text in _SUBJECTS
                                     or token.text.startswith("CONFIG_")):
            return _Value("name", token.text, token)
        hint = nearest(token.text, _SUBJECTS) if token.kind == "name" \
            else None
        raise self.errors.at(
            token, "a condition compares "
            + ", ".join(f"'{s}'" for s in _SUBJECTS)
            + f" or two strings or numbers, not {_shown(token)}", hint=hint)

    def _compare(self, left: _Value, operator: _Token, right: _Value
                 ) -> bool:
        op, name = operator.text, str(left.value)
        if left.kind in ("string", "number"):
            self._expect(right, left.kind)
            difference = (left.value > right.value) - \
                (left.value < right.value)
            return _COMPARISONS[op](difference)
        if name in ("kernel_v", "kernel_vr", "systemtap_v"):
            self._expect(right, "string")
            actual = {"kernel_v": self.env.kernel_release.split("-")[0],
                      "kernel_vr": self.env.kernel_release,
                      "systemtap_v": SYSTEMTAP_VERSION}[name]
            if op in _EQUALITY and any(c in right.value for c in "*?["):
                return _matches(actual, right.value) == (op == "==")
            return _COMPARISONS[op](version_compare(actual, right.value))
        if op not in _EQUALITY:
            raise self.errors.at(operator, f"'{name}' compares only with == "
                                 f"or !=, not {op}")
        if name == "guru_mode":
            self._expect(right, "number")
            return (right.value == int(self.env.guru_mode)) == (op == "==")
        self._expect(right, "string")
        actual = self._config(left.token) if name.startswith("CONFIG_") \
            else {"arch": self.env.arch, "runtime": "kernel",
                  "systemtap_privilege": "stapdev"}[name]
        return _matches(actual, right.value) == (op == "==")

    def _config(self, token: _Token) -> str:
        if self.env.config_path is None:
            release = self.env.kernel_release
            raise self.errors.at(token, "no kernel configuration to read "
                                 f"{token.text} from: neither "
                                 f"/lib/modules/{release}/build/.config nor "
                                 f"/boot/config-{release} is there",
                                 hint="install the kernel's headers, or "
                                      "name its build tree with -r DIR")
        return self.env.config(token.text)

    def _expect(self, value: _Value, kind: str) -> None:
        if value.kind != kind:
            raise self.errors.at(value.token, f"expected a {kind}, not "
                                 f"{_shown(value.token)}")

    def _number(self, token: _Token) -> int:
        """Numbers in conditions are decimal, as SystemTap reads them
        (``010`` is ten there)."""
        if not _DECIMAL.fullmatch(token.text):
            raise self.errors.at(token, f"number '{token.text}' in a "
                                 "condition is not decimal")
        return int(token.text)

    def _script_arg(self, token: _Token) -> _Value:
        """``$N`` a number, ``@N`` a string, ``$#`` and ``@#`` their
        count, as SystemTap substitutes them before deciding."""
        if token.text[1:] == "#":
            text = str(len(self.args))
        else:
            index = int(token.text[1:])
            if not 1 <= index <= len(self.args):
                raise self.errors.at(token, f"script argument "
                                     f"'{token.text}' not given "
                                     f"({len(self.args)} given)")
            text = self.args[index - 1]
        if token.text.startswith("@"):
            return _Value("string", text, token)
        if not _DECIMAL.fullmatch(text):
            raise self.errors.at(token, f"script argument '{token.text}' "
                                 f"is '{text}', not a number")
        return _Value("number", self._number(token._replace(text=text)),
                      token)


def _unquoted(text: str) -> str:
    """A string literal's characters (escapes as written: conditions only
    compare them)."""
    return text[1:-1]


def _matches(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


# ---- versions --------------------------------------------------------------

def _kind(text: str, index: int) -> str:
    """What the character at ``index`` is: "0", a digit "d", else "x"
    (the end of the text too)."""
    char = text[index] if index < len(text) else ""
    return "0" if char == "0" else "d" if char.isdigit() else "x"


def _digits_after(text: str, index: int) -> int:
    count = 0
    while index + count < len(text) and text[index + count].isdigit():
        count += 1
    return count


def version_compare(left: str, right: str) -> int:
    """Negative, zero or positive, as glibc's ``strverscmp`` orders
    versions: digit runs compare as numbers; a run with leading zeros as
    a fraction, before any integer (000 < 00 < 01 < 010 < 09 < 0 < 1 <
    9 < 10)."""
    if left == right:
        return 0
    index = 0
    while index < min(len(left), len(right)) and \
            left[index] == right[index]:
        index += 1
    run = index
    while run > 0 and left[run - 1].isdigit():
        run -= 1
    prefix = left[run:index]
    kinds = _kind(left, index) + _kind(right, index)
    by_char = (ord(left[index]) if index < len(left) else 0) - \
        (ord(right[index]) if index < len(right) else 0)
    if prefix and prefix.strip("0") == "":          # only zeros so far
        return {"xd": 1, "x0": 1, "dx": -1, "0x": -1}.get(kinds, by_char)
    if prefix.startswith("0"):                      # a fraction
        return by_char
    if "x" in kinds:
        return {"xd": -1, "x0": -1, "dx": 1, "0x": 1}.get(kinds, by_char) \
            if prefix else by_char
    if not prefix and "0" in kinds:
        return by_char
    longer = _digits_after(left, index + 1) - _digits_after(right, index + 1)
    return (longer > 0) - (longer < 0) or by_char
