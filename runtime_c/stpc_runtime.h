/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stpc runtime: types shared by the generated code and the runtime.
 *
 * A generated module includes this header and defines its globals,
 * handlers and its struct stpc_program; the runtime (stpc_runtime.c, which
 * pulls in the runtime's parts) is compiled apart, once per kernel tree
 * and set of sizes, and linked in.
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
#include <linux/kprobes.h>
#include <linux/hrtimer.h>
#include <linux/uprobes.h>

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
	STPC_PROBE_ERROR,		/* instead of end, after an error */
	STPC_PROBE_OTHER,
};

struct stpc_probe_timing;

struct stpc_probe {
	/* the generated module's frame around its handler (stpc_handler.h),
	 * built for what that handler uses */
	void (*run)(const struct stpc_probe *p, struct pt_regs *regs,
		    void *data);
	const char *point;		/* the probe point as written, for pp() */
	const struct stpc_lock_req *locks;
	unsigned int nlocks;
	enum stpc_probe_kind kind;
	const char *function;		/* kprobes: the probed function */
	struct stpc_probe_timing *timing;	/* stpc -t, else NULL */
};

/* stpc -t: one probe's hits and cycles (timing.c) */
struct stpc_probe_timing {
	struct stpc_stat_record __percpu *cycles;
	const char *point;		/* pp() */
	const char *location;		/* the probe in the script, FILE:L:C */
	const char *derivation;		/* the point as the script wrote it */
};

struct stpc_timer_probe {
	struct hrtimer timer;
	u64 interval_ns;
	const struct stpc_probe *probe;
	bool armed;
};

/* ---- associative arrays (map.c) ---- */
#define STPC_MAX_KEYS 9

enum stpc_value_type {
	STPC_T_LONG = 1,
	STPC_T_STRING = 2,
	STPC_T_STATS = 3,	/* a struct stpc_stat_record (stat_map.c) */
};

struct stpc_stat_desc;

struct stpc_map_desc {
	unsigned int nkeys;
	unsigned char key_types[STPC_MAX_KEYS];
	unsigned char value_type;
	unsigned int max_entries;
	const char *overflow_message;
	const struct stpc_stat_desc *stat;	/* STPC_T_STATS values */
};

/* A key being looked up; string parts are borrowed, not copied. */
struct stpc_key {
	s64 num[STPC_MAX_KEYS];
	const char *str[STPC_MAX_KEYS];
};

struct stpc_map_entry {
	u32 bucket_next;	/* links are slot index + 1; 0 ends a list */
	u32 prev, next;		/* insertion order */
	u32 hash;
	u64 seq;		/* insertion number, for stable sorts */
};

struct stpc_map {
	const struct stpc_map_desc *desc;
	char *slots;
	u32 *buckets;
	u32 nbuckets;
	u32 free, first, last, count;
	u64 seq;
	size_t slot_size;
	size_t value_off;
	size_t key_off[STPC_MAX_KEYS];
};

static inline s64 *stpc_key_long(const struct stpc_map *m,
				 const struct stpc_map_entry *e, unsigned int i)
{
	return (s64 *)((char *)e + m->key_off[i]);
}

static inline char *stpc_key_str(const struct stpc_map *m,
				 const struct stpc_map_entry *e, unsigned int i)
{
	return (char *)e + m->key_off[i];
}

static inline s64 *stpc_value_long(const struct stpc_map *m,
				   const struct stpc_map_entry *e)
{
	return (s64 *)((char *)e + m->value_off);
}

static inline char *stpc_value_str(const struct stpc_map *m,
				   const struct stpc_map_entry *e)
{
	return (char *)e + m->value_off;
}

int stpc_map_init(struct stpc_map *m, const struct stpc_map_desc *desc);
void stpc_map_free(struct stpc_map *m);
void stpc_map_clear(struct stpc_map *m);
struct stpc_map_entry *stpc_map_find(struct stpc_map *m,
				     const struct stpc_key *k);
struct stpc_map_entry *stpc_map_insert(struct stpc_context *c,
				       struct stpc_map *m,
				       const struct stpc_key *k,
				       const char *location);
void stpc_map_delete(struct stpc_map *m, const struct stpc_key *k);
struct stpc_map_entry *stpc_map_first(const struct stpc_map *m);
struct stpc_map_entry *stpc_map_next(const struct stpc_map *m,
				     const struct stpc_map_entry *e);
unsigned int stpc_map_sorted(struct stpc_map *m, struct stpc_map_entry **out,
			     int column, int direction);
