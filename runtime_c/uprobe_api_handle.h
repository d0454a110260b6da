/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Uprobes registered as (inode, offset, ref_ctr_offset, consumer), which
 * returns the kernel's struct uprobe (ref_ctr_offset: an SDT semaphore's
 * file offset, 0 for none); unregistering it does not wait for
 * running handlers: uprobe_unregister_sync() does, once for a batch.
 * Chosen when the feature probe finds uprobe_unregister_nosync.
 */
static int stpc_uprobe_register(struct stpc_uprobe *up)
{
	struct uprobe *uprobe = uprobe_register(up->inode, up->offset,
						up->ref_ctr_offset,
						&up->consumer);

	if (IS_ERR(uprobe))
		return PTR_ERR(uprobe);
	up->handle = uprobe;
	return 0;
}

static void stpc_uprobe_unregister(struct stpc_uprobe *up)
{
	uprobe_unregister_nosync(up->handle, &up->consumer);
	up->handle = NULL;
}

static void stpc_uprobe_unregister_wait(void)
{
	uprobe_unregister_sync();
}
