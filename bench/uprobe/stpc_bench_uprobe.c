// SPDX-License-Identifier: GPL-2.0
/*
 * stpc_bench_uprobe - the reference a user-space probe's cost is
 * measured against: one uprobe at file offset @offset of @path whose
 * handler does nothing but count its hits (read back from
 * /sys/module/stpc_bench_uprobe/parameters/hits, the proof that it
 * fired; the probed program is single-threaded, so a plain increment is
 * exact).  The two uprobe APIs (6.1's by inode and offset, 6.12's by the
 * struct uprobe it returns) are chosen by the same feature probe as
 * stpc's runtime (STPC_HAVE_UPROBE_NOSYNC, compiler/features.py).
 */
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/uprobes.h>

static char *path;
module_param(path, charp, 0444);
static unsigned long offset;
module_param(offset, ulong, 0444);
static unsigned long hits;
module_param(hits, ulong, 0444);

static struct inode *stpc_bench_inode;

static int stpc_bench_handler(struct uprobe_consumer *self,
			      struct pt_regs *regs)
{
	hits++;
	return 0;
}

static struct uprobe_consumer stpc_bench_consumer = {
	.handler = stpc_bench_handler,
};

#ifdef STPC_HAVE_UPROBE_NOSYNC
static struct uprobe *stpc_bench_uprobe;

static int stpc_bench_register(void)
{
	stpc_bench_uprobe = uprobe_register(stpc_bench_inode, offset, 0,
					    &stpc_bench_consumer);
	return PTR_ERR_OR_ZERO(stpc_bench_uprobe);
}

static void stpc_bench_unregister(void)
{
	uprobe_unregister_nosync(stpc_bench_uprobe, &stpc_bench_consumer);
	uprobe_unregister_sync();
}
#else
static int stpc_bench_register(void)
{
	return uprobe_register(stpc_bench_inode, offset, &stpc_bench_consumer);
}

static void stpc_bench_unregister(void)
{
	uprobe_unregister(stpc_bench_inode, offset, &stpc_bench_consumer);
}
#endif

static int __init stpc_bench_uprobe_init(void)
{
	struct path found;
	int ret;

	if (!path)
		return -EINVAL;
	ret = kern_path(path, LOOKUP_FOLLOW, &found);
	if (ret)
		return ret;
	stpc_bench_inode = igrab(d_inode(found.dentry));
	path_put(&found);
	if (!stpc_bench_inode)
		return -ENOENT;
	ret = stpc_bench_register();
	if (ret)
		iput(stpc_bench_inode);
	return ret;
}

static void __exit stpc_bench_uprobe_exit(void)
{
	stpc_bench_unregister();
	iput(stpc_bench_inode);
}

module_init(stpc_bench_uprobe_init);
module_exit(stpc_bench_uprobe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stpc benchmark: a uprobe with an empty handler");