unsigned int stpc_map_sorted_by(struct stpc_map *m,
				struct stpc_map_entry **out, int column,
				int direction, int stat_op);

/* ---- statistics (stats.c) ---- */
enum stpc_hist_kind {
	STPC_HIST_NONE,
	STPC_HIST_LOG,
	STPC_HIST_LINEAR,
};

#define STPC_LOG_ZERO		64	/* log bucket of 0; 2^k is 65 + k */
#define STPC_LOG_BUCKETS	129

struct stpc_stat_desc {
	enum stpc_hist_kind hist;
	s64 start, stop, step;		/* linear histograms */
	unsigned int nbuckets;		/* linear: under, n buckets, over */
	bool variance;			/* @variance reads it */
	unsigned int shift;		/* of the scaled mean, for @variance */
};

/* What @count, @sum ... read, and what foreach sorts a stat array by. */
enum stpc_stat_op {
	STPC_STAT_COUNT,
	STPC_STAT_SUM,
	STPC_STAT_MIN,
	STPC_STAT_MAX,
	STPC_STAT_AVG,
	STPC_STAT_VARIANCE,
};

struct stpc_stat_record {
	u32 seq;			/* odd while an update is under way */
	u32 reserved;
	s64 count, sum, min, max;
	s64 mean_s, m2, variance_s;	/* one CPU: Welford's running state */
	s64 n_mean, n_mean2, s2;	/* merged: sums over CPUs ... */
	s64 variance;			/* ... giving the variance */
	u64 buckets[];
};

/* u64 words holding a record with @nbuckets buckets */
#define STPC_STAT_WORDS(nbuckets) \
	(sizeof(struct stpc_stat_record) / sizeof(u64) + (nbuckets))

struct stpc_stat {
	const struct stpc_stat_desc *desc;
	struct stpc_stat_record *cpu[NR_CPUS];
};

int stpc_stat_init(struct stpc_stat *s, const struct stpc_stat_desc *desc);
void stpc_stat_free(struct stpc_stat *s);
void stpc_stat_record_add(const struct stpc_stat_desc *d,
			  struct stpc_stat_record *r, s64 v);
void stpc_stat_merge(struct stpc_stat_record *into,
		     const struct stpc_stat_record *r, unsigned int nbuckets);
void stpc_stat_finish(const struct stpc_stat_desc *d,
		      struct stpc_stat_record *r);
void stpc_stat_read(struct stpc_stat *s, struct stpc_stat_record *out,
		    struct stpc_stat_record *scratch);
s64 stpc_stat_field(const struct stpc_stat_record *r, enum stpc_stat_op op);
void stpc_stat_clear(struct stpc_stat *s);
s64 stpc_counter_read(s64 __percpu *counter, s64 initial);
void stpc_print_hist(struct stpc_context *c, const struct stpc_stat_desc *d,
		     const struct stpc_stat_record *r, const char *name);

/*
 * An array of statistics (stat_map.c): one map per CPU, so "s[k] <<< v"
 * touches only its own CPU's map, and @count(s[k]) or foreach merge the
 * CPUs.  Adders hold the array's lock shared (they never wait for each
 * other), readers hold it exclusive.
 */
struct stpc_stat_map {
	const struct stpc_map_desc *desc;
	struct stpc_map *cpu[NR_CPUS];
	struct stpc_map agg;		/* merged, for foreach and printing */
};

int stpc_stat_map_init(struct stpc_stat_map *sm,
		       const struct stpc_map_desc *desc);
void stpc_stat_map_free(struct stpc_stat_map *sm);
void stpc_stat_map_read(struct stpc_stat_map *sm, const struct stpc_key *k,
			struct stpc_stat_record *out);
bool stpc_stat_map_contains(struct stpc_stat_map *sm,
			    const struct stpc_key *k);
void stpc_stat_map_delete(struct stpc_stat_map *sm, const struct stpc_key *k);
void stpc_stat_map_clear(struct stpc_stat_map *sm);
struct stpc_map *stpc_stat_map_aggregate(struct stpc_context *c,
					 struct stpc_stat_map *sm,
					 const char *location);

static inline struct stpc_stat_record *
stpc_value_stat(const struct stpc_map *m, const struct stpc_map_entry *e)
{
	return (struct stpc_stat_record *)((char *)e + m->value_off);
}

/* ---- kernel and module probes (probed.c, kprobes.c) ---- */
#define STPC_MAX_PROBED	16
#define STPC_MAX_BUILD_ID	64

