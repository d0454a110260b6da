// SPDX-License-Identifier: GPL-2.0
/*
 * Statistics ("s <<< v"): each CPU adds into its own record, under a
 * per-CPU sequence count instead of a lock, so adders on different CPUs
 * never touch shared cache lines.  Readers merge every CPU's record,
 * retrying a CPU whose record changed under them a bounded number of times.
 */
#include <linux/log2.h>

#define STPC_STAT_READ_TRIES	8

static size_t stpc_stat_record_size(const struct stpc_stat_desc *desc)
{
	return sizeof(struct stpc_stat_record) + desc->nbuckets * sizeof(u64);
}

int stpc_stat_init(struct stpc_stat *s, const struct stpc_stat_desc *desc)
{
	int cpu;

	s->desc = desc;
	for_each_possible_cpu(cpu) {
		s->cpu[cpu] = kzalloc(stpc_stat_record_size(desc), GFP_KERNEL);
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

/* The histogram bucket of @v; see stpc_bucket_label for the inverse. */
static unsigned int stpc_bucket(const struct stpc_stat_desc *d, s64 v)
{
	if (d->hist == STPC_HIST_LOG) {
		if (v == 0)
			return STPC_LOG_ZERO;
		if (v > 0)
			return STPC_LOG_ZERO + 1 + ilog2((u64)v);
		return STPC_LOG_ZERO - 1 - ilog2(0 - (u64)v);
	}
	if (v < d->start)
		return 0;
	if ((u64)(v - d->start) / d->step >= d->nbuckets - 2)
		return d->nbuckets - 1;
	return 1 + (u64)(v - d->start) / d->step;
}

void stpc_stat_add(struct stpc_stat *s, s64 v)
{
	struct stpc_stat_record *r = s->cpu[smp_processor_id()];

	WRITE_ONCE(r->seq, r->seq + 1);
	smp_wmb();
	if (!r->count || v < r->min)
		r->min = v;
	if (!r->count || v > r->max)
		r->max = v;
	r->count++;
	r->sum += v;
	if (s->desc->hist != STPC_HIST_NONE)
		r->buckets[stpc_bucket(s->desc, v)]++;
	smp_wmb();
	WRITE_ONCE(r->seq, r->seq + 1);
}

static void stpc_stat_merge(struct stpc_stat_record *into,
			    const struct stpc_stat_record *r,
			    unsigned int nbuckets)
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
	for (i = 0; i < nbuckets; i++)
		into->buckets[i] += r->buckets[i];
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

void stpc_print_hist(struct stpc_context *c, const struct stpc_stat *s,
		     const struct stpc_stat_record *r)
{
	const struct stpc_stat_desc *d = s->desc;
	unsigned int first, last, b;
	int width = 5, count_width;
	u64 max = 0, scale;
	char label[32];
	bool in_gap = false;

	if (!stpc_hist_range(d, r, &first, &last))
		return;
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
}
