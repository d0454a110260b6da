"""Pass 3, guru mode (-g): embedded C (``%{ ... %}``) into the module.

The C is taken verbatim.  A ``/* %{ FILE:LINE:COL */`` marker on the line
before it says where ``%{`` is, so that build.py maps a compile error in
the block to its line in the script.  An embedded function's body sees
SystemTap 4.x's macros: ``STAP_ARG_name``, ``STAP_RETVALUE``,
``STAP_RETURN(v)``, ``STAP_ERROR(fmt, ...)`` and ``CONTEXT``.
"""

from __future__ import annotations

from typing import List

from . import ast as A
from .cstring import c_comment
from .ir import FunctionInfo, T


def embedded_marker(block: A.EmbeddedC) -> str:
    return f"/* %{{ {c_comment(str(block.span))} */"


def embedded_block(block: A.EmbeddedC) -> str:
    """A top-level block: its marker, then its C."""
    return f"{embedded_marker(block)}\n{block.code}"


def embedded_function_body(function: FunctionInfo) -> List[str]:
    """The C lines of a function whose body is embedded C: its macros
    defined around the block, which runs in a scope of its own."""
    block = function.decl.embedded
    macros = [f"STAP_ARG_{p.name} (l->vars.l_{p.name})"
              for p in function.params]
    macros += _return_macros(function.return_type)
    # the caller names the call site (lower_calls.user_call)
    macros += ["STAP_ERROR(...) do { if (!c->last_error) { "
               "snprintf(c->error_buf, sizeof(c->error_buf), __VA_ARGS__); "
               "stpc_error(c, c->error_buf, NULL); } goto out; } while (0)",
               "CONTEXT c"]
    names = [macro.split(" ", 1)[0].split("(", 1)[0] for macro in macros]
    return ([f"#define {macro}" for macro in macros]
            + ["\t{", embedded_block(block), "\t}"]
            + [f"#undef {name}" for name in names])


def _return_macros(return_type) -> List[str]:
    if return_type is T.STRING:
        return ["STAP_RETVALUE (l->vars.retvalue)",
                "STAP_RETURN(v) do { strscpy(STAP_RETVALUE, (v), "
                "MAXSTRINGLEN); goto out; } while (0)"]
    if return_type is T.LONG:
        return ["STAP_RETVALUE (l->vars.retvalue)",
                "STAP_RETURN(v) do { STAP_RETVALUE = (s64)(v); goto out; } "
                "while (0)"]
    return ["STAP_RETURN(...) goto out"]
