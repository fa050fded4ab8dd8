/*
 * store: the text of every statement of enum store_q (store.h), indexed
 * by it, and the reads callsync and callsyncd share (store_workers,
 * store_ws_state), which turn a row into a struct.  What a command or a
 * page does with the rows stays with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "store.h"

static const char *const store_sql[SQ__MAX] = {
	/* The workers table */
	[SQ_WORKER_FORGET] =
	    "DELETE FROM workers WHERE owner = ?1",

	/* Workspaces */
	[SQ_WS_KNOWN] =
	    "SELECT workspace FROM outbox UNION SELECT workspace FROM "
	    "workspace_state ORDER BY 1",
	[SQ_WS_DONE] =
	    "SELECT (SELECT count(*) FROM outbox WHERE state = 'done' AND "
	    "workspace = ?1), (SELECT max(delivered_at) FROM outbox WHERE "
	    "workspace = ?1), (SELECT count(*) FROM dead_letter d JOIN "
	    "outbox x   ON x.id = d.outbox_id WHERE x.workspace = ?1)",
	[SQ_WS_DELIVERED_SINCE] =
	    "SELECT workspace, count(*) FROM outbox WHERE state = 'done' "
	    "AND delivered_at > ?1 GROUP BY workspace",
	/*
	 * callsync doctor: the records waiting per workspace.  Not
	 * outbox_ws_counts: doctor opens a database of any schema version
	 * (DB_OPEN_NOMIGRATE) and this reads only columns of 0001.
	 */
	[SQ_WS_WAITING] =
	    "SELECT workspace, count(*) FROM outbox WHERE state IN "
	    "('pending', 'inflight') GROUP BY workspace ORDER BY workspace",

	/* One record and what hangs off it */
	[SQ_REC_LIST] =
	    "SELECT id, workspace, record_key, state, attempts, in_doubt "
	    "OR (state IN ('pending', 'inflight') AND "
	    OB_SQL_OPEN_INTENT("outbox")
	    "), enqueued_at, next_at, delivered_at, lane, last_error, "
	    "(SELECT group_concat(json_extract(j.detail, '$.warning'), '; "
	    "') FROM journal j WHERE j.outbox_id = outbox.id AND j.step IN "
	    "('text_repair', 'attr_check', 'assign_check', 'clock_check')) "
	    "FROM outbox WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL "
	    "OR workspace = ?2) ORDER BY id DESC LIMIT ?3",
	[SQ_REC_ROW] =
	    "SELECT id, workspace, record_key, state, attempts, in_doubt, "
	    "marker, lane, enqueued_at, next_at, lease_owner, lease_until, "
	    "last_error, delivered_at, updated_at, payload FROM outbox "
	    "WHERE id = ?",
	[SQ_REC_BY_KEY] =
	    "SELECT id, workspace, state FROM outbox WHERE record_key = ?1 "
	    "AND (?2 IS NULL OR workspace = ?2) ORDER BY workspace",
	[SQ_REC_EXISTS] =
	    "SELECT 1 FROM outbox WHERE workspace = ? AND record_key = ?",
	[SQ_REC_PAYLOAD] =
	    "SELECT payload FROM outbox WHERE id = ?",
	[SQ_REC_JOURNAL] =
	    "SELECT step, intercom_id, detail, done_at FROM journal WHERE "
	    "outbox_id = ? ORDER BY done_at, rowid",
	[SQ_JOURNAL_STEPS] =
	    "SELECT step, intercom_id FROM journal WHERE outbox_id = ? "
	    "ORDER BY done_at, rowid",
	[SQ_REC_ATTEMPTS] =
	    "SELECT at, class, charged, http_status, step, message, "
	    "response FROM attempt_log WHERE outbox_id = ? ORDER BY id",
	[SQ_REC_DEAD_LETTER] =
	    "SELECT reason, class, message, http_status, response, note, "
	    "dead_at FROM dead_letter WHERE outbox_id = ?",
	[SQ_REC_HANDOFF] =
	    "SELECT bundle, created_at, sha256, handed_at, operator FROM "
	    "handoff WHERE outbox_id = ?",
	[SQ_REC_PAYLOADS] =
	    "SELECT replaced_at, operator, payload FROM payload_history "
	    "WHERE outbox_id = ? ORDER BY id",
	[SQ_REC_AUDIT] =
	    "SELECT id, at, kind, step, method, path, http_status, "
	    "object_id, admin_id, duration_ms, detail FROM audit WHERE "
	    "record_key = ? AND workspace = ? ORDER BY id",

	/* Dead letters */
	[SQ_DLQ_LIST] =
	    "SELECT o.id, o.workspace, o.record_key, d.reason, d.class, "
	    "d.message, d.http_status, o.attempts, coalesce(d.dead_at, "
	    "o.updated_at), d.note, o.last_error, 0, NULL, NULL, NULL, "
	    "NULL FROM outbox o LEFT JOIN dead_letter d ON d.outbox_id = "
	    "o.id WHERE o.state = 'dead' AND (?1 IS NULL OR o.record_key "
	    "IN (SELECT value FROM json_each(?1))) AND (?2 IS NULL OR "
	    "d.reason = ?2) AND (?3 IS NULL OR coalesce(d.dead_at, "
	    "o.updated_at) >= ?3) AND (?4 IS NULL OR o.workspace = ?4) "
	    "UNION ALL SELECT o.id, o.workspace, o.record_key, "
	    "'handed_off', 'handed_off', NULL, NULL, o.attempts, "
	    "coalesce(h.handed_at, o.updated_at), NULL, NULL, 1, h.bundle, "
	    "h.created_at, h.sha256, h.operator FROM outbox o LEFT JOIN "
	    "handoff h ON h.outbox_id = o.id WHERE o.state = 'handed_off' "
	    "AND (?1 IS NOT NULL OR ?2 = 'handed_off') AND (?1 IS NULL OR "
	    "o.record_key IN (SELECT value FROM json_each(?1))) AND (?2 IS "
	    "NULL OR ?2 = 'handed_off') AND (?3 IS NULL OR "
	    "coalesce(h.handed_at, o.updated_at) >= ?3) AND (?4 IS NULL OR "
	    "o.workspace = ?4) ORDER BY 1",
	[SQ_DLQ_REQUEUE] =
	    "UPDATE outbox SET state = 'pending', attempts = 0, next_at = "
	    "unixepoch(), lease_owner = NULL, lease_until = NULL, "
	    "updated_at = unixepoch() WHERE id = ?1 AND state = ?2",
	[SQ_DLQ_DROP] =
	    "DELETE FROM outbox WHERE id = ?1 AND state = ?2",
	[SQ_HANDOFF_FORGET] =
	    "DELETE FROM handoff WHERE outbox_id = ?",
	[SQ_DEAD_LETTER_FORGET] =
	    "DELETE FROM dead_letter WHERE outbox_id = ?",
	[SQ_DEAD_PAYLOAD] =
	    "SELECT workspace, payload FROM outbox WHERE record_key = ?1 "
	    "AND (?2 IS NULL OR workspace = ?2) AND state = 'dead'",
	[SQ_DEAD_PAYLOAD_ID] =
	    "SELECT id, workspace, payload FROM outbox WHERE record_key = "
	    "?1 AND (?2 IS NULL OR workspace = ?2) AND state = 'dead'",
	[SQ_PAYLOAD_KEEP] =
	    "INSERT INTO payload_history (outbox_id, payload, operator) "
	    "SELECT id, payload, ? FROM outbox WHERE id = ?",
	[SQ_DEAD_PAYLOAD_SET] =
	    "UPDATE outbox SET payload = ?, lane = NULL, updated_at = "
	    "unixepoch() WHERE id = ? AND state = 'dead'",

	/* Pending records moved or cancelled */
	[SQ_PENDING_LIST] =
	    "SELECT id, workspace, record_key, (SELECT count(*) FROM "
	    "journal j WHERE j.outbox_id = o.id) FROM outbox o WHERE state "
	    "= 'pending' AND (?1 IS NULL OR workspace = ?1) AND (?2 IS "
	    "NULL OR record_key IN (SELECT value FROM json_each(?2))) "
	    "ORDER BY id",
	[SQ_PENDING_MOVE] =
	    "UPDATE outbox SET workspace = ?2, lane = NULL, updated_at = "
	    "unixepoch() WHERE id = ?1 AND state = 'pending'",
	[SQ_PENDING_CANCEL] =
	    "UPDATE outbox SET state = 'dead', last_error = 'cancelled by "
	    "an operator', updated_at = unixepoch() WHERE id = ?1 AND "
	    "state = 'pending'",
	[SQ_CANCEL_LETTER] =
	    "INSERT OR REPLACE INTO dead_letter (outbox_id, reason, class, "
	    "message, note) VALUES (?1, 'cancelled', 'operator', "
	    "'cancelled by an operator (callsync records cancel)', ?2)",

	/* Export, import and hand-off */
	[SQ_READ_BEGIN] =
	    "BEGIN",
	[SQ_READ_COMMIT] =
	    "COMMIT",
	[SQ_READ_ROLLBACK] =
	    "ROLLBACK",
	[SQ_XFER_INFLIGHT] =
	    "SELECT count(*) FROM outbox WHERE state = 'inflight' AND (?1 "
	    "IS NULL OR workspace = ?1)",
	[SQ_XFER_MAXID] =
	    "SELECT coalesce(max(id), 0) FROM outbox",
	[SQ_XFER_COUNT_UPTO] =
	    "SELECT count(*) FROM outbox WHERE id <= ?3 AND (?1 IS NULL OR "
	    "state IN (SELECT value FROM json_each(?1))) AND (?2 IS NULL "
	    "OR workspace = ?2)",
	[SQ_XFER_PAGE] =
	    "SELECT id, workspace, record_key, json(payload), state, "
	    "attempts, marker, enqueued_at, in_doubt, last_error, "
	    "delivered_at FROM outbox WHERE id > ?3 AND id <= ?4 AND (?1 "
	    "IS NULL OR state IN (SELECT value FROM json_each(?1))) AND "
	    "(?2 IS NULL OR workspace = ?2) ORDER BY id LIMIT ?5",
	[SQ_XFER_COUNT] =
	    "SELECT count(*) FROM outbox WHERE (?1 IS NULL OR state IN "
	    "(SELECT value FROM json_each(?1))) AND (?2 IS NULL OR "
	    "workspace = ?2)",
	[SQ_XFER_ALL] =
	    "SELECT id, workspace, record_key, json(payload), state, "
	    "attempts, marker, enqueued_at, in_doubt, last_error, "
	    "delivered_at FROM outbox WHERE (?1 IS NULL OR state IN "
	    "(SELECT value FROM json_each(?1))) AND (?2 IS NULL OR "
	    "workspace = ?2) ORDER BY id",
	[SQ_HANDOFF_MARK] =
	    "INSERT OR REPLACE INTO handoff (outbox_id, bundle, "
	    "created_at, operator) SELECT id, ?2, ?3, ?4 FROM outbox WHERE "
	    "id = ?1 AND state = 'pending'",
	[SQ_HANDOFF_STATE] =
	    "UPDATE outbox SET state = 'handed_off', last_error = NULL, "
	    "lease_owner = NULL, lease_until = NULL, updated_at = "
	    "unixepoch() WHERE id = ? AND state = 'pending'",
	[SQ_HANDOFF_SEAL] =
	    "UPDATE handoff SET sha256 = ?2 WHERE created_at = ?1 AND "
	    "sha256 IS NULL",
	[SQ_IMPORT_RECORD] =
	    "INSERT INTO outbox (workspace, record_key, payload, state, "
	    "attempts, marker, enqueued_at, in_doubt, last_error, "
	    "delivered_at) VALUES (?1, ?2, json_extract(?3, '$.payload'), "
	    "?4, ?5, coalesce(?6, 'cs' || lower(hex(randomblob(8)))), "
	    "coalesce(?7, unixepoch()), ?8, ?9, ?10)",
	[SQ_IMPORT_JOURNAL] =
	    "INSERT OR REPLACE INTO journal (outbox_id, step, intercom_id, "
	    "detail, done_at) VALUES (?, ?, ?, ?, coalesce(?, unixepoch()))",
	[SQ_IMPORT_HANDOFF] =
	    "INSERT INTO handoff (outbox_id, bundle, created_at, sha256, "
	    "handed_at, operator) VALUES (?, ?, ?, ?, coalesce(?, "
	    "unixepoch()), ?)",
	[SQ_IMPORT_DEAD_LETTER] =
	    "INSERT INTO dead_letter (outbox_id, reason, class, message, "
	    "http_status, response, note, dead_at) VALUES (?, ?, ?, ?, ?, "
	    "?, ?, coalesce(?, unixepoch()))",

	/* Retention */
	[SQ_PRUNE_COUNT] =
	    "SELECT (SELECT count(*) FROM outbox WHERE state = 'done' AND "
	    "delivered_at < ?1 / 1000), (SELECT count(*) FROM audit WHERE "
	    "id <= (SELECT max(id) FROM audit WHERE at < ?1 AND id < "
	    "(SELECT max(id) FROM audit)))",
	[SQ_PRUNE_DONE] =
	    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE "
	    "state = 'done' AND delivered_at < ? ORDER BY id LIMIT ?)",

	/* The audit trail */
	[SQ_AUDIT_FIND] =
	    "SELECT * FROM (SELECT id, at, kind, workspace, record_key, "
	    "step, method, path, http_status, object_id, admin_id, "
	    "duration_ms, body_sha256, detail FROM audit WHERE (?1 IS NULL "
	    "OR record_key = ?1) AND (?2 IS NULL OR object_id = ?2 OR "
	    "instr(path, ?2) > 0) AND (?3 IS NULL OR workspace = ?3) AND "
	    "(?4 IS NULL OR at >= ?4) AND (?5 IS NULL OR at < ?5) ORDER BY "
	    "id DESC LIMIT ?6) ORDER BY id",

	/* Contact identities (ident.c writes them) */
	[SQ_IDENT_LIST] =
	    "SELECT workspace, kind, value, contact_id, role, source, "
	    "learned_at, updated_at FROM contact_identity WHERE ?1 IS NULL "
	    "OR workspace = ?1 ORDER BY workspace, contact_id, kind, value",
	[SQ_IDENT_OF_CONTACT] =
	    "SELECT workspace, kind, value, contact_id, role, source, "
	    "learned_at, updated_at FROM contact_identity WHERE contact_id "
	    "= ?1 AND (?2 IS NULL OR workspace = ?2) ORDER BY workspace, "
	    "kind, value",
	[SQ_IDENT_LOOKUP] =
	    "SELECT contact_id FROM contact_identity WHERE workspace = ? "
	    "AND kind = ? AND value = ?",
	[SQ_MERGE_OF_CONTACT] =
	    "SELECT workspace, from_id, into_id, how, merged_at FROM "
	    "contact_merge WHERE (from_id = ?1 OR into_id = ?1) AND (?2 IS "
	    "NULL OR workspace = ?2) ORDER BY merged_at",
	[SQ_MERGE_LIST] =
	    "SELECT workspace, from_id, into_id, how, merged_at FROM "
	    "contact_merge WHERE ?1 IS NULL OR workspace = ?1 ORDER BY "
	    "workspace, merged_at, from_id",
	[SQ_DUP_OF_CONTACT] =
	    "SELECT workspace, contact_id, winner_id, identity, seen_at "
	    "FROM contact_duplicate WHERE (contact_id = ?1 OR winner_id = "
	    "?1) AND (?2 IS NULL OR workspace = ?2) ORDER BY seen_at",

	/* /ui (ui.c): the page's tables */
	[SQ_UI_IN_DOUBT] =
	    "SELECT workspace, record_key, next_at, updated_at, last_error "
	    "FROM outbox o WHERE state IN ('pending', 'inflight') AND "
	    "(in_doubt OR "
	    OB_SQL_OPEN_INTENT("o")
	    ") ORDER BY next_at, id LIMIT ?",
	/* Bare columns with max(): SQLite takes them from the newest row. */
	[SQ_UI_DEAD_GROUPS] =
	    "SELECT o.workspace, d.reason, count(*), max(d.dead_at), "
	    "o.record_key, d.message FROM dead_letter d JOIN outbox o ON "
	    "o.id = d.outbox_id GROUP BY o.workspace, d.reason ORDER BY "
	    "count(*) DESC, o.workspace, d.reason LIMIT ?",
	[SQ_UI_UNSERVED] =
	    "SELECT o.workspace, count(*), min(o.enqueued_at) FROM outbox "
	    "o WHERE o.state IN ('pending', 'inflight') AND NOT EXISTS "
	    "(SELECT 1 FROM workers w WHERE w.heartbeat_at > ?1 AND "
	    "instr(',' || w.workspaces || ',', ',' || o.workspace || ',') "
	    "> 0) GROUP BY o.workspace ORDER BY 1 LIMIT ?2",
	[SQ_UI_RECENT] =
	    "SELECT o.workspace, o.record_key, o.delivered_at, "
	    "substr(json_extract(o.payload, '$.summary'), 1, 120), (SELECT "
	    "j.intercom_id FROM journal j WHERE j.outbox_id = o.id AND "
	    "j.step = 'conversation') FROM outbox o WHERE o.state = 'done' "
	    "ORDER BY o.id DESC LIMIT ?",

	/* /metrics (metrics.c): callsync_audit_rows per workspace */
	[SQ_AUDIT_PER_WS] =
	    "SELECT workspace, count(*) FROM audit GROUP BY workspace",
};

