"""The syscall tapset (tapset/syscalls.stp): every alias resolves and
compiles from BTF, gives the variables stap 4.8's gives it (a table here,
checked against `stap -u -p2` where SystemTap is installed), and its
helpers format as stap's do."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Dict, Set

import pytest

from stpc.compiler import ast as A
from stpc.compiler import cli, tapsets
from stpc.compiler.preprocess import PreprocessEnv

import vm

#: the installed releases of the two test kernels' series (what a
#: fresh machine's apt gave it, not a release named here)
KVER = vm.find_kernel_release(vm.DEFAULT_SERIES) or "6.1.0-57-amd64"
KVER_612 = vm.find_kernel_release(vm.SECOND_SERIES) or "6.12.95+deb12-amd64"
ENV = PreprocessEnv(KVER, arch="x86_64")

#: stap 4.8's variables of each entry alias (its sysc_NAME.stp), beyond
#: name and argstr; a .return gives name, retval and retstr
STAP_ENTRY = {
    "open": "filename flags flags_str mode",
    "openat": "dfd dfd_str filename flags flags_str mode",
    "close": "fd",
    "read": "fd buf_uaddr count",
    "write": "fd buf_uaddr count buf_str",
    "pread": "fd buf_uaddr count offset",
    "pwrite": "fd buf_uaddr count buf_str offset",
    "readv": "fd vector_uaddr count",
    "writev": "fd vector_uaddr count",
    "lseek": "fildes offset whence whence_str",
    "dup": "oldfd",
    "dup2": "oldfd newfd flags flags_str",
    "dup3": "oldfd newfd flags flags_str",
    "fcntl": "fd cmd cmd_str arg",
    "ioctl": "fd request argp",
    "fsync": "fd",
    "ftruncate": "fd length",
    "stat": "filename_uaddr filename buf_uaddr",
    "lstat": "path buf_uaddr",
    "fstat": "filedes buf_uaddr",
    "fstatat": "dirfd dirfd_str path buf_uaddr flags flags_str",
    "statx": "dfd dfd_str filename_uaddr filename flags flags_str mask "
             "mask_str buf_uaddr",
    "access": "pathname mode mode_str",
    "faccessat": "dirfd dirfd_str pathname mode mode_str",
    "unlink": "pathname_uaddr pathname",
    "unlinkat": "dfd dfd_str pathname pathname_str flag flag_str",
    "mkdir": "pathname_uaddr pathname mode",
    "mkdirat": "dirfd dirfd_str pathname mode",
    "rmdir": "pathname",
    "rename": "oldpath newpath",
    "renameat2": "olddfd olddfd_str oldname oldname_str newdfd newdfd_str "
                 "newname newname_str flags flags_str",
    "chdir": "path",
    "fchdir": "fd",
    "getcwd": "buf_uaddr size",
    "umask": "mask",
    "brk": "brk",
    "munmap": "start length",
    "mprotect": "addr len prot prot_str",
    "execve": "filename args env_str",
    "exit_group": "status",
    "getpid": "",
    "getppid": "",
    "gettid": "",
    "kill": "pid sig sig_name",
    "wait4": "pid status_uaddr options options_str rusage_uaddr",
    "sched_yield": "",
    "nanosleep": "req_uaddr req_str rem_uaddr",
    "clock_nanosleep": "clk_id clk_id_str flags flags_str req_uaddr "
                       "req_str rem_uaddr",
    "mmap2": "start length prot prot_str flags flags_str fd pgoffset",
    "clone": "clone_flags stack_start parent_tid_uaddr child_tid_uaddr",
    "fork": "",
    "vfork": "",
    "pipe": "fildes_uaddr flags flag_str pipe0 pipe1",
    "socket": "family family_str type type_str protocol protocol_str",
    "socketpair": "family family_str type type_str protocol protocol_str "
                  "sv_uaddr",
    "listen": "sockfd backlog",
    "bind": "sockfd my_addr_uaddr addrlen uaddr_af uaddr_ip uaddr_ip_port "
            "uaddr_ipv6_flowinfo uaddr_ipv6_scope_id",
    "connect": "sockfd serv_addr_uaddr addrlen uaddr_af uaddr_ip "
               "uaddr_ip_port uaddr_ipv6_flowinfo uaddr_ipv6_scope_id",
    "sendto": "s buf_uaddr len flags flags_str to_uaddr tolen buf to_str",
    "accept": "sockfd addr_uaddr addrlen_uaddr",
    "accept4": "sockfd addr_uaddr addrlen_uaddr flags flags_str",
    "getsockname": "s name_uaddr namelen_uaddr",
    "getpeername": "s name_uaddr namelen_uaddr",
    "recvfrom": "s buf_uaddr len flags flags_str addr_uaddr addrlen_uaddr",
    "sendmsg": "s msg_uaddr flags flags_str",
    "recvmsg": "s msg_uaddr flags flags_str",
    "shutdown": "s how how_str",
    "setsockopt": "fd level level_str optname optname_str optval_uaddr "
                  "optlen",
    "getsockopt": "fd level level_str optname optname_str optval_uaddr "
                  "optlen_uaddr",
}
#: the user strings an alias also gives unquoted, as NAME_unquoted (stap
#: spells mkdirat's pahtname_unquoted)
UNQUOTED = {
    "open": "filename", "openat": "filename", "stat": "filename",
    "statx": "filename", "access": "pathname", "faccessat": "pathname",
    "mkdir": "pathname", "rmdir": "pathname", "unlink": "pathname",
    "chdir": "path", "fstatat": "path", "lstat": "path",
    "mkdirat": "pahtname", "rename": "oldpath newpath",
    "renameat2": "oldname_str newname_str", "unlinkat": "pathname_str",
}
#: the entry aliases without a .return (exit_group never returns: stap's
#: is the never probe, which stpc lacks)
NO_RETURN = {"exit_group"}
RETURN_VARIABLES = {"name", "retval", "retstr"}
#: the .return aliases that give more (pipe's: the descriptors made;
#: wait4's: the status the child left)
MORE_RETURN_VARIABLES = {"pipe": {"fildes_uaddr", "pipe0", "pipe1"},
                         "wait4": {"status_uaddr", "status_str"}}


def expected_variables() -> Dict[str, Set[str]]:
    expected = {}
    for syscall, names in STAP_ENTRY.items():
        unquoted = {f"{path}_unquoted"
                    for path in UNQUOTED.get(syscall, "").split()}
        expected[f"syscall.{syscall}"] = \
            set(names.split()) | unquoted | {"name", "argstr"}
        if syscall not in NO_RETURN:
            expected[f"syscall.{syscall}.return"] = \
                RETURN_VARIABLES | MORE_RETURN_VARIABLES.get(syscall, set())
    expected["syscall_any"] = {"syscall_nr", "name"}
    expected["syscall_any.return"] = {"syscall_nr", "name", "retval"}
    return expected


def stap_alias_variables(entries: Dict[str, str], no_return=(),
                         return_extra=None) -> Dict[str, Set[str]]:
    """What stap 4.8 gives the aliases of ``entries`` (a call's variables
    beyond name and argstr, space-separated): a .return gives name,
    retval and retstr, and ``return_extra``'s names for its call; the
    calls in ``no_return`` have no .return."""
    expected = {}
    for syscall, names in entries.items():
        expected[f"syscall.{syscall}"] = set(names.split()) | \
            {"name", "argstr"}
        if syscall not in no_return:
            expected[f"syscall.{syscall}.return"] = RETURN_VARIABLES | \
                (return_extra or {}).get(syscall, set())
    return expected


#: the tapset files this module checks (test_tapset_syscalls_more.py
#: checks the other syscall files)
FILES = ("syscalls.stp", "syscall_any.stp")


def syscall_aliases(files=FILES) -> Dict[str, Set[str]]:
    """Each syscall alias of the tapset files named, with the variables
    its prologue assigns."""
    library = tapsets.load_library((), ENV)
    found = {}
    for file in library.files:
        if Path(file.file).name not in files:
            continue
        for alias in file.aliases:
            if str(alias.name).startswith(("syscall.", "syscall_any")):
                found[str(alias.name)] = {
                    node.target.name for node in A.walk(alias.body)
                    if isinstance(node, A.Assign) and
                    isinstance(node.target, A.Var)}
    return found


def test_no_alias_is_defined_in_two_files():
    """Each syscall tapset file adds calls of its own: an alias defined
    in two files would fire twice."""
    files_of: Dict[str, Set[str]] = {}
    for file in tapsets.load_library((), ENV).files:
        for alias in file.aliases:
            if str(alias.name).startswith(("syscall.", "syscall_any")):
                files_of.setdefault(str(alias.name), set()).add(
                    Path(file.file).name)
    assert {name: files for name, files in files_of.items()
            if len(files) > 1} == {}


def test_at_least_thirty_syscalls_with_their_return():
    aliases = syscall_aliases()
    entries = [name for name in aliases if not name.endswith(".return")
               and name != "syscall_any"]
    assert len(entries) >= 30
    assert sum(f"{name}.return" in aliases for name in entries) >= 30


def test_variables_are_stap_names():
    assert syscall_aliases() == expected_variables()


def _p(level, script, capsys, kver=KVER, types="btf"):
    status = cli.main([f"-p{level}", "-r", kver, "--kernel-types", types,
                       "-e", script])
    out, err = capsys.readouterr()
    return status, out, err


def _reading_all(aliases) -> str:
    """A script with a probe on each alias that prints every variable it
    has."""
    return "\n".join(
        f"probe {alias} {{ println({', '.join(sorted(names))}) }}"
        for alias, names in sorted(aliases.items()))


def assert_aliases_compile(aliases, kver: str, capsys, function: str,
                           tracepoint: str) -> None:
    """Every alias, each printing all its variables, compiles against
    ``kver``'s BTF, probing ``function`` and ``tracepoint`` among others."""
    if not Path(f"/boot/vmlinuz-{kver}").is_file():
        pytest.skip(f"kernel {kver} is not installed")
    status, out, err = _p(3, _reading_all(aliases), capsys, kver)
    assert (status, err) == (0, "")
    assert function in out and tracepoint in out


