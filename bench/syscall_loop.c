// SPDX-License-Identifier: GPL-2.0
/*
 * bench/syscall_dispatch.py's workload: CALLS getppid() system calls in
 * a tight loop (through syscall(2): no library cache), timed with the
 * monotonic clock; writes "CALLS NANOSECONDS" to FILE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long elapsed_ns(const struct timespec *start,
			    const struct timespec *end)
{
	return (end->tv_sec - start->tv_sec) * 1000000000LL +
	       (end->tv_nsec - start->tv_nsec);
}

int main(int argc, char **argv)
{
	struct timespec start, end;
	long calls, i;
	FILE *out;

	if (argc != 3) {
		fprintf(stderr, "usage: syscall_loop CALLS FILE\n");
		return 2;
	}
	calls = atol(argv[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < calls; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &end);
	out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	fprintf(out, "%ld %lld\n", calls, elapsed_ns(&start, &end));
	return fclose(out) ? 1 : 0;
}
