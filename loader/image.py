"""A module file as the loader sees it: its .modinfo and .stpc_info, the
checks made before ``init_module``, and renaming (standard library only).

Every check raises LoaderError with one sentence, before anything is
loaded.  Renaming edits only the loader's copy of the file: the name the
kernel registers is the ``name`` field of the ``struct module`` in
``.gnu.linkonce.this_module``; ``.modinfo`` repeats it.  The module names
its /proc/stpc-NAME directory from that field at run time, so a renamed
module runs beside the original.
"""

from __future__ import annotations

import os
import re
from typing import Dict, List, NamedTuple, Optional

from . import elf, kmod, metadata, probed, protocol
from .elf import MODULE_SIGNATURE, SIGNATURE_MAGIC  # noqa: F401 - re-exported
from .kmod import LoaderError

THIS_MODULE = ".gnu.linkonce.this_module"
MODULE_NAME_LEN = 56        # struct module's name[], NUL included
_VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SIG_ENFORCE = "/sys/module/module/parameters/sig_enforce"


class ModuleImage(NamedTuple):
    data: bytes
    modinfo: Dict[str, str]
    info: dict                  # .stpc_info, verified

    @classmethod
    def read(cls, path: str) -> "ModuleImage":
        try:
            with open(path, "rb") as ko:
                data = ko.read()
        except OSError as exc:
            raise LoaderError(f"cannot read {path}: {exc.strerror}") \
                from None
        return cls.parse(data, path)

    @classmethod
    def parse(cls, data: bytes, source: str = "this module") \
            -> "ModuleImage":
        """Refuses anything but a whole stpc module, saying what is wrong
        with SOURCE (the file's name) in one sentence."""
        try:
            sections = elf.sections(data)
        except elf.Malformed as exc:
            raise LoaderError(f"{source} {exc}") from None
        found = sections.get(".modinfo")
        modinfo = kmod.parse_modinfo(
            data[found.offset:found.offset + found.size] if found else b"")
        if "stpc_version" not in modinfo or "name" not in modinfo:
            raise LoaderError(f"{source} is not a module stpc built "
                              "(no stpc_version in its .modinfo)")
        return cls(data, modinfo, metadata.verified(
            data, sections.get(protocol.INFO_SECTION), modinfo, source))

    @property
    def name(self) -> str:
        return self.modinfo["name"]

    @property
    def vermagic(self) -> str:
        return self.modinfo.get("vermagic", "")

    @property
    def signature_size(self) -> Optional[int]:
        """The appended signature's length in bytes; None: unsigned."""
        return elf.signature_size(self.data)

    def check_kernel(self, running: str) -> None:
        """The kernel checks vermagic too, but only says "Exec format
        error"; this says which kernel the module needs."""
        problem = self._release_problem(running)
        if problem:
            raise LoaderError(problem)

    def _release_problem(self, running: str) -> Optional[str]:
        built_for = self.vermagic.split()[0] if self.vermagic else "?"
        if built_for == running:
            return None
        return (f"{self.name} was built for kernel {built_for} but this "
                f"kernel is {running}: rebuild it with 'stpc SCRIPT "
                f"--emit-ko -r {running}'")

    def kernel_problems(self, running: str) -> List[str]:
        """Why this kernel would refuse the module, found without loading
        it (what a run checks later, too): the release, the build-id of
        a kernel whose DWARF placed the probes, a missing signature
        where signatures are enforced.  Empty: it fits."""
        problems = [self._release_problem(running)]
        for target in self.info["targets"]:
            if target["name"] == "kernel":
                try:
                    probed.check_kernel_build_id(target["build_id"])
                except LoaderError as exc:
                    problems.append(str(exc))
        for program in self.info.get("programs", []):
            try:
                probed.check_program(program["path"], program["build_id"])
            except LoaderError as exc:
                problems.append(str(exc))
        if self.signature_size is None and _signatures_enforced():
            problems.append("this kernel loads signed modules only "
                            "(module.sig_enforce) and this one is not "
                            "signed: sign it with --emit-ko --sign")
        return [p for p in problems if p]

    def renamed(self, new: str) -> "ModuleImage":
        """A copy that the kernel will load as ``new``."""
        check_name(new)
        data = bytearray(self.data)
        offset, size = kmod.elf_section_range(self.data, THIS_MODULE)
        field = data[offset:offset + size].find(
            self.name.encode() + b"\0")
        if field < 0 or size < field + MODULE_NAME_LEN:
            raise LoaderError(f"cannot find the name of {self.name} in its "
                              f"{THIS_MODULE} section")
        start = offset + field
        data[start:start + MODULE_NAME_LEN] = \
            new.encode().ljust(MODULE_NAME_LEN, b"\0")
        _rename_modinfo(data, self.name, new)
        return ModuleImage(bytes(data), dict(self.modinfo, name=new),
                           self.info)


def check_name(name: str) -> None:
    if not _VALID_NAME.match(name) or len(name) >= MODULE_NAME_LEN:
        raise LoaderError(f"'{name}' is not a module name: use letters, "
                          f"digits and _, at most {MODULE_NAME_LEN - 1}")


def _rename_modinfo(data: bytearray, old: str, new: str) -> None:
    """Rewrites .modinfo's name= in place when the new name fits; else
    blanks it with NULs (entries are NUL-separated, so that is no entry),
    and the kernel falls back to struct module's name."""
    offset, size = kmod.elf_section_range(bytes(data), ".modinfo")
    entry = b"\0name=" + old.encode() + b"\0"
    section = bytes(data[offset:offset + size])
    at = (b"\0" + section).find(entry)
    if at < 0:
        return
    length = len(entry) - 2
    replacement = b"name=" + new.encode()
    if len(replacement) > length:
        replacement = b""
    data[offset + at:offset + at + length] = replacement.ljust(length, b"\0")


def free_name(image: ModuleImage, wanted: Optional[str],
              loaded: List[str]) -> str:
    """The name to load under: -m NAME if given (refused if taken), else
    the module's own name, or NAME_2, NAME_3 ... while that is loaded."""
    if wanted:
        check_name(wanted)
        if wanted in loaded:
            raise LoaderError(f"a module named {wanted} is already loaded: "
                              "give another name with -m")
        return wanted
    name, n = image.name, 1
    while name in loaded:
        n += 1
        name = f"{image.name[:MODULE_NAME_LEN - 8]}_{n}"
    return name


def running_release() -> str:
    return os.uname().release


def _signatures_enforced() -> bool:
    try:
        with open(_SIG_ENFORCE) as setting:
            return setting.read().strip() == "Y"
    except OSError:             # a kernel without module signing
        return False


def info_of(image: ModuleImage) -> dict:
    """Everything ``stpc --info`` shows: .stpc_info, and how the module
    fits this host: ``this_kernel`` (its release and the problems of
    kernel_problems) and ``signature_bytes`` (0: unsigned)."""
    info = dict(image.info)
    running = running_release()
    info["this_kernel"] = {"release": running,
                           "problems": image.kernel_problems(running)}
    info["signature_bytes"] = image.signature_size or 0
    return info
