"""Where the probed modules and the kernel are on this boot.

A module's ``.stpc_info`` section lists, per probed module (its JSON
key "targets" is the protocol's), the addresses it needs ("slots"): for
a module, its struct module, its build-id note and
some sections, all read from /sys/module/NAME/sections/; for the kernel,
``_stext`` from /proc/kallsyms.  The loader passes them as the
``stpc_addrs`` parameter; the module checks each before using it.

Each probed module's ``.gnu.linkonce.this_module`` file stays open until
``init_module`` has returned, and the stpc module pins it itself; the
open file does not keep a module from being removed (kernfs drains it),
but it makes a removal between reading and loading visible here.
"""

from __future__ import annotations

import os
from typing import List, Optional

from . import protocol
from .kmod import LoaderError

THIS_MODULE = ".gnu.linkonce.this_module"
BUILD_ID_NOTE = ".note.gnu.build-id"


class ProbedAddresses:
    """The stpc_addrs parameter, and the files held open for it."""

    def __init__(self, addresses: List[int]):
        self.addresses = addresses
        self.held: List[int] = []

    @property
    def param(self) -> str:
        if not self.addresses:
            return ""
        return protocol.PARAM_ADDRS + "=" + ",".join(
            f"{a:#x}" for a in self.addresses)

    def release(self) -> None:
        for fd in self.held:
            os.close(fd)
        self.held = []


def resolve(info: dict) -> ProbedAddresses:
    """Reads every slot's address; refuses a probed module that is not loaded
    (unless all its probes are optional) or whose build-id differs, and a
    probed program whose file is not the one the probes were placed in."""
    for program in info.get("programs", []):
        check_program(program["path"], program["build_id"])
    result = ProbedAddresses([0] * info["nslots"])
    try:
        for module in info["targets"]:
            _resolve_module(module, result)
    except BaseException:
        result.release()
        raise
    return result


def _resolve_module(module: dict, result: ProbedAddresses) -> None:
    name, first = module["name"], module["first_slot"]
    if name == "kernel":
        check_kernel_build_id(module["build_id"])
        symbols = kernel_symbols(
            [s.partition(":")[2] or s for s in module["slots"]])
        for i, slot in enumerate(module["slots"]):
            result.addresses[first + i] = symbols[slot.partition(":")[2]
                                                  or slot]
        return
    sections = f"/sys/module/{name}/sections"
    try:
        fd = os.open(f"{sections}/{THIS_MODULE}", os.O_RDONLY)
    except OSError:
        if module["optional"]:
            return
        raise LoaderError(f"module {name} is not loaded") from None
    result.held.append(fd)
    check_build_id(name, module["build_id"])
    result.addresses[first] = _read_address(os.pread(fd, 64, 0), name,
                                            THIS_MODULE)
    for i, section in enumerate(module["slots"][1:], start=1):
        try:
            with open(f"{sections}/{section}", "rb") as f:
                raw = f.read()
        except OSError:
            raise LoaderError(f"module {name} has no section {section} "
                              "loaded") from None
        result.addresses[first + i] = _read_address(raw, name, section)


def _read_address(raw: bytes, name: str, section: str) -> int:
    try:
        address = int(raw.decode().strip(), 16)
    except ValueError:
        address = 0
    if address == 0:
        raise LoaderError(f"cannot read the address of {section} of {name}: "
                          "run stpc as root")
    return address


def build_id_of_loaded(name: str) -> Optional[str]:
    """The GNU build-id of a loaded module, from its notes in sysfs."""
    try:
        with open(f"/sys/module/{name}/notes/{BUILD_ID_NOTE}", "rb") as f:
            note = f.read()
    except OSError:
        return None
    return parse_build_id_note(note)


_NT_GNU_BUILD_ID = 3


def parse_build_id_note(notes: bytes) -> Optional[str]:
    """The GNU build-id among ELF notes (one, or several in a row, as in
    /sys/kernel/notes)."""
    pos = 0
    while pos + 12 <= len(notes):
        namesz, descsz, kind = (int.from_bytes(notes[pos + i:pos + i + 4],
                                               "little") for i in (0, 4, 8))
        start = pos + 12 + (namesz + 3) // 4 * 4
        desc = notes[start:start + descsz]
        name = notes[pos + 12:pos + 12 + namesz].rstrip(b"\0")
        if kind == _NT_GNU_BUILD_ID and name == b"GNU" and \
                len(desc) == descsz:
            return desc.hex()
        pos = start + (descsz + 3) // 4 * 4
    return None


