/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The frame every handler runs in, included by the generated module
 * only: it sees the -D limits (stpc_limits.h) as constants, and each
 * probe's runner (compiler/templates/module.c) passes what its handler
 * uses as constants too, so that the compiler keeps only the parts that
 * handler needs: no lock table walk for a handler that takes no lock, no
 * flush for one that cannot print, no clock read for one not timed.
 *
 * Overload accounting (SystemTap's STP_OVERLOAD) times one handler in
 * STPC_OVERLOAD_SAMPLE on each CPU and counts its cycles that many
 * times: reading the clock twice a hit costs more than a small handler
 * (an emulated rdtsc under a VM).  A CPU busy in handlers is still
 * caught, within a sample's variation; -D STPC_OVERLOAD_SAMPLE=1 times
 * every handler, -D STP_NO_OVERLOAD none.
 */
#ifndef STPC_HANDLER_H
#define STPC_HANDLER_H

/* Probes that fire on the kernel's behalf, which overload may end;
 * begin, end and error probes run once each, bounded by MAXACTION. */
static __always_inline bool stpc_overload_timed(struct stpc_context *c,
						enum stpc_probe_kind kind)
{
	return STPC_OVERLOAD_CHECK && kind == STPC_PROBE_OTHER &&
	       !(c->overload_hits++ & (STPC_OVERLOAD_SAMPLE - 1));
}

/*
 * Runs @handler for @p, a probe of @kind.  @locks: the handler takes
 * globals' locks (p->locks); @prints: it may print; @timed: stpc -t.
 */
static __always_inline void
stpc_run_handler(const struct stpc_probe *p, struct pt_regs *regs, void *data,
		 void (*handler)(struct stpc_context *c),
		 enum stpc_probe_kind kind, bool locks, bool prints, bool timed)
{
	struct stpc_context *c;
	cycles_t start = 0;
	bool overload;

	preempt_disable();
	c = stpc_contexts[smp_processor_id()];
	/* a probe firing outside its phase is not a skipped one */
	if (atomic_read(&stpc_state) != stpc_state_of_kind(kind))
		goto out_enable;
	if (!stpc_enter(c)) {
		stpc_skip_probe();
		goto out_enable;
	}
	overload = stpc_overload_timed(c, kind);
	if (timed || overload)
		start = get_cycles();
	if (locks && !stpc_lock_globals(p)) {
		stpc_skip_probe();
		goto out;
	}
	stpc_start_context(c, p, kind == STPC_PROBE_OTHER ? MAXACTION :
			   MAXACTION_INTERRUPTIBLE, prints);
	c->regs = regs;
	c->data = data;
	handler(c);
	if (locks)
		stpc_unlock_globals(p, p->nlocks);
	if (prints && c->outlen)
		stpc_flush(c);
	if (unlikely(c->last_error))
		stpc_report_error(c);
	if (timed)
		stpc_timing_add(p, start);
	if (overload)
		stpc_overload_add(c, start, STPC_OVERLOAD_SAMPLE);
out:
	stpc_leave(c);
out_enable:
	preempt_enable();
}

#endif /* STPC_HANDLER_H */
