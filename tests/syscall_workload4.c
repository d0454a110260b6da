/* The -c command of the VM's case tapset/syscalls-mq-aio (tests/vmcases.py,
 * syscall_mq_aio_cases): each system call of tapset/syscalls_mq.stp,
 * syscalls_aio.stp, syscalls_proc.stp and syscalls_mem_io.stp, made once
 * or twice through syscall(2) with arguments that print alike in every
 * run (strings, structs and buffers in a mapping at a fixed address; the
 * descriptors a fresh process gets).  The AIO context and the process's
 * id differ from run to run: the VM case's script prints them as CTX and
 * PID.  umask() marks the start; exit() ends it.  The file is descriptor
 * 3, the pipe 4 and 5, the socket pair 6 and 7, the queue 8 and 9.  The
 * guest's CPU (QEMU's TCG) has protection keys: pkey_alloc gives key 1. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/ioprio.h>
#include <linux/kcmp.h>
#include <mqueue.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BASE ((char *)0x20000000)

/* the kernel's struct sched_attr (glibc 2.36 has none) */
struct sched_attr_v1 {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
};

static struct iovec *iov_at(char *where, void *base, size_t len)
{
	struct iovec *iov = (struct iovec *)where;

	iov->iov_base = base;
	iov->iov_len = len;
	return iov;
}

/* one message of a single buffer */
static struct mmsghdr *mmsg_at(char *where, struct iovec *iov)
{
	struct mmsghdr *mmsg = (struct mmsghdr *)where;

	mmsg->msg_hdr.msg_iov = iov;
	mmsg->msg_hdr.msg_iovlen = 1;
	return mmsg;
}

int main(void)
{
	char *m = mmap(BASE, 0x4000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	char *dir = strcpy(m, "/tmp/stpc-sc4");
	char *file = strcpy(m + 0x100, "/tmp/stpc-sc4/f");
	char *queue = strcpy(m + 0x200, "stpc-mq");
	struct mq_attr *attr = (struct mq_attr *)(m + 0x240);
	struct mq_attr *old_attr = (struct mq_attr *)(m + 0x280);
	char *message = memcpy(m + 0x300, "hi", 3);
	char *received = m + 0x340;
	unsigned int *priority = (unsigned int *)(m + 0x360);
	struct timespec *deadline = (struct timespec *)(m + 0x380);
	aio_context_t *ctx = (aio_context_t *)(m + 0x400);
	struct iocb *write = (struct iocb *)(m + 0x440);
	struct iocb **writes = (struct iocb **)(m + 0x480);
	struct io_event *events = (struct io_event *)(m + 0x4c0);
	struct timespec *aio_timeout = (struct timespec *)(m + 0x540);
	struct io_event *cancelled = (struct io_event *)(m + 0x580);
	struct sched_attr_v1 *got = (struct sched_attr_v1 *)(m + 0x600);
	struct sched_attr_v1 *set = (struct sched_attr_v1 *)(m + 0x640);
	struct timespec *interval = (struct timespec *)(m + 0x680);
	char *copied = memcpy(m + 0x720, "abc", 3);
	char *copy = m + 0x730;
	char *data = memcpy(m + 0x760, "xyz", 3);
	struct iovec *vector = iov_at(m + 0x740, data, 3);
	struct iovec *local = iov_at(m + 0x700, copied, 3);
	struct iovec *remote = iov_at(m + 0x710, copy, 3);
	struct mmsghdr *sent = mmsg_at(m + 0x800, iov_at(m + 0x880, message, 2));
	struct mmsghdr *got_mmsg = mmsg_at(m + 0x900,
					   iov_at(m + 0x980, received, 16));
	struct timespec *recv_timeout = (struct timespec *)(m + 0x9a0);
	char *locked = m + 0x2000;
	char *keyed = m + 0x3000;
	int pipe_fds[2], sockets[2];
	long fd, writer, reader, pkey;
	pid_t pid = getpid();

	attr->mq_maxmsg = 4;
	attr->mq_msgsize = 16;
	aio_timeout->tv_sec = 1;
	recv_timeout->tv_sec = 1;
	recv_timeout->tv_nsec = 500;
	set->size = 48;			/* SCHED_ATTR_SIZE_VER0 */
	set->sched_nice = -2;

	syscall(SYS_mkdir, dir, 0755);
	fd = syscall(SYS_open, file, O_CREAT | O_RDWR, 0644);
	pipe2(pipe_fds, 0);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sockets);
	write->aio_lio_opcode = IOCB_CMD_PWRITE;
	write->aio_fildes = fd;
	write->aio_buf = (uintptr_t)copied;
	write->aio_nbytes = 3;
	writes[0] = write;
	syscall(SYS_umask, 022);
	/* a message queue: one message there and back, then unlinked twice */
	writer = syscall(SYS_mq_open, queue, O_RDWR | O_CREAT, 0600, attr);
	reader = syscall(SYS_mq_open, queue, O_RDONLY);
	syscall(SYS_mq_timedsend, writer, message, 3, 7, deadline);
	syscall(SYS_mq_timedreceive, reader, received, 16, priority, NULL);
	syscall(SYS_mq_notify, writer, NULL);
	syscall(SYS_mq_getsetattr, writer, NULL, old_attr);
	syscall(SYS_mq_unlink, queue);
	syscall(SYS_mq_unlink, queue);
	/* AIO: one write to the file, its event, a cancel too late */
	syscall(SYS_io_setup, 4, ctx);
	syscall(SYS_io_submit, *ctx, 1, writes);
	syscall(SYS_io_getevents, *ctx, 1, 4, events, aio_timeout);
	syscall(SYS_io_cancel, *ctx, write, cancelled);
	syscall(SYS_io_destroy, *ctx);
	/* the process's own I/O priority, descriptors, memory, scheduling */
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
		IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 4));
	syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
	syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd, fd);
	syscall(SYS_kcmp, pid, pid, KCMP_VM, 0, 0);
	syscall(SYS_process_vm_writev, pid, local, 1, remote, 1, 0);
	syscall(SYS_process_vm_readv, pid, local, 1, remote, 1, 0);
	syscall(SYS_sched_setattr, 0, set, 0);
	syscall(SYS_sched_getattr, 0, got, sizeof(*got), 0);
	syscall(SYS_sched_rr_get_interval, 0, interval);
	/* memory: a page locked on fault, another with a protection key */
	syscall(SYS_mlock2, locked, 0x1000, MLOCK_ONFAULT);
	pkey = syscall(SYS_pkey_alloc, 0, PKEY_DISABLE_WRITE);
	syscall(SYS_pkey_mprotect, keyed, 0x1000, PROT_READ | PROT_WRITE, pkey);
	syscall(SYS_pkey_free, pkey);
	/* vectors: written at 16 and read back at 0, then into the pipe */
	syscall(SYS_pwritev2, fd, vector, 1, 0x10, 0, RWF_DSYNC);
	syscall(SYS_preadv2, fd, vector, 1, 0, 0, RWF_HIPRI);
	syscall(SYS_vmsplice, pipe_fds[1], vector, 1, SPLICE_F_NONBLOCK);
	/* one datagram across the socket pair */
	syscall(SYS_sendmmsg, sockets[0], sent, 1, MSG_DONTWAIT);
	syscall(SYS_recvmmsg, sockets[1], got_mmsg, 1, MSG_DONTWAIT,
		recv_timeout);
	syscall(SYS_exit, 0);
	return 1;
}
