// SPDX-License-Identifier: GPL-2.0
/*
 * String functions of the script language (substr, tokenize, str_replace,
 * text_str ...).  Each writes its result into a MAXSTRINGLEN buffer the
 * caller provides and returns it; none allocates, and every loop is bounded
 * by the length of its input (at most MAXSTRINGLEN - 1).
 */
#include <linux/ctype.h>

/* Appends @n bytes of @src to @out, which holds @used bytes; truncates at
 * MAXSTRINGLEN - 1.  Returns the new length. */
static size_t stpc_append(char *out, size_t used, const char *src, size_t n)
{
	n = min(n, (size_t)MAXSTRINGLEN - 1 - used);
	memcpy(out + used, src, n);
	out[used + n] = '\0';
	return used + n;
}

/*
 * The @len bytes of @s from @start.  As in SystemTap, a start outside the
 * string gives "", and the count is clamped after adding one for the NUL
 * (so a huge @len that wraps also gives "").
 */
const char *stpc_substr(char *out, const char *s, s64 start, s64 len)
{
	s64 size = clamp_t(s64, (s64)((u64)len + 1), 0, MAXSTRINGLEN);
	size_t n = strnlen(s, MAXSTRINGLEN - 1);

	out[0] = '\0';
	if (start < 0 || start >= (s64)n || size == 0)
		return out;
	stpc_append(out, 0, s + start, min((size_t)size - 1, n - start));
	return out;
}

s64 stpc_stringat(struct stpc_context *c, const char *s, s64 pos,
		  const char *location)
{
	if (pos < 0 || pos >= (s64)strnlen(s, MAXSTRINGLEN - 1)) {
		stpc_error(c, "Position out of bounds", location);
		return 0;
	}
	return (s64)(signed char)s[pos];
}

const char *stpc_str_replace(char *out, const char *s, const char *find,
			     const char *repl)
{
	size_t find_len = strnlen(find, MAXSTRINGLEN - 1);
	size_t repl_len = strnlen(repl, MAXSTRINGLEN - 1);
	size_t used = 0;
	const char *hit;

	out[0] = '\0';
	if (!find_len)
		return stpc_str_assign(out, s);
	/* each match moves past at least one byte of @s */
	while ((hit = strstr(s, find)) != NULL) {
		used = stpc_append(out, used, s, hit - s);
		used = stpc_append(out, used, repl, repl_len);
		s = hit + find_len;
	}
	stpc_append(out, used, s, strnlen(s, MAXSTRINGLEN - 1));
	return out;
}

/*
 * The next non-empty token: a non-empty @input starts over on a copy of
 * it, "" continues the string given last on this CPU's context.
 */
const char *stpc_tokenize(struct stpc_context *c, char *out,
			  const char *input, const char *delim)
{
	char *token;

	if (input[0]) {
		strscpy(c->tok_str, input, MAXSTRINGLEN);
		c->tok_next = c->tok_str;
	}
	out[0] = '\0';
	/* at most one iteration per byte of tok_str */
	while (c->tok_next) {
		token = strsep(&c->tok_next, delim);
		if (token[0]) {
			stpc_str_assign(out, token);
			break;
		}
	}
	return out;
}

/* A multi-byte UTF-8 character at @s: its length (2-4), or 0 if @s does
 * not start a valid, shortest-form one of at most @avail bytes. */
static int stpc_utf8_char(const unsigned char *s, size_t avail, u32 *cp)
{
	static const u32 smallest[] = { 0, 0, 0x80, 0x800, 0x10000 };
	int n, i;

	if ((s[0] & 0xE0) == 0xC0)
		n = 2;
	else if ((s[0] & 0xF0) == 0xE0)
		n = 3;
	else if ((s[0] & 0xF8) == 0xF0)
		n = 4;
	else
		return 0;
	if (avail < n)
		return 0;
	*cp = s[0] & (0x7F >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3F);
	}
	if (*cp < smallest[n] || *cp > 0x10FFFF ||
	    (*cp >= 0xD800 && *cp <= 0xDFFF))
		return 0;
	return n;
}

/* The escape sequence showing byte @ch, or 0 if it is shown as itself. */
static char stpc_short_escape(unsigned char ch)
{
	switch (ch) {
	case '\a': return 'a';
	case '\b': return 'b';
	case '\f': return 'f';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\t': return 't';
	case '\v': return 'v';
	case '"': return '"';
	case '\\': return '\\';
	}
	return 0;
}

/*
 * @s with what is not printable ASCII escaped: \n and the like, \ooo for
 * other bytes, \uXXXX or \UXXXXXXXX for UTF-8 characters.  An escape that
 * would not fit is left out whole.
 */
const char *stpc_text_str(char *out, const char *s)
{
	const unsigned char *in = (const unsigned char *)s;
	size_t left = strnlen(s, MAXSTRINGLEN - 1);
	size_t used = 0, room = MAXSTRINGLEN - 1;
	char piece[12];
	int len, n;
	u32 cp;

	while (left) {
		n = stpc_utf8_char(in, left, &cp);
		if (n)
			len = scnprintf(piece, sizeof(piece),
					cp <= 0xFFFF ? "\\u%04X" : "\\U%08X", cp);
		else if (isascii(*in) && isprint(*in) && !stpc_short_escape(*in))
			len = scnprintf(piece, sizeof(piece), "%c", *in);
		else if (stpc_short_escape(*in))
			len = scnprintf(piece, sizeof(piece), "\\%c",
					stpc_short_escape(*in));
		else
			len = scnprintf(piece, sizeof(piece), "\\%03o", *in);
		if (used + len > room)
			break;
		memcpy(out + used, piece, len);
		used += len;
		n = n ? n : 1;
		in += n;
		left -= n;
	}
	out[used] = '\0';
	return out;
}
