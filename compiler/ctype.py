"""C types of the probed kernel code, as DWARF or BTF describe them.

Both debug formats are read into these classes, so target variables are
typed, printed (``-L``) and translated the same way whichever source
described them.  Typedefs and qualifiers are kept as wrappers for display
only: ``strip`` sees through them.

``display()`` writes a type as C writes a type name (``const char *``,
``char *const``, ``int (*)[4]``): each type builds the abstract declarator
around what is derived from it, as in a C declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


class CType:
    """Base class; every type has ``size`` in bytes (0: unknown, void)."""

    def display(self) -> str:
        return self.declare("")

    def declare(self, declarator: str) -> str:
        """This type around ``declarator`` (what is derived from it:
        ``*``, ``[4]``, ``*const``), as C declares it."""
        return _named(self.name_text(), declarator)

    def name_text(self) -> str:
        raise NotImplementedError


def _named(name: str, declarator: str) -> str:
    """``char *``, ``char *const``, ``char[16]`` (as clang writes them)."""
    if not declarator or declarator.startswith("["):
        return name + declarator
    return f"{name} {declarator}"


@dataclass(eq=False)
class Void(CType):
    size: int = 0

    def name_text(self) -> str:
        return "void"


@dataclass(eq=False)
class Base(CType):
    """An integer, char, bool or floating type."""
    name: str
    size: int
    signed: bool
    floating: bool = False

    def name_text(self) -> str:
        return self.name

    @property
    def is_char(self) -> bool:
        return self.size == 1 and "char" in self.name


@dataclass(eq=False)
class Enum(CType):
    name: str           # "" when anonymous
    size: int
    signed: bool
    enumerators: List[tuple] = field(default_factory=list)  # (name, value)

    def name_text(self) -> str:
        return f"enum {self.name}" if self.name else "enum {...}"


@dataclass(eq=False)
class Pointer(CType):
    target: CType
    size: int = 8

    def declare(self, declarator: str) -> str:
        if isinstance(_under_qualifiers(self.target), Array):
            return self.target.declare(f"(*{declarator})")
        return self.target.declare("*" + declarator)


@dataclass(eq=False)
class Member:
    name: str           # "" for an anonymous struct/union member
    offset: int         # bytes from the start of the aggregate
    type: CType
    bit_size: int = 0   # 0: not a bit field
    bit_offset: int = 0  # bits from ``offset``, little-endian numbering


@dataclass(eq=False)
class Struct(CType):
    """A struct or union.  ``members`` may be filled after construction,
    because aggregates refer to themselves through pointers."""
    kind: str           # "struct" or "union"
    name: str           # "" when anonymous
    size: int
    members: List[Member] = field(default_factory=list)
    declaration: bool = False   # only declared here; layout elsewhere

    def name_text(self) -> str:
        return f"{self.kind} {self.name}" if self.name \
            else f"{self.kind} {{...}}"

    def member(self, name: str) -> Optional[tuple]:
        """(offset, Member) of ``name``, looking into anonymous members."""
        for m in self.members:
            if m.name == name:
                return m.offset, m
            inner = strip(m.type)
            if not m.name and isinstance(inner, Struct):
                found = inner.member(name)
                if found is not None:
                    return m.offset + found[0], found[1]
        return None

    def member_names(self) -> List[str]:
        names = []
        for m in self.members:
            inner = strip(m.type)
            if not m.name and isinstance(inner, Struct):
                names.extend(inner.member_names())
            elif m.name:
                names.append(m.name)
        return names


@dataclass(eq=False)
class Array(CType):
    element: CType
    count: Optional[int]    # None: flexible or unknown

    @property
    def size(self) -> int:
        return (self.count or 0) * self.element.size

    def declare(self, declarator: str) -> str:
        count = "" if self.count is None else str(self.count)
        return self.element.declare(f"{declarator}[{count}]")


@dataclass(eq=False)
class Function(CType):
    """A function type, only ever seen behind a pointer."""
    size: int = 0

    def name_text(self) -> str:
        return "void"   # SystemTap shows function pointers as void*


@dataclass(eq=False)
class Typedef(CType):
    name: str
    target: CType

    @property
    def size(self) -> int:
        return self.target.size

    def name_text(self) -> str:
        return self.name


@dataclass(eq=False)
class Qualified(CType):
    """const / volatile / restrict: transparent to stpc."""
    qualifier: str
    target: CType

    @property
    def size(self) -> int:
        return self.target.size

    def declare(self, declarator: str) -> str:
        qualifiers, target = [self.qualifier], self.target
        while isinstance(target, Qualified):
            qualifiers.append(target.qualifier)
            target = target.target
        if isinstance(target, Pointer):
            # a qualified pointer: its qualifiers follow its '*'
            return target.declare(_named(" ".join(qualifiers), declarator))
        return f"{' '.join(qualifiers)} {target.declare(declarator)}"


def strip(t: CType) -> CType:
    """The type under any typedefs and qualifiers."""
    while isinstance(t, (Typedef, Qualified)):
        t = t.target
    return t


def _under_qualifiers(t: CType) -> CType:
    while isinstance(t, Qualified):
        t = t.target
    return t


def is_integer(t: CType) -> bool:
    t = strip(t)
    return (isinstance(t, Base) and not t.floating) or \
        isinstance(t, (Enum, Pointer))


def is_string_like(t: CType) -> bool:
    """char arrays and pointers to char: what kernel_string() reads."""
    t = strip(t)
    inner = t.element if isinstance(t, Array) else \
        t.target if isinstance(t, Pointer) else None
    inner = strip(inner) if inner is not None else None
    return isinstance(inner, Base) and inner.is_char


@dataclass
class Param:
    """A function parameter as a debug format names and types it."""
    name: str
    type: CType


@dataclass
class Prototype:
    """What BTF (or DWARF) says of a function: enough for entry probes."""
    name: str
    params: List[Param]
    return_type: CType
