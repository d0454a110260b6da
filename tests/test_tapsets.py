"""The tapset library (compiler/tapsets.py, -I DIR, stpc's tapset/):
files joined only when used, as SystemTap 4.8 joins them."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from stpc.compiler import ast as A
from stpc.compiler import cli, tapsets
from stpc.compiler.defines import LIMITS
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.inputcache import ReadRecorder, stpc_identity
from stpc.compiler.parse import parse
from stpc.compiler.preprocess import PreprocessEnv

ENV = PreprocessEnv("6.1.0-57-amd64", arch="x86_64")


def _library(tmp_path, files: dict, env=ENV) -> tapsets.Library:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tapsets.load_library((str(tmp_path),), env)


def _needed(tmp_path, files: dict, script: str):
    library = _library(tmp_path, files)
    needed = tapsets.needed_files(parse(script, "<input>", env=ENV), library)
    return [os.path.basename(f.file) for f in needed]


def _p2(argv, capsys, tmp_path=None, monkeypatch=None):
    if tmp_path is not None:
        monkeypatch.chdir(tmp_path)
    status = cli.main(["-p2", *argv])
    out, err = capsys.readouterr()
    return status, out, err


LIB = {
    "calls.stp": "function lib_f() { return lib_g() }\n",
    "deeper.stp": "function lib_g() { return 7 }\n"
                  "probe begin { println(\"deeper begun\") }\n",
    "counts.stp": "global lib_count = 3\n",
    "unused.stp": "function never_called() { return 1 }\n"
                  "probe begin { println(\"unused begun\") }\n",
    "my.stp": "probe my.read = begin { what = \"read\" }\n"
              "probe my.write = end { what = \"write\" }\n",
    "hidden.stp": "private function secret() { return 1 }\n",
}


def test_a_file_joins_only_when_its_names_are_used(tmp_path):
    assert _needed(tmp_path, LIB, "probe begin { exit() }") == []
    # a call pulls its file in, and the files that file uses
    assert _needed(tmp_path, LIB, "probe begin { println(lib_f()) }") == \
        ["calls.stp", "deeper.stp"]
    assert _needed(tmp_path, LIB, "probe end { println(lib_count) }") == \
        ["counts.stp"]


def test_alias_uses_pull_their_file_including_wildcards(tmp_path):
    assert _needed(tmp_path, LIB, "probe my.read { println(what) }") == \
        ["my.stp"]
    assert _needed(tmp_path, LIB, "probe my.* { println(what) }") == \
        ["my.stp"]
    assert _needed(tmp_path, LIB, "probe my.open ? { }") == []


def test_the_scripts_global_shadows_the_librarys(tmp_path):
    script = "global lib_count probe end { println(lib_count) }"
    assert _needed(tmp_path, LIB, script) == []


def test_a_private_function_is_no_reason_to_join(tmp_path):
    assert _needed(tmp_path, LIB, "probe begin { secret() }") == []


def test_a_joined_files_own_probe_runs_an_unused_ones_not(tmp_path, capsys,
                                                         monkeypatch):
    for name, text in LIB.items():
        (tmp_path / name).write_text(text)
    status, out, err = _p2(["-I", ".", "-e",
                            "probe end { println(lib_f()) }"],
                           capsys, tmp_path, monkeypatch)
    assert (status, err) == (0, "")
    # stap -p2 lists the library's functions and probes with the script's
    assert "lib_f:long ()\n" in out and "lib_g:long ()\n" in out
    assert out.endswith("# probes\nend /* handler 0, priority 0 */\n"
                        "begin /* handler 1, priority 0 */\n")
    assert "never_called" not in out


def test_p1_prints_only_the_users_script(tmp_path, capsys, monkeypatch):
    (tmp_path / "calls.stp").write_text(LIB["calls.stp"])
    monkeypatch.chdir(tmp_path)
    assert cli.main(["-p1", "-I", ".", "-e",
                     "probe begin { lib_f() }"]) == 0
    assert capsys.readouterr().out == "probe begin\n{\n  lib_f();\n}\n"


def test_a_broken_file_is_skipped_with_a_warning_used_or_not(
        tmp_path, capsys, monkeypatch):
    """stap 4.8: a parse error, then 'WARNING: tapset "DIR/FILE" has
    errors, and will be skipped'; the compilation goes on."""
    (tmp_path / "broken.stp").write_text("function bar( {\n")
    (tmp_path / "calls.stp").write_text(LIB["calls.stp"] + LIB["deeper.stp"])
    status, out, err = _p2(["-I", ".", "-e", "probe end { print(lib_f()) }"],
                           capsys, tmp_path, monkeypatch)
    assert status == 0
    assert err == ('./broken.stp:1:15: warning: tapset "./broken.stp" has '
                   "errors, and will be skipped: syntax error at '{'\n"
                   "    function bar( {\n"
                   "                  ^\n"
                   "hint: expected ')', identifier\n")
    assert "bar" not in out
    status, _, err = _p2(["-W", "-I", ".", "-e", "probe end { exit() }"],
                         capsys, tmp_path, monkeypatch)
    assert status == 1 and "./broken.stp:1:15: error: tapset" in err


