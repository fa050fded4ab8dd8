/*
 * clock: see clock.h.
 */
#include <time.h>

#include "clock.h"

/*
 * The build date (unix seconds), from the Makefile: SOURCE_DATE_EPOCH, else
 * the last commit's date, else the time of the build.  This default serves
 * builds outside the Makefile.  The floor is a year before it: a backlog
 * carried across an upgrade, a call imported from another box, or a
 * yesterday's call (started_at) keep their times, while what a clock
 * never set reads (1970, an RTC's 2000, systemd's own build date) is
 * still years before.
 */
#ifndef CALLSYNC_BUILD_EPOCH
#define CALLSYNC_BUILD_EPOCH	1796083200	/* 2026-12-01 */
#endif
#define CLOCK_FLOOR		((int64_t)CALLSYNC_BUILD_EPOCH - 365 * 86400)

/* ms of clock id; 0 cannot happen with the two ids used here. */
static int64_t
clock_ms(clockid_t id)
{
	struct timespec	 ts;

	if (clock_gettime(id, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t
clock_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t
clock_wall_s(void)
{
	return (int64_t)time(NULL);
}

int64_t
clock_floor(void)
{
	return CLOCK_FLOOR;
}

int
clock_known(int64_t t)
{
	return t >= CLOCK_FLOOR;
}
