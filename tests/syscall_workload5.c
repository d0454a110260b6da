/* The -c command of the VM's case tapset/syscalls-admin (tests/vmcases.py,
 * syscall_admin_cases): each system call of tapset/syscalls_admin.stp,
 * made once or twice through syscall(2) with arguments that print alike
 * in every run (strings and structs in a mapping at a fixed address; the
 * descriptors a fresh process gets).  It runs as root in a throwaway VM,
 * and the calls that could change the system fail before they do: no
 * module loads or unloads, no key is made, no process traced, no filter,
 * swap, quota, accounting, reboot, kexec image, host name or clock is
 * set (Q_SYNC and acct(NULL) do nothing new); vhangup runs without a
 * controlling terminal, so it hangs nothing up.  The process's id
 * differs from run to run: the VM case's script prints it as PID.
 * umask() marks the start; exit() ends it.  The file is descriptor 3,
 * userfaultfd's 4, fanotify's 5. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <asm/ldt.h>
#include <asm/prctl.h>
#include <linux/dqblk_xfs.h>
#include <linux/elf.h>
#include <linux/fanotify.h>
#include <linux/kexec.h>
#include <linux/keyctl.h>
#include <linux/mempolicy.h>
#include <linux/module.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/quota.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#define BASE ((char *)0x20000000)
#define NO_PID 99999
#define UNMAPPED ((void *)0x10)

/* the kernel's struct file_handle, its bytes left empty */
struct empty_file_handle {
	unsigned int handle_bytes;
	int handle_type;
};

/* vhangup would hang up the controlling terminal: the process leaves it
 * first (ignoring the SIGHUP a session leader's leaving sends) */
static void leave_the_terminal(void)
{
	int tty = open("/dev/tty", O_RDWR);

	signal(SIGHUP, SIG_IGN);
	if (tty >= 0) {
		ioctl(tty, TIOCNOTTY);
		close(tty);
	}
}

static char **argv_at(char *where, char *first)
{
	char **argv = (char **)where;

	argv[0] = first;
	argv[1] = NULL;
	return argv;
}

