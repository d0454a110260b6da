"""Pass 3: the typed program to the C source of a kernel module.

Statements and expressions are lowered here, in Python, to C text; the
module's layout (globals, contexts, probe tables, module info) is the
template ``templates/module.c`` filled from a precomputed view model.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import jinja2

from . import ast as A
from .cstring import c_comment, c_string
from .errors import StpcError
from .ir import FunctionInfo, GlobalSym, ProbeKind, Program, T
from .printf import kernel_format, parse_format

_C_TYPE = {T.LONG: "s64", T.STRING: "const char *"}
_ARITH = {"+": "+", "-": "-", "*": "*", "&": "&", "|": "|", "^": "^"}
_CHECKED = {"/": "stpc_div", "%": "stpc_mod"}
_SHIFT = {"<<": "stpc_shl", ">>": "stpc_shr"}
_KEYWORD_STMTS = (A.If, A.While, A.For, A.Foreach, A.Return, A.Delete,
                  A.Next, A.Break, A.Continue, A.TryCatch)


@dataclass
class ModuleInfo:
    name: str
    source_hash: str
    version: str


@dataclass
class FrameView:
    """A C struct of one scope's locals (``vars``) and temporaries."""
    struct: str
    member: str
    vars: List[str] = field(default_factory=list)
    temps: List[str] = field(default_factory=list)


@dataclass
class FunctionView:
    name: str
    frame: FrameView
    body: List[str]


@dataclass
class ProbeView:
    handler: str
    point: str
    kind: str
    locks: List[str]


@dataclass
class HandlerView:
    name: str
    frame: FrameView
    body: List[str]


def translate(program: Program, info: ModuleInfo) -> str:
    view = _ModuleView(program, info).build()
    return _template().render(**view)


@functools.lru_cache(maxsize=None)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stpc.compiler", "templates"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False)
    return env.get_template("module.c")


def near(node) -> str:
    """SystemTap's description of the token a node stands for."""
    if isinstance(node, A.ExprStmt):
        return near(node.expr)
    if isinstance(node, (A.Binary, A.Unary, A.Assign, A.Crement)):
        return f"operator '{node.op}'"
    if isinstance(node, (A.Var, A.Index, A.Call)):
        return f"identifier '{node.name}'"
    if isinstance(node, A.StatOp):
        return f"operator '{node.op}'"
    if isinstance(node, A.IntLit):
        return f"number '{node.value}'"
    if isinstance(node, A.StrLit):
        return f"string '{node.value}'"
    if isinstance(node, A.InArray):
        return "keyword"
    if isinstance(node, _KEYWORD_STMTS):
        return "keyword"
    return "token"


def location(node) -> str:
    """The ``near TOKEN at FILE:LINE:COL`` suffix of runtime errors."""
    return f"near {near(node)} at {node.span}"


