#!/usr/bin/env python3
"""What a probe adds to every call of the function it probes: stpc against
a bare kprobe, a bare ftrace_ops, SystemTap 4.8 and bpftrace, side by side
in one VM boot.

    python3 bench/overhead.py [-r KVER] [--rounds N] [--calls N]
                              [--no-stap] [--no-bpftrace] [--baseline REV]
                              [--phases]

bench/modules/ is built on the host with kbuild (with DWARF): the target
module stpc_bench_target, where writing N to /proc/stpc_bench calls the
noinline stpc_bench_hit(item, value) N times and times the loop in the
kernel, a kprobe module with an empty pre-handler and an ftrace_ops
module with an empty callback (each counts its hits), both on
stpc_bench_hit.  stpc's scripts (and SystemTap's, `stap -p4` with the
patched runtime copy of tests/stap_oracle.py) are compiled on the host.
Nothing is loaded on the host: ONE VM boot (tests/vm.py, TCG) loads the
target, then runs the rounds; each round runs every variant once, in an
order rotated from round to round, each loading its probe, making the
calls, and unloading it.  Every variant must report as many hits as
calls made (the proof that its probe fired), or the run fails.
With --baseline REV, stpc's scripts are also compiled by the stpc of git
revision REV (its tree from `git archive`, run on this venv's
libraries) and run as variants of their own in the same boot, so that
a change is measured before and after side by side.  With --phases,
the args probe is also run built up one piece at a time (a member read,
a kernel_string, an array of statistics with a number key, then a
string key), and what each piece adds is printed: its profile.

Prints Markdown for docs/performance.md: the median ns per call (and the
range over the rounds), the cost the probe adds over no probe, that added
cost as a multiple of the bare kprobe's, and stpc's added cost divided
by the others'.  Under TCG every figure is slower and noisier than on
hardware: compare ratios within one run, not times across runs.
"""

from __future__ import annotations

import io
import re
import shlex
import shutil
import statistics
import sys
import sysconfig
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from guestbench import (ROOT, argument_parser, check_prerequisites,
                        round_lines, rounds_of_calls, run_guest, run_host,
                        scratch_dir)
from stap_oracle import ensure_runtime  # tests/, which guestbench puts on
                                        # sys.path

MODULES = ROOT / "bench" / "modules"
BENCH = "overhead"

TARGET = "stpc_bench_target"
POINT = 'module("%s").function("stpc_bench_hit")'

COUNT = """global n
probe %s { n++ }
probe end { printf("%%d\\n", n) }
"""
# The args probe, and (--phases) the same built up one piece at a time,
# each variant adding one piece to one before it (PHASE_STEPS), so that
# the step between their added costs is what that piece costs: a
# profile of the args probe measured the way the probe itself is.  Each
# adds $item->size to bytes; those with keys count the hits in `calls`,
# printed a row per key (read back by _keyed_hits).
ARGS_SCRIPT = """global %(globals)s
probe %%s {
	%(body)s
}
probe end {
	%(report)sprintf("%%%%d\\n", bytes)
}
"""


def args_script(body: str, keys: tuple[tuple[str, str], ...]) -> str:
    """The script of BODY; KEYS are the (name, printf format) of the keys
    of `calls`, or () where the script has no array."""
    if not keys:
        return ARGS_SCRIPT % {"globals": "bytes", "body": body, "report": ""}
    names = ", ".join(name for name, _ in keys)
    formats = " ".join(fmt for _, fmt in keys).replace("%", "%%")
    report = (f"foreach ([{names}] in calls)\n\t\tprintf(\"{formats} "
              f"%%d\\n\", {names}, @count(calls[{names}]))\n\t")
    return ARGS_SCRIPT % {"globals": "calls, bytes", "body": body,
                          "report": report}


ARGS = args_script("calls[kernel_string($item->owner->name), $item->kind] "
                   "<<< $value\n\tbytes += $item->size",
                   (("n", "%s"), ("k", "%d")))
