"""The ``stpc`` command.

Kept importable without the compiler's dependencies: running a
pre-compiled ``.ko`` needs only stpc.loader, so the compiler passes are
imported only when a script is given.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import BinaryIO, List, Optional, Tuple

from ..loader import VERSION, color
from ..loader.kmod import LoaderError
from ..loader.protocol import PROTOCOL_VERSION

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INTERNAL_ERROR = 70        # sysexits' EX_SOFTWARE
#: 128 + SIGINT, and 128 + SIGPIPE (killed by SIGPIPE, as a shell reports
#: it: the reader of our output left); numbers, as importing signal costs
#: --version and a cache hit its enum building
EXIT_INTERRUPTED = 128 + 2
EXIT_BROKEN_PIPE = 128 + 13

_EXIT_STATUSES = f"""\
exit status:
  {EXIT_OK}      success (with --run: the run ended without a runtime error)
  {EXIT_FAILURE}      the script did not compile, an option was refused, or the
         run ended in a runtime error
  2      the command line could not be parsed (an unknown option, a
         missing value, a word where a number goes)
  {EXIT_INTERNAL_ERROR}     internal error: a bug in stpc, to report
  128+N  ended by signal N: {EXIT_INTERRUPTED} for Ctrl-C while compiling, {EXIT_BROKEN_PIPE} when
         stdout's reader went away (SIGPIPE); during --run, SIGINT, SIGTERM
         and SIGHUP end the run cleanly, and the status is the run's

See docs/cli.md for the options compared with stap's."""

