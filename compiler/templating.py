"""The one jinja2 environment of pass 3: the module template and the
macros that the lowering renders into handler bodies.  Undefined names
are errors (StrictUndefined), nothing is escaped (the view model escapes
every string that reaches C with cstring.c_string)."""

from __future__ import annotations

import functools

import jinja2


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("stpc.compiler", "templates"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False)


def macros(name: str):
    """The macros of template ``name``, callable from Python."""
    return environment().get_template(name).module
