"""Script text cannot break out of the C it is written into.

Strings, printf formats, error messages, probe point strings and the
script's file name that try to close a C string literal or comment
(``"); evil(); //``, ``*/ evil(); /*``, ``??/`` trigraphs, newlines,
backslashes, bytes that look like NUL) reach the generated C only inside
string literals or as harmless comment text: ``evil`` appears nowhere
else, and the C builds with kbuild's -Werror.
"""

from __future__ import annotations

import re
from typing import List

import pytest

from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError

NO_KERNEL = CompileOptions(kernel_release="0.0-none")

#: each tries another way out of a C string or comment; the script's
#: escapes are SystemTap's, so '\\"' in Python is '\"' in the script
ESCAPES = [r'\"); evil(); //', r'*/ evil(); /*', r'??/\", evil, \"',
           r'\\\"); evil(); /* ??/', r'\n#define evil 1\n',
           r'\000\"); evil(); //\0', r'\x00\x22); evil(); //',
           r'%%s\"); evil(); //', '\\\\', r'evil\\', r'evil??/']

HOSTILE = "global evil_counter\n" + "\n".join(
    f'function evil_{i}() {{ return "{text}" }}' for i, text in
    enumerate(ESCAPES)) + """
probe begin {
""" + "\n".join(f"""\
  println(evil_{i}() . "{text}")
  printf("{text}%d\\n", {i})
  s{i} = sprintf("{text}%s", "{text}")
  evil_counter += strlen(s{i})
  if (evil_counter < 0) error("{text}")
  try {{ error("{text}") }} catch (m) {{ println(m) }}""" for i, text in
    enumerate(ESCAPES)) + """
  exit()
}
"""

#: probe points whose text reaches C (pp(), probe tables); '@fs/*' and
#: '*/' are a comment's opening and closing in C
HOSTILE_POINTS = """
probe kernel.function("do_sys_openat2@fs/*") {
  println(pp(), "\\"); evil(); /* */")
}
probe kernel.statement("do_sys_openat2@fs/open.c:*")? { println(pp()) }
probe begin { exit() }
"""

_C_TOKENS = re.compile(r'''
    (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])+')
  | (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<code>[^"'/]+|/)
''', re.S | re.X)


def outside_literals(c_source: str) -> List[str]:
    """The C code with string and character literals and comments taken
    out; fails on a literal or comment that does not end."""
    code, at = [], 0
    while at < len(c_source):
        match = _C_TOKENS.match(c_source, at)
        assert match is not None, f"unterminated at {c_source[at:at + 80]!r}"
        if match.lastgroup == "code":
            code.append(match.group())
        at = match.end()
    return code


def comments(c_source: str) -> List[str]:
    return [m.group() for m in _C_TOKENS.finditer(c_source)
            if m.lastgroup == "comment"]


def assert_contained(c_source: str) -> None:
    code = "".join(outside_literals(c_source))
    for word in re.findall(r"\w*evil\w*", code):
        assert word.startswith(("evil_", "stpc_")) or "_evil" in word, \
            f"'{word}' escaped into the C code"
    assert "evil()" not in code
    for comment in comments(c_source):
        assert "evil" not in comment or "/*" not in comment[2:], comment


def test_the_checker_sees_an_escape():
    """The check above is not vacuous."""
    with pytest.raises(AssertionError):
        assert_contained('f("x"); evil(); //");\n')
    with pytest.raises(AssertionError):
        assert_contained('/* x */ evil(); /* */\n')
    assert_contained('f("\\"); evil(); //");\n/* evil */\n')


def test_strings_and_formats_stay_in_c_literals():
    c_source = Compilation(HOSTILE, "hostile.stp", NO_KERNEL).c_source()
    assert_contained(c_source)


def test_a_hostile_file_name_stays_in_its_comment():
    name = "x*/ evil(); /*\n??/.stp"
    c_source = Compilation("probe begin { exit() }", name,
                           NO_KERNEL).c_source()
    assert_contained(c_source)


@pytest.fixture(scope="module")
def kernel_c(kver, kernel_dwarf) -> str:
    """`@fs/*` and the statement's file need the kernel's DWARF."""
    return Compilation(HOSTILE_POINTS, "points.stp",
                       CompileOptions(kver)).c_source()


def test_probe_point_strings_stay_in_c_literals(kernel_c):
    assert_contained(kernel_c)


@pytest.mark.kbuild
@pytest.mark.parametrize("name,text", [
    ("hostile.stp", HOSTILE),
    ("points.stp", HOSTILE_POINTS),
    ("x*/ evil(); /*\n??/.stp", "probe begin { exit() }")])
def test_hostile_scripts_build_with_werror(name, text, kver, request):
    if text is HOSTILE_POINTS:
        request.getfixturevalue("kernel_dwarf")
    try:
        Compilation(text, name, CompileOptions(kver)).module()
    except StpcError as exc:
        pytest.fail(exc.render({name: text}))
