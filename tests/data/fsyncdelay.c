/*
 * fsyncdelay: an LD_PRELOAD shim for tests that makes every fsync and
 * fdatasync of the process take FSYNC_DELAY_MS milliseconds longer (an
 * SD card or eMMC instead of this VM's disk), then does the real call.
 *
 *   cc -shared -fPIC -o fsyncdelay.so tests/data/fsyncdelay.c -ldl
 *   FSYNC_DELAY_MS=20 LD_PRELOAD=./fsyncdelay.so callsyncd ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void
fsd_sleep(void)
{
	const char	*v = getenv("FSYNC_DELAY_MS");
	long		 ms = v != NULL ? strtol(v, NULL, 10) : 0;
	struct timespec	 ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1)
		;
}

int
fsync(int fd)
{
	int	(*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	fsd_sleep();
	return real != NULL ? real(fd) : -1;
}

int
fdatasync(int fd)
{
	int	(*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	fsd_sleep();
	return real != NULL ? real(fd) : -1;
}
