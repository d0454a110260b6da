"""The syscall tapset is complete for x86-64: every system call in the
test kernels' syscall tables (their uapi asm/unistd_64.h) has its
syscall.NAME and syscall.NAME.return in stpc's library, under stap 4.8's
name for it, but for the calls stap 4.8 has no alias for on x86-64
(docs/tapsets.md lists them with the reasons; the live stap confirms
it has none of them)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Set

import pytest

from test_tapset_syscalls import ENV, KVER, KVER_612, tapsets

#: the kernel's name of a call stap 4.8 names otherwise (and stpc after
#: it): the x86-64 mmap is stap's mmap2, the newer variant of a call
#: shares the older one's alias
STAP_NAME = {
    "mmap": "mmap2",
    "pread64": "pread",
    "pwrite64": "pwrite",
    "_sysctl": "sysctl",
    "umount2": "umount",
    "getdents64": "getdents",
    "newfstatat": "fstatat",
    "signalfd4": "signalfd",
    "eventfd2": "eventfd",
    "epoll_create1": "epoll_create",
    "pipe2": "pipe",
    "inotify_init1": "inotify_init",
}

#: the calls stap 4.8 has no alias for on x86-64, by reason
STAP_HAS_NO_ALIAS = {
    # in the table, but sys_ni_syscall on x86-64's kernels
    "not implemented": """
        create_module get_kernel_syms query_module nfsservctl getpmsg
        putpmsg afs_syscall tuxcall security epoll_ctl_old epoll_wait_old
        vserver
    """,
    # stap's alias is for ia64 and mips only
    "another architecture's": "rt_sigreturn",
    # newer than stap 4.8's tapset (the kernel release that added them)
    "newer than stap 4.8": """
        io_pgetevents rseq pidfd_send_signal io_uring_setup io_uring_enter
        io_uring_register open_tree move_mount fsopen fsconfig fsmount
        fspick pidfd_open clone3 close_range openat2 pidfd_getfd
        process_madvise epoll_pwait2 mount_setattr quotactl_fd
        landlock_create_ruleset landlock_add_rule landlock_restrict_self
        process_mrelease futex_waitv set_mempolicy_home_node cachestat
        fchmodat2 map_shadow_stack futex_wake futex_wait futex_requeue
        statmount listmount lsm_get_self_attr lsm_set_self_attr
        lsm_list_modules mseal uretprobe
    """,
}


#: the calls that never return: stap's .return of each is the never
#: probe, which stpc lacks (their entry alias is there)
NEVER_RETURN = {"exit", "exit_group"}


def without_alias() -> Set[str]:
    return {name for names in STAP_HAS_NO_ALIAS.values()
            for name in names.split()}


def syscall_table(kver: str) -> Set[str]:
    """The names of kver's x86-64 system calls (__NR_syscalls, their
    count, left out)."""
    header = Path(f"/lib/modules/{kver}/build/arch/x86/include/generated/"
                  "uapi/asm/unistd_64.h")
    if not header.is_file():
        pytest.skip(f"no kernel headers for {kver}")
    names = set(re.findall(r"^#define __NR_(\w+)\s+\d+", header.read_text(),
                           re.MULTILINE))
    return names - {"syscalls"}


def library_syscalls() -> Set[str]:
    """The NAME of every syscall.NAME alias in stpc's tapset library."""
    library = tapsets.load_library((), ENV)
    return {str(alias.name)[len("syscall."):] for file in library.files
            for alias in file.aliases
            if str(alias.name).startswith("syscall.")}


@pytest.mark.parametrize("kver", [KVER, KVER_612])
def test_every_syscall_of_the_table_has_its_alias(kver):
    aliases = library_syscalls()
    missing = sorted(
        call for call in syscall_table(kver) - without_alias()
        if not {STAP_NAME.get(call, call),
                f"{STAP_NAME.get(call, call)}.return"} <= aliases
        and not (call in NEVER_RETURN and call in aliases))
    assert missing == []


def test_the_exceptions_are_in_a_table_and_have_no_alias():
    """Each name listed is a call of the newer kernel's table, and none
    has an alias of its own in stpc's library (a renamed call's is its
    stap name)."""
    table = syscall_table(KVER_612)
    listed = without_alias() | set(STAP_NAME)
    assert listed <= table
    assert not listed & library_syscalls()


def test_the_live_stap_has_no_alias_for_the_exceptions(stap_kver):
    """`stap -u -p2` on optional probes: it resolves the stap names of the
    renamed calls and none of the names listed."""
    debuginfo = Path(os.environ.get("STPC_CACHE_DIR", "")) / "debuginfo" / \
        stap_kver
    if not (debuginfo / f"vmlinux-{stap_kver}").is_file():
        pytest.skip("no vmlinux with DWARF for stap")
    names = sorted(without_alias() | set(STAP_NAME)) + \
        sorted(set(STAP_NAME.values()))
    result = subprocess.run(
        ["stap", "-u", "-p2", "-r", stap_kver, "-e",
         "probe " + ", ".join(f"syscall.{name} ?" for name in names) +
         " { println(name) }"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "SYSTEMTAP_DEBUGINFO_PATH": str(debuginfo)})
    assert result.returncode == 0, result.stderr
    resolved = set(re.findall(r"<- syscall\.(\w+) = ", result.stdout))
    assert resolved == set(STAP_NAME.values())