def test_errors_in_a_joined_file_are_located_there(tmp_path, capsys,
                                                  monkeypatch):
    (tmp_path / "typed.stp").write_text(
        "function lib_s() {\n    return \"s\" + 1\n}\n")
    status, out, err = _p2(["-I", ".", "-e", "probe begin { lib_s() }"],
                           capsys, tmp_path, monkeypatch)
    assert status == 1
    assert err.startswith("./typed.stp:2:")
    assert '    return "s" + 1\n' in err


def test_tapset_warnings_are_not_said_the_scripts_are(tmp_path, capsys,
                                                     monkeypatch):
    (tmp_path / "my.stp").write_text(LIB["my.stp"])
    status, out, err = _p2(["-I", ".", "-e",
                            "probe my.read { unused = 1 }"],
                           capsys, tmp_path, monkeypatch)
    assert status == 0
    assert err.count("warning:") == 1 and err.startswith("<input>:1:")


def test_search_order_builtin_then_each_dir_with_stap_subdirectories():
    dirs = tapsets.search_dirs(("one", "two"), ENV)
    builtin = str(tapsets.builtin_dir())
    assert dirs[:2] == [os.path.join(builtin, "linux", "6.1.0-57-amd64",
                                     "x86_64"),
                        os.path.join(builtin, "linux", "6.1.0-57-amd64")]
    ones = [d for d in dirs if d.startswith("one")]
    assert ones == [
        "one/linux/6.1.0-57-amd64/x86_64", "one/linux/6.1.0-57-amd64",
        "one/linux/6.1.0/x86_64", "one/linux/6.1.0",
        "one/linux/6.1/x86_64", "one/linux/6.1", "one/linux/x86_64",
        "one/linux",
        "one/6.1.0-57-amd64/x86_64", "one/6.1.0-57-amd64",
        "one/6.1.0/x86_64", "one/6.1.0", "one/6.1/x86_64", "one/6.1",
        "one/x86_64", "one"]
    assert dirs.index("one") < dirs.index("two/linux/6.1.0-57-amd64/x86_64")


def test_first_definition_wins_by_order(tmp_path, capsys, monkeypatch):
    """Two -I dirs define one function: stap calls the first, and stpc
    (no overloading) keeps only it; a subdirectory not in stap's list
    (sub/) is never searched."""
    for directory, value in (("a", "1"), ("b", '"s"'), ("a/sub", "2")):
        (tmp_path / directory).mkdir(parents=True)
        (tmp_path / directory / "f.stp").write_text(
            f"function twice() {{ return {value} }}\n")
    status, out, _ = _p2(["-I", "b", "-I", "a", "-e",
                          "probe begin { print(twice()) }"],
                         capsys, tmp_path, monkeypatch)
    assert status == 0 and "twice:string ()" in out
    status, out, _ = _p2(["-I", "a", "-I", "b", "-e",
                          "probe begin { print(twice()) }"],
                         capsys, tmp_path, monkeypatch)
    assert status == 0 and "twice:long ()" in out


def test_a_version_subdirectory_is_searched_before_its_parent(tmp_path):
    names = _needed(tmp_path, {
        "zz.stp": "function v() { return 1 }\n",
        "6.1/aa.stp": "function v() { return 2 }\n"},
        "probe begin { v() }")
    assert names == ["aa.stp", "zz.stp"]   # both join; the first is called


def test_tapset_reads_are_recorded_for_the_raw_input_cache(tmp_path):
    """A changed or added tapset file invalidates a cached build: the
    files read and the directories listed are inputs of the entry."""
    (tmp_path / "calls.stp").write_text(LIB["calls.stp"] + LIB["deeper.stp"])
    (tmp_path / "unused.stp").write_text(LIB["unused.stp"])
    options = CompileOptions(kernel_release="6.1.0-57-amd64",
                             tapset_dirs=(str(tmp_path),))
    comp = Compilation("probe begin { lib_f() }", "t.stp", options)
    recorder = ReadRecorder()
    with recorder.recording():
        comp.program()
    assert {str(tmp_path / "calls.stp"), str(tmp_path / "unused.stp"),
            str(tmp_path), str(tmp_path / "6.1")} <= recorder.paths


def _unparsed(tree: A.Script) -> str:
    from stpc.compiler.unparse import unparse
    return unparse(tree)


