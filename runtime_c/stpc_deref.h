/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault-safe reads of kernel and user memory for target variables and
 * the kernel_* / user_* functions.  A bad address never oopses: the read
 * fails, the handler's error is set ("kernel read fault at 0x..."), and
 * the value reads as 0 or "".  User pages the task has not touched yet
 * are read from the page cache where that is what the task would see.
 */
#ifndef STPC_DEREF_H
#define STPC_DEREF_H

#include <linux/uaccess.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pagemap.h>
#include <linux/userfaultfd_k.h>

#include "stpc_strcopy.h"

/*
 * A reader's error for an address the task has mapped, readable, whose
 * page is not in memory (nor in the page cache): the task could read it,
 * a probe cannot.  The error then says where it can be read.
 */
#define STPC_NOT_RESIDENT	(-EAGAIN)
#define STPC_NOT_RESIDENT_HINT						\
	" (the page is not in memory yet: read it in a .return probe "	\
	"through @entry(), or give a default as in user_string(p, \"?\"))"

static __cold void stpc_fault(struct stpc_context *c, const char *space,
			      u64 addr, long err, const char *where)
{
	char msg[sizeof("kernel read fault at 0x") + 16 +
		 sizeof(STPC_NOT_RESIDENT_HINT)];

	if (c->last_error)
		return;
	scnprintf(msg, sizeof(msg), "%s read fault at 0x%llx%s", space, addr,
		  err == STPC_NOT_RESIDENT ? STPC_NOT_RESIDENT_HINT : "");
	stpc_error_copy(c, msg, where);
}

/*
 * A probe cannot fault a user page in, so a page the task has not touched
 * yet (a string in a library's .rodata, say) is unreadable with faults
 * off.  But in a file mapping that has never had a private copy of a page
 * (no anon_vma), what the task would see is the file's page cache: read
 * the bytes there.  Taking mmap_lock by trylock and dropping it (which may
 * wake a waiter) is safe only in task context with interrupts on, as in a
 * kprobe at a function's entry; elsewhere the read stays a fault.
 */
static bool stpc_vma_shows_page_cache(struct vm_area_struct *vma)
{
	return vma->vm_file && !vma->anon_vma &&
	       !(vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP |
				  VM_HUGETLB)) &&
	       !userfaultfd_armed(vma);
}

/*
 * Copies from the page-cache page behind @addr, within one page.  No page
 * reference is taken (dropping one could free the page from probe
 * context): the copy is fault-safe, and it counts only if the page cache
 * still holds the same up-to-date folio afterwards.
 */
static long stpc_copy_page_cache(const struct vm_area_struct *vma, void *dst,
				 unsigned long addr, size_t size)
{
	struct xarray *pages = &vma->vm_file->f_mapping->i_pages;
	pgoff_t index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	struct folio *folio;
	const char *src;

	folio = xa_load(pages, index);
	if (!folio || xa_is_value(folio) || !folio_test_uptodate(folio))
		return STPC_NOT_RESIDENT;
	src = page_address(folio_file_page(folio, index));
	if (copy_from_kernel_nofault(dst, src + offset_in_page(addr), size))
		return STPC_NOT_RESIDENT;
	smp_rmb();	/* the copy before the check that it was still valid */
	if (xa_load(pages, index) != folio || !folio_test_uptodate(folio))
		return STPC_NOT_RESIDENT;
	return 0;
}

static long stpc_read_user_page_cache(void *dst, u64 addr, size_t size)
{
	struct mm_struct *mm = current->mm;
	long ret = 0;

	if (!in_task() || irqs_disabled() || !mm || !mmap_read_trylock(mm))
		return -EFAULT;
	while (size && !ret) {
		size_t chunk = min_t(size_t, size,
				     PAGE_SIZE - offset_in_page(addr));
		struct vm_area_struct *vma = find_vma(mm, addr);

		if (!vma || vma->vm_start > addr || !(vma->vm_flags & VM_READ))
			ret = -EFAULT;
		else if (!stpc_vma_shows_page_cache(vma))
			ret = STPC_NOT_RESIDENT;
		else
			ret = stpc_copy_page_cache(vma, dst, addr, chunk);
		dst += chunk;
		addr += chunk;
		size -= chunk;
	}
	mmap_read_unlock(mm);
	return ret;
}

static long stpc_read_user(void *dst, u64 addr, size_t size)
{
	if (!copy_from_user_nofault(dst, (const void __user *)(uintptr_t)addr,
				    size))
		return 0;
	return stpc_read_user_page_cache(dst, addr, size);
}

/* A value read into the low bytes of a union, zero-extended. */
union stpc_scalar {
	u8 b;
	u16 h;
	u32 w;
	u64 q;
};

static __always_inline u64 stpc_scalar_value(const union stpc_scalar *v,
					     int size)
{
	switch (size) {
	case 1:
		return v->b;
	case 2:
		return v->h;
	case 4:
		return v->w;
	default:
		return v->q;
	}
}

#ifdef CONFIG_X86_64
#include <asm/vsyscall.h>

/*
 * What x86-64's copy_from_kernel_nofault() accepts (an address at or above
 * TASK_SIZE_MAX + PAGE_SIZE, canonical, not in the vsyscall page), or
 * less, for every byte of [addr, addr + size).  Above TASK_SIZE_MAX, the
 * addresses canonical under the paging in use are those from
 * -2^__VIRTUAL_MASK_SHIFT up: one comparison.
 */
