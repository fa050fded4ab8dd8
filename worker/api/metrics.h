/*
 * metrics: the local API's status pages, routed on the server (httpd.h)
 * as context.c and tasks.c route theirs: GET /healthz (JSON: the
 * problems and each workspace's state; 503 while one fails), GET
 * /metrics (Prometheus text format 0.0.4) and GET /ui (the page ui.c
 * renders).  They read the engine's state in the one loop, without
 * locks, and one set of record counts from the database, kept for a
 * second.  Answers carry counts, states and names of workspaces; never
 * a token, a payload or a record key.
 */
#ifndef CALLSYNC_METRICS_H
#define CALLSYNC_METRICS_H

#include <stdint.h>

struct rt;
struct httpd;

/*
 * A served workspace's records, from the database, refreshed by the
 * pages at most once a second (the audit rows every 10 s); the pages
 * are their only readers (metrics.c, ui.c), so they are kept here, one
 * per workspace of the runtime in the same order (rt->ws[i]).
 */
struct ws_counts {
	int64_t		 pending, inflight, dead, in_doubt;
	int64_t		 intents;	/* open intents: writes in doubt */
	int64_t		 oldest;	/* enqueued_at, 0 = none */
	int64_t		 audit;		/* audit rows (every 10 s) */
	int64_t		 handed_off;	/* given to another machine */
};

/*
 * Route /healthz, /metrics and /ui on h, read from e (borrowed: it must
 * outlive the server).  The pages' state (the counts, the start time) is
 * the module's own, one per process as the local API is: a second call
 * starts it afresh.  0, or -1 when the route table is full.
 */
int	 metrics_routes(struct rt *, struct httpd *);

#endif
