/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault-safe reads of kernel and user memory for target variables and
 * the kernel_* / user_* functions.  A bad address never oopses: the read
 * fails, the handler's error is set ("kernel read fault at 0x..."), and
 * the value reads as 0 or "".
 */
#ifndef STPC_DEREF_H
#define STPC_DEREF_H

#include <linux/uaccess.h>

static void stpc_fault(struct stpc_context *c, const char *space, u64 addr,
		       const char *where)
{
	char msg[64];

	if (c->last_error)
		return;
	scnprintf(msg, sizeof(msg), "%s read fault at 0x%llx", space, addr);
	stpc_error_copy(c, msg, where);
}

typedef long (*stpc_reader_t)(void *dst, u64 addr, size_t size);

static long stpc_read_kernel(void *dst, u64 addr, size_t size)
{
	return copy_from_kernel_nofault(dst, (const void *)(uintptr_t)addr,
					size);
}

static long stpc_read_user(void *dst, u64 addr, size_t size)
{
	return copy_from_user_nofault(dst, (const void __user *)(uintptr_t)
				      addr, size);
}

/* A 1, 2, 4 or 8 byte value, zero-extended; 0 and an error on a fault. */
static u64 stpc_read_value(struct stpc_context *c, stpc_reader_t read,
			   const char *space, u64 addr, int size,
			   const char *where)
{
	union { u8 b; u16 h; u32 w; u64 q; } v = { .q = 0 };

	if (unlikely(read(&v, addr, size))) {
		stpc_fault(c, space, addr, where);
		return 0;
	}
	switch (size) {
	case 1:
		return v.b;
	case 2:
		return v.h;
	case 4:
		return v.w;
	default:
		return v.q;
	}
}

static __maybe_unused u64 stpc_deref(struct stpc_context *c, u64 addr,
				     int size, const char *where)
{
	return stpc_read_value(c, stpc_read_kernel, "kernel", addr, size,
			       where);
}

static __maybe_unused u64 stpc_user_deref(struct stpc_context *c, u64 addr,
					  int size, const char *where)
{
	return stpc_read_value(c, stpc_read_user, "user", addr, size, where);
}

/*
 * Copies a NUL-terminated string of at most @len - 1 bytes; the kernel's
 * strncpy_*_nofault are not exported, so: aligned 8-byte words (which
 * never cross a page) where possible, single bytes elsewhere.  0, or
 * -EFAULT when the first unreadable byte comes before the terminator.
 */
static long stpc_copy_string(stpc_reader_t read, char *buf, u64 addr,
			     size_t len)
{
	size_t i = 0;

	while (i + 1 < len) {
		if (!((addr + i) & 7) && i + 9 <= len) {
			u64 word;
			size_t j;

			if (read(&word, addr + i, 8))
				goto fault;
			memcpy(buf + i, &word, 8);
			for (j = 0; j < 8; j++)
				if (!buf[i + j])
					return 0;
			i += 8;
			continue;
		}
		if (read(buf + i, addr + i, 1))
			goto fault;
		if (!buf[i])
			return 0;
		i++;
	}
	buf[i] = '\0';
	return 0;
fault:
	buf[i] = '\0';
	return -EFAULT;
}

static const char *stpc_read_string(struct stpc_context *c,
				    stpc_reader_t read, const char *space,
				    char *buf, u64 addr, s64 len,
				    const char *where)
{
	len = clamp_t(s64, len, 1, MAXSTRINGLEN);
	if (stpc_copy_string(read, buf, addr, len)) {
		buf[0] = '\0';
		stpc_fault(c, space, addr, where);
	}
	return buf;
}

static __maybe_unused const char *
stpc_kernel_string(struct stpc_context *c, char *buf, u64 addr, s64 len,
		   const char *where)
{
	return stpc_read_string(c, stpc_read_kernel, "kernel", buf, addr, len,
				where);
}

static __maybe_unused const char *
stpc_user_string(struct stpc_context *c, char *buf, u64 addr, s64 len,
		 const char *where)
{
	return stpc_read_string(c, stpc_read_user, "user", buf, addr, len,
				where);
}

/* For $$parms$: a string, or "?" where it cannot be read. */
static __maybe_unused const char *
stpc_kernel_string_or(struct stpc_context *c, char *buf, u64 addr)
{
	if (stpc_copy_string(stpc_read_kernel, buf, addr, MAXSTRINGLEN))
		strscpy(buf, "?", MAXSTRINGLEN);
	return buf;
}

#endif /* STPC_DEREF_H */
