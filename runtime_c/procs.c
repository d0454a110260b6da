// SPDX-License-Identifier: GPL-2.0
/*
 * process.begin / process.end, process("PATH") and process(PID) forms.
 * Each probe has a filter (every process, the processes running a file,
 * or one pid; with -c or -x only the target); a process matches a set of
 * filters, kept in a bounded table by tgid while it lives.  A handler runs
 * in the process's own context:
 *  - begin, for a process that existed when the probes were armed (a walk
 *    of the task list) or that fork created: when it next leaves a system
 *    call (the sys_exit tracepoint; a new child leaves fork that way), or
 *    when it execs or exits if that comes first.  The -c command, forked
 *    by the loader and not yet exec'd, begins at its exec.
 *  - begin and end at exec, for the filters a process starts or stops
 *    matching (it execs the file, or another program).
 *  - end, when the last thread of the process exits (sched_process_exit).
 * process.thread.begin/.end are for the threads other than the main one
 * (not thread_group_leader), kept in the same table by tid (a tid of such
 * a thread is never a live tgid): a thread alive when the probes were
 * armed, or a new one (clone with CLONE_THREAD), begins when it next
 * leaves a system call (a new one leaves clone so), or when it exits;
 * it ends when it exits (exec ends the other threads so).
 * The kernel's tracepoints are registered by the module itself (found
 * with for_each_kernel_tracepoint, tracepoints.c).
 */
#include <linux/binfmts.h>
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/sched/signal.h>

#define STPC_PROC_BITS		10
#define STPC_PROC_SLOTS		(1U << STPC_PROC_BITS)
#define STPC_PROC_WINDOW	16	/* the slots a tgid may sit in */

enum stpc_proc_state {
	STPC_PROC_FREE,
	STPC_PROC_BEGUN,
	STPC_PROC_AT_SYSCALL,	/* begins when it leaves a system call */
	STPC_PROC_AT_EXEC,	/* the -c command: begins at its exec */
};

struct stpc_proc {
	pid_t id;		/* a tgid, or a thread's tid */
	enum stpc_proc_state state;
	u64 filters;		/* bit i: stpc_program.proc_filters[i] */
};

static struct stpc_proc *stpc_procs;
static DEFINE_RAW_SPINLOCK(stpc_procs_lock);
static atomic_t stpc_procs_at_syscall = ATOMIC_INIT(0);
static bool stpc_procs_full_warned;

/* The filters task @t matches: its executable's inode, its tgid. */
static u64 stpc_proc_filters(struct task_struct *t)
{
	pid_t tgid = task_tgid_nr(t);
	const struct inode *exe;
	unsigned int i;
	u64 found = 0;

	if ((t->flags & PF_KTHREAD) || (stpc_target && tgid != stpc_target))
		return 0;
	exe = stpc_task_exe(t);
	for (i = 0; i < stpc_program.nproc_filters; i++) {
		const struct stpc_proc_filter *f = &stpc_program.proc_filters[i];

		if (f->path ? f->inode == exe : !f->pid || f->pid == tgid)
			found |= BIT_ULL(i);
	}
	return found;
}

/* The slot of @id, or (if @free) a free one for it; under the lock. */
static struct stpc_proc *stpc_proc_slot(pid_t id, bool free)
{
	unsigned int home = hash_32(id, STPC_PROC_BITS), i;
	struct stpc_proc *unused = NULL, *p;

	for (i = 0; i < STPC_PROC_WINDOW; i++) {
		p = &stpc_procs[(home + i) % STPC_PROC_SLOTS];
		if (p->state != STPC_PROC_FREE && p->id == id)
			return p;
		if (p->state == STPC_PROC_FREE && !unused)
			unused = p;
	}
	return free ? unused : NULL;
}

static void stpc_proc_set(struct stpc_proc *p, pid_t id,
			  enum stpc_proc_state state, u64 filters)
{
	if (p->state == STPC_PROC_AT_SYSCALL)
		atomic_dec(&stpc_procs_at_syscall);
	if (state == STPC_PROC_AT_SYSCALL)
		atomic_inc(&stpc_procs_at_syscall);
	p->id = id;
	p->state = state;
	p->filters = filters;
}

static void stpc_proc_add(pid_t id, enum stpc_proc_state state,
			  u64 filters)
{
	unsigned long flags;
	struct stpc_proc *p;
	bool full;

	raw_spin_lock_irqsave(&stpc_procs_lock, flags);
	p = stpc_proc_slot(id, true);
	if (p)
		stpc_proc_set(p, id, state, filters);
	full = !p && !stpc_procs_full_warned;
	stpc_procs_full_warned |= full;
	raw_spin_unlock_irqrestore(&stpc_procs_lock, flags);
	if (full)
		stpc_warn("WARNING: too many processes for process.begin/end "
			  "probes: some are left out\n");
}

