"""Mirror of runtime_c/stpc_protocol.h, the loader <-> module protocol.

That header documents the protocol; this module repeats its constants for
the loader, and tests/test_protocol.py checks that the two agree.
"""

import struct

PROTOCOL_VERSION = 1

PROC_PREFIX = "stpc-"
CTL_FILE = "ctl"
DATA_FILE = "data"

CMD_START = "start"
CMD_DISARM = "disarm"
CMD_STOP = "stop"

STATE_LOADED = 0
STATE_STARTING = 1
STATE_RUNNING = 2
STATE_STOPPING = 3
STATE_ERROR = 4

STREAM_STDOUT = 1
STREAM_STDERR = 2
STREAM_PAD = 3

KIND_PRINTF = 0
KIND_VALUE = 1
KIND_MAP = 2
KIND_STATS = 3
KIND_HIST = 4
KIND_HIST_NAME = 5      # names the histogram that follows; not output

# struct stpc_record: u64 seq, u32 len, u16 stream, u16 kind
RECORD = struct.Struct("<QIHH")
RECORD_ALIGN = 16     # the header's size: see stpc_protocol.h

PARAM_TARGET = "stpc_target"
PARAM_ADDRS = "stpc_addrs"
PARAM_VERBOSE = "stpc_verbose"
INFO_SECTION = ".stpc_info"
#: the only format read: earlier ones carry no checksum (loader/metadata.py)
INFO_FORMAT = 6
PARAM_PROTOCOL = "stpc_protocol"


def proc_dir(module_name: str) -> str:
    return f"/proc/{PROC_PREFIX}{module_name}"


def parse_records(data: bytes):
    """Yields (seq, stream, payload, kind) for each whole record."""
    pos = 0
    while pos + RECORD.size <= len(data):
        seq, length, stream, kind = RECORD.unpack_from(data, pos)
        start = pos + RECORD.size
        yield seq, stream, data[start:start + length], kind
        padded = (length + RECORD_ALIGN - 1) // RECORD_ALIGN * RECORD_ALIGN
        pos = start + padded


def parse_status(line: str) -> dict:
    """The ctl file's ``key=value`` line as a dict of ints."""
    return {key: int(value) for key, value in
            (item.split("=", 1) for item in line.split())}
