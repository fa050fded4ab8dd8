/*
 * fdlimit: file descriptors as a budget (issue 20 item 6).
 *
 * Every request in flight holds a socket, and the worker's own database,
 * lock file, event loop and listeners hold more.  Under a small
 * RLIMIT_NOFILE (containers, `ulimit -n 64`) socket() fails with EMFILE,
 * which libcurl reports as "couldn't connect": read as Intercom's outage
 * it opened breakers and held records while Intercom was fine.  So:
 * - at start the soft limit is raised to the hard one (fdlimit_raise);
 * - what the configuration needs is sized (fdlimit_plan): descriptors
 *   open at start, a reserve for the listeners' connections, the log and
 *   a margin, and per workspace its max_inflight plus one for its own
 *   checks and probes; when the limit is short, the in-flight target of
 *   each workspace and the requests in flight in all are capped so they
 *   fit, and one line gives the numbers (fdlimit_describe);
 * - a descriptor refused anyway (EMFILE, ENFILE) is the box's problem:
 *   back-pressure (the request waits and is sent again, nothing is
 *   charged), never an outage (fdlimit_errno).
 * Pure but for fdlimit_raise and fdlimit_count_open (unit test
 * tests/unit/t_fdlimit.c).
 */
#ifndef CALLSYNC_FDLIMIT_H
#define CALLSYNC_FDLIMIT_H

#include <stdbool.h>
#include <stddef.h>

/* Kept for the listeners' connections (each listener), and for the log,
 * SQLite's temporary files, name lookups and a margin (always). */
#define FDLIMIT_LISTEN_RESERVE	16	/* httpd.c HTTPD_MAXCONN */
#define FDLIMIT_RESERVE		13

struct fdplan {
	/* in */
	long	 limit;		/* soft RLIMIT_NOFILE */
	int	 open;		/* descriptors open once the worker is set up */
	int	 reserve;	/* FDLIMIT_RESERVE + listeners' */
	int	 nws;		/* workspaces */
	long	 inflight;	/* sum over workspaces of max_inflight */
	/* out */
	long	 needed;	/* open + reserve + inflight + nws */
	int	 transfers;	/* requests in flight in all; 0: no cap */
	int	 idle;		/* idle connections kept (libcurl's cache) */
	int	 ws_cap;	/* requests in flight per workspace; 0: no cap */
};

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit.  *was and *now (may be
 * NULL) get the soft limit before and after (-1 for "unlimited").
 * Returns 1 when raised, 0 when it already was the hard limit, -1 when
 * the kernel refused (errno set; the limit is unchanged).
 */
int	 fdlimit_raise(long *was, long *now);
/* The soft RLIMIT_NOFILE, -1 for "unlimited". */
long	 fdlimit_soft(void);
/* How many descriptors this process has open, or -1. */
int	 fdlimit_count_open(void);
/* Fill p's out fields from its in fields. */
void	 fdlimit_plan(struct fdplan *p);
/* The line saying the limit is short (p->transfers > 0). */
void	 fdlimit_describe(const struct fdplan *p, char *buf, size_t bufsz);
/* Whether errno value e means "no descriptor left" (EMFILE, ENFILE). */
bool	 fdlimit_errno(int e);

#endif
