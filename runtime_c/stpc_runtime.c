// SPDX-License-Identifier: GPL-2.0
/*
 * The runtime's parts, one translation unit compiled apart from the
 * generated module, once per kernel tree and set of sizes (the -D values
 * of compiler/defines.py's RUNTIME_DEFINES), and linked into every module.
 */
#include "stpc_runtime.h"
#include "stpc_deref.h"

/* probed.c, kprobes.c, tracepoints.c, modnotify.c: called by the session */
static void stpc_resolve_probed(void);
static bool stpc_probed_resolved(void);
static void stpc_unpin_probed(void);
static void stpc_kprobes_arm(void);
static void stpc_kprobes_disarm(void);
static void stpc_tracepoints_arm(void);
static void stpc_tracepoints_disarm(void);
static void stpc_uprobes_arm(void);
static void stpc_uprobes_disarm(void);
static void stpc_procs_arm(void);
static void stpc_usyms_arm(void);
static void stpc_usyms_disarm(void);
static void stpc_procs_disarm(void);
static int stpc_uentries_prepare(struct stpc_uprobe *up);
static void stpc_uentries_free(struct stpc_uprobe *up);
static void stpc_watch_modules(void);
static void stpc_unwatch_modules(void);

#include "map.c"
#include "stats.c"
#include "stat_map.c"
#include "strings.c"
#include "backtrace.c"
#include "timers.c"
#include "timing.c"
#include "session.c"
#include "probed.c"
#include "kprobes.c"
#include "tracepoints.c"
#include "uprobes.c"
#include "uentry.c"
#include "procs.c"
#include "usyms.c"
#include "ustack.c"
#include "modnotify.c"
#include "print.c"
#include "transport.c"