# (key, label, body, the keys of `calls`)
PHASES = [
    ("reads", "`bytes += $item->size`", "bytes += $item->size", ()),
    ("string", "the same if `kernel_string($item->owner->name) != \"\"`",
     'if (kernel_string($item->owner->name) != "") bytes += $item->size',
     ()),
    ("numkey", "`calls[$item->kind] <<< $value` and `bytes`",
     "calls[$item->kind] <<< $value; bytes += $item->size", (("k", "%d"),)),
    ("strkey", "`calls[kernel_string($item->owner->name)] <<< $value` and "
     "`bytes`", "calls[kernel_string($item->owner->name)] <<< $value; "
     "bytes += $item->size", (("n", "%s"),)),
]
# (from, to, the piece the step adds)
PHASE_STEPS = [
    ("stpc_count", "stpc_phase_reads", "a member read and a per-CPU add "
     "instead of `n++`"),
    ("stpc_phase_reads", "stpc_phase_string", "`kernel_string` of a "
     "two-pointer chain, and a test"),
    ("stpc_phase_reads", "stpc_phase_numkey", "a 1-key (number) array of "
     "statistics"),
    ("stpc_phase_numkey", "stpc_phase_strkey", "its key a `kernel_string` "
     "instead of a member"),
    ("stpc_phase_strkey", "stpc_args", "a second (number) key"),
]
# the same counter on the ftrace_ops that saves every register: a
# handler that may take a backtrace needs them (compiler/entryregs.py;
# the dead branch costs one action)
COUNT_REGS = """global n
probe %s { n++; if (0) print_backtrace() }
probe end { printf("%%d\\n", n) }
"""
HIST = """global values
probe %s { values <<< $value }
probe end { print(@hist_log(values)); printf("%%d\\n", @count(values)) }
"""
BPF_COUNT = "kprobe:stpc_bench_hit { @n = count(); }\n"
BPF_HIST = "kprobe:stpc_bench_hit { @h = hist(arg1); }\n"


@dataclass
class Variant:
    key: str
    label: str
    run: str        # guest shell; {round} makes the calls
    hits: Callable[[str, int], Optional[int]]  # (stdout, calls) -> hits


def _last_int(out: str, calls: int) -> Optional[int]:
    words = out.split()
    return int(words[-1]) if words and words[-1].isdigit() else None


def _keyed_hits(nkeys: int) -> Callable[[str, int], Optional[int]]:
    """The reader of a script that adds `$item->size` to bytes on every
    hit and, with NKEYS keys, counts the hits in an array of statistics
    printed a row per key (the keys, then @count): the hits the rows
    count (every call, without keys), if the bytes total is right too
    (item k has size 10 + k % 4)."""
    def hits(out: str, calls: int) -> Optional[int]:
        if _last_int(out, calls) != sum(10 + k % 4 for k in range(calls)):
            return None
        if not nkeys:
            return calls
        rows = [line.split() for line in out.split("\n")]
        return sum(int(row[-1]) for row in rows if len(row) == nkeys + 1)
    return hits


_args_hits = _keyed_hits(2)


def _bpf_count_hits(out: str, calls: int) -> Optional[int]:
    found = re.search(r"^@n: (\d+)$", out, re.M)
    return int(found.group(1)) if found else None


def _bpf_hist_hits(out: str, calls: int) -> Optional[int]:
    buckets = re.findall(r"^[\[(][^\n]*?\s(\d+)\s+\|", out, re.M)
    return sum(int(b) for b in buckets) if buckets else None


def _bare(name: str, params: str = "") -> str:
    """Loads bench/modules' NAME, makes the calls, prints its hits."""
    return (f"insmod {name}.ko {params} && {{{{ {{round}}; "
            f"cat /sys/module/{name}/parameters/hits; rmmod {name}; }}}}")


# (variant, tool it needs beyond stpc, label, guest shell, hits' reader)
VARIANTS = [
    ("none", "", "no probe", "{round}", lambda out, calls: calls),
    ("kprobe", "", "bare kprobe (empty pre-handler)",
     _bare("stpc_bench_kprobe"), _last_int),
    ("ftrace", "", "bare ftrace_ops (empty callback)",
     _bare("stpc_bench_ftrace", "ip=0x$IP"), _last_int),
    ("stpc_count", "", "stpc `n++`",
     "stpc stpc_count.ko --run -c '{round}'", _last_int),
    ("stpc_count_no_overload", "", "stpc `n++`, `-D STP_NO_OVERLOAD`",
     "stpc stpc_count_no_overload.ko --run -c '{round}'", _last_int),
    ("stpc_count_regs", "", "stpc `n++`, registers saved",
     "stpc stpc_count_regs.ko --run -c '{round}'", _last_int),
    ("stpc_args", "", "stpc args + 2-key `<<<`",
     "stpc stpc_args.ko --run -c '{round}'", _args_hits),
    ("stpc_hist", "", "stpc `<<<` + `@hist_log`",
     "stpc stpc_hist.ko --run -c '{round}'", _last_int),
    ("stap_count", "stap", "SystemTap `n++`",
     "staprun -c '{round}' stap_count.ko", _last_int),
    ("stap_args", "stap", "SystemTap args + 2-key `<<<`",
     "staprun -c '{round}' stap_args.ko", _args_hits),
    ("bpf_count", "bpftrace", "bpftrace `count()`",
     "bpftrace -c '{round}' bpf_count.bt", _bpf_count_hits),
    ("bpf_hist", "bpftrace", "bpftrace `hist()`",
     "bpftrace -c '{round}' bpf_hist.bt", _bpf_hist_hits),
]


