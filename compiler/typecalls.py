"""Type constraints of calls: functions, built-ins, the output
functions, and the statistics extractors and histograms."""

from __future__ import annotations

from typing import Optional

from . import ast as A
from .builtins import BUILTINS, VARIADIC_OUTPUT
from .errors import StpcError, nearest
from .ir import GlobalSym, Histogram, HistogramKind, T
from .printf import format_arg_types, parse_format
from .typeexpr import ExprTypes
from .unsupported import tapset_function

EXTRACTORS = ("@count", "@sum", "@min", "@max", "@avg", "@variance")
_MAX_VARIANCE_SHIFT = 62


class CallTypes(ExprTypes):
    """Calls of functions, built-ins and the output functions, and the
    statistics extractors."""
    ABSTRACT = True     # the statements' Collector completes it

    def expr_Call(self, node):
        if node.name in VARIADIC_OUTPUT:
            return self.output_call(node)
        builtin = BUILTINS.get(node.name)
        if builtin is not None:
            self.check_arity(node, len(builtin.params) - builtin.optional,
                             len(builtin.params))
            for arg, want in zip(node.args,
                                 builtin.param_types(len(node.args))):
                self.expect(arg, want)
            return self.fixed(builtin.ret) if builtin.ret else None
        function = self.functions.get(node.name)
        if function is None:
            self.unknown_function(node)
            for arg in node.args:
                self.expr(arg)
            return None
        self.scope.calls.add(node.name)
        self.check_arity(node, len(function.params), len(function.params))
        for arg, param in zip(node.args, function.params):
            self.bind(param, self.expr(arg, hist_ok=True), arg)
        return self.ret_var(function)

    def unknown_function(self, node) -> None:
        tapset = tapset_function(node.name, node.span)
        if tapset is not None:
            self.error(tapset.message, tapset.span, tapset.hint)
            return
        names = list(self.functions) + list(BUILTINS) + list(VARIADIC_OUTPUT)
        self.error(f"unknown function '{node.name}'", node.span,
                   hint=nearest(node.name, names))

    def output_call(self, node) -> Optional[int]:
        name = node.name
        args = list(node.args)
        if name in ("printf", "sprintf"):
            self.check_format(node)
        elif name in ("printd", "printdln"):
            if len(args) < 3:
                self.error(f"function '{name}' needs a delimiter and at "
                           "least two values", node.span)
            if args:
                self.expect(args[0], T.STRING)
            for arg in args[1:]:
                self.expr(arg)
        else:
            if name == "print" and not args:
                self.error("function 'print' needs an argument", node.span)
            for arg in args:
                if self.expr(arg, hist_ok=True) in self.hist_vars and (
                        len(args) > 1 or name.startswith("sprint")):
                    self.error("a histogram is printed alone, with print or "
                               "println", arg.span)
        return self.fixed(T.STRING) if name.startswith("sprint") else None

    def check_format(self, node) -> None:
        if not node.args or not isinstance(node.args[0], A.StrLit):
            self.error(f"the format of '{node.name}' must be a string "
                       "literal", node.span)
            for arg in node.args:
                self.expr(arg)
            return
        self.expr(node.args[0])
        try:
            pieces = parse_format(node.args[0].value, node.args[0].span)
        except StpcError as exc:
            self.error(exc.message, exc.span, exc.hint)
            return
        wants = format_arg_types(pieces)
        given = node.args[1:]
        if len(wants) != len(given):
            self.error(f"format string of '{node.name}' takes {len(wants)} "
                       f"argument{'s' if len(wants) != 1 else ''}, "
                       f"{len(given)} given", node.span)
        for arg, want in zip(given, wants):
            self.expect(arg, want)
        for arg in given[len(wants):]:
            self.expr(arg)

    def stat_arg(self, node) -> Optional[GlobalSym]:
        """The statistic an extractor reads, checked."""
        arg = node.args[0] if node.args else None
        if isinstance(arg, A.Index):
            sym = self.array_keys(arg.name, arg.keys, arg)
        elif isinstance(arg, A.Var):
            sym = self.globals.get(arg.name)
            sym = None if sym is None or sym.is_array else sym
        else:
            sym = None
        if sym is None:
            self.error(f"'{node.op}' needs a global statistic or an element "
                       "of a statistics array (what '<<<' adds to)",
                       node.span)
            return None
        self.symbols[node] = sym
        self.scope.globals_read.add(sym.name)
        self.bind_type(sym, T.STATS, arg)
        return sym

    def expr_StatOp(self, node):
        if node.op == "@variance" and len(node.args) == 2:
            self.variance_shift(node)
        elif node.op in EXTRACTORS and len(node.args) != 1:
            self.error(f"'{node.op}' takes one statistic", node.span)
        if node.op in EXTRACTORS:
            sym = self.stat_arg(node)
            if sym is not None and node.op == "@variance":
                sym.uses_variance = True
            return self.fixed(T.LONG)
        if node.op in ("@hist_log", "@hist_linear"):
            self.histogram(node)
            var = self.fixed(T.HIST)
            self.hist_vars.add(var)
            return var
        self.error(f"'{node.op}' is not supported yet", node.span)
        return self.fixed(T.LONG)

    def variance_shift(self, node) -> None:
        """``@variance(s, N)``: SystemTap keeps the running mean scaled by
        2^N, for precision; every use must agree on N."""
        shift = node.args[1]
        sym = self.stat_arg(node)
        if not isinstance(shift, A.IntLit) or \
                not 0 <= shift.value <= _MAX_VARIANCE_SHIFT:
            self.error("the bit shift of '@variance' must be a number from "
                       f"0 to {_MAX_VARIANCE_SHIFT}", shift.span)
            return
        if sym is None:
            return
        if sym.variance_shift is None:
            sym.variance_shift = shift.value
        elif sym.variance_shift != shift.value:
            self.error(f"statistic '{sym.name}' has conflicting @variance "
                       f"bit shifts: {shift.value} here, "
                       f"{sym.variance_shift} before", shift.span)

    def histogram(self, node) -> None:
        sym = self.stat_arg(node)
        spec = self.histogram_spec(node)
        if sym is None or spec is None:
            return
        if sym.hist is not None and sym.hist != spec:
            self.error(f"statistic '{sym.name}' is printed as two different "
                       "histograms", node.span)
        sym.hist = spec

    def histogram_spec(self, node) -> Optional[Histogram]:
        if node.op == "@hist_log":
            if len(node.args) != 1:
                self.error("'@hist_log' takes one statistic", node.span)
            return Histogram(HistogramKind.LOG)
        limits = node.args[1:]
        if len(limits) != 3 or not all(isinstance(a, A.IntLit)
                                       for a in limits):
            self.error("'@hist_linear' takes a statistic and three "
                       "number literals: start, stop, step", node.span)
            return None
        start, stop, step = (a.value for a in limits)
        if step <= 0 or stop <= start:
            self.error("'@hist_linear' needs start < stop and a "
                       "positive step", node.span)
            return None
        if (stop - start) // step > 1000:
            self.error("'@hist_linear' would have more than 1000 "
                       "buckets", node.span)
            return None
        return Histogram(HistogramKind.LINEAR, start, stop, step)