/*
 * Moves @id's entry to @state with @filters (FREE: removes it).
 * Returns its filters before, and (in *begun) whether it had begun.
 */
static u64 stpc_proc_update(pid_t id, enum stpc_proc_state state,
			    u64 filters, bool *begun)
{
	unsigned long flags;
	struct stpc_proc *p;
	u64 before = 0;

	*begun = false;
	raw_spin_lock_irqsave(&stpc_procs_lock, flags);
	p = stpc_proc_slot(id, state != STPC_PROC_FREE);
	if (p && p->state != STPC_PROC_FREE) {
		before = p->filters;
		*begun = p->state == STPC_PROC_BEGUN;
	}
	if (p)
		stpc_proc_set(p, id, state, state == STPC_PROC_FREE ? 0 :
			      filters);
	raw_spin_unlock_irqrestore(&stpc_procs_lock, flags);
	return before;
}

static void stpc_proc_run(u64 filters, bool end, bool thread)
{
	unsigned int i;

	for (i = 0; filters && i < stpc_program.nprocprobes; i++) {
		const struct stpc_procprobe *pp = &stpc_program.procprobes[i];

		if (pp->is_end == end && pp->is_thread == thread &&
		    (filters & BIT_ULL(pp->filter)))
			stpc_run_probe(&pp->probe);
	}
}

static bool stpc_procs_have(bool end, bool thread)
{
	unsigned int i;

	for (i = 0; i < stpc_program.nprocprobes; i++) {
		const struct stpc_procprobe *pp = &stpc_program.procprobes[i];

		if (pp->is_end == end && pp->is_thread == thread)
			return true;
	}
	return false;
}

static bool stpc_procs_threads(void)
{
	return stpc_procs_have(false, true) || stpc_procs_have(true, true);
}

/* @id's filters if it waits to begin at a system call's end: it begins. */
static u64 stpc_proc_begins(pid_t id)
{
	unsigned long flags;
	struct stpc_proc *p;
	u64 filters = 0;

	raw_spin_lock_irqsave(&stpc_procs_lock, flags);
	p = stpc_proc_slot(id, false);
	if (p && p->state == STPC_PROC_AT_SYSCALL) {
		filters = p->filters;
		stpc_proc_set(p, id, STPC_PROC_BEGUN, filters);
	}
	raw_spin_unlock_irqrestore(&stpc_procs_lock, flags);
	return filters;
}

static void stpc_proc_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	if (!atomic_read(&stpc_procs_at_syscall))
		return;
	stpc_proc_run(stpc_proc_begins(task_tgid_nr(current)), false, false);
	if (!thread_group_leader(current))
		stpc_proc_run(stpc_proc_begins(task_pid_nr(current)), false,
			      true);
}

static void stpc_proc_fork(void *data, struct task_struct *parent,
			   struct task_struct *child)
{
	bool thread = !thread_group_leader(child);
	u64 filters;

	if (thread && !stpc_procs_threads())
		return;
	filters = stpc_proc_filters(child);
	if (filters)
		stpc_proc_add(thread ? task_pid_nr(child) : task_tgid_nr(child),
			      STPC_PROC_AT_SYSCALL, filters);
}

static void stpc_proc_exec(void *data, struct task_struct *p, pid_t old_pid,
			   struct linux_binprm *bprm)
{
	u64 now = stpc_proc_filters(current), before;
	bool begun;

	before = stpc_proc_update(task_tgid_nr(current), now ?
				  STPC_PROC_BEGUN : STPC_PROC_FREE, now,
				  &begun);
	if (!begun)
		before = 0;	/* it begins now, as what it execs */
	/* a thread that execs becomes the main one: no longer followed */
	if (old_pid != task_tgid_nr(current))
		stpc_proc_update(old_pid, STPC_PROC_FREE, 0, &begun);
	stpc_proc_run(before & ~now, true, false);
	stpc_proc_run(now & ~before, false, false);
}

/* @id's entry leaves the table: it ends (and begins first if it had not). */
static void stpc_proc_ends(pid_t id, bool thread)
{
	bool begun;
	u64 filters = stpc_proc_update(id, STPC_PROC_FREE, 0, &begun);

	if (!begun)
		stpc_proc_run(filters, false, thread);
	stpc_proc_run(filters, true, thread);
}

static void stpc_proc_exit(void *data, struct task_struct *p)
{
	if (!thread_group_leader(current))
		stpc_proc_ends(task_pid_nr(current), true);
	if (!atomic_read(&current->signal->live))	/* its last thread */
		stpc_proc_ends(task_tgid_nr(current), false);
}

