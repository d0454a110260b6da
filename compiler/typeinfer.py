"""Whole-script type inference, as SystemTap's pass 2 does it: collect
the constraints of every scope (typecollect.py), solve them all at once
(typesolve.py), then write the types into the symbols and the side tables
the translator reads, and report what stayed unresolved."""

from __future__ import annotations

from typing import Dict, List, Tuple

from . import ast as A
from .builtins import is_builtin
from .errors import ErrorCollector, nearest
from .ir import FunctionInfo, GlobalSym, Scope, Symbol, T
from .typecollect import Collector, statistics
from .typesolve import Solver


def infer_types(globals_: Dict[str, GlobalSym],
                functions: Dict[str, FunctionInfo], scopes: List[Scope],
                errors: ErrorCollector) -> Tuple[Dict[object, T],
                                                 Dict[object, Symbol]]:
    """The type of each expression node and the symbol of each name node;
    the symbols' types are set in place."""
    collector = Collector(globals_, functions, statistics(scopes, globals_))
    constraints = collector.collect(scopes)
    solver = Solver(constraints.count)
    for error in solver.solve(constraints.items):
        errors.add(error.message, error.span, hint=error.hint)
    _write_back(collector, solver, globals_, functions, scopes)
    _report_unresolved(globals_, functions, scopes, errors)
    types = {node: solver.type_of(var)
             for node, var in constraints.nodes.items()
             if solver.type_of(var) is not None}
    _report_valueless_calls(constraints.valued_calls, types, functions,
                            errors)
    return types, collector.symbols


def _write_back(collector, solver, globals_, functions, scopes) -> None:
    for scope in scopes:
        for sym in scope.locals.values():
            sym.type = solver.type_of(collector.sym_var(sym))
    for sym in globals_.values():
        sym.type = solver.type_of(collector.sym_var(sym))
        if sym.key_types:
            sym.key_types = [solver.type_of(collector.key_var(sym, i))
                             for i in range(len(sym.key_types))]
    for function in functions.values():
        function.return_type = solver.type_of(collector.ret_var(function))


def _report_unresolved(globals_, functions, scopes, errors) -> None:
    for scope in scopes:
        for sym in scope.locals.values():
            if sym.type is None:
                known = list(scope.locals) + list(globals_)
                known.remove(sym.name)
                errors.add(f"unresolved type for identifier '{sym.name}'",
                           sym.span, hint=nearest(sym.name, known))
    used = set().union(*(s.globals_read | s.globals_written
                         for s in scopes))
    for sym in globals_.values():
        if sym.name not in used:
            continue
        if sym.type is None:
            errors.add(f"unresolved type for global '{sym.name}'",
                       sym.decl.span)
        if sym.key_types is not None and None in sym.key_types:
            errors.add(f"unresolved type for a key of array '{sym.name}'",
                       sym.decl.span)
    for function in functions.values():
        if function.return_type is None and _returns_value(function):
            errors.add(f"unresolved return type of function "
                       f"'{function.name}'", function.decl.span)


def _report_valueless_calls(calls: List[A.Call], types, functions,
                            errors: ErrorCollector) -> None:
    """``println(f())`` or ``println(1) > 2``, where ``f`` (or a built-in
    such as ``println``) returns nothing: an "unresolved type" in
    SystemTap too."""
    for call in calls:
        function = functions.get(call.name)
        # one returning a value of unresolved type is reported as that
        if call not in types and (is_builtin(call.name) or (
                function is not None and not _returns_value(function))):
            errors.add(f"function '{call.name}' returns no value",
                       call.span)


def _returns_value(function: FunctionInfo) -> bool:
    return any(isinstance(n, A.Return) and n.value is not None
               for n in A.walk(function.decl.body))
