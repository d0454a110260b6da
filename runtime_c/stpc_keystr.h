/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The string keys of arrays, hashed and compared a word at a time: a
 * hit on an array with a string key hashes it and compares it with the
 * entry's, which byte loops made the dearest part of `a[str] <<< v`.
 *
 * A key string is read in chunks of its bytes, a word each, whatever
 * its alignment: the aligned words that hold any of its bytes, up to
 * the word holding its NUL, lie in its own pages, so they are read
 * whole (read_word_at_a_time: the kernel's way to read past the end of
 * a string, which KASAN does not flag), and a chunk is cut from two
 * of them where the string is not aligned.  A word is read only once
 * the bytes before it are known to have no NUL.  The bytes past the NUL
 * are masked off, so a chunk depends only on the string's bytes: its
 * hash and its comparisons do not depend on where it lies.
 *
 * Only basic kernel types and macros here: tests/test_keystr.py
 * compiles it in user space.
 */
#ifndef STPC_KEYSTR_H
#define STPC_KEYSTR_H

#define STPC_WORD_BYTES sizeof(unsigned long)

/* A key's bytes count up to MAXSTRINGLEN - 1, as strnlen() gave. */
#define STPC_KEY_MAXLEN (MAXSTRINGLEN - 1)

struct stpc_key_chunks {
	const char *at;		/* the aligned word read last */
	unsigned long word;	/* its bytes in string order, lowest first */
	unsigned int skip;	/* the string's offset in an aligned word */
	size_t left;		/* the bytes a key may still count */
};

#if BITS_PER_LONG == 64
#define stpc_key_word_order(w) le64_to_cpu((__force __le64)(w))
#else
#define stpc_key_word_order(w) le32_to_cpu((__force __le32)(w))
#endif

static __always_inline unsigned long stpc_key_word(const char *at)
{
	return stpc_key_word_order(read_word_at_a_time(at));
}

static __always_inline void stpc_key_chunks_start(struct stpc_key_chunks *it,
						  const char *s)
{
	it->skip = (uintptr_t)s & (STPC_WORD_BYTES - 1);
	it->at = s - it->skip;
	it->word = stpc_key_word(it->at);
	it->left = STPC_KEY_MAXLEN;
}

/* The index of the first zero byte among the low @n bytes of @word, or @n. */
static __always_inline size_t stpc_key_strnlen(unsigned long word, size_t n)
{
	unsigned long zeros = (word - REPEAT_BYTE(0x01)) & ~word &
			      REPEAT_BYTE(0x80);

	/* the lowest byte flagged is a zero byte (others may not be) */
	return zeros ? min_t(size_t, __ffs(zeros) / 8, n) : n;
}

/*
 * The next chunk of the string in *@chunk, its bytes past the NUL (or
 * past the last one a key counts) zero; false when it is the last (a
 * string of whole words ends with a chunk of 0).  Two strings have the
 * same bytes exactly when their chunks are the same, one by one.
 */
static __always_inline bool stpc_key_chunk(struct stpc_key_chunks *it,
					   unsigned long *chunk)
{
	size_t first = STPC_WORD_BYTES - it->skip, n;
	unsigned long c = it->word >> (it->skip * 8);

	if (it->skip && it->left > first &&
	    stpc_key_strnlen(c, first) == first) {
		it->at += STPC_WORD_BYTES;
		it->word = stpc_key_word(it->at);
		c |= it->word << (first * 8);
	}
	n = stpc_key_strnlen(c, min_t(size_t, STPC_WORD_BYTES, it->left));
	if (n < STPC_WORD_BYTES) {
		*chunk = c & ((1UL << (n * 8)) - 1);
		return false;
	}
	*chunk = c;
	it->left -= n;
	if (!it->left)
		return false;
	if (!it->skip) {	/* no NUL yet: the string goes on */
		it->at += STPC_WORD_BYTES;
		it->word = stpc_key_word(it->at);
	}
	return true;
}

/* Mixes @v into the running hash @h (a multiply and a shift). */
static __always_inline u64 stpc_key_mix(u64 h, u64 v)
{
	h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

/* @h with the string @s's bytes mixed in. */
static __always_inline u64 stpc_key_hash_string(u64 h, const char *s)
{
	struct stpc_key_chunks it;
	unsigned long chunk;

	bool more;

	stpc_key_chunks_start(&it, s);
	do {
		more = stpc_key_chunk(&it, &chunk);
		h = stpc_key_mix(h, chunk);
	} while (more);
	return h;
}

/* Whether @a and @b have the same bytes a key counts. */
static __always_inline bool stpc_key_string_equal(const char *a,
						  const char *b)
{
	struct stpc_key_chunks ia, ib;
	unsigned long ca, cb;
	bool more;

	stpc_key_chunks_start(&ia, a);
	stpc_key_chunks_start(&ib, b);
	do {
		/* equal chunks leave both with as many bytes to go */
		more = stpc_key_chunk(&ia, &ca);
		stpc_key_chunk(&ib, &cb);
		if (ca != cb)
			return false;
	} while (more);
	return true;
}

#endif /* STPC_KEYSTR_H */
