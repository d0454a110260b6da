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

    def fake_run_in_vm(command, kver, rwdirs, timeout, append, console,
                        watchdog):
        cases_file, results_file = command.split()[-2:]
        ids = [c["id"] for c in json.loads(open(cases_file).read())]
        boots.append(ids)
        done = {}
        for case_id in ids:
            if case_id == "oops":
                with open(results_file, "w") as out:
                    json.dump(done, out)
                console.write_text("RIP: 0010:0x0\n")
                raise vm.VMError("guest died", console="RIP: 0010:0x0")
            done[case_id] = {"rc": 0, "stdout": case_id + "\n",
                             "stderr": "", "leftover_modules": [],
                             "seconds": 0.1}
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


def test_a_hung_case_is_stopped_with_what_it_started(monkeypatch):
    """A case past its limit is killed with its children, even one that
    holds its output open, and its result tells where they were (the
    batch runner runs here on the host: nothing in it loads anything)."""
    import vm_batch

    monkeypatch.setattr(vm_batch, "log_blocked_tasks", lambda: None)
    monkeypatch.setattr(vm_batch, "stpc_modules", lambda: [])
    result = vm_batch.run_case({
        "shell": "echo started; sleep 300 & wait", "cwd": "/",
        "timeout": 1, "env": {}})
    assert result["rc"] is None
    assert result["stdout"] == "started\n"
    assert result["stderr"].startswith("timeout after 1 s; its processes:\n")
    assert "sleep 300" in result["stderr"]
    assert result["seconds"] < 30


def test_the_watchdog_gives_up_on_a_case_past_its_limit(tmp_path,
                                                         monkeypatch):
    """A guest whose case has not ended long after its limit (a kernel
    hang: the batch runner itself would have stopped the case) is given
    up on; the cases that did end are reported as they come."""
    import json
    import conftest

    clock = [1000.0]
    monkeypatch.setattr(conftest.time, "monotonic", lambda: clock[0])
    reported = []
    monkeypatch.setattr(conftest, "_report", reported.append)
    watch = conftest.BatchWatch(tmp_path, "6.1.0-0-amd64", 2)
    assert watch() is None
    (tmp_path / "results.json").write_text(json.dumps(
        {"a": {"rc": 0, "seconds": 1.5}}))
    (tmp_path / "current.json").write_text(json.dumps(
        {"id": "b", "timeout": 60}))
    assert watch() is None
    assert reported == ["[VM 6.1.0-0-amd64 1/2] a: status 0, 1.5 s"]
    clock[0] += 60 + conftest.BatchWatch.GRACE
    assert watch() is None
    clock[0] += 1
    assert watch() == "case b went on 120 s past its limit of 60 s"
    assert reported == ["[VM 6.1.0-0-amd64 1/2] a: status 0, 1.5 s"]


def test_the_watchdog_gives_up_on_a_guest_that_starts_nothing(tmp_path,
                                                              monkeypatch):
    import conftest

    clock = [0.0]
    monkeypatch.setattr(conftest.time, "monotonic", lambda: clock[0])
    watch = conftest.BatchWatch(tmp_path, "6.1.0-0-amd64", 1)
    clock[0] += conftest.BatchWatch.BOOT_LIMIT + 1
    assert watch() == "no case started within 600 s"


def test_run_in_vm_stops_a_guest_its_watchdog_gives_up_on(tmp_path,
                                                           monkeypatch):
    """The watchdog's reason ends the run as a VMError with the console
    written so far (the "guest" here is a host shell printing a line)."""
    argv = ["/bin/sh", "-c", "echo booted; exec sleep 300"]
    calls = []

    def watchdog():
        calls.append(1)
        return "stuck" if len(calls) >= 2 else None

    monkeypatch.setattr(vm, "WATCHDOG_PERIOD", 0.05)
    with pytest.raises(vm.VMError) as exc:
        vm._run_vng(argv, 60, tmp_path / "console.log", watchdog)
    assert str(exc.value).startswith("the guest was stopped: stuck;")
    assert exc.value.console == "booted\n"
