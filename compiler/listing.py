"""``stpc -l POINT`` and ``stpc -L POINT``: the probe points a pattern
matches, and (with -L) the target variables readable at each, as
``$name:type``.  Needs no root and loads nothing."""

from __future__ import annotations

from typing import Iterator, Tuple

from . import ast as A
from .dwarftypes import function_return_type, variable_name, variable_type
from .errors import ErrorCollector, StpcError
from .parse import parse
from .probes import ProbeEnvironment, ProbeResolver


def list_points(text: str, kernel_release: str,
                debuginfo_path: Tuple[str, ...] = (),
                with_vars: bool = False) -> Iterator[str]:
    point = _parse_point(text)
    resolver = ProbeResolver(ProbeEnvironment(kernel_release,
                                              debuginfo_path))
    errors = ErrorCollector()
    sites = resolver.resolve(point, 0, 0, errors)
    errors.raise_if_any()
    shown = set()
    for site in sites:
        line = site.description
        if with_vars:
            line = " ".join([line] + _variables(site.resolved))
        if line not in shown:       # inlined copies of one function
            shown.add(line)
            yield line


def _parse_point(text: str) -> A.ProbePoint:
    script = parse(f"probe {text} {{ }}", "<point>")
    if len(script.probes) != 1 or len(script.probes[0].points) != 1:
        raise StpcError(f"'{text}' is not one probe point")
    point = script.probes[0].points[0]
    if point.components[0].name not in ("kernel", "module"):
        raise StpcError("-l and -L list kernel and module probe points",
                        point.span)
    return point


def _variables(resolved) -> list:
    debug, function = resolved.debug, resolved.function
    shown = []
    if resolved.returns:
        shown.append(f"$return:{function_return_type(function).display()}")
        dies = debug.parameters(function)
    else:
        dies = debug.variables_at(function, resolved.pc)
    for die in dies:
        shown.append(f"${variable_name(die)}:"
                     f"{variable_type(die).display()}")
    return shown
