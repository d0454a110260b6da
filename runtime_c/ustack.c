// SPDX-License-Identifier: GPL-2.0
/*
 * User backtraces: ubacktrace(), sprint_ubacktrace(), print_ubacktrace(),
 * and print_ustack()/sprint_ustack() of a ubacktrace() string.
 *
 * The walk starts from the registers the task entered the kernel with
 * (in a uprobe the probed instruction) and follows the .eh_frame rules
 * the module carries for its probed files (compiler/uunwind.py): the
 * CFA is rsp or rbp plus an offset, the return address the word below
 * it, the caller's rbp where the rule says it was saved.  Each word is
 * read with copy_from_user_nofault (no sleeping, in any probe); the task's
 * mappings are looked up once under a trylock of the mmap lock.  A frame
 * of a file without rules is shown and ends the walk, except the first
 * at a function's entry (the return address is then at rsp).  At most
 * 20 frames, as SystemTap.
 */
#include <linux/kstrtox.h>

#define STPC_USTACK_DEPTH	20

struct stpc_uframe_at {
	unsigned long addr;
	struct stpc_uplace place;
};

/* The rule of @file that covers @offset, or NULL. */
static const struct stpc_uframe *stpc_uframe_in(const struct stpc_usym_file *file,
						unsigned long offset)
{
	unsigned int count = stpc_count_from(file->frames, file->nframes,
					     sizeof(*file->frames), offset);

	return count ? &file->frames[count - 1] : NULL;
}

/* A function's first instruction: the return address was just pushed. */
static const struct stpc_uframe stpc_entry_rule = {
	.cfa_reg = STPC_CFA_RSP, .cfa_offset = 8, .rbp_offset = STPC_RBP_SAME,
};

static const struct stpc_uframe *stpc_urule(const struct stpc_uplace *place,
					    unsigned long lookup, bool first)
{
	const struct stpc_uframe *rule = place->file && place->file->nframes ?
		stpc_uframe_in(place->file, lookup) : NULL;
	const struct stpc_usym *sym;

	if (rule || !first || !place->file)
		return rule;
	sym = stpc_usym_in(place->file, place->offset);
	return sym && sym->offset == place->offset ? &stpc_entry_rule : NULL;
}

/*
 * The caller of the frame at @ip/@sp/@bp by @rule; false when it cannot
 * be found (a word unreadable, a CFA not above the stack pointer).
 */
static bool stpc_uunwind(const struct stpc_uframe *rule, unsigned long *ip,
			 unsigned long *sp, unsigned long *bp, bool *bp_known)
{
	unsigned long base, cfa, ra, saved;

	if (rule->cfa_reg == STPC_CFA_NONE ||
	    (rule->cfa_reg == STPC_CFA_RBP && !*bp_known))
		return false;
	base = rule->cfa_reg == STPC_CFA_RSP ? *sp : *bp;
	cfa = base + rule->cfa_offset;
	if (cfa <= *sp || copy_from_user_nofault(&ra,
			(const void __user *)(cfa - sizeof(ra)), sizeof(ra)))
		return false;
	if (rule->rbp_offset == STPC_RBP_LOST)
		*bp_known = false;
	else if (rule->rbp_offset != STPC_RBP_SAME)
		*bp_known = !copy_from_user_nofault(&saved,
			(const void __user *)(cfa + rule->rbp_offset),
			sizeof(saved));
	if (rule->rbp_offset != STPC_RBP_SAME && *bp_known)
		*bp = saved;
	*ip = ra;
	*sp = cfa;
	return ra != 0;
}

/* The frames of the current task's user stack; 0 without one. */
static unsigned int stpc_user_stack(struct stpc_uframe_at *frames)
{
	struct mm_struct *mm = stpc_user_mm_trylock();
	struct pt_regs *regs;
	unsigned long ip, sp, bp;
	bool bp_known = true;
	unsigned int n = 0;

	if (!mm)
		return 0;
	regs = task_pt_regs(current);
	ip = instruction_pointer(regs);
	sp = user_stack_pointer(regs);
	bp = regs->bp;
	while (n < STPC_USTACK_DEPTH) {
		struct stpc_uframe_at *frame = &frames[n++];
		const struct stpc_uframe *rule;

		frame->addr = ip;
		stpc_uplace_locked(mm, ip, &frame->place);
		/* a return address may be just past its function's end */
		rule = stpc_urule(&frame->place,
				  frame->place.offset - (n > 1), n == 1);
		if (!rule || !stpc_uunwind(rule, &ip, &sp, &bp, &bp_known))
			break;
	}
	mmap_read_unlock(mm);
	return n;
}

static bool stpc_has_user_stack(void)
{
	return current->mm && !(current->flags & PF_KTHREAD);
}

