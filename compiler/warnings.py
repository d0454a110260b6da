"""Compile-time warnings: what SystemTap 4.8's pass 2 warns about, and
what only stpc leaves out.  Computed from the elaborated script as data
(``Program.warnings``, in source order); the CLI prints them, or drops
them (``-w``), or makes them errors (``-W``).  Nothing here changes what
is translated: a warned-about assignment or statement is still compiled.

stap's wording is kept where it says what stpc does; where stap says
"Eliding" code that stpc keeps, the warning says why the code does
nothing instead (docs/language.md, "Warnings", lists both).
"""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, List, Mapping, Set, Tuple

from . import ast as A
from .errors import StpcWarning
from .ir import FunctionInfo, GlobalSym, Handler, ProbeSite, Scope
from .unsupported import unsupported_point

#: stap lists at most this many similar names, closest first
_MAX_SIMILAR = 5
#: expressions with no effect when they are a whole statement; anything
#: else (calls, assignments, target variables that may fault) may have one
_PURE_NODES = (A.IntLit, A.StrLit, A.Var, A.Index, A.Unary, A.Binary,
               A.Ternary, A.InArray)
#: '/' and '%' raise a runtime error on zero; @min/@max/@avg on no values
_FAILING_OPS = ("/", "%")
_PURE_STAT_OPS = ("@count", "@sum")


def find_warnings(script: A.Script, globals_: Mapping[str, GlobalSym],
                  functions: Mapping[str, FunctionInfo],
                  handlers: List[Handler],
                  sites: Iterable[ProbeSite],
                  passed_over: Iterable[A.ProbePoint] = ()
                  ) -> Tuple[StpcWarning, ...]:
    """Every warning about the script, in source order.  ``functions``
    are the ones a probe can call (the others are left out);
    ``passed_over``, the points after a ``!`` point that resolved."""
    scopes = [f.scope for f in functions.values()] + \
        [h.scope for h in handlers]
    used = _used_globals(scopes, globals_)
    found: List[StpcWarning] = []
    for scope in scopes:
        found += _never_assigned_locals(scope, used)
        found += _never_read_locals(scope)
        found += _statements_without_effect(scope.body)
    found += _never_assigned_globals(scopes, globals_, used)
    found += _unused_functions(script, functions)
    found += _empty_probes(handlers)
    found += _optional_points_left_out(script, sites, passed_over)
    return tuple(sorted(found, key=lambda w: (w.span.line, w.span.col)))


# ---- the names a scope uses ----------------------------------------------

def _assigned_names(scope: Scope) -> Set[str]:
    """Names a scope gives a value to: '=' and the other assignments,
    '++'/'--', delete, foreach and catch variables, parameters."""
    names = {name for name, sym in scope.locals.items() if sym.is_param}
    for node in A.walk(scope.body):
        if isinstance(node, (A.Assign, A.Crement, A.Delete)):
            target = node.target
            if isinstance(target, (A.Var, A.Index)):
                names.add(target.name)
        elif isinstance(node, A.Foreach):
            names.update(key.name for key in node.keys)
            if node.value_var:
                names.add(node.value_var)
        elif isinstance(node, A.TryCatch) and node.message_var:
            names.add(node.message_var)
    return names


def _global_names(scope: Scope) -> Iterator[str]:
    for node in A.walk(scope.body):
        if isinstance(node, A.Var) and node.name not in scope.locals:
            yield node.name
        elif isinstance(node, A.Index):
            yield node.name
        elif isinstance(node, (A.InArray, A.Foreach)):
            yield node.array


def _used_globals(scopes: List[Scope], globals_) -> Set[str]:
    """Globals the script's reachable code names: SystemTap leaves out
    the others before it warns, and suggests none of them."""
    return {name for scope in scopes for name in _global_names(scope)
            if name in globals_}


# ---- never assigned ------------------------------------------------------

def _never_assigned_locals(scope: Scope, used: Set[str]) -> List[StpcWarning]:
    assigned = _assigned_names(scope)
    first_read: Dict[str, A.Span] = {}
    for node in A.walk(scope.body):
        if isinstance(node, A.Var) and node.name in scope.locals and \
                node.name not in assigned:
            span = first_read.get(node.name)
            if span is None or _before(node.span, span):
                first_read[node.name] = node.span
    return [StpcWarning(f"never-assigned local variable '{name}'" +
                        _similar(name, set(scope.locals) | used), span)
            for name, span in first_read.items()]


