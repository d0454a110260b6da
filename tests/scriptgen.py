"""Hypothesis strategies for SystemTap scripts, for tests/test_property.py.

``scripts()`` draws well-typed scripts over the language of
docs/language.md: every variable gets its type from a typed write, every
loop is bounded, functions call only functions declared before them (no
recursion), and nothing modifies an array inside a foreach over it.
``mutants()`` draws such a script and breaks it at the token level, so it
may be unparsable or ill-typed.

Names carry their kind in a prefix (g global, a array, s statistic,
f function, p parameter, x local, i loop counter) so that no local can
capture a global by accident.
"""

from __future__ import annotations

import functools
import re
import textwrap
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from hypothesis import strategies as st

LONG, STRING = "long", "string"
TYPES = (LONG, STRING)
MAX_DEPTH = 3            # expression nesting
MAX_NESTING = 2          # statement nesting (blocks inside blocks)
LOOP_BOUND = 4           # iterations of generated while/for loops

_LITERAL_CHARS = "abcXYZ019 -_:,.=[]()?<>%"
_ESCAPES = ("\\n", "\\t", "\\\\", '\\"', "\\101", "\\x41")


@functools.lru_cache(maxsize=None)
def _integers(low: int, high: int):
    return st.integers(low, high)


@dataclass(frozen=True)
class ArrayDecl:
    name: str
    keys: Tuple[str, ...]
    value: str


@dataclass(frozen=True)
class StatDecl:
    name: str
    hist: str            # the one histogram it is printed as, "{}" = name


@dataclass(frozen=True)
class FunctionDecl:
    name: str
    params: Tuple[Tuple[str, str], ...]
    ret: Optional[str]


@dataclass
class Declarations:
    """What every body can see; ``functions`` grows as bodies are written,
    so a body calls only functions declared before it."""
    scalars: Dict[str, str]
    initialised: Set[str]
    arrays: List[ArrayDecl]
    stats: List[StatDecl]
    functions: List[FunctionDecl] = field(default_factory=list)


@dataclass
class Scope:
    locals: Dict[str, str]
    function: Optional[FunctionDecl]
    readonly: Set[str] = field(default_factory=set)   # loop counters
    frozen: Set[str] = field(default_factory=set)     # arrays being iterated
    loops: int = 0
    fresh: int = 0