/* A module (or the kernel) probes sit in; see .stpc_info and the loader. */
struct stpc_probed_desc {
	const char *name;
	const u8 *build_id;
	unsigned int build_id_len;
	unsigned int first_slot;	/* into stpc_addrs[] */
	unsigned int nslots;
	const char *const *slots;	/* what each slot is the address of */
	bool is_kernel;
	bool optional;			/* every probe in it is optional */
};

/* What a function entry's handler reads of the probed registers, which
 * picks the ftrace_ops that carries it (compiler/entryregs.py). */
enum stpc_regs_need {
	STPC_REGS_NONE,
	STPC_REGS_ARGUMENTS,	/* the argument registers and sp, at entry */
	STPC_REGS_ALL,
};

struct stpc_kprobe {
	struct stpc_probe probe;
	unsigned int module;
	unsigned int slot;		/* the section the offset is in */
	unsigned long offset;
	const char *symbol;		/* what kallsyms must call the address */
	unsigned long symbol_offset;
	unsigned long symbol_size;	/* checks a module loaded later */
	bool is_return;
	bool ftrace_entry;		/* a function's entry: ftrace may carry it */
	enum stpc_regs_need regs_need;
	bool on_ftrace;			/* armed through ftrace, not a kprobe */
	struct stpc_probe entry;	/* .return with @entry(): reads them */
	size_t entry_size;		/* bytes of @entry() values */
	bool optional;
	bool usable;			/* resolved and checked */
	bool armed;
	unsigned long addr;
	union {
		struct kprobe kp;
		struct kretprobe krp;
	};
};

/* process("PATH").function(...) and .mark(...) (uprobes.c) */
#define STPC_UENTRY_MAX_SIZE 4096	/* @entry() bytes at a .return, as a
					   kretprobe's (ENTRY_DATA_MAX,
					   compiler/entryvalues.py) */
struct stpc_uprobe {
	struct stpc_probe probe;
	const char *path;		/* the probed file, found when armed */
	unsigned long offset;		/* in the file */
	const u8 *build_id;		/* the file's, compiled against */
	unsigned int build_id_len;
	loff_t build_id_offset;		/* where its bytes are in the file */
	loff_t ref_ctr_offset;		/* a mark's semaphore in the file, or 0:
					 * counted up while registered */
	const char *process;		/* .library(): only this program's */
	struct inode *process_inode;	/* its inode, held while armed */
	bool is_return;
	bool optional;
	bool armed;
	struct stpc_probe entry;	/* .return with @entry(): reads them */
	size_t entry_size;		/* bytes of @entry() values */
	struct stpc_uentries *entries;	/* while armed (uentry.c) */
	struct inode *inode;		/* held while armed */
	void *handle;			/* the kernel's struct uprobe, if any */
	struct uprobe_consumer consumer;
};

/* usymname(): a probed file's functions, by file offset (usyms.c) */
struct stpc_usym {
	unsigned long offset;
	unsigned long size;
	const char *name;
};

/* ubacktrace(): a file's .eh_frame rules, by file offset (ustack.c) */
enum stpc_cfa_reg { STPC_CFA_NONE, STPC_CFA_RSP, STPC_CFA_RBP };
#define STPC_RBP_SAME	0	/* rbp_offset: the caller's rbp is ours */
#define STPC_RBP_LOST	1	/* rbp_offset: it cannot be found */

struct stpc_uframe {
	unsigned long offset;		/* the rule holds from here */
	s32 cfa_offset;			/* CFA = cfa_reg + cfa_offset */
	s16 rbp_offset;			/* caller's rbp at CFA + this */
	u8 cfa_reg;			/* enum stpc_cfa_reg; NONE: stop */
};

struct stpc_usym_file {
	const char *path;
	const struct stpc_usym *syms;	/* sorted by offset */
	unsigned int nsyms;
	const struct stpc_uframe *frames;	/* sorted by offset */
	unsigned int nframes;
	struct inode *inode;		/* held while armed */
};

/* process.begin/end: which processes a probe is for (procs.c) */
struct stpc_proc_filter {
	const char *path;		/* the executable, or NULL */
	long pid;			/* or that tgid; neither: every one */
	struct inode *inode;		/* the path's, held while armed */
};

struct stpc_procprobe {
	struct stpc_probe probe;
	unsigned int filter;		/* index into proc_filters, < 64 */
	bool is_end;
	bool is_thread;			/* process.thread.begin/.end */
};

/* The -D limits the runtime reads at run time (stpc_limits.h). */
struct stpc_run_limits {
	unsigned long maxaction;
	unsigned long maxaction_interruptible;	/* begin, end, error */
	int maxerrors;
	int maxskipped;
	int maxtrylock;
	int trylockdelay;			/* microseconds */
	u64 overload_interval;			/* cycles */
	u64 overload_threshold;			/* cycles */
};

