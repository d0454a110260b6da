/* The -c command of the VM's case tapset/syscalls-ipc (tests/vmcases.py,
 * syscall_ipc_cases): each system call of tapset/syscalls_xattr.stp,
 * syscalls_ipc.stp and syscalls_timers.stp, made once through syscall(2) with arguments that
 * print alike in every run (strings and buffers in a mapping at a fixed
 * address; a fresh guest numbers its first queue, semaphore set and
 * segment 0, a process its first timer 0).  umask() marks the start; exit() ends it.  The file is
 * descriptor 3. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define BASE ((char *)0x20000000)
#define SEGMENT (BASE + 0x10000)	/* beyond the mapping */
#define IPC_64 0x100			/* the kernel's, which glibc does not export */

int main(void)
{
	char *m = mmap(BASE, 0x4000, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	char *dir = strcpy(m, "/tmp/stpc-sc3");
	char *file = strcpy(m + 0x100, "/tmp/stpc-sc3/f");
	char *attr = strcpy(m + 0x200, "trusted.stpc");
	char *attr2 = strcpy(m + 0x280, "trusted.b");
	char *value = memcpy(m + 0x300, "ab", 3);	/* its NUL too */
	char *value2 = memcpy(m + 0x380, "\001z\"", 3);
	long *message = (long *)(m + 0x400);
	long *received = (long *)(m + 0x480);
	struct sembuf *up = (struct sembuf *)(m + 0x500);
	struct sembuf *down = (struct sembuf *)(m + 0x540);
	struct timespec *timeout = (struct timespec *)(m + 0x580);
	char *stat = m + 0x600;
	int *timer = (int *)(m + 0x700);
	struct itimerspec *setting = (struct itimerspec *)(m + 0x740);
	char *out = m + 0x1000;
	long fd;

	message[0] = 1;
	strcpy((char *)&message[1], "hi");
	up->sem_op = 1;
	down->sem_op = -1;
	down->sem_flg = IPC_NOWAIT;
	timeout->tv_nsec = 500;
	setting->it_interval.tv_sec = 1;
	setting->it_interval.tv_nsec = 500;
	setting->it_value.tv_sec = 100;

	syscall(SYS_mkdir, dir, 0755);
	fd = syscall(SYS_open, file, O_CREAT | O_RDWR, 0644);
	syscall(SYS_umask, 022);
	/* extended attributes: trusted.* as root, on the guest's tmpfs */
	syscall(SYS_setxattr, file, attr, value, 3, XATTR_CREATE);
	syscall(SYS_lsetxattr, file, attr2, value2, 0, XATTR_REPLACE);
	syscall(SYS_fsetxattr, fd, attr2, value2, 3, 0);
	syscall(SYS_getxattr, file, attr, out, 64);
	syscall(SYS_lgetxattr, file, attr2, out, 64);
	syscall(SYS_fgetxattr, fd, attr, NULL, 0);
	syscall(SYS_listxattr, file, out, 64);
	syscall(SYS_llistxattr, file, NULL, 0);
	syscall(SYS_flistxattr, fd, out, 1);
	syscall(SYS_removexattr, file, attr);
	syscall(SYS_lremovexattr, file, attr);
	syscall(SYS_fremovexattr, fd, attr2);
	/* a message queue: one message there and back */
	syscall(SYS_msgget, IPC_PRIVATE, IPC_CREAT | 0600);
	syscall(SYS_msgsnd, 0, message, 3, IPC_NOWAIT);
	syscall(SYS_msgrcv, 0, received, 16, 1, MSG_NOERROR | IPC_NOWAIT);
	syscall(SYS_msgctl, 0, IPC_RMID, NULL);
	/* a semaphore set: up, then down within a timeout */
	syscall(SYS_semget, IPC_PRIVATE, 1, IPC_CREAT | IPC_EXCL | 0600);
	syscall(SYS_semop, 0, up, 1);
	syscall(SYS_semtimedop, 0, down, 1, timeout);
	syscall(SYS_semctl, 0, 0, GETVAL, 0);
	/* x86-64 takes no IPC_64 (EINVAL), but stap names it */
	syscall(SYS_semctl, 0, 0, IPC_STAT | IPC_64, stat);
	syscall(SYS_semctl, 0, 0, IPC_RMID, 0);
	/* a shared memory segment, attached where the workload says */
	syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	syscall(SYS_shmat, 0, SEGMENT, SHM_RDONLY);
	syscall(SYS_shmdt, SEGMENT);
	syscall(SYS_shmctl, 0, IPC_RMID, NULL);
	/* a timer, armed for 100 s, then deleted */
	syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, timer);
	syscall(SYS_timer_settime, 0, 0, setting, out);
	syscall(SYS_timer_gettime, 0, out);
	syscall(SYS_timer_getoverrun, 0);
	syscall(SYS_timer_delete, 0);
	syscall(SYS_exit, 0);
	return 1;
}
