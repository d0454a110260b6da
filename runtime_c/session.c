// SPDX-License-Identifier: GPL-2.0
/*
 * The session: module init and exit, the run's state machine steered by
 * the loader through the ctl file, and the frame every handler runs in
 * (per-CPU context, reentrancy guard, global locks, error accounting).
 */
#include <linux/moduleparam.h>
#include <linux/mutex.h>

long stpc_target;
module_param_named(stpc_target, stpc_target, long, 0);
MODULE_PARM_DESC(stpc_target, "pid returned by target()");

static int stpc_protocol = STPC_PROTOCOL_VERSION;
module_param(stpc_protocol, int, 0444);
MODULE_PARM_DESC(stpc_protocol, "loader protocol version (read-only)");

static bool stpc_verbose;
module_param_named(stpc_verbose, stpc_verbose, bool, 0);
MODULE_PARM_DESC(stpc_verbose, "report the memory preallocated, how probes "
		 "were armed, and probed modules loaded during the run");

struct stpc_context *stpc_contexts[NR_CPUS];
atomic_t stpc_state = ATOMIC_INIT(STPC_STATE_LOADED);
static atomic_t stpc_errors = ATOMIC_INIT(0);
size_t stpc_preallocated[STPC_MEM_USES];
static atomic_t stpc_skipped = ATOMIC_INIT(0);
static bool stpc_finished;
static DEFINE_MUTEX(stpc_ctl_mutex);

static void stpc_move_state(int from, int to)
{
	if (atomic_cmpxchg(&stpc_state, from, to) == from)
		stpc_wake_reader();
}

/* The run ends in error, without its end probes; the loader is told. */
static void stpc_end_in_error(void)
{
	atomic_set(&stpc_state, STPC_STATE_ERROR);
	stpc_wake_reader();
}

/* A probe point that could not be armed: an error unless optional. */
static void stpc_arming_failed(bool optional)
{
	if (optional)
		return;
	atomic_inc(&stpc_errors);
	stpc_end_in_error();
}

/* Whether the loader should stop waiting for output: the run is ending. */
bool stpc_session_ending(void)
{
	int state = atomic_read(&stpc_state);

	return state == STPC_STATE_STOPPING || state == STPC_STATE_ERROR;
}

void stpc_request_exit(void)
{
	stpc_move_state(STPC_STATE_STARTING, STPC_STATE_STOPPING);
	stpc_move_state(STPC_STATE_RUNNING, STPC_STATE_STOPPING);
}

void stpc_error(struct stpc_context *c, const char *msg, const char *location)
{
	if (c->last_error)
		return;
	c->last_error = msg;
	c->error_location = location;
}

/* For messages built at run time, which must outlive their buffer. */
void stpc_error_copy(struct stpc_context *c, const char *msg,
		     const char *location)
{
	if (c->last_error)
		return;
	strscpy(c->error_buf, msg, sizeof(c->error_buf));
	stpc_error(c, c->error_buf, location);
}

void stpc_maxaction(struct stpc_context *c, const char *location)
{
	c->last_error = NULL;
	stpc_error(c, "MAXACTION exceeded", location);
	c->error_uncatchable = true;
}

void stpc_report_error(struct stpc_context *c)
{
	if (c->error_location)
		stpc_warn("ERROR: %s %s\n", c->last_error, c->error_location);
	else
		stpc_warn("ERROR: %s\n", c->last_error);
	/* like SystemTap, the run ends without running the end probes */
	if (atomic_inc_return(&stpc_errors) > stpc_program.limits.maxerrors)
		stpc_end_in_error();
}

void stpc_unlock_globals(const struct stpc_probe *p, unsigned int n)
{
	while (n--) {
		rwlock_t *lock = &stpc_program.locks[p->locks[n].index];

		if (p->locks[n].write)
			write_unlock(lock);
		else
			read_unlock(lock);
	}
}

static bool stpc_trylock(rwlock_t *lock, bool write)
{
	int tries;

	for (tries = 0; tries < stpc_program.limits.maxtrylock; tries++) {
		if (write ? write_trylock(lock) : read_trylock(lock))
			return true;
		udelay(stpc_program.limits.trylockdelay);
	}
	return false;
}

/* Takes every global @p uses, in index order; all or none. */
bool stpc_lock_globals(const struct stpc_probe *p)
{
	unsigned int i;

	for (i = 0; i < p->nlocks; i++) {
		if (!stpc_trylock(&stpc_program.locks[p->locks[i].index],
				  p->locks[i].write)) {
			stpc_unlock_globals(p, i);
			return false;
		}
	}
	return true;
}