@pytest.mark.parametrize("kver", [KVER, KVER_612])
def test_every_alias_compiles_from_btf(kver, capsys):
    assert_aliases_compile(syscall_aliases(), kver, capsys,
                           "__x64_sys_openat", "raw_syscalls:sys_enter")


def test_one_alias_joins_only_what_it_uses(capsys):
    status, out, err = _p(2, 'probe syscall.close { println(argstr) }',
                          capsys)
    assert (status, err) == (0, "")
    probes = out.split("# probes")[1]
    assert len(re.findall(r"^kernel\.function", probes, re.M)) == 1
    functions = out.split("# functions")[1].split("# probes")[0]
    assert "_sys_open_flag_str" not in functions
    assert "return_str" not in functions


def test_openat_elaborates_as_stap_shows_it(capsys):
    status, out, err = _p(2, 'probe syscall.openat { printf("%s(%s)\\n", '
                          'name, argstr) } probe syscall.openat.return { '
                          'println(name, " = ", retstr) }', capsys)
    assert (status, err) == (0, "")
    assert re.search(r'^kernel\.function\("__x64_sys_openat"\) .*<- '
                     r'syscall\.openat = kernel\.function\("__x64_sys_'
                     r'openat"\) <- syscall\.openat;', out, re.M)
    assert re.search(r'^kernel\.function\("__x64_sys_openat"\)\.return ',
                     out, re.M)


