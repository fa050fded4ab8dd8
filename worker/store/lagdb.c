/*
 * lagdb: see lagdb.h.  The statements are those lag.c ran itself
 * before they moved here (issue 21 item 3: all SQL in the store), with
 * the same bindings and the same error paths.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "db.h"
#include "lagdb.h"

int
lagdb_add(struct db *d, const char *ws, const char *kind,
    const char *object_id, bool censored, int64_t lag_ms, int64_t lo_ms,
    int looks, size_t keep)
{
	sqlite3_stmt	*st;

	if (db_begin(d) == -1)
		return -1;
	/* lag_ms left unbound (NULL) when censored: there is no lag. */
	st = db_prep(d, "INSERT INTO search_lag (workspace, kind, object_id, "
	    "lag_ms, lo_ms, looks, censored) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "?7)");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, kind) == -1 ||
	    db_bind_text(st, 3, object_id) == -1 ||
	    (!censored && db_bind_int(st, 4, lag_ms) == -1) ||
	    db_bind_int(st, 5, lo_ms) == -1 ||
	    db_bind_int(st, 6, looks) == -1 ||
	    db_bind_int(st, 7, censored) == -1 ||
	    db_step_done(d, st) == -1)
		goto fail;
	/* By id, not time: the newest keep rows whatever the clock did. */
	st = db_prep(d, "DELETE FROM search_lag WHERE workspace = ?1 AND "
	    "kind = ?2 AND id <= (SELECT id FROM search_lag WHERE "
	    "workspace = ?1 AND kind = ?2 ORDER BY id DESC LIMIT 1 OFFSET ?3)");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, kind) == -1 ||
	    db_bind_int(st, 3, (int64_t)keep) == -1 ||
	    db_step_done(d, st) == -1)
		goto fail;
	return db_commit(d);
fail:
	db_rollback(d);
	return -1;
}

int
lagdb_load(struct db *d, const char *ws, const char *kind,
    int64_t censored_as, int64_t *out, size_t max, size_t *n)
{
	sqlite3_stmt	*st;
	int		 rc;

	*n = 0;
	st = db_prep(d, "SELECT lag_ms, censored FROM search_lag "
	    "WHERE workspace = ?1 AND kind = ?2 ORDER BY id DESC LIMIT ?3");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, kind) == -1 ||
	    db_bind_int(st, 3, (int64_t)max) == -1)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		out[(*n)++] = sqlite3_column_int(st, 1) != 0 ||
		    sqlite3_column_type(st, 0) == SQLITE_NULL ? censored_as :
		    sqlite3_column_int64(st, 0);
	/* Reset before returning: a statement left stepping would hold
	 * its read snapshot open. */
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(d, rc);
	return 0;
}
