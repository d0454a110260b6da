/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The argument registers an ftrace_ops without FTRACE_OPS_FL_SAVE_REGS
 * hands its callback, where struct ftrace_regs is opaque and
 * arch_ftrace_regs() reaches the pt_regs inside it (a feature probe of
 * compiler/features.py).  x86-64's ftrace_caller fills that pt_regs'
 * argument registers, sp, bp, ax and ip, and zeroes its cs, which makes
 * ftrace_get_regs() NULL: the handlers that read only the argument
 * registers and sp (compiler/entryregs.py) read them there.
 */
#define STPC_ENTRY_LIGHT_HOLDS STPC_REGS_ARGUMENTS

static __always_inline struct pt_regs *
stpc_entry_arguments(struct ftrace_regs *fregs)
{
	return &arch_ftrace_regs(fregs)->regs;
}
