// SPDX-License-Identifier: GPL-2.0
/*
 * The @entry() values of process(...).function(...).return probes (and of
 * their parameters, which a .return reads at entry).  A uretprobe has no
 * per-instance data as a kretprobe has: the consumer's entry handler reads
 * the values and files them in the probe's table under the task and its
 * stack pointer at entry (pointing at the return address); the return
 * handler finds them under the task and its stack pointer less the return
 * address the function's ret popped.  Each recursion level and each thread
 * has its own key.  The table is bounded: a frame that never returns
 * (longjmp, exit) is evicted by newer ones, the oldest first; a return
 * whose values were evicted is a skipped probe.  The values (strings of
 * MAXSTRINGLEN among them) are too big for the kernel stack: each CPU
 * has a scratch copy in the table, used with preemption off.
 */
#include <linux/hash.h>
#include <linux/mm.h>

#define STPC_UENTRY_BITS	8
#define STPC_UENTRY_SLOTS	(1U << STPC_UENTRY_BITS)
#define STPC_UENTRY_WINDOW	8	/* the slots a key may sit in */

/* A frame's values: this header, then the probe's entry_size bytes. */
struct stpc_uentry {
	const struct task_struct *task;		/* NULL: free */
	unsigned long sp;			/* at entry */
	u64 stamp;				/* when stored: the oldest goes */
};

struct stpc_uentries {
	raw_spinlock_t lock;
	u64 stamp;
	size_t stride;
	size_t scratch_size;	/* of each CPU's scratch copy */
	char *scratch;		/* past the slots */
	char slots[];
};

/* This CPU's scratch copy of a frame's values; preemption is off. */
static void *stpc_uentry_scratch(struct stpc_uentries *t)
{
	return t->scratch + smp_processor_id() * t->scratch_size;
}

static struct stpc_uentry *stpc_uentry_at(struct stpc_uentries *t,
					  unsigned int i)
{
	return (struct stpc_uentry *)(t->slots +
				      (i % STPC_UENTRY_SLOTS) * t->stride);
}

static unsigned int stpc_uentry_home(unsigned long sp)
{
	return hash_long((unsigned long)current ^ sp, STPC_UENTRY_BITS);
}

static bool stpc_uentry_is(const struct stpc_uentry *e, unsigned long sp)
{
	return e->task == current && e->sp == sp;
}

/* Whether @e is a better slot to overwrite than @than: free, or older. */
static bool stpc_uentry_rather(const struct stpc_uentry *e,
			       const struct stpc_uentry *than)
{
	if (!than->task)
		return false;
	return !e->task || e->stamp < than->stamp;
}

static void stpc_uentry_store(struct stpc_uentries *t, unsigned long sp,
			      const void *values, size_t size)
{
	unsigned int home = stpc_uentry_home(sp), i;
	struct stpc_uentry *e, *slot = NULL;
	unsigned long flags;

	raw_spin_lock_irqsave(&t->lock, flags);
	for (i = 0; i < STPC_UENTRY_WINDOW; i++) {
		e = stpc_uentry_at(t, home + i);
		if (stpc_uentry_is(e, sp)) {
			slot = e;
			break;
		}
		if (!slot || stpc_uentry_rather(e, slot))
			slot = e;
	}
	slot->task = current;
	slot->sp = sp;
	slot->stamp = ++t->stamp;
	memcpy(slot + 1, values, size);
	raw_spin_unlock_irqrestore(&t->lock, flags);
}

static bool stpc_uentry_take(struct stpc_uentries *t, unsigned long sp,
			     void *values, size_t size)
{
	unsigned int home = stpc_uentry_home(sp), i;
	struct stpc_uentry *e;
	unsigned long flags;
	bool found = false;

	raw_spin_lock_irqsave(&t->lock, flags);
	for (i = 0; i < STPC_UENTRY_WINDOW && !found; i++) {
		e = stpc_uentry_at(t, home + i);
		if (stpc_uentry_is(e, sp)) {
			memcpy(values, e + 1, size);
			e->task = NULL;
			found = true;
		}
	}
	raw_spin_unlock_irqrestore(&t->lock, flags);
	return found;
}

static int stpc_uretprobe_entry(struct uprobe_consumer *self,
				struct pt_regs *regs)
{
	struct stpc_uprobe *up = container_of(self, struct stpc_uprobe,
					      consumer);
	void *values;

	if (!stpc_uprobe_wanted(up))
		return 0;
	preempt_disable();
	values = stpc_uentry_scratch(up->entries);
	memset(values, 0, up->entry_size);
	stpc_run_probe_data(&up->entry, regs, values);
	stpc_uentry_store(up->entries, regs->sp, values, up->entry_size);
	preempt_enable();
	return 0;
}

/* The stack pointer at entry, from the one after the return. */
static unsigned long stpc_uentry_sp(struct pt_regs *regs)
{
	return regs->sp - (user_64bit_mode(regs) ? 8 : 4);
}

static int stpc_uretprobe_entry_hit(struct uprobe_consumer *self,
				    unsigned long func, struct pt_regs *regs)
{
	struct stpc_uprobe *up = container_of(self, struct stpc_uprobe,
					      consumer);
	void *values;

	if (!stpc_uprobe_wanted(up))
		return 0;
	preempt_disable();
	values = stpc_uentry_scratch(up->entries);
	if (stpc_uentry_take(up->entries, stpc_uentry_sp(regs), values,
			     up->entry_size))
		stpc_run_probe_data(&up->probe, regs, values);
	else
		stpc_skip_probe();
	preempt_enable();
	return 0;
}

/* A .return probe with @entry() values: its handlers and its table. */
static int stpc_uentries_prepare(struct stpc_uprobe *up)
{
	size_t stride = ALIGN(sizeof(struct stpc_uentry) + up->entry_size, 8);
	size_t scratch_size = ALIGN(up->entry_size, 8);
	size_t size = sizeof(struct stpc_uentries) + STPC_UENTRY_SLOTS * stride +
		      nr_cpu_ids * scratch_size;
	struct stpc_uentries *t;

	if (up->entry_size > STPC_UENTRY_MAX_SIZE)
		return -E2BIG;
	t = stpc_counted(kvzalloc(size, GFP_KERNEL), size, STPC_MEM_DATA);
	if (!t)
		return -ENOMEM;
	raw_spin_lock_init(&t->lock);
	t->stride = stride;
	t->scratch_size = scratch_size;
	t->scratch = t->slots + STPC_UENTRY_SLOTS * stride;
	up->entries = t;
	up->consumer.handler = stpc_uretprobe_entry;
	up->consumer.ret_handler = stpc_uretprobe_entry_hit;
	return 0;
}

/* After the uprobe is unregistered and its handlers have returned. */
static void stpc_uentries_free(struct stpc_uprobe *up)
{
	kvfree(up->entries);
	up->entries = NULL;
}
