"""``stpc -l POINT`` and ``stpc -L POINT``: the probe points a pattern
matches, and (with -L) what a probe there can read, each written as a
script writes it: ``$name:type``, and in a ``.return`` probe ``$return``
and ``@entry($param)``.  Every line pastes back into a script.  Needs no
root and loads nothing."""

from __future__ import annotations

import re
from typing import Dict, Iterable, Iterator, List, Tuple

from . import ast as A
from . import ctype as C
from .errors import ErrorCollector, StpcError
from .ir import ResolvedSite
from .location import Unavailable
from .parse import parse
from .probes import ProbeEnvironment, ProbeResolver
from .tracepoints import is_tracepoint_point, tracepoint_sites
from .varscope import TargetVariable, scope_of


def list_points(text: str, kernel_release: str,
                debuginfo_path: Tuple[str, ...] = (),
                with_vars: bool = False,
                kernel_types: str = "auto") -> Iterator[str]:
    """One line per probe point, sorted; the copies of an inlined function
    are one point, listing what any of them can read."""
    point = _parse_point(text)
    resolver = ProbeResolver(ProbeEnvironment(
        kernel_release, debuginfo_path, kernel_types=kernel_types))
    errors = ErrorCollector()
    if is_tracepoint_point(point):
        sites = tracepoint_sites(resolver, point, 0, 0, errors)
    else:
        sites = resolver.resolve(point, 0, 0, errors)
    errors.raise_if_any()
    # pp() leaves .inline out; a kernel's .function() without it would
    # not match the inlined copies again
    inline = ".inline" if point.components[-1].name == "inline" else ""
    readable: Dict[str, Dict[str, None]] = {}   # in order, without repeats
    for site in sites:
        shown = readable.setdefault(site.description + inline, {})
        if with_vars and site.resolved is not None:    # None: no DWARF
            shown.update(dict.fromkeys(readable_at(site.resolved)))
    for description in sorted(readable, key=_numbers_as_numbers):
        yield " ".join([description, *readable[description]])


def _numbers_as_numbers(text: str) -> list:
    """A sort key: line 98 before line 102."""
    return [int(part) if part.isdigit() else part
            for part in re.split(r"(\d+)", text)]


def _parse_point(text: str) -> A.ProbePoint:
    script = parse(f"probe {text} {{ }}", "<point>")
    if len(script.probes) != 1 or len(script.probes[0].points) != 1:
        raise StpcError(f"'{text}' is not one probe point")
    point = script.probes[0].points[0]
    if point.components[0].name not in ("kernel", "module", "process"):
        raise StpcError("-l and -L list kernel, module and process probe "
                        "points",
                        point.span)
    return point


def readable_at(resolved: ResolvedSite) -> List[str]:
    """What a probe at the site can read: at a .return, $return and the
    parameters as @entry($name) (a bare $name there reads the same)."""
    scope = _scope(resolved)
    if resolved.mark is not None:     # typed by size alone: as stap shows
        return [f"${v.name}:long" for v in scope.variables()]
    if not resolved.returns:
        return [f"${v.name}:{v.type.display()}"
                for v in _located(scope.variables())]
    shown = []
    rtype = scope.return_type()
    if not isinstance(C.strip(rtype), C.Void):
        shown.append(f"$return:{rtype.display()}")
    at_entry = _scope(resolved.at_entry()).variables()
    shown += [f"@entry(${v.name}):{v.type.display()}"
              for v in _located(v for v in at_entry if v.is_param)]
    return shown


def _scope(resolved: ResolvedSite):
    return scope_of(resolved, lambda address: "0")  # no C is written


def _located(variables: Iterable[TargetVariable]) -> List[TargetVariable]:
    """The variables a probe can read there: not optimized out, not on a
    stack BTF does not describe (reading the others is refused)."""
    located = []
    for variable in variables:
        try:
            variable.location("NULL", set())
        except Unavailable:
            continue
        if variable.name:
            located.append(variable)
    return located