# the stpc variants also built by the stpc of --baseline REV
BASELINE = ("stpc_count", "stpc_count_no_overload", "stpc_args", "stpc_hist",
            *(f"stpc_phase_{key}" for key, *_ in PHASES))


def variants(stap: bool, bpftrace: bool, baseline: Optional[str],
             phases: bool = False) -> list[Variant]:
    tools = {"": True, "stap": stap, "bpftrace": bpftrace}
    found = [Variant(key, label, run, hits)
             for key, tool, label, run, hits in VARIANTS if tools[tool]]
    if phases:
        found += [Variant(f"stpc_phase_{key}", f"stpc {label}",
                          f"stpc stpc_phase_{key}.ko --run -c '{{round}}'",
                          _keyed_hits(len(keys)))
                  for key, label, _, keys in PHASES]
    if baseline:
        found += [Variant(f"{v.key}_base", f"{v.label} at {baseline}",
                          v.run.replace(f"{v.key}.ko", f"{v.key}_base.ko"),
                          v.hits)
                  for v in found if v.key in BASELINE]
    return found


def baseline_stpc(work: Path, rev: str) -> list[str]:
    """The command that runs the stpc of git revision REV: its tree from
    git archive, imported on this venv's libraries (-S: without the
    venv's own, editable, stpc)."""
    tree = work / "baseline"
    archive = run_host(BENCH, ["git", "-C", str(ROOT), "archive", rev],
                       work, f"git archive {rev}", text=False).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree)
    package = tree / "import" / "stpc"
    package.mkdir(parents=True)
    for part in ("compiler", "loader", "runtime_c", "tapset"):
        (package / part).symlink_to(tree / part)
    path = f"{tree / 'import'}:{sysconfig.get_paths()['purelib']}"
    return ["env", f"PYTHONPATH={path}", sys.executable, "-S", "-c",
            "import sys; from stpc.compiler.cli import main; "
            "sys.exit(main())"]


# (stpc's variant, the other, the target for stpc's added cost / the other's)
COMPARISONS = [
    ("stpc_count", "kprobe", "<= 1.0"),
    ("stpc_args", "kprobe", "<= 1.5"),
    ("stpc_count", "ftrace", ""),
    # what overload protection's two get_cycles() per hit cost
    ("stpc_count", "stpc_count_no_overload", ""),
    # what saving the registers (FTRACE_OPS_FL_SAVE_REGS) costs
    ("stpc_count", "stpc_count_regs", ""),
    # before and after, with --baseline
    ("stpc_count", "stpc_count_base", ""),
    ("stpc_args", "stpc_args_base", ""),
    ("stpc_hist", "stpc_hist_base", ""),
    ("stpc_count", "stap_count", ""),
    ("stpc_args", "stap_args", "<= 0.3"),
    ("stpc_count", "bpf_count", "<= 0.33"),
    ("stpc_hist", "bpf_hist", "<= 0.33"),
]


