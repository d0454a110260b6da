"""The VM harness itself: it says in one sentence what to install when it
cannot start a VM, which kernel it boots, and how a batch goes on past a
guest crash (no test here boots one)."""

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


def test_a_guest_crash_fails_its_case_and_the_rest_run_on(monkeypatch):
    """A case that kills the guest fails with the console's oops; the
    cases after it run in a new boot (no VM boots: run_in_vm is faked)."""
    import json
    import conftest
    import vmcases

    cases = [vmcases.VmCase(id=name, shell=f"echo {name}",
                            cwd=vmcases.WORK)
             for name in ("a", "oops", "b")]
    boots = []

    def fake_run_in_vm(command, kver, rwdirs, timeout, append):
        cases_file, results_file = command.split()[-2:]
        ids = [c["id"] for c in json.loads(open(cases_file).read())]
        boots.append(ids)
        done = {}
        for case_id in ids:
            if case_id == "oops":
                with open(results_file, "w") as out:
                    json.dump(done, out)
                raise vm.VMError("guest died", console="RIP: 0010:0x0")
            done[case_id] = {"rc": 0, "stdout": case_id + "\n",
                             "stderr": "", "leftover_modules": []}
        with open(results_file, "w") as out:
            json.dump(done, out)
        return vm.VMResult(command, 0, "", "", dmesg="clean")

    monkeypatch.setattr(vm, "check_available", lambda kver: "vng")
    monkeypatch.setattr(vm, "run_in_vm", fake_run_in_vm)
    monkeypatch.setattr(conftest, "_prebuild", lambda cases, kver: None)
    got = conftest._run_batch("6.1.0-0-amd64", cases)
    assert boots == [["a", "oops", "b"], ["b"]]
    assert got["results"]["a"]["stdout"] == "a\n"
    assert got["results"]["b"]["stdout"] == "b\n"
    assert got["results"]["oops"]["crashed"]
    assert "RIP: 0010:0x0" in got["results"]["oops"]["stderr"]
    assert "RIP: 0010:0x0" in got["dmesg"]