/* " 0xaddr : symbol+0xoff/0xsize [/path]" per frame, as SystemTap. */
void stpc_print_ubacktrace(struct stpc_context *c)
{
	struct stpc_uframe_at frames[STPC_USTACK_DEPTH];
	char line[KSYM_SYMBOL_LEN];
	unsigned int i, n = stpc_user_stack(frames);

	if (!stpc_has_user_stack()) {
		stpc_printf(c, "<no user backtrace at %s>\n", c->probe->point);
		return;
	}
	for (i = 0; i < n; i++) {
		const struct stpc_uplace *place = &frames[i].place;

		stpc_usym_format(line, sizeof(line), frames[i].addr, place);
		if (place->file && stpc_usym_in(place->file, place->offset))
			stpc_printf(c, " 0x%lx : %s\n", frames[i].addr, line);
		else
			stpc_printf(c, " %s\n", line);
	}
}

/* SystemTap's short form: "symbol+0xoff [file]" (the file's base name),
 * "0xaddr [file+0xoff]" in no function, else "0xaddr"; and a newline. */
static int stpc_uframe_simple(char *out, size_t size,
			      const struct stpc_uframe_at *frame)
{
	const struct stpc_uplace *place = &frame->place;
	const struct stpc_usym *sym = place->file ?
		stpc_usym_in(place->file, place->offset) : NULL;
	const char *base = place->file ? kbasename(place->file->path) : NULL;

	if (sym)
		return snprintf(out, size, "%s+0x%lx [%s]\n", sym->name,
				place->offset - sym->offset, base);
	if (base)
		return snprintf(out, size, "0x%lx [%s+0x%lx]\n", frame->addr,
				base, frame->addr - place->map_start);
	return snprintf(out, size, "0x%lx\n", frame->addr);
}

/* The frames one per line, cut at MAXSTRINGLEN as SystemTap cuts them. */
const char *stpc_sprint_ubacktrace(struct stpc_context *c, char *out)
{
	struct stpc_uframe_at frames[STPC_USTACK_DEPTH];
	unsigned int i, n = stpc_user_stack(frames);
	size_t used = 0;

	out[0] = '\0';
	if (!stpc_has_user_stack())
		snprintf(out, MAXSTRINGLEN, "<no user backtrace at %s>\n",
			 c->probe->point);
	for (i = 0; i < n && used < MAXSTRINGLEN - 1; i++)
		used += stpc_uframe_simple(out + used, MAXSTRINGLEN - used,
					   &frames[i]);
	return out;
}

/* The frames' addresses in hex, each followed by a space. */
const char *stpc_ubacktrace(struct stpc_context *c, char *out)
{
	struct stpc_uframe_at frames[STPC_USTACK_DEPTH];
	unsigned int i, n = stpc_user_stack(frames);
	size_t used = 0;

	out[0] = '\0';
	for (i = 0; i < n && used < MAXSTRINGLEN - 1; i++)
		used += snprintf(out + used, MAXSTRINGLEN - used, "0x%lx ",
				 frames[i].addr);
	return out;
}

/*
 * The next address of a ubacktrace() string, from *@stk on; false at its
 * end.  A word that is no hex number is address 0, as strtol() gives.
 */
static bool stpc_ustack_next(const char **stk, char *word, size_t size,
			     unsigned long *addr)
{
	const char *start = skip_spaces(*stk);
	size_t len = strchrnul(start, ' ') - start;

	if (!len)
		return false;
	strscpy(word, start, min(len + 1, size));
	*stk = start + len;
	if (kstrtoul(word, 16, addr))
		*addr = 0;
	return true;
}

/* " 0xaddr : symbol+0xoff/0xsize [/path]\n", usymdata() of an address;
 * the length it would have, as snprintf. */
static int stpc_ustack_line(char *line, size_t size, const char *word,
			    unsigned long addr)
{
	struct stpc_uplace place;
	int len = scnprintf(line, size, " %s : ", word);

	stpc_uplace(addr, &place);
	len += stpc_usym_format(line + len, size - len, addr, &place);
	if (len + 1 < size) {
		line[len] = '\n';
		line[len + 1] = '\0';
	}
	return len + 1;
}

void stpc_print_ustack(struct stpc_context *c, const char *stk)
{
	char word[24], line[KSYM_SYMBOL_LEN];
	unsigned long addr;

	while (stpc_ustack_next(&stk, word, sizeof(word), &addr)) {
		stpc_ustack_line(line, sizeof(line), word, addr);
		stpc_printf(c, "%s", line);
	}
}

/* The lines of print_ustack(), those that fit in MAXSTRINGLEN. */
const char *stpc_sprint_ustack(const char *stk, char *out)
{
	char word[24];
	unsigned long addr;
	size_t used = 0;
	int len;

	out[0] = '\0';
	while (stpc_ustack_next(&stk, word, sizeof(word), &addr)) {
		len = stpc_ustack_line(out + used, MAXSTRINGLEN - used, word,
				       addr);
		if (used + len > MAXSTRINGLEN - 1) {
			out[used] = '\0';
			break;
		}
		used += len;
	}
	return out;
}