def build(work: Path, kver: str, stap: bool, bpftrace: bool,
          baseline: Optional[str], phases: bool = False) -> None:
    """Every module on the host, into WORK."""
    for source in MODULES.iterdir():
        shutil.copy(source, work)
    run_host(BENCH, ["make", "-C", f"/lib/modules/{kver}/build",
                     f"M={work}", "modules"], work, "building bench/modules")
    scripts = {"count": COUNT, "count_regs": COUNT_REGS, "args": ARGS,
               "hist": HIST}
    stpc_builds = {**{name: (name, []) for name in scripts},
                   "count_no_overload": ("count", ["-D", "STP_NO_OVERLOAD"])}
    if phases:
        for key, _, body, keys in PHASES:
            scripts[f"phase_{key}"] = args_script(body, keys)
            stpc_builds[f"phase_{key}"] = (f"phase_{key}", [])
    compilers = [(["stpc"], "")]
    if baseline:
        compilers.append((baseline_stpc(work, baseline), "_base"))
    for name, (script, defines) in stpc_builds.items():
        (work / f"stpc_{name}.stp").write_text(
            scripts[script] % (POINT % TARGET))
        for stpc, suffix in compilers:
            if suffix and f"stpc_{name}" not in BASELINE:
                continue
            run_host(BENCH, [*stpc, f"stpc_{name}.stp", "--emit-ko", "-m",
                             f"stpc_{name}{suffix}", "-r", kver,
                             "--debuginfo-path", str(work), *defines], work,
                     f"stpc{suffix} on the {name} script")
    if stap:
        runtime = ensure_runtime(work)
        for name in ("count", "args"):
            # by path: stap reads the DWARF of this very file
            text = scripts[name] % (POINT % (work / f"{TARGET}.ko"))
            (work / f"stap_{name}.stp").write_text(text)
            # STP_NO_OVERLOAD: under TCG its handlers take more than the
            # half of the CPU time past which SystemTap ends the run
            run_host(BENCH, ["stap", "-R", str(runtime), "-r", kver, "-p4",
                             "-m", f"stap_{name}", "-DSTP_NO_OVERLOAD",
                             f"stap_{name}.stp"],
                     work, f"SystemTap on the {name} script")
    if bpftrace:
        (work / "bpf_count.bt").write_text(BPF_COUNT)
        (work / "bpf_hist.bt").write_text(BPF_HIST)


def guest_script(work: Path, found: list[Variant], rounds: int,
                 calls: int) -> list[str]:
    """Loads the target once, then runs every round."""
    q = shlex.quote
    (work / "round.sh").write_text(
        f"echo {calls} > /proc/stpc_bench && cat /proc/stpc_bench > \"$1\"\n")
    lines = [f"cd {q(str(work))}", "mkdir -p res",
             f"insmod {TARGET}.ko || exit 1",
             # untimed: TCG translates the loop's code on its first run
             f"echo {calls} > /proc/stpc_bench",
             "IP=$(awk '$3 == \"stpc_bench_hit\" { print $1 }' "
             "/proc/kallsyms)"]
    # bpftrace -c wants a path: `sh` is both /bin/sh and /usr/bin/sh
    lines += round_lines(found, rounds,
                         lambda tag: f"/bin/sh round.sh {tag}.ns")
    lines.append(f"rmmod {TARGET}")
    return lines


@dataclass
class Rounds:
    ns_per_call: list[float]
    problems: list[str]


def read_results(work: Path, found: list[Variant], rounds: int,
                 calls: int) -> dict[str, Rounds]:
    results = {}
    for variant in found:
        times, problems = [], []
        for r in range(rounds):
            tag = work / "res" / f"{variant.key}.{r}"
            ns_file = Path(f"{tag}.ns")
            out = Path(f"{tag}.out").read_text() \
                if Path(f"{tag}.out").exists() else ""
            if not ns_file.exists():
                err = Path(f"{tag}.err")
                problems.append(f"round {r}: no calls made; stderr: "
                                f"{err.read_text().strip() if err.exists() else '?'}")
                continue
            made, ns = (int(word) for word in ns_file.read_text().split())
            hits = variant.hits(out, made)
            if made != calls or hits != calls:
                err = Path(f"{tag}.err")
                said = err.read_text().strip()[-300:] if err.exists() else ""
                problems.append(f"round {r}: {made} calls, {hits} hits "
                                f"counted; stdout: {out.strip()[-200:]!r}, "
                                f"stderr: {said!r}")
                continue
            times.append(ns / made)
        results[variant.key] = Rounds(times, problems)
    return results


def _median(rounds: Rounds) -> Optional[float]:
    return statistics.median(rounds.ns_per_call) if rounds.ns_per_call \
        else None


