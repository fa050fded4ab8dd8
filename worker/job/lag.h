/*
 * lag: Intercom's search lag, learned from Intercom (issue 24, item 2).
 *
 * A contact or conversation that Intercom created shows in its search
 * only later ("this delay can take a few minutes", 2.16's contact search
 * description).  The worker's rule for a write in doubt needs that lag
 * twice: when a first look can find the write, and how long "not there"
 * must wait before a search that finds nothing proves it (job.c, "THE
 * WINDOW").  search_lag (configured, 300 s by default) is a guess; this
 * module measures instead.
 *
 * The sampler: for a create answered with an id, when no sample of its
 * kind is open on the workspace, the worker searches for the new object
 * by id (POST /contacts/search or /conversations/search, field id) at
 * 0.5 s after the answer, then each LAG_STEP later (x1.25, at least
 * 0.5 s more), until it shows; the delay of the first search that showed
 * it (when it was sent, from the create's answer) is one sample, kept in
 * the table search_lag (0016_search_lag.sql) with the last search that
 * did not.  Still not shown after twice search_lag (at least 60 s): the
 * sample is censored (over).  A look that fails (no answer, 5xx, an
 * outage) drops the sample: it measured nothing.  The searches go
 * through the workspace's limiter behind every record and interactive
 * read (runtime/wsrt.c ws_pump_lag), within search_lag_share percent of a
 * 10-s window's budget: they never delay a delivery.
 *
 * The use: with LAG_MIN_N samples of a kind (the newest LAG_KEEP), the
 * first look after a write in doubt comes at the observed median,
 * bounded to [LAG_FIRST_FLOOR_MS, the default first look]; and the
 * search part of the wait before "not there" is twice the observed
 * p99.9 (or when a sample under way was last searched for in vain, if
 * later: its lag is longer), never below LAG_WAIT_FLOOR_MS and never
 * above search_lag.  A
 * censored sample among the tail makes it search_lag.  Fewer samples,
 * or search_lag_share = 0: search_lag alone, as before.
 *
 * The arithmetic (lag_tail_of, lag_first_ms, lag_wait_ms, the look
 * schedule) is pure and unit-tested (tests/unit/t_lag.c); the store
 * functions are shared by the worker and callsync status.
 */
#ifndef CALLSYNC_LAG_H
#define CALLSYNC_LAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "db.h"

enum lag_kind { LAG_CONTACT, LAG_CONV, LAG_NKIND };
/* "contact", "conversation": the table's kind column. */
extern const char *const lag_kind_names[LAG_NKIND];

#define LAG_MIN_N		50	/* samples before they are used */
#define LAG_KEEP		1000	/* newest samples kept and used */
#define LAG_FIRST_FLOOR_MS	1000	/* earliest first look */
#define LAG_WAIT_FLOOR_MS	10000	/* shortest search part of a wait */
#define LAG_TAIL_FACTOR		2	/* the wait: this times p99.9 */
#define LAG_LOOK0_MS		500	/* the sampler's first search */
#define LAG_GIVEUP_MIN_MS	60000	/* a sample is censored after
					 * max(2 x search_lag, this) */
#define LAG_UNKNOWN_ROOM	10	/* lag searches a window when the
					 * server has not told its limit */
/* A censored sample, in arrays of ms: never shown. */
#define LAG_CENSORED		INT64_MAX

/* What the newest samples of a workspace and kind say; ms. */
struct lag_tail {
	size_t	 n;		/* samples */
	size_t	 censored;	/* of which never shown */
	int64_t	 p50, p99, p999, max;	/* LAG_CENSORED: a censored one */
};

/* ---- pure ---- */

/* The tail of ms[0..n) (sorted in place; LAG_CENSORED for censored). */
void	 lag_tail_of(int64_t *ms, size_t n, struct lag_tail *);
/* Nearest-rank percentile q (0..1] of sorted[0..n); -1 when n is 0. */
int64_t	 lag_pct(const int64_t *sorted, size_t n, double q);
/*
 * When to look first for a write of this kind in doubt, ms into its
 * doubt clock: dflt_ms without LAG_MIN_N samples, else the median
 * bounded to [LAG_FIRST_FLOOR_MS, dflt_ms].
 */
int64_t	 lag_first_ms(const struct lag_tail *, int64_t dflt_ms);
/*
 * The search part of the wait before "not there", ms: cap_ms
 * (search_lag) without LAG_MIN_N samples, else LAG_TAIL_FACTOR times
 * the larger of p99.9 and open_ms (when a sample under way was last
 * searched for in vain, ms after its create; 0: none), at least
 * LAG_WAIT_FLOOR_MS, at most cap_ms; cap_ms when that tail is censored.
 */
int64_t	 lag_wait_ms(const struct lag_tail *, int64_t open_ms, int64_t cap_ms);
/* The sampler's next search, ms after the create's answer, after one
 * at last_ms (0: none yet). */
int64_t	 lag_next_look_ms(int64_t last_ms);
/* When a sample is censored: ms after the create's answer. */
int64_t	 lag_giveup_ms(int search_lag_s);
/* Lag searches a 10-s window may carry (budget <= 0: not told). */
long	 lag_room(long budget, int share);

/* ---- store ---- */

/* Record one finished sample (lag_ms LAG_CENSORED: censored) and drop
 * the workspace and kind's samples older than the newest LAG_KEEP. */
int	 lag_store_add(struct db *, const char *ws, enum lag_kind,
	    const char *object_id, int64_t lag_ms, int64_t lo_ms, int looks);
/* The newest LAG_KEEP samples' ms into out[LAG_KEEP]; their count in *n. */
int	 lag_store_load(struct db *, const char *ws, enum lag_kind,
	    int64_t *out, size_t *n);
/*
 * The workspace's samples as callsync status shows them: {"contact":
 * {n, censored, p50_s, p99_s, p999_s, max_s, in_use, first_look_s,
 * wait_s}, "conversation": {...}} (p_s null when censored; in_use,
 * first_look_s and wait_s only when search_lag_s >= 0, the workspace's
 * search_lag).  New reference, NULL on error.
 */
json_t	*lag_store_json(struct db *, const char *ws, int search_lag_s,
	    int share);

/* ---- the worker's sampler (engine.c, job.c) ---- */

struct wsrt;
struct rt;
struct lag_ws;
struct evbuffer;

/* The sampler of ws (its samples loaded); NULL on ENOMEM. */
struct lag_ws	*lag_ws_new(struct wsrt *);
/* After the loop ended (no request of its in flight); NULL-safe. */
void	 lag_ws_free(struct lag_ws *);
/* A create of kind on ws was answered with id: sample it maybe. */
void	 lag_offer(struct wsrt *, enum lag_kind, const char *id);
/*
 * For a write of kind in doubt on ws: the search part of the wait
 * before "not there" (returned, ms), and in *first_ms (may be NULL)
 * when to look first, from dflt_ms (see lag_first_ms, lag_wait_ms).
 */
int64_t	 lag_for(struct wsrt *, enum lag_kind, int64_t dflt_ms,
	    int64_t *first_ms);
/* The kind a journal step is found by search as; -1 for the others. */
int	 lag_kind_of_step(const char *step);
/* /metrics: callsync_search_lag_seconds, and the learned bounds. */
void	 lag_metrics(struct rt *, struct evbuffer *);

#endif
