// SPDX-License-Identifier: GPL-2.0
/*
 * stpc_fixture - a probe target for the stpc test suite.
 *
 * This module does nothing useful.  It contains a handful of small
 * functions with varied parameter kinds which the tests attach kprobes
 * to, reading parameters, locals, struct members and return values via
 * DWARF.  Writing a decimal N to /proc/stpc_fixture calls every probed
 * function N times; reading the file prints stpc_fixture_counter.
 *
 * Argument values
 * ===============
 *
 * A write of N (0 <= N <= 100000, anything else is -EINVAL) runs
 * iterations k = 0, 1, ..., N - 1, where k is an unsigned int that
 * restarts at 0 on every write.  Iteration k calls, in this order:
 *
 * 1. long stpc_fixture_ints(int i, unsigned int u, short s,
 *                           unsigned char uc, long l, unsigned long ul)
 *	i  = (int)k - 5
 *	u  = 4000000000U + k
 *	s  = -3 - (k % 100)			(-3 ... -102)
 *	uc = (200 + k) % 256
 *	l  = -1000000007L * k - 1
 *	ul = 0xfedcba9876543210UL + k
 *	returns (long)((unsigned long)i + u + s + uc + l + ul), i.e. the
 *	sum of the six values (sign-extended where signed) modulo 2^64,
 *	read back as a signed 64-bit value.
 *
 * 2. int stpc_fixture_ptr(int *p, const char *name)
 *	*p   = 7 * (int)k - 20		(p points into the caller's frame)
 *	name = { "alpha", "bravo", "charlie", "delta" }[k % 4]
 *	returns 2 * abs(*p) + 1 + strlen(name); the 2 * abs(v) + 1 part is
 *	the inlined stpc_fixture_inlined_helper(v).
 *
 * 3. int stpc_fixture_struct(struct stpc_fixture_item *item)
 *	item == &stpc_fixture_cur_item, filled in before the call:
 *	id     = 100 + k
 *	name   = "item-<k>" (k in decimal), rest of the array zeroed
 *	label  = { "red", "green", "blue" }[k % 3]
 *	pos.x  = 10 * k - 5
 *	pos.y  = -20 * k - 7
 *	owner  == &stpc_fixture_cur_owner with
 *		 uid  = 1000 + k
 *		 comm = "stpc-owner" (rest of the array zeroed)
 *	flags  = (0xa500 + k) % 65536
 *	vals[j] = 4 * k + j - 6			(j = 0 ... 3)
 *	returns id + flags + owner->uid + vals[0] + vals[1] + vals[2] +
 *	vals[3] + (pos.x + pos.y) + strlen(label), as an int.
 *
 * 4. struct stpc_fixture_point stpc_fixture_byval(struct stpc_fixture_point p,
 *						   int scale)
 *	p.x   = k + 1
 *	p.y   = -3 * k - 2
 *	scale = (k % 5) - 2			(-2 ... 2)
 *	returns { .x = p.x * scale, .y = p.y * scale + 1 }
 *
 * 5. long stpc_fixture_return(long a, long b)
 *	a = 1000 * k - 3
 *	b = -k - 7
 *	returns a * b + 1
 *
 * 6. int stpc_fixture_locals(int n)
 *	n = (k % 10) + 1			(1 ... 10)
 *	Loop, for i = 0 ... n - 1:
 *		sum += 2 * i + 1;
 *		acc = acc * 3 + sum;	(the line marked with the loop-line
 *					 comment in stpc_fixture_locals())
 *	starting from sum = 0, acc = 1.  At the start of the marked line
 *	in pass i: i = i, sum = (i + 1)^2, and acc still holds the value
 *	from before the pass (1 in pass 0, then 3 * acc + sum of the
 *	previous pass).  Returns sum + acc with sum = n^2 at that point.
 *
 * 7. long stpc_fixture_split(long v), v = k: returns -v when v % 3 == 2
 *	(the unlikely path, calling stpc_fixture_rare(v) first), else 2 * v.
 *	GCC splits it: stpc_fixture_split.cold is in .text.unlikely.
 *
 * The formulas treat k as a plain non-negative integer.  For k < 100000
 * every value fits its type without wrapping, except where a modulo is
 * written out and for the 2^64 wrap of stpc_fixture_ints' result.
 *
 * Globals: stpc_fixture_counter (int) is incremented once inside each
 * of the first six functions, so a write of N raises it by exactly 6 * N.
 * stpc_fixture_sink (long) accumulates the return values.
 * stpc_fixture_cur_item and stpc_fixture_cur_owner keep the values of
 * the last iteration run.
 */