/* store_workers: is there a table yet (0004), then its rows. */
static const char *const q_workers_table =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
    "name = 'workers'";
static const char *const q_workers =
    "SELECT owner, pid, host, version, started_at, heartbeat_at, "
    "workspaces FROM workers ORDER BY started_at, owner";
/*
 * store_worker_beat: a worker's row, inserted at start; each beat then
 * only moves heartbeat_at and workspaces (a row deleted meanwhile, by
 * callsync forget-worker, comes back).
 */
static const char *const q_worker_beat =
    "INSERT INTO workers (owner, pid, host, version, "
    "started_at, heartbeat_at, workspaces) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) "
    "ON CONFLICT (owner) DO UPDATE SET heartbeat_at = ?5, "
    "workspaces = ?6";
/* store_ws_state_save: coalesce keeps the last delivery when this save
 * has none to report. */
static const char *const q_ws_state_save =
    "INSERT INTO workspace_state (workspace, breaker, "
    "breaker_since, rate_limited_until, paused, pause_reason, "
    "last_delivery_at, worker, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, unixepoch()) "
    "ON CONFLICT (workspace) DO UPDATE SET breaker = ?2, "
    "breaker_since = ?3, rate_limited_until = ?4, paused = ?5, "
    "pause_reason = ?6, "
    "last_delivery_at = coalesce(?7, last_delivery_at), worker = ?8, "
    "updated_at = unixepoch()";
