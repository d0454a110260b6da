// SPDX-License-Identifier: GPL-2.0
/*
 * Transport: per-CPU output rings drained by the loader through
 * /proc/stpc-MODNAME/data, and the ctl file it steers the run with.
 *
 * A writer holds only its own CPU's ring lock (with interrupts off), so
 * handlers on different CPUs never contend with each other; the reader
 * takes each ring's lock briefly to move one record to its bounce buffer.
 * Records carry a global sequence number so the reader can merge CPUs in
 * the order the records were written.  A full ring drops the record and
 * counts it: nothing is lost silently.
 */
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/cpumask.h>
#include <linux/mutex.h>
#include <linux/irq_work.h>
#include <linux/poll.h>

struct stpc_ring {
	raw_spinlock_t lock;
	char *buf;
	u64 head;		/* next byte written */
	u64 tail;		/* next byte read */
	char *line;		/* stpc_transport_vprintf's, STPC_LINE_MAX */
};

#define STPC_RING_MASK		((u64)STPC_BUFFER_SIZE - 1)
#define STPC_RECORD_MAX		(sizeof(struct stpc_record) + \
				 ALIGN(STPC_PRINT_BUFSIZE, STPC_RECORD_ALIGN))
/* a diagnostic: a script's error message (a string) and some words */
#define STPC_LINE_MAX		(MAXSTRINGLEN + 64)

static struct stpc_ring *stpc_rings[NR_CPUS];
static atomic64_t stpc_seq = ATOMIC64_INIT(0);
static atomic64_t stpc_dropped = ATOMIC64_INIT(0);
static struct proc_dir_entry *stpc_proc_dir;
static DEFINE_MUTEX(stpc_read_mutex);
static char *stpc_bounce;
static atomic_t stpc_reader_present = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(stpc_reader_wait);

static void stpc_wake_reader_now(struct irq_work *work)
{
	wake_up_interruptible(&stpc_reader_wait);
}

static struct irq_work stpc_reader_wake = IRQ_WORK_INIT(stpc_wake_reader_now);

/*
 * Wakes the loader sleeping in poll() on the data file.  Through an
 * irq_work, as a handler may run where waking a task directly could
 * deadlock (a scheduler function holding its runqueue lock).
 */
void stpc_wake_reader(void)
{
	irq_work_queue(&stpc_reader_wake);
}

u64 stpc_dropped_records(void)
{
	return atomic64_read(&stpc_dropped);
}

static_assert(sizeof(struct stpc_record) == STPC_RECORD_ALIGN);

static size_t stpc_record_size(size_t len)
{
	return sizeof(struct stpc_record) + ALIGN(len, STPC_RECORD_ALIGN);
}

static void stpc_ring_put(struct stpc_ring *ring, u64 seq,
			  enum stpc_stream stream, enum stpc_kind kind,
			  const char *buf, size_t len)
{
	size_t need = stpc_record_size(len);
	u64 off = ring->head & STPC_RING_MASK;
	u64 to_end = STPC_BUFFER_SIZE - off;
	u64 pad = to_end < need ? to_end : 0;
	bool was_empty = ring->head == ring->tail;
	struct stpc_record *rec;

	if (STPC_BUFFER_SIZE - (ring->head - ring->tail) < need + pad) {
		atomic64_inc(&stpc_dropped);
		return;
	}
	if (pad) {
		rec = (struct stpc_record *)(ring->buf + off);
		rec->seq = 0;
		rec->len = pad - sizeof(*rec);
		rec->stream = STPC_STREAM_PAD;
		ring->head += pad;
		off = 0;
	}
	rec = (struct stpc_record *)(ring->buf + off);
	rec->seq = seq;
	rec->len = len;
	rec->stream = stream;
	rec->kind = kind;
	memcpy(rec + 1, buf, len);
	memset((char *)(rec + 1) + len, 0, need - sizeof(*rec) - len);
	ring->head += need;
	/* a reader with records still to take is not asleep */
	if (was_empty)
		stpc_wake_reader();
}

/* Called with interrupts off, so @ring is this CPU's while it writes. */
static void stpc_ring_write(struct stpc_ring *ring, enum stpc_stream stream,
			    enum stpc_kind kind, const char *buf, size_t len)
{
	if (len > STPC_PRINT_BUFSIZE)
		len = STPC_PRINT_BUFSIZE;
	raw_spin_lock(&ring->lock);
	stpc_ring_put(ring, atomic64_inc_return(&stpc_seq), stream, kind, buf,
		      len);
	raw_spin_unlock(&ring->lock);
}

