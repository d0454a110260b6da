"""The syscall tapset's administration calls (tapset/syscalls_admin.stp;
helpers in aux_syscalls_admin.stp): every alias compiles from BTF on
both test kernels, gives the variables stap 4.8's gives it (the table
here, from `stap -u -p2`, checked against the live stap where it is
installed), and prints as stap's (the VM case tapset/syscalls-admin runs
them all under tests/syscall_workload5.c)."""

from __future__ import annotations

import pytest

from test_tapset_syscalls import KVER, KVER_612, assert_aliases_compile, \
    assert_stap_gives_the_same_variables, stap_alias_variables, \
    syscall_aliases

FILES = ("syscalls_admin.stp",)

#: stap 4.8's variables of each entry alias beyond name and argstr (its
#: NAME_unquoted twins included), in the order the VM case's workload
#: makes the calls; a .return gives name, retval, retstr
_PATH = "path path_uaddr path_unquoted"
STAP_ENTRY = {
    "init_module": "len uargs uargs_unquoted umod_uaddr",
    "finit_module": "fd flags flags_str uargs uargs_unquoted",
    "delete_module": "flags flags_str name_user name_user_unquoted",
    "execveat": "args dirfd dirfd_str env_str filename flags flags_str",
    "add_key": "description_uaddr payload_uaddr plen ringid type_uaddr",
    "request_key": "callout_info_uaddr description_str "
                   "description_str_unquoted description_uaddr destringid "
                   "type_str type_str_unquoted type_uaddr",
    "keyctl": "arg2 arg3 arg4 arg5 option",
    "ptrace": "addr data pid request",
    "perf_event_open": "attr_uaddr cpu flags flags_str group_fd pid",
    "bpf": "attr_uaddr cmd cmd_str size",
    "seccomp": "flags flags_str op op_str uargs_uaddr",
    "userfaultfd": "flags flags_str",
    "faccessat2": "dirfd dirfd_str flags flags_str mode mode_str pathname "
                  "pathname_unquoted",
    "fanotify_init": "event_f_flags event_f_flags_str flags flags_str",
    "fanotify_mark": "dirfd dirfd_str fanotify_fd flags flags_str mask "
                     "mask_str pathname pathname_unquoted",
    "name_to_handle_at": "dfd dfd_str flags flags_str handle_uaddr "
                         "mnt_id_uaddr pathname pathname_unquoted",
    "open_by_handle_at": "flags flags_str handle_uaddr mount_dfd "
                         "mount_dfd_str",
    "memfd_secret": "flags flags_str",
    "pivot_root": "new_root_str new_root_str_unquoted old_root_str "
                  "old_root_str_unquoted",
    "quotactl": "addr_uaddr cmd cmd_str id special special_str "
                "special_str_unquoted",
    "acct": "filename filename_unquoted",
    "sysfs": "arg1 arg2 option",
    "ustat": "dev ubuf_uaddr",
    "vhangup": "",
    "swapon": f"{_PATH} swapflags swapflags_str",
    "swapoff": _PATH,
    "utime": "actime buf_uaddr filename filename_uaddr filename_unquoted "
             "modtime",
    "remap_file_pages": "flags flags_str pgoff prot prot_str size start",
    "mbind": "flags flags_str len maxnode mode mode_str nmask_uaddr start",
    "get_mempolicy": "addr flags flags_str maxnode nmask_uaddr policy_uaddr",
    "set_mempolicy": "maxnode mode mode_str nmask_uaddr",
    "migrate_pages": "maxnode new_nodes old_nodes pid",
    "move_pages": "flags flags_str nodes nr_pages pages pid status",
    "adjtimex": "buf_str buf_uaddr",
    "clock_adjtime": "clk_id clk_id_str tx_uaddr tx_uaddr_str",
    "clock_settime": "clk_id clk_id_str tp_uaddr tp_uaddr_str",
    "reboot": "arg_uaddr flag flag_str magic magic2 magic2_str magic_str",
    "sethostname": "hostname_uaddr len name_str name_str_unquoted",
    "setdomainname": "domainname_str domainname_str_unquoted "
                     "domainname_uaddr len",
    "syslog": "bufp_uaddr len type",
    "ioperm": "from num turn_on",
    "modify_ldt": "bytecount func ptr_uaddr",
    "kexec_load": "entry flags flags_str nr_segments segments_uaddr",
    "kexec_file_load": "cmdline cmdline_len cmdline_unquoted flags "
                       "flags_str initrd_fd kernel_fd",
    "restart_syscall": "",
    "rt_tgsigqueueinfo": "sig sig_str tgid tid uinfo_str uinfo_uaddr",
    "arch_prctl": "addr code code_str",
    "sysctl": "args",
    "iopl": "level",
    "set_thread_area": "u_info_str u_info_uaddr",
    "get_thread_area": "u_info_str u_info_uaddr",
    "uselib": "library library_uaddr library_unquoted",
    "lookup_dcookie": "buffer_uaddr cookie len",
}


#: the values stap's ptrace.return reads after PTRACE_GETEVENTMSG and
#: PTRACE_ARCH_PRCTL
RETURN_EXTRA = {"ptrace": {"arch_prctl_addr", "geteventmsg_data"}}


def test_variables_are_stap_names():
    assert syscall_aliases(FILES) == stap_alias_variables(
        STAP_ENTRY, return_extra=RETURN_EXTRA)


@pytest.mark.parametrize("kver", [KVER, KVER_612])
def test_every_alias_compiles_from_btf(kver, capsys):
    assert_aliases_compile(syscall_aliases(FILES), kver, capsys,
                           "raw_syscalls:sys_enter", "raw_syscalls:sys_exit")


def test_variables_against_the_live_stap(stap_kver):
    assert_stap_gives_the_same_variables(syscall_aliases(FILES), stap_kver)
