"""Pass 3, calls: built-in functions and calls of script functions to C.

A built-in whose C is one expression of its arguments says so in its
signature (``builtins.Builtin.c``); the others are lowered by a function
here, registered for its name in ``LOWERINGS``.  tests/test_builtins.py
checks that every built-in has exactly one of the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, List, Optional

from . import ast as A
from .builtins import BUILTINS
from .cstring import c_string
from .ir import FunctionInfo, T
from .location import deref_c
from .near import location
from .printf import gcc_checkable, kernel_format, parse_format
from .storage import C_TYPE, key_formats, stat_desc_index, struct_key

if TYPE_CHECKING:
    from .lower_expr import ExprLowering

Lowering = Callable[["ExprLowering", A.Call], str]
LOWERINGS: Dict[str, Lowering] = {}


def _lowers(*names: str):
    def register(function: Lowering) -> Lowering:
        for name in names:
            LOWERINGS[name] = function
        return function
    return register


def simple_builtin(lower: "ExprLowering", node: A.Call) -> str:
    args = [lower.expr(a) for a in node.args]
    return BUILTINS[node.name].c.format(*args)


def user_call(lower: "ExprLowering", node: A.Call,
              function: FunctionInfo) -> str:
    parts = ["({"]
    args = []
    for i, arg in enumerate(node.args):
        ctype = C_TYPE[lower.type_of(arg)]
        parts.append(f"{ctype} a{i} = {lower.expr(arg)};")
        args.append(f"a{i}")
    frame = f"stpc_frame_{function.name}"
    parts.append(f"struct {frame} *callee = "
                 f"&stpc_ctx(c)->frames[c->nesting + 1].f_{function.name};")
    ret = function.return_type
    result = "0"
    if ret is T.STRING:
        result = lower.temp_string()
        parts.append(f"{result}[0] = '\\0';")
    # SystemTap names the called function's declaration here
    where = f"near identifier '{function.name}' at {function.decl.span}"
    parts.append(f"if (unlikely(c->nesting + 1 >= MAXNESTING)) "
                 f"stpc_error(c, \"MAXNESTING exceeded\", "
                 f"{c_string(where)}); else if (!c->last_error) {{")
    # every call starts with zeroed locals and return value
    parts.append("memset(&callee->vars, 0, sizeof(callee->vars));")
    for param, arg in zip(function.params, args):
        if param.type is T.STRING:
            parts.append(f"stpc_str_assign(callee->vars.l_{param.name}, "
                         f"{arg});")
        else:
            parts.append(f"callee->vars.l_{param.name} = {arg};")
    parts.append(f"c->nesting++; stpc_fn_{function.name}(c); "
                 "c->nesting--;")
    if function.decl.embedded is not None:
        # STAP_ERROR leaves the location to the call, as in SystemTap
        call_site = c_string(f"near identifier '{node.name}' at {node.span}")
        parts.append("if (c->last_error && !c->error_location) "
                     f"c->error_location = {call_site};")
    if ret is T.STRING:
        parts.append(f"stpc_str_assign({result}, callee->vars.retvalue);")
    elif ret is T.LONG:
        result = "r"
        parts[0] = "({ s64 r = 0;"
        parts.append("r = callee->vars.retvalue;")
    parts.append("}")
    parts.append(f"{result}; }})")
    return " ".join(parts)


def _helper_call(lower: "ExprLowering", node: A.Call, helper: str,
                 before=(), after=()) -> str:
    """``helper(before..., args..., after...)``, the script arguments
    evaluated first, left to right (C leaves call arguments unordered)."""
    decls, names = [], []
    for i, arg in enumerate(node.args):
        decls.append(f"{C_TYPE[lower.type_of(arg)]} a{i} = "
                     f"{lower.expr(arg)};")
        names.append(f"a{i}")
    call_args = ", ".join([*before, *names, *after])
    return f"({{ {' '.join(decls)} {helper}({call_args}); }})"


# -- strings --
@_lowers("substr")
def _substr(lower, node):
    length = () if len(node.args) == 3 else ("MAXSTRINGLEN",)
    return _helper_call(lower, node, "stpc_substr", (lower.temp_string(),),
                        length)


@_lowers("str_replace", "text_str")
def _string_result(lower, node):
    return _helper_call(lower, node, f"stpc_{node.name}",
                        (lower.temp_string(),))


@_lowers("tokenize")
def _tokenize(lower, node):
    # tokenize(delim) continues the string given last, like ("", delim)
    input_ = ('""',) if len(node.args) == 1 else ()
    return _helper_call(lower, node, "stpc_tokenize",
                        ("c", lower.temp_string(), *input_))


@_lowers("isinstr", "strtol")
def _number_result(lower, node):
    return _helper_call(lower, node, f"stpc_{node.name}")


@_lowers("stringat")
def _stringat(lower, node):
    return _helper_call(lower, node, "stpc_stringat", ("c",),
                        (c_string(location(node)),))


# -- kernel and user memory: fault-safe, errors name the call --
@_lowers("kernel_string", "kernel_string_n", "user_string", "user_string_n")
def _memory_string(lower, node):
    """kernel_string(addr[, fallback]) and user_string likewise; with a
    fallback, a fault returns it instead of being an error."""
    space = node.name.split("_")[0]
    where = c_string(location(node))
    addr = lower.expr(node.args[0])
    # _n: at most n bytes, a buffer of n + 1 (wrapping, as SystemTap's)
    length = f"(s64)((u64){lower.expr(node.args[1])} + 1)" \
        if node.name.endswith("_n") else "MAXSTRINGLEN"
    read = (f"stpc_{space}_string(c, {lower.temp_string()}, a0, "
            f"{length}, {where})")
    if len(node.args) == 2 and not node.name.endswith("_n"):
        fallback = lower.expr(node.args[1])
        return (f"({{ s64 a0 = {addr}; const char *d = {fallback}; "
                f"const char *e = c->last_error; const char *r = {read};"
                f" if (!e && c->last_error) {{ c->last_error = NULL; "
                f"c->error_location = NULL; r = d; }} r; }})")
    return f"({{ s64 a0 = {addr}; {read}; }})"


@_lowers("kernel_long", "kernel_int", "kernel_short", "kernel_char",
         "user_long", "user_int", "user_short", "user_char")
def _memory_number(lower, node):
    space, _, kind = node.name.partition("_")
    size, cast = {"long": (8, "s64"), "int": (4, "s32"),
                  "short": (2, "s16"), "char": (1, "s8")}[kind]
    read = deref_c(lower.expr(node.args[0]), size,
                   c_string(location(node)), space)
    return f"((s64)({cast}){read})"


# -- the probe and the session --
@_lowers("probefunc")
def _probefunc(lower, node):
    # a mark's scope names the mark: the runtime has its function
    if lower.target_vars is not None and lower.target_vars.scope.mark is None:
        return c_string(lower.target_vars.scope.function_name)
    return "stpc_probefunc(c)"


@_lowers("backtrace", "sprint_backtrace")
def _backtrace(lower, node):
    return f"stpc_{node.name}({lower.temp_string()})"


#: the C type each *_arg() function reads its register as
_ARG_TYPES = {"int_arg": "s32", "uint_arg": "u32", "long_arg": "s64",
              "ulong_arg": "u64", "longlong_arg": "s64",
              "ulonglong_arg": "u64", "pointer_arg": "u64",
              "s32_arg": "s32", "u32_arg": "u32", "s64_arg": "s64",
              "u64_arg": "u64"}


@_lowers(*_ARG_TYPES)
def _function_arg(lower, node):
    read = (f"stpc_func_arg(c, c->regs, {lower.expr(node.args[0])}, "
            f"{c_string(location(node))})")
    return f"((s64)({_ARG_TYPES[node.name]}){read})"


@_lowers("ubacktrace", "sprint_ubacktrace")
def _ubacktrace(lower, node):
    return f"stpc_{node.name}(c, {lower.temp_string()})"


@_lowers("usymname", "usymdata", "sprint_ustack")
def _usym(lower, node):
    return (f"stpc_{node.name}({lower.expr(node.args[0])}, "
            f"{lower.temp_string()})")


@_lowers("error")
def _error(lower, node):
    msg = lower.expr(node.args[0])
    return f"({{ stpc_error_copy(c, {msg}, NULL); 0; }})"


# -- output --
def printf_call(fmt: str, args: List[tuple], sink: str,
                checked: bool = True) -> str:
    """Evaluates the arguments, then prints only if none failed.
    Unless ``checked``, the format reaches the call through an array
    in a statement expression, where gcc does not check it."""
    decls = " ".join(f"{ctype} a{i} = {value};"
                     for i, (ctype, value) in enumerate(args))
    names = "".join(f", a{i}" for i in range(len(args)))
    # a NUL ends the format, as in SystemTap; gcc refuses it in a checked one
    checked = checked and "\0" not in fmt
    literal = c_string(fmt) if checked else \
        f"({{ static const char f[] = {c_string(fmt)}; f; }})"
    if not fmt:     # prints nothing; gcc's format-zero-length fails it
        return f"({{ {decls} 0; }})"
    return (f"({{ {decls} if (!c->last_error) "
            f"{sink}{literal}{names}); 0; }})")


def sprint_into(lower: "ExprLowering", fmt: str, args,
                checked: bool = True) -> str:
    tmp = lower.temp_string()
    call = printf_call(fmt, args, f"snprintf({tmp}, MAXSTRINGLEN, ",
                       checked)
    return f"({{ {tmp}[0] = '\\0'; (void){call}; (const char *){tmp}; }})"


def _format_args(lower, node, pieces) -> tuple:
    fmt, arg_kinds = kernel_format(pieces)
    args = []
    for arg, how in zip(node.args[1:], arg_kinds):
        value = lower.expr(arg)
        if how == "string":
            args.append(("const char *", value))
        elif how == "int":
            args.append(("int", f"(int){value}"))
        elif how == "octal":
            args.append(("const char *", f"stpc_octal_alt("
                         f"{lower.temp_string()}, {value})"))
        else:
            args.append(("long long", value))
    return fmt, args


@_lowers("printf")
def _printf(lower, node):
    pieces = parse_format(node.args[0].value, node.args[0].span)
    fmt, args = _format_args(lower, node, pieces)
    return printf_call(fmt, args, "stpc_printf(c, ", gcc_checkable(pieces))


@_lowers("sprintf")
def _sprintf(lower, node):
    pieces = parse_format(node.args[0].value, node.args[0].span)
    fmt, args = _format_args(lower, node, pieces)
    return sprint_into(lower, fmt, args, gcc_checkable(pieces))


def _value_args(lower, nodes, delim: Optional[str] = None):
    """A format printing ``nodes`` one after another, and its args."""
    fmt, args = [], []
    for i, arg in enumerate(nodes):
        if i and delim is not None:
            fmt.append("%s")
            args.append(("const char *", delim))
        if lower.type_of(arg) is T.STRING:
            fmt.append("%s")
            args.append(("const char *", lower.expr(arg)))
        else:
            fmt.append("%lld")
            args.append(("long long", lower.expr(arg)))
    return "".join(fmt), args


def _newline(node: A.Call) -> str:
    return "\n" if node.name.endswith("ln") else ""


@_lowers("print", "println")
def _print(lower, node):
    if node.args and lower.type_of(node.args[0]) is T.HIST:
        return _print_histogram(lower, node.args[0], _newline(node))
    fmt, args = _value_args(lower, node.args)
    return printf_call(fmt + _newline(node), args, "stpc_printf(c, ")


@_lowers("printd", "printdln")
def _printd(lower, node):
    delim = lower.expr(node.args[0])
    fmt, args = _value_args(lower, node.args[1:], "d")
    call = printf_call(fmt + _newline(node), args, "stpc_printf(c, ")
    return f"({{ const char *d __maybe_unused = {delim}; {call}; }})"


@_lowers("sprint", "sprintln")
def _sprint(lower, node):
    fmt, args = _value_args(lower, node.args)
    return sprint_into(lower, fmt + _newline(node), args)


def _print_histogram(lower, node, newline: str) -> str:
    read = lower.read_statistic(node)
    sym = lower.program.symbols[node]
    desc = f"&stpc_stat_descs[{stat_desc_index(lower.program, sym)}]"
    name, label = c_string(sym.name), ""
    if isinstance(node.args[0], A.Index):
        name = lower.temp_string()
        keys, args = key_formats(sym, struct_key)
        label = (f"snprintf({name}, MAXSTRINGLEN, "
                 f"{c_string(f'{sym.name}[{keys}]')}, "
                 f"{', '.join(args)});")
    tail = ' stpc_printf(c, "\\n");' if newline else ""
    return (f"({{ {read} if (!c->last_error) {{ {label} stpc_print_hist("
            f"c, {desc}, r, {name});{tail} }} 0; }})")