void stpc_transport_write(enum stpc_stream stream, enum stpc_kind kind,
			  const char *buf, size_t len)
{
	unsigned long flags;

	local_irq_save(flags);
	stpc_ring_write(stpc_rings[smp_processor_id()], stream, kind, buf, len);
	local_irq_restore(flags);
}

/*
 * A formatted record.  The text is formatted in its CPU's line buffer, not
 * on the stack, as a line as long as MAXSTRINGLEN may not fit a kernel
 * stack frame; interrupts stay off from formatting to writing, so no probe
 * on this CPU reuses the buffer meanwhile.
 */
void stpc_transport_vprintf(enum stpc_stream stream, const char *fmt,
			    va_list args)
{
	struct stpc_ring *ring;
	unsigned long flags;
	size_t len;

	local_irq_save(flags);
	ring = stpc_rings[smp_processor_id()];
	len = vscnprintf(ring->line, STPC_LINE_MAX, fmt, args);
	stpc_ring_write(ring, stream, STPC_KIND_PRINTF, ring->line, len);
	local_irq_restore(flags);
}

/*
 * The first real record at the ring's tail, skipping padding; caller holds
 * the lock.  A record never wraps: the writer fills the ring's end with a
 * pad record.
 */
static struct stpc_record *stpc_ring_peek(struct stpc_ring *ring)
{
	struct stpc_record *rec;

	while (ring->tail != ring->head) {
		rec = (struct stpc_record *)(ring->buf +
					     (ring->tail & STPC_RING_MASK));
		if (rec->stream != STPC_STREAM_PAD)
			return rec;
		ring->tail += stpc_record_size(rec->len);
	}
	return NULL;
}

/* The CPU whose oldest record is the oldest of all, or -1. */
static int stpc_oldest_cpu(void)
{
	struct stpc_record *rec;
	unsigned long flags;
	u64 best_seq = U64_MAX;
	int cpu, best = -1;

	for_each_possible_cpu(cpu) {
		struct stpc_ring *ring = stpc_rings[cpu];

		raw_spin_lock_irqsave(&ring->lock, flags);
		rec = stpc_ring_peek(ring);
		if (rec && rec->seq < best_seq) {
			best_seq = rec->seq;
			best = cpu;
		}
		raw_spin_unlock_irqrestore(&ring->lock, flags);
	}
	return best;
}

/* Moves the oldest record of @cpu's ring into the bounce buffer. */
static size_t stpc_ring_take(int cpu)
{
	struct stpc_ring *ring = stpc_rings[cpu];
	struct stpc_record *rec;
	unsigned long flags;
	size_t size = 0;

	raw_spin_lock_irqsave(&ring->lock, flags);
	rec = stpc_ring_peek(ring);
	if (rec) {
		size = stpc_record_size(rec->len);
		memcpy(stpc_bounce, rec, size);
		ring->tail += size;
	}
	raw_spin_unlock_irqrestore(&ring->lock, flags);
	return size;
}

static ssize_t stpc_data_read(struct file *file, char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	ssize_t done = 0;

	if (count < STPC_RECORD_MAX)
		return -EINVAL;
	if (mutex_lock_interruptible(&stpc_read_mutex))
		return -ERESTARTSYS;
	while (count - done >= STPC_RECORD_MAX) {
		int cpu = stpc_oldest_cpu();
		size_t size;

		if (cpu < 0)
			break;
		size = stpc_ring_take(cpu);
		if (copy_to_user(ubuf + done, stpc_bounce, size)) {
			done = done ? done : -EFAULT;
			break;
		}
		done += size;
	}
	mutex_unlock(&stpc_read_mutex);
	return done;
}

static bool stpc_records_waiting(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct stpc_ring *ring = stpc_rings[cpu];

		if (READ_ONCE(ring->head) != READ_ONCE(ring->tail))
			return true;
	}
	return false;
}

/* Readable when a record waits or the run is ending (the ctl file says
 * how); woken by stpc_wake_reader. */
static __poll_t stpc_data_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &stpc_reader_wait, wait);
	if (stpc_records_waiting() || stpc_session_ending())
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

