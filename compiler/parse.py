"""Pass 1: source text to syntax tree."""

from __future__ import annotations

import dataclasses
import functools
import re
from importlib import resources
from typing import Optional, Sequence, Tuple

import lark
from lark import Token, Transformer, v_args

from . import ast as A
from .errors import StpcError
from .preprocess import Preprocessed, PreprocessEnv, preprocess

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v", "\\": "\\", '"': '"', "'": "'"}

_SCRIPT_NUMBER = re.compile(r"-?(0[xX][0-9a-fA-F]+|[0-9]+)")

_TOKEN_NAMES = {
    "RBRACE": "'}'", "LBRACE": "'{'", "RPAR": "')'", "LPAR": "'('",
    "SEMICOLON": "';'", "COMMA": "','", "NAME": "identifier",
    "NUMBER": "number", "STRING": "string", "$END": "end of file",
}


class _EverywhereTokens:
    """A post-lexer passing every token on.  The lexer accepts these tokens
    everywhere, so that embedded C where it cannot stand is named where it
    starts (_syntax_error) rather than being a syntax error after it."""
    always_accept = ("EMBEDDED_C", "AT_NAME")

    def process(self, stream):
        return stream


@functools.lru_cache(maxsize=None)
def _parser() -> lark.Lark:
    grammar = resources.files(__package__).joinpath("stap.lark").read_text()
    return lark.Lark(grammar, parser="lalr", lexer="contextual",
                     propagate_positions=True, maybe_placeholders=True,
                     postlex=_EverywhereTokens(), cache=True)


def parse(source: str, file: str, args: Sequence[str] = (), *,
          env: Optional[PreprocessEnv] = None) -> A.Script:
    """Parse a whole script; a syntax error is raised as ``StpcError``.
    ``args`` are the script arguments that ``$N`` and ``@N`` stand for;
    ``env`` is the kernel the preprocessor's conditions ask about (the
    running one by default)."""
    env = env or PreprocessEnv.for_kernel()
    text = preprocess(source, file, env, args)
    try:
        tree = _parser().parse(text.text)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(exc, text, file, env.guru_mode) from None
    text.restore_positions(tree)
    _refuse_deep_nesting(tree, file)
    try:
        return _Builder(file, source, tuple(args),
                        env.guru_mode).transform(tree)
    except lark.exceptions.VisitError as exc:
        # a script argument that is missing or not a number
        if isinstance(exc.orig_exc, StpcError):
            raise exc.orig_exc from None
        raise


#: How deep the syntax tree may nest (parentheses, blocks, operator chains:
#: ``a + b + ...`` nests one level a term).  SystemTap takes 5,000 terms;
#: every pass recurses this deep, which driver.py's stack holds.
MAX_NESTING = 20_000


