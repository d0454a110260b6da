/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The loader <-> module protocol: the one definition.
 * Mirrored, constant for constant, by loader/protocol.py; a test checks
 * that the two agree.
 *
 * Files: the module creates the directory /proc/stpc-MODNAME/ with
 *
 *   ctl   read:  one line of "key=value" pairs separated by spaces:
 *                  state=N errors=N skipped=N dropped=N finished=0|1
 *                where state is one of STPC_STATE_* below.
 *         write: one command word: "start" runs the begin probes and arms
 *                the others; "disarm" disarms every probe (the loader
 *                then drains the output, so that the end probes' records
 *                find room); "stop" disarms every probe if "disarm" did
 *                not, runs the end probes (unless a begin probe failed)
 *                and sets finished=1.
 *   data  read:  a stream of records, each a struct stpc_record header
 *                followed by len payload bytes, padded with zero bytes to
 *                a multiple of STPC_RECORD_ALIGN.  Records come out
 *                ordered by seq.  A read never splits a record; an empty
 *                read means no record is pending right now.  poll()
 *                reports it readable when a record is pending or the run
 *                is ending (ctl's state says which).
 *                One opener at a time (EBUSY otherwise).  The loader
 *                keeps it open for the whole run: closing it on a run
 *                that was started and not stopped means the loader is
 *                gone, and the module stops the run itself (as "stop").
 *
 * Module parameters the loader may pass to init_module:
 *   stpc_target=PID      the value of target() (-c or -x).
 *   stpc_addrs=A,B,...   for kernel and module probes: one address per
 *                        "slot" listed in the .stpc_info section (below),
 *                        in order.  A probed module's slots are its
 *                        struct module (.gnu.linkonce.this_module), its
 *                        build-id note (.note.gnu.build-id), then code
 *                        and data sections, each read by the loader from
 *                        /sys/module/NAME/sections/; the kernel's one
 *                        slot is _stext from /proc/kallsyms.  0 means
 *                        "not loaded".  The module checks every address
 *                        (kallsyms names, build-id) before using any.
 *
 *   stpc_verbose=1       report the memory preallocated at load, how the
 *                        probes were armed (ftrace or kprobes) and probed
 *                        modules loaded or unloaded during the run.
 *
 * The .stpc_info section of every stpc module holds one JSON object
 * (format STPC_INFO_FORMAT): stpc_version, module, kernel_release,
 * vermagic, source_hash, nslots, parameters (the ones above, name ->
 * description), probes (every probe point: kernel and module ones as
 * resolved, the others as written) and targets (the probed modules;
 * the key keeps its first name), each
 * {name, build_id (hex), first_slot, slots (names), optional}, and
 * metadata_sha256 (the loader's integrity check, loader/metadata.py).
 * docs/precompiled.md describes each format.
 * Every stpc module also has the read-only parameter stpc_protocol, whose
 * value is STPC_PROTOCOL_VERSION; its presence in /sys/module/NAME/
 * parameters/ marks a module as stpc's (used by "stpc --cleanup").
 */
#ifndef STPC_PROTOCOL_H
#define STPC_PROTOCOL_H

#define STPC_PROTOCOL_VERSION	1

#define STPC_PROC_PREFIX	"stpc-"
#define STPC_CTL_FILE		"ctl"
#define STPC_DATA_FILE		"data"

#define STPC_PARAM_TARGET	"stpc_target"
#define STPC_PARAM_ADDRS	"stpc_addrs"
#define STPC_PARAM_VERBOSE	"stpc_verbose"
#define STPC_INFO_SECTION	".stpc_info"
#define STPC_INFO_FORMAT	6

#define STPC_CMD_START		"start"
#define STPC_CMD_DISARM		"disarm"
#define STPC_CMD_STOP		"stop"

enum stpc_state {
	STPC_STATE_LOADED = 0,		/* init done, nothing armed */
	STPC_STATE_STARTING = 1,	/* begin probes running */
	STPC_STATE_RUNNING = 2,		/* probes armed */
	STPC_STATE_STOPPING = 3,	/* exit() called or run ending */
	STPC_STATE_ERROR = 4,		/* a begin or end probe failed */
};

enum stpc_stream {
	STPC_STREAM_STDOUT = 1,
	STPC_STREAM_STDERR = 2,
	STPC_STREAM_PAD = 3,		/* internal to the ring, never read */
};

/*
 * What a stdout record holds, for "stpc --format json": the text of printf
 * and friends, or the end-of-run printing of one global (a scalar, an
 * array, or statistics), or one printed histogram.  Text is the same in
 * every kind but STPC_KIND_HIST_NAME, which is not output: it names the
 * histogram whose record follows.  A record never mixes kinds.
 */
enum stpc_kind {
	STPC_KIND_PRINTF = 0,
	STPC_KIND_VALUE = 1,		/* "name=value" lines */
	STPC_KIND_MAP = 2,		/* "name[keys]=value" lines */
	STPC_KIND_STATS = 3,		/* "name[keys] @count=N ..." lines */
	STPC_KIND_HIST = 4,		/* one histogram, as printed */
	STPC_KIND_HIST_NAME = 5,	/* "name" or "name[keys]": not printed */
};

struct stpc_record {
	unsigned long long seq;
	unsigned int len;
	unsigned short stream;
	unsigned short kind;		/* enum stpc_kind */
};

/*
 * Every record (header and padded payload) is a multiple of the header's
 * size, so the ring's end always has room for a pad record's header.
 */
#define STPC_RECORD_ALIGN	16

#endif /* STPC_PROTOCOL_H */
