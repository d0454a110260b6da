/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Function-entry probes where ftrace cannot carry them (the kernel does
 * not export what entry_ftrace.h needs, or -D STPC_NO_FTRACE): every
 * entry site is a kprobe like any other.
 */

static void stpc_entry_arm(void)
{
}

static void stpc_entry_disarm(void)
{
}

static unsigned int stpc_entry_saving_regs(void)
{
	return 0;
}
