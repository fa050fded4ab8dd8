/*
 * fdlimit: see fdlimit.h.
 *
 * The count of what is open is measured, not guessed: SQLite opens the
 * database, its WAL and shared memory; libevent an epoll descriptor and
 * a signal pair; libcurl may open more at its first use.  Whatever the
 * worker holds after engine_init is counted once, and the reserve covers
 * what comes and goes (a client of the local API, the syslog socket, a
 * name lookup's socket pair, SQLite's temporary files).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fdlimit.h"

/* When the hard limit is "unlimited": the kernel's usual nr_open. */
#define FDLIMIT_UNLIMITED	1048576L

static long
lim_long(rlim_t v)
{
	if (v == RLIM_INFINITY || v > (rlim_t)0x7fffffffL)
		return -1;
	return (long)v;
}

long
fdlimit_soft(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	return lim_long(rl.rlim_cur);
}

int
fdlimit_raise(long *was, long *now)
{
	struct rlimit	 rl, want;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (was != NULL)
		*was = lim_long(rl.rlim_cur);
	if (now != NULL)
		*now = lim_long(rl.rlim_cur);
	if (rl.rlim_cur == rl.rlim_max)
		return 0;
	want = rl;
	want.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &want) == -1) {
		/* "unlimited" is more than the kernel gives one process */
		if (rl.rlim_max != RLIM_INFINITY ||
		    (rlim_t)FDLIMIT_UNLIMITED <= rl.rlim_cur)
			return -1;
		want.rlim_cur = (rlim_t)FDLIMIT_UNLIMITED;
		if (setrlimit(RLIMIT_NOFILE, &want) == -1)
			return -1;
	}
	if (now != NULL)
		*now = lim_long(want.rlim_cur);
	return 1;
}

int
fdlimit_count_open(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;		/* the directory's own descriptor */
}

void
fdlimit_plan(struct fdplan *p)
{
	long	 room;

	p->needed = (long)p->open + p->reserve + p->inflight + p->nws;
	p->transfers = 0;
	p->idle = 0;
	p->ws_cap = 0;
	if (p->limit < 0 || p->limit >= p->needed)
		return;
	/*
	 * Short: what is left after the worker's own descriptors and the
	 * reserve is shared by the workspaces, each keeping one for its
	 * checks and probes.  At least one request in flight, in all and
	 * per workspace: a worker that can never send is worse than one
	 * that meets EMFILE now and then (back-pressure handles it).
	 */
	room = p->limit - p->open - p->reserve;
	if (room > 0x3fffffffL)
		room = 0x3fffffffL;
	/*
	 * libcurl keeps finished connections for reuse and closes the
	 * oldest only when a transfer ends with the cache over its size,
	 * while writes open fresh ones: sockets can reach the requests in
	 * flight plus the cache.  Two thirds of the room for requests, the
	 * rest for idle connections.
	 */
	p->transfers = room * 2 / 3 < 1 ? 1 : (int)(room * 2 / 3);
	p->idle = room - p->transfers < 1 ? 1 : (int)(room - p->transfers);
	if (p->nws > 0 && p->transfers / p->nws - 1 > 1)
		p->ws_cap = p->transfers / p->nws - 1;
	else
		p->ws_cap = 1;
}

void
fdlimit_describe(const struct fdplan *p, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "open-file limit %ld is short of the %ld this "
	    "configuration needs: in-flight cap %d per workspace, %d "
	    "request%s in all, %d idle connection%s (%d workspace%s, "
	    "max_inflight %ld in all + 1 each for checks, %d descriptors "
	    "open at start, %d kept for listeners, logs and a margin); raise "
	    "LimitNOFILE= or ulimit -n, or lower max_inflight", p->limit,
	    p->needed, p->ws_cap, p->transfers, p->transfers == 1 ? "" : "s",
	    p->idle, p->idle == 1 ? "" : "s", p->nws, p->nws == 1 ? "" : "s",
	    p->inflight, p->open, p->reserve);
}

bool
fdlimit_errno(int e)
{
	return e == EMFILE || e == ENFILE;
}