def _stap_locals(output: str) -> Dict[str, Set[str]]:
    """The locals `stap -p2` lists for each probe, by the syscall alias
    the probe came through (its `__` temporaries left out)."""
    found: Dict[str, Set[str]] = {}
    alias = None
    for line in output.splitlines():
        if not line.startswith(" "):
            aliases = re.findall(r"<- (syscall(?:\.|_any)[\w.]*) = ",
                                 line)
            alias = aliases[-1] if aliases else None
        elif alias and not line.strip().startswith("#"):
            name = line.strip().split(":")[0]
            if not name.startswith("__"):
                found.setdefault(alias, set()).add(name)
    return found


def assert_stap_gives_the_same_variables(aliases, stap_kver: str) -> None:
    """`stap -u -p2` keeps every local of each alias's prologue: the
    names stpc's aliases set must be the same."""
    debuginfo = Path(os.environ.get("STPC_CACHE_DIR", "")) / "debuginfo" / \
        stap_kver
    if not (debuginfo / f"vmlinux-{stap_kver}").is_file():
        pytest.skip("no vmlinux with DWARF for stap")
    result = subprocess.run(
        ["stap", "-u", "-p2", "-r", stap_kver, "-e",
         f"probe {', '.join(sorted(aliases))} {{ println(name) }}"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "SYSTEMTAP_DEBUGINFO_PATH": str(debuginfo)})
    assert result.returncode == 0, result.stderr
    stap = _stap_locals(result.stdout)
    assert sorted(stap) == sorted(aliases)
    for alias, names in aliases.items():
        assert stap[alias] == names, alias


def test_variables_against_the_live_stap(stap_kver):
    assert_stap_gives_the_same_variables(syscall_aliases(), stap_kver)


@pytest.mark.parametrize("kver, named", [(KVER, True), (KVER_612, False)])
def test_msg_flags_follow_the_kernels_headers(kver, named, capsys):
    """MSG_SENDPAGE_NOTLAST left the kernel's headers in 6.5: stap's
    list names it where the headers define it."""
    if not Path(f"/boot/vmlinuz-{kver}").is_file():
        pytest.skip(f"kernel {kver} is not installed")
    status, out, err = _p(3, "probe begin { println(_msg_flags_str(0x20000)) }",
                          capsys, kver)
    assert (status, err) == (0, "")
    assert ("MSG_SENDPAGE_NOTLAST" in out) == named
