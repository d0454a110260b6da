"""The loader's -v lines on arming and disarming (bench/many_probes.py
parses them)."""

from stpc.loader.run import _PhaseTimes

INFO = {"probes": ["begin", "begin(-1)", "timer.ms(100)",
                   'kernel.function("vfs_read")',
                   'kernel.function("vfs_read").return', "end", "error"]}


def test_armed_counts_every_point_but_those_run_once():
    assert _PhaseTimes(True, INFO).armed == 3


def test_a_module_without_metadata_arms_no_known_points():
    assert _PhaseTimes(True, None).armed == 0


def test_verbose_reports_the_phase_on_stderr(capsys):
    _PhaseTimes(True, INFO).report("armed 3 probes", 0.0)
    err = capsys.readouterr().err
    assert err.startswith("stpc: armed 3 probes in ") and \
        err.endswith(" ms\n")


def test_without_verbose_nothing_is_reported(capsys):
    _PhaseTimes(False, INFO).report("disarmed", 0.0)
    assert capsys.readouterr().err == ""