#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define STPC_FIXTURE_MAX_N	100000U

/*
 * Keep each probed function out of line and unspecialised: noipa stops
 * inlining, cloning (.constprop, .isra, .part), identical code folding
 * and interprocedural register/constant assumptions in the callers.
 */
#if __has_attribute(__noipa__)
#define __stpc_probed	noinline __attribute__((__noipa__))
#else
#define __stpc_probed	noinline __noclone
#endif

struct stpc_fixture_point {
	long x;
	long y;
};

struct stpc_fixture_owner {
	int uid;
	char comm[16];
};

struct stpc_fixture_item {
	int id;
	char name[16];
	const char *label;
	struct stpc_fixture_point pos;
	struct stpc_fixture_owner *owner;
	unsigned short flags;
	int vals[4];
};

static int stpc_fixture_counter;
static long stpc_fixture_sink;

static struct stpc_fixture_owner stpc_fixture_cur_owner = {
	.uid = 1000,
	.comm = "stpc-owner",
};

static struct stpc_fixture_item stpc_fixture_cur_item = {
	.owner = &stpc_fixture_cur_owner,
};

/* Serialises writers and the counter read. */
static DEFINE_MUTEX(stpc_fixture_lock);

static const char * const stpc_fixture_names[] = {
	"alpha", "bravo", "charlie", "delta",
};

static const char * const stpc_fixture_labels[] = {
	"red", "green", "blue",
};

/*
 * Force values into registers at this point without emitting any code.
 * The compiler may not move the computations that produce or consume
 * them across the (volatile) empty asm, which keeps the code of the
 * lines in between contiguous and the values live and current there
 * for statement probes.
 */
#define stpc_fixture_pin1(a) \
	asm volatile("" : "+r" (a))
#define stpc_fixture_pin3(a, b, c) \
	asm volatile("" : "+r" (a), "+r" (b), "+r" (c))

static __always_inline int stpc_fixture_inlined_helper(int v)
{
	int r;

	stpc_fixture_pin1(v);
	r = v < 0 ? -v : v;
	return 2 * r + 1;
}

static __stpc_probed long stpc_fixture_ints(int i, unsigned int u, short s,
					    unsigned char uc, long l,
					    unsigned long ul)
{
	unsigned long total;

	stpc_fixture_counter++;
	total = (unsigned long)i + u;
	total += s;
	total += uc;
	total += l;
	total += ul;
	return (long)total;
}

static __stpc_probed int stpc_fixture_ptr(int *p, const char *name)
{
	int val;

	stpc_fixture_counter++;
	val = stpc_fixture_inlined_helper(*p);
	return val + strlen(name);
}

static __stpc_probed int stpc_fixture_struct(struct stpc_fixture_item *item)
{
	int total;
	int j;

	stpc_fixture_counter++;
	total = item->id + item->flags + item->owner->uid;
	for (j = 0; j < ARRAY_SIZE(item->vals); j++)
		total += item->vals[j];
	total += (int)(item->pos.x + item->pos.y);
	total += strlen(item->label);
	return total;
}

static __stpc_probed struct stpc_fixture_point
stpc_fixture_byval(struct stpc_fixture_point p, int scale)
{
	struct stpc_fixture_point r;

	stpc_fixture_counter++;
	r.x = p.x * scale;
	r.y = p.y * scale + 1;
	return r;
}

static __stpc_probed long stpc_fixture_return(long a, long b)
{
	stpc_fixture_counter++;
	return a * b + 1;
}

static __stpc_probed int stpc_fixture_locals(int n)
{
	long acc = 1;
	int sum = 0;
	int i;

	stpc_fixture_counter++;
	for (i = 0; i < n; i++) {
		sum += 2 * i + 1;
		stpc_fixture_pin3(i, sum, acc);
		acc = acc * 3 + sum;	/* STPC_FIXTURE_LOOP_LINE */
		stpc_fixture_pin3(i, sum, acc);
	}
	return sum + (int)acc;
}

/*
 * Called on stpc_fixture_split's unlikely path.  Cold by the attribute
 * itself: the kernel's __cold is empty where -falign-functions is in
 * use (6.12), and the split below needs the call to be cold.
 */
static noinline __attribute__((__cold__)) void stpc_fixture_rare(long v)
{
	stpc_fixture_sink -= v;
}

