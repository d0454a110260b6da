/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Language operations the generated code calls: arithmetic with the
 * script language's rules (wrapping, checked division) and bounded strings.
 */
#ifndef STPC_LANG_H
#define STPC_LANG_H

/*
 * Argument @n (from 1) of the probed function, by the x86-64 calling
 * convention (the kernel's and user space's alike): right at a function's
 * entry, where the registers still hold them.
 */
static inline u64 stpc_func_arg(struct stpc_context *c, struct pt_regs *regs,
				s64 n, const char *location)
{
	if (!regs) {
		stpc_error(c, "no function arguments in this probe", location);
		return 0;
	}
	switch (n) {
	case 1: return regs->di;
	case 2: return regs->si;
	case 3: return regs->dx;
	case 4: return regs->cx;
	case 5: return regs->r8;
	case 6: return regs->r9;
	}
	stpc_error(c, "only the first 6 function arguments can be read",
		   location);
	return 0;
}

static inline s64 stpc_div(struct stpc_context *c, s64 a, s64 b,
			   const char *location)
{
	if (unlikely(b == 0)) {
		stpc_error(c, "division by 0", location);
		return 0;
	}
	/* S64_MIN / -1 traps on x86; the wrapped result is S64_MIN */
	if (unlikely(b == -1))
		return (s64)(0 - (u64)a);
	return div64_s64(a, b);
}

static inline s64 stpc_mod(struct stpc_context *c, s64 a, s64 b,
			   const char *location)
{
	s64 quotient;

	if (unlikely(b == 0)) {
		stpc_error(c, "division by 0", location);
		return 0;
	}
	if (unlikely(b == -1))
		return 0;
	quotient = div64_s64(a, b);
	return a - quotient * b;
}

static inline s64 stpc_shl(s64 a, s64 b)
{
	return (s64)((u64)a << (b & 63));
}

static inline s64 stpc_shr(s64 a, s64 b)
{
	return a >> (b & 63);
}

static inline s64 stpc_neg(s64 a)
{
	return (s64)(0 - (u64)a);
}

/* Copies src into a MAXSTRINGLEN buffer; src may be dst itself. */
static inline const char *stpc_str_assign(char *dst, const char *src)
{
	size_t len;

	if (dst == src)
		return dst;
	len = strnlen(src, MAXSTRINGLEN - 1);
	memmove(dst, src, len);
	dst[len] = '\0';
	return dst;
}

/* a . b into tmp, truncated to MAXSTRINGLEN - 1 bytes; tmp may alias a. */
static inline const char *stpc_concat(char *tmp, const char *a, const char *b)
{
	size_t alen, blen;

	alen = strnlen(a, MAXSTRINGLEN - 1);
	if (tmp != a)
		memmove(tmp, a, alen);
	blen = strnlen(b, MAXSTRINGLEN - 1 - alen);
	memmove(tmp + alen, b, blen);
	tmp[alen + blen] = '\0';
	return tmp;
}

static inline int stpc_strcmp(const char *a, const char *b)
{
	return strncmp(a, b, MAXSTRINGLEN);
}

/* printf's %#o: SystemTap prints 0 as "00", the kernel's vsnprintf "0". */
static inline const char *stpc_octal_alt(char *buf, s64 v)
{
	if (v == 0)
		return "00";
	snprintf(buf, MAXSTRINGLEN, "%#llo", (unsigned long long)v);
	return buf;
}

/* strings.c: each writes into @out, a MAXSTRINGLEN buffer, and returns it */
const char *stpc_substr(char *out, const char *s, s64 start, s64 len);
s64 stpc_stringat(struct stpc_context *c, const char *s, s64 pos,
		  const char *location);
const char *stpc_str_replace(char *out, const char *s, const char *find,
			     const char *repl);
const char *stpc_tokenize(struct stpc_context *c, char *out,
			  const char *input, const char *delim);
const char *stpc_text_str(char *out, const char *s);

/* backtrace.c */
void stpc_print_backtrace(struct stpc_context *c);
const char *stpc_backtrace(char *out);
const char *stpc_sprint_backtrace(char *out);

/* usyms.c */
s64 stpc_uaddr(void);
const char *stpc_usymname(s64 addr, char *out);
const char *stpc_usymdata(s64 addr, char *out);

/* ustack.c */
void stpc_print_ubacktrace(struct stpc_context *c);
const char *stpc_sprint_ubacktrace(struct stpc_context *c, char *out);
const char *stpc_ubacktrace(struct stpc_context *c, char *out);
void stpc_print_ustack(struct stpc_context *c, const char *stk);
const char *stpc_sprint_ustack(const char *stk, char *out);

static inline s64 stpc_isinstr(const char *s, const char *part)
{
	return strstr(s, part) != NULL;
}

static inline s64 stpc_strtol(const char *s, s64 base)
{
	return simple_strtol(s, NULL, (unsigned int)base);
}

#endif /* STPC_LANG_H */
