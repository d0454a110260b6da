/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stpc runtime: types shared by the generated code and the runtime.
 *
 * A generated module is one translation unit: it includes this header,
 * defines its globals, handlers and its struct stpc_program, then includes
 * stpc_runtime.c, which pulls in the runtime's parts.
 */
#ifndef STPC_RUNTIME_H
#define STPC_RUNTIME_H

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/types.h>
#include <linux/atomic.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/sched.h>
#include <linux/delay.h>

#include "stpc_protocol.h"
#include "stpc_limits.h"

struct stpc_context;

/* A global a handler takes, in index order, for reading or writing. */
struct stpc_lock_req {
	unsigned short index;
	unsigned short write;
};

enum stpc_probe_kind {
	STPC_PROBE_BEGIN,
	STPC_PROBE_END,
	STPC_PROBE_OTHER,
};

struct stpc_probe {
	void (*handler)(struct stpc_context *c);
	const char *point;		/* the probe point as written, for pp() */
	const struct stpc_lock_req *locks;
	unsigned int nlocks;
	enum stpc_probe_kind kind;
};

struct stpc_program {
	const struct stpc_probe *begin;		/* sorted by priority */
	unsigned int nbegin;
	const struct stpc_probe *end;		/* sorted by priority */
	unsigned int nend;
	size_t context_size;			/* of the generated context */
	rwlock_t *locks;			/* one per global */
	unsigned int nlocks;
	void (*init_globals)(void);
};

/* Per-CPU state of the handler running on that CPU. */
struct stpc_context {
	atomic_t busy;
	const struct stpc_probe *probe;
	const char *last_error;		/* set once per handler run */
	const char *error_location;	/* "near ... at FILE:L:C", or NULL */
	bool error_uncatchable;
	unsigned long actions;
	unsigned long max_actions;
	int nesting;
	size_t outlen;
	char error_buf[MAXSTRINGLEN];
	char out[STPC_PRINT_BUFSIZE];
};

/* session.c */
void stpc_error(struct stpc_context *c, const char *msg, const char *location);
void stpc_error_copy(struct stpc_context *c, const char *msg,
		     const char *location);
void stpc_maxaction(struct stpc_context *c, const char *location);
void stpc_request_exit(void);
void stpc_run_probe(const struct stpc_probe *p);
extern long stpc_target;

/*
 * Before every statement and loop iteration: stop at a pending error
 * (jumping to the enclosing catch, or out), and count the action.
 */
#define STPC_STEP(c, location, label)					\
	do {								\
		if (unlikely((c)->last_error))				\
			goto label;					\
		if (unlikely(++(c)->actions > (c)->max_actions)) {	\
			stpc_maxaction((c), (location));		\
			goto out;					\
		}							\
	} while (0)

/* print.c */
__printf(2, 3) void stpc_printf(struct stpc_context *c, const char *fmt, ...);
void stpc_print_str(struct stpc_context *c, const char *s);
void stpc_flush(struct stpc_context *c);
__printf(1, 2) void stpc_warn(const char *fmt, ...);

/* transport.c */
int stpc_transport_init(void);
void stpc_transport_exit(void);
void stpc_transport_write(enum stpc_stream stream, const char *buf, size_t len);
u64 stpc_dropped_records(void);

#include "stpc_lang.h"

#endif /* STPC_RUNTIME_H */