static noinline bool stpc_kernel_range_allowed(u64 addr, size_t size)
{
	u64 lowest = ~0ULL << __VIRTUAL_MASK_SHIFT;
	u64 last = addr + size - 1;

	return addr >= lowest && last >= addr &&
	       addr >> PAGE_SHIFT != VSYSCALL_ADDR >> PAGE_SHIFT &&
	       last >> PAGE_SHIFT != VSYSCALL_ADDR >> PAGE_SHIFT;
}

/*
 * The same, with one comparison for the usual case, a range wholly from
 * the lowest kernel address to below the vsyscall page (all the kernel's
 * and modules' memory): only the rest, above it or not a kernel address,
 * takes the whole test.
 */
static __always_inline bool stpc_kernel_range_ok(u64 addr, size_t size)
{
	u64 lowest = ~0ULL << __VIRTUAL_MASK_SHIFT;

	return likely(addr - lowest <= VSYSCALL_ADDR - lowest - size) ||
	       stpc_kernel_range_allowed(addr, size);
}

/*
 * A 1, 2, 4 or 8 byte load, zero-extended: copy_from_kernel_nofault()'s
 * check and its exception-table load, inline.  The call, its copy loop
 * and its pagefault_disable() (which only a user address needs: a fault
 * on a kernel address never sleeps) are what a target variable read
 * saves.
 */
static __always_inline long stpc_read_kernel_scalar(u64 *out, u64 addr,
						    int size)
{
	const void *src = (const void *)(uintptr_t)addr;

	if (unlikely(!stpc_kernel_range_ok(addr, size)))
		return -ERANGE;
	switch (size) {
	case 1: {
		u8 v;

		__get_kernel_nofault(&v, src, u8, fault);
		*out = v;
		return 0;
	}
	case 2: {
		u16 v;

		__get_kernel_nofault(&v, src, u16, fault);
		*out = v;
		return 0;
	}
	case 4: {
		u32 v;

		__get_kernel_nofault(&v, src, u32, fault);
		*out = v;
		return 0;
	}
	default: {
		u64 v;

		__get_kernel_nofault(&v, src, u64, fault);
		*out = v;
		return 0;
	}
	}
fault:
	return -EFAULT;
}
#else
static __always_inline long stpc_read_kernel_scalar(u64 *out, u64 addr,
						    int size)
{
	union stpc_scalar v = { .q = 0 };
	long err = copy_from_kernel_nofault(&v, (const void *)(uintptr_t)addr,
					    size);

	*out = stpc_scalar_value(&v, size);
	return err;
}
#endif

/* A 1, 2, 4 or 8 byte value, zero-extended; 0 and an error on a fault. */
static __always_inline u64 stpc_deref(struct stpc_context *c, u64 addr,
				      int size, const char *where)
{
	u64 v;
	long err = stpc_read_kernel_scalar(&v, addr, size);

	if (unlikely(err)) {
		stpc_fault(c, "kernel", addr, err, where);
		return 0;
	}
	return v;
}

static __maybe_unused u64 stpc_user_deref(struct stpc_context *c, u64 addr,
					  int size, const char *where)
{
	union stpc_scalar v = { .q = 0 };
	long err = stpc_read_user(&v, addr, size);

	if (unlikely(err)) {
		stpc_fault(c, "user", addr, err, where);
		return 0;
	}
	return stpc_scalar_value(&v, size);
}

static __always_inline long stpc_read_kernel_word(u64 *word, u64 addr)
{
	u64 raw;
	long err = stpc_read_kernel_scalar(&raw, addr, 8);

	*word = le64_to_cpu((__force __le64)raw);
	return err;
}

static long stpc_read_user_word(u64 *word, u64 addr)
{
	__le64 raw = 0;
	long err = stpc_read_user(&raw, addr, 8);

	*word = le64_to_cpu(raw);
	return err;
}

static __cold const char *
stpc_string_fault(struct stpc_context *c, const char *space, char *buf,
		  u64 addr, long err, const char *where)
{
	buf[0] = '\0';
	stpc_fault(c, space, addr, err, where);
	return buf;
}

static __maybe_unused const char *
stpc_kernel_string(struct stpc_context *c, char *buf, u64 addr, s64 len,
		   const char *where)
{
	long err = stpc_copy_string(stpc_read_kernel_word, buf, addr,
				    clamp_t(s64, len, 1, MAXSTRINGLEN));

	return unlikely(err) ? stpc_string_fault(c, "kernel", buf, addr, err,
						 where) : buf;
}

static __maybe_unused const char *
stpc_user_string(struct stpc_context *c, char *buf, u64 addr, s64 len,
		 const char *where)
{
	long err = stpc_copy_string(stpc_read_user_word, buf, addr,
				    clamp_t(s64, len, 1, MAXSTRINGLEN));

	return unlikely(err) ? stpc_string_fault(c, "user", buf, addr, err,
						 where) : buf;
}

/* For $$parms$: a string, or "?" where it cannot be read. */
static __maybe_unused const char *
stpc_kernel_string_or(struct stpc_context *c, char *buf, u64 addr)
{
	if (stpc_copy_string(stpc_read_kernel_word, buf, addr, MAXSTRINGLEN))
		strscpy(buf, "?", MAXSTRINGLEN);
	return buf;
}

static __maybe_unused const char *
stpc_user_string_or(struct stpc_context *c, char *buf, u64 addr)
{
	if (stpc_copy_string(stpc_read_user_word, buf, addr, MAXSTRINGLEN))
		strscpy(buf, "?", MAXSTRINGLEN);
	return buf;
}

#endif /* STPC_DEREF_H */