class _ModuleView:
    """Precomputes everything the module template shows."""

    def __init__(self, program: Program, info: ModuleInfo):
        self.program = program
        self.info = info

    def build(self) -> dict:
        program = self.program
        functions = [self.function_view(f) for f in program.functions.values()]
        handlers = [self.handler_view(h.index) for h in program.handlers]
        begin = [self.probe_view(s) for s in program.sites_of(ProbeKind.BEGIN)]
        end = [self.probe_view(s) for s in program.sites_of(ProbeKind.END)]
        unread = self.unread_globals_handler()
        if unread is not None:
            handlers.append(unread)
            end.append(ProbeView(unread.name, "end", "STPC_PROBE_END",
                                 self.locks(set(), set(
                                     g.name for g in program.unread_globals()))))
        return dict(
            info=self.info,
            script_file=c_comment(program.script.file),
            module_name=self.info.name,
            max_nesting=program.max_nesting,
            globals=[self.global_decl(g) for g in program.globals.values()],
            global_inits=self.global_inits(),
            nglobals=len(program.globals),
            functions=functions,
            handlers=handlers,
            begin=begin,
            end=end,
            c_string=c_string,
        )

    # -- globals --
    def global_decl(self, sym: GlobalSym) -> str:
        return _member_decl(f"g_{sym.name}", sym.type)

    def global_inits(self) -> List[str]:
        lines = []
        for sym in self.program.globals.values():
            init = sym.decl.init
            if isinstance(init, str):
                lines.append(f"strscpy(stpc_g.g_{sym.name}, {c_string(init)},"
                             f" MAXSTRINGLEN);")
            elif init is not None:
                lines.append(f"stpc_g.g_{sym.name} = {_c_long(init)};")
        return lines

    def locks(self, read: set, written: set) -> List[str]:
        lines = []
        for sym in self.program.globals.values():
            if sym.name in written:
                lines.append(f"{{ .index = {sym.index}, .write = 1 }}")
            elif sym.name in read:
                lines.append(f"{{ .index = {sym.index}, .write = 0 }}")
        return lines

    # -- scopes --
    def function_view(self, function: FunctionInfo) -> FunctionView:
        frame = FrameView(f"stpc_frame_{function.name}", f"f_{function.name}")
        gen = _ScopeGen(self.program, frame, function)
        body = gen.body(function.scope.body)
        if function.return_type is not None:
            frame.vars.append(_member_decl("retvalue", function.return_type))
        return FunctionView(function.name, frame, body)

    def handler_view(self, index: int) -> HandlerView:
        handler = self.program.handlers[index]
        frame = FrameView(f"stpc_locals_probe_{index}", f"probe_{index}")
        gen = _ScopeGen(self.program, frame, None)
        body = gen.body(handler.scope.body, handler.scope.locals)
        return HandlerView(f"probe_{index}", frame, body)

    def probe_view(self, site) -> ProbeView:
        scope = self.program.handlers[site.handler].scope
        kind = {ProbeKind.BEGIN: "STPC_PROBE_BEGIN",
                ProbeKind.END: "STPC_PROBE_END"}[site.kind]
        return ProbeView(f"probe_{site.handler}", str(site.point), kind,
                         self.locks(scope.globals_read, scope.globals_written))

    def unread_globals_handler(self) -> Optional[HandlerView]:
        unread = self.program.unread_globals()
        if not unread:
            return None
        lines = []
        for sym in unread:
            if sym.type is T.STRING:
                lines.append(f'stpc_printf(c, "%s=\\"%s\\"\\n", '
                             f'{c_string(sym.name)}, stpc_g.g_{sym.name});')
            else:
                lines.append(f'stpc_printf(c, "%s=%lld\\n", '
                             f'{c_string(sym.name)}, stpc_g.g_{sym.name});')
        frame = FrameView("stpc_locals_unread", "unread")
        return HandlerView("unread_globals", frame, lines)


def _member_decl(name: str, t: T) -> str:
    if t is T.STRING:
        return f"char {name}[MAXSTRINGLEN];"
    return f"s64 {name};"


def _c_long(value: int) -> str:
    if value == -(1 << 63):
        return "S64_MIN"
    return f"{value}LL"


