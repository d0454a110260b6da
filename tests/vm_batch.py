#!/usr/bin/env python3
"""Runs a batch of test commands inside the VM (standard library only).

The host writes a JSON list of cases; this runs each one as a shell command
in its directory, records its stdout, stderr and exit status, and notes any
stpc module still loaded afterwards (every run must remove its module).
Results go to a JSON file in a directory the host shares read-write;
before each case starts, its id and time limit go to ``current.json``
beside it, which the host's watchdog reads (tests/conftest.py).

A case that outlives its time limit is stopped with everything it started
(each case runs in a session of its own: killing only its shell would
leave a child holding the output files open and the batch waiting), and
its result records where each of its processes was stuck in the kernel.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

#: seconds a timed-out case's processes get to die after SIGKILL
_REAP_SECONDS = 30


def stpc_modules():
    names = []
    with open("/proc/modules") as modules:
        for line in modules:
            name = line.split()[0]
            if os.path.exists(f"/sys/module/{name}/parameters/stpc_protocol"):
                names.append(name)
    return names


def run_case(case):
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(["/bin/sh", "-c", case["shell"]],
                                cwd=case["cwd"], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err,
                                start_new_session=True,
                                env=dict(os.environ, **case["env"]))
        try:
            rc = proc.wait(timeout=case["timeout"])
            stuck = ""
        except subprocess.TimeoutExpired:
            rc = None
            stuck = stop_session(proc)
        result = {"rc": rc, "stdout": read_back(out),
                  "stderr": read_back(err) if rc is not None else
                  f"timeout after {case['timeout']} s; its processes:\n"
                  f"{stuck}stderr so far:\n{read_back(err)}"}
    result["seconds"] = round(time.monotonic() - start, 2)
    result["leftover_modules"] = stpc_modules()
    for name in result["leftover_modules"]:
        subprocess.run(["rmmod", name], check=False)
    return result


def read_back(file) -> str:
    file.seek(0)
    return file.read().decode("utf-8", "replace")


def stop_session(proc) -> str:
    """Kills the timed-out case's whole session; says where each of its
    processes was before (their kernel stacks, and every blocked task in
    the kernel log)."""
    stuck = describe_session(proc.pid)
    log_blocked_tasks()
    os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=_REAP_SECONDS)
    except subprocess.TimeoutExpired:
        stuck += "the session did not die within " \
            f"{_REAP_SECONDS} s of SIGKILL\n"
    return stuck


def log_blocked_tasks() -> None:
    """Every task blocked in the kernel, with its stack, to the kernel
    log (which the host keeps)."""
    try:
        with open("/proc/sysrq-trigger", "w") as sysrq:
            sysrq.write("w")
    except OSError:
        pass


def describe_session(sid: int) -> str:
    lines = []
    for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            if os.getsid(pid) != sid:
                continue
            cmdline = read_proc(pid, "cmdline").replace("\0", " ").strip()
            stack = read_proc(pid, "stack").strip().replace("\n", " | ")
            lines.append(f"  {pid} {cmdline}: {stack or '(no stack)'}\n")
        except OSError:
            continue
    return "".join(lines)


def read_proc(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/{name}", errors="replace") as f:
        return f.read()


def write_json(path, value):
    with open(path + ".tmp", "w") as f:
        json.dump(value, f)
    os.replace(path + ".tmp", path)


def main(cases_path, results_path):
    with open(cases_path) as f:
        cases = json.load(f)
    current_path = os.path.join(os.path.dirname(results_path),
                                "current.json")
    results = {}
    for case in cases:
        write_json(current_path, {"id": case["id"],
                                  "timeout": case["timeout"]})
        results[case["id"]] = run_case(case)
        write_json(results_path, results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