int main(void)
{
	char *m = mmap(BASE, 0x4000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	char *dir = strcpy(m, "/tmp/stpc-sc5");
	char *file = strcpy(m + 0x100, "/tmp/stpc-sc5/f");
	char *module_args = strcpy(m + 0x200, "a=1");
	char *module = strcpy(m + 0x210, "stpc_none");
	char *missing = strcpy(m + 0x220, "/stpc-no-such-file");
	char **argv = argv_at(m + 0x240, strcpy(m + 0x280, "x"));
	char **envp = argv_at(m + 0x260, strcpy(m + 0x290, "A=1"));
	char *key_type = strcpy(m + 0x300, "user");
	char *key = strcpy(m + 0x310, "stpc-key");
	char *payload = strcpy(m + 0x320, "secret");
	char *image = m + 0x340;	/* 16 zero bytes: no ELF header */
	char *attr = m + 0x400;		/* perf's and bpf's, zeroed */
	struct empty_file_handle *handle =
		(struct empty_file_handle *)(m + 0x600);
	int *mount_id = (int *)(m + 0x640);
	unsigned int *action = (unsigned int *)(m + 0x660);
	char *fs_name = strcpy(m + 0x680, "stpc-nofs");
	char *fs_found = m + 0x6c0;
	char *cmdline = strcpy(m + 0x700, "quiet");
	char *host = strcpy(m + 0x710, "stpc");
	unsigned long *nodes = (unsigned long *)(m + 0x720);
	int *policy = (int *)(m + 0x740);
	void **pages = (void **)(m + 0x750);
	int *status = (int *)(m + 0x760);
	struct timex *timex = (struct timex *)(m + 0x800);
	struct timex *bad_timex = (struct timex *)(m + 0x900);
	/* zeroed: adjtimex writes the clock's state back into its own */
	struct timex *clock_timex = (struct timex *)(m + 0xf00);
	struct timespec *when = (struct timespec *)(m + 0xa00);
	char *ldt = m + 0xa40;
	siginfo_t *info = (siginfo_t *)(m + 0xb00);
	char *device = strcpy(m + 0xc00, "/dev/stpc-none");
	char *quota_file = strcpy(m + 0xc20, "/quota.group");
	char *quota = m + 0xc40;	/* a struct if_dqblk, zeroed */
	char *quota_info = m + 0xca0;	/* a struct if_dqinfo, zeroed */
	long *word = (long *)(m + 0xd00);
	struct iovec *regset = (struct iovec *)(m + 0xd10);
	struct utimbuf *times = (struct utimbuf *)(m + 0xd40);
	char *remapped = m + 0x1000;
	char *bound = m + 0x2000;
	unsigned long *fs_base = (unsigned long *)(m + 0x3000);
	struct user_desc *tls = (struct user_desc *)(m + 0x3100);
	pid_t pid = getpid();
	long fanotify;
	pid_t child;

	times->modtime = 951782400;	/* 2000-02-29 */
	regset->iov_base = m + 0xe00;
	regset->iov_len = 0x100;
	*action = SECCOMP_RET_KILL_PROCESS;
	*nodes = 1;
	pages[0] = bound;
	bad_timex->modes = 0x8000;	/* ADJ_ADJTIME without ADJ_OFFSET */
	when->tv_sec = 1;
	when->tv_nsec = 500;
	info->si_code = SI_QUEUE;
	info->si_pid = 1;
	tls->entry_number = 1;
	tls->base_addr = 0x1000;
	tls->limit = 0xfffff;
	tls->seg_32bit = 1;
	tls->contents = 2;
	tls->limit_in_pages = 1;
	tls->useable = 1;

	leave_the_terminal();
	syscall(SYS_mkdir, dir, 0755);
	syscall(SYS_open, file, O_CREAT | O_RDWR, 0644);
	bound[0] = 1;
	syscall(SYS_umask, 022);
	/* modules and exec */
	syscall(SYS_init_module, image, 16, module_args);
	syscall(SYS_finit_module, 99, module_args,
		MODULE_INIT_IGNORE_VERMAGIC | 8);
	syscall(SYS_delete_module, module, O_NONBLOCK);
	syscall(SYS_execveat, AT_FDCWD, missing, argv, envp, 0);
	/* keys: none is found, none made */
	syscall(SYS_add_key, key_type, key, payload, 6, 12345);
	syscall(SYS_request_key, key_type, key, NULL, 0);
	syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0);
	syscall(SYS_keyctl, KEYCTL_SETPERM, 12345, 0x3f010080);
	syscall(SYS_keyctl, KEYCTL_SET_REQKEY_KEYRING,
		KEY_REQKEY_DEFL_NO_CHANGE);
	syscall(SYS_keyctl, KEYCTL_READ, 12345, fs_found, 16);
	syscall(SYS_keyctl, KEYCTL_SEARCH, 12345, key_type, key, 0);
	syscall(SYS_keyctl, 99, 1, 2, 3, 4);
	/* tracing and security: no process 99999 to trace (pid_max is
	 * 32768 in the guest) */
	syscall(SYS_ptrace, PTRACE_PEEKDATA, NO_PID, bound, word);
	syscall(SYS_ptrace, PTRACE_CONT, NO_PID, 0, SIGUSR1);
	syscall(SYS_ptrace, PTRACE_GETREGSET, NO_PID, NT_PRSTATUS, regset);
	syscall(SYS_ptrace, PTRACE_SETOPTIONS, NO_PID, 0,
		PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
	syscall(SYS_ptrace, PTRACE_ARCH_PRCTL, NO_PID, word, ARCH_GET_FS);
	syscall(SYS_ptrace, 0x4300, NO_PID, 0, 0);
	syscall(SYS_perf_event_open, attr, -1, -1, -1, PERF_FLAG_FD_CLOEXEC);
	syscall(SYS_bpf, 0, attr, 16);
	syscall(SYS_bpf, 99, attr, 16);
	syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, action);
	syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		SECCOMP_FILTER_FLAG_TSYNC, NULL);
	syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	/* files and file systems */
	syscall(SYS_faccessat2, AT_FDCWD, file, R_OK | W_OK, AT_EACCESS);
	fanotify = syscall(SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_CLOEXEC,
			   O_RDONLY);
	syscall(SYS_fanotify_mark, fanotify, FAN_MARK_ADD,
		FAN_OPEN | FAN_CLOSE_WRITE | FAN_ONDIR, AT_FDCWD, dir);
	syscall(SYS_name_to_handle_at, AT_FDCWD, file, handle, mount_id, 0);
	handle->handle_bytes = 0;
	syscall(SYS_open_by_handle_at, AT_FDCWD, handle, O_RDONLY);
	syscall(SYS_memfd_secret, 0xff);
	syscall(SYS_pivot_root, missing, dir);
	/* quotas: of no device but Q_SYNC's, which syncs them all */
	syscall(SYS_quotactl, QCMD(Q_GETQUOTA, USRQUOTA), device, 0, quota);
	syscall(SYS_quotactl, QCMD(Q_QUOTAON, GRPQUOTA), device, QFMT_VFS_V0,
		quota_file);
	syscall(SYS_quotactl, QCMD(Q_GETINFO, USRQUOTA), device, 0,
		quota_info);
	syscall(SYS_quotactl, QCMD(Q_GETFMT, PRJQUOTA), device, 0, fs_found);
	syscall(SYS_quotactl, QCMD(Q_SYNC, USRQUOTA), NULL, 0, NULL);
	syscall(SYS_quotactl, QCMD(Q_XGETQUOTA, USRQUOTA), device, 0, quota);
	syscall(SYS_acct, missing);
	syscall(SYS_acct, NULL);
	syscall(SYS_sysfs, 1, fs_name);
	syscall(SYS_sysfs, 2, 0, fs_found);
	syscall(SYS_sysfs, 4, 1, 2);
	syscall(SYS_ustat, 1234, fs_found);
	syscall(SYS_vhangup);
	syscall(SYS_swapon, file, SWAP_FLAG_PREFER | SWAP_FLAG_DISCARD | 5);
	syscall(SYS_swapoff, file);
	syscall(SYS_utime, file, times);
	syscall(SYS_utime, file, NULL);
	syscall(SYS_remap_file_pages, remapped, 0x1000, 0, 0, 0);
	/* memory policy: this process's, node 0's */
	syscall(SYS_mbind, bound, 0x1000, MPOL_BIND | MPOL_F_STATIC_NODES,
		nodes, 2, 0);
	syscall(SYS_get_mempolicy, policy, NULL, 0, 0, 0);
	syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 0);
	syscall(SYS_migrate_pages, 0, 2, nodes, nodes);
	syscall(SYS_move_pages, 0, 1, pages, NULL, status, 0);
	/* time and system */
	syscall(SYS_adjtimex, timex);
	syscall(SYS_adjtimex, bad_timex);
	syscall(SYS_clock_adjtime, CLOCK_REALTIME, clock_timex);
	syscall(SYS_clock_settime, CLOCK_MONOTONIC, when);
	syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0x1234, LINUX_REBOOT_CMD_HALT,
		NULL);
	syscall(SYS_sethostname, host, -1);
	syscall(SYS_setdomainname, host, 100);
	syscall(SYS_syslog, 99, NULL, 0);
	syscall(SYS_syslog, 3, fs_found, 0);
	syscall(SYS_ioperm, 0x80, 1, 0);
	syscall(SYS_modify_ldt, 0, ldt, 16);
	syscall(SYS_kexec_load, 0, 17, NULL, KEXEC_ARCH_X86_64);
	syscall(SYS_kexec_file_load, -1, -1, 6, cmdline,
		KEXEC_FILE_NO_INITRAMFS);
	syscall(SYS_restart_syscall);
	syscall(SYS_rt_tgsigqueueinfo, pid, pid, 0, info);
	/* x86-64's own: only this process's FS base read, its I/O privilege
	 * kept at 0; the TLS-slot calls, uselib and _sysctl are
	 * sys_ni_syscall for a 64-bit task (TLS entry 1 would be none of the
	 * three anyway) */
	syscall(SYS_arch_prctl, ARCH_GET_FS, fs_base);
	syscall(SYS_arch_prctl, 0x9999, 0);
	syscall(SYS__sysctl, fs_found);
	syscall(SYS_iopl, 0);
	syscall(SYS_iopl, 4);
	syscall(SYS_set_thread_area, tls);
	syscall(SYS_set_thread_area, NULL);
	syscall(SYS_get_thread_area, tls);
	syscall(SYS_get_thread_area, UNMAPPED);
	syscall(SYS_uselib, missing);
	syscall(SYS_lookup_dcookie, 0x1234, fs_found, 16);
	/* wait4's status: a child's that exits 3, then none left */
	child = fork();
	if (child == 0)
		_exit(3);
	syscall(SYS_wait4, child, status, 0, NULL);
	syscall(SYS_wait4, -1, status, WNOHANG, NULL);
	syscall(SYS_exit, 0);
	return 1;
}