def _file(library: tapsets.Library, name: str) -> A.Script:
    return next(f for f in library.files if os.path.basename(f.file) == name)


def test_a_tapset_file_is_parsed_once_then_loaded(tmp_path, monkeypatch):
    """The second load of the library parses nothing: the trees come
    from $STPC_CACHE_DIR, the same as parsed, spans included."""
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    first = _library(tmp_path / "lib", LIB)
    parsed = []
    real = tapsets.parse
    monkeypatch.setattr(tapsets, "parse", lambda *a, **k: parsed.append(a)
                        or real(*a, **k))
    second = tapsets.load_library((str(tmp_path / "lib"),), ENV)
    assert parsed == []
    assert [_unparsed(f) for f in second.files] == \
        [_unparsed(f) for f in first.files]
    assert [f.probes[0].span for f in second.files if f.probes] == \
        [f.probes[0].span for f in first.files if f.probes]


def test_a_changed_text_or_condition_is_parsed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    conditional = {"v.stp": 'function which() { return %( kernel_v >= "6.2"'
                            ' %? "new" %: "old" %) }\n'}
    old = _library(tmp_path / "lib", conditional)
    new = _library(tmp_path / "lib", conditional,
                   env=PreprocessEnv("6.12.9-amd64", arch="x86_64"))
    assert '"old"' in _unparsed(_file(old, "v.stp"))
    assert '"new"' in _unparsed(_file(new, "v.stp"))
    changed = _library(tmp_path / "lib", {"v.stp": "function which() "
                                                   "{ return \"edited\" }\n"})
    assert '"edited"' in _unparsed(_file(changed, "v.stp"))


def test_a_damaged_cached_tree_is_parsed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    _library(tmp_path / "lib", {"calls.stp": LIB["calls.stp"]})
    for stored in (tmp_path / "cache" / "tapsets").iterdir():
        stored.write_bytes(b"not a pickle")
    again = _library(tmp_path / "lib", {"calls.stp": LIB["calls.stp"]})
    assert [f.name for f in _file(again, "calls.stp").functions] == \
        ["lib_f"]


def test_the_builtin_tapsets_are_part_of_stpcs_identity(monkeypatch):
    from stpc.compiler import inputcache
    before = stpc_identity()
    # the package may be reached through a link (tests/devinstall.py)
    vfs = str(tapsets.builtin_dir() / "vfs.stp")
    assert vfs in {os.path.realpath(p) for p in inputcache._package_files()}
    real = inputcache.identity
    monkeypatch.setattr(inputcache, "identity", lambda path: (
        (0, 0, 0) if os.path.realpath(path) == vfs else real(path)))
    assert stpc_identity() != before


# ---- stpc's tapsets ------------------------------------------------------

#: the variables stap 4.8's vfs tapset gives (stap -L vfs.read, and the
#: .return aliases' prologues in /usr/share/systemtap/tapset/linux/vfs.stp)
STAP_VFS = {
    "vfs.read": "file pathname pos buf bytes_to_read dev devname ino name "
                "argstr",
    "vfs.write": "file pathname pos buf bytes_to_write dev devname ino name "
                 "argstr",
    "vfs.read.return": "name retstr file pathname pos buf bytes_to_read dev "
                       "devname ino ret bytes_read error error_str",
    "vfs.write.return": "name retstr file pathname pos buf bytes_to_write "
                        "dev devname ino ret bytes_written error error_str",
}
#: what stpc leaves out: tapset functions it lacks (docs/tapsets.md)
LEFT_OUT = {"pathname", "devname", "error_str"}


def _alias_variables() -> dict:
    library = tapsets.load_library((), ENV)
    found = {}
    for file in library.files:
        for alias in file.aliases:
            if not str(alias.name).startswith("vfs."):
                continue    # tests/test_tapset_syscalls.py: syscall.*
            found[str(alias.name)] = [
                stmt.expr.target.name for stmt in alias.body.body
                if isinstance(stmt, A.ExprStmt) and
                isinstance(stmt.expr, A.Assign)]
    return found


def test_vfs_aliases_have_stap_names_but_the_left_out():
    found = {point: names for point, names in _alias_variables().items()
             if point.startswith("vfs.")}
    assert sorted(found) == sorted(STAP_VFS)
    for point, names in STAP_VFS.items():
        assert set(found[point]) == set(names.split()) - LEFT_OUT, point


