// SPDX-License-Identifier: GPL-2.0
/*
 * Target modules that come and go during a run.  A target that was not
 * loaded at start (all its probes optional) gets its probes armed when
 * it loads: the addresses come from the module's own symbol table, each
 * checked against the symbol's size recorded at compile time, since no
 * loader is there to read sysfs.  Such a module is not pinned; when it
 * unloads, its probes are disarmed first.
 */
#include <linux/module.h>
#include <linux/notifier.h>

static bool stpc_verbose;
module_param_named(stpc_verbose, stpc_verbose, bool, 0);
MODULE_PARM_DESC(stpc_verbose, "report targets loaded during the run");

static unsigned int stpc_late_arm(struct module *mod, unsigned int target)
{
	unsigned int i, armed = 0;

	for (i = 0; i < stpc_program.nkprobes; i++) {
		struct stpc_kprobe *kp = &stpc_program.kprobes[i];
		unsigned long base;

		if (kp->target != target || kp->armed)
			continue;
		base = stpc_module_symbol(mod, kp->symbol, kp->symbol_size, 0);
		if (!base)
			continue;
		kp->addr = base + kp->symbol_offset;
		kp->usable = true;
		if (atomic_read(&stpc_state) == STPC_STATE_RUNNING &&
		    !stpc_arm_kprobe(kp)) {
			kp->armed = true;
			armed++;
		}
	}
	return armed;
}

static unsigned int stpc_late_disarm(unsigned int target)
{
	unsigned int i, disarmed = 0;

	for (i = 0; i < stpc_program.nkprobes; i++) {
		struct stpc_kprobe *kp = &stpc_program.kprobes[i];

		if (kp->target != target)
			continue;
		if (kp->armed) {
			stpc_disarm_kprobe(kp);
			disarmed++;
		}
		kp->usable = false;
	}
	return disarmed;
}

static int stpc_target_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < stpc_program.ntargets; i++)
		if (!stpc_program.targets[i].is_kernel &&
		    !strcmp(stpc_program.targets[i].name, name))
			return i;
	return -1;
}

static int stpc_module_event(struct notifier_block *nb, unsigned long action,
			     void *data)
{
	struct module *mod = data;
	int target = stpc_target_index(mod->name);
	unsigned int n;

	/* pinned targets cannot go; only late arrivals are handled here */
	if (target < 0 || stpc_pinned[target])
		return NOTIFY_DONE;
	mutex_lock(&stpc_ctl_mutex);
	if (action == MODULE_STATE_COMING) {
		n = stpc_late_arm(mod, target);
		if (stpc_verbose)
			stpc_warn("stpc: %s loaded: %u probes armed\n",
				  mod->name, n);
	} else if (action == MODULE_STATE_GOING) {
		n = stpc_late_disarm(target);
		if (stpc_verbose)
			stpc_warn("stpc: %s unloading: %u probes disarmed\n",
				  mod->name, n);
	}
	mutex_unlock(&stpc_ctl_mutex);
	return NOTIFY_DONE;
}

static struct notifier_block stpc_module_nb = {
	.notifier_call = stpc_module_event,
};

static bool stpc_watching_modules;

static void stpc_watch_modules(void)
{
	unsigned int i;

	for (i = 0; i < stpc_program.ntargets; i++)
		if (!stpc_program.targets[i].is_kernel)
			break;
	if (i == stpc_program.ntargets)
		return;
	if (!register_module_notifier(&stpc_module_nb))
		stpc_watching_modules = true;
}

static void stpc_unwatch_modules(void)
{
	if (stpc_watching_modules)
		unregister_module_notifier(&stpc_module_nb);
	stpc_watching_modules = false;
}
