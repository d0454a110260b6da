/*
 * The user program the uprobe tests probe (tests/test_uprobes.py on the
 * host, tests/vmcases.py in the VM): built with -g -O2.  Each function
 * is noinline so that it keeps an entry to probe; order_total's helper
 * is inlined.  The tag strings are literals in .rodata that the program
 * itself never reads, so a probe reading them meets untouched pages.
 * main calls libc's malloc three times, for the libc probe's count.
 *
 * Two SDT marks (<sys/sdt.h>), each with a semaphore: shop:order runs
 * only while its semaphore is set (a tracer armed it), and counts those
 * runs; shop:done always runs and passes that count, so a script sees
 * whether arming shop:order really set the semaphore.
 */
#include <stdio.h>
#include <stdlib.h>

#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

__extension__ volatile unsigned short shop_order_semaphore
	__attribute__((unused, section(".probes")));
__extension__ volatile unsigned short shop_done_semaphore
	__attribute__((unused, section(".probes")));

struct order {
	long id;
	int quantity;
	const char *tag;
};

static inline __attribute__((always_inline)) long price_of(int quantity)
{
	return quantity * 7L + 3;
}

__attribute__((noinline)) long order_total(const struct order *o,
					    const char *label)
{
	long total = price_of(o->quantity);

	__asm__ volatile("" : : "r"(label) : "memory");
	return total;
}

__attribute__((noinline)) int count_up(int limit)
{
	int i, sum = 0;

	for (i = 0; i < limit; i++) {
		sum += i;	/* loop body */
		__asm__ volatile("" : "+r"(sum));
	}
	return sum;
}

int main(int argc, char **argv)
{
	struct order orders[3] = {
		{ 101, 2, "first" }, { 102, 5, "second" }, { 103, 1, "third" },
	};
	long grand = 0;
	int i, traced = 0;

	for (i = 0; i < 3; i++) {
		long total = order_total(&orders[i], "order");

		grand += total;
		if (__builtin_expect(shop_order_semaphore, 0)) {
			traced++;
			STAP_PROBE3(shop, order, orders[i].quantity, total,
				    orders[i].tag);
		}
	}
	STAP_PROBE2(shop, done, traced, grand);
	grand += count_up(argc > 1 ? atoi(argv[1]) : 4);
	for (i = 0; i < 3; i++) {
		void *volatile block = malloc(16 << i);

		free(block);
	}
	return grand == 0;
}
