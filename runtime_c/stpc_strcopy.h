/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copying a NUL-terminated string from memory a probe may not be able to
 * read, a word at a time, through a fault-safe word reader
 * (stpc_deref.h has the kernel's and user space's).  Only basic kernel
 * types and macros here: tests/test_strcopy.py compiles it in user space.
 */
#ifndef STPC_STRCOPY_H
#define STPC_STRCOPY_H

/* The aligned 8 bytes at @addr, in memory order (the first byte lowest). */
typedef long (*stpc_word_reader_t)(u64 *word, u64 addr);

/* The index of the first zero byte among the low @n bytes of @word, or @n. */
static __always_inline size_t stpc_word_strnlen(u64 word, size_t n)
{
	u64 zeros = (word - REPEAT_BYTE(0x01)) & ~word & REPEAT_BYTE(0x80);

	/* the lowest byte flagged is a zero byte (others may not be) */
	return zeros ? min_t(size_t, __ffs(zeros) / 8, n) : n;
}

/* The low @n bytes of @word to @dst[@i...], a MAXSTRINGLEN buffer. */
static __always_inline void stpc_store_word(char *dst, size_t i, u64 word,
					    size_t n)
{
	if (i + 8 <= MAXSTRINGLEN) {
		__le64 le = cpu_to_le64(word);

		/* the bytes past @n are overwritten or lie past the NUL */
		memcpy(dst + i, &le, 8);
		return;
	}
	for (; n; n--, i++, word >>= 8)
		dst[i] = (char)word;
}

/*
 * Copies a NUL-terminated string of at most @len - 1 bytes (1 <= @len <=
 * MAXSTRINGLEN) into @buf, a MAXSTRINGLEN buffer; the kernel's
 * strncpy_*_nofault are not exported, so: aligned 8-byte words (which
 * never cross a page, so a word is readable exactly when its bytes of the
 * string are), the first shifted past the bytes before @addr, scanned for
 * the NUL a word at a time.  0, or the reader's error when a word holding
 * bytes before the terminator is unreadable.
 */
static __always_inline long stpc_copy_string(stpc_word_reader_t read_word,
					     char *buf, u64 addr, size_t len)
{
	size_t skip = addr & 7, i = 0, n, found;
	u64 at = addr - skip, word;
	long err;

	while (i + 1 < len) {
		err = read_word(&word, at);
		if (unlikely(err)) {
			buf[i] = '\0';
			return err;
		}
		word >>= skip * 8;
		n = min_t(size_t, 8 - skip, len - 1 - i);
		found = stpc_word_strnlen(word, n);
		stpc_store_word(buf, i, word, found);
		i += found;
		if (found < n)
			break;
		at += 8;
		skip = 0;
	}
	buf[i] = '\0';
	return 0;
}

#endif /* STPC_STRCOPY_H */
