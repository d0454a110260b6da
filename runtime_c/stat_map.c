// SPDX-License-Identifier: GPL-2.0
/*
 * Arrays of statistics ("s[k] <<< v"): one preallocated map per possible
 * CPU whose values are statistics records.  An adder holds the array's
 * lock shared, like every other adder, and changes only the map of the CPU
 * it runs on, which no other adder touches: adders never wait for each
 * other.  Readers (@count(s[k]), foreach, delete, printing) hold the lock
 * exclusive and merge the CPUs' maps.
 */

int stpc_stat_map_init(struct stpc_stat_map *sm,
		       const struct stpc_map_desc *desc)
{
	int cpu, ret;

	sm->desc = desc;
	for_each_possible_cpu(cpu) {
		sm->cpu[cpu] = stpc_counted(kzalloc(sizeof(struct stpc_map),
						    GFP_KERNEL),
					    sizeof(struct stpc_map), STPC_MEM_DATA);
		if (!sm->cpu[cpu])
			return -ENOMEM;
		ret = stpc_map_init(sm->cpu[cpu], desc);
		if (ret)
			return ret;
	}
	return stpc_map_init(&sm->agg, desc);
}

void stpc_stat_map_free(struct stpc_stat_map *sm)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		if (sm->cpu[cpu])
			stpc_map_free(sm->cpu[cpu]);
		kfree(sm->cpu[cpu]);
		sm->cpu[cpu] = NULL;
	}
	stpc_map_free(&sm->agg);
}

/* @k's statistic, every CPU's share merged into @out; empty if absent. */
void stpc_stat_map_read(struct stpc_stat_map *sm, const struct stpc_key *k,
			struct stpc_stat_record *out)
{
	const struct stpc_stat_desc *d = sm->desc->stat;
	struct stpc_map_entry *e;
	int cpu;

	memset(out, 0, STPC_STAT_WORDS(d->nbuckets) * sizeof(u64));
	for_each_possible_cpu(cpu) {
		e = stpc_map_find(sm->cpu[cpu], k);
		if (e)
			stpc_stat_merge(out, stpc_value_stat(sm->cpu[cpu], e),
					d->nbuckets);
	}
	stpc_stat_finish(d, out);
}

bool stpc_stat_map_contains(struct stpc_stat_map *sm, const struct stpc_key *k)
{
	int cpu;

	for_each_possible_cpu(cpu)
		if (stpc_map_find(sm->cpu[cpu], k))
			return true;
	return false;
}

void stpc_stat_map_delete(struct stpc_stat_map *sm, const struct stpc_key *k)
{
	int cpu;

	for_each_possible_cpu(cpu)
		stpc_map_delete(sm->cpu[cpu], k);
	stpc_map_delete(&sm->agg, k);
}

void stpc_stat_map_clear(struct stpc_stat_map *sm)
{
	int cpu;

	for_each_possible_cpu(cpu)
		stpc_map_clear(sm->cpu[cpu]);
	stpc_map_clear(&sm->agg);
}

/* The key of entry @e of @m, borrowing its strings. */
static void stpc_entry_key(const struct stpc_map *m,
			   const struct stpc_map_entry *e, struct stpc_key *k)
{
	unsigned int i;

	for (i = 0; i < m->desc->nkeys; i++) {
		if (m->desc->key_types[i] == STPC_T_STRING)
			k->str[i] = stpc_key_str(m, e, i);
		else
			k->num[i] = *stpc_key_long(m, e, i);
	}
}

/*
 * Every key's statistic merged over the CPUs, in sm->agg, which the caller
 * iterates like an ordinary map.  As SystemTap does, the merged map is
 * updated in place: its keys keep the order a previous sort left them in,
 * new keys go last and keys no CPU holds any more leave.  More distinct
 * keys than one map holds is the overflow error.
 */
struct stpc_map *stpc_stat_map_aggregate(struct stpc_context *c,
					 struct stpc_stat_map *sm,
					 const char *location)
{
	const struct stpc_stat_desc *d = sm->desc->stat;
	size_t size = STPC_STAT_WORDS(d->nbuckets) * sizeof(u64);
	struct stpc_map *agg = &sm->agg;
	struct stpc_map_entry *e, *next, *into;
	struct stpc_key key = {};
	int cpu;

	for (e = stpc_map_first(agg); e; e = stpc_map_next(agg, e))
		memset(stpc_value_stat(agg, e), 0, size);
	for_each_possible_cpu(cpu) {
		struct stpc_map *m = sm->cpu[cpu];

		for (e = stpc_map_first(m); e; e = stpc_map_next(m, e)) {
			stpc_entry_key(m, e, &key);
			into = stpc_map_insert(c, agg, &key, location);
			if (!into)
				return agg;
			stpc_stat_merge(stpc_value_stat(agg, into),
					stpc_value_stat(m, e), d->nbuckets);
		}
	}
	for (e = stpc_map_first(agg); e; e = next) {
		next = stpc_map_next(agg, e);
		if (stpc_value_stat(agg, e)->count) {
			stpc_stat_finish(d, stpc_value_stat(agg, e));
			continue;
		}
		stpc_entry_key(agg, e, &key);
		stpc_map_delete(agg, &key);
	}
	return agg;
}
