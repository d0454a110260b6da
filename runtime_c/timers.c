// SPDX-License-Identifier: GPL-2.0
/*
 * timer.ms/s/us/ns/jiffies/hz probes: one hrtimer each, re-armed from its
 * own callback.  The callback runs in hard interrupt context, where
 * stpc_run_probe is safe (it never sleeps and never takes a lock without
 * a bounded trylock).
 *
 * timer.profile: one hrtimer pinned to each CPU online when the run starts,
 * firing every millisecond and running every timer.profile probe; that is
 * the rate of the cpu-clock perf event SystemTap 4.8 samples with.  CPUs
 * brought online during the run are not sampled.
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

#define STPC_PROFILE_NS	NSEC_PER_MSEC

struct stpc_profile_timer {
	struct hrtimer timer;
	bool armed;
};

static struct stpc_profile_timer __percpu *stpc_profile_timers;

static enum hrtimer_restart stpc_profile_fire(struct hrtimer *timer)
{
	unsigned int i;

	for (i = 0; i < stpc_program.nprofile; i++)
		stpc_run_probe(&stpc_program.profile[i]);
	hrtimer_forward_now(timer, ns_to_ktime(STPC_PROFILE_NS));
	return HRTIMER_RESTART;
}

/* Runs on each CPU (by IPI): the timer stays on the CPU that starts it. */
static void stpc_profile_start_here(void *unused)
{
	struct stpc_profile_timer *pt = this_cpu_ptr(stpc_profile_timers);

	hrtimer_init(&pt->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED);
	pt->timer.function = stpc_profile_fire;
	hrtimer_start(&pt->timer, ns_to_ktime(STPC_PROFILE_NS),
		      HRTIMER_MODE_REL_PINNED);
	pt->armed = true;
}

static void stpc_profile_arm(void)
{
	if (!stpc_program.nprofile)
		return;
	stpc_profile_timers = alloc_percpu(struct stpc_profile_timer);
	if (!stpc_profile_timers) {
		stpc_warn("WARNING: no memory for timer.profile: not armed\n");
		return;
	}
	on_each_cpu(stpc_profile_start_here, NULL, 1);
}

static void stpc_profile_disarm(void)
{
	int cpu;

	if (!stpc_profile_timers)
		return;
	for_each_possible_cpu(cpu) {
		struct stpc_profile_timer *pt =
			per_cpu_ptr(stpc_profile_timers, cpu);

		if (pt->armed)
			hrtimer_cancel(&pt->timer);
	}
	free_percpu(stpc_profile_timers);
	stpc_profile_timers = NULL;
}

static void stpc_timers_arm(void)
{
	unsigned int i;

	stpc_profile_arm();

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

	stpc_profile_disarm();

	for (i = 0; i < stpc_program.ntimers; i++) {
		struct stpc_timer_probe *tp = &stpc_program.timers[i];

		if (tp->armed)
			hrtimer_cancel(&tp->timer);
		tp->armed = false;
	}
}
