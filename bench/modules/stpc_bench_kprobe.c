// SPDX-License-Identifier: GPL-2.0
/*
 * stpc_bench_kprobe - the reference a probe's cost is measured against:
 * one kprobe on stpc_bench_hit whose pre-handler does nothing but count
 * its hits (read back from /sys/module/stpc_bench_kprobe/parameters/hits,
 * the proof that it fired; the benchmark calls from one CPU, so a plain
 * increment is exact).
 */
#include <linux/kprobes.h>
#include <linux/module.h>

static unsigned long hits;
module_param(hits, ulong, 0444);

static int stpc_bench_pre(struct kprobe *kp, struct pt_regs *regs)
{
	hits++;
	return 0;
}

static struct kprobe stpc_bench_kp = {
	.symbol_name = "stpc_bench_hit",
	.pre_handler = stpc_bench_pre,
};

static int __init stpc_bench_kprobe_init(void)
{
	return register_kprobe(&stpc_bench_kp);
}

static void __exit stpc_bench_kprobe_exit(void)
{
	unregister_kprobe(&stpc_bench_kp);
}

module_init(stpc_bench_kprobe_init);
module_exit(stpc_bench_kprobe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stpc benchmark: a kprobe with an empty pre-handler");
