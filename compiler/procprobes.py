"""``process.begin`` and ``process.end`` probe points (and
``process.thread.begin``/``.end``, for the threads other than the main
one), with or without a program (``process("PATH")``, searched in
``$PATH`` as for uprobes) or a pid (``process(PID)``).  They name no
code: the module follows processes through the scheduler's tracepoints
(runtime_c/procs.c), so the file is only looked up by path when the
probes are armed; no build-id is needed.
"""

from __future__ import annotations

from typing import List

from . import ast as A
from .errors import ErrorCollector, StpcError
from .ir import ProbeKind, ProbeSite, ProcessSite
from .userprobes import find_program

#: the runtime keeps a process's filters in a 64-bit mask
MAX_FILTERS = 64


def is_lifetime_point(point: A.ProbePoint) -> bool:
    """process.begin, process("PATH").end, process(PID).begin,
    process.thread.begin..."""
    comps = point.components
    return len(comps) in (2, 3) and comps[0].name == "process" and \
        comps[-1].name in ("begin", "end") and comps[-1].arg is None and \
        [(c.name, c.arg) for c in comps[1:-1]] in ([], [("thread", None)])


def lifetime_sites(point: A.ProbePoint, handler: int, order: int,
                   errors: ErrorCollector) -> List[ProbeSite]:
    head, *middle, what = point.components
    thread = bool(middle)
    path = pid = None
    try:
        if isinstance(head.arg, str):
            path = find_program(head.arg, head.span)
        elif isinstance(head.arg, int):
            if head.arg <= 0:
                raise StpcError("process(PID) takes a positive pid",
                                head.span)
            pid = head.arg
    except StpcError as exc:
        if point.optional:
            return []
        errors.add_error(exc)
        return []
    subject = "process" if path is None and pid is None else \
        f'process("{path}")' if path is not None else f"process({pid})"
    kind = "thread." if thread else ""
    return [ProbeSite(point, ProbeKind.PROCESS, 0, handler, order,
                      description=f"{subject}.{kind}{what.name}",
                      process=ProcessSite(path, pid, what.name == "end",
                                          thread))]


def lifetime_filters(sites) -> List[ProcessSite]:
    """The distinct (path, pid) filters of the sites, in order; a site's
    filter is its index here."""
    filters = []
    for site in sites:
        key = ProcessSite(site.process.path, site.process.pid, False)
        if key not in filters:
            filters.append(key)
    if len(filters) > MAX_FILTERS:
        raise StpcError(f"process.begin/.end probes name {len(filters)} "
                        f"programs or pids: at most {MAX_FILTERS}",
                        sites[-1].point.span)
    return filters