def _never_assigned_globals(scopes: List[Scope], globals_,
                            used: Set[str]) -> List[StpcWarning]:
    assigned = {name for name, sym in globals_.items()
                if sym.decl.init is not None}
    for scope in scopes:
        assigned |= _assigned_names(scope) - set(scope.locals)
    return [StpcWarning(f"never-assigned global variable '{name}'" +
                        _similar(name, used), globals_[name].decl.span)
            for name in sorted(used - assigned)]


def _similar(name: str, candidates: Set[str]) -> str:
    """`` (similar: a, b)``: the closest other names by edit distance,
    as SystemTap lists them (no cut-off; ties in name order).  stap's
    ranking differs when many names compete (docs/language.md)."""
    ranked = sorted((_edit_distance(name, other), other)
                    for other in candidates if other != name)
    if not ranked:
        return ""
    return " (similar: " + ", ".join(other for _, other in
                                     ranked[:_MAX_SIMILAR]) + ")"


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions, substitutions."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _before(a: A.Span, b: A.Span) -> bool:
    return (a.line, a.col) < (b.line, b.col)


# ---- never read ----------------------------------------------------------

def _never_read_locals(scope: Scope) -> List[StpcWarning]:
    """Each '=' to a local that nothing reads (stap: "Eliding assignment
    to 'x'"; stpc compiles it all the same).  '+=', '++' and delete read
    the variable they change."""
    stores = [node for node in A.walk(scope.body)
              if isinstance(node, A.Assign) and node.op == "=" and
              isinstance(node.target, A.Var) and
              node.target.name in scope.locals]
    stored = {node.target for node in stores}
    read = {node.name for node in A.walk(scope.body)
            if isinstance(node, A.Var) and node not in stored}
    return [StpcWarning(f"value stored to '{node.target.name}' is never "
                        "read", node.span)
            for node in stores if node.target.name not in read]


# ---- statements and probes that do nothing -------------------------------

def _statements_without_effect(body: A.Block) -> List[StpcWarning]:
    return [StpcWarning("side-effect-free expression: the statement does "
                        "nothing", node.span)
            for node in A.walk(body)
            if isinstance(node, A.ExprStmt) and _pure(node.expr)]


def _pure(expr) -> bool:
    for node in A.walk(expr):
        if isinstance(node, A.StatOp):
            if node.op not in _PURE_STAT_OPS:
                return False
        elif not isinstance(node, _PURE_NODES) or \
                isinstance(node, A.Binary) and node.op in _FAILING_OPS:
            return False
    return True


def _empty_probes(handlers: List[Handler]) -> List[StpcWarning]:
    """stap leaves such probes out ("Probe 'begin' has been elided");
    stpc arms them all the same."""
    return [StpcWarning(f"probe '{point}' has an empty body", point.span)
            for handler in handlers if _empty(handler.decl.body)
            for point in handler.decl.points]


def _empty(stmt) -> bool:
    if isinstance(stmt, A.Block):
        return all(_empty(s) for s in stmt.body)
    return isinstance(stmt, A.Empty)


def _optional_points_left_out(script: A.Script, sites: Iterable[ProbeSite],
                              passed_over: Iterable[A.ProbePoint]
                              ) -> List[StpcWarning]:
    """An optional point stpc does not know gives no site and no error:
    SystemTap may support it, and there the probe would fire.  (Optional
    kernel and module points that match nothing are silent, as in stap,
    unless stpc lacks their kind, like kernel.data.)"""
    placed = {site.point for site in sites} | set(passed_over)
    return [StpcWarning(f"optional probe point '{point}' is unknown or "
                        "unsupported: it never fires", point.span)
            for probe in script.probes for point in probe.points
            if point.optional and point not in placed and
            (point.components[0].name not in _CODE_HEADS or
             unsupported_point(point) is not None)]


#: points that resolve against code: optional ones that match nothing
#: are silent
_CODE_HEADS = ("kernel", "module", "process")


def _unused_functions(script: A.Script,
                      functions: Mapping[str, FunctionInfo]
                      ) -> List[StpcWarning]:
    """Functions no probe calls are neither checked nor compiled (stap
    says so only at -vvv)."""
    return [StpcWarning(f"eliding unused function '{decl.name}'", decl.span)
            for decl in script.functions if decl.name not in functions]
