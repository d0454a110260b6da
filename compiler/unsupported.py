"""What SystemTap has and stpc does not support yet, by name.

A script using one of these is told that it is not supported yet, and
what to write instead where stpc has something, rather than being told
of an unknown name with a "did you mean" that makes it look like a
typo.  The names are SystemTap 4.8's: its tapset functions
(``stap --dump-functions``), its probe points (``--dump-probe-types``)
and the families of its tapsets' probe aliases.
"""

from __future__ import annotations

from typing import Dict, Optional

from . import ast as A
from .errors import StpcError

#: Well-known tapset functions, by subject
_TAPSET_FUNCTION_GROUPS = {
    "time": """
        tz_ctime tz_gmtoff tz_name get_cycles cpu_clock_ns
        cpu_clock_us cpu_clock_ms cpu_clock_s local_clock_us local_clock_ms
        local_clock_s ktime_get_ns msecs_to_string nsecs_to_string
        usecs_to_string start_stopwatch stop_stopwatch read_stopwatch_s
        read_stopwatch_ms read_stopwatch_us read_stopwatch_ns
        delete_stopwatch HZ
    """,
    "context": """
        euid egid gid sid pgrp pexecname pid2execname pid2task cmdline_arg
        cmdline_args cmdline_str env_var modname module_name module_size
        probemod ppfunc pn pnlabel probe_type is_return user_mode stp_pid
        target_set_pid is_myproc caller caller_addr callers addr
        register u_register registers_valid print_regs returnval returnstr
        return_str stack_size stack_used stack_unused mem_page_size
    """,
    "tasks": """
        task_open_file_handles task_max_file_handles
        task_start_time task_stime task_utime task_time_string task_ancestry
        task_cwd_path task_dentry_path task_fd_lookup
    """,
    "arguments": """
        asmlinkage
    """,
    "strings and memory": """
        strpos isdigit string_quoted text_strn kernel_string_quoted
        user_string_quoted user_string_n_quoted kernel_string_utf16
        user_string_utf16 kernel_pointer user_string_warn user_string_n_warn
        user_string2 kernel_string2 bytes_to_string pages_to_string
        kernel_buffer_quoted user_buffer_quoted user_int8 user_int16
        user_int32 user_int64 user_uint8 user_uint16 user_uint32 user_uint64
        user_ushort user_ulong user_char_warn user_int_warn user_long_warn
        user_short_warn
    """,
    "writes (guru mode)": """
        set_kernel_char set_kernel_int set_kernel_long set_kernel_pointer
        set_kernel_short set_kernel_string set_kernel_string_n set_user_char
        set_user_int set_user_long set_user_pointer set_user_short
        set_user_string set_user_string_n
    """,
    "stacks and symbols": """
        print_stack sprint_stack ustack print_syms sprint_syms
        print_usyms sprint_usyms symname symdata symfile
        symline symfileline usymfile usymline usymfileline umodname stack
        ucallers
    """,
    "errors, signals, system calls": """
        errno_str signal_str syscall_name syscall_num sigset_mask_str
    """,
    "output and control": """
        log warn printk system indent thread_indent indent_depth
        thread_indent_depth ansi_clear_screen ansi_cursor_hide
        ansi_cursor_move ansi_cursor_restore ansi_cursor_save
        ansi_cursor_show ansi_new_line ansi_reset_color ansi_set_color
        randint abort raise panic mdelay udelay assert speculate speculation
        commit discard switch_file ftrace dump_stack
    """,
    "files and devices": """
        d_name d_path inode_name inode_path fullpath_struct_file
        fullpath_struct_path reverse_path_walk real_mount bdevname MAJOR
        MINOR MKDEV
    """,
    "network": """
        ntohs ntohl ntohll htons htonl htonll format_ipaddr ip_ntop
        inet_get_ip_source inet_get_local_port sock_fam_num2str
        sock_state_num2str get_netdev_name
    """,
    "memory use and load": """
        get_loadavg_index sprint_loadavg proc_mem_size proc_mem_rss
        proc_mem_shr proc_mem_txt proc_mem_data proc_mem_string
        proc_mem_size_pid proc_mem_rss_pid proc_mem_shr_pid proc_mem_txt_pid
        proc_mem_data_pid proc_mem_string_pid
    """,
}
TAPSET_FUNCTIONS = frozenset(
    name for names in _TAPSET_FUNCTION_GROUPS.values()
    for name in names.split())

#: what does the same with stpc's built-ins
_FUNCTION_EQUIVALENTS = {
    "log": "println(MSG)",
    "kernel_pointer": "kernel_long(ADDR)",
    "local_clock_us": "local_clock_ns() / 1000",
    "local_clock_ms": "local_clock_ns() / 1000000",
    "local_clock_s": "local_clock_ns() / 1000000000",
}

_LIST_FUNCTIONS = "stpc --dump-functions lists the functions stpc has"
_LIST_PROBE_TYPES = "stpc --dump-probe-types lists the probe points stpc has"


def tapset_function(name: str, span: A.Span) -> Optional[StpcError]:
    """The error for a call of a tapset function, None for other names."""
    if name not in TAPSET_FUNCTIONS:
        return None
    instead = _FUNCTION_EQUIVALENTS.get(name)
    return StpcError(f"tapset function '{name}' is not supported yet", span,
                     hint=f"use {instead}" if instead else _LIST_FUNCTIONS)