/* A probe that could not run; too many of them end the run (MAXSKIPPED). */
void stpc_skip_probe(void)
{
	if (atomic_inc_return(&stpc_skipped) <= stpc_program.limits.maxskipped)
		return;
	if (atomic_cmpxchg(&stpc_state, STPC_STATE_RUNNING, STPC_STATE_ERROR) ==
	    STPC_STATE_RUNNING)
		stpc_warn("ERROR: Skipped too many probes, check MAXSKIPPED or "
			  "try again with stap -t for more details.\n");
}

/*
 * Adds a handler's cycles, @scale times (one handler timed stands for
 * that many: stpc_handler.h), to its CPU's interval; past the threshold
 * the run ends in error, as SystemTap's STP_OVERLOAD does, instead of
 * letting probes on a hot function take the machine.
 */
void stpc_overload_add(struct stpc_context *c, cycles_t start,
		       unsigned int scale)
{
	cycles_t now = get_cycles();

	if (now - c->overload_start > stpc_program.limits.overload_interval) {
		c->overload_start = start;
		c->overload_used = 0;
	}
	c->overload_used += (now - start) * scale;
	if (c->overload_used <= stpc_program.limits.overload_threshold)
		return;
	if (atomic_cmpxchg(&stpc_state, STPC_STATE_RUNNING,
			   STPC_STATE_ERROR) != STPC_STATE_RUNNING)
		return;
	atomic_inc(&stpc_errors);
	stpc_warn("ERROR: probe overhead (%llu cycles) exceeded threshold "
		  "(%llu cycles) in last %llu cycles\n",
		  (unsigned long long)c->overload_used,
		  (unsigned long long)stpc_program.limits.overload_threshold,
		  (unsigned long long)stpc_program.limits.overload_interval);
}

/* stpc -t's report, after the end probes, from this CPU's context. */
static void stpc_report_timing(void)
{
	static const struct stpc_probe report = {
		.point = "probe hit report",
		.kind = STPC_PROBE_END,
	};
	struct stpc_context *c;

	if (!stpc_program.ntiming)
		return;
	preempt_disable();
	c = stpc_contexts[smp_processor_id()];
	if (stpc_enter(c)) {
		stpc_start_context(c, &report,
				   stpc_program.limits.maxaction_interruptible,
				   true);
		stpc_timing_print(c);
		stpc_leave(c);
	}
	preempt_enable();
}

static void stpc_report_memory(void)
{
	const size_t *m = stpc_preallocated;

	stpc_warn("stpc: %zu bytes preallocated: %zu for %u CPUs' handler "
		  "contexts, %zu for arrays and statistics, %zu for output\n",
		  m[STPC_MEM_CONTEXTS] + m[STPC_MEM_DATA] + m[STPC_MEM_OUTPUT],
		  m[STPC_MEM_CONTEXTS], num_possible_cpus(), m[STPC_MEM_DATA],
		  m[STPC_MEM_OUTPUT]);
}

static int stpc_session_start(void)
{
	unsigned int i;

	if (!stpc_probed_resolved())
		return -ENOEXEC;
	if (atomic_cmpxchg(&stpc_state, STPC_STATE_LOADED,
			   STPC_STATE_STARTING) != STPC_STATE_LOADED)
		return -EBUSY;
	if (stpc_verbose)
		stpc_report_memory();
	for (i = 0; i < stpc_program.nbegin; i++)
		stpc_run_probe(&stpc_program.begin[i]);
	if (atomic_cmpxchg(&stpc_state, STPC_STATE_STARTING,
			   STPC_STATE_RUNNING) == STPC_STATE_STARTING) {
		stpc_timers_arm();
		stpc_kprobes_arm();
		stpc_tracepoints_arm();
		stpc_usyms_arm();
		stpc_uprobes_arm();
		stpc_procs_arm();
	}
	return 0;
}

/* No probe fires after this; the loader then drains the output, so
 * that the end probes' records find room. */
static int stpc_session_disarm(void)
{
	stpc_move_state(STPC_STATE_LOADED, STPC_STATE_STOPPING);
	stpc_move_state(STPC_STATE_STARTING, STPC_STATE_STOPPING);
	stpc_move_state(STPC_STATE_RUNNING, STPC_STATE_STOPPING);
	stpc_timers_disarm();
	stpc_kprobes_disarm();
	stpc_tracepoints_disarm();
	stpc_uprobes_disarm();
	stpc_procs_disarm();
	stpc_usyms_disarm();
	return 0;
}

