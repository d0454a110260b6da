"""Pass 3, expressions: each node to one C expression.

Statements (lower_stmt.py) ask for the C of their expressions here; calls
of built-in functions are lowered by lower_calls.py.
"""

from __future__ import annotations

from typing import Optional

from . import ast as A
from . import lower_calls
from .cstring import c_string
from .entryvalues import EntryLayout
from .ir import FunctionInfo, GlobalSym, Program, T
from .near import location
from .storage import (C_TYPE, STAT_OPS, FrameView, c_long, global_value, map_ref,
                      stat_desc_index, stat_map_desc_ref, stat_map_ref,
                      stat_read, stat_ref, struct_key, truth, value_ref)
from .targetvars import (TargetCompiler, TargetSite, compiler_for,
                         is_target, types_compiler)
from .visit import ExprVisitor

_ARITH = {"+": "+", "-": "-", "*": "*", "&": "&", "|": "|", "^": "^"}
_CHECKED = {"/": "stpc_div", "%": "stpc_mod"}
_SHIFT = {"<<": "stpc_shl", ">>": "stpc_shr"}


class ExprLowering(ExprVisitor):
    """Lowers the expressions of one scope; temporaries go in its frame.
    ``site`` is given for a handler translated for one probe site, whose
    target variables it reads."""

    def __init__(self, program: Program, frame: FrameView,
                 function: Optional[FunctionInfo] = None,
                 site: Optional[TargetSite] = None,
                 entry: Optional[EntryLayout] = None):
        self.program = program
        self.frame = frame
        self.function = function
        self.entry = entry      # a .return's values read at entry
        self.target_vars: Optional[TargetCompiler] = None
        where = lambda node: c_string(location(node))   # noqa: E731
        if site is not None:
            self.target_vars = compiler_for(site, self.expr, where)
        elif program.cast_types is not None:
            self.target_vars = types_compiler(program.cast_types, self.expr,
                                              where)

    def temp_string(self) -> str:
        return self.frame.temp_string()

    def expr(self, node) -> str:
        return self.visit_expr(node)

    def cond(self, node) -> str:
        return truth(self.expr(node))

    def type_of(self, node) -> T:
        return self.program.types[node]

    def expr_IntLit(self, node):
        return f"((s64){c_long(node.value)})"

    def expr_StrLit(self, node):
        return c_string(node.value)

    def var_ref(self, node) -> str:
        sym = self.program.symbols[node]
        if isinstance(sym, GlobalSym):
            return f"stpc_g.g_{sym.name}"
        return f"l->vars.l_{sym.name}"

    def expr_Var(self, node):
        sym = self.program.symbols[node]
        if isinstance(sym, GlobalSym):
            return global_value(sym)
        return self.var_ref(node)

    def counter_add(self, node, delta: str) -> str:
        """An add to a per-CPU counter; only ever a statement."""
        name = self.program.symbols[node.target].name
        return (f"({{ s64 v = {delta}; if (!c->last_error) "
                f"this_cpu_add(stpc_pc_{name}, v); 0; }})")

    def is_counter(self, target) -> bool:
        sym = self.program.symbols.get(target)
        return isinstance(sym, GlobalSym) and sym.counter

    # -- target variables --
    def target_value(self, node):
        if self.entry is not None and node in self.entry:
            return self.entry.ref(node)
        return self.target_vars.value(node)

    expr_Member = expr_Subscript = expr_AddressOf = expr_AtOp = \
        target_value

    def expr_TargetVar(self, node):
        if not node.context:
            return self.target_value(node)
        shown = self.target_vars.context_group(node)
        args = [(arg.ctype, arg.c_text(self.temp_string))
                for var in shown for arg in var.args]
        return lower_calls.sprint_into(
            self, " ".join(var.format for var in shown), args)

    def expr_Unary(self, node):
        operand = self.expr(node.operand)
        if node.op == "-":
            return f"stpc_neg({operand})"
        if node.op == "+":
            return f"({operand})"
        if node.op == "!":
            return f"((s64)!{truth(operand)})"
        return f"(~({operand}))"

    def expr_Binary(self, node):
        return self.binary_c(node.op, self.expr(node.left),
                             self.expr(node.right), node,
                             self.type_of(node.left))

    def binary_c(self, op: str, left: str, right: str, node,
                 operand_type: T) -> str:
        """C for ``left op right``, given as C expressions."""
        if op == ".":
            return f"stpc_concat({self.temp_string()}, {left}, {right})"
        if op in ("==", "!=", "<", ">", "<=", ">="):
            if operand_type is T.STRING:
                return f"((s64)(stpc_strcmp({left}, {right}) {op} 0))"
            # through temporaries: 'x < x' and '(x & 1) == 2' are valid
            # scripts, but gcc's tautological-compare fails them
            return (f"({{ s64 cl = {left}, cr = {right}; "
                    f"(s64)(cl {op} cr); }})")
        if op in ("&&", "||"):
            return f"((s64)({truth(left)} {op} {truth(right)}))"
        if op in _CHECKED:
            return (f"{_CHECKED[op]}(c, {left}, {right}, "
                    f"{c_string(location(node))})")
        if op in _SHIFT:
            return f"{_SHIFT[op]}({left}, {right})"
        return f"((s64)((u64)({left}) {_ARITH[op]} (u64)({right})))"

    def expr_Ternary(self, node):
        cond = self.cond(node.cond)
        then, other = self.expr(node.then), self.expr(node.otherwise)
        return f"(({cond}) ? ({then}) : ({other}))"

    def lvalue(self, target):
        """(prelude, guard, ref): C that finds the target's storage, a
        condition that it was found, and the storage as an lvalue (a
        ``char *`` for strings)."""
        if isinstance(target, A.Var):
            return "", "1", self.var_ref(target)
        sym = self.program.symbols[target]
        m = map_ref(self.program, sym.name)
        prelude = (self.key_prelude(sym, target.keys) +
                   " struct stpc_map_entry *e = c->last_error ? NULL : "
                   f"stpc_map_insert(c, {m}, &key, "
                   f"{c_string(location(target))});")
        return prelude, "e", value_ref(m, "e", sym.type)

    def key_prelude(self, sym, keys) -> str:
        """C declaring ``key``, a struct stpc_key holding ``keys``.  Only
        the fields of the array's key types are set (the runtime reads no
        others); zeroing the whole struct, which the kernel's
        INIT_STACK_ALL_ZERO does to a plain declaration, would cost every
        hit."""
        parts = []
        for i, (key, t) in enumerate(zip(keys, sym.key_types)):
            parts.append(f"{C_TYPE[t]} k{i} = {self.expr(key)};")
        parts.append("struct stpc_key key __uninitialized;")
        for i, t in enumerate(sym.key_types):
            parts.append(f"{struct_key(i, t)} = k{i};")
        return " ".join(parts)

    def expr_Index(self, node):
        sym = self.program.symbols[node]
        m = map_ref(self.program, sym.name)
        missing = '""' if sym.type is T.STRING else "0"
        value = value_ref(m, "e", sym.type)
        if sym.type is T.STRING:
            value = f"(const char *){value}"
        return (f"({{ {self.key_prelude(sym, node.keys)} "
                f"struct stpc_map_entry *e = stpc_map_find({m}, &key); "
                f"e ? {value} : {missing}; }})")

    def expr_InArray(self, node):
        sym = self.program.symbols[node]
        if sym.type is T.STATS:
            found = (f"stpc_stat_map_contains("
                     f"{stat_map_ref(self.program, sym.name)}, &key)")
        else:
            found = (f"stpc_map_find({map_ref(self.program, sym.name)}, "
                     "&key) != NULL")
        return (f"({{ {self.key_prelude(sym, node.keys)} "
                f"(s64)({found}); }})")

    def read_statistic(self, node) -> str:
        """C declaring ``r``: the merged statistic an extractor reads, a
        global one or an element of a statistics array."""
        sym, arg = self.program.symbols[node], node.args[0]
        if not isinstance(arg, A.Index):
            return stat_read(self.program, sym, self.frame)
        n = len(self.frame.temps)
        self.frame.temps.append(
            f"u64 agg{n}[STPC_STAT_WORDS({sym.nbuckets})];")
        return (f"{self.key_prelude(sym, arg.keys)} "
                f"struct stpc_stat_record *r = (void *)l->agg{n}; "
                f"stpc_stat_map_read({stat_map_ref(self.program, sym.name)}, "
                "&key, r);")

    def expr_StatOp(self, node):
        read = self.read_statistic(node)
        loc = c_string(location(node))
        value = f"stpc_stat_field(r, {STAT_OPS[node.op]})"
        if node.op in ("@count", "@sum"):
            return f"({{ {read} {value}; }})"
        return (f"({{ {read} r->count ? {value} : "
                f"(stpc_error(c, \"empty aggregate\", {loc}), 0); }})")

    def add_to_statistic(self, node) -> str:
        """``target <<< value``: per-CPU, see stats.c and stat_map.c."""
        target = node.target
        sym = self.program.symbols[target]
        value = f"s64 v = {self.expr(node.value)};"
        # the descriptions are constants: stpc_stat_add.h inlines the add
        # for what this statistic keeps
        if isinstance(target, A.Index):
            add = (f"{self.key_prelude(sym, target.keys)} "
                   "if (!c->last_error) stpc_stat_map_add(c, "
                   f"{stat_map_ref(self.program, sym.name)}, "
                   f"{stat_map_desc_ref(self.program, sym.name)}, &key, v, "
                   f"{c_string(location(target))});")
        else:
            desc = stat_desc_index(self.program, sym)
            add = ("if (!c->last_error) "
                   f"stpc_stat_add({stat_ref(self.program, sym.name)}, "
                   f"&stpc_stat_descs[{desc}], v);")
        return f"({{ {value} {add} v; }})"

    def expr_Assign(self, node):
        if node.op == "<<<":
            return self.add_to_statistic(node)
        if is_target(node.target):
            return self.target_assign(node)
        value = self.expr(node.value)
        if self.is_counter(node.target):
            sign = "" if node.op == "+=" else "-"
            return self.counter_add(node, f"{sign}({value})")
        prelude, guard, ref = self.lvalue(node.target)
        op = node.op
        if self.type_of(node.target) is T.STRING:
            store = (f"stpc_concat({ref}, {ref}, v)" if op == ".="
                     else f"stpc_str_assign({ref}, v)")
            return (f"({{ const char *v = {value}; {prelude} "
                    f"const char *r = \"\"; if ({guard}) {{ {store}; "
                    f"r = {ref}; }} r; }})")
        if op == "=":
            update = f"{ref} = v"
        else:
            update = f"{ref} = " + self.binary_c(op[:-1], ref, "v", node,
                                                 T.LONG)
        return (f"({{ s64 v = {value}; {prelude} s64 r = 0; "
                f"if ({guard}) {{ {update}; r = {ref}; }} r; }})")

    def expr_Crement(self, node):
        delta = "1" if node.op == "++" else "-1"
        if self.is_counter(node.target):
            return self.counter_add(node, delta)
        if is_target(node.target):
            return self.target_crement(node, delta)
        prelude, guard, ref = self.lvalue(node.target)
        result = ref if node.prefix else "old"
        return (f"({{ {prelude} s64 r = 0; if ({guard}) {{ s64 old = {ref}; "
                f"{ref} = (s64)((u64)old + (u64){delta}); r = {result}; }} "
                "r; })")

    # -- guru mode (-g): writes to the probed code's variables --
    def target_assign(self, node) -> str:
        value = self.expr(node.value)
        new = "v"
        if node.op != "=":
            new = self.binary_c(node.op[:-1], self.target_value(node.target),
                                "v", node, T.LONG)
        store = self.target_vars.store(node.target, "r")
        return f"({{ s64 v = {value}; s64 r = {new}; {store}; r; }})"

    def target_crement(self, node, delta: str) -> str:
        store = self.target_vars.store(node.target, "r")
        result = "r" if node.prefix else "old"
        return (f"({{ s64 old = {self.target_value(node.target)}; "
                f"s64 r = (s64)((u64)old + (u64){delta}); {store}; "
                f"{result}; }})")

    def expr_Call(self, node):
        lowering = lower_calls.LOWERINGS.get(node.name)
        if lowering is not None:
            return lowering(self, node)
        function = self.program.functions.get(node.name)
        if function is not None:
            return lower_calls.user_call(self, node, function)
        return lower_calls.simple_builtin(self, node)
