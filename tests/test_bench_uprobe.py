"""How bench/uprobe_overhead.py places its bare uprobe and reads what the
tools printed in the VM (the benchmark itself is run by hand)."""

import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import uprobe_overhead  # noqa: E402


def test_args_hits_are_the_counts_when_the_sums_are_right():
    # 5 calls: kinds 0 1 2 3 0, values 10 11 12 13 10
    rows = "0 2 20\n1 1 11\n2 1 12\n3 1 13\n"
    assert uprobe_overhead._args_hits(rows, 5) == 5
    assert uprobe_overhead._args_hits(rows.replace("0 2 20", "0 2 21"),
                                      5) is None


def test_args_hits_ignore_other_lines():
    out = "WARNING: something\n0 1 10\n"
    assert uprobe_overhead._args_hits(out, 1) == 1


# -no-pie: addresses far from file offsets (a PIE's often equal them)
@pytest.mark.parametrize("link", ["-pie", "-no-pie"])
def test_the_bare_uprobe_goes_at_the_functions_first_byte(tmp_path, link):
    program = tmp_path / uprobe_overhead.PROGRAM
    subprocess.run(["gcc", "-g", "-O2", link, "-o", str(program),
                    str(uprobe_overhead.SOURCES /
                        f"{uprobe_overhead.PROGRAM}.c")], check=True)
    offset = uprobe_overhead.function_offset(program)
    with program.open("rb") as f:
        elf = ELFFile(f)
        symbol = elf.get_section_by_name(".symtab").get_symbol_by_name(
            uprobe_overhead.FUNCTION)[0]
        text = elf.get_section_by_name(".text")
        start = symbol["st_value"] - text["sh_addr"]
        code = text.data()[start:start + 8]
    assert program.read_bytes()[offset:offset + 8] == code