static int stpc_session_stop(void)
{
	unsigned int i;

	if (stpc_finished)
		return 0;
	stpc_session_disarm();
	for (i = 0; i < stpc_program.nend; i++)
		stpc_run_probe(&stpc_program.end[i]);
	/* after an error the end probes did not run: the error probes do */
	for (i = 0; i < stpc_program.nerror; i++)
		stpc_run_probe(&stpc_program.error[i]);
	stpc_report_timing();
	stpc_finished = true;
	return 0;
}

static int stpc_session_status(char *buf, size_t size)
{
	return scnprintf(buf, size,
			 "state=%d errors=%d skipped=%d dropped=%llu finished=%d\n",
			 atomic_read(&stpc_state), atomic_read(&stpc_errors),
			 atomic_read(&stpc_skipped), stpc_dropped_records(),
			 stpc_finished);
}

static int stpc_ctl_command(int (*command)(void))
{
	int ret;

	if (mutex_lock_interruptible(&stpc_ctl_mutex))
		return -ERESTARTSYS;
	ret = command();
	mutex_unlock(&stpc_ctl_mutex);
	return ret;
}

/*
 * The run's reader went away without stopping it.  Called from the data
 * file's release, which for a killed loader runs as its task exits: the
 * fatal signal pending would make an interruptible wait fail at once.
 */
static void stpc_session_abandoned(void)
{
	int state;

	mutex_lock(&stpc_ctl_mutex);
	state = atomic_read(&stpc_state);
	if (state != STPC_STATE_LOADED && !stpc_finished) {
		pr_notice("%s: its loader is gone: probes disarmed\n",
			  THIS_MODULE->name);
		stpc_session_stop();
	}
	mutex_unlock(&stpc_ctl_mutex);
}

static void stpc_free_contexts(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		vfree(stpc_contexts[cpu]);
		stpc_contexts[cpu] = NULL;
	}
}

static int stpc_alloc_contexts(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		stpc_contexts[cpu] = stpc_counted(
			vzalloc(stpc_program.context_size),
			stpc_program.context_size, STPC_MEM_CONTEXTS);
		if (!stpc_contexts[cpu])
			return -ENOMEM;
	}
	return 0;
}

/* Arrays and statistics: storage for every global that needs it. */
static void stpc_free_storage(void)
{
	unsigned int i;

	for (i = 0; i < stpc_program.nmaps; i++)
		stpc_map_free(&stpc_program.maps[i]);
	for (i = 0; i < stpc_program.nstats; i++)
		stpc_stat_free(&stpc_program.stats[i]);
	for (i = 0; i < stpc_program.nstat_maps; i++)
		stpc_stat_map_free(&stpc_program.stat_maps[i]);
	stpc_timing_free();
}

static int stpc_alloc_storage(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < stpc_program.nmaps; i++) {
		ret = stpc_map_init(&stpc_program.maps[i],
				    &stpc_program.map_descs[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < stpc_program.nstats; i++) {
		ret = stpc_stat_init(&stpc_program.stats[i],
				     &stpc_program.stat_descs[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < stpc_program.nstat_maps; i++) {
		ret = stpc_stat_map_init(&stpc_program.stat_maps[i],
					 &stpc_program.stat_map_descs[i]);
		if (ret)
			return ret;
	}
	return stpc_timing_alloc();
}

static int __init stpc_module_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < stpc_program.nlocks; i++)
		rwlock_init(&stpc_program.locks[i]);
	ret = stpc_alloc_storage();
	if (ret)
		goto fail;
	stpc_program.init_globals();
	ret = stpc_alloc_contexts();
	if (ret)
		goto fail;
	ret = stpc_transport_init();
	if (ret)
		goto fail;
	/* a failure is reported on the data stream; "start" then refuses */
	stpc_resolve_probed();
	stpc_watch_modules();
	return 0;
fail:
	stpc_free_contexts();
	stpc_free_storage();
	return ret;
}

static void __exit stpc_module_exit(void)
{
	stpc_unwatch_modules();
	stpc_timers_disarm();
	stpc_kprobes_disarm();
	stpc_tracepoints_disarm();
	stpc_uprobes_disarm();
	stpc_procs_disarm();
	stpc_usyms_disarm();
	stpc_unpin_probed();
	stpc_transport_exit();
	stpc_free_contexts();
	stpc_free_storage();
}

module_init(stpc_module_init);
module_exit(stpc_module_exit);