class _Writer:
    """Writes text for one script; ``draw`` makes every choice."""

    def __init__(self, draw, decls: Declarations):
        self.draw = draw
        self.decls = decls
        self.scope = Scope({}, None)
        self.nesting = 0

    # -- choices (integers only: much faster to draw than sampled_from) --
    def pick(self, items):
        items = list(items)
        return items[self.count(0, len(items) - 1)]

    def chance(self, percent: int) -> bool:
        return self.count(0, 99) < percent

    def count(self, low: int, high: int) -> int:
        return self.draw(_integers(low, high))

    def fresh(self, prefix: str) -> str:
        self.scope.fresh += 1
        return f"{prefix}{self.scope.fresh}"

    # -- names by type --
    def readable(self, t: str) -> List[str]:
        local = [n for n, lt in self.scope.locals.items() if lt == t]
        return local + [n for n, gt in self.decls.scalars.items() if gt == t]

    def writable(self, t: str) -> List[str]:
        return [n for n in self.readable(t) if n not in self.scope.readonly]

    def arrays(self, value: str, writing: bool = False) -> List[ArrayDecl]:
        return [a for a in self.decls.arrays if a.value == value and
                not (writing and a.name in self.scope.frozen)]

    def functions(self, ret: Optional[str]) -> List[FunctionDecl]:
        return [f for f in self.decls.functions if f.ret == ret]

    # -- literals --
    def string_literal(self) -> str:
        parts = []
        for _ in range(self.count(0, 6)):
            if self.chance(15):
                parts.append(self.pick(_ESCAPES))
            else:
                parts.append(self.pick(_LITERAL_CHARS))
        return '"' + "".join(parts) + '"'

    def number(self) -> str:
        return self.pick((str(self.count(0, 100)), str(self.count(-5, -1)),
                          hex(self.count(0, 4096)), "017", "0",
                          "9223372036854775807", "-9223372036854775808"))

    # -- expressions --
    def expr(self, t: str, depth: int = MAX_DEPTH) -> str:
        if depth <= 0 or self.chance(30):
            return self.leaf(t)
        makers = self.LONG_MAKERS if t == LONG else self.STRING_MAKERS
        return self.pick(makers)(self, depth - 1)

    def leaf(self, t: str) -> str:
        options = [self.literal] * 2 + [self.variable] * 2 + \
            [self.array_read, self.builtin_value]
        if t == LONG:
            options += [self.membership, self.stat_total]
        return self.pick(options)(t)

    def literal(self, t: str) -> str:
        return self.number() if t == LONG else self.string_literal()

    def variable(self, t: str) -> str:
        names = self.readable(t)
        return self.pick(names) if names else self.literal(t)

    def keys(self, array: ArrayDecl, depth: int = 1) -> str:
        return ", ".join(self.expr(k, depth) for k in array.keys)

    def array_read(self, t: str) -> str:
        arrays = self.arrays(t)
        if not arrays:
            return self.literal(t)
        array = self.pick(arrays)
        return f"{array.name}[{self.keys(array)}]"

    def membership(self, t: str) -> str:
        if not self.decls.arrays:
            return self.literal(t)
        array = self.pick(self.decls.arrays)
        if len(array.keys) == 1 and self.chance(50):
            return f"({self.expr(array.keys[0], 1)} in {array.name})"
        return f"([{self.keys(array)}] in {array.name})"

    def stat_total(self, t: str) -> str:
        if not self.decls.stats:
            return self.literal(t)
        op = self.pick(("@count", "@sum"))
        return f"{op}({self.pick(self.decls.stats).name})"

    def builtin_value(self, t: str) -> str:
        if t == STRING:
            return self.pick(("execname()", "pp()"))
        if self.chance(20):
            return f"strlen({self.expr(STRING, 1)})"
        return self.pick(("pid()", "tid()", "ppid()", "uid()", "cpu()",
                          "target()", "jiffies()", "local_clock_ns()",
                          "gettimeofday_s()", "gettimeofday_ms()",
                          "gettimeofday_us()", "gettimeofday_ns()"))

    def arithmetic(self, depth: int) -> str:
        op = self.pick(("+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^",
                        "&&", "||"))
        return f"({self.expr(LONG, depth)} {op} {self.expr(LONG, depth)})"

    def comparison(self, depth: int) -> str:
        t = self.pick(TYPES)
        op = self.pick(("==", "!=", "<", ">", "<=", ">="))
        return f"({self.expr(t, depth)} {op} {self.expr(t, depth)})"

    def negation(self, depth: int) -> str:
        # parenthesised so that "-" and "-5" never lex as "--"
        return f"{self.pick('-!~+')}({self.expr(LONG, depth)})"

    def ternary(self, t: str, depth: int) -> str:
        return (f"({self.expr(LONG, depth)} ? {self.expr(t, depth)} : "
                f"{self.expr(t, depth)})")

    def lvalue(self, t: str, depth: int) -> Optional[str]:
        """A variable or array element of type ``t`` that may be written."""
        names = self.writable(t)
        arrays = self.arrays(t, writing=True)
        if arrays and (not names or self.chance(40)):
            array = self.pick(arrays)
            return f"{array.name}[{self.keys(array, min(depth, 1))}]"
        return self.pick(names) if names else None

    def assignment(self, t: str, depth: int) -> str:
        target = self.lvalue(t, depth)
        if target is None:
            return self.leaf(t)
        ops = ("=", ".=") if t == STRING else \
            ("=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "^=",
             "|=")
        return f"({target} {self.pick(ops)} {self.expr(t, depth)})"

    def crement(self, depth: int) -> str:
        target = self.lvalue(LONG, depth)
        if target is None:
            return self.leaf(LONG)
        op = self.pick(("++", "--"))
        return f"({op}{target})" if self.chance(50) else f"({target}{op})"

    def call(self, t: str, depth: int) -> str:
        functions = self.functions(t)
        if not functions:
            return self.leaf(t)
        function = self.pick(functions)
        args = ", ".join(self.expr(pt, depth) for _, pt in function.params)
        return f"{function.name}({args})"

    def extractor(self, depth: int) -> str:
        if not self.decls.stats:
            return self.leaf(LONG)
        op = self.pick(("@count", "@sum", "@min", "@max", "@avg"))
        return f"{op}({self.pick(self.decls.stats).name})"

    def concat(self, depth: int) -> str:
        return f"({self.expr(STRING, depth)} . {self.expr(STRING, depth)})"

    def formatted(self, depth: int) -> str:
        if self.chance(50):
            return f"sprintf({self.format_call(depth)})"
        name = self.pick(("sprint", "sprintln"))
        return f"{name}({self.values(depth, 1)})"

    LONG_MAKERS = [arithmetic, arithmetic, comparison, negation,
                   lambda w, d: w.ternary(LONG, d),
                   lambda w, d: w.assignment(LONG, d), crement,
                   lambda w, d: w.call(LONG, d), extractor]
    STRING_MAKERS = [concat, concat, formatted,
                     lambda w, d: w.ternary(STRING, d),
                     lambda w, d: w.assignment(STRING, d),
                     lambda w, d: w.call(STRING, d)]

    # -- printing --
    def values(self, depth: int, least: int) -> str:
        return ", ".join(self.expr(self.pick(TYPES), depth)
                         for _ in range(self.count(least, 3)))

    def conversion(self) -> Tuple[str, List[str]]:
        """One printf conversion and the types of the values it takes."""
        conv = self.pick("diuxXoscp%")
        if conv == "%":
            return "%%", []
        flag = self.pick(("", "", "-", "+", " ", "0", "#"))
        width = self.pick(("", "", "5", "*", "02"))
        precision = self.pick(("", "", ".3", ".*"))
        length = "l" if conv in "diuxXo" and self.chance(20) else ""
        takes = [LONG for part in (width, precision) if "*" in part]
        takes.append(STRING if conv == "s" else LONG)
        return f"%{flag}{width}{precision}{length}{conv}", takes

    def format_call(self, depth: int) -> str:
        """``"FORMAT", args...`` with arguments matching the format."""
        text, args = [], []
        for _ in range(self.count(0, 3)):
            text.append(self.string_literal()[1:-1].replace("%", "%%"))
            spec, takes = self.conversion()
            text.append(spec)
            args += [self.expr(t, depth) for t in takes]
        text.append(self.pick(("\\n", "")))
        return ", ".join(['"' + "".join(text) + '"'] + args)

    def output(self) -> str:
        kind = self.pick(("printf", "printf", "print", "println", "printd",
                          "printdln", "hist"))
        if kind == "printf":
            return f"printf({self.format_call(2)})"
        if kind in ("print", "println"):
            return f"{kind}({self.values(2, 1)})"
        if kind == "hist" and self.decls.stats:
            stat = self.pick(self.decls.stats)
            printer = self.pick(("print", "println"))
            return f"{printer}({stat.hist.format(stat.name)})"
        return f"{self.pick(('printd', 'printdln'))}(" \
               f"{self.string_literal()}, {self.values(2, 2)})"

    # -- statements --
    def block(self, least: int = 1, most: int = 4, first=(), last=()) -> str:
        """``{ first... random statements... last... }``."""
        self.nesting += 1
        body = list(first) + [self.statement()
                              for _ in range(self.count(least, most))]
        self.nesting -= 1
        text = "".join(f"{s}\n" for s in body + list(last))
        return "{\n" + textwrap.indent(text, "  ") + "}"

    def statement(self) -> str:
        simple = [self.new_local, self.store, self.store, self.output,
                  self.output, self.add_stat, self.delete, self.side_effect,
                  self.function_exit if self.scope.function
                  else self.probe_exit]
        if self.scope.loops:
            simple.append(self.jump)
        compound = [self.if_else, self.while_loop, self.for_loop,
                    self.foreach, self.try_catch]
        if self.nesting < MAX_NESTING and self.chance(35):
            return self.pick(compound)()
        # ';' always: a next statement starting with '(' would otherwise
        # continue this one as a call
        return self.pick(simple)() + ";"

    def new_local(self) -> str:
        t = self.pick(TYPES)
        value = self.expr(t)
        name = self.fresh("x")
        self.scope.locals[name] = t
        return f"{name} = {value}"

    def store(self) -> str:
        t = self.pick(TYPES)
        if self.lvalue(t, 1) is None:
            return self.new_local()
        return self.assignment(t, 2)[1:-1]

    def side_effect(self) -> str:
        if self.chance(50):
            return self.crement(2)
        void = self.functions(None)
        if void:
            return self.call_void(self.pick(void))
        return self.call(self.pick(TYPES), 2)

    def call_void(self, function: FunctionDecl) -> str:
        args = ", ".join(self.expr(t, 2) for _, t in function.params)
        return f"{function.name}({args})"

    def add_stat(self) -> str:
        if not self.decls.stats:
            return self.output()
        return f"{self.pick(self.decls.stats).name} <<< {self.expr(LONG, 2)}"

    def delete(self) -> str:
        arrays = self.arrays(self.pick(TYPES), writing=True)
        locals_ = [n for n in self.scope.locals
                   if n not in self.scope.readonly]
        globals_ = sorted(self.decls.scalars)
        choice = self.pick(("element", "array", "scalar"))
        if choice == "element" and arrays:
            array = self.pick(arrays)
            return f"delete {array.name}[{self.keys(array)}]"
        if choice == "array" and arrays:
            return f"delete {self.pick(arrays).name}"
        if locals_ or globals_:
            return f"delete {self.pick(locals_ + globals_)}"
        return self.output()

    def if_else(self) -> str:
        text = f"if ({self.expr(LONG, 2)}) {self.block()}"
        if self.chance(50):
            text += f" else {self.block()}"
        return text

    def counted_body(self, counter: str, first=()) -> str:
        """A loop body; the loop's counter is read-only inside (and
        after: it may be an outer loop's body)."""
        self.scope.locals[counter] = LONG
        self.scope.readonly.add(counter)
        self.scope.loops += 1
        body = self.block(first=first)
        self.scope.loops -= 1
        return body

    def while_loop(self) -> str:
        i = self.fresh("i")
        bound = self.count(0, LOOP_BOUND)
        # the step comes first so that 'continue' cannot skip it
        body = self.counted_body(i, first=[f"{i}++;"])
        return f"{i} = 0; while ({i} < {bound}) {body}"

    def for_loop(self) -> str:
        i = self.fresh("i")
        bound = self.count(0, LOOP_BOUND)
        body = self.counted_body(i)
        return f"for ({i} = 0; {i} < {bound}; {i}++) {body}"

    def foreach(self) -> str:
        if not self.decls.arrays:
            return self.output()
        array = self.pick(self.decls.arrays)
        keys = [self.fresh("x") for _ in array.keys]
        marks = [""] * (len(keys) + 1)
        if self.chance(60):
            marks[self.count(0, len(keys))] = self.pick("+-")
        head = ", ".join(k + m for k, m in zip(keys, marks))
        if len(keys) > 1 or self.chance(30):
            head = f"[{head}]"
        if self.chance(40):
            value = self.fresh("x")
            self.scope.locals[value] = array.value
            head = f"{value} = {head}"
        for key, t in zip(keys, array.keys):
            self.scope.locals[key] = t
        limit = f" limit {self.expr(LONG, 1)}" if self.chance(30) else ""
        outer = set(self.scope.frozen)
        self.scope.frozen.add(array.name)
        self.scope.loops += 1
        body = self.block()
        self.scope.loops -= 1
        self.scope.frozen = outer
        return f"foreach ({head} in {array.name}{marks[-1]}{limit}) {body}"

    def try_catch(self) -> str:
        raising = [f"error({self.expr(STRING, 1)});"] if self.chance(40) \
            else []
        body = self.block(last=raising)
        catch = ""
        if self.chance(60):
            name = self.pick([n for n, t in self.scope.locals.items()
                              if t == STRING and n not in self.scope.readonly]
                             or [self.fresh("x")])
            self.scope.locals[name] = STRING
            catch = f" ({name})"
        return f"try {body} catch{catch} {self.block(0, 2)}"

    def jump(self) -> str:
        word = self.pick(("break", "continue"))
        return f"if ({self.expr(LONG, 1)}) {word}"

    def probe_exit(self) -> str:
        if self.chance(50):
            return f"if ({self.expr(LONG, 1)}) next"
        return "exit()"

    def function_exit(self) -> str:
        function = self.scope.function
        value = f" {self.expr(function.ret, 1)}" if function.ret else ""
        return f"if ({self.expr(LONG, 1)}) return{value}"

    # -- declarations --
    def function(self, index: int) -> str:
        params = tuple((f"p{i}", self.pick(TYPES))
                       for i in range(self.count(0, 3)))
        ret = self.pick((LONG, STRING, None))
        decl = FunctionDecl(f"f{index}", params, ret)
        self.scope = Scope(dict(params), decl)
        signature, touches = [], []
        for name, t in params:
            if t == LONG and self.chance(30):
                # untyped: the body's first statement gives it its type
                signature.append(name)
                touches.append(f"{name} += 0;")
            else:
                signature.append(f"{name}:{t}")
        body = self.block(1, 4, first=touches,
                          last=[f"return {self.expr(ret, 2)};"] if ret
                          else [])
        suffix = f":{ret}" if ret and self.chance(70) else ""
        self.decls.functions.append(decl)
        return f"function {decl.name}{suffix}({', '.join(signature)}) {body}"

    def probe(self) -> str:
        self.scope = Scope({}, None)
        point = self.pick(("begin", "end", "timer"))
        if point == "timer":
            unit = self.pick(("ms", "s", "jiffies", "hz", "us"))
            n = self.count(100, 500) if unit == "us" else self.count(1, 50)
            points = f"timer.{unit}({n})"
        elif self.chance(40):
            points = f"{point}({self.count(-20, 20)})"
        else:
            points = point
        if self.chance(15):
            points += ", " + self.pick(("begin", "end(5)", "timer.ms(10)"))
        return f"probe {points} {self.block(1, 5)}"

    def setup_probe(self) -> str:
        """Typed first writes of every uninitialised global and array, so
        that a value only printed still has a type."""
        self.scope = Scope({}, None)
        lines = [f"{name} = {self.literal(t)};"
                 for name, t in self.decls.scalars.items()
                 if name not in self.decls.initialised]
        lines += [f"{a.name}[{', '.join(self.literal(k) for k in a.keys)}]"
                  f" = {self.literal(a.value)};" for a in self.decls.arrays]
        return "probe begin(-100) {\n" + \
            "".join(f"  {line}\n" for line in lines) + "}"