#: options that matter only when a module is loaded
_RUN_ONLY = (("-c", "command"), ("-o", "output"), ("-x", "target_pid"))
#: options that matter only when a script is compiled
_BUILD_ONLY = (("-D", "defines"), ("-s", "buffer_mb"), ("-k", "keep"),
               ("-t", "timing"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stpc",
        description="Compile a SystemTap script into a kernel module and "
        "run it, or run a module stpc compiled earlier.",
        epilog=_EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("script", nargs="?",
                   help="script file (.stp; - reads it from stdin), or a "
                   "module (.ko) to run")
    p.add_argument("script_args", nargs="*", metavar="ARG",
                   help="script arguments, read in the script as $1 "
                   "(a number) or @1 (a string), $2 ...")
    p.add_argument("-e", dest="text", metavar="TEXT",
                   help="script text given on the command line")
    p.add_argument("--run", action="store_true",
                   help="load the module, run it, and print its output")
    p.add_argument("--info", action="store_true",
                   help="with a module (.ko): show what it is and needs, "
                   "loading nothing")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: --info as JSON, --run output as NDJSON "
                   "objects {type, data} (docs/output.schema.json)")
    p.add_argument("--emit-ko", action="store_true",
                   help="write the module as NAME.ko in this directory and "
                   "print its path")
    p.add_argument("--sign", metavar="KEY.pem,CERT.der",
                   help="with --emit-ko: sign the module with the kernel "
                   "build tree's sign-file (docs/precompiled.md)")
    p.add_argument("-m", dest="module_name", metavar="NAME",
                   help="module name (default: from the script's name); "
                   "with a .ko, load it under this name")
    p.add_argument("-r", dest="kernel_release", metavar="KVER|DIR",
                   help="kernel release to build for (default: uname -r), "
                   "or a kernel build tree: its release, its kbuild")
    p.add_argument("-p", dest="last_pass", type=int, choices=range(1, 6),
                   metavar="N", help="stop after pass N: 1 parse, "
                   "2 elaborate, 3 translate (prints C), 4 build, 5 run")
    p.add_argument("-o", dest="output", metavar="FILE",
                   help="with --run: write probe output to FILE")
    p.add_argument("-c", dest="command", metavar="CMD",
                   help="with --run: run CMD once the probes are armed; "
                   "stop when it exits")
    p.add_argument("-x", dest="target_pid", type=int, metavar="PID",
                   help="with --run: value of target()")
    p.add_argument("-D", dest="defines", action="append", default=[],
                   metavar="NAME=VALUE", help="define for the C build "
                   "(limits such as MAXSTRINGLEN, MAXACTION: checked "
                   "before the build)")
    p.add_argument("-s", dest="buffer_mb", type=int, metavar="MB",
                   help="output buffer of each CPU, in megabytes (a power "
                   "of two; default 1)")
    p.add_argument("-k", dest="keep", action="store_true",
                   help="build even when the module is cached, and keep "
                   "the build directory (its path is printed)")
    p.add_argument("-t", dest="timing", action="store_true",
                   help="after the run, each probe's hits and cycles "
                   "(SystemTap's probe hit report)")
    p.add_argument("-g", dest="guru", action="store_true",
                   help="guru mode: embedded C (%%{ ... %%}) and writes to "
                   "target variables; unchecked, they can crash the kernel")
    p.add_argument("-v", dest="verbose", action="count", default=0,
                   help="show pass names and times (twice: kbuild output)")
    p.add_argument("-w", dest="no_warnings", action="store_true",
                   help="do not print the script's warnings")
    p.add_argument("-W", dest="warnings_are_errors", action="store_true",
                   help="make the script's warnings errors (exit status 1)")
    p.add_argument("-I", dest="tapset_dirs", action="append", default=[],
                   metavar="DIR", help="also search DIR for tapset files "
                   "(.stp), after stpc's own; a file is used when the "
                   "script uses what it defines (docs/tapsets.md)")
    p.add_argument("--debuginfo-path", action="append", default=[],
                   metavar="DIR", help="also look for module and kernel "
                   "DWARF under DIR")
    p.add_argument("--fetch-debuginfo", action="store_true",
                   help="download Debian's linux-image-KVER-dbg once and "
                   "keep only its vmlinux (with DWARF) in the cache")
    p.add_argument("--kernel-types", choices=("auto", "dwarf", "btf"),
                   default="auto", help="where kernel.function probes get "
                   "types and variables: DWARF (the -dbg package), BTF "
                   "(entry parameters only), or DWARF when installed")
    p.add_argument("-l", dest="list_points", metavar="POINT",
                   help="list the probe points matching POINT")
    p.add_argument("-L", dest="list_vars", metavar="POINT",
                   help="list matching probe points with their $variables")
    p.add_argument("--approved", metavar="NAME",
                   help="run the approved module NAME from "
                   "/lib/modules/RELEASE/stpc (for sudo rules: only -c, -x, "
                   "-v, --format and --color go with it; under sudo, -c "
                   "runs as the calling user)")
    p.add_argument("--cleanup", action="store_true",
                   help="remove stpc modules a killed loader left loaded")
    p.add_argument("--dump-functions", action="store_true",
                   help="list the built-in functions: NAME:TYPE "
                   "(PARAM:TYPE, ...)")
    p.add_argument("--dump-probe-types", action="store_true",
                   help="list the probe point forms stpc accepts")
    p.add_argument("--dump-probe-aliases", action="store_true",
                   help="list the tapsets' probe aliases: NAME = POINTS "
                   "(NAME += POINTS for an epilogue alias)")
    p.add_argument("--color", "--colour", choices=color.CHOICES,
                   nargs="?", const="always", default="auto",
                   metavar="WHEN", help="colour error:, warning:, hint: "
                   "and the run's ERROR: (never, always, or auto: when "
                   "stderr is a terminal and NO_COLOR is not set)")
    p.add_argument("-V", "--version", action="version",
                   version=f"stpc {VERSION} (loader protocol "
                   f"{PROTOCOL_VERSION})")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_intermixed_args(argv)    # --version exits
    color.configure(args.color)
    args.text_name = "<input>"
    if args.text is not None and args.script is not None:
        # with -e, every positional word is a script argument
        args.script_args.insert(0, args.script)
        args.script = None
    try:
        if args.script == "-":
            args.text = _read_script(sys.stdin.buffer, "the script on stdin")
            args.text_name = "<stdin>"
            args.script = None
        elif args.text is not None:
            _check_script_size(len(args.text.encode("latin-1", "replace")),
                               "the -e script")
        status = _dispatch(args)
        sys.stdout.flush()      # a closed pipe is reported here, not at exit
        return status
    except LoaderError as exc:
        print(f"{color.label('ERROR')} {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the one place bugs surface
        if _is_stpc_error(exc):  # the command line's: no script to show
            print(exc.render({}), file=sys.stderr)
            return EXIT_FAILURE
        return _internal_error(exc)


def _is_stpc_error(exc: Exception) -> bool:
    """Whether EXC is an StpcError, without importing compiler/errors.py
    (difflib, dataclasses) on the paths that never raise one: --version
    and a .ko's run.  Only a module that imported it can raise one."""
    errors = sys.modules.get(f"{__package__}.errors")
    return errors is not None and isinstance(exc, errors.StpcError)


def _silence_stdout() -> None:
    """`stpc -l ... | head`: the reader is gone, so output still buffered
    must not raise again when Python flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


# a compressed module is a module too, which the loader refuses by name
_MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")


#: what --approved takes besides its NAME: nothing that acts as root for
#: the user who called sudo (-c runs as that user)
_APPROVED_OPTIONS = {"approved", "command", "target_pid", "verbose",
                     "format", "color"}


def _dispatch(args) -> int:
    if args.approved is not None:
        return _run_approved(args)
    if not args.run:
        _warn_unused(args, _RUN_ONLY, "without --run")
    if args.fetch_debuginfo:
        status = _fetch_debuginfo(args)
        if status != EXIT_OK or not (args.script or args.text or
                                     args.list_points or args.list_vars):
            return status
    if args.cleanup:
        from ..loader.run import cleanup
        if os.geteuid() != 0:
            raise LoaderError("--cleanup needs root to remove modules")
        cleanup()
        return EXIT_OK
    if args.dump_functions or args.dump_probe_types:
        from .supported import function_signatures, probe_types
        lines = (function_signatures() if args.dump_functions else []) + \
            (probe_types() if args.dump_probe_types else [])
        print("\n".join(lines))
        return EXIT_OK
    if args.dump_probe_aliases:
        return _dump_probe_aliases(args)
    if args.list_points or args.list_vars:
        return _list(args)
    if args.script and args.script.endswith(_MODULE_SUFFIXES) and \
            args.text is None:
        _warn_unused(args, _BUILD_ONLY, "on a compiled module")
        return _run_ko(args)
    from .errors import StpcError
    if (args.script is None) == (args.text is None):
        raise StpcError("give one script: a file name, - (stdin) or "
                        "-e TEXT")
    try:
        return _compile(args)
    except StpcError as exc:
        sources = _sources(args)
        print(exc.render(sources), file=sys.stderr)
        return EXIT_FAILURE


def _warn_unused(args, options, when: str) -> None:
    """An option the command does nothing with is said, not ignored."""
    for flag, dest in options:
        if getattr(args, dest) not in (None, False, []):
            from .errors import warn
            warn(f"{flag} has no effect {when}")


def _fetch_debuginfo(args) -> int:
    from .debuginfo import fetch_vmlinux
    from .errors import StpcError
    try:
        fetch_vmlinux(_kernel(args).release)
    except StpcError as exc:
        print(exc.render({}), file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _list(args) -> int:
    """-l/-L: the probe points a pattern matches, like stap -l/-L."""
    from .errors import StpcError
    from .listing import list_points
    point = args.list_points or args.list_vars
    try:
        kernel = _kernel(args)
        for line in list_points(point, kernel.release,
                                kernel.debuginfo_path(
                                    tuple(args.debuginfo_path)),
                                with_vars=bool(args.list_vars),
                                kernel_types=args.kernel_types):
            print(line)
    except StpcError as exc:
        print(exc.render({"<point>": f"probe {point} {{ }}"}),
              file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _dump_probe_aliases(args) -> int:
    """--dump-probe-aliases: the aliases of every tapset file, for the
    target kernel's conditionals, as stap lists them."""
    from .preprocess import PreprocessEnv
    from .tapsets import load_library, probe_aliases
    kernel = _kernel(args)
    library = load_library(tuple(args.tapset_dirs), PreprocessEnv.for_kernel(
        kernel.release, kernel.build_tree))
    for warning in library.warnings:
        print(warning.render(library.sources), file=sys.stderr)
    print("\n".join(probe_aliases(library)))
    return EXIT_OK


def _sources(args) -> dict:
    from .errors import StpcError
    if args.text is not None:
        return {args.text_name: args.text}
    try:
        with open(args.script, "rb") as script:
            return {args.script: _read_script(script, args.script)}
    except (OSError, StpcError):
        return {}


def _run_options(args, module_name: Optional[str] = None):
    from ..loader.run import RunOptions
    return RunOptions(output=args.output, command=args.command,
                      target_pid=args.target_pid, verbose=args.verbose > 0,
                      module_name=module_name,
                      json=args.format == "json")


def _run_ko(args) -> int:
    """A pre-compiled module: standard library only."""
    from ..loader.image import ModuleImage
    from ..loader.run import run_module
    if not (args.run or args.info):
        from .errors import StpcError
        raise StpcError(f"{args.script} is a module: give --run to run it "
                        "or --info to describe it")
    image = ModuleImage.read(args.script)
    if args.info:
        from ..loader.info import show
        show(image, args.format == "json")
        return EXIT_OK
    return run_module(image, _run_options(args, args.module_name)).exit_status


def _run_approved(args) -> int:
    """--approved NAME: what a sudo rule lets a group run (SystemTap's
    stapusr); standard library only."""
    from ..loader.approved import (APPROVED_DIR, approved_module,
                                   sudo_invoker)
    from ..loader.image import ModuleImage, running_release
    from ..loader.run import run_module
    _refuse_beside_approved(args)
    data = approved_module(args.approved,
                           APPROVED_DIR.format(release=running_release()))
    options = _run_options(args)._replace(command_as=sudo_invoker())
    return run_module(ModuleImage.parse(data), options).exit_status


def _refuse_beside_approved(args) -> None:
    parser = _parser()
    defaults = vars(parser.parse_args([]))
    for action in parser._actions:      # argparse keeps no public list
        dest = action.dest
        if dest in _APPROVED_OPTIONS or dest not in defaults:
            continue
        value = getattr(args, dest)
        if value != defaults[dest]:
            word = action.option_strings[0] if action.option_strings else \
                " ".join(map(str, value)) if isinstance(value, list) else value
            raise LoaderError(f"--approved runs an approved module as it "
                              f"is: '{word}' cannot go with it")


def _last_pass(args) -> int:
    """The pass to stop after, the options checked against it."""
    from .errors import StpcError, warn
    if args.info:
        raise StpcError("--info describes a compiled module (.ko), not a "
                        "script", hint="write one with --emit-ko, or see "
                        "what the script declares with -p2")
    last = args.last_pass or (5 if args.run else 4 if args.emit_ko else None)
    if last is None:
        raise StpcError("nothing to do: give --run to load and run the "
                        "script, --emit-ko to write a module, or -p N")
    if last == 5 and not args.run:
        raise StpcError("-p5 runs the module: give --run as well")
    if args.emit_ko and last < 4:
        raise StpcError(f"--emit-ko writes the module pass 4 builds, and "
                        f"-p{last} stops before it",
                        hint="give -p4, or no -p")
    if args.sign and not args.emit_ko:
        raise StpcError("--sign signs the module --emit-ko writes: give "
                        "--emit-ko as well")
    if args.keep and last < 4:
        warn(f"-k keeps the build directory, and -p{last} stops before "
             "the build")
    return last


def _compile(args) -> int:
    from .defines import check_defines
    from .driver import CompileOptions

    last = _last_pass(args)
    if args.sign:
        from .sign import parse_sign_option
        parse_sign_option(args.sign)    # before a long build, not after
    name = args.module_name
    if name is not None:
        _check_module_name(name)
    elif args.emit_ko and args.script:
        name = os.path.splitext(os.path.basename(args.script))[0]
    kernel = _kernel(args)
    options = CompileOptions(
        kernel_release=kernel.release,
        module_name=name,
        defines=check_defines(args.defines, args.buffer_mb),
        verbose=args.verbose,
        script_args=tuple(args.script_args),
        debuginfo_path=kernel.debuginfo_path(tuple(args.debuginfo_path)),
        kernel_types=args.kernel_types,
        keep_build_dir=args.keep,
        timing=args.timing,
        build_tree=kernel.build_tree,
        guru=args.guru,
        tapset_dirs=tuple(args.tapset_dirs))
    file, source = _script_text(args)
    raw_key = None
    if last >= 4 and not args.keep:
        from . import inputcache
        raw_key = _raw_key(options, file, source)
        # -v says what each pass did: the passes run
        hit = None if args.verbose else inputcache.lookup(raw_key)
        if hit is not None:
            _report_warnings(args, [w.restore() for w in hit.warnings],
                             {file: source})
            return _finish(args, last, hit.module, hit.module.stem)
    return _run_passes(args, last, file, source, options, raw_key)


def _script_text(args) -> Tuple[str, str]:
    """The script's name, as its locations say it, and its text."""
    from .errors import StpcError
    if args.text is not None:
        return args.text_name, args.text
    try:
        with open(args.script, "rb") as script:
            return args.script, _read_script(script, args.script)
    except OSError as exc:
        raise StpcError(f"cannot read {args.script}: {exc.strerror}") \
            from None


#: The largest script stpc reads (file, stdin or -e): hundreds of times
#: any real one, and refused before a wrong file is read whole
MAX_SCRIPT_BYTES = 4 << 20


def _read_script(stream: BinaryIO, name: str) -> str:
    """A script's text, reading at most one byte past the limit."""
    data = stream.read(MAX_SCRIPT_BYTES + 1)
    _check_script_size(len(data), name)
    return data.decode("latin-1")


def _check_script_size(size: int, name: str) -> None:
    from .errors import StpcError
    if size > MAX_SCRIPT_BYTES:
        raise StpcError(f"{name} is larger than {MAX_SCRIPT_BYTES >> 20} "
                        "MiB, the most stpc reads",
                        hint="is it the script you meant?")


def _raw_key(options, file: str, source: str) -> str:
    """The raw-input cache's key (compiler/inputcache.py): the script and
    everything of the command that changes its C or its build."""
    from dataclasses import replace
    from .kerneltree import tree_identity
    from .inputcache import raw_key
    return raw_key(source.encode("latin-1"), {
        "options": repr(replace(options, verbose=0)),
        "file": file, "cwd": os.getcwd(),
        "tree": tree_identity(options.build_tree),
        "STPC_DEBUGINFO_PATH": os.environ.get("STPC_DEBUGINFO_PATH", "")})


def _run_passes(args, last: int, file: str, source: str, options,
                raw_key: Optional[str]) -> int:
    from contextlib import nullcontext
    from .driver import Compilation, run_deep
    from .unparse import describe_program, unparse

    comp = Compilation(source, file, options)
    if last == 1:
        script = comp.script()
        sys.stdout.write(run_deep(lambda: unparse(script)))
        return EXIT_OK
    from .errors import StpcError
    from .inputcache import ReadRecorder
    recorder = ReadRecorder() if raw_key is not None else None
    try:
        with recorder.recording() if recorder else nullcontext():
            _report_warnings(args, comp.program().warnings, comp.sources)
            if last == 2:
                program = comp.program()
                sys.stdout.write(run_deep(lambda: describe_program(program)))
                return EXIT_OK
            if last == 3:
                sys.stdout.write(comp.c_source())
                return EXIT_OK
            comp.c_source()
        module = comp.module()
    except StpcError as exc:    # located in the script or a tapset file
        print(exc.render(comp.sources), file=sys.stderr)
        return EXIT_FAILURE
    if recorder is not None:
        _remember(raw_key, comp, module, recorder.paths)
    return _finish(args, last, module, comp.module_name)


def _remember(raw_key: str, comp, module, read: set) -> None:
    """The raw-input cache's entry for this command: what passes 1-3 read,
    and where a vmlinux would have been found had one been there."""
    from .inputcache import StoredWarning, store
    from .probes import vmlinux_candidates
    watched = {str(p) for p in vmlinux_candidates(comp.probe_environment())}
    store(raw_key, module, read | watched,
          [StoredWarning.of(w) for w in comp.program().warnings])


def _finish(args, last: int, module, module_name: str) -> int:
    """Pass 4's module written (--emit-ko), said (-p4) or run."""
    if args.emit_ko:
        module = _emit(args, module, module_name)
    if last == 4:
        print(module)
        return EXIT_OK
    if args.emit_ko:
        print(module, file=sys.stderr)      # stdout is the script's
    from ..loader.image import ModuleImage
    from ..loader.run import run_module
    return run_module(ModuleImage.read(str(module)),
                      _run_options(args)).exit_status


def _kernel(args):
    """``-r KVER`` or ``-r DIR`` (a build tree), or the running kernel."""
    from .kerneltree import KernelTree
    return KernelTree.from_option(args.kernel_release)


def _report_warnings(args, warnings, sources: dict) -> None:
    """Pass 2's warnings, once: printed, dropped (-w, which wins over -W,
    as in stap) or made errors (-W)."""
    if args.no_warnings or not warnings:
        return
    if args.warnings_are_errors:
        from .errors import StpcErrors
        raise StpcErrors([warning.as_error() for warning in warnings])
    for warning in warnings:
        print(warning.render(sources), file=sys.stderr)


def _check_module_name(name: str) -> None:
    """-m as the loader takes it: refused, not rewritten (stap refuses
    it too)."""
    from ..loader.image import check_name
    from .errors import StpcError
    try:
        check_name(name)
    except LoaderError as exc:
        raise StpcError(str(exc)) from None


def _emit(args, module, name: str):
    """--emit-ko: NAME.ko here, signed with --sign (the cached module stays
    unsigned); returns its absolute path."""
    import shutil
    from pathlib import Path
    emitted = Path(f"{name}.ko").absolute()
    shutil.copyfile(module, emitted)
    if args.sign:
        from .sign import parse_sign_option, sign_module
        key, cert = parse_sign_option(args.sign)
        sign_module(emitted, key, cert, _kernel(args).build_tree)
    return emitted


def _described(exc: BaseException) -> str:
    """The exception's message; a syntax tree node in it by its kind and
    place, as its repr recurses as deep as the script nests."""
    if all(isinstance(arg, (str, int)) for arg in exc.args):
        return str(exc)
    return ", ".join(str(arg) if isinstance(arg, (str, int)) else
                     f"{type(arg).__name__} at {getattr(arg, 'span', '?')}"
                     for arg in exc.args)


def _internal_error(exc: BaseException) -> int:
    import traceback
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    print(f"{color.label('error')} internal error: "
          f"{type(exc).__name__}: {_described(exc)}\n"
          f"  at {where}\n"
          "This is a bug in stpc; please report it with the command and "
          "script that caused it.", file=sys.stderr)
    return EXIT_INTERNAL_ERROR
