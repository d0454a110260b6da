"""Probe aliases (compiler/aliases.py) and private declarations: how a
probe on an alias expands, as SystemTap 4.8 expands it (``STAP_P2``
records what ``stap -p2`` printed for a few scripts), the errors, and
a module built from an alias over a kernel function."""

from __future__ import annotations

import dataclasses
import re
import subprocess

import pytest

from stpc.compiler import ast as A
from stpc.compiler.aliases import expand_aliases
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.elaborate import elaborate
from stpc.compiler.errors import ErrorCollector, StpcError
from stpc.compiler.parse import parse
from stpc.compiler.unparse import describe_program, expr, unparse


def expanded(text: str) -> A.Script:
    errors = ErrorCollector()
    script, _uses = expand_aliases(parse(text, "t.stp"), errors)
    errors.raise_if_any()
    return script


def statements(block: A.Block) -> list:
    """The expression statements of a handler, the blocks it is made of
    flattened, each as -p1 writes it."""
    out = []
    for stmt in block.body:
        out += statements(stmt) if isinstance(stmt, A.Block) else \
            [expr(stmt.expr) + ";"]
    return out


def probes_of(text: str) -> list:
    """(points, statements) of each probe after expansion."""
    return [([str(p) for p in probe.points], statements(probe.body))
            for probe in expanded(text).probes]


def error_of(text: str) -> StpcError:
    return first_error(parse(text, "t.stp"))


def first_error(script: A.Script) -> StpcError:
    """The first error pass 2 reports on ``script``."""
    with pytest.raises(StpcError) as exc:
        elaborate(script)
    return getattr(exc.value, "errors", [exc.value])[0]


# ---- expansion -----------------------------------------------------------

def test_a_prologue_runs_before_the_body_and_an_epilogue_after():
    assert probes_of('probe my.tick = timer.s(1) { a = 1 } '
                     'probe my.tock += timer.s(2) { c = 3 } '
                     'probe my.tick, my.tock { b = 2 }') == [
        (["timer.s(1)"], ["(a = 1);", "(b = 2);"]),
        (["timer.s(2)"], ["(b = 2);", "(c = 3);"])]


def test_the_prologue_locals_are_the_body_locals():
    program = elaborate(parse(
        'probe my.go = begin { name = "go"; n = 3 } '
        'probe my.go { printf("%s %d\\n", name, n) }', "t.stp"))
    [handler] = program.handlers
    assert {name: str(sym.type) for name, sym in
            handler.scope.locals.items()} == {"name": "string", "n": "long"}


def test_an_alias_on_an_alias_runs_the_innermost_prologue_first():
    assert probes_of('probe a = begin { x = 1 } probe b = a { y = 2 } '
                     'probe b { z = 3 }') == [
        (["begin"], ["(x = 1);", "(y = 2);", "(z = 3);"])]


def test_the_points_of_one_alias_share_a_handler():
    assert [points for points, _ in probes_of(
        'probe a.b = begin, end { x = 1 } probe a.b, error { y = x }')] == \
        [["begin", "end"], ["error"]]


def test_a_wildcard_matches_within_one_component():
    assert [points for points, _ in probes_of(
        'probe s.read = begin { } probe s.write = end { } '
        'probe s.read.return = error { } probe s.* { x = 1 }')] == \
        [["begin"], ["end"]]


def test_a_suffix_goes_on_each_point_the_alias_stands_for():
    assert [points for points, _ in probes_of(
        'probe every = timer { } probe every.s(2) { x = 1 }')] == \
        [["timer.s(2)"]]


def test_an_alias_of_the_whole_name_wins_over_a_suffix():
    assert [points for points, _ in probes_of(
        'probe f.b = timer.s(1) { } probe f.b.z = timer.s(2) { } '
        'probe f.b.z { x = 1 }')] == [["timer.s(2)"]]


def test_aliases_of_one_name_are_all_used():
    assert [points for points, _ in probes_of(
        'probe a = begin { x = 1 } probe a += end { x = 2 } '
        'probe a { y = 1 }')] == [["begin"], ["end"]]


def test_an_alias_named_like_a_builtin_adds_to_it():
    assert [points for points, _ in probes_of(
        'probe begin = timer.s(1) { x = 1 } probe begin { y = 1 }')] == \
        [["timer.s(1)"], ["begin"]]


@pytest.mark.parametrize("mark", ["?", "!"])
def test_an_optional_use_makes_every_point_optional(mark):
    [probe] = expanded(f'probe a = begin, end {{ }} probe a {mark} {{ x = 1 }}'
                       ).probes
    assert [p.optional for p in probe.points] == [True, True]


def test_no_node_is_in_two_handlers():
    """Side tables key on nodes: each handler has its own copy of the
    alias's body and of a body used twice."""
    script = expanded('probe a = begin { x = 1 } probe b = end { x = 2 } '
                      'probe a, b { y = x }')
    seen = [set(map(id, A.walk(p.body))) for p in script.probes]
    assert len(seen) == 2 and not seen[0] & seen[1]


