"""The syscall tapset's POSIX message queue, AIO, process, memory and
I/O calls (tapset/syscalls_mq.stp, syscalls_aio.stp, syscalls_proc.stp,
syscalls_mem_io.stp; helpers in aux_syscalls_proc.stp): every alias
compiles from BTF on both test kernels, gives the variables stap 4.8's
gives it (the table here, from `stap -u -p2`, checked against the live
stap where it is installed), and its helpers print as stap's (the VM
case tapset/syscalls-mq-aio runs them all under
tests/syscall_workload4.c)."""

from __future__ import annotations

import pytest

from test_tapset_syscalls import KVER, KVER_612, assert_aliases_compile, \
    assert_stap_gives_the_same_variables, stap_alias_variables, \
    syscall_aliases

FILES = ("syscalls_mq.stp", "syscalls_aio.stp", "syscalls_proc.stp",
         "syscalls_mem_io.stp")

#: stap 4.8's variables of each entry alias beyond name and argstr (its
#: NAME_unquoted twins included), in the order the VM case's workload
#: makes the calls; a .return gives name, retval, retstr
_PROCESS_VM = "flags liovcnt local_iov_uaddr pid remote_iov_uaddr riovcnt"
_VECTOR2 = "count fd flags flags_str offset vector_uaddr"
STAP_ENTRY = {
    "mq_open": "filename filename_unquoted mode name_uaddr oflag oflag_str "
               "u_attr_uaddr",
    "mq_timedsend": "abs_timeout_uaddr mqdes msg_len msg_prio "
                    "msg_ptr_uaddr",
    "mq_timedreceive": "abs_timeout_uaddr mqdes msg_len msg_prio_uaddr "
                       "msg_ptr_uaddr",
    "mq_notify": "mqdes notification_uaddr",
    "mq_getsetattr": "mqdes u_mqstat_uaddr u_omqstat_uaddr",
    "mq_unlink": "u_name u_name_uaddr u_name_unquoted",
    "io_setup": "ctxp_uaddr maxevents",
    "io_submit": "ctx_id iocbpp_uaddr nr",
    "io_getevents": "ctx_id events_uaddr min_nr nr timeout_uaddr timestr",
    "io_cancel": "ctx_id iocb_uaddr result_uaddr",
    "io_destroy": "ctx",
    "ioprio_set": "ioprio ioprio_str which which_str who",
    "ioprio_get": "which which_str who",
    "kcmp": "idx1 idx2 pid1 pid2 type type_str",
    "process_vm_writev": _PROCESS_VM,
    "process_vm_readv": _PROCESS_VM,
    "sched_setattr": "flags pid sched_attr_str sched_attr_uaddr",
    "sched_getattr": "flags pid sched_attr_str sched_attr_uaddr size",
    "sched_rr_get_interval": "pid tp_uaddr",
    "mlock2": "addr flags flags_str len",
    "pkey_alloc": "flags init_val init_val_str",
    "pkey_mprotect": "addr len pkey prot prot_str",
    "pkey_free": "pkey",
    "pwritev2": _VECTOR2,
    "preadv2": _VECTOR2,
    "vmsplice": "fd flags flags_str iov nr_segs",
    "sendmmsg": "flags flags_str mmsg_uaddr s vlen",
    "recvmmsg": "flags flags_str mmsg_uaddr s timeout_str timeout_uaddr "
                "vlen",
}


def test_variables_are_stap_names():
    assert syscall_aliases(FILES) == stap_alias_variables(STAP_ENTRY)


@pytest.mark.parametrize("kver", [KVER, KVER_612])
def test_every_alias_compiles_from_btf(kver, capsys):
    assert_aliases_compile(syscall_aliases(FILES), kver, capsys,
                           "__x64_sys_preadv2", "raw_syscalls:sys_exit")


def test_variables_against_the_live_stap(stap_kver):
    assert_stap_gives_the_same_variables(syscall_aliases(FILES), stap_kver)