def report(results: dict[str, Rounds], found: list[Variant],
           kver: str, rounds: int, calls: int) -> None:
    print(f"stpc_bench_hit() called {calls} times per round from a "
          f"/proc write, timed in the kernel; kernel {kver}, one VM boot "
          f"(TCG); median of {rounds} rounds, variants rotated from round "
          "to round. \"added\" is ns/call minus no probe's; \"x kprobe\" "
          "is added cost / the bare kprobe's added cost.\n")
    print_tables(results, found, "kprobe", "x kprobe", COMPARISONS)
    if any(key.startswith("stpc_phase_") for key in results):
        print_phase_steps(results)


def print_phase_steps(results: dict[str, Rounds]) -> None:
    """What each piece of the args probe adds: the step between the
    medians of two variants that differ by that piece."""
    medians = {key: _median(r) for key, r in results.items()}
    print("\n| the args probe, piece by piece | ns added per call |\n"
          "|---|---|")
    for before, after, piece in PHASE_STEPS:
        if medians.get(before) is not None and \
                medians.get(after) is not None:
            print(f"| {piece} | {medians[after] - medians[before]:.0f} |")


def print_tables(results: dict[str, Rounds], found: list[Variant],
                 bare_key: str, ratio_title: str, comparisons) -> None:
    """Each variant's ns/call and its added cost against ``bare_key``'s;
    then each (ours, other, target) of ``comparisons`` as a ratio."""
    labels = {v.key: v.label for v in found}
    base = _median(results["none"])
    added = {key: _median(r) - base for key, r in results.items()
             if _median(r) is not None}
    bare = added.get(bare_key)
    print(f"| variant | ns/call | range | added | {ratio_title} |\n"
          "|---|---|---|---|---|")
    for key, result in results.items():
        if not result.ns_per_call:
            print(f"| {labels[key]} | failed | | | |")
            continue
        low, high = min(result.ns_per_call), max(result.ns_per_call)
        ratio = f"{added[key] / bare:.2f}x" if bare and key != "none" else ""
        print(f"| {labels[key]} | {_median(result):.0f} | {low:.0f}-"
              f"{high:.0f} | {added[key]:.0f} | {ratio} |")
    print("\n| stpc's added cost / the other's | ratio | target |\n"
          "|---|---|---|")
    for ours, other, target in comparisons:
        if ours in added and other in added and added[other] > 0:
            print(f"| {labels[ours]} / {labels[other]} | "
                  f"{added[ours] / added[other]:.2f} | {target} |")


def main() -> int:
    parser = argument_parser(__doc__)
    rounds_of_calls(parser, 200000)
    parser.add_argument("--no-stap", action="store_true",
                        help="leave SystemTap out even when installed")
    parser.add_argument("--no-bpftrace", action="store_true",
                        help="leave bpftrace out even when installed")
    parser.add_argument("--phases", action="store_true",
                        help="also run the args probe built up one piece "
                        "at a time, and print what each piece adds")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run stpc's variants as compiled by the "
                        "stpc of git revision REV, in the same boot")
    args = parser.parse_args()
    check_prerequisites(BENCH, args.kver)
    stap = not args.no_stap and shutil.which("stap") is not None
    bpftrace = not args.no_bpftrace and shutil.which("bpftrace") is not None
    for tool, used, package in (("stap", stap, "systemtap"),
                                ("bpftrace", bpftrace, "bpftrace")):
        if not used:
            print(f"overhead: {tool} left out (not installed or --no-"
                  f"{package.replace('systemtap', 'stap')}; apt-get install "
                  f"{package})", file=sys.stderr)
    found = variants(stap, bpftrace, args.baseline, args.phases)
    with scratch_dir("stpc-overhead-") as tmp:
        work = Path(tmp)
        build(work, args.kver, stap, bpftrace, args.baseline, args.phases)
        run_guest(BENCH, work, guest_script(work, found, args.rounds,
                                            args.calls), args.kver,
                  timeout=600 + 120 * args.rounds * len(found))
        results = read_results(work, found, args.rounds, args.calls)
    report(results, found, args.kver, args.rounds, args.calls)
    return exit_status(results, "overhead")


def exit_status(results: dict[str, Rounds], bench: str) -> int:
    """1 after saying each variant's problems (hits missed, a round that
    failed) on stderr; 0 when there were none."""
    failed = [f"{key}: {problem}" for key, r in results.items()
              for problem in r.problems]
    for line in failed:
        print(f"{bench}: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