/* One reader: records taken by a second one would be lost to the loader. */
static int stpc_data_open(struct inode *inode, struct file *file)
{
	if (atomic_cmpxchg(&stpc_reader_present, 0, 1))
		return -EBUSY;
	return 0;
}

/* The loader holds the data file open for its whole run: when the file
 * closes on a run that is still going, the loader is gone (killed), and
 * nobody would ever disarm the probes; so they are disarmed now. */
static int stpc_data_release(struct inode *inode, struct file *file)
{
	stpc_session_abandoned();
	atomic_set(&stpc_reader_present, 0);
	return 0;
}

static ssize_t stpc_ctl_read(struct file *file, char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char line[160];
	int len = stpc_session_status(line, sizeof(line));

	return simple_read_from_buffer(ubuf, count, ppos, line, len);
}

static ssize_t stpc_ctl_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	char cmd[16];
	size_t len = min(count, sizeof(cmd) - 1);
	int ret;

	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = '\0';
	strim(cmd);
	if (!strcmp(cmd, STPC_CMD_START))
		ret = stpc_ctl_command(stpc_session_start);
	else if (!strcmp(cmd, STPC_CMD_DISARM))
		ret = stpc_ctl_command(stpc_session_disarm);
	else if (!strcmp(cmd, STPC_CMD_STOP))
		ret = stpc_ctl_command(stpc_session_stop);
	else
		ret = -EINVAL;
	return ret < 0 ? ret : count;
}

static const struct proc_ops stpc_data_ops = {
	.proc_open = stpc_data_open,
	.proc_release = stpc_data_release,
	.proc_read = stpc_data_read,
	.proc_poll = stpc_data_poll,
	.proc_lseek = noop_llseek,
};

static const struct proc_ops stpc_ctl_ops = {
	.proc_read = stpc_ctl_read,
	.proc_write = stpc_ctl_write,
	.proc_lseek = noop_llseek,
};

static void stpc_free_rings(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		if (!stpc_rings[cpu])
			continue;
		vfree(stpc_rings[cpu]->buf);
		kvfree(stpc_rings[cpu]->line);
		kfree(stpc_rings[cpu]);
		stpc_rings[cpu] = NULL;
	}
}

static int stpc_alloc_rings(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct stpc_ring *ring = stpc_counted(kzalloc(sizeof(*ring),
							      GFP_KERNEL),
						      sizeof(*ring),
						      STPC_MEM_OUTPUT);

		if (!ring)
			return -ENOMEM;
		stpc_rings[cpu] = ring;
		raw_spin_lock_init(&ring->lock);
		ring->buf = stpc_counted(vzalloc(STPC_BUFFER_SIZE),
					 STPC_BUFFER_SIZE, STPC_MEM_OUTPUT);
		ring->line = stpc_counted(kvmalloc(STPC_LINE_MAX, GFP_KERNEL),
					  STPC_LINE_MAX, STPC_MEM_OUTPUT);
		if (!ring->buf || !ring->line)
			return -ENOMEM;
	}
	return 0;
}

int stpc_transport_init(void)
{
	char dirname[sizeof(STPC_PROC_PREFIX) + MODULE_NAME_LEN];
	int ret;

	BUILD_BUG_ON(STPC_BUFFER_SIZE < 2 * STPC_RECORD_MAX);
	ret = stpc_alloc_rings();
	if (ret)
		goto fail;
	ret = -ENOMEM;
	stpc_bounce = stpc_counted(kmalloc(STPC_RECORD_MAX, GFP_KERNEL),
				   STPC_RECORD_MAX, STPC_MEM_OUTPUT);
	if (!stpc_bounce)
		goto fail;
	snprintf(dirname, sizeof(dirname), STPC_PROC_PREFIX "%s",
		 THIS_MODULE->name);
	stpc_proc_dir = proc_mkdir(dirname, NULL);
	if (!stpc_proc_dir)
		goto fail;
	if (!proc_create(STPC_CTL_FILE, 0600, stpc_proc_dir, &stpc_ctl_ops) ||
	    !proc_create(STPC_DATA_FILE, 0400, stpc_proc_dir, &stpc_data_ops))
		goto fail;
	return 0;
fail:
	stpc_transport_exit();
	return ret;
}

void stpc_transport_exit(void)
{
	proc_remove(stpc_proc_dir);
	irq_work_sync(&stpc_reader_wake);
	stpc_proc_dir = NULL;
	kfree(stpc_bounce);
	stpc_bounce = NULL;
	stpc_free_rings();
}
