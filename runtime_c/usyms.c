// SPDX-License-Identifier: GPL-2.0
/*
 * uaddr(), usymname(), usymdata(): the user address the task is at, and
 * the function of a probed program (or library) an address is in.  The
 * generated module carries the function symbols of the files its uprobes
 * are placed in, by file offset; an address is turned into a file and an
 * offset through the task's mapping of it (find_vma, under a trylock of
 * the mmap lock: a handler never waits for it).  An address in no known
 * function is printed in hex, as SystemTap does.
 */
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched/task_stack.h>

s64 stpc_uaddr(void)
{
	if (!current->mm || (current->flags & PF_KTHREAD))
		return 0;
	return instruction_pointer(task_pt_regs(current));
}

/* Where a user address is: the probed file mapped there (or NULL: none
 * or another file), the offset in it and the mapping's bounds. */
struct stpc_uplace {
	const struct stpc_usym_file *file;
	unsigned long offset;
	unsigned long map_start, map_end;
};

/* The mmap lock held: @mm's mapping of @addr, if a probed file's. */
static bool stpc_uplace_locked(struct mm_struct *mm, unsigned long addr,
			       struct stpc_uplace *place)
{
	struct vm_area_struct *vma = find_vma(mm, addr);
	const struct inode *inode;
	unsigned int i;

	*place = (struct stpc_uplace){ NULL };
	if (!vma || vma->vm_start > addr || !vma->vm_file)
		return false;
	inode = file_inode(vma->vm_file);
	for (i = 0; i < stpc_program.nusym_files; i++) {
		if (stpc_program.usym_files[i].inode == inode) {
			place->file = &stpc_program.usym_files[i];
			break;
		}
	}
	place->offset = addr - vma->vm_start + (vma->vm_pgoff << PAGE_SHIFT);
	place->map_start = vma->vm_start;
	place->map_end = vma->vm_end;
	return place->file != NULL;
}

/* The current task's mm, its mmap lock taken if free (never waited for). */
static struct mm_struct *stpc_user_mm_trylock(void)
{
	struct mm_struct *mm = current->mm;

	if (!mm || (current->flags & PF_KTHREAD) || !mmap_read_trylock(mm))
		return NULL;
	return mm;
}

static bool stpc_uplace(unsigned long addr, struct stpc_uplace *place)
{
	struct mm_struct *mm = stpc_user_mm_trylock();
	bool found;

	place->file = NULL;
	if (!mm)
		return false;
	found = stpc_uplace_locked(mm, addr, place);
	mmap_read_unlock(mm);
	return found;
}

/*
 * How many entries of @table (@n of @stride bytes, sorted by a leading
 * unsigned long file offset) start at or before @offset: the last of
 * them is the one that may cover it.
 */
static unsigned int stpc_count_from(const void *table, unsigned int n,
				    size_t stride, unsigned long offset)
{
	unsigned int low = 0, high = n;

	while (low < high) {
		unsigned int mid = low + (high - low) / 2;
		const unsigned long *start = table + (size_t)mid * stride;

		if (*start <= offset)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

static_assert(offsetof(struct stpc_usym, offset) == 0);
static_assert(offsetof(struct stpc_uframe, offset) == 0);

/* The function of @file whose bytes hold @offset: its symbols are sorted. */
static const struct stpc_usym *stpc_usym_in(const struct stpc_usym_file *file,
					    unsigned long offset)
{
	unsigned int count = stpc_count_from(file->syms, file->nsyms,
					     sizeof(*file->syms), offset);

	if (!count || offset >= file->syms[count - 1].offset +
				file->syms[count - 1].size)
		return NULL;
	return &file->syms[count - 1];
}

/*
 * SystemTap's "symbol+0xoff/0xsize [/path]"; a probed file's address in
 * no function is "0xaddr [/path+0xoff/0xsize]", the offset and size the
 * mapping's; anything else the address in hex.
 */
static int stpc_usym_format(char *out, size_t size, unsigned long addr,
			    const struct stpc_uplace *place)
{
	const struct stpc_usym *sym = place->file ?
		stpc_usym_in(place->file, place->offset) : NULL;

	if (sym)
		return snprintf(out, size, "%s+0x%lx/0x%lx [%s]", sym->name,
				place->offset - sym->offset, sym->size,
				place->file->path);
	if (place->file)
		return snprintf(out, size, "0x%lx [%s+0x%lx/0x%lx]", addr,
				place->file->path, addr - place->map_start,
				place->map_end - place->map_start);
	return snprintf(out, size, "0x%lx", addr);
}

const char *stpc_usymname(s64 addr, char *out)
{
	struct stpc_uplace place;
	const struct stpc_usym *sym = stpc_uplace(addr, &place) ?
		stpc_usym_in(place.file, place.offset) : NULL;

	if (sym)
		strscpy(out, sym->name, MAXSTRINGLEN);
	else
		snprintf(out, MAXSTRINGLEN, "0x%llx", (unsigned long long)addr);
	return out;
}

const char *stpc_usymdata(s64 addr, char *out)
{
	struct stpc_uplace place;

	stpc_uplace(addr, &place);
	stpc_usym_format(out, MAXSTRINGLEN, addr, &place);
	return out;
}

static void stpc_usyms_disarm(void)
{
	unsigned int i;

	for (i = 0; i < stpc_program.nusym_files; i++) {
		iput(stpc_program.usym_files[i].inode);
		stpc_program.usym_files[i].inode = NULL;
	}
}

/* A file not found is left without symbols (its uprobes say why). */
static void stpc_usyms_arm(void)
{
	unsigned int i;
	int err;

	for (i = 0; i < stpc_program.nusym_files; i++) {
		struct stpc_usym_file *file = &stpc_program.usym_files[i];

		if (!file->inode)
			file->inode = stpc_uprobe_inode(file->path, &err);
	}
}
