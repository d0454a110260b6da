/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Function-entry probes through one ftrace_ops, for kernels that export
 * register_ftrace_function and ftrace_set_filter_ips (found by a feature
 * probe at build time, see compiler/features.py).  Every entry site armed
 * at start shares the ops: one filter, one code update, no kprobe layer
 * per hit.  The callback finds its sites by address in a table sorted
 * before the ops is registered and never changed while it is, so it
 * takes no lock.  Only sites that cannot go away are put there (the
 * kernel's, and pinned modules'): a module that loads later gets
 * kprobes, as do sites ftrace refuses (notrace functions).
 */
#include <linux/ftrace.h>
#include <linux/sort.h>
#include <linux/slab.h>
#include <asm/ibt.h>

static struct stpc_kprobe **stpc_entry_sites;
static unsigned int stpc_nentry_sites;
static bool stpc_entry_registered;

/* The first site at @ip, the fentry call: a function's address, or the
 * address just past its endbr64. */
static unsigned int stpc_entry_find(unsigned long ip)
{
	unsigned int low = 0, high = stpc_nentry_sites;

	while (low < high) {
		unsigned int mid = low + (high - low) / 2;

		if (stpc_entry_sites[mid]->addr + ENDBR_INSN_SIZE < ip)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

static void notrace stpc_entry_hit(unsigned long ip, unsigned long parent_ip,
				   struct ftrace_ops *ops,
				   struct ftrace_regs *fregs)
{
	struct pt_regs *regs = ftrace_get_regs(fregs);
	unsigned int i;
	int bit;

	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0)
		return;
	for (i = stpc_entry_find(ip); i < stpc_nentry_sites; i++) {
		struct stpc_kprobe *kp = stpc_entry_sites[i];

		if (ip - kp->addr > ENDBR_INSN_SIZE)
			break;
		stpc_run_probe_regs(&kp->probe, regs);
	}
	ftrace_test_recursion_unlock(bit);
}

static struct ftrace_ops stpc_entry_ops = {
	.func = stpc_entry_hit,
	.flags = FTRACE_OPS_FL_SAVE_REGS,
};

static bool stpc_entry_eligible(const struct stpc_kprobe *kp)
{
	return kp->ftrace_entry && kp->usable && !kp->armed &&
	       (stpc_program.probed[kp->module].is_kernel ||
		stpc_pinned[kp->module]);
}

/* by address, then in the script's order */
static int stpc_entry_cmp(const void *a, const void *b)
{
	const struct stpc_kprobe *x = *(const struct stpc_kprobe *const *)a;
	const struct stpc_kprobe *y = *(const struct stpc_kprobe *const *)b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* The eligible sites ftrace accepts, one by one: only after the batch
 * was refused (which left the filter empty), as each call copies it. */
static unsigned int stpc_entry_filter_each(unsigned int n)
{
	unsigned int i, kept = 0;

	for (i = 0; i < n; i++)
		if (!ftrace_set_filter_ip(&stpc_entry_ops,
					  stpc_entry_sites[i]->addr, 0, 0))
			stpc_entry_sites[kept++] = stpc_entry_sites[i];
	return kept;
}

static int stpc_entry_filter(unsigned int n)
{
	unsigned long *ips;
	unsigned int i;
	int ret;

	ips = kvcalloc(n, sizeof(*ips), GFP_KERNEL);
	if (!ips)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		ips[i] = stpc_entry_sites[i]->addr;
	ret = ftrace_set_filter_ips(&stpc_entry_ops, ips, n, 0, 1);
	kvfree(ips);
	return ret;
}

/* The ops can be filtered again only once its filter is freed, which
 * happens once: arming happens once per run. */
static void stpc_entry_release(void)
{
	ftrace_free_filter(&stpc_entry_ops);
	kvfree(stpc_entry_sites);
	stpc_entry_sites = NULL;
}

/* Arms every eligible site through ftrace; the others are left to kprobes. */
static void stpc_entry_arm(void)
{
	unsigned int i, n = 0;

	stpc_entry_sites = kvcalloc(stpc_program.nkprobes,
				    sizeof(*stpc_entry_sites), GFP_KERNEL);
	if (!stpc_entry_sites)
		return;
	for (i = 0; i < stpc_program.nkprobes; i++)
		if (stpc_entry_eligible(&stpc_program.kprobes[i]))
			stpc_entry_sites[n++] = &stpc_program.kprobes[i];
	sort(stpc_entry_sites, n, sizeof(*stpc_entry_sites), stpc_entry_cmp,
	     NULL);
	if (n && stpc_entry_filter(n))
		n = stpc_entry_filter_each(n);
	if (!n || register_ftrace_function(&stpc_entry_ops)) {
		stpc_entry_release();
		return;
	}
	stpc_nentry_sites = n;
	stpc_entry_registered = true;
	for (i = 0; i < n; i++) {
		stpc_entry_sites[i]->on_ftrace = true;
		stpc_entry_sites[i]->armed = true;
	}
}

static void stpc_entry_disarm(void)
{
	unsigned int i;

	if (!stpc_entry_sites)
		return;
	if (stpc_entry_registered)
		unregister_ftrace_function(&stpc_entry_ops);
	stpc_entry_registered = false;
	for (i = 0; i < stpc_nentry_sites; i++) {
		stpc_entry_sites[i]->on_ftrace = false;
		stpc_entry_sites[i]->armed = false;
	}
	stpc_nentry_sites = 0;
	stpc_entry_release();
}
