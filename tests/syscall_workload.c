/* The -c command of the VM's syscall tapset case (tests/vmcases.py,
 * syscall_tapset_cases): each system call the tapset has, made once
 * through syscall(2) with arguments that print alike in every run
 * (strings and buffers in a mapping at a fixed address).  getpgid()
 * marks the start (after a umask() that makes the next one's return
 * known); execve() of /bin/true ends it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BASE ((char *)0x10000000)

int main(void)
{
	char *m = mmap(BASE, 0x4000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	char *dir = strcpy(m, "/tmp/stpc-sc");
	char *file = strcpy(m + 0x100, "/tmp/stpc-sc/f");
	char *other = strcpy(m + 0x200, "/tmp/stpc-sc/g");
	char *missing = strcpy(m + 0x300, "/tmp/stpc-sc/missing");
	char *subdir = strcpy(m + 0x400, "/tmp/stpc-sc/d");
	char *truebin = strcpy(m + 0x500, "/bin/true");
	char **argv = (char **)(m + 0x600);
	char **envp = (char **)(m + 0x700);
	char *buf = strcpy(m + 0x1000, "hello\n");
	char *statbuf = m + 0x2000;
	struct iovec *iov = (struct iovec *)(m + 0x3000);
	struct timespec *ts = (struct timespec *)(m + 0x3100);
	int *fds = (int *)(m + 0x2800);
	int *optval = (int *)(m + 0x2900);
	socklen_t *optlen = (socklen_t *)(m + 0x2910);
	struct msghdr *msg = (struct msghdr *)(m + 0x2a00);
	char *ping = strcpy(m + 0x2b00, "ping");
	struct sockaddr_in *sin = (struct sockaddr_in *)(m + 0x2c00);
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(m + 0x2c40);
	struct sockaddr_un *sun = (struct sockaddr_un *)(m + 0x2c80);
	socklen_t sun_len;
	long fd, pid, sock, udp;

	argv[0] = strcpy(m + 0x800, "true");
	argv[1] = strcpy(m + 0x810, "x y");
	argv[2] = NULL;
	envp[0] = strcpy(m + 0x820, "A=1");
	envp[1] = NULL;
	iov->iov_base = buf;
	iov->iov_len = 3;
	ts->tv_sec = 0;
	ts->tv_nsec = 1000;
	*optval = 1;
	*optlen = sizeof(int);
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(8080);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(8080);
	sin6->sin6_addr = in6addr_loopback;
	sun->sun_family = AF_UNIX;
	strcpy(sun->sun_path, "/tmp/stpc-sc-sock");
	sun_len = offsetof(struct sockaddr_un, sun_path) +
		  strlen(sun->sun_path) + 1;
	unlink(sun->sun_path);	/* an earlier run's; before the marker */

	syscall(SYS_umask, 022);
	syscall(SYS_getpgid, 0);
	syscall(SYS_umask, 022);
	syscall(SYS_mkdir, dir, 0755);
	fd = syscall(SYS_open, file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	syscall(SYS_write, fd, buf, 6);
	syscall(SYS_pwrite64, fd, buf, 3, 10);
	syscall(SYS_writev, fd, iov, 1);
	syscall(SYS_fsync, fd);
	syscall(SYS_ftruncate, fd, 5);
	syscall(SYS_lseek, fd, 0, SEEK_SET);
	syscall(SYS_close, fd);
	fd = syscall(SYS_openat, AT_FDCWD, file, O_RDONLY | O_CLOEXEC);
	syscall(SYS_read, fd, buf, 4);
	syscall(SYS_pread64, fd, buf, 2, 1);
	syscall(SYS_readv, fd, iov, 1);
	syscall(SYS_dup, fd);
	syscall(SYS_dup2, fd, 10);
	syscall(SYS_dup3, fd, 11, O_CLOEXEC);
	syscall(SYS_fcntl, fd, F_GETFL, 0);
	syscall(SYS_ioctl, fd, 0x5401, buf);
	syscall(SYS_fstat, fd, statbuf);
	syscall(SYS_stat, file, statbuf);
	syscall(SYS_lstat, file, statbuf);
	syscall(SYS_newfstatat, AT_FDCWD, file, statbuf, AT_SYMLINK_NOFOLLOW);
	syscall(SYS_statx, AT_FDCWD, file, 0, 0x7ff, statbuf);
	syscall(SYS_access, missing, R_OK | W_OK);
	syscall(SYS_faccessat, AT_FDCWD, file, F_OK);
	syscall(SYS_openat, AT_FDCWD, missing, O_RDONLY);
	syscall(SYS_rename, file, other);
	syscall(SYS_renameat2, AT_FDCWD, other, AT_FDCWD, file, 1);
	syscall(SYS_chdir, dir);
	syscall(SYS_fchdir, fd);
	syscall(SYS_getcwd, buf, 0x100);
	syscall(SYS_unlink, file);
	syscall(SYS_mkdirat, AT_FDCWD, subdir, 0700);
	syscall(SYS_unlinkat, AT_FDCWD, subdir, AT_REMOVEDIR);
	syscall(SYS_rmdir, dir);
	syscall(SYS_nanosleep, ts, NULL);
	syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, ts, NULL);
	/* descriptors 5 on: 0-4, 10 and 11 are open */
	sock = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	udp = syscall(SYS_socket, AF_INET, SOCK_DGRAM, IPPROTO_UDP);
	syscall(SYS_setsockopt, udp, SOL_SOCKET, SO_REUSEADDR, optval, 4);
	syscall(SYS_getsockopt, udp, SOL_SOCKET, SO_TYPE, optval, optlen);
	syscall(SYS_getpeername, udp, statbuf, optlen);
	syscall(SYS_listen, sock, 5);
	syscall(SYS_accept, sock, NULL, NULL);
	syscall(SYS_accept4, sock, NULL, NULL, SOCK_NONBLOCK);
	syscall(SYS_socketpair, AF_UNIX, SOCK_DGRAM, 0, fds);
	syscall(SYS_getsockname, fds[0], statbuf, optlen);
	syscall(SYS_sendmsg, fds[0], msg, MSG_DONTWAIT);
	syscall(SYS_recvmsg, fds[1], msg, MSG_PEEK);
	syscall(SYS_recvfrom, fds[1], buf, 16, MSG_DONTWAIT, NULL, NULL);
	syscall(SYS_shutdown, fds[0], SHUT_RDWR);
	/* UDP on loopback to itself; an IPv6 address the IPv4 socket
	 * refuses; a path for the unix socket */
	syscall(SYS_bind, udp, sin, sizeof(*sin));
	syscall(SYS_connect, udp, sin, sizeof(*sin));
	syscall(SYS_sendto, udp, ping, 4, MSG_DONTWAIT, sin, sizeof(*sin));
	syscall(SYS_connect, udp, sin6, sizeof(*sin6));
	syscall(SYS_bind, sock, sun, sun_len);
	syscall(SYS_pipe, fds + 2);
	syscall(SYS_pipe2, fds + 4, O_CLOEXEC);
	syscall(SYS_mmap, m + 0x8000, 0x1000, PROT_READ,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	/* the children end at once: only the parent's calls are traced */
	if (syscall(SYS_clone, CLONE_PARENT_SETTID | SIGCHLD, 0, m + 0x2820,
		    0, 0) == 0)
		_exit(0);
	if (syscall(SYS_fork) == 0)
		_exit(0);
	if (vfork() == 0)
		_exit(0);
	syscall(SYS_mprotect, m + 0x3000, 0x1000, PROT_READ);
	syscall(SYS_munmap, m + 0x3000, 0x1000);
	syscall(SYS_brk, 0);
	pid = syscall(SYS_getpid);
	syscall(SYS_getppid);
	syscall(SYS_gettid);
	syscall(SYS_kill, pid, 0);
	syscall(SYS_sched_yield);
	syscall(SYS_wait4, -1, NULL, WNOHANG, NULL);
	syscall(SYS_execve, truebin, argv, envp);
	return 1;
}