static __stpc_probed long stpc_fixture_split(long v)
{
	if (unlikely(v % 3 == 2)) {
		stpc_fixture_rare(v);
		return -v;
	}
	return 2 * v;
}

/* Called last with v = k: notrace, so ftrace cannot carry its probes. */
static __stpc_probed notrace long stpc_fixture_untraced(long v)
{
	return v + 1;
}

/* One iteration k of a write; see the argument table at the top. */
static void stpc_fixture_run_one(unsigned int k)
{
	struct stpc_fixture_item *item = &stpc_fixture_cur_item;
	struct stpc_fixture_point pt, res;
	int value = 7 * (int)k - 20;
	int j;

	stpc_fixture_sink += stpc_fixture_ints((int)k - 5, 4000000000U + k,
					       -3 - (int)(k % 100),
					       (unsigned char)(200 + k),
					       -1000000007L * (long)k - 1,
					       0xfedcba9876543210UL + k);

	stpc_fixture_sink += stpc_fixture_ptr(&value,
					      stpc_fixture_names[k % 4]);

	memset(item->name, 0, sizeof(item->name));
	snprintf(item->name, sizeof(item->name), "item-%u", k);
	item->id = 100 + (int)k;
	item->label = stpc_fixture_labels[k % 3];
	item->pos.x = 10L * k - 5;
	item->pos.y = -20L * k - 7;
	item->owner = &stpc_fixture_cur_owner;
	item->owner->uid = 1000 + (int)k;
	item->flags = (unsigned short)(0xa500 + k);
	for (j = 0; j < ARRAY_SIZE(item->vals); j++)
		item->vals[j] = 4 * (int)k + j - 6;
	stpc_fixture_sink += stpc_fixture_struct(item);

	pt.x = (long)k + 1;
	pt.y = -3L * k - 2;
	res = stpc_fixture_byval(pt, (int)(k % 5) - 2);
	stpc_fixture_sink += res.x + res.y;

	stpc_fixture_sink += stpc_fixture_return(1000L * k - 3, -(long)k - 7);

	stpc_fixture_sink += stpc_fixture_locals((int)(k % 10) + 1);

	stpc_fixture_sink += stpc_fixture_split((long)k);

	stpc_fixture_sink += stpc_fixture_untraced((long)k);
}

#define CREATE_TRACE_POINTS
#include "stpc_fixture_trace.h"

static ssize_t stpc_fixture_proc_write(struct file *file,
				       const char __user *ubuf,
				       size_t count, loff_t *ppos)
{
	unsigned int n, k;
	int ret;

	ret = kstrtouint_from_user(ubuf, count, 10, &n);
	if (ret)
		return ret == -EFAULT ? -EFAULT : -EINVAL;
	if (n > STPC_FIXTURE_MAX_N)
		return -EINVAL;

	mutex_lock(&stpc_fixture_lock);
	for (k = 0; k < n; k++) {
		stpc_fixture_run_one(k);
		cond_resched();
	}
	trace_fixture_write(n, stpc_fixture_counter, &stpc_fixture_cur_item);
	mutex_unlock(&stpc_fixture_lock);

	return count;
}

static int stpc_fixture_proc_show(struct seq_file *m, void *v)
{
	int counter;

	mutex_lock(&stpc_fixture_lock);
	counter = stpc_fixture_counter;
	mutex_unlock(&stpc_fixture_lock);

	seq_printf(m, "%d\n", counter);
	return 0;
}

static int stpc_fixture_proc_open(struct inode *inode, struct file *file)
{
	return single_open(file, stpc_fixture_proc_show, NULL);
}

static const struct proc_ops stpc_fixture_proc_ops = {
	.proc_open	= stpc_fixture_proc_open,
	.proc_read	= seq_read,
	.proc_lseek	= seq_lseek,
	.proc_release	= single_release,
	.proc_write	= stpc_fixture_proc_write,
};

/* Init code that is not the module's init function (no alias). */
static __stpc_probed int __init stpc_fixture_init_proc(void)
{
	if (!proc_create("stpc_fixture", 0666, NULL, &stpc_fixture_proc_ops))
		return -ENOMEM;
	return 0;
}

static int __init stpc_fixture_init(void)
{
	return stpc_fixture_init_proc();
}

static void __exit stpc_fixture_exit(void)
{
	remove_proc_entry("stpc_fixture", NULL);
}

module_init(stpc_fixture_init);
module_exit(stpc_fixture_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Probe target fixture for the stpc test suite");