class _ScopeGen:
    """Lowers one probe handler or function body to C lines."""

    def __init__(self, program: Program, frame: FrameView,
                 function: Optional[FunctionInfo]):
        self.program = program
        self.frame = frame
        self.function = function
        self.lines: List[str] = []
        self.indent = 1
        self.catch_label = "out"
        self.ntemps = 0

    # -- output --
    def emit(self, line: str) -> None:
        self.lines.append("\t" * self.indent + line)

    def temp_string(self) -> str:
        name = f"t{self.ntemps}"
        self.ntemps += 1
        self.frame.temps.append(f"char {name}[MAXSTRINGLEN];")
        return f"l->{name}"

    def body(self, block: A.Block, locals_=None) -> List[str]:
        scope_locals = (self.function.scope.locals if self.function
                        else locals_) or {}
        for sym in scope_locals.values():
            self.frame.vars.append(_member_decl(f"l_{sym.name}", sym.type))
        for stmt in block.body:
            self.stmt(stmt)
        return self.lines


    # -- statements --
    def stmt(self, node) -> None:
        if isinstance(node, A.Block):
            for child in node.body:
                self.stmt(child)
            return
        self.emit(f"/* {c_comment(str(node.span))} */")
        self.emit(f"STPC_STEP(c, {c_string(location(node))}, "
                  f"{self.catch_label});")
        getattr(self, "stmt_" + type(node).__name__)(node)

    def nested(self, node) -> None:
        self.emit("{")
        self.indent += 1
        self.stmt(node)
        self.indent -= 1
        self.emit("}")

    def stmt_Empty(self, node):
        pass

    def stmt_ExprStmt(self, node):
        self.emit(f"(void)({self.expr(node.expr)});")

    def stmt_If(self, node):
        self.emit(f"if ({self.expr(node.cond)})")
        self.nested(node.then)
        if node.otherwise is not None:
            self.emit("else")
            self.nested(node.otherwise)

    def stmt_While(self, node):
        self.emit(f"while ({self.expr(node.cond)}) {{")
        self.loop_body(node, node.body)

    def stmt_For(self, node):
        init = self.expr(node.init) if node.init is not None else ""
        cond = self.expr(node.cond) if node.cond is not None else ""
        step = self.expr(node.step) if node.step is not None else ""
        self.emit(f"for ({init}; {cond}; {step}) {{")
        self.loop_body(node, node.body)

    def loop_body(self, loop, body) -> None:
        self.indent += 1
        self.emit(f"STPC_STEP(c, {c_string(location(loop))}, "
                  f"{self.catch_label});")
        self.stmt(body)
        self.indent -= 1
        self.emit("}")

    def stmt_Break(self, node):
        self.emit("break;")

    def stmt_Continue(self, node):
        self.emit("continue;")

    def stmt_Next(self, node):
        self.emit("goto out;")

    def stmt_Return(self, node):
        if node.value is not None:
            value = self.expr(node.value)
            if self.function.return_type is T.STRING:
                self.emit(f"stpc_str_assign(l->vars.retvalue, {value});")
            else:
                self.emit(f"l->vars.retvalue = {value};")
        self.emit("goto out;")

    # -- expressions: each returns a C expression --
    def expr(self, node) -> str:
        return getattr(self, "expr_" + type(node).__name__)(node)

    def type_of(self, node) -> T:
        return self.program.types[node]

    def expr_IntLit(self, node):
        return f"((s64){_c_long(node.value)})"

    def expr_StrLit(self, node):
        return c_string(node.value)

    def var_ref(self, node) -> str:
        sym = self.program.symbols[node]
        if isinstance(sym, GlobalSym):
            return f"stpc_g.g_{sym.name}"
        return f"l->vars.l_{sym.name}"

    def expr_Var(self, node):
        return self.var_ref(node)

    def expr_Unary(self, node):
        operand = self.expr(node.operand)
        if node.op == "-":
            return f"stpc_neg({operand})"
        if node.op == "+":
            return f"({operand})"
        if node.op == "!":
            return f"((s64)!({operand}))"
        return f"(~({operand}))"

    def expr_Binary(self, node):
        op = node.op
        left, right = self.expr(node.left), self.expr(node.right)
        if op == ".":
            return f"stpc_concat({self.temp_string()}, {left}, {right})"
        if op in ("==", "!=", "<", ">", "<=", ">="):
            if self.type_of(node.left) is T.STRING:
                return f"((s64)(stpc_strcmp({left}, {right}) {op} 0))"
            return f"((s64)(({left}) {op} ({right})))"
        if op in ("&&", "||"):
            return f"((s64)(({left}) {op} ({right})))"
        if op in _CHECKED:
            return (f"{_CHECKED[op]}(c, {left}, {right}, "
                    f"{c_string(location(node))})")
        if op in _SHIFT:
            return f"{_SHIFT[op]}({left}, {right})"
        return f"((s64)((u64)({left}) {_ARITH[op]} (u64)({right})))"

    def expr_Ternary(self, node):
        cond = self.expr(node.cond)
        then, other = self.expr(node.then), self.expr(node.otherwise)
        return f"(({cond}) ? ({then}) : ({other}))"

    def expr_Assign(self, node):
        target = self.var_ref(node.target)
        value = self.expr(node.value)
        op = node.op
        if self.type_of(node.target) is T.STRING:
            if op == ".=":
                return f"stpc_concat({target}, {target}, {value})"
            return f"stpc_str_assign({target}, {value})"
        if op == "=":
            return f"({target} = ({value}))"
        binary = A.Binary(node.span, op[:-1], node.target, node.value)
        self.program.types[binary] = T.LONG
        return f"({target} = {self.expr(binary)})"

    def expr_Crement(self, node):
        target = self.var_ref(node.target)
        delta = "1" if node.op == "++" else "-1"
        update = f"{target} = (s64)((u64){target} + (u64){delta})"
        if node.prefix:
            return f"({update})"
        return f"({{ s64 old = {target}; {update}; old; }})"

    # -- calls --
    def expr_Call(self, node):
        method = getattr(self, "call_" + node.name, None)
        if method is not None:
            return method(node)
        function = self.program.functions.get(node.name)
        if function is not None:
            return self.user_call(node, function)
        return self.simple_builtin(node)

    def user_call(self, node, function: FunctionInfo) -> str:
        parts = ["({"]
        args = []
        for i, arg in enumerate(node.args):
            ctype = _C_TYPE[self.type_of(arg)]
            parts.append(f"{ctype} a{i} = {self.expr(arg)};")
            args.append(f"a{i}")
        frame = f"stpc_frame_{function.name}"
        parts.append(f"struct {frame} *callee = "
                     f"&stpc_ctx(c)->frames[c->nesting + 1].f_{function.name};")
        ret = function.return_type
        result = "0"
        if ret is T.STRING:
            result = self.temp_string()
            parts.append(f"{result}[0] = '\\0';")
        parts.append(f"if (unlikely(c->nesting + 1 >= MAXNESTING)) "
                     f"stpc_error(c, \"MAXNESTING exceeded\", "
                     f"{c_string(location(node))}); else if (!c->last_error) {{")
        for param, arg in zip(function.params, args):
            if param.type is T.STRING:
                parts.append(f"stpc_str_assign(callee->vars.l_{param.name}, {arg});")
            else:
                parts.append(f"callee->vars.l_{param.name} = {arg};")
        parts.append(f"c->nesting++; stpc_fn_{function.name}(c); "
                     "c->nesting--;")
        if ret is T.STRING:
            parts.append(f"stpc_str_assign({result}, callee->vars.retvalue);")
        elif ret is T.LONG:
            result = "r"
            parts[0] = "({ s64 r = 0;"
            parts.append("r = callee->vars.retvalue;")
        parts.append("}")
        parts.append(f"{result}; }})")
        return " ".join(parts)

    def simple_builtin(self, node) -> str:
        args = [self.expr(a) for a in node.args]
        return {
            "pid": "((s64)task_tgid_nr(current))",
            "tid": "((s64)task_pid_nr(current))",
            "ppid": "((s64)task_tgid_nr(current->real_parent))",
            "uid": "((s64)from_kuid_munged(current_user_ns(), current_uid()))",
            "cpu": "((s64)smp_processor_id())",
            "target": "((s64)stpc_target)",
            "pp": "c->probe->point",
            "execname": "current->comm",
            "jiffies": "((s64)jiffies)",
            "local_clock_ns": "((s64)local_clock())",
            "gettimeofday_s": "((s64)ktime_get_real_seconds())",
            "gettimeofday_ms": "((s64)ktime_to_ms(ktime_get_real()))",
            "gettimeofday_us": "((s64)ktime_to_us(ktime_get_real()))",
            "gettimeofday_ns": "((s64)ktime_get_real_ns())",
            "strlen": f"((s64)strnlen({args[0] if args else ''}, MAXSTRINGLEN))",
        }.get(node.name) or self.unsupported(node)

    def unsupported(self, node) -> str:
        raise StpcError(f"function '{node.name}' is not supported yet",
                        node.span)

    def call_exit(self, node):
        return "({ stpc_request_exit(); 0; })"

    def call_error(self, node):
        msg = self.expr(node.args[0])
        return f"({{ stpc_error_copy(c, {msg}, NULL); 0; }})"

    def printf_call(self, fmt: str, args: List[str], sink: str) -> str:
        """Evaluates the arguments, then prints only if none failed."""
        decls = " ".join(f"{ctype} a{i} = {value};"
                         for i, (ctype, value) in enumerate(args))
        names = "".join(f", a{i}" for i in range(len(args)))
        return (f"({{ {decls} if (!c->last_error) "
                f"{sink}{c_string(fmt)}{names}); 0; }})")

    def format_args(self, node, pieces) -> tuple:
        fmt, arg_kinds = kernel_format(pieces)
        args = []
        for arg, (t, as_int) in zip(node.args[1:], arg_kinds):
            if t is T.STRING:
                args.append(("const char *", self.expr(arg)))
            elif as_int:
                args.append(("int", f"(int){self.expr(arg)}"))
            else:
                args.append(("long long", self.expr(arg)))
        return fmt, args

    def call_printf(self, node):
        pieces = parse_format(node.args[0].value, node.args[0].span)
        fmt, args = self.format_args(node, pieces)
        return self.printf_call(fmt, args, "stpc_printf(c, ")

    def call_sprintf(self, node):
        pieces = parse_format(node.args[0].value, node.args[0].span)
        fmt, args = self.format_args(node, pieces)
        return self.sprint_into(fmt, args)

    def sprint_into(self, fmt: str, args) -> str:
        tmp = self.temp_string()
        call = self.printf_call(fmt, args,
                                f"snprintf({tmp}, MAXSTRINGLEN, ")
        return f"({{ {tmp}[0] = '\\0'; (void){call}; (const char *){tmp}; }})"

    def value_args(self, nodes, delim: Optional[str] = None):
        """A format printing ``nodes`` one after another, and its args."""
        fmt, args = [], []
        for i, arg in enumerate(nodes):
            if i and delim is not None:
                fmt.append("%s")
                args.append(("const char *", delim))
            if self.type_of(arg) is T.STRING:
                fmt.append("%s")
                args.append(("const char *", self.expr(arg)))
            else:
                fmt.append("%lld")
                args.append(("long long", self.expr(arg)))
        return "".join(fmt), args

    def call_print(self, node, newline: str = ""):
        fmt, args = self.value_args(node.args)
        return self.printf_call(fmt + newline, args, "stpc_printf(c, ")

    def call_println(self, node):
        return self.call_print(node, "\n")

    def call_printd(self, node, newline: str = ""):
        delim = self.expr(node.args[0])
        fmt, args = self.value_args(node.args[1:], "d")
        call = self.printf_call(fmt + newline, args, "stpc_printf(c, ")
        return f"({{ const char *d __maybe_unused = {delim}; {call}; }})"

    def call_printdln(self, node):
        return self.call_printd(node, "\n")

    def call_sprint(self, node):
        return self.sprint_into(*self.value_args(node.args))

    def call_sprintln(self, node):
        fmt, args = self.value_args(node.args)
        return self.sprint_into(fmt + "\n", args)
