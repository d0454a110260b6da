"""runtime_c/stpc_protocol.h and loader/protocol.py describe one protocol:
every constant must agree, and record parsing must match the C layout."""

from __future__ import annotations

import re
from pathlib import Path

from stpc.loader import protocol

HEADER = (Path(__file__).resolve().parent.parent / "runtime_c" /
          "stpc_protocol.h").read_text()


def header_defines():
    defines = dict(re.findall(r"#define[ \t]+(STPC_\w+)[ \t]+(\S+)", HEADER))
    enums = dict(re.findall(r"\b(STPC_(?:STATE|STREAM|KIND)_\w+)\s*=\s*(\d+)",
                            HEADER))
    return defines, enums


def test_constants_agree():
    defines, enums = header_defines()
    assert int(defines["STPC_PROTOCOL_VERSION"]) == protocol.PROTOCOL_VERSION
    assert defines["STPC_PROC_PREFIX"] == f'"{protocol.PROC_PREFIX}"'
    assert defines["STPC_CTL_FILE"] == f'"{protocol.CTL_FILE}"'
    assert defines["STPC_DATA_FILE"] == f'"{protocol.DATA_FILE}"'
    assert defines["STPC_CMD_START"] == f'"{protocol.CMD_START}"'
    assert defines["STPC_CMD_STOP"] == f'"{protocol.CMD_STOP}"'
    assert defines["STPC_CMD_DISARM"] == f'"{protocol.CMD_DISARM}"'
    assert int(defines["STPC_RECORD_ALIGN"]) == protocol.RECORD_ALIGN
    assert defines["STPC_PARAM_TARGET"] == f'"{protocol.PARAM_TARGET}"'
    assert defines["STPC_PARAM_ADDRS"] == f'"{protocol.PARAM_ADDRS}"'
    assert defines["STPC_PARAM_VERBOSE"] == f'"{protocol.PARAM_VERBOSE}"'
    assert defines["STPC_INFO_SECTION"] == f'"{protocol.INFO_SECTION}"'
    assert int(defines["STPC_INFO_FORMAT"]) == protocol.INFO_FORMAT
    for name, value in enums.items():
        assert getattr(protocol, name[len("STPC_"):]) == int(value), name


def test_record_layout_matches_struct():
    fields = re.search(r"struct stpc_record \{(.*?)\};", HEADER, re.S).group(1)
    sizes = {"unsigned long long": 8, "unsigned int": 4, "unsigned short": 2}
    total = sum(sizes[t] for t in re.findall(
        r"(unsigned long long|unsigned int|unsigned short)", fields))
    assert total == protocol.RECORD.size == 16


def test_parse_records_handles_padding():
    def record(seq, stream, payload):
        pad = (-len(payload)) % protocol.RECORD_ALIGN
        return protocol.RECORD.pack(seq, len(payload), stream, 0) + \
            payload + b"\0" * pad
    data = record(1, protocol.STREAM_STDOUT, b"hello\n") + \
        record(2, protocol.STREAM_STDERR, b"12345678") + \
        record(3, protocol.STREAM_STDOUT, b"")
    assert list(protocol.parse_records(data)) == [
        (1, 1, b"hello\n", 0), (2, 2, b"12345678", 0), (3, 1, b"", 0)]


def test_parse_status():
    line = "state=2 errors=1 skipped=0 dropped=7 finished=0\n"
    assert protocol.parse_status(line) == {
        "state": 2, "errors": 1, "skipped": 0, "dropped": 7, "finished": 0}
