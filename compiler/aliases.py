"""Probe aliases, expanded as SystemTap 4.8 expands them, at the start of
pass 2: every probe on an alias becomes a plain probe on the points the
alias stands for, whose body is the alias's prologue, then the probe's
body (``=``), or the probe's body, then the alias's epilogue (``+=``).
The two are one handler, so the locals the prologue sets (``name``,
``argstr`` in the tapsets) are the body's.

Which aliases a probe point names, as stap's match tree decides:
- every alias whose name has the point's components, each matched as
  a glob within one component (``syscall.*`` names ``syscall.read``, not
  ``syscall.read.return``); several aliases of one name are all used;
- else the longest alias name the point starts with; the rest of the
  point is a suffix added to each point the alias stands for
  (``a.s(2)`` with ``a = timer`` is ``timer.s(2)``);
- an alias named like a built-in point (``begin``) adds to it.
A point no alias names is left to the built-in probe points.  A probe
marked ``?`` or ``!`` marks what it stands for optional.

``A!, B``: B is used only when A resolves to nothing (stap's sufficient
points).  Each point gets the keys of the ``!`` points before it in its
list, and in the lists of the alias uses it came through (its guards),
and the keys it stands for (its own ``!``, its uses'); compiler/
elaborate.py resolves a point only when none of its guards resolved.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
from typing import Dict, Iterable, List, Sequence, Tuple

from . import ast as A
from .errors import ErrorCollector
from .ir import ProbeSite

#: Built-in points an alias can be named like (alias names have no
#: arguments); a probe on one is both the alias and the built-in
_BUILTIN_NAMES = ("begin", "end", "error", "timer.profile")

@dataclasses.dataclass(frozen=True)
class _Derived:
    """One point a probe point stands for, with the aliases it went
    through, the one the probe named first."""
    point: A.ProbePoint
    chain: Tuple[A.Alias, ...]


#: each point an alias stands for -> the probe's point that named it
AliasUses = Dict[A.ProbePoint, A.ProbePoint]


def expand_aliases(script: A.Script, errors: ErrorCollector
                   ) -> Tuple[A.Script, AliasUses]:
    """The script with no probe on an alias (the same script when it
    declares no alias), and where each point came from."""
    if not script.aliases and not any(
            point.sufficient for probe in script.probes
            for point in probe.points):
        return script, {}
    expander = _Expander(script.aliases, errors)
    probes = [derived for probe in script.probes
              for derived in expander.probe(probe)]
    return dataclasses.replace(script, probes=tuple(probes)), expander.uses


def check_uses_placed(uses: AliasUses, sites: Iterable[ProbeSite],
                      passed_over: Iterable[A.ProbePoint],
                      errors: ErrorCollector) -> None:
    """A probe on an alias not marked optional must probe something: when
    every point the alias stands for is optional and none is there, an
    error at the probe, as stap's "no match".  A use after a ``!`` point
    that resolved (its points ``passed_over``) is not looked at."""
    placed = {uses.get(site.point) for site in sites} | \
        {uses.get(point) for point in passed_over}
    # a point not optional that is not there is an error of its own
    quiet = {use: True for use in uses.values()}
    for point, use in uses.items():
        quiet[use] &= point.optional
    for use, all_optional in quiet.items():
        if all_optional and not use.optional and use not in placed:
            errors.add(f"probe point '{use}' matches nothing", use.span,
                       hint="every point its alias stands for is optional "
                            "and none is there; mark the probe with '?' "
                            "if that may be")


class _Expander:
    def __init__(self, aliases: Sequence[A.Alias], errors: ErrorCollector):
        self.aliases = aliases
        self.errors = errors
        self.uses: AliasUses = {}
        self.keys = 0

    def probe(self, probe: A.Probe) -> List[A.Probe]:
        """The plain probes ``probe`` stands for: one for each chain of
        aliases its points went through, in the order of its points."""
        groups: Dict[Tuple[A.Alias, ...], List[A.ProbePoint]] = {}
        for point in self.listed(probe.points, A.ProbePoint(
                probe.span, (), False)):
            for derived in self.point(point, (), point):
                groups.setdefault(derived.chain, []).append(derived.point)
        if list(groups) == [()]:
            points = tuple(groups[()])
            if points == probe.points:
                return [probe]
            return [A.Probe(probe.span, points, probe.body)]
        probes = []
        for chain, points in groups.items():
            # a body in two handlers would share nodes, which side
            # tables key on: each handler after the first has a copy
            body = probe.body if not probes else copy.deepcopy(probe.body)
            for alias in chain:
                body = _wrapped(body, alias)
            probes.append(A.Probe(probe.span, tuple(points), body))
        return probes

    def listed(self, points: Sequence[A.ProbePoint],
               use: A.ProbePoint) -> List[A.ProbePoint]:
        """``points``, a list of them that ``use`` stands for, each with
        the keys of the ``!`` points before it and those of ``use``."""
        listed = []
        earlier: Tuple[int, ...] = ()
        for point in points:
            own: Tuple[int, ...] = ()
            if point.sufficient:
                self.keys += 1
                own = (self.keys,)
            listed.append(dataclasses.replace(
                point, guards=use.guards + earlier,
                satisfies=use.satisfies + own))
            earlier += own
        return listed

    def point(self, point: A.ProbePoint, chain: Tuple[A.Alias, ...],
              use: A.ProbePoint) -> List[_Derived]:
        """What ``point`` stands for, reached through ``chain`` from the
        probe's point ``use``."""
        matches = aliases_naming(point, self.aliases)
        if not matches:
            if chain:
                self.uses[point] = use
            return [_Derived(point, chain)]
        derived = []
        for alias, suffix in matches:
            if alias in chain:
                self.errors.add(f"recursive loop in alias expansion of "
                                f"'{alias.name}'", point.span,
                                hint=_loop(chain, alias))
                continue
            for target in self.listed(alias.points, point):
                derived.extend(self.point(
                    _derived_point(target, suffix, point, alias),
                    chain + (alias,), use))
        if str(point) in _BUILTIN_NAMES:
            derived.append(_Derived(point, chain))   # after, as in stap
        return derived


