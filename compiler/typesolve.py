"""Type constraints and their solver.

The collector (typecollect.py) states what a script says about types: a
type variable for each local, global, array key position, function
parameter and return value, and for each expression; equalities between
them and fixed types.  ``Solver`` unifies them with union-find, so a type
flows both ways: a function's return type can come from what its caller
does with the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from .errors import StpcError
from .ir import T


@dataclass(frozen=True)
class Clash:
    """How a conflict is reported: ``template`` names the type a use brings
    as {here} and the type known from elsewhere as {there}."""
    span: object
    template: str

    def error(self, here: T, there: T) -> StpcError:
        return StpcError(self.template.format(here=here, there=there),
                         self.span)


@dataclass(frozen=True)
class Same:
    """Two type variables are one type; ``right`` is the use at hand."""
    left: int
    right: int
    clash: Clash


@dataclass(frozen=True)
class Is:
    """A type variable has this type; a fresh variable cannot clash."""
    var: int
    type: T
    clash: Optional[Clash] = None


@dataclass(frozen=True)
class Quiet:
    """A variable an error was already reported on: long if nothing else
    says what it is, so that it is not reported again as unresolved."""
    var: int


@dataclass(frozen=True)
class Refuse:
    """An error the walk found on its own, kept in script order."""
    error: StpcError


@dataclass(frozen=True)
class WhenKnown:
    """An error about a variable's final type, if it gets one."""
    var: int
    span: object
    template: str       # {type}: the variable's type


Item = Union[Same, Is, Quiet, Refuse, WhenKnown]


class Constraints:
    """Type variables, and what the script says about them, in order."""

    def __init__(self) -> None:
        self.items: List[Item] = []
        self.count = 0
        self._named: Dict[tuple, int] = {}
        self.nodes: Dict[object, int] = {}      # expression node -> var
        #: calls whose value is used (printed, compared ...): each must
        #: return one
        self.valued_calls: List[object] = []

    def fresh(self) -> int:
        self.count += 1
        return self.count - 1

    def named(self, *key) -> int:
        """The variable of a symbol (by id), an array key position or a
        function's return value; made on first use."""
        var = self._named.get(key)
        if var is None:
            var = self._named[key] = self.fresh()
        return var

    def fixed(self, t: T) -> int:
        var = self.fresh()
        self.declare(var, t)
        return var

    def declare(self, var: int, t: T) -> None:
        """Before any use: the variable cannot have another type yet."""
        self.items.append(Is(var, t))

    def same(self, left: int, right: int, span, template: str) -> None:
        self.items.append(Same(left, right, Clash(span, template)))

    def require(self, var: int, t: T, span, template: str) -> None:
        self.items.append(Is(var, t, Clash(span, template)))

    def quiet(self, var: int) -> None:
        self.items.append(Quiet(var))

    def refuse(self, message: str, span, hint: Optional[str] = None) -> None:
        self.items.append(Refuse(StpcError(message, span, hint=hint)))

    def when_known(self, var: int, span, template: str) -> None:
        self.items.append(WhenKnown(var, span, template))


class Solver:
    """Union-find over type variables; each class has at most one type.
    A constraint that would give a class a second type is reported and
    dropped, so the first type a class got stands."""

    def __init__(self, count: int) -> None:
        self.parent = list(range(count))
        self.types: List[Optional[T]] = [None] * count

    def find(self, var: int) -> int:
        root = var
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[var] != root:
            self.parent[var], var = root, self.parent[var]
        return root

    def type_of(self, var: int) -> Optional[T]:
        if var >= len(self.parent):
            return None     # made after solving: nothing constrains it
        return self.types[self.find(var)]

    def solve(self, items: List[Item]) -> List[StpcError]:
        """Applies every item in order; the errors, in script order."""
        found: List[Union[StpcError, WhenKnown]] = []
        quiet = []
        for item in items:
            if isinstance(item, Same):
                self._unify(item, found)
            elif isinstance(item, Is):
                self._assign(item, found)
            elif isinstance(item, Quiet):
                quiet.append(item.var)
            elif isinstance(item, Refuse):
                found.append(item.error)
            else:
                found.append(item)
        for var in quiet:
            if self.type_of(var) is None:
                self.types[self.find(var)] = T.LONG
        return [self._final(e) for e in found
                if not isinstance(e, WhenKnown) or
                self.type_of(e.var) is not None]

    def _final(self, error) -> StpcError:
        if isinstance(error, WhenKnown):
            return StpcError(error.template.format(
                type=self.type_of(error.var)), error.span)
        return error

    def _unify(self, item: Same, found: list) -> None:
        left, right = self.find(item.left), self.find(item.right)
        if left == right:
            return
        there, here = self.types[left], self.types[right]
        if there is not None and here is not None and there is not here:
            found.append(item.clash.error(here, there))
            return
        self.parent[right] = left
        self.types[left] = there or here

    def _assign(self, item: Is, found: list) -> None:
        root = self.find(item.var)
        there = self.types[root]
        if there is None:
            self.types[root] = item.type
        elif there is not item.type:
            found.append(item.clash.error(item.type, there))
