"""The VM harness itself: it says in one sentence what to install when it
cannot start a VM, and which kernel it boots (no test here boots one)."""

from __future__ import annotations

import shutil

import pytest

import vm


def test_missing_qemu_says_what_to_install(monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None
                        if name.startswith("qemu") else real_which(name))
    with pytest.raises(vm.VMUnavailable) as exc:
        vm.check_available(vm.find_kernel_release() or "6.1.0-56-amd64")
    assert str(exc.value) == ("qemu-system-x86_64 not found: apt-get install "
                              "qemu-system-x86")


def test_missing_kernel_says_what_to_install():
    with pytest.raises(vm.VMUnavailable) as exc:
        vm.check_available(None)
    assert "apt-get install linux-image-amd64 linux-headers-amd64" in \
        str(exc.value)


def test_default_kernel_is_debian_12s_own(monkeypatch):
    """A 6.12 from bookworm-backports is booted only when asked for."""
    monkeypatch.delenv("STPC_KVER", raising=False)
    monkeypatch.setattr(vm, "find_kernel_releases", lambda: [
        "6.12.95+deb12-amd64", "6.1.0-56-amd64", "6.1.0-9-amd64"])
    assert vm.find_kernel_release() == "6.1.0-56-amd64"
    assert vm.find_kernel_release("6.12") == "6.12.95+deb12-amd64"
    assert vm.find_kernel_release("6.6") is None
