// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics ("s <<< v"): each CPU adds into its own record, under a
 * per-CPU sequence count instead of a lock, so adders on different CPUs
 * never touch shared cache lines.  Readers merge every CPU's record,
 * retrying a CPU whose record changed under them a bounded number of times.
 */
#include "stpc_stat_add.h"

#define STPC_STAT_READ_TRIES	8

static size_t stpc_stat_record_size(const struct stpc_stat_desc *desc)
{
	return sizeof(struct stpc_stat_record) + desc->nbuckets * sizeof(u64);
}

int stpc_stat_init(struct stpc_stat *s, const struct stpc_stat_desc *desc)
{
	size_t size = stpc_stat_record_size(desc);
	int cpu;

	s->desc = desc;
	for_each_possible_cpu(cpu) {
		s->cpu[cpu] = stpc_counted(kzalloc(size, GFP_KERNEL), size,
					   STPC_MEM_DATA);
		if (!s->cpu[cpu])
			return -ENOMEM;
	}
	return 0;
}

void stpc_stat_free(struct stpc_stat *s)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		kfree(s->cpu[cpu]);
		s->cpu[cpu] = NULL;
	}
}

/*
 * @variance: SystemTap's integer version of Welford's running variance,
 * with the mean kept scaled by 2^shift and the step truncated to 32 bits
 * as SystemTap does, so results agree to the last digit.
 */
void stpc_stat_variance_add(const struct stpc_stat_desc *d,
			    struct stpc_stat_record *r, s64 v)
{
	s64 scaled = (s64)((u64)v << d->shift);
	s32 delta;

	if (r->count == 1) {
		r->mean_s = scaled;
		r->m2 = 0;
		return;
	}
	delta = (s32)(scaled - r->mean_s);
	r->mean_s += div64_s64(delta, r->count);
	r->m2 = (s64)((u64)r->m2 + (u64)delta * (u64)(scaled - r->mean_s));
	r->variance_s = div64_s64(r->m2, r->count - 1);
}

void stpc_stat_record_add(const struct stpc_stat_desc *d,
			  struct stpc_stat_record *r, s64 v)
{
	stpc_stat_update(d, r, v);
}

/*
 * Adds one CPU's record @r into @into.  For the variance, the CPUs are
 * combined with the total variance formula, sum n_i (mean_i - mean)^2 +
 * sum (n_i - 1) var_i; the first sum is gathered expanded (n_i mean_i and
 * n_i mean_i^2), which in wrapping 64-bit arithmetic gives what SystemTap's
 * two passes give, in one.
 */
void stpc_stat_merge(struct stpc_stat_record *into,
		     const struct stpc_stat_record *r, unsigned int nbuckets)
{
	unsigned int i;

	if (!r->count)
		return;
	if (!into->count || r->min < into->min)
		into->min = r->min;
	if (!into->count || r->max > into->max)
		into->max = r->max;
	into->count += r->count;
	into->sum += r->sum;
	into->n_mean += (u64)r->count * (u64)r->mean_s;
	into->n_mean2 += (u64)r->count * (u64)r->mean_s * (u64)r->mean_s;
	into->s2 += (u64)(r->count - 1) * (u64)r->variance_s;
	for (i = 0; i < nbuckets; i++)
		into->buckets[i] += r->buckets[i];
}

/* After the last merge: the variance of the merged record. */
void stpc_stat_finish(const struct stpc_stat_desc *d,
		      struct stpc_stat_record *r)
{
	s64 mean, s1;

	if (!d->variance || r->count < 2) {
		r->variance = 0;
		return;
	}
	mean = div64_s64((s64)((u64)r->sum << d->shift), r->count);
	s1 = (s64)((u64)r->n_mean2 - 2 * (u64)mean * (u64)r->n_mean +
		   (u64)mean * (u64)mean * (u64)r->count);
	r->variance = div64_s64((s64)((u64)s1 + (u64)r->s2), r->count - 1) >>
		      ((2 * d->shift) & 63);
}

/* Merges every CPU's record into @out (room for the buckets). */
void stpc_stat_read(struct stpc_stat *s, struct stpc_stat_record *out,
		    struct stpc_stat_record *scratch)
{
	size_t size = stpc_stat_record_size(s->desc);
	int cpu, tries;

	memset(out, 0, size);
	for_each_possible_cpu(cpu) {
		const struct stpc_stat_record *r = s->cpu[cpu];

		for (tries = 0; tries < STPC_STAT_READ_TRIES; tries++) {
			u32 seq = READ_ONCE(r->seq);

			smp_rmb();
			memcpy(scratch, r, size);
			smp_rmb();
			if (!(seq & 1) && READ_ONCE(r->seq) == seq)
				break;
		}
		stpc_stat_merge(out, scratch, s->desc->nbuckets);
	}
	stpc_stat_finish(s->desc, out);
}

/* The value @op (@count, @sum ...) of a merged record with data. */
s64 stpc_stat_field(const struct stpc_stat_record *r, enum stpc_stat_op op)
{
	switch (op) {
	case STPC_STAT_SUM:
		return r->sum;
	case STPC_STAT_MIN:
		return r->min;
	case STPC_STAT_MAX:
		return r->max;
	case STPC_STAT_AVG:
		return r->count ? div64_s64(r->sum, r->count) : 0;
	case STPC_STAT_VARIANCE:
		return r->variance;
	default:
		return r->count;
	}
}

