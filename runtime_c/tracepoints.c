// SPDX-License-Identifier: GPL-2.0
/*
 * kernel.trace("SYSTEM:EVENT") probes: a generated probe function per
 * event, registered on the kernel's tracepoint of that name.  The probe
 * function stores its arguments, one 64-bit word each, in an array the
 * handler reads as c->data.  Armed after the begin probes, disarmed
 * before the end probes, from the loader's ctl writes (process context:
 * registering and the grace period after unregistering may sleep).
 */
#include <linux/tracepoint.h>

struct stpc_tracepoint_search {
	const char *name;
	struct tracepoint *found;
};

static void stpc_tracepoint_match(struct tracepoint *tp, void *priv)
{
	struct stpc_tracepoint_search *search = priv;

	if (!search->found && !strcmp(tp->name, search->name))
		search->found = tp;
}

/* The kernel's tracepoint named @name (vmlinux's, not a module's). */
static struct tracepoint *stpc_find_tracepoint(const char *name)
{
	struct stpc_tracepoint_search search = { .name = name };

	for_each_kernel_tracepoint(stpc_tracepoint_match, &search);
	return search.found;
}

static void stpc_tracepoint_failed(struct stpc_tracepoint *t,
				   const char *why, int ret)
{
	stpc_warn("%s: cannot arm probe %s: %s (error %d)\n",
		  t->optional ? "WARNING" : "ERROR", t->probe.point, why, ret);
	stpc_arming_failed(t->optional);
}

static void stpc_tracepoints_arm(void)
{
	unsigned int i, armed = 0;
	int ret;

	for (i = 0; i < stpc_program.ntracepoints; i++) {
		struct stpc_tracepoint *t = &stpc_program.tracepoints[i];

		if (t->armed)
			continue;
		t->tp = stpc_find_tracepoint(t->name);
		if (!t->tp) {
			stpc_tracepoint_failed(t, "the kernel has no such "
					       "tracepoint", -ENOENT);
			continue;
		}
		ret = tracepoint_probe_register(t->tp, t->func, &t->probe);
		if (ret) {
			stpc_tracepoint_failed(t, "the kernel refused it", ret);
			continue;
		}
		t->armed = true;
		armed++;
	}
	if (stpc_verbose && stpc_program.ntracepoints)
		stpc_warn("stpc: %u tracepoint probes armed\n", armed);
}

static void stpc_tracepoints_disarm(void)
{
	unsigned int i, disarmed = 0;

	for (i = 0; i < stpc_program.ntracepoints; i++) {
		struct stpc_tracepoint *t = &stpc_program.tracepoints[i];

		if (!t->armed)
			continue;
		tracepoint_probe_unregister(t->tp, t->func, &t->probe);
		t->armed = false;
		disarmed++;
	}
	/* no probe function runs, or is about to, past this */
	if (disarmed)
		tracepoint_synchronize_unregister();
}
