"""Syntax tree of a probe script.

Nodes are frozen and compare by identity, so passes can key side tables on
them.  Each node's ``span`` is the position of its principal token: the
operator of a binary expression, the name of a call, the keyword of a
statement.  That is the token SystemTap names in ``near ...`` messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union


@dataclass(frozen=True)
class Span:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def node(cls):
    return dataclass(frozen=True, eq=False)(cls)


# ---- expressions ---------------------------------------------------------

@node
class IntLit:
    span: Span
    value: int


@node
class StrLit:
    span: Span
    value: str


@node
class Var:
    span: Span
    name: str


@node
class Index:
    span: Span
    name: str
    keys: Tuple["Expr", ...]


@node
class Call:
    span: Span
    name: str
    args: Tuple["Expr", ...]


@node
class StatOp:
    """``@count(s)``, ``@hist_log(s)`` and the other ``@name(...)`` forms."""
    span: Span
    op: str
    args: Tuple["Expr", ...]


@node
class Unary:
    span: Span
    op: str
    operand: "Expr"


@node
class Binary:
    span: Span
    op: str
    left: "Expr"
    right: "Expr"


@node
class Ternary:
    span: Span
    cond: "Expr"
    then: "Expr"
    otherwise: "Expr"


@node
class Assign:
    span: Span
    op: str
    target: "Expr"
    value: "Expr"


@node
class Crement:
    span: Span
    op: str
    target: "Expr"
    prefix: bool


@node
class InArray:
    span: Span
    keys: Tuple["Expr", ...]
    array: str


@node
class TargetVar:
    """``$name``, ``$return``, ``$$parms``/``$$locals``/``$$vars``/
    ``$$return`` (``pretty`` when written with a trailing ``$``)."""
    span: Span
    name: str           # without the $ signs
    context: bool       # $$name: a pretty-printed group of variables
    pretty: bool = False


@node
class AtOp:
    """``@cast(p, "type"[, "module"])``, ``@entry(e)``, ``@defined(e)``,
    ``@var("name@file"[, "module"])``."""
    span: Span
    op: str
    args: Tuple["Expr", ...]


@node
class Member:
    """``base->name`` on a target value (struct pointer or struct)."""
    span: Span
    base: "Expr"
    name: str


@node
class Subscript:
    """``base[index]`` on a target array or pointer."""
    span: Span
    base: "Expr"
    index: "Expr"


@node
class AddressOf:
    span: Span
    operand: "Expr"


Expr = Union[IntLit, StrLit, Var, Index, Call, StatOp, Unary, Binary,
             Ternary, Assign, Crement, InArray, TargetVar, AtOp, Member,
             Subscript, AddressOf]

TARGET_NODES = (TargetVar, AtOp, Member, Subscript, AddressOf)


# ---- statements ----------------------------------------------------------

@node
class Block:
    span: Span
    body: Tuple["Stmt", ...]


@node
class ExprStmt:
    span: Span
    expr: Expr


@node
class Empty:
    span: Span


@node
class If:
    span: Span
    cond: Expr
    then: "Stmt"
    otherwise: Optional["Stmt"]


@node
class While:
    span: Span
    cond: Expr
    body: "Stmt"


@node
class For:
    span: Span
    init: Optional[Expr]
    cond: Optional[Expr]
    step: Optional[Expr]
    body: "Stmt"


@node
class ForeachKey:
    span: Span
    name: str
    sort: str          # "", "+" or "-"


@node
class Foreach:
    span: Span
    value_var: Optional[str]
    keys: Tuple[ForeachKey, ...]
    array: str
    value_sort: str
    limit: Optional[Expr]
    body: "Stmt"
    value_op: str = ""  # statistics arrays: the extractor to sort by


@node
class Break:
    span: Span


@node
class Continue:
    span: Span


@node
class Next:
    span: Span


@node
class Return:
    span: Span
    value: Optional[Expr]


@node
class Delete:
    span: Span
    target: Expr


@node
class TryCatch:
    span: Span
    body: Block
    message_var: Optional[str]
    handler: Block


Stmt = Union[Block, ExprStmt, Empty, If, While, For, Foreach, Break,
             Continue, Next, Return, Delete, TryCatch]


# ---- declarations --------------------------------------------------------

@node
class ProbeComponent:
    span: Span
    name: str
    arg: Union[int, str, None]


@node
class ProbePoint:
    span: Span
    components: Tuple[ProbeComponent, ...]
    optional: bool
    #: a point an alias stands for: the aliases and the use it came
    #: from, as ``-p2`` shows them (``a = begin <- a``); else empty
    via: str = ""
    #: marked ``!``: optional, and when it resolves the points after it
    #: in its list are not used
    sufficient: bool = False
    #: set by alias expansion (compiler/aliases.py): the ``!`` points
    #: before this one in its lists (the probe's and each alias's), as
    #: keys: when one of them resolved, this point is not used ...
    guards: Tuple[int, ...] = ()
    #: ... and the keys this point stands for, its own ``!`` and those
    #: of the alias uses it came through
    satisfies: Tuple[int, ...] = ()

    def __str__(self) -> str:
        parts = []
        for comp in self.components:
            if comp.arg is None:
                parts.append(comp.name)
            elif isinstance(comp.arg, str):
                parts.append(f'{comp.name}("{comp.arg}")')
            else:
                parts.append(f"{comp.name}({comp.arg})")
        return ".".join(parts)

    def marked(self) -> str:
        """As written, with its ``!`` or ``?``."""
        if self.sufficient:
            return f"{self}!"
        return f"{self}?" if self.optional else str(self)


@node
class Probe:
    span: Span
    points: Tuple[ProbePoint, ...]
    body: Block


@node
class Alias:
    """``probe NAME = POINTS { prologue }`` (``epilogue`` false) or
    ``probe NAME += POINTS { epilogue }``: what a probe on ``NAME``
    stands for (compiler/aliases.py)."""
    span: Span
    name: ProbePoint
    epilogue: bool
    points: Tuple[ProbePoint, ...]
    body: Block

    def __str__(self) -> str:
        points = ", ".join(p.marked() for p in self.points)
        return f"{self.name} {'+=' if self.epilogue else '='} {points}"


@node
class Global:
    span: Span
    name: str
    size: Optional[int]
    init: Union[int, str, None]
    private: bool = False   # seen only by its own file (Span.file)


@node
class Param:
    span: Span
    name: str
    type_name: Optional[str]


@node
class EmbeddedC:
    """``%{ ... %}`` in guru mode (-g): C the module takes verbatim, at
    the top of the script or as a function's body.  ``span`` is where
    ``%{`` is; ``code`` is the text between ``%{`` and ``%}``."""
    span: Span
    code: str


@node
class Function:
    span: Span
    name: str
    return_type: Optional[str]
    params: Tuple[Param, ...]
    body: Block         # empty when the body is ``embedded``
    private: bool = False
    embedded: Optional[EmbeddedC] = None


@node
class Script:
    file: str
    source: str
    globals: Tuple[Global, ...]
    functions: Tuple[Function, ...]
    probes: Tuple[Probe, ...]
    aliases: Tuple[Alias, ...] = ()
    embedded: Tuple[EmbeddedC, ...] = ()    # top-level %{ ... %} blocks


def walk(node):
    """Every node below ``node``, depth first, the node itself included.
    Iterative: nested generators would cost the depth at every node, and
    a 10,000-term expression is that deep."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(_children(node)))


def _children(node) -> list:
    children = []
    for value in vars(node).values():
        if isinstance(value, tuple):
            children += [item for item in value if hasattr(item, "span")]
        elif hasattr(value, "span") and not isinstance(value, Span):
            children.append(value)
    return children