/*
 * kernel.trace (tracepoints.c): a probe function registered on a
 * tracepoint.  It runs its probe, or a dispatched group's probes (in a
 * row from @probe) whose guard's constant is the event's key.
 */
struct stpc_tracepoint {
	struct stpc_probe *probe;	/* the probe function's data */
	unsigned int nprobes;		/* 1, or the group's */
	const char *name;		/* the kernel's name of the tracepoint */
	void *func;			/* void (void *probe, u64 args...) */
	int module;			/* its probed module, or -1: vmlinux */
	bool optional;
	bool armed;
	struct tracepoint *tp;		/* found when armed */
	struct module *owner;		/* a module's: the one it was found in */
};

struct stpc_program {
	struct stpc_run_limits limits;
	const struct stpc_probe *begin;		/* sorted by priority */
	unsigned int nbegin;
	const struct stpc_probe *end;		/* sorted by priority */
	unsigned int nend;
	const struct stpc_probe *error;		/* sorted by priority */
	unsigned int nerror;
	const struct stpc_probe *profile;	/* timer.profile */
	unsigned int nprofile;
	struct stpc_timer_probe *timers;
	unsigned int ntimers;
	struct stpc_map *maps;
	const struct stpc_map_desc *map_descs;
	unsigned int nmaps;
	struct stpc_stat *stats;
	const struct stpc_stat_desc *stat_descs;
	unsigned int nstats;
	struct stpc_stat_map *stat_maps;
	const struct stpc_map_desc *stat_map_descs;
	unsigned int nstat_maps;
	size_t context_size;			/* of the generated context */
	rwlock_t *locks;			/* one per global */
	unsigned int nlocks;
	void (*init_globals)(void);
	struct stpc_kprobe *kprobes;
	unsigned int nkprobes;
	struct stpc_tracepoint *tracepoints;
	unsigned int ntracepoints;
	struct stpc_uprobe *uprobes;
	unsigned int nuprobes;
	const struct stpc_procprobe *procprobes;
	unsigned int nprocprobes;
	struct stpc_proc_filter *proc_filters;
	unsigned int nproc_filters;
	struct stpc_usym_file *usym_files;
	unsigned int nusym_files;
	const struct stpc_probed_desc *probed;
	unsigned int nprobed;
	struct stpc_probe_timing *timing;	/* stpc -t: every probe */
	unsigned int ntiming;
	unsigned int nslots;			/* in stpc_addrs[] */
};

/*
 * Defined by the generated module; the runtime is an object of its own
 * (stpc_runtime.c), linked into every module.
 */
extern const struct stpc_program stpc_program;
extern unsigned long stpc_addrs[];
extern unsigned int stpc_naddrs;

/* Memory allocated at load, by use, counted where it is allocated (-v). */
enum stpc_memory_use {
	STPC_MEM_CONTEXTS,	/* the per-CPU handler contexts */
	STPC_MEM_DATA,		/* arrays, statistics, -t records */
	STPC_MEM_OUTPUT,	/* the per-CPU output rings */
	STPC_MEM_USES
};

extern size_t stpc_preallocated[STPC_MEM_USES];

static inline void *stpc_counted(void *p, size_t size,
				 enum stpc_memory_use use)
{
	if (p)
		stpc_preallocated[use] += size;
	return p;
}

/* Per-CPU state of the handler running on that CPU. */
struct stpc_context {
	bool busy;			/* a handler runs in it: see stpc_enter */
	const struct stpc_probe *probe;
	struct pt_regs *regs;		/* the probed registers; only those
				 * the handler reads are valid, NULL
				 * if none (entry_ftrace.h) */
	void *data;			/* .return: the @entry() values */
	const char *last_error;		/* set once per handler run */
	const char *error_location;	/* "near ... at FILE:L:C", or NULL */
	bool error_uncatchable;
	unsigned long actions;
	unsigned long max_actions;
	int nesting;
	size_t outlen;
	enum stpc_kind out_kind;	/* what out holds; see stpc_set_kind */
	cycles_t overload_start;	/* this CPU's current interval */
	cycles_t overload_used;		/* cycles in handlers since then */
	unsigned int overload_hits;	/* handlers run: which to time */
	char *tok_next;			/* tokenize(): rest of tok_str */
	char tok_str[MAXSTRINGLEN];
	char error_buf[MAXSTRINGLEN];
	char out[STPC_PRINT_BUFSIZE];
};

