// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel backtraces: print_backtrace(), sprint_backtrace() and backtrace().  In a probe that
 * interrupted the kernel (timer.profile and the other timers run in hard
 * interrupt context) the trace starts where the interrupt hit, like
 * SystemTap's; elsewhere it starts at the handler.  An interrupted user
 * context has no kernel stack to show.
 */
#include <linux/stacktrace.h>
#include <linux/kallsyms.h>
#include <linux/ptrace.h>
#include <asm/irq_regs.h>

#define STPC_BACKTRACE_DEPTH	20	/* frames shown, as SystemTap */
#define STPC_BACKTRACE_SAVE	48	/* room for our own frames too */

static unsigned int stpc_kernel_stack(unsigned long *entries)
{
	struct pt_regs *regs = in_hardirq() ? get_irq_regs() : NULL;
	unsigned int n, i, from = 0;

	if (regs && user_mode(regs))
		return 0;
	n = stack_trace_save(entries, STPC_BACKTRACE_SAVE, 0);
	for (i = 0; regs && i < n; i++) {
		if (entries[i] == instruction_pointer(regs)) {
			from = i;
			break;
		}
	}
	n = min(n - from, (unsigned int)STPC_BACKTRACE_DEPTH);
	memmove(entries, entries + from, n * sizeof(*entries));
	return n;
}

/*
 * "symbol+0xoff/0xsize [module]" for the frame at @addr ("[kernel]" for
 * the kernel image); without "/0xsize" unless @size.
 */
static void stpc_frame_symbol(char *buf, unsigned long addr, bool size)
{
	char *slash, *rest;

	sprint_symbol(buf, addr);
	slash = size ? NULL : strchr(buf, '/');
	if (slash) {
		rest = strchrnul(slash, ' ');
		memmove(slash, rest, strlen(rest) + 1);
	}
	if (!strchr(buf, '['))
		strlcat(buf, " [kernel]", KSYM_SYMBOL_LEN);
}

/* " 0xADDRESS : symbol+0xoff/0xsize [module]" per frame. */
void stpc_print_backtrace(struct stpc_context *c)
{
	unsigned long entries[STPC_BACKTRACE_SAVE];
	char symbol[KSYM_SYMBOL_LEN];
	unsigned int i, n = stpc_kernel_stack(entries);

	for (i = 0; i < n; i++) {
		stpc_frame_symbol(symbol, entries[i], true);
		stpc_printf(c, " 0x%016lx : %s\n", entries[i], symbol);
	}
}

/* "symbol+0xoff [module]" per frame, each on its own line; the frames
 * that do not fit in MAXSTRINGLEN are left out. */
const char *stpc_sprint_backtrace(char *out)
{
	unsigned long entries[STPC_BACKTRACE_SAVE];
	char symbol[KSYM_SYMBOL_LEN + 1];
	unsigned int i, n = stpc_kernel_stack(entries);
	size_t used = 0, len;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		stpc_frame_symbol(symbol, entries[i], false);
		len = strlcat(symbol, "\n", sizeof(symbol));
		if (used + len > MAXSTRINGLEN - 1)
			break;
		used = stpc_append(out, used, symbol, len);
	}
	return out;
}

/* The frames' addresses in hex, each followed by a space. */
const char *stpc_backtrace(char *out)
{
	unsigned long entries[STPC_BACKTRACE_SAVE];
	unsigned int i, n = stpc_kernel_stack(entries);
	size_t used = 0;
	char word[24];

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		int len = scnprintf(word, sizeof(word), "0x%lx ", entries[i]);

		if (used + len > MAXSTRINGLEN - 1)
			break;
		used = stpc_append(out, used, word, len);
	}
	return out;
}
