// SPDX-License-Identifier: GPL-2.0
/*
 * Associative arrays: fixed-capacity hash tables allocated at module init
 * from the declared size (or MAXMAPENTRIES), so probe handlers never
 * allocate.  Entries are slots of one size: a header, then each key (an
 * s64 or a MAXSTRINGLEN string), then the value.  A list in insertion
 * order serves unsorted foreach (a re-inserted key goes last); each entry's
 * insertion number makes sorted foreach stable.
 *
 * Callers hold the array's global lock; nothing here locks.
 */
#include "stpc_stat_add.h"
#include <linux/sort.h>

static size_t stpc_type_size(unsigned char type)
{
	return type == STPC_T_STRING ? MAXSTRINGLEN : sizeof(s64);
}

static size_t stpc_value_size(const struct stpc_map_desc *desc)
{
	if (desc->value_type == STPC_T_STATS)
		return STPC_STAT_WORDS(desc->stat->nbuckets) * sizeof(u64);
	return stpc_type_size(desc->value_type);
}

static u32 stpc_link(const struct stpc_map *m, const struct stpc_map_entry *e)
{
	return ((const char *)e - m->slots) / m->slot_size + 1;
}

int stpc_map_init(struct stpc_map *m, const struct stpc_map_desc *desc)
{
	size_t off = ALIGN(sizeof(struct stpc_map_entry), 8);
	size_t slots, buckets;
	unsigned int i;

	m->desc = desc;
	for (i = 0; i < desc->nkeys; i++) {
		m->key_off[i] = off;
		off += ALIGN(stpc_type_size(desc->key_types[i]), 8);
	}
	m->value_off = off;
	m->slot_size = off + ALIGN(stpc_value_size(desc), 8);
	m->nbuckets = roundup_pow_of_two(desc->max_entries);
	slots = (size_t)desc->max_entries * m->slot_size;
	buckets = m->nbuckets * sizeof(u32);
	m->slots = stpc_counted(vzalloc(slots), slots, STPC_MEM_DATA);
	m->buckets = stpc_counted(vzalloc(buckets), buckets, STPC_MEM_DATA);
	if (!m->slots || !m->buckets)
		return -ENOMEM;
	stpc_map_clear(m);
	return 0;
}

void stpc_map_free(struct stpc_map *m)
{
	vfree(m->slots);
	vfree(m->buckets);
	m->slots = NULL;
	m->buckets = NULL;
}

void stpc_map_clear(struct stpc_map *m)
{
	u32 i;

	memset(m->buckets, 0, m->nbuckets * sizeof(u32));
	for (i = 1; i <= m->desc->max_entries; i++)
		stpc_slot(m, i)->bucket_next =
			i < m->desc->max_entries ? i + 1 : STPC_NONE;
	m->free = m->desc->max_entries ? 1 : STPC_NONE;
	m->first = m->last = STPC_NONE;
	m->count = 0;
}

struct stpc_map_entry *stpc_map_find(struct stpc_map *m,
				     const struct stpc_key *k)
{
	return stpc_map_find_hashed(m, m->desc, k, stpc_key_hash(m->desc, k));
}

static void stpc_store_key(struct stpc_map *m, struct stpc_map_entry *e,
			   const struct stpc_key *k)
{
	unsigned int i;

	for (i = 0; i < m->desc->nkeys; i++) {
		if (m->desc->key_types[i] == STPC_T_STRING)
			stpc_str_assign(stpc_key_str(m, e, i), k->str[i]);
		else
			*stpc_key_long(m, e, i) = k->num[i];
	}
}

struct stpc_map_entry *stpc_map_add_entry(struct stpc_context *c,
					  struct stpc_map *m,
					  const struct stpc_key *k, u32 hash,
					  const char *location)
{
	struct stpc_map_entry *e;
	u32 link, bucket;

	if (m->free == STPC_NONE) {
		stpc_error(c, m->desc->overflow_message, location);
		return NULL;
	}
	link = m->free;
	e = stpc_slot(m, link);
	m->free = e->bucket_next;
	memset(e, 0, m->slot_size);
	stpc_store_key(m, e, k);
	e->hash = hash;
	e->seq = ++m->seq;
	bucket = e->hash & (m->nbuckets - 1);
	e->bucket_next = m->buckets[bucket];
	m->buckets[bucket] = link;
	e->prev = m->last;
	if (m->last != STPC_NONE)
		stpc_slot(m, m->last)->next = link;
	else
		m->first = link;
	m->last = link;
	m->count++;
	return e;
}

/* @k's entry, added if new; NULL when the map is full.  One hash. */
static __always_inline struct stpc_map_entry *
stpc_map_find_or_add(struct stpc_context *c, struct stpc_map *m,
		     const struct stpc_key *k, const char *location)
{
	u32 hash = stpc_key_hash(m->desc, k);
	struct stpc_map_entry *e = stpc_map_find_hashed(m, m->desc, k, hash);

	return e ? e : stpc_map_add_entry(c, m, k, hash, location);
}