def _global_decls(draw) -> Tuple[Declarations, List[str]]:
    """The declarations, and their ``global`` lines."""
    w = _Writer(draw, None)
    decls = Declarations({}, set(), [], [])
    items = []
    for i in range(w.count(0, 3)):
        name, t = f"g{i}", w.pick(TYPES)
        decls.scalars[name] = t
        if w.chance(60):
            decls.initialised.add(name)
            items.append(f"{name} = {w.literal(t)}")
        else:
            items.append(name)
    for i in range(w.count(0, 3)):
        keys = tuple(w.pick(TYPES) for _ in range(w.count(1, 3)))
        array = ArrayDecl(f"a{i}", keys, w.pick(TYPES))
        decls.arrays.append(array)
        items.append(array.name + (f"[{w.count(1, 64)}]" if w.chance(30)
                                   else ""))
    for i in range(w.count(0, 2)):
        stat = StatDecl(f"s{i}", _histogram(w))
        decls.stats.append(stat)
        items.append(stat.name)
    lines = []
    while items:
        n = w.count(1, len(items))
        lines.append("global " + ", ".join(items[:n]))
        items = items[n:]
    return decls, lines


def _histogram(w: _Writer) -> str:
    if w.chance(50):
        return "@hist_log({})"
    start, step = w.count(-50, 50), w.count(1, 20)
    stop = start + step * w.count(1, 30)
    return f"@hist_linear({{}}, {start}, {stop}, {step})"


