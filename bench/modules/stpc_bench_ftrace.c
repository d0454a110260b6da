// SPDX-License-Identifier: GPL-2.0
/*
 * stpc_bench_ftrace - the floor for a probe at a function's entry: one
 * ftrace_ops, filtered to the address given as ip= (stpc_bench_hit's,
 * from /proc/kallsyms), whose callback takes ftrace's recursion guard and
 * counts its hits (/sys/module/stpc_bench_ftrace/parameters/hits).  No
 * FTRACE_OPS_FL_SAVE_REGS: the entry registers a probe reads its
 * arguments from are in the ftrace_regs already
 * (CONFIG_DYNAMIC_FTRACE_WITH_ARGS).
 */
#include <linux/ftrace.h>
#include <linux/module.h>

static unsigned long ip;
module_param(ip, ulong, 0444);
MODULE_PARM_DESC(ip, "the address of the function to trace");

static unsigned long hits;
module_param(hits, ulong, 0444);

static void notrace stpc_bench_entry(unsigned long this_ip,
				     unsigned long parent_ip,
				     struct ftrace_ops *ops,
				     struct ftrace_regs *fregs)
{
	int bit = ftrace_test_recursion_trylock(this_ip, parent_ip);

	if (bit < 0)
		return;
	hits++;
	ftrace_test_recursion_unlock(bit);
}

static struct ftrace_ops stpc_bench_ops = {
	.func = stpc_bench_entry,
};

static int __init stpc_bench_ftrace_init(void)
{
	int ret;

	if (!ip)
		return -EINVAL;
	ret = ftrace_set_filter_ip(&stpc_bench_ops, ip, 0, 0);
	if (ret)
		return ret;
	ret = register_ftrace_function(&stpc_bench_ops);
	if (ret)
		ftrace_free_filter(&stpc_bench_ops);
	return ret;
}

static void __exit stpc_bench_ftrace_exit(void)
{
	unregister_ftrace_function(&stpc_bench_ops);
	ftrace_free_filter(&stpc_bench_ops);
}

module_init(stpc_bench_ftrace_init);
module_exit(stpc_bench_ftrace_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stpc benchmark: an ftrace_ops with a counting callback");
