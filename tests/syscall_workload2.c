/* The -c command of the VM's case tapset/syscalls-more (tests/vmcases.py,
 * syscall_more_cases): each system call of tapset/syscalls_ids.stp,
 * syscalls_files.stp and syscalls_more.stp, made once through
 * syscall(2) with arguments that print alike in every run (strings and
 * buffers in a mapping at a fixed address).  umask() marks the start;
 * exit() ends it.  Descriptors are numbered from 3 in the order made. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <linux/falloc.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BASE ((char *)0x20000000)
#define SA_RESTORER 0x04000000	/* x86's, which glibc does not export */

static void on_alarm(int sig)
{
	(void)sig;
}

int main(void)
{
	char *m = mmap(BASE, 0x9000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	char *dir = strcpy(m, "/tmp/stpc-sc2");
	char *file = strcpy(m + 0x100, "/tmp/stpc-sc2/f");
	char *hard = strcpy(m + 0x200, "/tmp/stpc-sc2/l");
	char *hard2 = strcpy(m + 0x300, "/tmp/stpc-sc2/l2");
	char *sym = strcpy(m + 0x400, "/tmp/stpc-sc2/s");
	char *sym2 = strcpy(m + 0x500, "/tmp/stpc-sc2/s2");
	char *renamed = strcpy(m + 0x600, "/tmp/stpc-sc2/r");
	char *root = strcpy(m + 0x700, "/");
	char *memfd_name = strcpy(m + 0x780, "stpc");
	int *ids = (int *)(m + 0x800);
	struct __user_cap_header_struct *cap_header = (void *)(m + 0x900);
	struct __user_cap_data_struct *cap_data = (void *)(m + 0x910);
	struct epoll_event *event = (struct epoll_event *)(m + 0xa00);
	struct epoll_event *events = (struct epoll_event *)(m + 0xa40);
	struct timespec *zero_time = (struct timespec *)(m + 0xb00);
	struct iovec *iov = (struct iovec *)(m + 0xb40);
	loff_t *offsets = (loff_t *)(m + 0xb80);
	struct sched_param *param = (struct sched_param *)(m + 0xc00);
	char *pollfds = m + 0xc40;
	char *buf = m + 0x1000;
	char *random = strcpy(m + 0x1800, "rand");
	char *out = m + 0x2000;
	char *uts = m + 0x3000;
	char *mask = m + 0x4000;
	long *robust = (long *)(m + 0x5000);
	long *action = (long *)(m + 0x5100);	/* the kernel's sigaction */
	long *ignore = (long *)(m + 0x5140);
	long *sigset = (long *)(m + 0x5180);
	stack_t *altstack = (stack_t *)(m + 0x5200);
	struct itimerval *itimer = (struct itimerval *)(m + 0x5300);
	struct rlimit *rlim = (struct rlimit *)(m + 0x5340);
	char *tms = m + 0x5400;
	char *info = m + 0x5500;
	char *fs_type = strcpy(m + 0x5580, "stpcfs");
	char *fs_data = strcpy(m + 0x55a0, "size=1m");
	char *no_dir = strcpy(m + 0x55c0, "/tmp/stpc-sc2/m");
	char *fifo = strcpy(m + 0x5600, "/tmp/stpc-sc2/p");
	char *node = strcpy(m + 0x5680, "/tmp/stpc-sc2/n");
	struct timespec *utimes = (struct timespec *)(m + 0x5700);
	struct itimerspec *tspec = (struct itimerspec *)(m + 0x5780);
	struct timeval *tvs = (struct timeval *)(m + 0x57c0);
	struct timezone *tz = (struct timezone *)(m + 0x5800);
	int *futexes = (int *)(m + 0x5840);
	siginfo_t *info_usr1 = (siginfo_t *)(m + 0x5880);
	long *no_signals = (long *)(m + 0x5900);
	long file_fd, fd, epfd, tfd, ifd;
	int pipe_a[2], pipe_b[2];

	cap_header->version = _LINUX_CAPABILITY_VERSION_3;
	event->events = EPOLLIN;
	iov->iov_base = buf;
	iov->iov_len = 3;
	offsets[1] = 8;
	robust[0] = (long)robust;	/* an empty robust futex list */
	action[0] = (long)BASE;		/* a handler never run */
	action[1] = SA_RESTART | SA_RESTORER;
	action[2] = (long)(BASE + 0x10);
	action[3] = 1L << (SIGINT - 1) | 1L << (SIGPIPE - 1) |
		    1L << (SIGUSR2 - 1);
	ignore[0] = (long)SIG_IGN;
	sigset[0] = 1L << (SIGUSR1 - 1);
	altstack->ss_sp = m + 0x6000;
	altstack->ss_size = 0x10000;	/* beyond any frame's minimum */
	itimer->it_interval.tv_sec = 1;
	itimer->it_interval.tv_usec = 500;
	info_usr1->si_signo = SIGUSR1;
	info_usr1->si_code = SI_QUEUE;
	utimes[0].tv_sec = 1;
	utimes[0].tv_nsec = 500;
	utimes[1].tv_nsec = UTIME_OMIT;
	tspec->it_interval.tv_sec = 1;
	tspec->it_interval.tv_nsec = 500;
	tspec->it_value.tv_sec = 100;
	tvs[0].tv_sec = 1;
	tvs[0].tv_usec = 500;
	tvs[1].tv_sec = 2;
	tvs[2].tv_sec = 5;
	tvs[2].tv_usec = 2000000;	/* settimeofday refuses it */
	tz->tz_minuteswest = -60;
	signal(SIGALRM, on_alarm);

	syscall(SYS_umask, 022);
	/* ids, as root */
	syscall(SYS_getuid);
	syscall(SYS_geteuid);
	syscall(SYS_getgid);
	syscall(SYS_getegid);
	syscall(SYS_setuid, 0);
	syscall(SYS_setgid, 0);
	syscall(SYS_setreuid, -1, -1);
	syscall(SYS_setregid, -1, -1);
	syscall(SYS_setresuid, -1, -1, -1);
	syscall(SYS_setresgid, -1, -1, -1);
	syscall(SYS_getresuid, ids, ids + 1, ids + 2);
	syscall(SYS_getresgid, ids, ids + 1, ids + 2);
	syscall(SYS_setgroups, 0, NULL);
	syscall(SYS_getgroups, 0, NULL);
	syscall(SYS_setfsuid, -1);
	syscall(SYS_setfsgid, -1);
	/* the loader's child leads no group: setsid makes it lead both */
	syscall(SYS_setsid);
	syscall(SYS_setpgid, 0, 0);
	syscall(SYS_getpgid, 0);
	syscall(SYS_getpgrp);
	syscall(SYS_getsid, 0);
	syscall(SYS_tgkill, 1, 1, 0);
	syscall(SYS_tkill, 1, 0);
	syscall(SYS_set_tid_address, m + 0x2820);
	syscall(SYS_uname, uts);
	syscall(SYS_personality, 0xffffffff);
	syscall(SYS_getcpu, mask, mask + 4, NULL);
	syscall(SYS_getpriority, PRIO_PROCESS, 0);
	syscall(SYS_setpriority, PRIO_PROCESS, 0, 0);
	syscall(SYS_sched_getaffinity, 0, 128, mask);
	syscall(SYS_sched_setaffinity, 0, 8, mask);
	syscall(SYS_sched_getparam, 0, param);
	syscall(SYS_sched_setparam, 0, param);
	syscall(SYS_sched_getscheduler, 0);
	syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, param);
	syscall(SYS_sched_get_priority_max, SCHED_FIFO);
	syscall(SYS_sched_get_priority_min, SCHED_FIFO);
	syscall(SYS_getrlimit, RLIMIT_NOFILE, out);
	syscall(SYS_getrusage, RUSAGE_SELF, out);
	syscall(SYS_capget, cap_header, cap_data);
	syscall(SYS_capset, cap_header, cap_data);
	/* files */
	syscall(SYS_mkdir, dir, 0755);
	file_fd = syscall(SYS_creat, file, 0644);
	syscall(SYS_fchmod, file_fd, 0600);
	syscall(SYS_fchown, file_fd, 0, 0);
	syscall(SYS_chmod, file, 0640);
	syscall(SYS_chown, file, -1, -1);
	syscall(SYS_lchown, file, 0, 0);
	syscall(SYS_fchmodat, AT_FDCWD, file, 0644);
	syscall(SYS_fchownat, AT_FDCWD, file, 0, 0, AT_SYMLINK_NOFOLLOW);
	syscall(SYS_truncate, file, 3);
	syscall(SYS_fdatasync, file_fd);
	syscall(SYS_syncfs, file_fd);
	syscall(SYS_sync);
	syscall(SYS_flock, file_fd, LOCK_EX | LOCK_NB);
	syscall(SYS_link, file, hard);
	syscall(SYS_linkat, AT_FDCWD, hard, AT_FDCWD, hard2, 0);
	syscall(SYS_symlink, file, sym);
	syscall(SYS_symlinkat, file, AT_FDCWD, sym2);
	syscall(SYS_readlink, sym, buf, 64);
	syscall(SYS_readlinkat, AT_FDCWD, sym2, buf, 64);
	syscall(SYS_renameat, AT_FDCWD, hard2, AT_FDCWD, renamed);
	syscall(SYS_statfs, dir, out);
	syscall(SYS_fstatfs, file_fd, out);
	syscall(SYS_getdents64, file_fd, out, 4096);
	syscall(SYS_chroot, root);
	/* data between descriptors: the file (4), pipes 5-6 and 7-8 */
	fd = syscall(SYS_open, file, O_RDWR);
	syscall(SYS_pipe2, pipe_a, 0);
	syscall(SYS_pipe2, pipe_b, 0);
	syscall(SYS_sendfile, pipe_a[1], fd, offsets + 2, 3);
	syscall(SYS_tee, pipe_a[0], pipe_b[1], 3, 0);
	syscall(SYS_splice, pipe_a[0], NULL, pipe_b[1], NULL, 3,
		SPLICE_F_NONBLOCK);
	syscall(SYS_copy_file_range, fd, offsets, fd, offsets + 1, 3, 0);
	syscall(SYS_preadv, fd, iov, 1, 0, 0);
	syscall(SYS_pwritev, fd, iov, 1, 16, 0);
	/* waiting: descriptors 9 on */
	syscall(SYS_poll, pollfds, 0, 0);
	syscall(SYS_ppoll, pollfds, 0, zero_time, NULL, 8);
	syscall(SYS_pselect6, 0, NULL, NULL, NULL, zero_time, NULL);
	epfd = syscall(SYS_epoll_create1, 0);
	syscall(SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, pipe_a[0], event);
	syscall(SYS_epoll_wait, epfd, events, 4, 0);
	syscall(SYS_epoll_pwait, epfd, events, 4, 0, NULL, 8);
	/* memory */
	syscall(SYS_madvise, m, 0x1000, MADV_WILLNEED);
	syscall(SYS_mremap, m + 0x8000, 0x1000, 0x2000,
		MREMAP_MAYMOVE | MREMAP_FIXED, m + 0x10000);
	syscall(SYS_msync, m, 0x1000, MS_ASYNC);
	syscall(SYS_mincore, m, 0x1000, mask);
	syscall(SYS_mlock, m, 0x1000);
	syscall(SYS_munlock, m, 0x1000);
	syscall(SYS_mlockall, MCL_FUTURE);
	syscall(SYS_munlockall);
	/* time: pause() returns when SIGALRM comes, a second on */
	syscall(SYS_alarm, 1);
	syscall(SYS_pause);
	syscall(SYS_getitimer, ITIMER_REAL, out);
	syscall(SYS_clock_gettime, CLOCK_MONOTONIC, out);
	syscall(SYS_clock_getres, CLOCK_REALTIME, out);
	syscall(SYS_gettimeofday, out, NULL);
	syscall(SYS_time, NULL);
	tfd = syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
	syscall(SYS_timerfd_gettime, tfd, out);
	/* events, randomness, signals */
	ifd = syscall(SYS_inotify_init1, 0);
	syscall(SYS_inotify_rm_watch, ifd, 1);
	syscall(SYS_memfd_create, memfd_name, MFD_CLOEXEC);
	/* GRND_INSECURE: the crng may not be ready yet under TCG */
	syscall(SYS_getrandom, random, 8, GRND_INSECURE);
	syscall(SYS_rt_sigpending, out, 8);
	syscall(SYS_set_robust_list, robust, 24);
	syscall(SYS_get_robust_list, 0, out, out + 8);
	/* signals, select, limits, times: SIGUSR1 is never sent */
	syscall(SYS_rt_sigaction, SIGUSR1, action, out, 8);
	syscall(SYS_rt_sigaction, SIGUSR2, ignore, NULL, 8);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, sigset, out, 8);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, out, 8);
	syscall(SYS_sigaltstack, altstack, out);
	syscall(SYS_select, 0, NULL, NULL, NULL, zero_time);
	/* a zero value disarms the timer whatever its interval */
	syscall(SYS_setitimer, ITIMER_VIRTUAL, itimer, out);
	syscall(SYS_setrlimit, RLIMIT_CORE, rlim);
	syscall(SYS_prlimit64, 0, RLIMIT_CORE, rlim, out);
	syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, out);
	syscall(SYS_times, tms);
	syscall(SYS_sysinfo, info);
	/* nodes, times and space in the directory; no child to wait for */
	syscall(SYS_mknod, fifo, S_IFIFO | 0644, 0);
	syscall(SYS_mknodat, AT_FDCWD, node, S_IFREG | 0600, 0);
	syscall(SYS_utimensat, AT_FDCWD, file, utimes, AT_SYMLINK_NOFOLLOW);
	syscall(SYS_fallocate, fd, FALLOC_FL_KEEP_SIZE, 0x1000, 4096);
	syscall(SYS_fadvise64, fd, 0, 4096, POSIX_FADV_SEQUENTIAL);
	syscall(SYS_waitid, P_ALL, 0, out, WNOHANG | WEXITED, NULL);
	/* watch 1 of descriptor 11; descriptors 13, 14 and 15 */
	syscall(SYS_inotify_add_watch, ifd, dir, IN_CREATE | IN_DELETE);
	syscall(SYS_inotify_init);
	syscall(SYS_eventfd, 3);
	syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* descriptors 16 to 18; a timer 100 s away (the workload is gone
	 * by then) */
	syscall(SYS_epoll_create1, EPOLL_CLOEXEC);
	syscall(SYS_signalfd4, -1, sigset, 8, 0);
	syscall(SYS_signalfd4, -1, sigset, 8, SFD_CLOEXEC);
	syscall(SYS_timerfd_settime, tfd, 0, tspec, out);
	syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 1);
	syscall(SYS_unshare, CLONE_FILES | CLONE_SYSVSEM);
	syscall(SYS_setns, -1, CLONE_NEWNET);
	syscall(SYS_settimeofday, tvs + 2, tz);
	syscall(SYS_sync_file_range, fd, 0, 4096, SYNC_FILE_RANGE_WRITE);
	syscall(SYS_readahead, fd, 0, 4096);
	syscall(SYS_utimes, file, tvs);
	syscall(SYS_futimesat, AT_FDCWD, file, NULL);
	/* process control: harmless options, an unknown one */
	syscall(SYS_prctl, PR_GET_KEEPCAPS);
	syscall(SYS_prctl, PR_GET_NAME, out);
	syscall(SYS_prctl, PR_CAPBSET_READ, CAP_SYS_ADMIN);
	syscall(SYS_prctl, PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0,
		0);
	syscall(SYS_prctl, 0x7fff, 1, 2, 3, 4);
	/* futexes no one waits on, the first one holding 0 */
	syscall(SYS_futex, futexes, FUTEX_WAKE, 1);
	syscall(SYS_futex, futexes, FUTEX_WAIT, 1, zero_time);
	syscall(SYS_futex, futexes, FUTEX_WAKE_OP, 1, 0, futexes + 1,
		FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0));
	syscall(SYS_futex, futexes, FUTEX_WAKE_PRIVATE, 1);
	/* no process 0 to signal; no SIGUSR1 pending; rt_sigsuspend()
	 * returns when SIGALRM comes, a second on */
	syscall(SYS_rt_sigqueueinfo, 0, SIGUSR1, info_usr1);
	syscall(SYS_rt_sigtimedwait, sigset, info_usr1, zero_time, 8);
	syscall(SYS_alarm, 1);
	syscall(SYS_rt_sigsuspend, no_signals, 8);
	/* no such mount point (nor file system); the directory is none */
	syscall(SYS_mount, root, no_dir, fs_type, MS_NOSUID | MS_NODEV,
		fs_data);
	syscall(SYS_umount2, dir, MNT_DETACH);
	syscall(SYS_exit, 0);
	return 1;
}