def _refuse_deep_nesting(tree: lark.Tree, file: str) -> None:
    """The script's syntax tree nests at most ``MAX_NESTING`` deep; past
    that, an error where it gets too deep (walked without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise StpcError(
                f"the script nests more than {MAX_NESTING:,} levels deep "
                "here", A.Span(file, node.meta.line, node.meta.column),
                hint="split long expressions and deeply nested blocks "
                     "with variables and functions")
        stack.extend((child, depth + 1) for child in node.children
                     if isinstance(child, lark.Tree))


def _syntax_error(exc, text: Preprocessed, file: str,
                  guru: bool) -> StpcError:
    source = text.source
    span = A.Span(file, exc.line if exc.line > 0 else 1,
                  exc.column if exc.column > 0 else 1)
    offset = exc.pos_in_stream if isinstance(
        exc, lark.exceptions.UnexpectedCharacters) else \
        getattr(getattr(exc, "token", None), "start_pos", None)
    expansion = ""
    if text.anchors and offset is not None:
        line, column, macro = text.place(offset)
        span = A.Span(file, line, column)
        expansion = f" (in expansion of @{macro})" if macro else ""
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        char = text.text[offset] if offset < len(text.text) else ""
        return StpcError(f"unexpected character {char!r}{expansion}", span)
    token = getattr(exc, "token", None)
    if getattr(token, "type", "") == "EMBEDDED_C":
        return _misplaced_embedded_c(span, guru)
    hint = _expected_hint(getattr(exc, "expected", ()))
    if isinstance(exc, lark.exceptions.UnexpectedEOF) or \
            exc.token.type == "$END":
        return StpcError("unexpected end of file", _end_span(source, file),
                         hint=hint)
    return StpcError(f"syntax error at '{exc.token}'{expansion}", span,
                     hint=hint)


def _misplaced_embedded_c(span: A.Span, guru: bool) -> StpcError:
    if not guru:
        return _embedded_c_refused(span)
    return StpcError("embedded C stands only at the top level or as a "
                     "function's body", span,
                     hint="put the C in a function (function f:long () "
                          "%{ ... %}) and call it here")


def _embedded_c_refused(span: A.Span) -> StpcError:
    """As stap 4.8: C inside the module needs guru mode."""
    return StpcError("embedded C needs guru mode (-g)", span,
                     hint="%{ ... %} runs unchecked in the kernel; stpc "
                          "takes it only with -g")


def _expected_hint(expected) -> Optional[str]:
    # the lexer accepts these anywhere, to name them (_EverywhereTokens)
    expected = set(expected) - set(_EverywhereTokens.always_accept)
    if "LBRACE" in expected:
        # after probe points, '=' would make an alias: a probe wants '{'
        expected.discard("EQUAL")
    names = sorted({_TOKEN_NAMES.get(t, t.lower()) for t in expected
                    if not t.startswith("__")})
    if not names or len(names) > 6:
        return None
    return "expected " + ", ".join(names)


def _end_span(source: str, file: str) -> A.Span:
    """Just past the last character of the script, on its last line."""
    text = source.rstrip()
    line = text.count("\n") + 1
    return A.Span(file, line, len(text.rsplit("\n", 1)[-1]) + 1)


def _unquote(token: Token) -> str:
    text = token[1:-1]
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in "01234567":
            digits = nxt
            while len(digits) < 3 and i + 1 + len(digits) < len(text) \
                    and text[i + 1 + len(digits)] in "01234567":
                digits += text[i + 1 + len(digits)]
            out.append(chr(int(digits, 8) & 0xFF))
            i += 1 + len(digits)
        elif nxt == "x":
            digits = ""
            while len(digits) < 2 and i + 2 + len(digits) < len(text) \
                    and text[i + 2 + len(digits)] in "0123456789abcdefABCDEF":
                digits += text[i + 2 + len(digits)]
            out.append(chr(int(digits or "0", 16)))
            i += 2 + len(digits)
        else:
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
    return "".join(out)


_HEX_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+")
_OCTAL_NUMBER = re.compile(r"0[0-7]*")
_DECIMAL_NUMBER = re.compile(r"[1-9][0-9]*")
#: more decimal digits than 2**64 - 1 has (and than Python converts)
_DECIMAL_DIGITS = 20


def _number(text: str, span: A.Span) -> int:
    """A literal's value; past 64 bits is an error, as in SystemTap (up to
    2**64 - 1 it wraps to a negative long there)."""
    if _HEX_NUMBER.fullmatch(text):
        value = int(text, 16)
    elif _OCTAL_NUMBER.fullmatch(text):
        value = int(text, 8)
    elif _DECIMAL_NUMBER.fullmatch(text):
        value = int(text) if len(text) <= _DECIMAL_DIGITS else 1 << 64
    else:
        raise StpcError(f"number '{_shown(text)}' invalid or out of range",
                        span, hint=_NUMBER_FORMS)
    if value >= 1 << 64:
        raise StpcError(f"number '{_shown(text)}' invalid or out of range",
                        span, hint="numbers are 64-bit: at most "
                                   "18446744073709551615 "
                                   "(0xffffffffffffffff)")
    return value


_NUMBER_FORMS = ("a number is decimal (1-9 then 0-9), octal (0 then 0-7) "
                 "or hexadecimal (0x then 0-9, a-f)")


def _shown(text: str, most: int = 40) -> str:
    """A literal as an error message quotes it: a long one shortened."""
    return text if len(text) <= most else f"{text[:most - 3]}..."


@v_args(meta=True)
class _Builder(Transformer):
    """Builds frozen AST nodes, each with the span of its principal token."""

    def __init__(self, file: str, source: str, args: Tuple[str, ...] = (),
                 guru: bool = False):
        super().__init__()
        self.file = file
        self.source = source
        self.args = args
        self.guru = guru    # -g: embedded C and target writes allowed

    def _span(self, item) -> A.Span:
        return A.Span(self.file, item.line, item.column)

    def _number(self, token: Token) -> int:
        return _number(str(token), self._span(token))

    # ---- declarations ----
    def start(self, meta, items):
        return A.Script(
            file=self.file, source=self.source,
            globals=tuple(g for decl in items if isinstance(decl, tuple)
                          for g in decl),
            functions=tuple(d for d in items if isinstance(d, A.Function)),
            probes=tuple(d for d in items if isinstance(d, A.Probe)),
            aliases=tuple(d for d in items if isinstance(d, A.Alias)),
            embedded=tuple(d for d in items if isinstance(d, A.EmbeddedC)))

    def embedded_c(self, meta, items):
        span = self._span(items[0])
        if not self.guru:
            raise _embedded_c_refused(span)
        return A.EmbeddedC(span, str(items[0])[2:-2])

    embedded_decl = embedded_c

    def probe_decl(self, meta, items):
        *points, body = items
        return A.Probe(self._span(meta), tuple(points), body)

    def alias_decl(self, meta, items):
        op = next(i for i in items if isinstance(i, Token))
        names = items[:items.index(op)]
        points, body = items[items.index(op) + 1:-1], items[-1]
        if len(names) > 1:
            # SystemTap 4.8 refuses it too, while parsing
            raise StpcError("a probe alias has one name", names[1].span,
                            hint=f"declare each name separately: probe "
                                 f"{names[1]} {op} ... {{ ... }}")
        _check_alias_name(names[0])
        return A.Alias(names[0].span, names[0], str(op) == "+=",
                       tuple(points), body)

    def alias_op(self, meta, items):
        return items[0]

    def private_decl(self, meta, items):
        decl = items[0]
        if isinstance(decl, A.Function):
            return dataclasses.replace(decl, private=True)
        return tuple(dataclasses.replace(g, private=True) for g in decl)

    def probe_point(self, meta, items):
        optional = bool(items) and isinstance(items[-1], Token) \
            and items[-1].type == "OPTIONAL_MARK"
        comps = items[:-1] if optional else items
        # "!" is optional too, and sufficient (stap: "A!, B" is A
        # when A resolves, else B)
        return A.ProbePoint(self._span(meta), tuple(comps), optional,
                            sufficient=optional and items[-1] == "!")

    def probe_component(self, meta, items):
        name, arg = items[0], (items[1] if len(items) > 1 else None)
        return A.ProbeComponent(self._span(name), str(name), arg)

    def pp_number(self, meta, items):
        return self._number(items[0])

    def pp_negative(self, meta, items):
        return -self._number(items[-1])

    def pp_string(self, meta, items):
        return _unquote(items[0])

    def pp_script_arg(self, meta, items):
        return self._script_arg(items[0])

    init_number, init_negative, init_string = pp_number, pp_negative, pp_string
    init_script_arg = pp_script_arg

    def _script_arg(self, token: Token):
        """What ``$N`` (a number) or ``@N`` (a string) stands for, as
        SystemTap substitutes it while parsing; ``$#``/``@#`` stand for
        how many arguments there are."""
        if token[1:] == "#":
            count = len(self.args)
            return str(count) if token.startswith("@") else count
        digits = token[1:].lstrip("0")
        # past 9 digits, more arguments than any command line holds
        index = int(digits or "0") if len(digits) <= 9 else 0
        if not 1 <= index <= len(self.args):
            raise StpcError(
                f"script argument '{_shown(token)}' not given "
                f"({len(self.args)} "
                "given)", self._span(token),
                hint="give script arguments after the script: "
                     "stpc SCRIPT.stp ARG1 ARG2 ...")
        text = self.args[index - 1]
        if token.startswith("@"):
            return text
        if not _SCRIPT_NUMBER.fullmatch(text):
            raise StpcError(f"script argument '{token}' is '{text}', not a "
                            "number", self._span(token),
                            hint=f"use @{index} for it as a string")
        negative = text.startswith("-")
        value = _number(text.lstrip("-"), self._span(token))
        return _wrap64(-value if negative else value)

    def script_arg(self, meta, items):
        value = self._script_arg(items[0])
        if isinstance(value, str):
            return A.StrLit(self._span(items[0]), value)
        return A.IntLit(self._span(items[0]), value)

    def global_decl(self, meta, items):
        return tuple(items)

    def global_item(self, meta, items):
        name, size, init = items[0], None, None
        for item in items[1:]:
            if isinstance(item, Token) and item.type == "NUMBER":
                size = self._number(item)
            else:
                init = item
        return A.Global(self._span(name), str(name), size, init)

    def function_decl(self, meta, items):
        name, rtype, *rest = items
        body, embedded = rest[-1], None
        if isinstance(body, A.EmbeddedC):
            body, embedded = A.Block(body.span, ()), body
        params = tuple(p for p in rest[:-1] if p is not None)
        return A.Function(self._span(name), str(name), rtype, params, body,
                          embedded=embedded)

    def param(self, meta, items):
        return A.Param(self._span(items[0]), str(items[0]), items[1])

    def type_suffix(self, meta, items):
        return str(items[0])

    # ---- statements ----
    def block(self, meta, items):
        return A.Block(self._span(meta), tuple(items))

    def empty_stmt(self, meta, items):
        return A.Empty(self._span(meta))

    def expr_stmt(self, meta, items):
        return A.ExprStmt(self._span(meta), items[0])

    def if_stmt(self, meta, items):
        cond, then = items[0], items[1]
        otherwise = items[2] if len(items) > 2 else None
        return A.If(self._span(meta), cond, then, otherwise)

    def while_stmt(self, meta, items):
        return A.While(self._span(meta), items[0], items[1])

    def for_stmt(self, meta, items):
        init, cond, step, body = items
        return A.For(self._span(meta), init, cond, step, body)

    def foreach_stmt(self, meta, items):
        (value_var, keys), _in, array = items[0], items[1], items[2]
        value_sort, limit, value_op = "", None, ""
        for item in items[3:-1]:
            if isinstance(item, Token) and item.type in ("PLUS", "MINUS"):
                value_sort = str(item)
            elif isinstance(item, Token) and item.type == "AT_NAME":
                value_op = str(item)    # statistics: sort by @sum ...
            elif item is not None:
                limit = item
        return A.Foreach(self._span(meta), value_var, keys, array,
                         value_sort, limit, items[-1], value_op)

    def foreach_head(self, meta, items):
        if len(items) == 2:
            return (str(items[0]), items[1])
        return (None, items[0])

    def foreach_keys(self, meta, items):
        return tuple(items)

    def foreach_key(self, meta, items):
        sort = str(items[1]) if len(items) > 1 else ""
        return A.ForeachKey(self._span(items[0]), str(items[0]), sort)

    def foreach_limit(self, meta, items):
        return items[0]

    def array_ref(self, meta, items):
        return str(items[0])

    def break_stmt(self, meta, items):
        return A.Break(self._span(items[0]))

    def continue_stmt(self, meta, items):
        return A.Continue(self._span(items[0]))

    def next_stmt(self, meta, items):
        return A.Next(self._span(items[0]))

    def return_stmt(self, meta, items):
        value = items[1] if len(items) > 1 else None
        return A.Return(self._span(items[0]), value)

    def delete_stmt(self, meta, items):
        return A.Delete(self._span(meta), items[0])

    def try_stmt(self, meta, items):
        body, var, handler = items[0], None, items[-1]
        if len(items) == 3:
            var = str(items[1])
        return A.TryCatch(self._span(meta), body, var, handler)

    # ---- expressions ----
    def _operator(self, meta, items):
        return items[0]

    assign_op = compare_op = shift_op = mul_op = crement_op = _operator

    def assign(self, meta, items):
        target, op, value = items
        if str(op) != "<<<" and not self.guru:
            _refuse_target_write(target)
        return A.Assign(self._span(op), str(op), target, value)

    def ternary(self, meta, items):
        cond, then, otherwise = items
        return A.Ternary(self._span(meta), cond, then, otherwise)

    def binary(self, meta, items):
        left, op, right = items
        return A.Binary(self._span(op), str(op), left, right)

    def in_array(self, meta, items):
        *keys, in_token, array = items
        return A.InArray(self._span(in_token), tuple(keys), array)

    def unary(self, meta, items):
        op, operand = items
        if str(op) == "-" and isinstance(operand, A.IntLit):
            return A.IntLit(self._span(op), _wrap64(-operand.value))
        return A.Unary(self._span(op), str(op), operand)

    def pre_crement(self, meta, items):
        op, target = items
        if not self.guru:
            _refuse_target_write(target)
        return A.Crement(self._span(op), str(op), target, True)

    def post_crement(self, meta, items):
        target, op = items
        if not self.guru:
            _refuse_target_write(target)
        return A.Crement(self._span(op), str(op), target, False)

    def number(self, meta, items):
        return A.IntLit(self._span(items[0]), _wrap64(self._number(items[0])))

    def string(self, meta, items):
        return A.StrLit(self._span(items[0]), _unquote(items[0]))

    def variable(self, meta, items):
        return A.Var(self._span(items[0]), str(items[0]))

    def index(self, meta, items):
        return A.Index(self._span(items[0]), str(items[0]), tuple(items[1:]))

    def call(self, meta, items):
        args = tuple(a for a in items[1:] if a is not None)
        return A.Call(self._span(items[0]), str(items[0]), args)

    def at_op(self, meta, items):
        name = items[0]
        suffixes = [i for i in items[1:] if isinstance(i, _Suffix)]
        args = tuple(a for a in items[1:]
                     if a is not None and not isinstance(a, _Suffix))
        if str(name) in _TARGET_AT_OPS:
            base = A.AtOp(self._span(name), str(name), args)
        else:
            base = A.StatOp(self._span(name), str(name), args)
        return _apply_suffixes(base, suffixes)

    def target(self, meta, items):
        token, suffixes = items[0], items[1:]
        text, *members = str(token).split(".")
        context = text.startswith("$$")
        pretty = len(text) > 2 and text.endswith("$")
        base = A.TargetVar(self._span(token), text.strip("$"), context,
                           pretty)
        column = token.column + len(text)
        for name in members:       # $var.member: like ->member
            base = A.Member(A.Span(self.file, token.line, column), base,
                            name)
            column += 1 + len(name)
        return _apply_suffixes(base, suffixes)

    def member_suffix(self, meta, items):
        arrow, name = items
        return _Suffix(self._span(arrow), name=str(name))

    def index_suffix(self, meta, items):
        return _Suffix(A.Span(self.file, meta.line, meta.column),
                       index=items[0])

    def address_of(self, meta, items):
        op, operand = items
        return A.AddressOf(self._span(op), operand)


_TARGET_AT_OPS = {"@cast", "@entry", "@defined", "@var"}


def _check_alias_name(name: A.ProbePoint) -> None:
    """An alias is named by plain words, as in SystemTap: a probe on it
    may have arguments and wildcards, its name none."""
    for comp in name.components:
        if comp.arg is not None:
            raise StpcError(f"alias name component '{comp.name}' has an "
                            "argument", comp.span,
                            hint="a probe alias is named by words only, "
                                 "like probe my.read = ...")
        if "*" in comp.name:
            raise StpcError("a wildcard in a probe alias name", comp.span,
                            hint="name the alias; the probes using it may "
                                 "use wildcards")
    if name.optional:
        mark = "sufficient" if name.sufficient else "optional"
        raise StpcError(f"a probe alias name cannot be {mark}", name.span,
                        hint="mark the probe points it stands for, or the "
                             "probes using it, with '?'")


def _refuse_target_write(target) -> None:
    """Writing kernel memory (``$var = 1``, ``$p->field++``) needs guru
    mode (-g), as in SystemTap."""
    base = target
    while isinstance(base, (A.Member, A.Subscript)):
        base = base.base
    if isinstance(base, (A.TargetVar, A.AtOp)):
        raise StpcError("writing a target variable needs guru mode (-g)",
                        target.span,
                        hint="without -g, copy the value into a script "
                             "variable and change that")


class _Suffix:
    """A ``->name`` or ``[index]`` waiting for its base."""

    def __init__(self, span: A.Span, name: str = "", index=None):
        self.span, self.name, self.index = span, name, index


def _apply_suffixes(base, suffixes):
    for suffix in suffixes:
        if suffix.index is not None:
            base = A.Subscript(suffix.span, base, suffix.index)
        else:
            base = A.Member(suffix.span, base, suffix.name)
    return base


def _wrap64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value
