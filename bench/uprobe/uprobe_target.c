// SPDX-License-Identifier: GPL-2.0
/*
 * The program bench/uprobe_overhead.py probes: `uprobe_target N` calls
 * the noinline bench_hit(kind, value) N times, with kind = i % 4 and
 * value = 10 + kind, and prints N and the nanoseconds the loop took
 * (CLOCK_MONOTONIC, read in the program itself: what a probe adds to
 * each call, trap and handler included).  Built with -g -O2, so that
 * $kind and $value have DWARF locations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

long bench_total;

__attribute__((noinline)) void bench_hit(long kind, long value)
{
	bench_total += kind + value;
	__asm__ volatile("" ::: "memory");
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 0;
	long long start = now_ns();
	long i;

	for (i = 0; i < calls; i++)
		bench_hit(i % 4, 10 + i % 4);
	printf("%ld %lld\n", calls, now_ns() - start);
	return 0;
}
