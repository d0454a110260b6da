"""Signing an emitted module, for kernels that enforce module signatures
(Secure Boot, ``module.sig_enforce=1``): the kernel build tree's own
``scripts/sign-file`` appends a PKCS#7 signature, the same way kbuild's
``modules_sign`` does.  See docs/precompiled.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Tuple

from .errors import EnvironmentProblem, StpcError

#: Debian's kernels are configured with CONFIG_MODULE_SIG_HASH="sha256".
DEFAULT_HASH = "sha256"
_HASH_SETTING = re.compile(r'^CONFIG_MODULE_SIG_HASH="([a-z0-9-]+)"$', re.M)


def parse_sign_option(text: str) -> Tuple[Path, Path]:
    """``KEY.pem,CERT.der`` from --sign, both files checked to exist."""
    key, sep, cert = text.partition(",")
    if not sep or not key or not cert:
        raise StpcError(f"invalid --sign option '{text}'",
                        hint="use --sign KEY.pem,CERT.der: the private key "
                        "and the X.509 certificate enrolled in the kernel")
    for path in (key, cert):
        if not Path(path).is_file():
            raise StpcError(f"--sign: cannot read {path}")
    return Path(key), Path(cert)


def sign_file_tool(build_tree: Path) -> Path:
    """The build tree's sign-file (Debian: linux-kbuild-*/scripts)."""
    tool = build_tree / "scripts" / "sign-file"
    if not tool.is_file():
        raise EnvironmentProblem(
            f"{tool} not found: signing needs the kernel's kbuild tools "
            "(apt-get install linux-headers-KVER)")
    return tool


def signature_hash(build_tree: Path) -> str:
    """The hash the kernel was configured to sign modules with."""
    for name in ("include/config/auto.conf", ".config"):
        path = build_tree / name
        if path.is_file():
            found = _HASH_SETTING.search(path.read_text(errors="replace"))
            if found:
                return found.group(1)
    return DEFAULT_HASH


def sign_module(ko: Path, key: Path, cert: Path, build_tree: Path) -> None:
    """Appends a signature to ``ko`` in place."""
    command = [str(sign_file_tool(build_tree)), signature_hash(build_tree),
               str(key), str(cert), str(ko)]
    result = subprocess.run(command, capture_output=True, text=True,
                            errors="replace")
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines()
        raise StpcError(f"signing {ko.name} failed: "
                        f"{said[-1] if said else 'sign-file failed'}",
                        hint="the key must be the PEM private key of the "
                        "certificate (DER or PEM)")
