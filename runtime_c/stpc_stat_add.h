/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Adding to statistics (`s <<< v`, `s[k] <<< v`), inline where a probe
 * handler does it.  The generated module passes the statistic's (or the
 * array's) description, a static const object, so the compiler knows the
 * key types and whether a variance or a histogram is kept: the hash and
 * the lookup have no loop over the keys and no branch on their types,
 * and the update keeps only the parts that statistic has.  The runtime
 * (map.c, stats.c, stat_map.c) uses the same functions with descriptions
 * it reads at run time.
 */
#ifndef STPC_STAT_ADD_H
#define STPC_STAT_ADD_H

#include <linux/log2.h>

#include "stpc_keystr.h"

#define STPC_NONE	0	/* slot links are index + 1; 0 ends a list */

static __always_inline struct stpc_map_entry *
stpc_slot(const struct stpc_map *m, u32 link)
{
	return (struct stpc_map_entry *)(m->slots + (size_t)(link - 1) *
					 m->slot_size);
}

/*
 * The loops over an array's keys are unrolled whole (a map has at most
 * STPC_MAX_KEYS): GCC otherwise keeps the loop around a string key's
 * inner loop and reads each key's type from the description at run time.
 */
#define STPC_EACH_KEY _Pragma("GCC unroll 16")

/* A word mix per number and per word of a string (stpc_keystr.h). */
static __always_inline u32 stpc_key_hash(const struct stpc_map_desc *d,
					 const struct stpc_key *k)
{
	u64 hash = 0;
	unsigned int i;

	STPC_EACH_KEY
	for (i = 0; i < d->nkeys; i++) {
		if (d->key_types[i] == STPC_T_STRING)
			hash = stpc_key_hash_string(hash, k->str[i]);
		else
			hash = stpc_key_mix(hash, k->num[i]);
	}
	return (u32)(hash >> 32) ^ (u32)hash;
}

static __always_inline bool stpc_key_equal(const struct stpc_map *m,
					   const struct stpc_map_desc *d,
					   const struct stpc_map_entry *e,
					   const struct stpc_key *k)
{
	unsigned int i;

	STPC_EACH_KEY
	for (i = 0; i < d->nkeys; i++) {
		if (d->key_types[i] == STPC_T_STRING) {
			if (!stpc_key_string_equal(stpc_key_str(m, e, i),
						   k->str[i]))
				return false;
		} else if (*stpc_key_long(m, e, i) != k->num[i]) {
			return false;
		}
	}
	return true;
}

/* @m's entry for @k, whose hash is @hash; @d is m->desc. */
static __always_inline struct stpc_map_entry *
stpc_map_find_hashed(struct stpc_map *m, const struct stpc_map_desc *d,
		     const struct stpc_key *k, u32 hash)
{
	u32 link = m->buckets[hash & (m->nbuckets - 1)];

	while (link != STPC_NONE) {
		struct stpc_map_entry *e = stpc_slot(m, link);

		if (e->hash == hash && stpc_key_equal(m, d, e, k))
			return e;
		link = e->bucket_next;
	}
	return NULL;
}

/* A new entry for @k, whose hash is @hash; NULL when the map is full. */
struct stpc_map_entry *stpc_map_add_entry(struct stpc_context *c,
					  struct stpc_map *m,
					  const struct stpc_key *k, u32 hash,
					  const char *location);

/* The histogram bucket of @v; see stpc_bucket_label for the inverse. */
static __always_inline unsigned int stpc_bucket(const struct stpc_stat_desc *d,
						s64 v)
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

void stpc_stat_variance_add(const struct stpc_stat_desc *d,
			    struct stpc_stat_record *r, s64 v);

/*
 * Adds @v to one record; the caller keeps other writers away.  Without
 * a variance or a histogram it is four updates, no divide and no loop.
 */
static __always_inline void stpc_stat_update(const struct stpc_stat_desc *d,
					     struct stpc_stat_record *r, s64 v)
{
	if (!r->count || v < r->min)
		r->min = v;
	if (!r->count || v > r->max)
		r->max = v;
	r->count++;
	r->sum += v;
	if (unlikely(d->variance))
		stpc_stat_variance_add(d, r, v);
	if (d->hist != STPC_HIST_NONE)
		r->buckets[stpc_bucket(d, v)]++;
}

/* `s <<< v` on a global statistic @s, whose description is @d. */
static __always_inline void stpc_stat_add(struct stpc_stat *s,
					  const struct stpc_stat_desc *d,
					  s64 v)
{
	struct stpc_stat_record *r = s->cpu[smp_processor_id()];

	WRITE_ONCE(r->seq, r->seq + 1);
	smp_wmb();
	stpc_stat_update(d, r, v);
	smp_wmb();
	WRITE_ONCE(r->seq, r->seq + 1);
}

/* `sm[k] <<< v` on an array of statistics @sm, whose description is
 * @d: in this CPU's map (stat_map.c), which no other adder touches. */
static __always_inline void stpc_stat_map_add(struct stpc_context *c,
					      struct stpc_stat_map *sm,
					      const struct stpc_map_desc *d,
					      const struct stpc_key *k, s64 v,
					      const char *location)
{
	struct stpc_map *m = sm->cpu[smp_processor_id()];
	u32 hash = stpc_key_hash(d, k);
	struct stpc_map_entry *e = stpc_map_find_hashed(m, d, k, hash);

	if (!e)
		e = stpc_map_add_entry(c, m, k, hash, location);
	if (e)
		stpc_stat_update(d->stat, stpc_value_stat(m, e), v);
}

#endif /* STPC_STAT_ADD_H */
