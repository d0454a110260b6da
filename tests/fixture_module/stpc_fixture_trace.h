/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture's own tracepoint, stpc_fixture:fixture_write: a module
 * tracepoint for kernel.trace tests.  Fired once per write to
 * /proc/stpc_fixture, after its iterations, with
 *	n	the N written,
 *	counter	stpc_fixture_counter after them,
 *	item	&stpc_fixture_cur_item (the last iteration's values).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM stpc_fixture

#if !defined(STPC_FIXTURE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define STPC_FIXTURE_TRACE_H

#include <linux/tracepoint.h>

struct stpc_fixture_item;

TRACE_EVENT(fixture_write,
	TP_PROTO(unsigned int n, int counter,
		 const struct stpc_fixture_item *item),
	TP_ARGS(n, counter, item),
	TP_STRUCT__entry(
		__field(unsigned int, n)
		__field(int, counter)
	),
	TP_fast_assign(
		__entry->n = n;
		__entry->counter = counter;
	),
	TP_printk("n=%u counter=%d", __entry->n, __entry->counter)
);

#endif /* STPC_FIXTURE_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE stpc_fixture_trace
#include <trace/define_trace.h>
