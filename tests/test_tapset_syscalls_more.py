"""The syscall tapset's second part (tapset/syscalls_ids.stp,
syscalls_files.stp, syscalls_more.stp; helpers in
aux_syscalls_more.stp): every alias compiles from BTF on both test
kernels, gives the variables stap 4.8's gives it (the table here, from
`stap -u -p2`, checked against the live stap where it is installed),
and its helpers print as stap's (the VM case tapset/syscalls-more runs
them all under tests/syscall_workload2.c)."""

from __future__ import annotations

import pytest

from test_tapset_syscalls import KVER, KVER_612, assert_aliases_compile, \
    assert_stap_gives_the_same_variables, stap_alias_variables, \
    syscall_aliases

FILES = ("syscalls_ids.stp", "syscalls_files.stp", "syscalls_more.stp")

#: stap 4.8's variables of each entry alias beyond name and argstr (its
#: NAME_unquoted twins included); a .return gives name, retval, retstr
STAP_ENTRY = {
    "getuid": "",
    "geteuid": "",
    "getgid": "",
    "getegid": "",
    "setuid": "uid",
    "setgid": "gid",
    "setreuid": "euid ruid",
    "setregid": "egid rgid",
    "setresuid": "euid ruid suid",
    "setresgid": "egid rgid sgid",
    "getresuid": "euid_uaddr ruid_uaddr suid_uaddr",
    "getresgid": "egid_uaddr rgid_uaddr sgid_uaddr",
    "getgroups": "list_uaddr size",
    "setgroups": "list_uaddr size",
    "setfsuid": "fsuid",
    "setfsgid": "fsgid",
    "setpgid": "pgid pid",
    "getpgid": "pid",
    "getpgrp": "",
    "setsid": "",
    "getsid": "pid",
    "exit": "status",
    "tgkill": "pid sig sig_str tgid",
    "tkill": "pid sig sig_str",
    "set_tid_address": "tidptr_uaddr",
    "uname": "name_uaddr",
    "personality": "persona",
    "getcpu": "cpu_uaddr node_uaddr tcache_uaddr",
    "getpriority": "which who",
    "setpriority": "prio which which_str who",
    "sched_getaffinity": "len mask_uaddr pid",
    "sched_setaffinity": "len mask_uaddr pid",
    "sched_getparam": "p_uaddr pid",
    "sched_setparam": "p_uaddr pid",
    "sched_getscheduler": "pid",
    "sched_setscheduler": "p_uaddr pid policy policy_str",
    "sched_get_priority_max": "policy policy_str",
    "sched_get_priority_min": "policy policy_str",
    "getrlimit": "resource rlim_uaddr",
    "getrusage": "usage_uaddr who who_str",
    "capget": "data_uaddr header_uaddr",
    "capset": "data_uaddr header_uaddr",
    "readlink": "buf_uaddr bufsiz path path_unquoted",
    "readlinkat": "buf_uaddr bufsiz dfd dfd_str path path_unquoted",
    "symlink": "newpath oldpath oldpath_unquoted",
    "symlinkat": "newdfd newdfd_str newname newname_str newname_str_unquoted "
                 "oldname oldname_str oldname_str_unquoted",
    "link": "newpath newpath_unquoted oldpath oldpath_unquoted",
    "linkat": "flags flags_str newdirfd newdirfd_str newpath newpath_unquoted "
              "olddirfd olddirfd_str oldpath oldpath_unquoted",
    "renameat": "newdfd newdfd_str newname newname_str newname_str_unquoted "
                "olddfd olddfd_str oldname oldname_str oldname_str_unquoted",
    "creat": "mode pathname pathname_unquoted",
    "chmod": "mode path path_unquoted",
    "fchmod": "fildes mode",
    "fchmodat": "dirfd dirfd_str mode pathname pathname_unquoted",
    "chown": "group owner path path_unquoted",
    "lchown": "group owner path path_unquoted",
    "fchown": "fd group owner",
    "fchownat": "dirfd dirfd_str flags flags_str group owner pathname "
                "pathname_unquoted",
    "truncate": "length path path_uaddr path_unquoted",
    "sync": "",
    "syncfs": "fd",
    "fdatasync": "fd",
    "getdents": "count dirp_uaddr fd",
    "chroot": "path path_unquoted",
    "flock": "fd operation",
    "statfs": "buf_uaddr path path_unquoted",
    "fstatfs": "buf_uaddr fd",
    "sendfile": "count in_fd offset_uaddr out_fd",
    "splice": "fd_in fd_out flags flags_str len off_in off_out",
    "tee": "fdin fdout flags len",
    "copy_file_range": "fd_in fd_out flags len off_in off_out",
    "preadv": "count fd offset vector_uaddr",
    "pwritev": "count fd offset vector_uaddr",
    "poll": "nfds timeout ufds_uaddr",
    "ppoll": "fds_uaddr nfds sigmask sigsetsize tsp tsp_str",
    "pselect6": "exceptfds nfds readfds sigmask timeout timeout_str writefds",
    "epoll_ctl": "epfd event_uaddr fd op op_str",
    "epoll_wait": "epfd events_uaddr maxevents timeout",
    "epoll_pwait": "epfd events_uaddr maxevents sigmask_uaddr sigsetsize "
                   "timeout",
    "madvise": "advice advice_str length start",
    "mremap": "flags flags_str new_address new_size old_address old_size",
    "msync": "flags flags_str length start",
    "mincore": "length start vec_uaddr",
    "mlock": "addr len",
    "munlock": "addr len",
    "mlockall": "flags flags_str",
    "munlockall": "",
    "alarm": "seconds",
    "pause": "",
    "getitimer": "value_uaddr which",
    "clock_gettime": "clk_id clk_id_str tp_uaddr",
    "clock_getres": "clk_id clk_id_str res_uaddr",
    "gettimeofday": "tv_uaddr tz_uaddr",
    "time": "t_uaddr",
    "timerfd_gettime": "fd value_uaddr",
    "memfd_create": "flags flags_str uname uname_unquoted",
    "getrandom": "buf buf_unquoted count flags flags_str",
    "inotify_rm_watch": "fd wd",
    "rt_sigpending": "set_uaddr sigsetsize",
    "set_robust_list": "len list_head_uaddr",
    "get_robust_list": "len_uaddr list_head_uaddr pid",
    "rt_sigaction": "act_str act_uaddr oact_uaddr sig sig_str sigsetsize",
    "rt_sigprocmask": "how how_str oldset_uaddr set_str set_uaddr sigsetsize",
    "sigaltstack": "uoss_uaddr uss_str uss_uaddr",
    "select": "exceptfds_uaddr n readfds_uaddr timeout_str timeout_uaddr "
              "writefds_uaddr",
    "setitimer": "ovalue_uaddr value_str value_uaddr which which_str",
    "setrlimit": "resource resource_str rlim_str rlim_uaddr",
    "prlimit64": "new_rlim_str new_rlim_uaddr old_rlim_uaddr pid resource "
                 "resource_str",
    "times": "buf_str buf_uaddr",
    "sysinfo": "info_str info_uaddr",
    "mknod": "dev mode mode_str pathname pathname_unquoted",
    "mknodat": "dev dirfd dirfd_str mode mode_str pathname pathname_unquoted",
    "utimensat": "dfd dfd_str filename filename_uaddr filename_unquoted "
                 "flags flags_str tsp_str tsp_uaddr",
    "fallocate": "fd len mode mode_str offset",
    "fadvise64": "advice advice_str fd len offset",
    "waitid": "infop_uaddr options options_str pid rusage_uaddr which "
              "which_str",
    "inotify_add_watch": "fd mask mask_str path path_uaddr path_unquoted",
    "inotify_init": "flags",
    "eventfd": "count flags flags_str",
    "epoll_create": "flags size",
    "signalfd": "flags",
    "timerfd_create": "clockid clockid_str flags flags_str",
    "timerfd_settime": "fd flags flags_str ovalue_uaddr value_str "
                       "value_uaddr",
    "membarrier": "cmd cmd_str flags",
    "unshare": "unshare_flags unshare_flags_str",
    "setns": "fd nstype nstype_str",
    "settimeofday": "tv_str tv_uaddr tz_str tz_uaddr",
    "sync_file_range": "fd flags flags_str nbytes offset",
    "readahead": "count fd offset",
    "utimes": "filename filename_uaddr filename_unquoted tvp_uaddr "
              "tvp_uaddr_str",
    "futimesat": "dirfd dirfd_str filename filename_uaddr filename_unquoted "
                 "tvp_str tvp_uaddr",
    "mount": "data data_unquoted filesystemtype filesystemtype_unquoted "
             "mountflags mountflags_str source source_unquoted target "
             "target_unquoted",
    "umount": "flags flags_str target target_unquoted",
    "prctl": "arg2 arg3 arg4 arg5 option",
    "futex": "futex_uaddr op uaddr2_uaddr utime_uaddr val val3",
    "rt_sigsuspend": "set_str set_uaddr sigsetsize",
    "rt_sigtimedwait": "sigsetsize uinfo_str uinfo_uaddr uthese_str "
                       "uthese_uaddr uts_str uts_uaddr",
    "rt_sigqueueinfo": "pid sig sig_name siginfo_str uinfo_uaddr",
}
#: exit ends the thread: no .return (as exit_group in syscalls.stp)
NO_RETURN = {"exit"}
#: the folded calls' .return also gives the flags that name the call
RETURN_EXTRA = {"epoll_create": {"flags"}, "signalfd": {"flags"}}


def test_variables_are_stap_names():
    assert syscall_aliases(FILES) == stap_alias_variables(
        STAP_ENTRY, NO_RETURN, RETURN_EXTRA)


@pytest.mark.parametrize("kver", [KVER, KVER_612])
def test_every_alias_compiles_from_btf(kver, capsys):
    assert_aliases_compile(syscall_aliases(FILES), kver, capsys,
                           "__x64_sys_readlinkat", "raw_syscalls:sys_exit")


def test_variables_against_the_live_stap(stap_kver):
    assert_stap_gives_the_same_variables(syscall_aliases(FILES), stap_kver)
