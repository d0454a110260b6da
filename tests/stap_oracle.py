#!/usr/bin/env python3
"""Use the real SystemTap (Debian 12's ``systemtap`` 4.8) as an output oracle.

For every script, SystemTap builds the module on the host (``stap -p4``,
which never loads anything), then ONE throwaway VM boot (tests/vm.py) runs
every module and the tool compares what SystemTap printed with the
expected ``NAME.out`` / ``NAME.err`` / ``NAME.rc`` files of
tests/corpus/run (missing ``.err`` means empty stderr, missing ``.rc``
means 0; ``NAME.opts`` holds extra stap options such as
``-DMAXACTION=10000``, given to stap unchanged; ``NAME.args`` holds
script arguments, given after the script name).

Two ways of running are recorded in the guest for each script:

``staprun``
    ``staprun MODULE.ko`` (plus ``-c``/``-x`` from the options): exactly
    what the module and its loader print, with the loader's exit status.
``stap``
    the full driver, ``stap [OPTS] NAME.stp`` run from the script's
    directory, with ``SYSTEMTAP_DIR`` pointing at the cache the host build
    filled, so passes 3-4 are cache hits and pass 5 runs the same module.
    This adds what the driver itself prints (e.g. ``Pass 5: run failed.``).
    Passes 1-2 run in the guest, ~25-35 s per script under TCG; skip this
    with ``--no-driver``.

Scripts are copied to ``WORK/src/`` and built from there by bare file name,
so locations read ``NAME.stp:LINE:COL`` exactly as when run from
tests/corpus/run; nothing is written into the repository.

Debian's stub /boot/System.map makes stap print
``WARNING: Kernel function symbol table missing [man warning::symbols]``
on every compile; that one line is an artefact of the host and is dropped
from the driver's stderr before comparing (``--keep-symbols-warning`` keeps
it).  It is still shown in the raw output.

Reading the results
-------------------
* On a runtime error the driver adds, after the module's own two lines,
  ``WARNING: /usr/bin/staprun exited with status: 1``,
  ``Pass 5: run failed.  [man error::pass5]`` and Debian's ``Tip: ...``
  line; ``staprun`` shows the module's output without them.
* stap's optimiser elides side-effect-free code (unused assignments,
  calls to pure functions, empty loops) and warns about it; ``--opt=-u``
  turns most of that off when a script depends on such code running.
* One probe handler can emit only about 120 KB; past that stap drops the
  rest and warns ``There were N transport failures`` (``-s`` does not help).

Runtime workaround (required for Debian's 6.1.0-5x kernels)
-----------------------------------------------------------
SystemTap 4.8's runtime calls ``task_work_cancel(task, func)``; Debian's
6.1 stable updates renamed that function to ``task_work_cancel_func`` (and
``task_work_cancel`` now takes a ``struct callback_head *``), so every
module fails to compile.  The tool therefore uses a patched COPY of the
runtime (``WORK/runtime``, made on first use, passed as ``stap -R``)::

    cp -r /usr/share/systemtap/runtime WORK/runtime
    grep -rlw task_work_cancel WORK/runtime |
        xargs sed -i 's/\\btask_work_cancel\\b/task_work_cancel_func/g'

(renames both the C identifier and the kallsyms_lookup_name() string in
``stp_task_work.c``).  /usr/share/systemtap is never modified.

Usage::

    apt-get install -y systemtap systemtap-runtime
    python3 tests/stap_oracle.py                    # whole corpus
    python3 tests/stap_oracle.py tests/corpus/run/arithmetic.stp
    python3 tests/stap_oracle.py --oneliners        # the built-in one-liners
    python3 tests/stap_oracle.py -e 'probe begin { print(1); exit() }'
    python3 tests/stap_oracle.py --json results.json --no-driver ...
    python3 tests/stap_oracle.py --opt=-u tests/corpus/run/try_catch.stp

Exit status: 0 when every compared script matches (under ``staprun``, and
also under ``stap`` unless ``--no-driver``), 1 on any difference, 2 on a
tool failure.  Standard library only.  Safety: on the host stap only ever
runs with ``-p4``; modules are loaded only inside the VM.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CORPUS = TESTS / "corpus" / "run"
DEFAULT_WORK = Path("/tmp/oracle")
SYSTEM_RUNTIME = Path("/usr/share/systemtap/runtime")
SYMBOLS_WARNING = ("WARNING: Kernel function symbol table missing "
                   "[man warning::symbols]\n")

#: One-liners whose exact SystemTap output we want on record (--oneliners).
ONELINERS = [
    ("fmt_p_hash_zero",
     r'probe begin { printf("[%p][%#x][%#o][%x]\n", 0, 0, 0, 0); exit() }'),
    ("fmt_p_width",
     r'probe begin { printf("[%p][%10p][%-20p|]\n", 4096, 4096, 4096); '
     r'exit() }'),
    ("fmt_X_plus_s0",
     r'probe begin { printf("[%#X][%+5d][%-+5d|][%05s|]\n", 255, 3, 3, '
     r'"ab"); exit() }'),
    ("fmt_c_wide", r'probe begin { printf("[%c]\n", 0x263A); exit() }'),
    ("print_min_long",
     r'probe begin { print(-9223372036854775807-1); exit() }'),
    ("maxaction_begin", r'probe begin { while (1) { n++ } }'),
    ("div0_timer_then_end",
     r'global z; probe begin { println("b") } '
     r'probe timer.ms(100) { println(1/z) } '
     r'probe end { println("end runs?") }'),
    ("error_in_end_then_later_end",
     r'probe begin { exit() } probe end { println("end 0"); error("boom") } '
     r'probe end(1) { println("end 1 runs?") }'),
    ("div0_in_end_then_later_end",
     r'global z; probe begin { exit() } '
     r'probe end { println("end 0"); println(1/z) } '
     r'probe end(1) { println("end 1 runs?") }'),
    ("exit_in_begin_then_begin1",
     r'probe begin { println("begin 0"); exit(); println("after exit") } '
     r'probe begin(1) { println("begin 1 runs?") } '
     r'probe end { println("end") }'),
    ("unread_long_global", r'global g; probe begin { g = 1; exit() }'),
    ("unread_string_global",
     r'global g; probe begin { g = "str"; exit() }'),
    ("unread_globals_mixed",
     r'global b, a, s, neg; probe begin { b = 2; a = 1; '
     r's = "q\"uo\\te\nnl"; neg = -7; exit() }'),
    ("unread_global_never_set",
     r'global never; probe begin { if (0) never = 1; exit() }'),
    ("begin_end_pp",
     r'probe begin, end { printf("%s\n", pp()) } probe begin(1) { exit() }'),
]


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

def _read(path: Path):
    return path.read_text() if path.exists() else None


def corpus_case(script: Path) -> dict:
    """A script file with its expected .out/.err/.rc and .opts."""
    script = script.resolve()
    opts = shlex.split(_read(script.with_suffix(".opts")) or "")
    out = _read(script.with_suffix(".out"))
    return {
        "name": script.stem, "kind": "file", "source": str(script),
        "text": script.read_text(), "opts": opts,
        "args": shlex.split(_read(script.with_suffix(".args")) or ""),
        "expected": None if out is None else {
            "stdout": out,
            "stderr": _read(script.with_suffix(".err")) or "",
            "rc": int((_read(script.with_suffix(".rc")) or "0").strip()),
        },
    }


def eval_case(name: str, text: str, opts=()) -> dict:
    """A ``stap -e TEXT`` one-liner; nothing expected, output recorded."""
    return {"name": name, "kind": "eval", "source": "-e", "text": text,
            "opts": list(opts), "expected": None}


def _split_opts(opts: list[str]) -> tuple[list[str], list[str]]:
    """(options for the build, staprun options): -c/-x go to staprun."""
    build, run = [], []
    it = iter(opts)
    for opt in it:
        if opt in ("-c", "-x"):
            run += [opt, next(it)]
        elif opt[:2] in ("-c", "-x"):
            run += [opt[:2], opt[2:]]
        else:
            build.append(opt)
    return build, run


# --------------------------------------------------------------------------
# Host side: runtime copy and builds (stap -p4 only)
# --------------------------------------------------------------------------

def ensure_runtime(work: Path) -> Path:
    """WORK/runtime: /usr/share/systemtap/runtime with task_work_cancel
    renamed to task_work_cancel_func (see the module docstring)."""
    rt = work / "runtime"
    if (rt / ".stap_oracle_patched").exists():
        return rt
    if not SYSTEM_RUNTIME.is_dir():
        raise SystemExit("stap_oracle: /usr/share/systemtap/runtime missing: "
                         "apt-get install -y systemtap systemtap-runtime")
    shutil.rmtree(rt, ignore_errors=True)
    shutil.copytree(SYSTEM_RUNTIME, rt, symlinks=True)
    hits = subprocess.run(["grep", "-rlw", "task_work_cancel", str(rt)],
                          capture_output=True, text=True).stdout.split()
    for path in hits:
        subprocess.run(["sed", "-i",
                        r"s/\btask_work_cancel\b/task_work_cancel_func/g",
                        path], check=True)
    (rt / ".stap_oracle_patched").write_text("\n".join(hits) + "\n")
    return rt


def stap_base(runtime: Path, kver: str | None) -> list[str]:
    argv = ["stap", "-R", str(runtime)]
    return argv + (["-r", kver] if kver else [])


def build_case(case: dict, work: Path, runtime: Path, kver: str,
               env: dict) -> dict:
    """stap -p4 on the host; the module lands in the SYSTEMTAP_DIR cache
    (no -m: -m disables the cache, and the guest driver run needs it)."""
    src = work / "src"
    build_opts, _ = _split_opts(case["opts"])
    argv = stap_base(runtime, kver) + ["-p4"] + build_opts
    if case["kind"] == "file":
        (src / f"{case['name']}.stp").write_text(case["text"])
        argv.append(f"{case['name']}.stp")
        argv += case.get("args", [])
    else:
        argv += ["-e", case["text"]]
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=src, env=env, capture_output=True,
                          text=True)
    ko = proc.stdout.strip().splitlines()[-1:] if proc.returncode == 0 else []
    return {"argv": argv, "rc": proc.returncode, "stdout": proc.stdout,
            "stderr": proc.stderr, "ko": ko[0] if ko else None,
            "seconds": round(time.monotonic() - start, 1)}


# --------------------------------------------------------------------------
# Guest side (runs inside the VM: python3 stap_oracle.py --guest PLAN)
# --------------------------------------------------------------------------

def _run_guest_cmd(argv, cwd, env, timeout):
    """Run argv; on timeout send SIGINT (like ^C, so end probes run), then
    SIGKILL 30 s later.  Returns a result dict."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    return {"argv": argv, "rc": proc.returncode,
            "stdout": out.decode("utf-8", "backslashreplace"),
            "stderr": err.decode("utf-8", "backslashreplace"),
            "stdout_bytes_hex": out.hex() if len(out) < 4096 else None,
            "timed_out": timed_out,
            "seconds": round(time.monotonic() - start, 1)}