def check_kernel_build_id(expected: str) -> None:
    """The running kernel must be the one whose DWARF placed the probes
    (BTF-placed probes record no build-id and are checked by name)."""
    if not expected:
        return
    try:
        with open("/sys/kernel/notes", "rb") as f:
            found = parse_build_id_note(f.read())
    except OSError:
        return
    if found is not None and found != expected:
        raise LoaderError(f"build-id mismatch for kernel: expected "
                          f"{expected}, found {found}")


_PT_NOTE = 4


def program_build_id(path: str) -> Optional[str]:
    """The GNU build-id of a 64-bit little-endian ELF file, from its
    PT_NOTE segments; None when it has none or is no such file."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None
        phoff = int.from_bytes(head[32:40], "little")
        phentsize = int.from_bytes(head[54:56], "little")
        phnum = int.from_bytes(head[56:58], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        for i in range(phnum):
            entry = table[i * phentsize:(i + 1) * phentsize]
            if int.from_bytes(entry[0:4], "little") != _PT_NOTE:
                continue
            offset = int.from_bytes(entry[8:16], "little")
            size = int.from_bytes(entry[32:40], "little")
            f.seek(offset)
            found = parse_build_id_note(f.read(min(size, 1 << 16)))
            if found is not None:
                return found
    return None


def check_program(path: str, expected: str) -> None:
    """The file a process(...) probe names must be the one the compiler
    read: its build-id places the probes."""
    try:
        found = program_build_id(path)
    except OSError as exc:
        raise LoaderError(f"cannot read probed program {path}: "
                          f"{exc.strerror}") from None
    if found != expected:
        raise LoaderError(f"{path} is not the file the probes were placed "
                          f"in: its build-id is {found or 'missing'}, "
                          f"expected {expected}")


def check_build_id(name: str, expected: str) -> None:
    found = build_id_of_loaded(name)
    if expected and found is not None and found != expected:
        raise LoaderError(f"build-id mismatch for {name}: expected "
                          f"{expected}, found {found}")


KALLSYMS = "/proc/kallsyms"
#: how much of /proc/kallsyms one read takes: the kernel formats it as it
#: is read, and the read stops once every wanted symbol is found
_KALLSYMS_CHUNK = 1 << 16
#: past this many names still wanted, a chunk is split into lines once
#: rather than searched once per name
_FEW_NAMES = 32


def kernel_symbols(names: List[str]) -> dict:
    """Addresses of kernel (not module) symbols, from /proc/kallsyms:
    _stext, and the functions probed by name (kernel types from BTF).
    The first of several same-named symbols wins; the module checks
    that kallsyms names the address it is given.  The file lists the
    kernel's symbols (``ADDRESS TYPE NAME``) before the modules' (which
    end in ``\t[MODULE]``), and _stext comes first: reading stops at the
    last name wanted (a whole read costs about a second under TCG)."""
    wanted, found = set(names), {}
    try:
        with open(KALLSYMS, "rb") as kallsyms:
            rest = b""
            while wanted - found.keys():
                chunk = kallsyms.read(_KALLSYMS_CHUNK)
                if not chunk:
                    break
                lines, _, rest = (rest + chunk).rpartition(b"\n")
                _symbols_in(lines + b"\n", wanted - found.keys(), found)
    except OSError:
        pass
    if found.get("_stext", 0) == 0:
        raise LoaderError("cannot read kernel addresses from /proc/kallsyms:"
                          " run stpc as root")
    missing = sorted(wanted - set(found))
    if missing:
        raise LoaderError(f"kernel function {missing[0]} is not in "
                          "/proc/kallsyms: this kernel differs from the one "
                          "the module was built for")
    return found


def _symbols_in(lines: bytes, missing: set, found: dict) -> None:
    """Adds to FOUND the address of each MISSING name that whole lines of
    kallsyms give to a kernel symbol (a line ``ADDRESS TYPE NAME``)."""
    if len(missing) > _FEW_NAMES:
        for line in lines.splitlines():
            fields = line.split()
            if len(fields) == 3:
                name = fields[2].decode("latin-1")
                if name in missing and name not in found:
                    found[name] = int(fields[0], 16)
        return
    for name in missing:
        at = lines.find(b" " + name.encode() + b"\n")
        if at >= 0:
            start = lines.rfind(b"\n", 0, at) + 1
            found[name] = int(lines[start:at].split()[0], 16)
