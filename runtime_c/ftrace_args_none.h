/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A kernel whose ftrace_ops without FTRACE_OPS_FL_SAVE_REGS hands its
 * callback no register we know how to read (neither feature probe of
 * compiler/features.py built): only the handlers that read no register
 * ride that ops, the others the one that saves them all.
 */
#define STPC_ENTRY_LIGHT_HOLDS STPC_REGS_NONE

static __always_inline struct pt_regs *
stpc_entry_arguments(struct ftrace_regs *fregs)
{
	return NULL;
}
