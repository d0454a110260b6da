#!/usr/bin/env python3
"""`make demo`: build a script on this host for the Debian kernel, then
boot that kernel in a throwaway VM and run the script there, showing its
output.  Nothing is ever loaded into this machine's own kernel."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vm  # noqa: E402


def main(script: str) -> int:
    kver = vm.find_kernel_release()
    try:
        vm.check_available(kver)
    except vm.VMUnavailable as exc:
        print(f"demo: cannot start the VM: {exc}", file=sys.stderr)
        return 1
    print(f"== building {script} for {kver} on this host", flush=True)
    built = subprocess.run(["stpc", script, "-p4", "-r", kver])
    if built.returncode != 0:
        return built.returncode
    print(f"== booting {kver} in a VM (TCG, about a minute) and running "
          f"`stpc {script} --run` there", flush=True)
    cache = os.environ.get("STPC_CACHE_DIR", "")
    command = f"stpc {shlex.quote(script)} --run"
    if cache:
        command = f"STPC_CACHE_DIR={shlex.quote(cache)} {command}"
    run = vm.run_in_vm(command, kver, rwdirs=[cache] if cache else [])
    print("== output:")
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    print(f"== exit status {run.returncode}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "examples/hello.stp"))
