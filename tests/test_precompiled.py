"""Pre-compiled modules on the host, loading nothing: the metadata,
``stpc --info``, renaming, the checks made before init_module, and the
NDJSON output of ``--format json`` (docs/precompiled.md)."""

from __future__ import annotations

import json
import os

import pytest

from stpc.loader import info, kmod, protocol
from stpc.loader.image import (MODULE_NAME_LEN, MODULE_SIGNATURE,
                               SIGNATURE_MAGIC, ModuleImage, free_name,
                               info_of)
from stpc.loader.kmod import LoaderError
from stpc.loader.ndjson import JsonLines
from test_loader_standalone import run_python
import validate_output

SCRIPT = ('global n, a; probe begin { n = 1; a["k"] = 2; '
          'printf("hi\\n"); exit() }\n')


# -- NDJSON --------------------------------------------------------------

def ndjson(records):
    lines = []
    out = JsonLines(lines.append)
    for kind, text in records:
        out.feed(kind, text)
    out.close()
    return [json.loads(line) for line in lines]


HIST = "value |-------- count\n    2 |   0\n    4 |@  1\n    ~\n   16 |@  1\n\n"


def test_records_split_anywhere_give_the_same_objects():
    whole = [(protocol.KIND_PRINTF, "a\nb\n"),
             (protocol.KIND_HIST_NAME, 'lat["x",2]'),
             (protocol.KIND_HIST, HIST),
             (protocol.KIND_VALUE, 'x=5\ns="a=b"\n'),
             (protocol.KIND_MAP, 'm["k",1]=3\nm["j",2]=4\nq[7]=1\n'),
             (protocol.KIND_STATS, "s @count=1 @min=4 @max=4 @sum=4 "
              "@avg=4\n")]
    split = [(kind, text[i:i + 3]) for kind, text in whole
             for i in range(0, len(text), 3)]
    assert ndjson(split) == ndjson(whole) == [
        {"type": "printf", "data": "a\n"},
        {"type": "printf", "data": "b\n"},
        {"type": "hist", "data": {"lat": {"x,2": [
            {"value": 2, "count": 0}, {"value": 4, "count": 1},
            {"value": 16, "count": 1}]}}},
        {"type": "map", "data": {"x": 5}},
        {"type": "map", "data": {"s": "a=b"}},
        {"type": "map", "data": {"m": {"k,1": 3, "j,2": 4}}},
        {"type": "map", "data": {"q": {"7": 1}}},
        {"type": "stats", "data": {"s": {"count": 1, "min": 4, "max": 4,
                                         "sum": 4, "avg": 4}}}]


def test_unfinished_line_and_back_to_back_histograms():
    objects = ndjson([(protocol.KIND_HIST_NAME, "a"),
                      (protocol.KIND_HIST, HIST),
                      (protocol.KIND_HIST_NAME, "b"),
                      (protocol.KIND_HIST, HIST),
                      (protocol.KIND_PRINTF, "no newline")])
    assert [o["type"] for o in objects] == ["hist", "hist", "printf"]
    assert [list(o["data"]) for o in objects[:2]] == [["a"], ["b"]]
    assert objects[-1]["data"] == "no newline"


def test_objects_match_the_schema():
    objects = ndjson([(protocol.KIND_PRINTF, "a\n"),
                      (protocol.KIND_HIST_NAME, "h"),
                      (protocol.KIND_HIST, HIST),
                      (protocol.KIND_HIST_NAME, "h2[1]"),
                      (protocol.KIND_HIST, HIST),
                      (protocol.KIND_STATS, 'z["k"] @count=1 @min=2 @max=2 '
                       '@sum=2 @avg=2\n'),
                      (protocol.KIND_MAP, "m[1,2]=3\n")])
    assert validate_output.check(json.dumps(o) for o in objects) == 5
    with pytest.raises(Exception):
        validate_output.check(['{"type": "map", "data": []}'])


# -- names ---------------------------------------------------------------

class _Named:
    name = "tool"


def test_free_name_renames_automatically_when_taken():
    assert free_name(_Named(), None, ["ext4"]) == "tool"
    assert free_name(_Named(), None, ["tool", "tool_2"]) == "tool_3"


def test_free_name_refuses_a_taken_or_invalid_m_name():
    assert free_name(_Named(), "other", ["tool"]) == "other"
    with pytest.raises(LoaderError, match="a module named tool is already "
                       "loaded: give another name with -m"):
        free_name(_Named(), "tool", ["tool"])
    for bad in ("a-b", "9x", "x" * MODULE_NAME_LEN):
        with pytest.raises(LoaderError, match="is not a module name"):
            free_name(_Named(), bad, [])


# -- a real module -------------------------------------------------------

