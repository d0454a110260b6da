/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Limits, each overridable with "stpc -D NAME=VALUE".  The defaults are
 * SystemTap's, so scripts behave the same under both.  The sizes come
 * first: they shape the runtime's code (compiler/defines.py's
 * RUNTIME_DEFINES lists them).
 */
#ifndef STPC_LIMITS_H
#define STPC_LIMITS_H

#ifndef MAXSTRINGLEN
#define MAXSTRINGLEN 512
#endif

/* Output one handler may produce before it is flushed as a record. */
#ifndef STPC_PRINT_BUFSIZE
#define STPC_PRINT_BUFSIZE 8192
#endif

/* Per-CPU output ring; a power of two. */
#ifndef STPC_BUFFER_SIZE
#define STPC_BUFFER_SIZE (1 << 20)
#endif

#if MAXSTRINGLEN < 16
#error "MAXSTRINGLEN must be at least 16"
#endif

#if (STPC_BUFFER_SIZE & (STPC_BUFFER_SIZE - 1)) != 0
#error "STPC_BUFFER_SIZE must be a power of two"
#endif

/*
 * The limits below are read at run time, from the module's struct
 * stpc_program (its .limits): the runtime is compiled once, as an object
 * cached apart from the module (compiler/build.py), and only the sizes
 * above may change its code.  Hidden from it, so that it cannot use them.
 */
#ifndef STPC_RUNTIME_OBJECT

#ifndef MAXACTION
#define MAXACTION 1000
#endif

/* begin and end probes run in process context and may do more work */
#ifndef MAXACTION_INTERRUPTIBLE
#define MAXACTION_INTERRUPTIBLE (MAXACTION * 10)
#endif

#ifndef MAXNESTING
#define MAXNESTING 10
#endif

#ifndef MAXMAPENTRIES
#define MAXMAPENTRIES 2048
#endif

#ifndef MAXTRYLOCK
#define MAXTRYLOCK 100
#endif

#ifndef TRYLOCKDELAY
#define TRYLOCKDELAY 10		/* microseconds between lock attempts */
#endif

#ifndef MAXSKIPPED
#define MAXSKIPPED 100
#endif

#ifndef MAXERRORS
#define MAXERRORS 0
#endif

/*
 * Overload: the handlers of one CPU may spend at most THRESHOLD cycles in
 * any INTERVAL cycles, or the run ends (SystemTap's defaults: half of
 * the CPU).  -D STP_NO_OVERLOAD turns the check off.
 */
#ifndef STP_OVERLOAD_INTERVAL
#define STP_OVERLOAD_INTERVAL 1000000000
#endif

#ifndef STP_OVERLOAD_THRESHOLD
#define STP_OVERLOAD_THRESHOLD 500000000
#endif

/* One handler in this many is timed for it (stpc_handler.h). */
#ifndef STPC_OVERLOAD_SAMPLE
#define STPC_OVERLOAD_SAMPLE 8
#endif

#if (STPC_OVERLOAD_SAMPLE & (STPC_OVERLOAD_SAMPLE - 1)) != 0
#error "STPC_OVERLOAD_SAMPLE must be a power of two"
#endif

#ifdef STP_NO_OVERLOAD
#define STPC_OVERLOAD_CHECK 0
#else
#define STPC_OVERLOAD_CHECK 1
#endif

#endif /* STPC_RUNTIME_OBJECT */

#endif /* STPC_LIMITS_H */
