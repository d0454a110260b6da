"""A module's kbuild commands, recorded from one make run and replayed
without make for the next modules of the same tree and runtime object.

Most of a cold build of a small script is make itself: the top Makefile
probes gcc with ``cc-option`` and three makes read kbuild's makefiles,
about 0.6 s of CPU before the first compile.  Every module stpc builds
for one tree and runtime object takes the same steps (compile the
script's C, list the parts, link them, modpost, compile NAME.mod.c, link
NAME.ko), which kbuild records in its ``.TARGET.cmd`` files.  After a
make build those commands become a recipe, with the build directory,
the module's name and the script's compiler flags as placeholders; a
later build fills them in and runs the commands with ``sh`` from the
build tree, as make would.  A recipe is made only when every step is
one it knows and every occurrence of the module's name is in a place it
knows, and a replay that fails leaves the build to make, so a recipe
can make a build slower but never different.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

_WORKDIR = "@STPC_WORKDIR@"
_MODULE = "@STPC_MODULE@"
_FLAGS = "@STPC_CCFLAGS@"
_FORMAT = 2

#: kbuild's targets of one module, in the order it builds them; the
#: common part is linked into every module by newer kernels (6.11+)
_STEPS = (f"{_MODULE}-script.o", f"{_MODULE}.mod", f"{_MODULE}.o",
          "modules.order", "Module.symvers", f"{_MODULE}.mod.o",
          ".module-common.o", f"{_MODULE}.ko")
_OPTIONAL_STEPS = {".module-common.o"}

#: where a module's name appears in its commands (kbuild's file names,
#: KBUILD_MODNAME and KBUILD_BASENAME, the list of its parts)
_NAME_PLACES = (f"{_WORKDIR}/{{}}.", f"{_WORKDIR}/.{{}}.",
                f"{_WORKDIR}/{{}}-script.", f"{_WORKDIR}/.{{}}-script.",
                "'\"{}\"'", "'\"{}_script\"'", "'\"{}.mod\"'",
                "=kmod_{} ", " {}-script.o ")

#: kbuild's saved command line: ``cmd_TARGET := ...`` (savedcmd_ since 6.2)
_SAVED = re.compile(r"^(?:saved)?cmd_(\S+) := (.*)$", re.M)

#: what make would expand in a flag: such flags are left to make
_MAKE_SPECIAL = re.compile(r"[$#\\\n]")


#: the file the Kbuild rule of ENV_RULE writes: the environment make
#: gives kbuild's commands (objtool wants SRCARCH, for one)
ENV_FILE = "stpc-kbuild-env"
ENV_RULE = (f"always-y += {ENV_FILE}\n"
            f"$(obj)/{ENV_FILE}: ; @env -0 > $@\n")


def record(workdir: Path, module: str, flags: str,
           recipe: Path, skip: str) -> None:
    """Writes RECIPE from the .cmd files of a make build in WORKDIR (its
    Kbuild with ENV_RULE), when they are all understood; SKIP is the part
    kbuild did not build (the runtime object, copied in)."""
    commands = _recorded_commands(workdir, module, flags, skip)
    environment = _make_environment(workdir / ENV_FILE, workdir)
    if commands is None or environment is None:
        return
    partial = recipe.with_name(f"{recipe.name}.tmp{os.getpid()}")
    try:
        partial.write_text(json.dumps({"format": _FORMAT,
                                       "environment": environment,
                                       "commands": commands}))
        partial.replace(recipe)
    except OSError:
        pass    # a recipe only saves time


def _make_environment(env_file: Path,
                      workdir: Path) -> Optional[Dict[str, str]]:
    """The variables make set for its commands, beyond stpc's own (and
    make's own, which only a sub-make reads), the build directory in
    them a placeholder."""
    try:
        pairs = env_file.read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    found = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    return {name: value.replace(str(workdir), _WORKDIR)
            for name, value in found.items()
            if os.environ.get(name) != value and
            not name.startswith(("MAKE", "MFLAGS"))}


def _recorded_commands(workdir: Path, module: str, flags: str,
                       skip: str) -> Optional[List[List[str]]]:
    """[[target, command], ...] with placeholders, or None."""
    if _MAKE_SPECIAL.search(flags):
        return None
    found = {}
    for cmd_file in workdir.glob(".*.cmd"):
        if cmd_file.name == f".{skip}.cmd":
            continue
        saved = _SAVED.search(cmd_file.read_text(errors="replace"))
        if saved is None:
            return None
        target = _placeholders(saved.group(1), workdir, module, flags)
        command = _placeholders(_unescape(saved.group(2)), workdir, module,
                                flags)
        if target is None or command is None:
            return None
        found[target] = command
    steps = [f"{_WORKDIR}/{step}" for step in _STEPS]
    if set(found) - set(steps):
        return None     # a step this recipe does not know
    if any(step not in found for step, name in zip(steps, _STEPS)
           if name not in _OPTIONAL_STEPS):
        return None
    return [[step, found[step]] for step in steps if step in found]


def _unescape(saved: str) -> str:
    """A command as kbuild saved it (make syntax) to the shell's."""
    return saved.replace("$(pound)", "#").replace("$$", "$")


def _placeholders(text: str, workdir: Path, module: str,
                  flags: str) -> Optional[str]:
    text = text.replace(str(workdir), _WORKDIR)
    if flags:
        text = text.replace(flags, _FLAGS)
    for place in _NAME_PLACES:
        text = text.replace(place.format(module), place.format(_MODULE))
    # a name anywhere else (a short name inside a flag) is not replaceable
    return None if module in text else text


def replay(recipe: Path, workdir: Path, module: str, flags: str,
           build_tree: Path) -> bool:
    """Runs RECIPE's commands for MODULE in WORKDIR (the script's C and
    the runtime object already there); whether NAME.ko was made.  On
    failure the files it made are removed, for make to start afresh."""
    if _MAKE_SPECIAL.search(flags):
        return False
    try:
        found = json.loads(recipe.read_text())
        if found.get("format") != _FORMAT:
            return False
        steps = [(_filled(target, workdir, module, flags),
                  _filled(command, workdir, module, flags))
                 for target, command in found["commands"]]
        environment = {**os.environ,
                       **{name: value.replace(_WORKDIR, str(workdir))
                          for name, value in found["environment"].items()}}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    before = set(workdir.iterdir())
    for target, command in steps:
        # modpost reads the command file of every part it links
        _command_file(Path(target)).write_text(f"cmd_{target} := {command}\n")
    script = "set -e\n" + "\n".join(command for _, command in steps)
    result = subprocess.run(["sh", "-c", script], cwd=build_tree,
                            env=environment, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ko = workdir / f"{module}.ko"
    if result.returncode == 0 and ko.exists():
        return True
    for path in set(workdir.iterdir()) - before:
        path.unlink()
    return False


def _filled(text: str, workdir: Path, module: str, flags: str) -> str:
    return text.replace(_WORKDIR, str(workdir)).replace(
        _MODULE, module).replace(_FLAGS, flags)


def _command_file(target: Path) -> Path:
    return target.with_name(f".{target.name}.cmd")
