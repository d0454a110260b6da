// SPDX-License-Identifier: GPL-2.0
/*
 * timer.ms/s/us/ns/jiffies/hz probes: one hrtimer each, re-armed from its
 * own callback.  The callback runs in hard interrupt context, where
 * stpc_run_probe is safe (it never sleeps and never takes a lock without
 * a bounded trylock).
 */
#include <linux/hrtimer.h>
#include <linux/ktime.h>

static enum hrtimer_restart stpc_timer_fire(struct hrtimer *timer)
{
	struct stpc_timer_probe *tp =
		container_of(timer, struct stpc_timer_probe, timer);

	stpc_run_probe(tp->probe);
	hrtimer_forward_now(timer, ns_to_ktime(tp->interval_ns));
	return HRTIMER_RESTART;
}

static void stpc_timers_arm(void)
{
	unsigned int i;

	for (i = 0; i < stpc_program.ntimers; i++) {
		struct stpc_timer_probe *tp = &stpc_program.timers[i];

		hrtimer_init(&tp->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
		tp->timer.function = stpc_timer_fire;
		hrtimer_start(&tp->timer, ns_to_ktime(tp->interval_ns),
			      HRTIMER_MODE_REL);
		tp->armed = true;
	}
}

static void stpc_timers_disarm(void)
{
	unsigned int i;

	for (i = 0; i < stpc_program.ntimers; i++) {
		struct stpc_timer_probe *tp = &stpc_program.timers[i];

		if (tp->armed)
			hrtimer_cancel(&tp->timer);
		tp->armed = false;
	}
}
