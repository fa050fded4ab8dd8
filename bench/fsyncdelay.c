/*
 * fsyncdelay: an LD_PRELOAD shim that makes storage slow to sync, for
 * bench/slowdisk.sh (issue 15: edge boxes write to SD cards and eMMC,
 * where one fsync costs 5-50 ms).
 *
 *   FSYNC_DELAY_MS=20 LD_PRELOAD=bench/fsyncdelay.so callsyncd ...
 *
 * fsync, fdatasync and sync_file_range each sleep FSYNC_DELAY_MS
 * (default 0) after the real call returns: the caller waits as it would
 * for a slow device, the data is as durable as the real call made it.
 * With FSYNC_COUNT_FILE set, the number of calls is appended to that file
 * at exit ("fsync N fdatasync N sync_file_range N"), a cross-check of
 * strace -c.
 *
 * Built by `make bench` (build/fsyncdelay.so) and by test 57 (a kill
 * test with slow fsyncs); not part of callsync.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static atomic_long n_fsync, n_fdatasync, n_sfr;

static void
delay(void)
{
	static long	 ms = -1;
	struct timespec	 ts;
	int		 saved = errno;
	const char	*v;

	if (ms < 0)
		ms = (v = getenv("FSYNC_DELAY_MS")) != NULL ? atol(v) : 0;
	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	errno = saved;
}

int
fsync(int fd)
{
	static int	(*real)(int);
	int		 rc;

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	rc = real(fd);
	atomic_fetch_add(&n_fsync, 1);
	delay();
	return rc;
}

int
fdatasync(int fd)
{
	static int	(*real)(int);
	int		 rc;

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	rc = real(fd);
	atomic_fetch_add(&n_fdatasync, 1);
	delay();
	return rc;
}

int
sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	static int	(*real)(int, off_t, off_t, unsigned int);
	int		 rc;

	if (real == NULL)
		real = (int (*)(int, off_t, off_t, unsigned int))dlsym(RTLD_NEXT,
		    "sync_file_range");
	rc = real(fd, off, n, flags);
	atomic_fetch_add(&n_sfr, 1);
	delay();
	return rc;
}

__attribute__((destructor)) static void
report(void)
{
	const char	*path = getenv("FSYNC_COUNT_FILE");
	FILE		*f;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "fsync %ld fdatasync %ld sync_file_range %ld\n",
	    atomic_load(&n_fsync), atomic_load(&n_fdatasync),
	    atomic_load(&n_sfr));
	fclose(f);
}
