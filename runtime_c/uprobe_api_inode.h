/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Uprobes named by (inode, offset, consumer) when registered and when
 * unregistered; unregistering waits for the consumer's running handlers
 * (it takes the uprobe's rwsem, which handlers hold for reading).
 * Registered with the reference counter's offset (an SDT semaphore, 0
 * for none), which this API takes in uprobe_register_refctr().
 * Chosen when the feature probe finds no uprobe_unregister_nosync.
 */
static int stpc_uprobe_register(struct stpc_uprobe *up)
{
	return uprobe_register_refctr(up->inode, up->offset, up->ref_ctr_offset,
				      &up->consumer);
}

static void stpc_uprobe_unregister(struct stpc_uprobe *up)
{
	uprobe_unregister(up->inode, up->offset, &up->consumer);
}

static void stpc_uprobe_unregister_wait(void)
{
}