def test_vfs_names_against_the_live_stap(stap_kver, tmp_path):
    """stap -p2 takes a probe on each alias reading every variable stpc
    gives it (stap -L lists no .return variables)."""
    debuginfo = Path(os.environ.get("STPC_CACHE_DIR", "")) / "debuginfo" / \
        stap_kver
    if not (debuginfo / f"vmlinux-{stap_kver}").is_file():
        pytest.skip("no vmlinux with DWARF for stap")
    for point, names in _alias_variables().items():
        if not point.startswith("vfs."):
            continue    # test_tapset_families.py checks the others
        body = "; ".join(f"println({name})" for name in names)
        result = subprocess.run(
            ["stap", "-p2", "-r", stap_kver, "-e",
             f"probe {point} {{ {body} }}"], capture_output=True, text=True,
            env={**os.environ, "SYSTEMTAP_DEBUGINFO_PATH": str(debuginfo)},
            timeout=300)
        assert result.returncode == 0, result.stderr


def test_vfs_read_elaborates(kver, kernel_dwarf, capsys):
    status = cli.main(["-p2", "-r", kver, "-e",
                       'probe vfs.read { printf("%s %d\\n", name, '
                       'bytes_to_read) } probe vfs.write.return { '
                       'println(bytes_written, retstr, ino, dev) }'])
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    assert re.search(r'^kernel\.function\("vfs_read@[^"]+"\) .*'
                     r'<- vfs\.read = kernel\.function\("vfs_read"\) '
                     r'<- vfs\.read;', out, re.M)
    assert "vfs_write@" in out


def test_vfs_others_stay_refused_with_their_hints(capsys):
    status, _, err = _p2(["-e", "probe vfs.readv { }"], capsys)
    assert status == 1
    assert "tapset probe point 'vfs.readv' is not supported yet" in err
    assert 'use kernel.function("vfs_readv")' in err


@pytest.mark.kbuild
def test_vfs_read_builds(kver, tmp_path, monkeypatch):
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    options = CompileOptions(kernel_release=kver, module_name="t_vfs")
    comp = Compilation('probe vfs.read { printf("%s %d\\n", name, '
                       'bytes_to_read) }', "t.stp", options)
    assert comp.module().is_file()


def test_an_alias_of_a_tapsets_alias_pulls_both_files(tmp_path):
    files = dict(LIB, **{"both.stp": "probe my.both = my.read, my.write "
                                     "{ }\n"})
    assert _needed(tmp_path, files, "probe my.both { }") == \
        ["both.stp", "my.stp"]


def test_a_tapset_has_its_own_macros_and_conditionals(tmp_path, capsys,
                                                     monkeypatch):
    (tmp_path / "macro.stp").write_text(
        "@define SEVEN %( 7 %)\n"
        '%( kernel_v >= "2.6" %? function lib_m() { return @SEVEN } '
        '%: function lib_m() { return "old" } %)\n')
    status, out, err = _p2(["-r", "6.1.0-57-amd64", "-I", ".", "-e",
                            "probe begin { print(lib_m()) }"],
                           capsys, tmp_path, monkeypatch)
    assert (status, err) == (0, "")
    assert "lib_m:long ()" in out
    # the macro is the file's own
    status, _, err = _p2(["-I", ".", "-e", "probe begin { print(@SEVEN) }"],
                         capsys, tmp_path, monkeypatch)
    assert status == 1 and "SEVEN" in err


def test_a_point_near_a_tapsets_alias_names_it(tmp_path, capsys,
                                               monkeypatch):
    """Unused tapsets' aliases too: the hint is where the typo went."""
    (tmp_path / "my.stp").write_text(LIB["my.stp"])
    status, _, err = _p2(["-I", ".", "-e", "probe my.raed { } "
                          "probe vfs.reed { } probe vfs.readv { }"],
                         capsys, tmp_path, monkeypatch)
    assert status == 1
    hints = [line for line in err.splitlines() if line.startswith("hint:")]
    assert hints == ["hint: did you mean 'my.read' or 'my.write'?",
                     "hint: did you mean 'vfs.read' or 'vfs.write' or "
                     "'vfs.read.return'?",
                     'hint: use kernel.function("vfs_readv")']


#: a string literal, or a comment (whose quotes are not literals)
_LITERAL_OR_COMMENT = re.compile(
    r'"((?:[^"\\\n]|\\.)*)"|//[^\n]*|#[^\n]*|/\*.*?\*/', re.S)


def test_no_literal_of_stpcs_tapsets_is_cut_at_maxstringlen():
    # a longer table would lose its last names without a word (a string
    # value stops at MAXSTRINGLEN - 1 bytes): split it instead
    longest = LIMITS["MAXSTRINGLEN"].default - 1
    too_long = []
    for path in sorted(tapsets.builtin_dir().glob("*.stp")):
        text = path.read_text(encoding="latin-1")
        for found in _LITERAL_OR_COMMENT.finditer(text):
            if found.group(1) is not None and len(found.group(1)) > longest:
                line = text.count("\n", 0, found.start()) + 1
                too_long.append(f"{path.name}:{line}: {len(found.group(1))}")
    assert too_long == []