def aliases_naming(point: A.ProbePoint, aliases: Sequence[A.Alias]
                   ) -> List[Tuple[A.Alias, Tuple[A.ProbeComponent, ...]]]:
    """The aliases ``point`` names, each with the suffix after its name
    (compiler/tapsets.py asks it too: a file is needed for its aliases)."""
    comps = point.components
    for length in range(len(comps), 0, -1):
        named = [alias for alias in aliases
                 if _names(comps[:length], alias.name.components)]
        # in the order of stap's match tree: by name, then as declared
        named.sort(key=lambda alias: [c.name for c in
                                      alias.name.components])
        if named:
            return [(alias, comps[length:]) for alias in named]
    return []


def _names(comps: Sequence[A.ProbeComponent],
           name: Sequence[A.ProbeComponent]) -> bool:
    return len(comps) == len(name) and all(
        comp.arg is None and fnmatch.fnmatchcase(word.name, comp.name)
        for comp, word in zip(comps, name))


def _derived_point(target: A.ProbePoint,
                   suffix: Tuple[A.ProbeComponent, ...], use: A.ProbePoint,
                   alias: A.Alias) -> A.ProbePoint:
    """A point of the alias, where the alias declares it (errors in
    resolving it point there), with the use's suffix and mark."""
    # stap's chain: a point an alias stood for shows as that alias
    via = f"{alias} <- {use.via or use.marked()}"
    return A.ProbePoint(target.span, target.components + suffix,
                        target.optional or use.optional, via,
                        target.sufficient, target.guards, target.satisfies)


def _wrapped(body: A.Block, alias: A.Alias) -> A.Block:
    """The handler of a probe through ``alias``: its prologue first, or
    its epilogue last; a copy of it, each handler having its own."""
    own = copy.deepcopy(alias.body)
    parts = (body, own) if alias.epilogue else (own, body)
    return A.Block(body.span, parts)


def _loop(chain: Tuple[A.Alias, ...], alias: A.Alias) -> str:
    loop = chain[chain.index(alias):] + (alias,)
    return " -> ".join(str(a.name) for a in loop)
