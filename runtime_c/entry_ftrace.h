/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Function-entry probes through ftrace_ops, for kernels that export
 * register_ftrace_function and ftrace_set_filter_ips (found by a feature
 * probe at build time, see compiler/features.py).  Every entry site armed
 * at start shares one of two ops: one filter, one code update, no kprobe
 * layer per hit.  Sites whose handler reads more of the probed registers
 * than the argument registers and sp (compiler/entryregs.py) get the ops
 * that saves them all (FTRACE_OPS_FL_SAVE_REGS); the others get one
 * without, whose trampoline saves only what a call clobbers, which is
 * cheaper on every hit, and still hands over the argument registers
 * where the kernel's ftrace_regs has them (ftrace_args_*.h).  A callback finds its sites by address in its
 * ops' table, sorted before the ops is registered and never changed while
 * it is, so it takes no lock.  Only sites that cannot go away are put
 * there (the kernel's, and pinned modules'): a module that loads later
 * gets kprobes, as do sites ftrace refuses (notrace functions).
 */
#include <linux/ftrace.h>
#include <linux/sort.h>
#include <linux/slab.h>
#include <asm/ibt.h>

#if defined(STPC_HAVE_FTRACE_ARGS_ARCH)
#include "ftrace_args_arch.h"
#elif defined(STPC_HAVE_FTRACE_ARGS_MEMBER)
#include "ftrace_args_member.h"
#else
#include "ftrace_args_none.h"
#endif

struct stpc_entry_set {
	struct ftrace_ops ops;
	bool saves_regs;		/* FTRACE_OPS_FL_SAVE_REGS */
	enum stpc_regs_need holds;	/* what its callback can hand over */
	struct stpc_kprobe **sites;
	unsigned int nsites;
	bool registered;
};

static void notrace stpc_entry_hit(unsigned long ip, unsigned long parent_ip,
				   struct ftrace_ops *ops,
				   struct ftrace_regs *fregs);

/* the cheaper first: a site rides the first that holds what it needs */
static struct stpc_entry_set stpc_entry_sets[] = {
	{ .ops = { .func = stpc_entry_hit },
	  .holds = STPC_ENTRY_LIGHT_HOLDS },
	{ .ops = { .func = stpc_entry_hit, .flags = FTRACE_OPS_FL_SAVE_REGS },
	  .saves_regs = true, .holds = STPC_REGS_ALL },
};

/* The first site of @set at @ip, the fentry call: a function's address,
 * or the address just past its endbr64. */
static unsigned int stpc_entry_find(const struct stpc_entry_set *set,
				    unsigned long ip)
{
	unsigned int low = 0, high = set->nsites;

	while (low < high) {
		unsigned int mid = low + (high - low) / 2;

		if (set->sites[mid]->addr + ENDBR_INSN_SIZE < ip)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

/* Without SAVE_REGS, regs holds only what set->holds says (NULL when
 * that is nothing): what its sites' handlers read. */
static void notrace stpc_entry_hit(unsigned long ip, unsigned long parent_ip,
				   struct ftrace_ops *ops,
				   struct ftrace_regs *fregs)
{
	const struct stpc_entry_set *set =
		container_of(ops, struct stpc_entry_set, ops);
	struct pt_regs *regs = set->saves_regs ? ftrace_get_regs(fregs) :
				stpc_entry_arguments(fregs);
	unsigned int i;
	int bit;

	bit = ftrace_test_recursion_trylock(ip, parent_ip);
	if (bit < 0)
		return;
	for (i = stpc_entry_find(set, ip); i < set->nsites; i++) {
		struct stpc_kprobe *kp = set->sites[i];

		if (ip - kp->addr > ENDBR_INSN_SIZE)
			break;
		stpc_run_entry(&kp->probe, regs);
	}
	ftrace_test_recursion_unlock(bit);
}

static bool stpc_entry_eligible(const struct stpc_kprobe *kp,
				const struct stpc_entry_set *set)
{
	return kp->ftrace_entry && kp->usable && !kp->armed &&
	       kp->regs_need <= set->holds &&
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
static unsigned int stpc_entry_filter_each(struct stpc_entry_set *set,
					   unsigned int n)
{
	unsigned int i, kept = 0;

	for (i = 0; i < n; i++)
		if (!ftrace_set_filter_ip(&set->ops, set->sites[i]->addr, 0, 0))
			set->sites[kept++] = set->sites[i];
	return kept;
}

static int stpc_entry_filter(struct stpc_entry_set *set, unsigned int n)
{
	unsigned long *ips;
	unsigned int i;
	int ret;

	ips = kvcalloc(n, sizeof(*ips), GFP_KERNEL);
	if (!ips)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		ips[i] = set->sites[i]->addr;
	ret = ftrace_set_filter_ips(&set->ops, ips, n, 0, 1);
	kvfree(ips);
	return ret;
}

/* An ops can be filtered again only once its filter is freed, which
 * happens once: arming happens once per run. */
static void stpc_entry_release(struct stpc_entry_set *set)
{
	ftrace_free_filter(&set->ops);
	kvfree(set->sites);
	set->sites = NULL;
}

/* Arms @set's eligible sites; the ones ftrace refuses are left to kprobes. */
static void stpc_entry_arm_set(struct stpc_entry_set *set)
{
	unsigned int i, n = 0;

	set->sites = kvcalloc(stpc_program.nkprobes, sizeof(*set->sites),
			      GFP_KERNEL);
	if (!set->sites)
		return;
	for (i = 0; i < stpc_program.nkprobes; i++)
		if (stpc_entry_eligible(&stpc_program.kprobes[i], set))
			set->sites[n++] = &stpc_program.kprobes[i];
	sort(set->sites, n, sizeof(*set->sites), stpc_entry_cmp, NULL);
	if (n && stpc_entry_filter(set, n))
		n = stpc_entry_filter_each(set, n);
	if (!n || register_ftrace_function(&set->ops)) {
		stpc_entry_release(set);
		return;
	}
	set->nsites = n;
	set->registered = true;
	for (i = 0; i < n; i++) {
		set->sites[i]->on_ftrace = true;
		set->sites[i]->armed = true;
	}
}

static void stpc_entry_disarm_set(struct stpc_entry_set *set)
{
	unsigned int i;

	if (!set->sites)
		return;
	if (set->registered)
		unregister_ftrace_function(&set->ops);
	set->registered = false;
	for (i = 0; i < set->nsites; i++) {
		set->sites[i]->on_ftrace = false;
		set->sites[i]->armed = false;
	}
	set->nsites = 0;
	stpc_entry_release(set);
}

static void stpc_entry_arm(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(stpc_entry_sets); i++)
		stpc_entry_arm_set(&stpc_entry_sets[i]);
}

static void stpc_entry_disarm(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(stpc_entry_sets); i++)
		stpc_entry_disarm_set(&stpc_entry_sets[i]);
}

/* For -v: the sites on the ops that saves every register. */
static unsigned int stpc_entry_saving_regs(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(stpc_entry_sets); i++)
		if (stpc_entry_sets[i].saves_regs)
			n += stpc_entry_sets[i].nsites;
	return n;
}
