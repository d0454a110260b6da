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

/* The inode and file offset of @addr in the current task's mappings. */
static const struct inode *stpc_user_file_offset(unsigned long addr,
						 unsigned long *offset)
{
	const struct inode *inode = NULL;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;

	if (!mm || (current->flags & PF_KTHREAD) || !mmap_read_trylock(mm))
		return NULL;
	vma = find_vma(mm, addr);
	if (vma && vma->vm_start <= addr && vma->vm_file) {
		inode = file_inode(vma->vm_file);
		*offset = addr - vma->vm_start + (vma->vm_pgoff << PAGE_SHIFT);
	}
	mmap_read_unlock(mm);
	return inode;
}

/* The function of @file whose bytes hold @offset: its symbols are sorted. */
static const struct stpc_usym *stpc_usym_in(const struct stpc_usym_file *file,
					    unsigned long offset)
{
	unsigned int low = 0, high = file->nsyms;

	while (low < high) {
		unsigned int mid = low + (high - low) / 2;

		if (file->syms[mid].offset <= offset)
			low = mid + 1;
		else
			high = mid;
	}
	if (!low || offset >= file->syms[low - 1].offset +
			      file->syms[low - 1].size)
		return NULL;
	return &file->syms[low - 1];
}

static const struct stpc_usym *stpc_usym_find(unsigned long addr,
					      unsigned long *offset)
{
	const struct inode *inode = stpc_user_file_offset(addr, offset);
	unsigned int i;

	for (i = 0; inode && i < stpc_program.nusym_files; i++) {
		const struct stpc_usym_file *file = &stpc_program.usym_files[i];

		if (file->inode == inode)
			return stpc_usym_in(file, *offset);
	}
	return NULL;
}

const char *stpc_usymname(s64 addr, char *out)
{
	unsigned long offset;
	const struct stpc_usym *sym = stpc_usym_find(addr, &offset);

	if (sym)
		strscpy(out, sym->name, MAXSTRINGLEN);
	else
		snprintf(out, MAXSTRINGLEN, "0x%llx", (unsigned long long)addr);
	return out;
}

/* "name+0xoff/0xsize" */
const char *stpc_usymdata(s64 addr, char *out)
{
	unsigned long offset;
	const struct stpc_usym *sym = stpc_usym_find(addr, &offset);

	if (sym)
		snprintf(out, MAXSTRINGLEN, "%s+0x%lx/0x%lx", sym->name,
			 offset - sym->offset, sym->size);
	else
		snprintf(out, MAXSTRINGLEN, "0x%llx", (unsigned long long)addr);
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
