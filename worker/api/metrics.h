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

struct rt;
struct httpd;

/*
 * Route /healthz, /metrics and /ui on h, read from e (borrowed: it must
 * outlive the server).  The pages' state (the counts, the start time) is
 * the module's own, one per process as the local API is: a second call
 * starts it afresh.  0, or -1 when the route table is full.
 */
int	 metrics_routes(struct rt *, struct httpd *);

#endif
