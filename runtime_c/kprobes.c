// SPDX-License-Identifier: GPL-2.0
/*
 * kernel.function / module(...).function / .statement probes: kprobes
 * and kretprobes at the addresses the section resolver computed, except
 * function entries that ftrace carries (entry_ftrace.h).  Armed after the
 * begin probes, disarmed before the end probes, both from the loader's
 * ctl writes (process context, where registration may sleep).
 */
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/slab.h>

#if defined(STPC_HAVE_FTRACE_OPS) && !defined(STPC_NO_FTRACE)
#include "entry_ftrace.h"
#else
#include "entry_kprobes.h"
#endif

static int stpc_kprobe_hit(struct kprobe *k, struct pt_regs *regs)
{
	struct stpc_kprobe *kp = container_of(k, struct stpc_kprobe, kp);

	stpc_run_probe_regs(&kp->probe, regs);
	return 0;
}

static int stpc_kretprobe_hit(struct kretprobe_instance *ri,
			      struct pt_regs *regs)
{
	struct stpc_kprobe *kp =
		container_of(get_kretprobe(ri), struct stpc_kprobe, krp);

	stpc_run_probe_data(&kp->probe, regs, ri->data);
	return 0;
}

/* Reads the @entry() values of a .return probe into the instance. */
static int stpc_kretprobe_entry(struct kretprobe_instance *ri,
				struct pt_regs *regs)
{
	struct stpc_kprobe *kp =
		container_of(get_kretprobe(ri), struct stpc_kprobe, krp);

	memset(ri->data, 0, kp->entry_size);
	stpc_run_probe_data(&kp->entry, regs, ri->data);
	return 0;
}

static int stpc_arm_kprobe(struct stpc_kprobe *kp)
{
	if (kp->is_return) {
		memset(&kp->krp, 0, sizeof(kp->krp));
		kp->krp.kp.addr = (kprobe_opcode_t *)kp->addr;
		kp->krp.handler = stpc_kretprobe_hit;
		if (kp->entry_size) {
			kp->krp.entry_handler = stpc_kretprobe_entry;
			kp->krp.data_size = kp->entry_size;
		}
		kp->krp.maxactive = 0;	/* the kernel's default */
		return register_kretprobe(&kp->krp);
	}
	memset(&kp->kp, 0, sizeof(kp->kp));
	kp->kp.addr = (kprobe_opcode_t *)kp->addr;
	kp->kp.pre_handler = stpc_kprobe_hit;
	return register_kprobe(&kp->kp);
}

static void stpc_kprobes_report(void)
{
	unsigned int i, kprobes = 0, ftrace = 0;

	for (i = 0; i < stpc_program.nkprobes; i++) {
		ftrace += stpc_program.kprobes[i].on_ftrace;
		kprobes += stpc_program.kprobes[i].armed &&
			   !stpc_program.kprobes[i].on_ftrace;
	}
	stpc_warn("stpc: %u probes armed: %u through ftrace (%u saving every "
		  "register), %u kprobes\n", ftrace + kprobes, ftrace,
		  stpc_entry_saving_regs(), kprobes);
}

static void stpc_kprobes_arm(void)
{
	unsigned int i;
	int ret;

	stpc_entry_arm();
	for (i = 0; i < stpc_program.nkprobes; i++) {
		struct stpc_kprobe *kp = &stpc_program.kprobes[i];

		if (!kp->usable || kp->armed)
			continue;
		ret = stpc_arm_kprobe(kp);
		if (ret) {
			stpc_warn("%s: cannot arm probe %s at %pS: error %d\n",
				  kp->optional ? "WARNING" : "ERROR",
				  kp->probe.point, (void *)kp->addr, ret);
			stpc_arming_failed(kp->optional);
			continue;
		}
		kp->armed = true;
	}
	if (stpc_verbose && stpc_program.nkprobes)
		stpc_kprobes_report();
}

static void stpc_disarm_kprobe(struct stpc_kprobe *kp)
{
	if (kp->is_return)
		unregister_kretprobe(&kp->krp);
	else
		unregister_kprobe(&kp->kp);
	kp->armed = false;
}

static void stpc_kprobes_disarm_each(void)
{
	unsigned int i;

	for (i = 0; i < stpc_program.nkprobes; i++)
		if (stpc_program.kprobes[i].armed)
			stpc_disarm_kprobe(&stpc_program.kprobes[i]);
}

/*
 * Unregistering a kprobe waits for the handlers that may still run it;
 * the kernel's batch calls wait once for the whole batch, so a thousand
 * probes disarm in one wait, not in a thousand.
 */
static void stpc_kprobes_disarm(void)
{
	unsigned int i, n = 0, nret = 0;
	struct kretprobe **krps;
	struct kprobe **kps;

	stpc_entry_disarm();
	if (!stpc_program.nkprobes)
		return;
	kps = kvcalloc(stpc_program.nkprobes, sizeof(*kps), GFP_KERNEL);
	krps = kvcalloc(stpc_program.nkprobes, sizeof(*krps), GFP_KERNEL);
	if (!kps || !krps) {
		stpc_kprobes_disarm_each();
	} else {
		for (i = 0; i < stpc_program.nkprobes; i++) {
			struct stpc_kprobe *kp = &stpc_program.kprobes[i];

			if (!kp->armed)
				continue;
			if (kp->is_return)
				krps[nret++] = &kp->krp;
			else
				kps[n++] = &kp->kp;
			kp->armed = false;
		}
		if (n)
			unregister_kprobes(kps, n);
		if (nret)
			unregister_kretprobes(krps, nret);
	}
	kvfree(kps);
	kvfree(krps);
}

