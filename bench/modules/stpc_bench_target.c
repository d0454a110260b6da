// SPDX-License-Identifier: GPL-2.0
/*
 * stpc_bench_target - the function bench/overhead.py probes.
 *
 * Writing a decimal N to /proc/stpc_bench calls stpc_bench_hit() N times
 * (call k with item k % 4 and value k) and times the loop with
 * ktime_get_ns(); reading the file prints "CALLS NS" of the last write.
 * Timing in the module keeps the shell, the write system call and the
 * clock reads out of the per-call figure.
 *
 * The items give a probe a member chain to read ($item->owner->name),
 * plus $item->kind and $item->size: item k % 4 has owner "even" for even
 * k, "odd" for odd k, kind k % 4 and size 10 + k % 4.
 */
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>

struct stpc_bench_owner {
	const char *name;
	int id;
};

struct stpc_bench_item {
	struct stpc_bench_owner *owner;
	int kind;
	unsigned long size;
};

static struct stpc_bench_owner stpc_bench_owners[2] = {
	{ .name = "even", .id = 0 },
	{ .name = "odd", .id = 1 },
};

static struct stpc_bench_item stpc_bench_items[4] = {
	{ &stpc_bench_owners[0], 0, 10 },
	{ &stpc_bench_owners[1], 1, 11 },
	{ &stpc_bench_owners[0], 2, 12 },
	{ &stpc_bench_owners[1], 3, 13 },
};

static unsigned long stpc_bench_sink;
static unsigned long stpc_bench_last_calls;
static u64 stpc_bench_last_ns;
static DEFINE_MUTEX(stpc_bench_mutex);

/* noipa: neither inlined nor cloned (no .isra/.constprop name), and the
 * loop cannot drop a call whose result it could compute itself */
noinline __attribute__((__noipa__))
long stpc_bench_hit(struct stpc_bench_item *item, long value)
{
	return item->size + value;
}

#define STPC_BENCH_MAX_CALLS 100000000UL

static ssize_t stpc_bench_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	unsigned long n, k, sum = 0;
	u64 start;
	int ret;

	ret = kstrtoul_from_user(ubuf, count, 10, &n);
	if (ret)
		return ret;
	if (n > STPC_BENCH_MAX_CALLS)
		return -EINVAL;
	mutex_lock(&stpc_bench_mutex);
	start = ktime_get_ns();
	for (k = 0; k < n; k++)
		sum += stpc_bench_hit(&stpc_bench_items[k % 4], k);
	stpc_bench_last_ns = ktime_get_ns() - start;
	stpc_bench_last_calls = n;
	WRITE_ONCE(stpc_bench_sink, sum);
	mutex_unlock(&stpc_bench_mutex);
	return count;
}

static ssize_t stpc_bench_read(struct file *file, char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	char line[48];
	int len;

	mutex_lock(&stpc_bench_mutex);
	len = scnprintf(line, sizeof(line), "%lu %llu\n",
			stpc_bench_last_calls, stpc_bench_last_ns);
	mutex_unlock(&stpc_bench_mutex);
	return simple_read_from_buffer(ubuf, count, ppos, line, len);
}

static const struct proc_ops stpc_bench_proc_ops = {
	.proc_read = stpc_bench_read,
	.proc_write = stpc_bench_write,
	.proc_lseek = noop_llseek,
};

static int __init stpc_bench_init(void)
{
	if (!proc_create("stpc_bench", 0644, NULL, &stpc_bench_proc_ops))
		return -ENOMEM;
	return 0;
}

static void __exit stpc_bench_exit(void)
{
	remove_proc_entry("stpc_bench", NULL);
}

module_init(stpc_bench_init);
module_exit(stpc_bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stpc benchmark: a function to probe, called from /proc");