/* store_ws_state */
static const char *const q_ws_state =
    "SELECT breaker, breaker_since, rate_limited_until, paused, "
    "pause_reason, last_delivery_at, worker, updated_at FROM "
    "workspace_state WHERE workspace = ?1";

sqlite3_stmt *
store_prep(struct db *d, enum store_q q)
{
	return db_prep(d, store_sql[q]);
}

int
store_exec(struct db *d, enum store_q q)
{
	return db_exec(d, store_sql[q]);
}

bool
store_integrity_ok(struct db *d)
{
	sqlite3_stmt	*st = NULL;
	const char	*s;
	bool		 ok;

	ok = sqlite3_prepare_v2(d->h, "PRAGMA integrity_check", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    (s = (const char *)sqlite3_column_text(st, 0)) != NULL &&
	    strcmp(s, "ok") == 0;
	sqlite3_finalize(st);
	return ok;
}

int
store_workers(struct db *d, int (*fn)(const struct store_worker *, void *),
    void *arg)
{
	sqlite3_stmt		*st;
	struct store_worker	 w;
	int			 rc, n;

	if ((st = db_prep(d, q_workers_table)) == NULL)
		return -1;
	rc = sqlite3_step(st);
	n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return db_seterr(d, rc, sqlite3_errmsg(d->h));
	if (n == 0)
		return 0;
	if ((st = db_prep(d, q_workers)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		w.owner = (const char *)sqlite3_column_text(st, 0);
		w.pid = sqlite3_column_int64(st, 1);
		w.host = (const char *)sqlite3_column_text(st, 2);
		w.version = (const char *)sqlite3_column_text(st, 3);
		w.started_at = sqlite3_column_int64(st, 4);
		w.heartbeat_at = sqlite3_column_int64(st, 5);
		w.workspaces = (const char *)sqlite3_column_text(st, 6);
		if (fn(&w, arg) != 0)
			break;
	}
	/* Reset at once: an open read would pin a WAL snapshot. */
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return -1;
	if (rc != SQLITE_DONE)
		return db_seterr(d, rc, sqlite3_errmsg(d->h));
	return 0;
}

/*
 * Step a write of the workers table (st borrowed, cached): 0 done, 1
 * busy (SQLITE_BUSY or SQLITE_LOCKED exactly, as the heartbeat always
 * told them), -1 with SQLite's message in why, copied after the reset
 * as ops.c read it when the statement was its own.
 */
static int
store_worker_step(struct db *d, sqlite3_stmt *st, char *why, size_t whysz)
{
	int	 rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return 1;
	snprintf(why, whysz, "%s", sqlite3_errmsg(d->h));
	return -1;
}

int
store_worker_beat(struct db *d, const struct store_worker *w, char *why,
    size_t whysz)
{
	sqlite3_stmt	*st;

	why[0] = '\0';
	if ((st = db_prep(d, q_worker_beat)) == NULL)
		return -1;
	if (db_bind_text(st, 1, w->owner) == -1 ||
	    db_bind_int(st, 2, w->pid) == -1 ||
	    db_bind_text(st, 3, w->host) == -1 ||
	    db_bind_text(st, 4, w->version) == -1 ||
	    db_bind_int(st, 5, w->heartbeat_at) == -1 ||
	    db_bind_text(st, 6, w->workspaces) == -1)
		return -1;
	return store_worker_step(d, st, why, whysz);
}

int
store_worker_forget(struct db *d, const char *owner, char *why, size_t whysz)
{
	sqlite3_stmt	*st;

	why[0] = '\0';
	st = store_prep(d, SQ_WORKER_FORGET);
	if (st == NULL || db_bind_text(st, 1, owner) == -1)
		return -1;
	return store_worker_step(d, st, why, whysz);
}

int
store_ws_state(struct db *d, const char *ws, struct store_ws_state *s)
{
	sqlite3_stmt	*st;
	int		 rc;

	memset(s, 0, sizeof(*s));
	if ((st = db_prep(d, q_ws_state)) == NULL ||
	    db_bind_text(st, 1, ws) == -1)
		goto fail;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->breaker = db_col_strdup(st, 0);
		s->breaker_since = sqlite3_column_int64(st, 1);
		s->rate_limited_until = sqlite3_column_int64(st, 2);
		s->paused = sqlite3_column_int(st, 3) != 0;
		s->pause_reason = db_col_strdup(st, 4);
		s->last_delivery_at = sqlite3_column_int64(st, 5);
		s->worker = db_col_strdup(st, 6);
		s->updated_at = sqlite3_column_int64(st, 7);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_seterr(d, rc, sqlite3_errmsg(d->h));
fail:
	if (st != NULL)
		sqlite3_reset(st);
	return -1;
}

void
store_ws_state_free(struct store_ws_state *s)
{
	free(s->breaker);
	free(s->pause_reason);
	free(s->worker);
	s->breaker = s->pause_reason = s->worker = NULL;
}

int
store_ws_state_save(struct db *d, const char *ws,
    const struct store_ws_save *s)
{
	sqlite3_stmt	*st;

	if ((st = db_prep(d, q_ws_state_save)) == NULL)
		return -1;
	/* Unbound parameters are NULL (db_prep cleared the bindings): a
	 * time of 0 is stored as no time.  A bind cannot fail on these
	 * (in range, no size limit near), so it is not checked. */
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, s->breaker);
	if (s->breaker_since != 0)
		db_bind_int(st, 3, s->breaker_since);
	if (s->rate_limited_until != 0)
		db_bind_int(st, 4, s->rate_limited_until);
	db_bind_int(st, 5, s->paused);
	db_bind_text(st, 6, s->pause_reason);
	if (s->last_delivery_at != 0)
		db_bind_int(st, 7, s->last_delivery_at);
	db_bind_text(st, 8, s->worker);
	return db_step_done(d, st);
}