/* probefunc(): the probed function, "" outside kernel/module probes. */
static inline const char *stpc_probefunc(const struct stpc_context *c)
{
	return c->probe->function ? c->probe->function : "";
}

/* session.c */
void stpc_error(struct stpc_context *c, const char *msg, const char *location);
void stpc_error_copy(struct stpc_context *c, const char *msg,
		     const char *location);
void stpc_maxaction(struct stpc_context *c, const char *location);
void stpc_request_exit(void);

static inline void stpc_run_probe_data(const struct stpc_probe *p,
				       struct pt_regs *regs, void *data)
{
	p->run(p, regs, data);
}

/* @n probes in a row, each given @data. */
static inline void stpc_run_probes_data(const struct stpc_probe *probes,
					unsigned int n, void *data)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		probes[i].run(&probes[i], NULL, data);
}

static inline void stpc_run_probe_regs(const struct stpc_probe *p,
				       struct pt_regs *regs)
{
	p->run(p, regs, NULL);
}

/* The generated module's: stpc_run_probe_regs for function entries,
 * with their handlers' runners called directly. */
void stpc_run_entry(const struct stpc_probe *p, struct pt_regs *regs);

static inline void stpc_run_probe(const struct stpc_probe *p)
{
	p->run(p, NULL, NULL);
}

/* What the frame around a handler (stpc_handler.h) needs of the session. */
extern struct stpc_context *stpc_contexts[NR_CPUS];
extern atomic_t stpc_state;
void stpc_skip_probe(void);
bool stpc_lock_globals(const struct stpc_probe *p);
void stpc_unlock_globals(const struct stpc_probe *p, unsigned int n);
void stpc_report_error(struct stpc_context *c);
void stpc_timing_add(const struct stpc_probe *p, cycles_t start);
void stpc_overload_add(struct stpc_context *c, cycles_t start,
		       unsigned int scale);

/* The state a probe of @kind runs in (session.c's state machine). */
static __always_inline int stpc_state_of_kind(enum stpc_probe_kind kind)
{
	switch (kind) {
	case STPC_PROBE_BEGIN:
		return STPC_STATE_STARTING;
	case STPC_PROBE_END:
		return STPC_STATE_STOPPING;
	case STPC_PROBE_ERROR:
		return STPC_STATE_ERROR;
	default:
		return STPC_STATE_RUNNING;
	}
}

/*
 * Takes this CPU's context, unless a handler already runs in it (an
 * interrupt or NMI came in the middle of one).  Only this CPU, with
 * preemption off, touches the flag, so no atomic instruction is needed:
 * a handler that interrupts between the test and the set runs to its end
 * before this one goes on.
 */
static __always_inline bool stpc_enter(struct stpc_context *c)
{
	if (READ_ONCE(c->busy))
		return false;
	WRITE_ONCE(c->busy, true);
	barrier();
	return true;
}

static __always_inline void stpc_leave(struct stpc_context *c)
{
	barrier();
	WRITE_ONCE(c->busy, false);
}

/*
 * A handler's start.  The output is empty between handlers (each ends
 * with a flush), so only one that prints resets what it prints as.
 */
static __always_inline void stpc_start_context(struct stpc_context *c,
					       const struct stpc_probe *p,
					       unsigned long max_actions,
					       bool prints)
{
	c->probe = p;
	c->last_error = NULL;
	c->error_location = NULL;
	c->error_uncatchable = false;
	c->actions = 0;
	c->max_actions = max_actions;
	c->nesting = 0;
	if (prints) {
		c->outlen = 0;
		c->out_kind = STPC_KIND_PRINTF;
	}
}
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

/* A loop iteration: counted toward MAXACTION, checked at statements. */
#define STPC_COUNT(c) ((c)->actions++)

/* print.c */
__printf(2, 3) void stpc_printf(struct stpc_context *c, const char *fmt, ...);
void stpc_print_str(struct stpc_context *c, const char *s);
void stpc_flush(struct stpc_context *c);
enum stpc_kind stpc_set_kind(struct stpc_context *c, enum stpc_kind kind);
__printf(1, 2) void stpc_warn(const char *fmt, ...);

/* transport.c */
int stpc_transport_init(void);
void stpc_transport_exit(void);
void stpc_transport_write(enum stpc_stream stream, enum stpc_kind kind,
			  const char *buf, size_t len);
__printf(2, 0) void stpc_transport_vprintf(enum stpc_stream stream,
					    const char *fmt, va_list args);
u64 stpc_dropped_records(void);
void stpc_wake_reader(void);
bool stpc_session_ending(void);

#include "stpc_lang.h"

#endif /* STPC_RUNTIME_H */
