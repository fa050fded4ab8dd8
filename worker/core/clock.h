/*
 * clock: the one owner of time in callsync (daemon and CLI).
 *
 * Every wait and pace within a process is measured on the monotonic
 * clock, which NTP steps cannot move; the wall clock is only for what
 * other processes or other boxes must share (leases, next_at, stored and
 * printed times, audit rows).
 */
#ifndef CALLSYNC_CLOCK_H
#define CALLSYNC_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ms: for intervals only, never for stored times. */
int64_t	 clock_mono_ms(void);
/* CLOCK_REALTIME: unix ms, and unix seconds (what time(NULL) says). */
int64_t	 clock_wall_ms(void);
int64_t	 clock_wall_s(void);
/*
 * The earliest wall-clock time (unix seconds) callsync believes: a year
 * before the build date (CALLSYNC_BUILD_EPOCH, see the Makefile and
 * clock.c).  A time before it, a record's enqueued_at or started_at, or
 * this box's own clock, is unknown, not old: a box without an RTC boots
 * in 1970 and stamps what it writes until NTP answers.
 */
int64_t	 clock_floor(void);
int	 clock_known(int64_t t);

#endif