@st.composite
def scripts(draw) -> str:
    """A well-typed script stpc should accept and build."""
    decls, lines = _global_decls(draw)
    w = _Writer(draw, decls)
    lines += [w.function(i) for i in range(w.count(0, 3))]
    if decls.scalars or decls.arrays:
        lines.append(w.setup_probe())
    lines += [w.probe() for _ in range(w.count(1, 3))]
    return "\n".join(lines) + "\n"


# ---- mutations -------------------------------------------------------------

TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|[A-Za-z_@][A-Za-z0-9_]*|'
                    r'0[xX][0-9a-fA-F]+|\d+|'
                    r'<<<|<<=|>>=|[-+*/%&|^.<>=!]=|\+\+|--|&&|\|\||<<|>>|\S')
_VOCABULARY = ("long", "string", "x1", "g0", "a0", "s0", "f0", "p0", "(",
               ")", "{", "}", "[", "]", ";", ",", "=", "<<<", "in", "if",
               "else", "foreach", "delete", "return", "next", "break",
               "function", "probe", "global", '"txt"', "7", "@count", ".",
               "+", "?", ":", "try", "catch", "limit", "begin", "timer")


def _mutate(draw, text: str) -> str:
    """``text`` with one random token-level change; lines stay in place so
    error positions stay meaningful."""
    tokens = list(TOKEN.finditer(text))
    if not tokens:
        return text
    kind = draw(st.sampled_from(("delete", "duplicate", "swap", "replace",
                                 "insert", "retype", "capture")))
    if kind == "capture":
        return _capture(draw, text, tokens)
    at = draw(st.integers(0, len(tokens) - 1))
    token = tokens[at]
    start, end, word = token.start(), token.end(), token.group()
    if kind == "delete":
        new = ""
    elif kind == "duplicate":
        new = f"{word} {word}"
    elif kind == "swap" and at + 1 < len(tokens):
        after = tokens[at + 1]
        end = after.end()
        new = after.group() + text[token.end():after.start()] + word
    elif kind == "replace":
        # an identifier is renamed to another of the script's names (a
        # local to a global, a function to a variable ...); any other
        # token becomes any token of the script
        same = [t.group() for t in tokens if t.group()[0].isalpha()] \
            if word[0].isalpha() else [t.group() for t in tokens]
        new = draw(st.sampled_from(same))
    elif kind == "insert":
        new = f"{draw(st.sampled_from(_VOCABULARY))} {word}"
    else:
        swaps = {"long": "string", "string": "long", '"': "1"}
        new = swaps.get(word) or swaps.get(word[:1]) or '"s"'
    return text[:start] + new + text[end:]


def _capture(draw, text: str, tokens) -> str:
    """A local's name (loop variable, catch variable, parameter ...)
    replaced by a global's, array's, statistic's or function's."""
    locals_ = [t for t in tokens if re.fullmatch(r"[xip]\d+", t.group())]
    names = sorted({t.group() for t in tokens
                    if re.fullmatch(r"[gasf]\d+", t.group())})
    if not locals_ or not names:
        return text
    token = draw(st.sampled_from(locals_))
    return text[:token.start()] + draw(st.sampled_from(names)) + \
        text[token.end():]


@st.composite
def mutants(draw) -> str:
    """A generated script with one to three token-level mutations."""
    text = draw(scripts())
    for _ in range(draw(st.integers(1, 3))):
        text = _mutate(draw, text)
    return text
