// SPDX-License-Identifier: GPL-2.0
/*
 * The runtime's parts, included once at the end of a generated module,
 * after the module's struct stpc_program, so that the whole module is one
 * translation unit the compiler can inline across.
 */
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
#include "modnotify.c"
#include "print.c"
#include "transport.c"
