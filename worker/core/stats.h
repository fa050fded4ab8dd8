/*
 * stats: the worker's in-memory counters for /metrics (metrics.c renders
 * them).  Pure bookkeeping, no I/O, no allocation: a workspace's counters
 * are one fixed-size struct embedded in its struct wsrt, so an increment
 * on the delivery path is a few adds and never fails.
 *
 * Label values that come from data (dead-letter reasons, retry classes,
 * request endpoints) go into small tables with a fixed number of slots;
 * past that, they count under "other", so a misbehaving server cannot
 * grow the number of series without bound.  Endpoints are templates
 * ("/contacts/{id}/tags"), never ids or query strings: no call content
 * and no identifier reaches a label.
 */
#ifndef CALLSYNC_STATS_H
#define CALLSYNC_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_NLAB	24	/* distinct reasons / classes per workspace */
#define STATS_NEP	32	/* distinct method + endpoint pairs */
#define STATS_NSC	6	/* status classes: 1xx..5xx, "error" */
#define STATS_NB	12	/* histogram buckets, +Inf apart */

struct stats_lab {
	char		 name[32];	/* "" = free slot */
	uint64_t	 n;
};

struct stats_ep {
	char		 method[8];
	char		 path[48];	/* template; "" = free slot */
	uint64_t	 n[STATS_NSC];
};

struct stats_hist {
	uint64_t	 le[STATS_NB];	/* cumulative at render time, not here */
	uint64_t	 count;
	double		 sum;
};

struct stats_ws {
	struct stats_ep		 req[STATS_NEP];
	uint64_t		 throttled;	/* 429 answers */
	uint64_t		 delivered;
	struct stats_lab	 dead[STATS_NLAB];	/* by reason */
	struct stats_lab	 retries[STATS_NLAB];	/* by class */
	int64_t			 last_delivery;	/* unix seconds, 0 = none */
	struct stats_hist	 req_lat;	/* seconds per request */
	struct stats_hist	 e2e_lat;	/* enqueue to delivery, seconds */
	uint64_t		 sent_drain;	/* requests sent for records */
	uint64_t		 sent_context;	/* interactive reads sent */
	uint64_t		 sent_warm;	/* warm-up reads sent */
	uint64_t		 sent_lag;	/* search-lag samples' searches sent */
	uint64_t		 ctx_answers[3];	/* by STATS_CTX_* source */
	struct stats_hist	 ctx_lat;	/* /v1/context answer time, s */
	/* The record counts from the database are the pages' own
	 * (api/metrics.h: struct ws_counts). */
};

/* Sources of a /v1/context answer, for ctx_answers[]. */
enum { STATS_CTX_LIVE, STATS_CTX_PARTIAL, STATS_CTX_CACHE };
extern const char *const stats_ctx_names[3];

/* Upper bounds (seconds) of the histograms, STATS_NB each. */
extern const double	 stats_req_bounds[STATS_NB];
extern const double	 stats_e2e_bounds[STATS_NB];
extern const double	 stats_ctx_bounds[STATS_NB];

/* One answer (status 0 = no HTTP answer) to method url, dur_s long. */
void	 stats_request(struct stats_ws *, const char *method, const char *url,
	    long status, double dur_s);
/* Count name (NULL = "unknown") in the table t of STATS_NLAB slots. */
void	 stats_label(struct stats_lab *t, const char *name);
void	 stats_observe(struct stats_hist *, const double *bounds, double v);
/*
 * The endpoint template of url into buf: the path after the host with
 * every segment that holds a digit or is not a known word replaced by
 * {id}, at most four segments.  Pure: tests and /metrics share it.
 */
void	 stats_endpoint(const char *url, char *buf, size_t bufsz);
/* "2xx" for 204, "error" for 0: index into STATS_NSC and its name. */
int	 stats_status_class(long status);
extern const char *const stats_class_names[STATS_NSC];

#endif
