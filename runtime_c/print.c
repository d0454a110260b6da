// SPDX-License-Identifier: GPL-2.0
/*
 * Output of one handler collects in its CPU's context and leaves as one
 * record when the handler ends, so lines from concurrent handlers never
 * interleave mid-line.  A handler printing more than the buffer holds is
 * flushed early, in buffer-sized records.
 */

void stpc_flush(struct stpc_context *c)
{
	if (!c->outlen)
		return;
	stpc_transport_write(STPC_STREAM_STDOUT, c->out_kind, c->out,
			     c->outlen);
	c->outlen = 0;
}

/*
 * Starts a record of another kind (the loader's JSON output tells printf
 * text from printed globals and histograms by it); returns the old kind.
 */
enum stpc_kind stpc_set_kind(struct stpc_context *c, enum stpc_kind kind)
{
	enum stpc_kind old = c->out_kind;

	if (kind != old) {
		stpc_flush(c);
		c->out_kind = kind;
	}
	return old;
}

static void stpc_vprintf(struct stpc_context *c, const char *fmt, va_list args)
{
	size_t room = STPC_PRINT_BUFSIZE - c->outlen;
	va_list again;
	int len;

	va_copy(again, args);
	len = vsnprintf(c->out + c->outlen, room, fmt, args);
	if (len < room) {
		c->outlen += len;
	} else if (c->outlen) {
		stpc_flush(c);
		stpc_vprintf(c, fmt, again);
	} else {
		/* longer than a whole buffer: keep what fits, like a full line */
		c->outlen = STPC_PRINT_BUFSIZE - 1;
		stpc_flush(c);
	}
	va_end(again);
}

void stpc_printf(struct stpc_context *c, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	stpc_vprintf(c, fmt, args);
	va_end(args);
}

void stpc_print_str(struct stpc_context *c, const char *s)
{
	stpc_printf(c, "%s", s);
}

/* A diagnostic line on the loader's stderr, outside any handler. */
void stpc_warn(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	stpc_transport_vprintf(STPC_STREAM_STDERR, fmt, args);
	va_end(args);
}