void stpc_stat_clear(struct stpc_stat *s)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct stpc_stat_record *r = s->cpu[cpu];
		u32 seq = r->seq;

		memset(r, 0, stpc_stat_record_size(s->desc));
		r->seq = seq;
	}
}

/*
 * A global that is only ever added to ("n++", "n += v") lives in one s64
 * per CPU: adders use this_cpu_add() without a lock, readers sum.
 */
s64 stpc_counter_read(s64 __percpu *counter, s64 initial)
{
	u64 sum = initial;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *per_cpu_ptr(counter, cpu);
	return sum;
}

/* ---- histograms --------------------------------------------------------- */

static int stpc_bucket_label(const struct stpc_stat_desc *d, unsigned int b,
			     char *buf, size_t size)
{
	if (d->hist == STPC_HIST_LOG) {
		if (b == STPC_LOG_ZERO)
			return scnprintf(buf, size, "0");
		if (b > STPC_LOG_ZERO)
			return scnprintf(buf, size, "%llu",
					 1ULL << (b - STPC_LOG_ZERO - 1));
		return scnprintf(buf, size, "-%llu",
				 1ULL << (STPC_LOG_ZERO - 1 - b));
	}
	if (b == 0)
		return scnprintf(buf, size, "<%lld", d->start);
	if (b == d->nbuckets - 1)
		return scnprintf(buf, size, ">%lld", d->stop);
	return scnprintf(buf, size, "%lld", d->start + (s64)(b - 1) * d->step);
}

/* The buckets to show: [*first, *last], or false when there is no data. */
static bool stpc_hist_range(const struct stpc_stat_desc *d,
			    const struct stpc_stat_record *r,
			    unsigned int *first, unsigned int *last)
{
	unsigned int lo = 0, hi = d->nbuckets - 1, b, floor;
	bool found = false;

	for (b = 0; b < d->nbuckets; b++) {
		if (!r->buckets[b])
			continue;
		if (!found)
			*first = b;
		*last = b;
		found = true;
	}
	if (!found)
		return false;
	if (d->hist == STPC_HIST_LINEAR) {
		/* under- and overflow rows show only when they hold data */
		lo = r->buckets[0] ? 0 : 1;
		hi = r->buckets[d->nbuckets - 1] ? hi : hi - 1;
	}
	floor = d->hist == STPC_HIST_LOG && r->min >= 0 ? STPC_LOG_ZERO : lo;
	*first = *first >= floor + 2 ? *first - 2 : floor;
	*last = *last + 2 <= hi ? *last + 2 : hi;
	return true;
}

/* An empty row whose neighbours within two rows are all empty. */
static bool stpc_hist_elided(const struct stpc_stat_record *r,
			     unsigned int b, unsigned int first,
			     unsigned int last)
{
	unsigned int from = b >= first + 2 ? b - 2 : first;
	unsigned int to = b + 2 <= last ? b + 2 : last;
	unsigned int i;

	for (i = from; i <= to; i++)
		if (r->buckets[i])
			return false;
	return true;
}

static void stpc_hist_bar(struct stpc_context *c, u64 count, u64 scale,
			  int count_width)
{
	static const char at[] = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@";
	int bars = div64_u64(count, scale);

	stpc_printf(c, "%.*s%*llu\n", bars, at, 50 + 1 + count_width - bars,
		    count);
}

/*
 * @name ("s", or "s[k1,k2]" for an element of an array of statistics)
 * goes out first in a record of its own, for the loader's JSON output.
 */
void stpc_print_hist(struct stpc_context *c, const struct stpc_stat_desc *d,
		     const struct stpc_stat_record *r, const char *name)
{
	unsigned int first, last, b;
	int width = 5, count_width;
	u64 max = 0, scale;
	char label[32];
	bool in_gap = false;
	enum stpc_kind kind;

	if (!stpc_hist_range(d, r, &first, &last))
		return;
	kind = stpc_set_kind(c, STPC_KIND_HIST_NAME);
	stpc_printf(c, "%s", name);
	stpc_set_kind(c, STPC_KIND_HIST);
	for (b = first; b <= last; b++) {
		width = max(width, stpc_bucket_label(d, b, label,
						     sizeof(label)));
		max = max(max, r->buckets[b]);
	}
	scale = max <= 50 ? 1 : div64_u64(max + 49, 50);
	count_width = scnprintf(label, sizeof(label), "%llu", max);
	stpc_printf(c, "%*s |%.50s count\n", width, "value",
		    "--------------------------------------------------");
	for (b = first; b <= last; b++) {
		if (stpc_hist_elided(r, b, first, last)) {
			if (!in_gap)
				stpc_printf(c, "%*s\n", width + 2, "~");
			in_gap = true;
			continue;
		}
		in_gap = false;
		stpc_bucket_label(d, b, label, sizeof(label));
		stpc_printf(c, "%*s |", width, label);
		stpc_hist_bar(c, r->buckets[b], scale, count_width);
	}
	stpc_printf(c, "\n");
	stpc_set_kind(c, kind);
}