def test_a_script_without_aliases_is_left_as_it_is():
    script = parse("probe begin { x = 1 }", "t.stp")
    assert expand_aliases(script, ErrorCollector()) == (script, {})


def test_minus_p1_prints_aliases_and_private_and_reads_them_back():
    text = ('private global hits\nprivate function f:long(x) { return x }\n'
            'probe a.b = begin, end? { n = 1 }\n'
            'probe a.b += error { n = 2 }\nprobe a.b ? { hits = f(n) }\n')
    once = unparse(parse(text, "t.stp"))
    assert "probe a.b = begin, end?\n" in once
    assert "probe a.b += error\n" in once
    assert once.startswith("private global hits\nprivate function f:long")
    assert unparse(parse(once, "t.stp")) == once


# ---- errors --------------------------------------------------------------

def test_an_alias_loop_is_an_error_where_it_closes():
    error = error_of('probe a = b { }\nprobe b = a { }\nprobe a { }')
    assert "recursive loop in alias expansion of 'a'" in error.message
    assert (error.span.line, error.span.col) == (2, 11)


def test_an_error_in_the_prologue_points_into_the_alias():
    error = first_error(two_files('\nprobe my.go = begin { n = 1 + "s" }',
                                  'probe my.go { println(n) }'))
    assert (error.span.file, error.span.line) == ("tapset.stp", 2)


def test_an_unknown_point_of_an_alias_is_located_there():
    error = error_of('probe my = begin,\n   no.such { }\nprobe my { }')
    assert "'no.such'" in error.message
    assert (error.span.line, error.span.col) == (2, 4)


def test_a_use_standing_for_nothing_is_an_error():
    error = error_of('probe a = no.such ? { }\nprobe a { x = 1 }')
    assert error.message == "probe point 'a' matches nothing"
    assert (error.span.line, error.span.col) == (2, 7)
    elaborate(parse('probe a = no.such ? { } probe a ? { x = 1 } '
                    'probe end { x = 2 }', "t.stp"))


@pytest.mark.parametrize("text, message", [
    ("probe a, b = begin { }", "a probe alias has one name"),
    ("probe a.s(1) = begin { }", "alias name component 's' has an argument"),
    ("probe a.* = begin { }", "a wildcard in a probe alias name"),
    ("probe a? = begin { }", "a probe alias name cannot be optional"),
])
def test_alias_names_stap_refuses(text, message):
    with pytest.raises(StpcError) as exc:
        parse(text, "t.stp")
    assert exc.value.message == message


# ---- private -------------------------------------------------------------

def two_files(tapset: str, script: str) -> A.Script:
    """A script whose declarations come from two files, as a tapset's and
    the user's will."""
    first, second = parse(tapset, "tapset.stp"), parse(script, "user.stp")
    return dataclasses.replace(
        second, globals=first.globals + second.globals,
        functions=first.functions + second.functions,
        probes=first.probes + second.probes,
        aliases=first.aliases + second.aliases)


@pytest.mark.parametrize("user, message", [
    ("probe begin { println(secret) }", "global 'secret' is private"),
    ("probe begin { println(helper()) }", "function 'helper' is private"),
])
def test_private_is_seen_only_by_its_own_file(user, message):
    tapset = ('private global secret = 1\n'
              'private function helper() { return secret }\n')
    error = first_error(two_files(tapset, user))
    assert error.message.startswith(message)
    assert error.span.file == "user.stp"


def test_a_private_function_does_not_hide_a_global_of_its_name():
    tapset = 'private function f() { return 1 }\n'
    elaborate(two_files(tapset, "global f probe begin { f = 2 }"))


def test_an_alias_prologue_sees_its_files_privates():
    tapset = ('private global secret = 7\n'
              'private function helper() { return secret }\n'
              'probe my.go = begin { value = helper() }\n')
    program = elaborate(two_files(tapset, "probe my.go { println(value) }"))
    assert "value" in program.handlers[0].scope.locals


# ---- against stap -p2 ----------------------------------------------------

