/*
 * The program of the process.thread.begin/.end VM case (tests/vmcases.py):
 * its main thread starts one thread, joins it, and waits until the
 * thread's exit has finished in the kernel (its /proc/self/task entry is
 * gone: the join returns before the kernel's exit tracepoint has run),
 * so the thread's end comes before the process's.
 */
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

static void *worker(void *arg)
{
	return arg;
}

static int threads_left(void)
{
	DIR *dir = opendir("/proc/self/task");
	int n = 0;

	while (dir && readdir(dir))
		n++;
	if (dir)
		closedir(dir);
	return n - 2;	/* . and .. */
}

int main(void)
{
	pthread_t thread;
	int i;

	if (pthread_create(&thread, NULL, worker, NULL) ||
	    pthread_join(thread, NULL))
		return 1;
	for (i = 0; i < 5000 && threads_left() > 1; i++)
		usleep(1000);
	return 0;
}
