// SPDX-License-Identifier: GPL-2.0
/*
 * stpc -t: how often each probe ran and what its runs cost in cycles
 * (get_cycles), reported after the end probes in SystemTap's "probe hit
 * report" format.  Each probe adds to its own per-CPU record, so timing
 * takes no lock and never allocates; the report reads the records once
 * every probe is disarmed, when nothing adds to them any more.
 */

/* variance as SystemTap's -t shows it: unscaled */
static const struct stpc_stat_desc stpc_timing_desc = {
	.hist = STPC_HIST_NONE,
	.variance = true,
};

static int stpc_timing_alloc(void)
{
	unsigned int i;

	for (i = 0; i < stpc_program.ntiming; i++) {
		stpc_program.timing[i].cycles = stpc_counted(
			alloc_percpu(struct stpc_stat_record),
			sizeof(struct stpc_stat_record) * num_possible_cpus(),
			STPC_MEM_DATA);
		if (!stpc_program.timing[i].cycles)
			return -ENOMEM;
	}
	return 0;
}

static void stpc_timing_free(void)
{
	unsigned int i;

	for (i = 0; i < stpc_program.ntiming; i++) {
		free_percpu(stpc_program.timing[i].cycles);
		stpc_program.timing[i].cycles = NULL;
	}
}

/* Called with preemption off, on the CPU the probe ran on. */
void stpc_timing_add(const struct stpc_probe *p, cycles_t start)
{
	if (p->timing)
		stpc_stat_record_add(&stpc_timing_desc,
				     this_cpu_ptr(p->timing->cycles),
				     (s64)(get_cycles() - start));
}

static void stpc_timing_line(struct stpc_context *c, unsigned int index)
{
	const struct stpc_probe_timing *t = &stpc_program.timing[index];
	struct stpc_stat_record total = { };
	int cpu;

	for_each_possible_cpu(cpu)
		stpc_stat_merge(&total, per_cpu_ptr(t->cycles, cpu), 0);
	if (!total.count)
		return;
	stpc_stat_finish(&stpc_timing_desc, &total);
	stpc_printf(c, "%s, (%s), hits: %lld, cycles: %lldmin/%lldavg/%lldmax, "
		    "variance: %lld, from: %s, index: %u\n",
		    t->point, t->location, total.count, total.min,
		    div64_s64(total.sum, total.count), total.max,
		    total.variance, t->derivation, index);
}

/* The report, a record a line; @c is this CPU's context, ready to print. */
static void stpc_timing_print(struct stpc_context *c)
{
	unsigned int i;

	stpc_printf(c, "----- probe hit report: \n");
	stpc_flush(c);
	for (i = 0; i < stpc_program.ntiming; i++) {
		stpc_timing_line(c, i);
		stpc_flush(c);
	}
	stpc_printf(c, "----- refresh report:\n");
	stpc_flush(c);
}
