// SPDX-License-Identifier: GPL-2.0
/*
 * kernel.trace("SYSTEM:EVENT") probes: a generated probe function per
 * probe, registered on the kernel's tracepoint of that name, or one for
 * a group of probes on one tracepoint that begin with a guard on one key
 * (`if ($id != NR) next`): it reads the key once and runs only the
 * probes whose constant it is (compiler/tpdispatch.py).  The probe
 * function stores its arguments, one 64-bit word each, in an array the
 * handler reads as c->data.  Armed after the begin probes, disarmed
 * before the end probes, from the loader's ctl writes (process context:
 * registering and the grace period after unregistering may sleep).
 *
 * A module's tracepoints are reached through the tracepoint module
 * notifier: registering it reports every loaded module that has
 * tracepoints (MODULE_STATE_COMING), and later each one that loads or
 * goes.  A probed module loaded at start was pinned by the section
 * resolver (its build-id checked); one that loads during the run is
 * armed when it comes and disarmed when it goes, under
 * stpc_tp_module_mutex, which the disarming also holds, so a module
 * never goes with a probe function still registered on it.  Lock order:
 * stpc_ctl_mutex, the kernel's tracepoint module list mutex (held around
 * the notifier), stpc_tp_module_mutex.
 */
#include <linux/module.h>
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
		  t->optional ? "WARNING" : "ERROR", t->probe->point, why, ret);
	stpc_arming_failed(t->optional);
}

static void stpc_tracepoint_register(struct stpc_tracepoint *t)
{
	int ret = tracepoint_probe_register(t->tp, t->func, t->probe);

	if (ret)
		stpc_tracepoint_failed(t, "the kernel refused it", ret);
	else
		t->armed = true;
}

/* The tracepoint named @name among @mod's own. */
static struct tracepoint *stpc_module_tracepoint(struct module *mod,
						 const char *name)
{
	unsigned int i;

	for (i = 0; i < mod->num_tracepoints; i++) {
		struct tracepoint *tp =
			tracepoint_ptr_deref(&mod->tracepoints_ptrs[i]);

		if (!strcmp(tp->name, name))
			return tp;
	}
	return NULL;
}

static bool stpc_tracepoint_in(const struct stpc_tracepoint *t,
			       const struct module *mod)
{
	return t->module >= 0 &&
	       !strcmp(stpc_program.probed[t->module].name, mod->name);
}

static DEFINE_MUTEX(stpc_tp_module_mutex);
static bool stpc_tp_modules_live;	/* under stpc_tp_module_mutex */

static void stpc_tp_module_coming(struct module *mod)
{
	unsigned int i;

	for (i = 0; i < stpc_program.ntracepoints; i++) {
		struct stpc_tracepoint *t = &stpc_program.tracepoints[i];

		if (t->armed || !stpc_tracepoint_in(t, mod))
			continue;
		t->owner = mod;		/* reported, found or not */
		t->tp = stpc_module_tracepoint(mod, t->name);
		if (!t->tp) {
			stpc_tracepoint_failed(t, "the module has no such "
					       "tracepoint", -ENOENT);
			continue;
		}
		stpc_tracepoint_register(t);
	}
}

static void stpc_tp_module_going(struct module *mod)
{
	unsigned int i;

	for (i = 0; i < stpc_program.ntracepoints; i++) {
		struct stpc_tracepoint *t = &stpc_program.tracepoints[i];

		if (!t->armed || t->owner != mod)
			continue;
		tracepoint_probe_unregister(t->tp, t->func, t->probe);
		t->armed = false;
	}
}

static int stpc_tp_module_event(struct notifier_block *nb,
				unsigned long action, void *data)
{
	struct tp_module *tp_mod = data;

	mutex_lock(&stpc_tp_module_mutex);
	if (stpc_tp_modules_live && action == MODULE_STATE_COMING)
		stpc_tp_module_coming(tp_mod->mod);
	else if (action == MODULE_STATE_GOING)
		stpc_tp_module_going(tp_mod->mod);
	mutex_unlock(&stpc_tp_module_mutex);
	return NOTIFY_OK;
}

static struct notifier_block stpc_tp_module_nb = {
	.notifier_call = stpc_tp_module_event,
};

static bool stpc_tp_watching_modules;

/* Registering reports the loaded modules: their tracepoints are armed
 * before this returns. */
static void stpc_tracepoints_arm_modules(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < stpc_program.ntracepoints; i++)
		if (stpc_program.tracepoints[i].module >= 0)
			break;
	if (i == stpc_program.ntracepoints || stpc_tp_watching_modules)
		return;
	mutex_lock(&stpc_tp_module_mutex);
	stpc_tp_modules_live = true;
	mutex_unlock(&stpc_tp_module_mutex);
	ret = register_tracepoint_module_notifier(&stpc_tp_module_nb);
	if (ret) {
		stpc_warn("ERROR: cannot watch modules' tracepoints "
			  "(error %d)\n", ret);
		stpc_arming_failed(false);
		return;
	}
	stpc_tp_watching_modules = true;
	for (i = 0; i < stpc_program.ntracepoints; i++) {
		struct stpc_tracepoint *t = &stpc_program.tracepoints[i];

		/* a pinned module was reported, with or without the event */
		if (t->module >= 0 && !t->armed && stpc_pinned[t->module] &&
		    !t->owner)
			stpc_tracepoint_failed(t, "the module has no "
					       "tracepoints", -ENOENT);
	}
}

static void stpc_tracepoints_arm(void)
{
	unsigned int i, armed = 0;

	for (i = 0; i < stpc_program.ntracepoints; i++) {
		struct stpc_tracepoint *t = &stpc_program.tracepoints[i];

		if (t->armed || t->module >= 0)
			continue;
		t->tp = stpc_find_tracepoint(t->name);
		if (!t->tp) {
			stpc_tracepoint_failed(t, "the kernel has no such "
					       "tracepoint", -ENOENT);
			continue;
		}
		stpc_tracepoint_register(t);
	}
	stpc_tracepoints_arm_modules();
	for (i = 0; i < stpc_program.ntracepoints; i++)
		if (stpc_program.tracepoints[i].armed)
			armed += stpc_program.tracepoints[i].nprobes;
	if (stpc_verbose && stpc_program.ntracepoints)
		stpc_warn("stpc: %u tracepoint probes armed\n", armed);
}

static unsigned int stpc_tracepoints_unregister(void)
{
	unsigned int i, disarmed = 0;

	for (i = 0; i < stpc_program.ntracepoints; i++) {
		struct stpc_tracepoint *t = &stpc_program.tracepoints[i];

		if (!t->armed)
			continue;
		tracepoint_probe_unregister(t->tp, t->func, t->probe);
		t->armed = false;
		disarmed++;
	}
	return disarmed;
}

static void stpc_tracepoints_disarm(void)
{
	unsigned int disarmed;

	/* a module cannot go while its probes are unregistered here */
	mutex_lock(&stpc_tp_module_mutex);
	stpc_tp_modules_live = false;
	disarmed = stpc_tracepoints_unregister();
	mutex_unlock(&stpc_tp_module_mutex);
	if (stpc_tp_watching_modules)
		unregister_tracepoint_module_notifier(&stpc_tp_module_nb);
	stpc_tp_watching_modules = false;
	/* no probe function runs, or is about to, past this */
	if (disarmed)
		tracepoint_synchronize_unregister();
}
