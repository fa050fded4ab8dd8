/*
 * lagdb: the table search_lag (0016_search_lag.sql), the samples of
 * Intercom's search lag that job/lag.c measures (lag.h says how and
 * why).  Only the rows live here: which kinds there are, how many
 * samples are kept and what a censored sample means to the arithmetic
 * are lag.c's, passed in as plain values (a kind's name, keep, the
 * number a censored sample reads as).  Both callsyncd (the sampler)
 * and callsync status (lag_store_json) read the table through these.
 */
#ifndef CALLSYNC_LAGDB_H
#define CALLSYNC_LAGDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

/*
 * Record one finished sample of workspace ws and kind ("contact",
 * "conversation"): lag_ms (not stored when censored: a censored sample
 * was never shown), lo_ms the last search that missed, looks the
 * searches made; then drop the workspace and kind's samples older than
 * the newest keep.  One transaction (a savepoint in the engine's group
 * commit).  0, or -1 with db_errmsg() set and nothing written.
 */
int	 lagdb_add(struct db *, const char *ws, const char *kind,
	    const char *object_id, bool censored, int64_t lag_ms,
	    int64_t lo_ms, int looks, size_t keep);
/*
 * The newest max samples of ws and kind, newest first, into out[max]:
 * each its lag in ms, or censored_as for a censored one (or one stored
 * without a lag); their count in *n.  0, or -1 (a failed step is logged
 * and in db_errmsg()).
 */
int	 lagdb_load(struct db *, const char *ws, const char *kind,
	    int64_t censored_as, int64_t *out, size_t max, size_t *n);

#endif