#: The tapsets' probe alias families: syscall.open, vfs.readv ...  A
#: point stpc's tapsets give (tapset/: vfs.read, vfs.write and their
#: .return) is an alias, expanded before a point is refused here
TAPSET_PROBE_FAMILIES = frozenset("""
    syscall nd_syscall dw_syscall tp_syscall nd1_syscall nd2_syscall
    syscall_any kprocess tp_kprocess dw_kprocess scheduler signal vfs
    generic nfs nfsd sunrpc ioblock ioblock_trace ioscheduler
    ioscheduler_trace scsi socket tcp udp netdev ipmib linuxmib tty vm
    workqueue softirq irq_handler input
""".split())

#: tapset probe points that are one kernel function
_POINT_EQUIVALENTS = {
    ("vfs", "readv"): "vfs_readv", ("vfs", "writev"): "vfs_writev",
    ("vfs", "open"): "vfs_open", ("kprocess", "start"): "schedule_tail",
    ("kprocess", "exit"): "do_exit", ("kprocess", "release"): "release_task",
}

_USER_SPACE = ("stpc probes compiled programs with "
               "process(\"PATH\").function(\"NAME\")")
#: SystemTap's own probe points stpc lacks, by their first component
_OTHER_POINTS: Dict[str, str] = {
    "java": _USER_SPACE, "python2": _USER_SPACE,
    "python3": _USER_SPACE,
    "kprobe": "kernel.function(\"NAME\") and module(\"M\").function(\"NAME\")"
              " work from DWARF or BTF",
    "perf": "timer.profile samples every CPU each millisecond",
    "procfs": _LIST_PROBE_TYPES,
    "netfilter": _LIST_PROBE_TYPES,
    "never": "leave the probe out",
}

#: after kernel or module("M"): probe points stpc lacks
_CODE_POINTS = {
    "trace": "a module's tracepoints are kernel.trace(\"SYSTEM:EVENT\") "
             "too, as in SystemTap",
    "mark": "Linux has had no kernel markers since 2.6.32",
    "data": _LIST_PROBE_TYPES,
}
#: SystemTap's suffixes after .function(...) or .statement(...) that
#: stpc lacks (probes.py refuses the others as malformed)
_CODE_SUFFIXES = ("callee", "callees", "exported", "label", "maxactive",
                  "nearest", "absolute")


def unsupported_point(point: A.ProbePoint,
                      near: Optional[str] = None) -> Optional[StpcError]:
    """The error for a probe point SystemTap has and stpc not yet, None
    for the others (supported or unknown).  ``near``: the ``did you
    mean`` of the aliases stpc has, for a tapset point it has no kernel
    function for."""
    comps = point.components
    head = comps[0].name
    if head in TAPSET_PROBE_FAMILIES:
        return StpcError(f"tapset probe point '{point}' is not supported "
                         "yet", point.span,
                         hint=_tapset_point_hint(point, near))
    if head in _OTHER_POINTS:
        return StpcError(f"'{head}' probe points are not supported yet",
                         point.span, hint=_OTHER_POINTS[head])
    if head == "timer" and len(comps) > 2:
        return _unsupported_suffix(comps[2], "write timer.profile or "
                                   "timer.UNIT(N) without it")
    if head not in ("kernel", "module") or len(comps) < 2:
        return None
    what = comps[1]
    if what.name in _CODE_POINTS and (head, what.name) != ("kernel", "trace"):
        return StpcError(f"'{head}.{what.name}' probe points are not "
                         "supported yet", what.span,
                         hint=_CODE_POINTS[what.name])
    if what.name in ("function", "statement") and isinstance(what.arg, int):
        return StpcError(f"{what.name} probe points at an address are not "
                         "supported yet", what.span,
                         hint=f"give the {what.name} by name: "
                         f"{head}.{what.name}(\"PATTERN\")")
    for suffix in comps[2:]:
        if suffix.name in _CODE_SUFFIXES:
            return _unsupported_suffix(
                suffix, "stpc has .call, .return and .inline after "
                ".function(\"PATTERN\")")
    return None


def _unsupported_suffix(suffix: A.ProbeComponent,
                        hint: str) -> StpcError:
    return StpcError(f"probe point suffix '.{suffix.name}' is not "
                     "supported yet", suffix.span, hint=hint)


def _tapset_point_hint(point: A.ProbePoint, near: Optional[str]) -> str:
    comps = point.components
    family, rest = comps[0].name, [c.name for c in comps[1:]]
    returns = ".return" if rest[-1:] == ["return"] else ""
    name = rest[0] if rest and rest[0] != "return" else "*"
    if family.endswith("syscall") or family == "syscall_any":
        function = f"__x64_sys_{name}"
        return (f"use kernel.function(\"{function}\"){returns}, the system "
                "call's entry on x86-64 (its arguments are in $regs)")
    function = _POINT_EQUIVALENTS.get((family, name))
    if function is not None:
        return f"use kernel.function(\"{function}\"){returns}"
    # an alias of another family is no answer (signal.send is not
    # syscall.sendmsg)
    if near and f"'{family}." in near:
        return near
    return ("use kernel.function(\"NAME\") on the kernel function "
            f"the tapset's {family}.{name} probes")
