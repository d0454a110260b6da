// SPDX-License-Identifier: GPL-2.0
/*
 * Probed modules that come and go during a run.  A probed module that was not
 * loaded at start (all its probes optional) gets its probes armed when
 * it loads: the addresses come from the module's own symbol table, each
 * checked against the symbol's size recorded at compile time, since no
 * loader is there to read sysfs.  Such a module is not pinned; when it
 * unloads, its probes are disarmed first.
 */
#include <linux/module.h>
#include <linux/notifier.h>

static unsigned int stpc_late_arm(struct module *mod, unsigned int probed)
{
	unsigned int i, armed = 0;

	for (i = 0; i < stpc_program.nkprobes; i++) {
		struct stpc_kprobe *kp = &stpc_program.kprobes[i];
		unsigned long base;

		if (kp->module != probed || kp->armed)
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

static unsigned int stpc_late_disarm(unsigned int probed)
{
	unsigned int i, disarmed = 0;

	for (i = 0; i < stpc_program.nkprobes; i++) {
		struct stpc_kprobe *kp = &stpc_program.kprobes[i];

		if (kp->module != probed)
			continue;
		if (kp->armed) {
			stpc_disarm_kprobe(kp);
			disarmed++;
		}
		kp->usable = false;
	}
	return disarmed;
}

static int stpc_probed_index(const char *name)
{
	unsigned int i;

	for (i = 0; i < stpc_program.nprobed; i++)
		if (!stpc_program.probed[i].is_kernel &&
		    !strcmp(stpc_program.probed[i].name, name))
			return i;
	return -1;
}

static int stpc_module_event(struct notifier_block *nb, unsigned long action,
			     void *data)
{
	struct module *mod = data;
	int probed = stpc_probed_index(mod->name);
	unsigned int n;

	/* pinned modules cannot go; only late arrivals are handled here */
	if (probed < 0 || stpc_pinned[probed])
		return NOTIFY_DONE;
	mutex_lock(&stpc_ctl_mutex);
	if (action == MODULE_STATE_COMING) {
		n = stpc_late_arm(mod, probed);
		if (stpc_verbose)
			stpc_warn("stpc: %s loaded: %u probes armed\n",
				  mod->name, n);
	} else if (action == MODULE_STATE_GOING) {
		n = stpc_late_disarm(probed);
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

	for (i = 0; i < stpc_program.nprobed; i++)
		if (!stpc_program.probed[i].is_kernel)
			break;
	if (i == stpc_program.nprobed)
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
