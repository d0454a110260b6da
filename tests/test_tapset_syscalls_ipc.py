"""The syscall tapset's extended attribute, SysV IPC and POSIX timer
calls (tapset/syscalls_xattr.stp, syscalls_ipc.stp, syscalls_timers.stp;
helpers in
aux_syscalls_ipc.stp): every alias compiles from BTF on both test
kernels, gives the variables stap 4.8's gives it (the table here, from
`stap -u -p2`, checked against the live stap where it is installed),
and its helpers print as stap's (the VM case tapset/syscalls-ipc runs
them all under tests/syscall_workload3.c)."""

from __future__ import annotations

import pytest

from test_tapset_syscalls import KVER, KVER_612, assert_aliases_compile, \
    assert_stap_gives_the_same_variables, stap_alias_variables, \
    syscall_aliases

FILES = ("syscalls_xattr.stp", "syscalls_ipc.stp", "syscalls_timers.stp")

#: stap 4.8's variables of each entry alias beyond name and argstr (its
#: NAME_unquoted twins included); a .return gives name, retval, retstr
_SETXATTR = "flags flags_str name_str name_str_unquoted name_uaddr size " \
            "value_str value_uaddr"
STAP_ENTRY = {
    "setxattr": f"{_SETXATTR} path path_uaddr path_unquoted",
    "lsetxattr": f"{_SETXATTR} path path_uaddr path_unquoted",
    "fsetxattr": f"{_SETXATTR} filedes",
    "getxattr": "name_str name_str_unquoted path path_unquoted size "
                "value_uaddr",
    "lgetxattr": "name_str name_str_unquoted path path_unquoted size "
                 "value_uaddr",
    "fgetxattr": "filedes name_str name_str_unquoted size value_uaddr",
    "listxattr": "list_uaddr path path_uaddr path_unquoted size",
    "llistxattr": "list_uaddr path path_uaddr path_unquoted size",
    "flistxattr": "filedes list_uaddr size",
    "removexattr": "name_str name_str_unquoted path path_unquoted",
    "lremovexattr": "name_str name_str_unquoted name_uaddr path path_uaddr "
                    "path_unquoted",
    "fremovexattr": "filedes name_str name_str_unquoted name_uaddr",
    "msgget": "key key_str msgflg msgflg_str",
    "msgsnd": "msgflg msgflg_str msgp_uaddr msgsz msqid",
    "msgrcv": "msgflg msgflg_str msgp_uaddr msgsz msgtyp msqid",
    "msgctl": "buf_uaddr cmd cmd_str msqid",
    "semget": "key key_str nsems semflg semflg_str",
    "semop": "nsops semid sops_uaddr",
    "semtimedop": "nsops semid sops_uaddr timeout_str timeout_uaddr",
    "semctl": "arg cmd cmdstr semid semnum",
    "shmget": "key shmflg shmflg_str size",
    "shmat": "shmaddr_uaddr shmflg shmflg_str shmid",
    "shmdt": "shmaddr_uaddr",
    "shmctl": "buf_uaddr cmd cmd_str shmid",
    "timer_create": "clockid clockid_str evp_uaddr timerid_uaddr",
    "timer_settime": "flags ovalue_uaddr timerid value_str value_uaddr",
    "timer_gettime": "timerid value_uaddr",
    "timer_getoverrun": "timerid",
    "timer_delete": "timerid",
}


def test_variables_are_stap_names():
    assert syscall_aliases(FILES) == stap_alias_variables(STAP_ENTRY)


@pytest.mark.parametrize("kver", [KVER, KVER_612])
def test_every_alias_compiles_from_btf(kver, capsys):
    assert_aliases_compile(syscall_aliases(FILES), kver, capsys,
                           "__x64_sys_fsetxattr", "raw_syscalls:sys_exit")


def test_variables_against_the_live_stap(stap_kver):
    assert_stap_gives_the_same_variables(syscall_aliases(FILES), stap_kver)
