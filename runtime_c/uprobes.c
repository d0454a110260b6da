// SPDX-License-Identifier: GPL-2.0
/*
 * process("PATH").function(...) and .mark(...) probes: uprobes on the
 * file's inode at the offsets the compiler computed; a mark with a
 * semaphore passes its offset as the uprobe's reference counter, which
 * the kernel increments in every process mapping the file while the
 * uprobe is registered (and decrements when it is unregistered).  The file is looked up by path when
 * the probes are armed (after the begin probes, from the loader's ctl
 * write: process context, where lookups and registration may sleep); the
 * loader checked its build-id before loading the module, and the module
 * checks it again in the file it opens.  With -c or -x
 * (stpc_target), only the target process's threads run the handlers.
 */
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/uprobes.h>

#ifdef STPC_HAVE_UPROBE_NOSYNC
#include "uprobe_api_handle.h"
#else
#include "uprobe_api_inode.h"
#endif

/* The inode of task @t's executable (compared, never dereferenced). */
static const struct inode *stpc_task_exe(struct task_struct *t)
{
	const struct inode *exe = NULL;
	struct file *file;

	task_lock(t);
	if (t->mm) {
		rcu_read_lock();
		file = rcu_dereference(t->mm->exe_file);
		exe = file ? file_inode(file) : NULL;
		rcu_read_unlock();
	}
	task_unlock(t);
	return exe;
}

/* -c/-x: the target only; .library(): the program's processes only. */
static bool stpc_uprobe_wanted(const struct stpc_uprobe *up)
{
	if (stpc_target && task_tgid_nr(current) != stpc_target)
		return false;
	return !up->process_inode || stpc_task_exe(current) == up->process_inode;
}

static int stpc_uprobe_hit(struct uprobe_consumer *self, struct pt_regs *regs)
{
	struct stpc_uprobe *up = container_of(self, struct stpc_uprobe,
					      consumer);

	if (stpc_uprobe_wanted(up))
		stpc_run_probe_regs(&up->probe, regs);
	return 0;
}

static int stpc_uretprobe_hit(struct uprobe_consumer *self,
			      unsigned long func, struct pt_regs *regs)
{
	return stpc_uprobe_hit(self, regs);
}

/* The inode of @path, held; NULL (and *err) when there is none. */
static struct inode *stpc_uprobe_inode(const char *path, int *err)
{
	struct path found;
	struct inode *inode;

	*err = kern_path(path, LOOKUP_FOLLOW, &found);
	if (*err)
		return NULL;
	inode = igrab(d_inode(found.dentry));
	path_put(&found);
	if (!inode)
		*err = -ENOENT;
	return inode;
}

/*
 * Whether @file holds @up's build-id where the compiler found it: the
 * loader checked the path before loading the module, but the path may
 * name another file by now (a package upgraded meanwhile), and offsets
 * into another build would place breakpoints mid-instruction.
 */
static bool stpc_file_is_probed_build(struct file *file,
				      const struct stpc_uprobe *up)
{
	loff_t pos = up->build_id_offset;
	unsigned int done, n;
	u8 chunk[32];

	for (done = 0; done < up->build_id_len; done += n) {
		n = min_t(unsigned int, sizeof(chunk), up->build_id_len - done);
		if (kernel_read(file, chunk, n, &pos) != n ||
		    memcmp(chunk, up->build_id + done, n))
			return false;
	}
	return true;
}

/* The inode of @up's file, held, once its build-id is checked; NULL
 * and *err when there is no such file, or -ENOEXEC: another build. */
static struct inode *stpc_uprobe_file_inode(const struct stpc_uprobe *up,
					    int *err)
{
	struct inode *inode = NULL;
	struct file *file;

	file = filp_open(up->path, O_RDONLY | O_LARGEFILE, 0);
	if (IS_ERR(file)) {
		*err = PTR_ERR(file);
		return NULL;
	}
	if (stpc_file_is_probed_build(file, up))
		inode = igrab(file_inode(file));
	*err = inode ? 0 : -ENOEXEC;
	filp_close(file, NULL);
	return inode;
}

/* Lets go of the inodes the probe held (or failed to take). */
static void stpc_uprobe_release(struct stpc_uprobe *up)
{
	iput(up->inode);
	up->inode = NULL;
	iput(up->process_inode);
	up->process_inode = NULL;
}

static void stpc_uprobe_failed(struct stpc_uprobe *up, int ret)
{
	const char *level = up->optional ? "WARNING" : "ERROR";

	if (ret == -ENOEXEC)
		stpc_warn("%s: cannot arm probe %s: %s is not the file it was "
			  "compiled for (its build-id differs)\n", level,
			  up->probe.point, up->path);
	else
		stpc_warn("%s: cannot arm probe %s at %s+%#lx: error %d\n",
			  level, up->probe.point, up->path, up->offset, ret);
	stpc_arming_failed(up->optional);
}

static void stpc_uprobes_arm(void)
{
	unsigned int i, armed = 0;
	int ret;

	for (i = 0; i < stpc_program.nuprobes; i++) {
		struct stpc_uprobe *up = &stpc_program.uprobes[i];

		if (up->armed)
			continue;
		up->inode = stpc_uprobe_file_inode(up, &ret);
		if (up->inode && up->process)
			up->process_inode = stpc_uprobe_inode(up->process, &ret);
		if (!up->inode || (up->process && !up->process_inode)) {
			stpc_uprobe_release(up);
			stpc_uprobe_failed(up, ret);
			continue;
		}
		memset(&up->consumer, 0, sizeof(up->consumer));
		ret = 0;
		if (up->entry_size)
			ret = stpc_uentries_prepare(up);
		else if (up->is_return)
			up->consumer.ret_handler = stpc_uretprobe_hit;
		else
			up->consumer.handler = stpc_uprobe_hit;
		if (!ret)
			ret = stpc_uprobe_register(up);
		if (ret) {
			stpc_uentries_free(up);
			stpc_uprobe_release(up);
			stpc_uprobe_failed(up, ret);
			continue;
		}
		up->armed = true;
		armed++;
	}
	if (stpc_verbose && stpc_program.nuprobes)
		stpc_warn("stpc: %u uprobes armed\n", armed);
}

static void stpc_uprobes_disarm(void)
{
	unsigned int i, disarmed = 0;

	for (i = 0; i < stpc_program.nuprobes; i++) {
		struct stpc_uprobe *up = &stpc_program.uprobes[i];

		if (!up->armed)
			continue;
		stpc_uprobe_unregister(up);
		disarmed++;
	}
	if (disarmed)
		stpc_uprobe_unregister_wait();
	for (i = 0; i < stpc_program.nuprobes; i++) {
		struct stpc_uprobe *up = &stpc_program.uprobes[i];

		if (!up->armed)
			continue;
		stpc_uprobe_release(up);
		stpc_uentries_free(up);
		up->armed = false;
	}
}