#: what stap 4.8 printed with -p2 (the probes, their locals) for each
#: script, recorded with tests' stap_kver on Debian 12
STAP_P2 = {
    'probe foo.bar = begin, timer.s(1) { name = "x"; n = 3 } '
    'probe foo.bar += end { printf("epi\\n") } '
    'probe foo.bar { printf("%s %d\\n", name, n) }': """\
begin /* <- foo.bar = begin, timer.s(1) <- foo.bar */
  name:string
  n:long
timer.s(1) /* <- foo.bar = begin, timer.s(1) <- foo.bar */
  name:string
  n:long
end /* <- foo.bar += end <- foo.bar */
  name:string
  n:long
""",
    'probe a = begin { x = 1 } probe b = a { y = 2 } '
    'probe b { print(x + y) }': """\
begin /* <- a = begin <- b = a <- b */
  x:long
  y:long
""",
    'probe foo.bar = timer.s(1) { n = 3 } probe foo.baz = timer.s(2) '
    '{ n = 4 } probe foo.* { print(n) }': """\
timer.s(1) /* <- foo.bar = timer.s(1) <- foo.* */
  n:long
timer.s(2) /* <- foo.baz = timer.s(2) <- foo.* */
  n:long
""",
    'probe foo.bar = timer { n = 3 } probe foo.bar.s(2) { print(n) }': """\
timer.s(2) /* <- foo.bar = timer <- foo.bar.s(2) */
  n:long
""",
    'probe begin = timer.s(1) { n = 3 } '
    'probe begin { n = 2; print(n) }': """\
timer.s(1) /* <- begin = timer.s(1) <- begin */
  n:long
begin /* <- begin */
  n:long
""",
    'probe a.b = begin, end { x = 1 } probe a.b ? { print(x) }': """\
begin /* <- a.b = begin, end <- a.b? */
  x:long
end /* <- a.b = begin, end <- a.b? */
  x:long
""",
    'probe foo.bar = timer.s(1) { n = 3 } probe foo.bar.baz = timer.s(2) '
    '{ n = 4 } probe foo.bar.baz { print(n) }': """\
timer.s(2) /* <- foo.bar.baz = timer.s(2) <- foo.bar.baz */
  n:long
""",
    'probe a = begin { n = 3 } probe b = a.x?, end { n = 4 } '
    'probe b { print(n) }': """\
end /* <- b = a.x?, end <- b */
  n:long
""",
    'probe t.b = begin { w = "b" } probe t.a = end { w = "a" } '
    'probe t.* { println(w) }': """\
end /* <- t.a = end <- t.* */
  w:string
begin /* <- t.b = begin <- t.* */
  w:string
""",
    # "A!, B": B only when A resolves to nothing; A is optional
    'probe a = nonsense.point!, begin { n = 1 } probe a { print(n) }': """\
begin /* <- a = nonsense.point!, begin <- a */
  n:long
""",
    'probe a = begin { n = 1 } probe b = a!, end { n = 2 } '
    'probe b { print(n) }': """\
begin /* <- a = begin <- b = a!, end <- b */
  n:long
""",
    'probe a = nonsense.point { n = 1 } probe b = a!, end { n = 2 } '
    'probe b { print(n) }': """\
end /* <- b = a!, end <- b */
  n:long
""",
    'probe a = end { n = 1 } probe b = begin, a!, timer.s(1) { n = 2 } '
    'probe b { print(n) }': """\
begin /* <- b = begin, a!, timer.s(1) <- b */
  n:long
end /* <- a = end <- b = begin, a!, timer.s(1) <- b */
  n:long
""",
}


def stpc_p2(text: str) -> str:
    """stpc's -p2 probes in stap's words: the chain of aliases, or the
    point itself, and the locals."""
    listing = describe_program(elaborate(parse(text, "<input>")))
    out = []
    for line in listing.split("# probes\n")[1].splitlines():
        if line.startswith("  local "):
            out.append("  " + line[len("  local "):])
            continue
        point, notes = re.fullmatch(r"(.*) /\* (.*) \*/", line).groups()
        chain = [n for n in notes.split("; ") if n.startswith("<- ")]
        out.append(f"{point} /* {chain[0] if chain else '<- ' + point} */")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("text", list(STAP_P2))
def test_expansion_is_stap_s(text):
    assert stpc_p2(text) == STAP_P2[text]


@pytest.mark.parametrize("text", list(STAP_P2))
def test_the_record_is_what_stap_says(text, stap_kver):
    result = subprocess.run(["stap", "-r", stap_kver, "-p2", "-e", text],
                            capture_output=True, text=True, check=True)
    probes = result.stdout.split("# probes\n")[1]
    assert probes.replace("  # locals\n", "") == STAP_P2[text]


# ---- a module --------------------------------------------------------------

KERNEL_ALIAS = '''\
global reads
probe my.read = kernel.function("vfs_read") {
    name = "read"
    bytes = $count
}
probe my.read { reads[name] <<< bytes }
probe end { foreach (n in reads) printf("%s %d\\n", n, @sum(reads[n])) }
'''


def test_an_alias_over_a_kernel_function_is_one_handler(kver):
    options = CompileOptions(kernel_release=kver, kernel_types="btf")
    program = Compilation(KERNEL_ALIAS, "t.stp", options).program()
    handler = program.handlers[program.sites[0].handler]
    assert set(handler.scope.locals) == {"name", "bytes"}
    assert str(program.sites[0].point) == 'kernel.function("vfs_read")'


def test_the_prologue_and_the_body_are_one_handler_in_c(kver):
    options = CompileOptions(kernel_release=kver, kernel_types="btf")
    c_source = Compilation(KERNEL_ALIAS, "t.stp", options).c_source()
    prologue = c_source.index("/* t.stp:3:")
    body = c_source.index("/* t.stp:6:")
    assert prologue < body
    assert "\n}\n" not in c_source[prologue:body]


@pytest.mark.kbuild
def test_an_alias_over_a_kernel_function_builds(kver):
    options = CompileOptions(kernel_release=kver, kernel_types="btf")
    assert Compilation(KERNEL_ALIAS, "t.stp", options).module().exists()