@pytest.fixture(scope="module")
def ko(kver, tmp_path_factory):
    from stpc.compiler.driver import Compilation, CompileOptions
    os.environ.setdefault("STPC_CACHE_DIR",
                          str(tmp_path_factory.mktemp("cache")))
    comp = Compilation(SCRIPT, "t.stp", CompileOptions(
        kernel_release=kver, module_name="pc_host"))
    path = tmp_path_factory.mktemp("ko") / "pc_host.ko"
    path.write_bytes(comp.module().read_bytes())
    return path


@pytest.mark.kbuild
def test_metadata_has_vermagic_and_parameters(ko, kver):
    image = ModuleImage.read(str(ko))
    assert image.info["format"] == protocol.INFO_FORMAT == 6
    assert image.info["vermagic"] == image.vermagic
    assert image.vermagic.split()[0] == kver
    assert set(image.info["parameters"]) == {
        protocol.PARAM_ADDRS, protocol.PARAM_TARGET, protocol.PARAM_VERBOSE}


@pytest.mark.kbuild
@pytest.mark.parametrize("new", ["pc_x", "pc_a_much_longer_name"])
def test_renaming_edits_struct_module_and_modinfo(ko, new):
    image = ModuleImage.read(str(ko)).renamed(new)
    this_module = kmod.elf_section(image.data, ".gnu.linkonce.this_module")
    assert new.encode() + b"\0" in this_module
    assert b"pc_host\0" not in this_module
    assert len(image.data) == ko.stat().st_size
    modinfo = kmod.modinfo(image.data)
    # a longer name does not fit in .modinfo: the kernel uses struct module's
    assert modinfo.get("name", new) == new
    assert modinfo["vermagic"] == ModuleImage.read(str(ko)).vermagic


def run_cli(*argv):
    """The CLI with the compiler's dependencies unimportable."""
    return run_python("from stpc.compiler.cli import main\n"
                      f"raise SystemExit(main({list(argv)!r}))")


@pytest.mark.kbuild
def test_info_needs_only_the_standard_library(ko, kver):
    table = run_cli(str(ko), "--info")
    assert table.returncode == 0, table.stderr
    assert "pc_host" in table.stdout and "stpc_addrs" in table.stdout
    as_json = run_cli(str(ko), "--info", "--format", "json")
    info = json.loads(as_json.stdout)
    assert info["module"] == "pc_host" and info["kernel_release"] == kver


@pytest.mark.kbuild
def test_info_shows_every_probe_the_fit_and_the_signature(ko, kver):
    table = run_cli(str(ko), "--info")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 79
    assert "probes (1)     begin" in lines
    running = os.uname().release
    verdict = "fits it" if kver == running else "does not fit it:"
    assert f"this kernel    {running}: {verdict}" in lines
    assert "signed         no" in lines
    info = json.loads(run_cli(str(ko), "--info", "--format",
                              "json").stdout)
    assert info["probes"] == ["begin"]
    assert info["this_kernel"]["release"] == running
    assert bool(info["this_kernel"]["problems"]) == (kver != running)
    assert info["signature_bytes"] == 0


def test_a_signature_is_seen_at_the_end_of_the_file(ko):
    image = ModuleImage.read(str(ko))
    signature = b"\x30" * 300
    signed = image._replace(data=image.data + signature +
                                 MODULE_SIGNATURE.pack(0, 0, 2, 0, 0, 300) +
                                 SIGNATURE_MAGIC)
    assert (image.signature_size, signed.signature_size) == (None, 300)
    assert "signed         yes: a 300-byte signature appended" in \
        info_lines(signed)


def info_lines(image):
    return list(info.render(info._rows(info_of(image))))


def test_info_wraps_at_80_columns():
    rows = [("probes (2)", 'kernel.function("' + "x" * 90 + '")'),
            ("", "- a problem said in words, long enough to need "
                 "two lines of the value column, which is sixty-four "
                 "characters wide")]
    lines = list(info.render(rows))
    assert max(len(line) for line in lines) == 79
    assert [line[:15] for line in lines] == ["probes (2)     "] + \
        [" " * 15] * (len(lines) - 1)
    # an item's continuation lines hang under its text
    assert lines[-2].startswith(" " * 15 + "- a problem")
    assert lines[-1].startswith(" " * 17 + "value column")


@pytest.mark.kbuild
def test_run_is_refused_for_another_kernel(ko, kver):
    if kver == os.uname().release:
        pytest.skip("would load a module on this host")
    proc = run_cli(str(ko), "--run", "--format", "json")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"ERROR: pc_host was built for kernel {kver} but this kernel is "
        f"{os.uname().release}: rebuild it with 'stpc SCRIPT --emit-ko -r "
        f"{os.uname().release}'\n")


def test_a_truncated_elf_file_is_refused(tmp_path):
    path = tmp_path / "x.ko"
    path.write_bytes(b"\x7fELF\x02\x01truncated")
    proc = run_cli(str(path), "--info")
    assert proc.returncode == 1
    assert proc.stderr == (f"ERROR: {path} is not a kernel module: it is too"
                           " short for an ELF header\n")
