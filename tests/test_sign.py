"""--emit-ko --sign: the module carries a PKCS#7 signature made by the
build tree's sign-file, and a kernel enforcing signatures refuses modules
without a trusted one."""

from __future__ import annotations

import shutil
import subprocess

import pytest

import vm
import vmcases
from test_vm import check_case

from stpc.loader.image import MODULE_SIGNATURE, SIGNATURE_MAGIC, ModuleImage

_PKEY_ID_PKCS7 = 2


@pytest.fixture
def signing_key(tmp_path):
    """A throwaway RSA key and its self-signed certificate (DER)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.der"
    subprocess.run(["openssl", "req", "-new", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "1", "-subj", "/CN=stpc test/",
                    "-outform", "DER", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True)
    return key, cert


def _emit(tmp_path, kver, *extra):
    return subprocess.run(["stpc", "-e", "probe begin { exit() }",
                           "--emit-ko", "-m", "signed", "-r", kver, *extra],
                          cwd=tmp_path, capture_output=True, text=True)


@pytest.mark.kbuild
def test_emit_ko_sign_appends_a_pkcs7_signature(tmp_path, kver,
                                                 signing_key):
    key, cert = signing_key
    proc = _emit(tmp_path, kver, "--sign", f"{key},{cert}")
    assert proc.returncode == 0, proc.stderr
    image = (tmp_path / "signed.ko").read_bytes()
    assert image.endswith(SIGNATURE_MAGIC)
    trailer = image[:-len(SIGNATURE_MAGIC)][-MODULE_SIGNATURE.size:]
    algo, hash_, id_type, signer_len, key_id_len, sig_len = \
        MODULE_SIGNATURE.unpack(trailer)
    assert (algo, hash_, id_type, signer_len, key_id_len) == \
        (0, 0, _PKEY_ID_PKCS7, 0, 0)
    body_end = len(image) - len(SIGNATURE_MAGIC) - MODULE_SIGNATURE.size
    signature = image[body_end - sig_len:body_end]
    assert signature[0] == 0x30          # a DER SEQUENCE: the PKCS#7 blob
    assert image.startswith(b"\x7fELF")
    # --info says so
    assert ModuleImage.parse(image).signature_size == sig_len


def test_sign_needs_emit_ko_and_both_files(tmp_path, signing_key):
    key, _ = signing_key
    proc = subprocess.run(["stpc", "-e", "probe begin {}", "-p4", "--sign",
                           f"{key},{key}"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "give --emit-ko as well" in proc.stderr
    proc = _emit(tmp_path, "none", "--sign", str(key))
    assert proc.returncode == 1
    assert "invalid --sign option" in proc.stderr


_CASES = {case.id: case for case in
          vmcases.sig_enforce_cases(vm.find_kernel_release() or "none")}


@pytest.mark.vm
@pytest.mark.parametrize("case_id", sorted(_CASES))
def test_sig_enforce(case_id, vm_results_sig_enforced):
    check_case(_CASES[case_id], vm_results_sig_enforced)