/* The processes alive now, at most a table's worth. */
static void stpc_procs_walk(void)
{
	enum stpc_proc_state state;
	struct task_struct *t;
	unsigned int seen = 0;
	u64 filters;

	rcu_read_lock();
	for_each_process(t) {
		if (++seen > STPC_PROC_SLOTS)
			break;
		filters = stpc_proc_filters(t);
		if (!filters)
			continue;
		state = STPC_PROC_AT_SYSCALL;
		if (same_thread_group(rcu_dereference(t->real_parent),
				      current) &&
		    task_tgid_nr(t) == stpc_target)
			state = STPC_PROC_AT_EXEC;
		stpc_proc_add(task_tgid_nr(t), state, filters);
	}
	rcu_read_unlock();
}

/* The threads other than main ones alive now, at most a table's worth. */
static void stpc_procs_walk_threads(void)
{
	struct task_struct *p, *t;
	unsigned int seen = 0;
	u64 filters;

	rcu_read_lock();
	for_each_process_thread(p, t) {
		if (thread_group_leader(t))
			continue;
		if (++seen > STPC_PROC_SLOTS)
			break;
		filters = stpc_proc_filters(t);
		if (filters)
			stpc_proc_add(task_pid_nr(t), STPC_PROC_AT_SYSCALL,
				      filters);
	}
	rcu_read_unlock();
}

struct stpc_proc_hook {
	const char *name;
	void *func;
	struct tracepoint *tp;
};

static struct stpc_proc_hook stpc_proc_hooks[] = {
	{ "sched_process_exit", stpc_proc_exit },
	{ "sched_process_exec", stpc_proc_exec },
	{ "sched_process_fork", stpc_proc_fork },
	{ "sys_exit", stpc_proc_sys_exit },	/* last: only for begin */
};

static bool stpc_procs_begin(void)
{
	return stpc_procs_have(false, false) || stpc_procs_have(false, true);
}

static int stpc_procs_filters_arm(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < stpc_program.nproc_filters; i++) {
		struct stpc_proc_filter *f = &stpc_program.proc_filters[i];

		if (!f->path)
			continue;
		f->inode = stpc_uprobe_inode(f->path, &ret);
		if (!f->inode) {
			stpc_warn("ERROR: cannot arm process(\"%s\") probes: "
				  "error %d\n", f->path, ret);
			return ret;
		}
	}
	return 0;
}

static void stpc_procs_disarm(void)
{
	unsigned int i;
	bool any = false;

	for (i = 0; i < ARRAY_SIZE(stpc_proc_hooks); i++) {
		struct stpc_proc_hook *h = &stpc_proc_hooks[i];

		if (!h->tp)
			continue;
		tracepoint_probe_unregister(h->tp, h->func, NULL);
		h->tp = NULL;
		any = true;
	}
	if (any)
		tracepoint_synchronize_unregister();
	for (i = 0; i < stpc_program.nproc_filters; i++) {
		struct stpc_proc_filter *f = &stpc_program.proc_filters[i];

		iput(f->inode);
		f->inode = NULL;
	}
	kvfree(stpc_procs);
	stpc_procs = NULL;
	atomic_set(&stpc_procs_at_syscall, 0);
}

static void stpc_procs_arm(void)
{
	size_t size = STPC_PROC_SLOTS * sizeof(*stpc_procs);
	unsigned int i, hooks = ARRAY_SIZE(stpc_proc_hooks);
	int ret;

	if (!stpc_program.nprocprobes || stpc_procs)
		return;
	stpc_procs = stpc_counted(kvzalloc(size, GFP_KERNEL), size,
				  STPC_MEM_DATA);
	ret = stpc_procs ? stpc_procs_filters_arm() : -ENOMEM;
	if (!stpc_procs_begin())
		hooks--;
	for (i = 0; !ret && i < hooks; i++) {
		struct stpc_proc_hook *h = &stpc_proc_hooks[i];
		struct tracepoint *tp = stpc_find_tracepoint(h->name);

		ret = tp ? tracepoint_probe_register(tp, h->func, NULL) :
			   -ENOENT;
		if (!ret)
			h->tp = tp;
		else
			stpc_warn("ERROR: cannot arm process.begin/end "
				  "probes: tracepoint %s: error %d\n",
				  h->name, ret);
	}
	if (ret) {
		stpc_procs_disarm();
		stpc_arming_failed(false);
		return;
	}
	stpc_procs_walk();
	if (stpc_procs_threads())
		stpc_procs_walk_threads();
}