def _stap_modules():
    try:
        with open("/proc/modules") as f:
            return [ln.split()[0] for ln in f if ln.startswith("stap_")]
    except OSError:
        return []


def guest_main(plan_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    env = dict(os.environ, SYSTEMTAP_DIR=plan["systemtap_dir"])
    results = {}
    out_path = Path(plan["results"])
    for case in plan["cases"]:
        res = {}
        if case.get("ko"):
            _, run_opts = _split_opts(case["opts"])
            res["staprun"] = _run_guest_cmd(
                ["staprun"] + run_opts + [case["ko"]], plan["src"], env,
                plan["timeout"])
            res["staprun"]["leftover_modules"] = _stap_modules()
        if plan["driver"]:
            argv = ["stap", "-R", plan["runtime"]] + \
                (["-r", plan["kver"]] if plan["guest_r"] else []) + \
                case["opts"]
            argv += ([f"{case['name']}.stp"] + case.get("args", [])
                     if case["kind"] == "file" else ["-e", case["text"]])
            res["stap"] = _run_guest_cmd(argv, plan["src"], env,
                                         plan["timeout"] + 120)
            res["stap"]["leftover_modules"] = _stap_modules()
        results[case["name"]] = res
        out_path.write_text(json.dumps(results, indent=1))   # progress
    try:
        dmesg = subprocess.run(["dmesg"], capture_output=True,
                               text=True).stdout
    except OSError:
        dmesg = ""
    Path(plan["dmesg"]).write_text(dmesg)
    return 0


# --------------------------------------------------------------------------
# Comparison and report
# --------------------------------------------------------------------------

def _normalise_driver_stderr(text: str, keep_warning: bool) -> str:
    if keep_warning:
        return text
    return text.replace(SYMBOLS_WARNING, "", 1)


def _diff_text(label: str, expected: str, actual: str) -> list[str]:
    """Short texts: both reprs.  Long ones: a unified diff of repr'd lines."""
    if len(expected) + len(actual) <= 400:
        return [f"  {label}: expected {expected!r}",
                f"  {label}: stap     {actual!r}"]
    a = [repr(x) for x in expected.splitlines(keepends=True)]
    b = [repr(x) for x in actual.splitlines(keepends=True)]
    diff = list(difflib.unified_diff(a, b, "expected", "stap", lineterm="",
                                     n=2))
    more = len(diff) - 60
    diff = diff[:60] + ([f"... {more} more diff lines"] if more > 0 else [])
    return [f"  {label} differs ({len(expected)} vs {len(actual)} chars):"] \
        + ["    " + d for d in diff]


def compare(expected: dict, got: dict, stderr: str) -> list[str]:
    lines = []
    if got["stdout"] != expected["stdout"]:
        lines += _diff_text("stdout", expected["stdout"], got["stdout"])
    if stderr != expected["stderr"]:
        lines += _diff_text("stderr", expected["stderr"], stderr)
    if got["rc"] != expected["rc"]:
        lines.append(f"  rc: expected {expected['rc']}, stap {got['rc']}")
    return lines


def _raw(label: str, got: dict) -> list[str]:
    lines = [f"  [{label}] rc={got['rc']}"
             + (" TIMED OUT (SIGINT sent)" if got.get("timed_out") else "")
             + f" ({got.get('seconds')} s)"]
    for stream in ("stdout", "stderr"):
        text = got[stream]
        if len(text) > 2000:
            text = (text[:1000] + f"...<{len(got[stream])} chars>..."
                    + text[-500:])
        lines.append(f"  [{label}] {stream}: {text!r}")
    if got.get("leftover_modules"):
        lines.append(f"  [{label}] LEFTOVER MODULES: "
                     f"{got['leftover_modules']}")
    return lines


def report(cases, builds, results, args) -> tuple[str, bool]:
    out, all_match = [], True
    counts = {"MATCH": 0, "DIFF": 0, "BUILD": 0}
    for case in cases:
        name, exp = case["name"], case["expected"]
        build = builds[name]
        res = results.get(name, {})
        title = (f"{name}" if case["kind"] == "file"
                 else f"{name}: stap -e {case['text']!r}")
        if case["opts"]:
            title += f"  (opts {shlex.join(case['opts'])})"
        out.append(f"=== {title}")
        if build["rc"] != 0:
            # Compile failure: what stap prints is the build's output.
            got = {"stdout": "", "stderr": build["stderr"], "rc": 1,
                   "seconds": build["seconds"]}
            out.append("  build (stap -p4) FAILED")
            counts["BUILD"] += 1
            err = _normalise_driver_stderr(build["stderr"], args.keep_symbols_warning)
            if exp is not None:
                diff = compare(exp, got, err)
                all_match &= not diff
                out += diff or ["  compile-time result MATCH"]
            out += _raw("stap -p4", got)
            continue
        modes = [("staprun", False), ("stap", True)]
        for mode, is_driver in modes:
            got = res.get(mode)
            if got is None:
                if mode == "stap" and not args.driver:
                    continue
                out.append(f"  [{mode}] DID NOT RUN (guest failure?)")
                all_match = False
                continue
            err = got["stderr"]
            if is_driver:
                err = _normalise_driver_stderr(err, args.keep_symbols_warning)
            diff = []
            if exp is not None:
                diff = compare(exp, got, err)
                if got.get("timed_out"):
                    diff.append("  (run timed out)")
                all_match &= not diff
                counts["MATCH" if not diff else "DIFF"] += 1
                out.append(f"  [{mode}] " + ("MATCH" if not diff else "DIFF"))
                out += diff
            if exp is None or diff or args.verbose:
                out += _raw(mode, got)
    out.append(f"=== summary: {counts['MATCH']} runs match, "
               f"{counts['DIFF']} differ, {counts['BUILD']} build failures")
    return "\n".join(out) + "\n", all_match


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def _parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Run scripts through the real SystemTap (build on the "
                    "host with -p4, run in one VM boot) and diff the output "
                    "against NAME.out/.err/.rc.")
    ap.add_argument("scripts", nargs="*", type=Path,
                    help="scripts (default: tests/corpus/run/*.stp)")
    ap.add_argument("-e", dest="evals", action="append", default=[],
                    metavar="SCRIPT", help="also run this one-liner "
                    "(output recorded, nothing compared)")
    ap.add_argument("--oneliners", action="store_true",
                    help="run the built-in one-liners (no corpus unless "
                    "scripts are also given or --corpus)")
    ap.add_argument("--corpus", action="store_true",
                    help="include the whole corpus (default when no "
                    "scripts, -e or --oneliners are given)")
    ap.add_argument("--opt", action="append", default=[], metavar="OPT",
                    help="extra stap option for every script, e.g. --opt=-u "
                    "(repeatable)")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK,
                    help="scratch dir (default /tmp/oracle)")
    ap.add_argument("--kver", help="kernel release (default: tests/vm.py's)")
    ap.add_argument("--no-driver", dest="driver", action="store_false",
                    help="only staprun in the guest, not the full stap "
                    "driver (saves ~30 s per script)")
    ap.add_argument("--guest-r", action="store_true",
                    help="pass -r KVER to the guest stap too")
    ap.add_argument("--keep-symbols-warning", action="store_true")
    ap.add_argument("--timeout", type=int, default=60,
                    help="per-run timeout in the guest before SIGINT")
    ap.add_argument("--jobs", type=int, default=2, help="host build jobs")
    ap.add_argument("--json", type=Path, help="also write all raw results")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show raw output for matching scripts too")
    ap.add_argument("--guest", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if args.guest:
        return guest_main(args.guest)
    if shutil.which("stap") is None:
        print("stap_oracle: stap not found: apt-get install -y systemtap "
              "systemtap-runtime", file=sys.stderr)
        return 2
    sys.path.insert(0, str(TESTS))
    import vm
    kver = args.kver or vm.find_kernel_release()
    if not kver:
        print("stap_oracle: no kernel to boot", file=sys.stderr)
        return 2

    cases = [corpus_case(p) for p in args.scripts]
    if args.corpus or not (args.scripts or args.evals or args.oneliners):
        cases += [corpus_case(p) for p in sorted(CORPUS.glob("*.stp"))]
    if args.oneliners:
        cases += [eval_case(n, t) for n, t in ONELINERS]
    cases += [eval_case(f"e{i}", t) for i, t in enumerate(args.evals, 1)]
    for case in cases:
        case["opts"] = case["opts"] + args.opt
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        print("stap_oracle: duplicate script names", file=sys.stderr)
        return 2

    work = args.work.resolve()
    for sub in ("src", "stapdir", "run"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    runtime = ensure_runtime(work)
    env = dict(os.environ, SYSTEMTAP_DIR=str(work / "stapdir"))

    print(f"stap_oracle: building {len(cases)} scripts with "
          f"{shutil.which('stap')} -p4 -r {kver} ...", file=sys.stderr)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        built = list(pool.map(
            lambda c: build_case(c, work, runtime, kver, env), cases))
    builds = {c["name"]: b for c, b in zip(cases, built)}
    print(f"stap_oracle: built in {time.monotonic() - t0:.0f} s; "
          f"{sum(b['rc'] != 0 for b in built)} failed", file=sys.stderr)

    run_dir = work / "run"
    results_path = run_dir / "results.json"
    results_path.unlink(missing_ok=True)
    plan = {
        "cases": [dict(c, ko=builds[c["name"]]["ko"]) for c in cases
                  if builds[c["name"]]["rc"] == 0],
        "src": str(work / "src"), "runtime": str(runtime), "kver": kver,
        "systemtap_dir": str(work / "stapdir"), "driver": args.driver,
        "guest_r": args.guest_r, "timeout": args.timeout,
        "results": str(results_path), "dmesg": str(run_dir / "dmesg"),
    }
    plan_path = run_dir / "plan.json"
    plan_path.write_text(json.dumps(plan, indent=1))
    results = {}
    if plan["cases"]:
        per = args.timeout + (args.timeout + 180 if args.driver else 0)
        print(f"stap_oracle: running {len(plan['cases'])} modules in one VM "
              f"boot ...", file=sys.stderr)
        cmd = shlex.join([sys.executable, str(Path(__file__).resolve()),
                          "--guest", str(plan_path)])
        t0 = time.monotonic()
        try:
            res = vm.run_in_vm(cmd, kver, rwdirs=[str(work)],
                               timeout=300 + per * len(plan["cases"]))
            if res.returncode != 0:
                print(f"stap_oracle: guest runner exited {res.returncode}:"
                      f"\n{res.stdout}{res.stderr}", file=sys.stderr)
        except Exception as exc:  # VMError, timeout: report what we have
            print(f"stap_oracle: VM failed: {exc}", file=sys.stderr)
        print(f"stap_oracle: VM done in {time.monotonic() - t0:.0f} s",
              file=sys.stderr)
        if results_path.exists():
            results = json.loads(results_path.read_text())
        dmesg = _read(run_dir / "dmesg") or ""
        bad = [ln for ln in dmesg.splitlines()
               if any(w in ln for w in ("BUG", "Oops", "WARNING", "RIP:"))]
        if bad:
            print("stap_oracle: guest kernel complaints:\n  "
                  + "\n  ".join(bad), file=sys.stderr)

    text, ok = report(cases, builds, results, args)
    sys.stdout.write(text)
    if args.json:
        args.json.write_text(json.dumps(
            {"cases": cases, "builds": builds, "results": results},
            indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
