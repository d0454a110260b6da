"""A `return` inside `try` whose value fails goes to the catch block, as
stap's: `return string_quoted(user_string(addr))` in try is how the
tapset's user_string_quoted gives an unreadable address in hex (the VM
case tapset/syscalls-admin reads acct(NULL)'s)."""

from __future__ import annotations

import re

from stpc.compiler.driver import Compilation, CompileOptions

SCRIPT = """function quoted:string (addr:long) {
	try {
		return user_string(addr)
	} catch {
		return "caught"
	}
}
function plain:string (addr:long) { return user_string(addr) }
probe begin { println(quoted(0), plain(1)) }
"""


def _function(c_source: str, name: str) -> str:
    return re.search(r"static void stpc_fn_%s\(struct stpc_context \*c\)\n"
                     r"{\n.*?\n}\n" % name, c_source, re.S).group(0)


def test_the_value_of_a_return_in_try_is_checked_before_leaving(kver):
    c_source = Compilation(SCRIPT, "t.stp", CompileOptions(
        kernel_release=kver, module_name="t_try")).c_source()
    quoted = _function(c_source, "quoted")
    body, handler = quoted.split("catch0: __attribute__((unused));")
    tried = body.split("stpc_user_string(", 1)[1]
    assert re.match(r"[^\n]*\n\s*if \(unlikely\(c->last_error\)\) "
                    r"goto catch0;\n\s*goto out;", tried)
    # a return outside try leaves with its error for the caller
    assert "last_error)) goto" not in _function(c_source, "plain")
