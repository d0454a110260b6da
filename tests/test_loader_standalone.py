"""The loader runs on production hosts with only the standard library:
running a .ko must not import the compiler's dependencies."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stpc.loader.kmod import LoaderError

BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('lark', 'elftools', 'jinja2'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
"""


def run_python(code):
    return subprocess.run([sys.executable, "-c", BLOCKER + code],
                          capture_output=True, text=True)


def test_loader_modules_import_without_compiler_deps():
    proc = run_python("import stpc.loader.run, stpc.loader.kmod, "
                      "stpc.loader.protocol, stpc.compiler.cli\nprint('ok')")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"


def test_ko_path_of_the_cli_needs_no_compiler():
    # a missing .ko fails before anything is loaded: safe on any host
    proc = run_python("from stpc.compiler.cli import main\n"
                      "raise SystemExit(main(['/nonexistent/x.ko', "
                      "'--run']))")
    assert proc.returncode == 1
    assert proc.stderr == ("ERROR: cannot read /nonexistent/x.ko: No such "
                           "file or directory\n")


def test_build_id_is_found_among_several_notes():
    from stpc.loader.probed import parse_build_id_note

    def note(name: bytes, kind: int, desc: bytes) -> bytes:
        pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
        return (len(name).to_bytes(4, "little") +
                len(desc).to_bytes(4, "little") +
                kind.to_bytes(4, "little") + pad(name) + pad(desc))
    build_id = bytes(range(20))
    notes = note(b"Xen\0", 1, b"\1\2\3") + note(b"GNU\0", 3, build_id)
    assert parse_build_id_note(notes) == build_id.hex()
    assert parse_build_id_note(note(b"GNU\0", 1, b"xx")) is None


def test_kernel_symbols_are_read_up_to_the_last_name_wanted(tmp_path,
                                                             monkeypatch):
    """The first kernel symbol of each name wins, module symbols never,
    across the reads' chunk boundaries, by both ways of searching a
    chunk; the file is read no further than the last name wanted."""
    from stpc.loader import probed
    lines = [f"{0xffffffff81000000 + i:016x} T sym{i}" for i in range(5000)]
    lines.insert(1, "ffffffff81000000 T _stext")
    lines.insert(2500, "ffffffff82000000 t sym7")          # a second sym7
    lines += ["ffffffffc0000000 t sym9\t[somemodule]",
              "ffffffffc0000010 t only_in_a_module\t[somemodule]"]
    kallsyms = tmp_path / "kallsyms"
    kallsyms.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(probed, "KALLSYMS", str(kallsyms))
    monkeypatch.setattr(probed, "_KALLSYMS_CHUNK", 1000)
    few = ["_stext", "sym7", "sym4999"]
    many = ["_stext"] + [f"sym{i}" for i in range(0, 5000, 97)]
    for names in (few, many):
        found = probed.kernel_symbols(names)
        assert found == {name: 0xffffffff81000000 if name == "_stext" else
                         0xffffffff81000000 + int(name[3:]) for name in names}
    reads = []
    real_open = open

    def counting_open(path, mode="r"):
        stream = real_open(path, mode)
        read = stream.read
        stream.read = lambda size=-1: reads.append(size) or read(size)
        return stream
    monkeypatch.setattr("builtins.open", counting_open)
    assert probed.kernel_symbols(["_stext"]) == {"_stext": 0xffffffff81000000}
    assert len(reads) == 1
    monkeypatch.setattr("builtins.open", real_open)
    with pytest.raises(LoaderError, match="only_in_a_module is not in"):
        probed.kernel_symbols(["_stext", "only_in_a_module"])


#: a module the compiler or its dependencies would bring in: none is
#: needed to show the version or to run a pre-compiled module
COMPILER_ONLY = ("lark", "elftools", "jinja2", "stpc.compiler.errors",
                 "stpc.compiler.driver", "stpc.compiler.build",
                 "stpc.compiler.inputcache", "ctypes", "traceback")


def _loaded(code: str) -> list:
    proc = run_python(code + "\nimport sys\nprint(sorted(m for m in "
                      "sys.modules if m.split('.')[0] in ('lark', "
                      f"'elftools', 'jinja2', 'ctypes', 'traceback') or m in"
                      f" {COMPILER_ONLY!r}))")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_the_version_imports_no_compiler_module():
    assert _loaded("from stpc.compiler.cli import main\n"
                   "try:\n    main(['--version'])\n"
                   "except SystemExit:\n    pass") == \
        ["stpc 0.1.0 (loader protocol 1)", "[]"]
