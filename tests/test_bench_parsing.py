"""How bench/overhead.py, bench/many_probes.py and
bench/syscall_dispatch.py read what the tools
printed in the VM (the benchmarks themselves are run by hand)."""

import sys
import time
from pathlib import Path

from stpc.loader.run import _PhaseTimes

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import many_probes  # noqa: E402
import overhead  # noqa: E402
import syscall_dispatch  # noqa: E402

BPF_HIST = """Attaching 1 probe...


@h:
[0]                    1 |                                                    |
[1]                    1 |                                                    |
[2, 4)                 2 |                                                    |
[128K, 256K)       72144 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

"""


def test_bpftrace_hist_hits_are_the_buckets_summed():
    assert overhead._bpf_hist_hits(BPF_HIST, 0) == 72148


def test_bpftrace_count_is_read_from_its_map():
    assert overhead._bpf_count_hits("Attaching 1 probe...\n\n\n@n: 8\n\n",
                                    8) == 8


def test_syscall_counts_need_at_least_one_hit_per_call():
    """n counts the loop's calls and whatever else the guest did."""
    hits = syscall_dispatch._at_least_calls
    assert hits("200731\n", 200000) == 200000
    assert hits("199999\n", 200000) == 199999
    assert hits("ERROR: no\n", 200000) is None


def test_args_hits_need_the_right_bytes_total():
    rows = "even 0 2\nodd 1 1\neven 2 1\nodd 3 1\n"
    assert overhead._args_hits(rows + "56\n", 5) == 5   # 10+11+12+13+10
    assert overhead._args_hits(rows + "55\n", 5) is None


def test_many_probes_reads_the_loaders_verbose_lines(capsys):
    times = _PhaseTimes(True, {"probes": ["kernel.function(\"a\")", "end"]})
    times.report(f"armed {times.armed} probes", time.monotonic())
    times.report("disarmed", time.monotonic())
    err = capsys.readouterr().err
    assert many_probes._ARMED.search(err).group(1) == "1"
    assert many_probes._DISARMED.search(err) is not None


def test_keyed_hits_count_the_rows_of_each_key_width():
    """--phases' readers: no keys (the bytes total alone), one key."""
    assert overhead._keyed_hits(0)("56\n", 5) == 5
    assert overhead._keyed_hits(0)("55\n", 5) is None
    assert overhead._keyed_hits(1)("even 3\nodd 2\n56\n", 5) == 5
    assert overhead._keyed_hits(1)("0 2\n1 1\n2 1\n3 1\n56\n", 5) == 5


def test_phase_scripts_parse_and_print_what_their_reader_reads():
    from stpc.compiler.parse import parse
    scripts = [(key, overhead.args_script(body, keys), keys)
               for key, _, body, keys in overhead.PHASES]
    for key, script, keys in [*scripts, ("args", overhead.ARGS, "nk")]:
        text = script % (overhead.POINT % overhead.TARGET)
        parse(text, f"{key}.stp")
        assert ("foreach" in text) == bool(keys)
        assert text.rstrip().endswith('printf("%d\\n", bytes)\n}')
    steps = {step for pair in overhead.PHASE_STEPS for step in pair[:2]}
    assert steps <= {f"stpc_phase_{key}" for key, *_ in overhead.PHASES} \
        | {"stpc_count", "stpc_args"}
