"""The command line as a SystemTap user types it: -D limits checked before
a build, `-` for stdin, -V, -k, -s, -m, options that need --run or a
script, --emit-ko's path, --info on a script, the exit statuses.  Every
case runs the installed `stpc` in a subprocess, and none loads a module."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stpc.compiler import cli
from stpc.compiler.build import runtime_dir
from stpc.compiler.defines import LIMITS, check_defines
from stpc.compiler.errors import StpcError

STPC = str(Path(sys.executable).parent / "stpc")
ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "probe begin { exit() }"


def stpc(*argv, stdin=None, cwd=None):
    return subprocess.run([STPC, *argv], input=stdin, capture_output=True,
                          text=True, cwd=cwd)


def refused(*argv):
    """stderr of a command refused before anything is built."""
    proc = stpc(*argv, "-p3", "-e", SCRIPT)
    assert (proc.returncode, proc.stdout) == (1, ""), proc.stderr
    return proc.stderr


# ---- -D ----------------------------------------------------------------

def test_a_limit_out_of_range_is_refused_before_kbuild():
    assert refused("-D", "MAXSTRINGLEN=4") == (
        "error: -D MAXSTRINGLEN=4: MAXSTRINGLEN must be from 16 to 65536\n"
        "hint: the runtime needs 16 bytes at least (runtime_c/stpc_limits.h);"
        " longer strings are untested, and each string variable, temporary "
        "and array slot takes MAXSTRINGLEN bytes\n")


@pytest.mark.parametrize("value", ["abc", "0100", "1<<20", "-5", "1.5"])
def test_a_limit_takes_a_number_in_decimal_or_hex(value):
    assert refused("-D", f"MAXSTRINGLEN={value}") == (
        f"error: -D MAXSTRINGLEN={value}: not a number in decimal or "
        "hexadecimal (0x...)\n"
        "hint: MAXSTRINGLEN takes a number from 16 to 65536\n")


@pytest.mark.parametrize("define, hint", [
    ("MAXACTION", "MAXACTION takes a number from 1 to 214748364"),
    ("FOO", "write -D FOO=VALUE (-D FOO=1 for a flag)"),
])
def test_a_define_without_a_value_is_refused(define, hint):
    assert refused("-D", define) == (
        f"error: -D {define}: no value given\nhint: {hint}\n")


def test_a_define_given_twice_is_refused():
    assert refused("-D", "MAXACTION=10", "-DMAXACTION=0x10") == (
        "error: -D MAXACTION given twice ('MAXACTION=10' and "
        "'MAXACTION=0x10')\nhint: give each name once\n")


def test_the_ring_must_hold_two_records():
    assert refused("-D", "STPC_PRINT_BUFSIZE=65536", "-D",
                   "STPC_BUFFER_SIZE=65536") == (
        "error: the output ring (STPC_BUFFER_SIZE, 65536 bytes) must hold "
        "two records of a handler's output (STPC_PRINT_BUFSIZE): 131104 "
        "bytes at least\n")


def test_a_lock_wait_over_a_second_is_refused():
    assert refused("-D", "MAXTRYLOCK=1000", "-D", "TRYLOCKDELAY=10000") == (
        "error: a handler would wait up to 10000000 microseconds for a lock "
        "(MAXTRYLOCK 1000 times TRYLOCKDELAY 10000): one second at most\n"
        "hint: lower MAXTRYLOCK or TRYLOCKDELAY\n")


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_each_limit_is_refused_just_outside_its_range(name):
    limit = LIMITS[name]
    for value in (limit.low - 1, limit.high + 1):
        if value < 0:
            continue
        with pytest.raises(StpcError, match=f"must be from {limit.low} to "
                           f"{limit.high}"):
            check_defines([f"{name}={value}"])


def test_values_reach_the_compiler_in_decimal():
    assert check_defines(["MAXSTRINGLEN=0x40", "MAXERRORS=0"], 4) == (
        ("MAXSTRINGLEN", "64"), ("MAXERRORS", "0"),
        ("STPC_BUFFER_SIZE", "4194304"))


def test_an_unknown_name_is_passed_on_with_a_warning():
    proc = stpc("-p2", "-D", "MAXSTRLEN=100", "-e", SCRIPT)
    assert (proc.returncode, proc.stderr) == (
        0, "warning: -D MAXSTRLEN=100: MAXSTRLEN is none of stpc's limits; "
           "it is passed to the C compiler as it is (did you mean "
           "'MAXSTRINGLEN' or 'MAXTRYLOCK' or 'MAXNESTING'?)\n")
    assert check_defines(["MAXSTRLEN=(1+2)"]) == (("MAXSTRLEN", "(1+2)"),)


def test_a_systemtap_only_setting_is_said_to_do_nothing():
    proc = stpc("-p2", "-D", "MINSTACKSPACE=100", "-e", SCRIPT)
    assert (proc.returncode, proc.stderr) == (
        0, "warning: -D MINSTACKSPACE=100: SystemTap's MINSTACKSPACE has no "
           "effect in stpc\n")


def test_an_overload_threshold_past_its_interval_is_refused():
    proc = stpc("-p2", "-D", "STP_OVERLOAD_THRESHOLD=20", "-D",
                "STP_OVERLOAD_INTERVAL=10", "-e", SCRIPT)
    assert proc.returncode == 1
    assert "could never end a run" in proc.stderr
    assert "STP_NO_OVERLOAD" in proc.stderr


def test_the_limits_table_matches_the_runtime():
    """Every `#ifndef NAME` default of the runtime has a range here, and
    the plain numbers agree, so neither can drift from the other."""
    header = (runtime_dir() / "stpc_limits.h").read_text()
    template = (ROOT / "compiler" / "templates" / "module.c").read_text()
    defaults = re.findall(r"#ifndef (\w+)\n#define \1 (.*)", header +
                          template)
    assert {name for name, _ in defaults} == set(LIMITS)
    for name, value in defaults:
        expected = LIMITS[name].default
        if expected is None:            # computed: by stpc, from MAXACTION
            continue
        number = value.split("/*")[0].strip()
        assert re.fullmatch(r"[0-9()< ]+", number), (name, number)
        assert eval(number) == expected, name   # digits, ( ) and << only


# ---- -s, -m, -V, - -----------------------------------------------------

def test_s_sets_the_ring_and_checks_its_size():
    assert refused("-s", "3") == (
        "error: -s 3: the buffer size must be a power of two from 1 to 2048 "
        "(megabytes per CPU)\n")
    assert refused("-s", "4", "-D", "STPC_BUFFER_SIZE=65536") == (
        "error: -s and -D STPC_BUFFER_SIZE set the same buffer: give one of "
        "them\n")


@pytest.mark.parametrize("name", ["my-mod", "9lives", "x" * 56, "a.ko", ""])
def test_m_refuses_what_cannot_name_a_module(name):
    """As stap does, and as the loader refuses -m for a .ko."""
    assert refused("-m", name) == (
        f"error: '{name}' is not a module name: use letters, digits and _, "
        "at most 55\n")


def test_m_takes_a_module_name_unchanged():
    proc = stpc("-p3", "-m", "My_mod2", "-e", SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert "\\042module\\042: \\042My_mod2\\042" in proc.stdout


def test_capital_v_is_the_version():
    short, long = stpc("-V"), stpc("--version")
    assert short.returncode == long.returncode == 0
    assert short.stdout == long.stdout
    assert short.stdout.startswith("stpc ")


def test_dash_reads_the_script_from_stdin():
    proc = stpc("-p1", "-", "world",
                stdin='probe begin { println(@1) exit() }')
    assert (proc.returncode, proc.stderr) == (0, "")
    assert '"world"' in proc.stdout


def test_errors_in_a_script_from_stdin_point_at_stdin():
    proc = stpc("-p1", "-", stdin="probe begin { x = ( }")
    assert proc.returncode == 1
    assert proc.stderr == ("<stdin>:1:21: error: syntax error at '}'\n"
                           "    probe begin { x = ( }\n"
                           "                        ^\n")


# ---- options that do nothing here ----------------------------------------

def test_run_options_without_run_are_said_to_do_nothing():
    proc = stpc("-p2", "-c", "true", "-o", "out.txt", "-x", "1", "-e", SCRIPT)
    assert proc.returncode == 0
    assert proc.stderr == ("warning: -c has no effect without --run\n"
                           "warning: -o has no effect without --run\n"
                           "warning: -x has no effect without --run\n")


def test_build_options_on_a_module_are_said_to_do_nothing():
    proc = stpc("/nonexistent/x.ko", "--info", "-k", "-D", "MAXACTION=5")
    assert proc.returncode == 1
    assert proc.stderr == ("warning: -D has no effect on a compiled module\n"
                           "warning: -k has no effect on a compiled module\n"
                           "ERROR: cannot read /nonexistent/x.ko: No such "
                           "file or directory\n")


def test_t_on_a_module_is_said_to_do_nothing():
    proc = stpc("/nonexistent/x.ko", "--info", "-t")
    assert proc.stderr.startswith(
        "warning: -t has no effect on a compiled module\n")


def test_t_adds_a_timing_record_for_every_probe():
    script = ("global x; probe begin { x = 1 } probe timer.ms(10) { exit() }"
              " probe end { }")
    timed = stpc("-p3", "-t", "-e", script).stdout
    records = re.findall(r'\{ \.point = "([^"]*)", \.location = "([^"]*)",'
                         r'\s+\.derivation = "([^"]*)" \}', timed)
    assert records == [("begin", "<input>:1:11", "begin"),
                       ("timer.ms(10)", "<input>:1:33", "timer.ms(10)"),
                       ("end", "<input>:1:63", "end"),
                       ("end", "<input>:1:1", "end")]
    assert len(re.findall(r"\.timing = &stpc_timing\[\d\]", timed)) == 4
    assert "stpc_timing" not in stpc("-p3", "-e", script).stdout


def test_k_before_the_build_is_said_to_do_nothing():
    proc = stpc("-p2", "-k", "-e", SCRIPT)
    assert (proc.returncode, proc.stderr) == (
        0, "warning: -k keeps the build directory, and -p2 stops before the "
           "build\n")


# ---- honest refusals -------------------------------------------------------

def test_info_on_a_script_is_refused():
    proc = stpc("--info", "-e", SCRIPT)
    assert (proc.returncode, proc.stderr) == (
        1, "error: --info describes a compiled module (.ko), not a script\n"
           "hint: write one with --emit-ko, or see what the script declares "
           "with -p2\n")


def test_emit_ko_before_pass_4_is_refused(tmp_path):
    proc = stpc("--emit-ko", "-p3", "-e", SCRIPT, cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "", "error: --emit-ko writes the module pass 4 builds, and -p3 "
               "stops before it\nhint: give -p4, or no -p\n")
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_exit_statuses():
    proc = stpc("--help")
    assert proc.returncode == 0
    statuses = proc.stdout.split("exit status:\n")[1]
    for status in (cli.EXIT_OK, cli.EXIT_FAILURE, 2,
                   cli.EXIT_INTERNAL_ERROR, cli.EXIT_INTERRUPTED,
                   cli.EXIT_BROKEN_PIPE):
        assert re.search(rf"\b{status}\b", statuses), status


def test_docs_list_the_exit_statuses_and_every_option():
    docs = (ROOT / "docs" / "cli.md").read_text()
    for action in cli._parser()._actions:
        for flag in action.option_strings:
            assert f"`{flag}" in docs, flag
    for name in LIMITS:
        assert f"`{name}`" in docs, name
    assert "[docs/cli.md](docs/cli.md)" in (ROOT / "README.md").read_text()


# ---- --dump-functions, --dump-probe-types, --dump-probe-aliases ----------

_SIGNATURE = re.compile(r"\w+:(long|string|unknown) \("
                        r"((\w+:(long|string|any), )*(\w+:(long|string|any)"
                        r"|\.\.\.))?\)")


def test_dump_functions_prints_each_builtin_as_stap_does():
    proc = stpc("--dump-functions")
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert lines == sorted(lines)
    assert [line for line in lines if not _SIGNATURE.fullmatch(line)] == []
    assert {"exit:unknown ()", "substr:string (str:string, start:long)",
            "substr:string (str:string, start:long, length:long)",
            "printf:unknown (format:string, ...)"} <= set(lines)


def _instance(form: str) -> str:
    """A probe point of a --dump-probe-types form, for the fixture."""
    return (form.replace("module(string)", 'module("stpc_fixture")')
            .replace("function(string)", 'function("stpc_fixture_*")')
            .replace("statement(string)", 'statement("stpc_fixture_locals'
                     '@stpc_fixture.c:242")')
            .replace("(number)", "(200000)"))


def _probe_types():
    proc = stpc("--dump-probe-types")
    assert (proc.returncode, proc.stderr) == (0, "")
    return proc.stdout.splitlines()


def test_dump_probe_types_forms_are_accepted():
    forms = _probe_types()
    assert forms == sorted(forms)
    assert {"begin", "begin(number)", "timer.profile", "timer.ms(number)",
            "kernel.function(string).return"} <= set(forms)
    plain = [f for f in forms if not f.startswith(("kernel.", "module("))]
    proc = stpc("-p2", "-w", "-e",
                f"probe {', '.join(map(_instance, plain))} {{ }}")
    assert (proc.returncode, proc.stderr) == (0, "")
    # kernel and module points are resolved by one code path
    code = [f for f in forms if f not in plain]
    assert sorted(f.replace("module(string)", "kernel") for f in code
                  if f.startswith("module(")) == \
        [f for f in code if f.startswith("kernel.")]


@pytest.mark.kbuild
def test_dump_probe_types_module_forms_resolve(kver):
    import fixture
    directory = str(fixture.build_fixture(kver).parent)
    module = [_instance(f) for f in _probe_types()
              if f.startswith("module(")]
    proc = stpc("-p2", "-w", "-r", kver, "--debuginfo-path", directory, "-e",
                f"probe {', '.join(module)} {{ }}")
    assert (proc.returncode, proc.stderr) == (0, "")


def test_dump_probe_aliases_lists_the_tapsets_aliases(kver, tmp_path):
    """As stap lists them: NAME = POINTS, sorted; a -I directory's
    aliases with stpc's; each alias's points are those a probe on it
    resolves through (-p2 of one takes its point)."""
    (tmp_path / "mine.stp").write_text(
        "probe mine.tick = timer.ms(5)? { }\nprobe mine.tick += end { }\n")
    proc = stpc("--dump-probe-aliases", "-r", kver, "-I", str(tmp_path))
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert lines == sorted(set(lines))
    assert {'syscall.open = kernel.function("__x64_sys_open")',
            'syscall_any = kernel.trace("raw_syscalls:sys_enter")',
            "mine.tick = timer.ms(5)?", "mine.tick += end"} <= set(lines)
    syscalls = [line for line in lines
                if re.match(r"syscall\.\w+ =", line)]
    assert len(syscalls) == int(re.search(
        r"(\d+) in all", (ROOT / "docs" / "tapsets.md").read_text()).group(1))
    proc = stpc("-p2", "-r", kver, "-e", "probe syscall.open { }")
    assert 'kernel.function("__x64_sys_open' in proc.stdout


# ---- --color ------------------------------------------------------------

ERROR_SCRIPT = "probe begin { println(tz_ctime(0)) }"


def test_color_always_paints_the_prefixes():
    proc = stpc("-p2", "--color=always", "-e", ERROR_SCRIPT)
    assert proc.returncode == 1
    assert "\033[01;31merror:\033[0m tapset function 'tz_ctime'" in \
        proc.stderr
    assert "\033[01;36mhint:\033[0m" in proc.stderr


@pytest.mark.parametrize("argv", [(), ("--color=auto",), ("--color",
                                                          "never")])
def test_piped_stderr_is_plain(argv):
    proc = stpc("-p2", *argv, "-e", ERROR_SCRIPT)
    assert proc.returncode == 1
    assert proc.stderr.startswith("<input>:1:23: error: tapset function")
    assert "\033" not in proc.stderr


def _stderr_on_a_terminal(*argv, env=None):
    import pty
    primary, secondary = pty.openpty()
    with os.fdopen(primary, "rb", buffering=0) as terminal:
        proc = subprocess.run([STPC, *argv], stderr=secondary,
                              stdout=subprocess.DEVNULL, env=env)
        os.close(secondary)
        output = b""
        try:
            while chunk := terminal.read(4096):
                output += chunk
        except OSError:     # EIO: the terminal's other end is closed
            pass
    return proc.returncode, output.decode()


def test_a_terminal_gets_colour_unless_no_color_is_set():
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "TERM")}
    status, err = _stderr_on_a_terminal("-p2", "-e", ERROR_SCRIPT, env=env)
    assert status == 1 and "\033[01;31merror:\033[0m" in err
    status, err = _stderr_on_a_terminal("-p2", "-e", ERROR_SCRIPT,
                                        env=dict(env, NO_COLOR="1"))
    assert status == 1 and "error: tapset function" in err
    assert "\033" not in err


def test_a_loader_error_is_painted_as_stap_paints_a_run_error():
    proc = stpc("/nonexistent/x.ko", "--run", "--colour")
    assert (proc.returncode, proc.stderr) == (
        1, "\033[01;31mERROR:\033[0m cannot read /nonexistent/x.ko: No "
           "such file or directory\n")


def test_the_run_s_error_lines_are_painted_at_their_start():
    from stpc.loader import color
    try:
        color.configure("always")
        painted = color.run_lines(b"ERROR: division by 0 near x\n"
                                  b"text ERROR: not a prefix\n"
                                  b"WARNING: Number of errors: 1\n")
    finally:
        color.configure("never")
    assert painted == (b"\033[01;31mERROR:\033[0m division by 0 near x\n"
                       b"text ERROR: not a prefix\n"
                       b"\033[00;33mWARNING:\033[0m Number of errors: 1\n")


# ---- with kbuild -----------------------------------------------------------

@pytest.mark.kbuild
def test_emit_ko_prints_the_path_it_wrote(tmp_path, kver):
    proc = stpc(str(ROOT / "examples" / "hello.stp"), "--emit-ko", "-r",
                kver, cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == f"{tmp_path / 'hello.ko'}\n"
    assert (tmp_path / "hello.ko").read_bytes().startswith(b"\x7fELF")


@pytest.mark.kbuild
def test_k_builds_and_keeps_the_build_directory(tmp_path, kver):
    env = dict(os.environ, STPC_CACHE_DIR=str(tmp_path / "cache"),
               TMPDIR=str(tmp_path))
    argv = [STPC, "-p4", "-m", "kept", "-r", kver, "-e", SCRIPT]
    first = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    kept = subprocess.run(argv + ["-k"], env=env, capture_output=True,
                          text=True)
    assert kept.returncode == 0, kept.stderr
    match = re.fullmatch(r'Keeping build directory "(.+)"\n', kept.stderr)
    assert match, kept.stderr
    workdir = Path(match.group(1))
    assert (workdir / "kept.ko").exists() and (workdir / "kept-script.c").exists()
    assert kept.stdout == first.stdout      # the cached module, rebuilt


LOW = {name: limit.low for name, limit in LIMITS.items()}
# MAXTRYLOCK and TRYLOCKDELAY bound each other: one at its default
HIGH = dict({name: limit.high for name, limit in LIMITS.items()},
            MAXTRYLOCK=LIMITS["MAXTRYLOCK"].default)
# a map with string keys and values, recursion, statistics, an error
EVERY_KIND = """global names, counts[10], st
function depth(n) { if (n <= 0) return 0; return 1 + depth(n - 1) }
probe begin {
  names["x"] = sprint(depth(3)); counts[1] = strlen(names["x"]); st <<< 5
  printf("%s %d %d\\n", names["x"], counts[1], @count(st)); error("boom")
}"""


@pytest.mark.kbuild
@pytest.mark.parametrize("bounds", [LOW, HIGH], ids=["low", "high"])
def test_every_limit_builds_at_its_bounds(bounds, kver, tmp_path):
    """The ranges are what builds: stpc_warn formats its line off the
    stack, so even the longest MAXSTRINGLEN fits the kernel's frame-size
    limit (-Werror)."""
    defines = [f"-D{name}={value}" for name, value in bounds.items()]
    proc = stpc("-p4", "-r", kver, *defines, "-e", EVERY_KIND,
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
