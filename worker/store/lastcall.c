/*
 * lastcall: keep, per contact, the newest call that wrote its last_call_*
 * attributes, so that an older call never writes them back.
 *
 * The rule is "never older than the newest this database wrote": a call
 * with the same started_at as the recorded one may write (it is a retry of
 * that call, or a tie that either order settles the same way).  The table
 * holds one row per (workspace, contact); lastcall_note() upserts with
 * max(), so the order in which notes arrive does not matter.  A merge
 * moves the row to the survivor, keeping the newer of the two.
 */
#include <stddef.h>

#include "lastcall.h"

int
lastcall_newer(struct db *d, const char *ws, const char *contact_id,
    int64_t call_at)
{
	sqlite3_stmt	*st;
	int		 rc, newer = 1;

	st = db_prep(d, "SELECT call_at FROM contact_last_call "
	    "WHERE workspace = ? AND contact_id = ?");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, contact_id) == -1)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		newer = call_at >= sqlite3_column_int64(st, 0);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_reset(st);
	return newer;
fail:
	sqlite3_reset(st);
	return -1;
}

int
lastcall_note(struct db *d, const char *ws, const char *contact_id,
    int64_t call_at, const char *record_key)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "INSERT INTO contact_last_call (workspace, contact_id, "
	    "call_at, record_key) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (workspace, contact_id) DO UPDATE SET "
	    "call_at = excluded.call_at, record_key = excluded.record_key "
	    "WHERE excluded.call_at > contact_last_call.call_at");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, contact_id) == -1 ||
	    db_bind_int(st, 3, call_at) == -1 ||
	    db_bind_text(st, 4, record_key) == -1) {
		sqlite3_reset(st);
		return -1;
	}
	return db_step_done(d, st);
}

int
lastcall_follow_merge(struct db *d, const char *ws, const char *from,
    const char *into)
{
	sqlite3_stmt	*st;

	if (from == NULL || into == NULL)
		return -1;
	if (db_begin(d) == -1)
		return -1;
	/* The survivor takes from's newest call when it is newer. */
	st = db_prep(d, "INSERT INTO contact_last_call (workspace, contact_id, "
	    "call_at, record_key) SELECT workspace, ?3, call_at, record_key "
	    "FROM contact_last_call WHERE workspace = ?1 AND contact_id = ?2 "
	    "AND ?2 <> ?3 "
	    "ON CONFLICT (workspace, contact_id) DO UPDATE SET "
	    "call_at = excluded.call_at, record_key = excluded.record_key "
	    "WHERE excluded.call_at > contact_last_call.call_at");
	if (st == NULL)
		goto fail;
	if (db_bind_text(st, 1, ws) == -1 || db_bind_text(st, 2, from) == -1 ||
	    db_bind_text(st, 3, into) == -1 || db_step_done(d, st) == -1)
		goto fail;
	st = db_prep(d, "DELETE FROM contact_last_call "
	    "WHERE workspace = ?1 AND contact_id = ?2 AND ?2 <> ?3");
	if (st == NULL)
		goto fail;
	if (db_bind_text(st, 1, ws) == -1 || db_bind_text(st, 2, from) == -1 ||
	    db_bind_text(st, 3, into) == -1 || db_step_done(d, st) == -1)
		goto fail;
	return db_commit(d);
fail:
	db_rollback(d);
	return -1;
}