struct stpc_map_entry *stpc_map_insert(struct stpc_context *c,
				       struct stpc_map *m,
				       const struct stpc_key *k,
				       const char *location)
{
	return stpc_map_find_or_add(c, m, k, location);
}

static void stpc_unlink_bucket(struct stpc_map *m, struct stpc_map_entry *e,
			       u32 link)
{
	u32 *at = &m->buckets[e->hash & (m->nbuckets - 1)];

	while (*at != link)
		at = &stpc_slot(m, *at)->bucket_next;
	*at = e->bucket_next;
}

void stpc_map_delete(struct stpc_map *m, const struct stpc_key *k)
{
	struct stpc_map_entry *e = stpc_map_find(m, k);
	u32 link;

	if (!e)
		return;
	link = stpc_link(m, e);
	stpc_unlink_bucket(m, e, link);
	if (e->prev != STPC_NONE)
		stpc_slot(m, e->prev)->next = e->next;
	else
		m->first = e->next;
	if (e->next != STPC_NONE)
		stpc_slot(m, e->next)->prev = e->prev;
	else
		m->last = e->prev;
	e->bucket_next = m->free;
	m->free = link;
	m->count--;
}

struct stpc_map_entry *stpc_map_first(const struct stpc_map *m)
{
	return m->first == STPC_NONE ? NULL : stpc_slot(m, m->first);
}

struct stpc_map_entry *stpc_map_next(const struct stpc_map *m,
				     const struct stpc_map_entry *e)
{
	return e->next == STPC_NONE ? NULL : stpc_slot(m, e->next);
}

struct stpc_sort_spec {
	const struct stpc_map *map;
	int column;		/* 0: the value; i + 1: key i */
	int direction;		/* 1 ascending, -1 descending */
	int stat_op;		/* statistics values: what to compare */
};

static int stpc_compare_s64(s64 a, s64 b)
{
	return a == b ? 0 : a < b ? -1 : 1;
}

static int stpc_compare_column(const struct stpc_sort_spec *spec,
			       const struct stpc_map_entry *a,
			       const struct stpc_map_entry *b)
{
	const struct stpc_map *m = spec->map;
	int column = spec->column;
	unsigned char type;
	size_t off;

	if (column == 0 && m->desc->value_type == STPC_T_STATS)
		return stpc_compare_s64(
			stpc_stat_field(stpc_value_stat(m, a), spec->stat_op),
			stpc_stat_field(stpc_value_stat(m, b), spec->stat_op));
	if (column == 0) {
		type = m->desc->value_type;
		off = m->value_off;
	} else {
		type = m->desc->key_types[column - 1];
		off = m->key_off[column - 1];
	}
	if (type == STPC_T_STRING)
		return stpc_strcmp((const char *)a + off, (const char *)b + off);
	return stpc_compare_s64(*(const s64 *)((const char *)a + off),
				*(const s64 *)((const char *)b + off));
}

static int stpc_compare_entries(const void *pa, const void *pb,
				const void *priv)
{
	const struct stpc_sort_spec *spec = priv;
	const struct stpc_map_entry *a = *(const struct stpc_map_entry **)pa;
	const struct stpc_map_entry *b = *(const struct stpc_map_entry **)pb;
	int order = stpc_compare_column(spec, a, b);

	if (order)
		return order * spec->direction;
	/* equal: keep insertion order, which makes the sort stable */
	return a->seq < b->seq ? -1 : 1;
}

/*
 * Puts the entries in the order of @order, as SystemTap does after a sort:
 * a later unsorted foreach walks them in that order, and later sorts break
 * ties by it.
 */
static void stpc_map_relink(struct stpc_map *m, struct stpc_map_entry **order,
			    unsigned int n)
{
	u32 prev = STPC_NONE, link;
	unsigned int i;

	m->first = STPC_NONE;
	for (i = 0; i < n; i++) {
		link = stpc_link(m, order[i]);
		order[i]->prev = prev;
		order[i]->next = STPC_NONE;
		order[i]->seq = i + 1;	/* m->seq >= n: new keys still go last */
		if (prev != STPC_NONE)
			stpc_slot(m, prev)->next = link;
		else
			m->first = link;
		prev = link;
	}
	m->last = prev;
}

/* Fills @out (room for every entry) in sorted order; returns the count. */
unsigned int stpc_map_sorted(struct stpc_map *m, struct stpc_map_entry **out,
			     int column, int direction)
{
	return stpc_map_sorted_by(m, out, column, direction, STPC_STAT_COUNT);
}

/* The same, a statistics array's values compared by @stat_op. */
unsigned int stpc_map_sorted_by(struct stpc_map *m,
				struct stpc_map_entry **out, int column,
				int direction, int stat_op)
{
	struct stpc_sort_spec spec = { m, column, direction, stat_op };
	struct stpc_map_entry *e;
	unsigned int n = 0;

	for (e = stpc_map_first(m); e; e = stpc_map_next(m, e))
		out[n++] = e;
	sort_r(out, n, sizeof(*out), stpc_compare_entries, NULL, &spec);
	stpc_map_relink(m, out, n);
	return n;
}
