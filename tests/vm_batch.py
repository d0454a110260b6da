#!/usr/bin/env python3
"""Runs a batch of test commands inside the VM (standard library only).

The host writes a JSON list of cases; this runs each one as a shell command
in its directory, records its stdout, stderr and exit status, and notes any
stpc module still loaded afterwards (every run must remove its module).
Results go to a JSON file in a directory the host shares read-write.
"""

import json
import os
import subprocess
import sys
import time


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
    try:
        proc = subprocess.run(["/bin/sh", "-c", case["shell"]],
                              cwd=case["cwd"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=case["timeout"],
                              env=dict(os.environ, **case["env"]))
        result = {"rc": proc.returncode,
                  "stdout": proc.stdout.decode("utf-8", "replace"),
                  "stderr": proc.stderr.decode("utf-8", "replace")}
    except subprocess.TimeoutExpired as exc:
        result = {"rc": None, "stdout": (exc.stdout or b"").decode(
            "utf-8", "replace"), "stderr": "timeout"}
    result["seconds"] = round(time.monotonic() - start, 2)
    result["leftover_modules"] = stpc_modules()
    for name in result["leftover_modules"]:
        subprocess.run(["rmmod", name], check=False)
    return result


def main(cases_path, results_path):
    with open(cases_path) as f:
        cases = json.load(f)
    results = {}
    for case in cases:
        results[case["id"]] = run_case(case)
        with open(results_path + ".tmp", "w") as f:
            json.dump(results, f)
        os.replace(results_path + ".tmp", results_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
