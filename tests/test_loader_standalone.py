"""The loader runs on production hosts with only the standard library:
running a .ko must not import the compiler's dependencies."""

from __future__ import annotations

import subprocess
import sys

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
