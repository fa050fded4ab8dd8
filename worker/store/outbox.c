/*
 * outbox: see outbox.h.  All SQL for records, journal, attempts and dead
 * letters lives here; every value is bound.
 */
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "audit.h"
#include "outbox.h"
#include "retry.h"

#define OB_PAYLOAD_MAX	(1024 * 1024)

void
ob_rec_clear(struct ob_rec *r)
{
	if (r == NULL)
		return;
	free(r->workspace);
	free(r->record_key);
	free(r->payload);
	free(r->marker);
	free(r->lane);
	free(r->state);
	free(r->last_error);
	memset(r, 0, sizeof(*r));
}

void
ob_rec_free_array(struct ob_rec *a, size_t n)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++)
		ob_rec_clear(&a[i]);
	free(a);
}

void
ob_step_free_array(struct ob_step *a, size_t n)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(a[i].step);
		free(a[i].intercom_id);
		free(a[i].detail);
	}
	free(a);
}

int
outbox_enqueue(struct db *d, const char *ws, const char *key,
    const char *payload, enum ob_enq *res, char *err, size_t errsz)
{
	sqlite3_stmt	*st;
	int		 rc, same;

	if (strlen(payload) > OB_PAYLOAD_MAX) {
		snprintf(err, errsz, "payload is %zu bytes, over the 1 MiB limit",
		    strlen(payload));
		return -1;
	}
	st = db_prep(d, "INSERT INTO outbox (workspace, record_key, payload) "
	    "VALUES (?, ?, ?) ON CONFLICT (workspace, record_key) DO NOTHING");
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, key);
	db_bind_text(st, 3, payload);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		db_fail(d, rc);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		if ((rc & 0xff) == SQLITE_CONSTRAINT)
			snprintf(err, errsz, "refused by the outbox: payload "
			    "is not valid JSON or key is empty or too long");
		else
			goto fail;
		return -1;
	}
	if (sqlite3_changes(d->h) == 1) {
		*res = OB_ENQ_NEW;
		return 0;
	}
	/* It existed: compare minified JSON, so whitespace is no difference. */
	st = db_prep(d, "SELECT json(payload) = json(?) FROM outbox "
	    "WHERE workspace = ? AND record_key = ?");
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, payload);
	db_bind_text(st, 2, ws);
	db_bind_text(st, 3, key);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		db_fail(d, rc == SQLITE_DONE ? SQLITE_ERROR : rc);
		sqlite3_reset(st);
		goto fail;
	}
	same = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	*res = same ? OB_ENQ_SAME : OB_ENQ_DIFFERS;
	return 0;
fail:
	snprintf(err, errsz, "%s: %s", d->path, db_errmsg(d));
	return -1;
}

#define OB_COLS "id, workspace, record_key, payload, marker, lane, state, " \
	"attempts, in_doubt, enqueued_at, next_at, last_error, first_seen_at"

static void
ob_rec_read(sqlite3_stmt *st, struct ob_rec *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->workspace = db_col_strdup(st, 1);
	r->record_key = db_col_strdup(st, 2);
	r->payload = db_col_strdup(st, 3);
	r->marker = db_col_strdup(st, 4);
	r->lane = db_col_strdup(st, 5);
	r->state = db_col_strdup(st, 6);
	r->attempts = sqlite3_column_int(st, 7);
	r->in_doubt = sqlite3_column_int(st, 8);
	r->enqueued_at = sqlite3_column_int64(st, 9);
	r->next_at = sqlite3_column_int64(st, 10);
	r->last_error = db_col_strdup(st, 11);
	r->first_seen_at = sqlite3_column_int64(st, 12);
}

/* Step st to the end, collecting rows into a new array. */
static int
ob_collect(struct db *d, sqlite3_stmt *st, size_t max, struct ob_rec **out,
    size_t *n)
{
	struct ob_rec	*a;
	int		 rc;

	*out = NULL;
	*n = 0;
	if ((a = calloc(max > 0 ? max : 1, sizeof(*a))) == NULL) {
		sqlite3_reset(st);
		return -1;
	}
	/*
	 * Step to SQLITE_DONE, not to "not a row": an error half-way
	 * (SQLITE_BUSY, I/O) must fail the call, never pass for the end.
	 * Rows past max (none, with a LIMIT) are stepped over.
	 */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (*n < max)
			ob_rec_read(st, &a[(*n)++]);
	if (rc != SQLITE_DONE) {
		db_fail(d, rc);
		sqlite3_reset(st);
		ob_rec_free_array(a, *n);
		*n = 0;
		return -1;
	}
	sqlite3_reset(st);
	*out = a;
	return 0;
}

int
outbox_unsorted(struct db *d, size_t max, struct ob_rec **out, size_t *n)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "SELECT " OB_COLS " FROM outbox INDEXED BY "
	    "outbox_unsorted WHERE lane IS NULL AND state = 'pending' "
	    "ORDER BY id LIMIT ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, (int64_t)max);
	return ob_collect(d, st, max, out, n);
}

/*
 * The same for workspace ws only: a worker sorts (and so may
 * dead-letter) only the records of workspaces it serves; another worker's
 * workspace is not "unknown" to the site.
 */
int
outbox_unsorted_ws(struct db *d, const char *ws, size_t max,
    struct ob_rec **out, size_t *n)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "SELECT " OB_COLS " FROM outbox INDEXED BY "
	    "outbox_unsorted WHERE lane IS NULL AND state = 'pending' "
	    "AND workspace = ?1 ORDER BY id LIMIT ?2");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 ||
	    db_bind_int(st, 2, (int64_t)max) == -1)
		return -1;
	return ob_collect(d, st, max, out, n);
}

int
outbox_set_lane(struct db *d, int64_t id, const char *lane)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "UPDATE outbox SET lane = ? WHERE id = ?");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, lane);
	db_bind_int(st, 2, id);
	return db_step_done(d, st);
}

/*
 * One statement claims: it picks due records in enqueue order whose lane
 * has nothing earlier still open, sets the lease and charges the attempt.
 * A record whose previous lease lapsed (its worker died) comes back in
 * doubt, so its next attempt reconciles before writing.  A lapsed lease
 * of the claiming owner itself is never taken: that worker is alive and
 * still has the job in memory (the wall clock stepped past the lease, or
 * a renewal was late); claiming it again would run two jobs for one
 * record.  The condition sits in the outbox_open scan, whose index stays
 * in use (EXPLAIN QUERY PLAN: SEARCH o USING INDEX outbox_open).  The
 * first claim made with a clock past the floor (clock_known) sets
 * first_seen_at (0012), from which max_age counts when enqueued_at is
 * unknown.
 */
int
outbox_claim(struct db *d, const char *ws, const char *owner, int64_t now,
    int lease, size_t max, struct ob_rec **out, size_t *n)
{
	sqlite3_stmt	*st;
	int		 rc;

	*out = NULL;
	*n = 0;
	if (max == 0)
		return 0;
	if (db_begin(d) == -1)
		return -1;
	st = db_prep(d, "UPDATE outbox SET state = 'inflight', "
	    "lease_owner = ?1, lease_until = ?2 + ?3, attempts = attempts + 1, "
	    "in_doubt = CASE WHEN state = 'inflight' THEN 1 ELSE in_doubt END, "
	    "updated_at = ?2, first_seen_at = coalesce(first_seen_at, ?6) "
	    "WHERE id IN (SELECT o.id FROM outbox o INDEXED BY outbox_open "
	    "  WHERE o.workspace = ?4 AND o.state IN ('pending', 'inflight') "
	    "  AND o.lane IS NOT NULL AND "
	    "  ((o.state = 'pending' AND o.next_at <= ?2) OR "
	    "   (o.state = 'inflight' AND o.lease_until < ?2 AND "
	    "    o.lease_owner IS NOT ?1)) AND "
	    "  NOT EXISTS (SELECT 1 FROM outbox p INDEXED BY outbox_lane "
	    "    WHERE p.workspace = o.workspace "
	    "    AND p.lane = o.lane AND p.id < o.id "
	    "    AND p.state IN ('pending', 'inflight')) "
	    "  ORDER BY o.id LIMIT ?5) "
	    "RETURNING " OB_COLS);
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, owner);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, lease);
	db_bind_text(st, 4, ws);
	db_bind_int(st, 5, (int64_t)max);
	/* Only a clock past the floor says when it was first seen. */
	if (clock_known(now))
		db_bind_int(st, 6, now);
	else
		sqlite3_bind_null(st, 6);
	rc = ob_collect(d, st, max, out, n);
	if (rc == -1)
		goto fail;
	if (db_commit(d) == -1) {
		ob_rec_free_array(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
fail:
	db_rollback(d);
	return -1;
}

int
outbox_renew(struct db *d, const char *owner, int64_t now, int lease)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "UPDATE outbox SET lease_until = ? + ? "
	    "WHERE state = 'inflight' AND lease_owner = ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, lease);
	db_bind_text(st, 3, owner);
	if (db_step_done(d, st) == -1)
		return -1;
	return sqlite3_changes(d->h);
}

/*
 * Deprecated: use outbox_recover_dead().  kill(pid, 0) lies when a PID
 * is reused (every container's worker is PID 1) and across PID
 * namespaces; kept until the engine switches.
 *
 * Owners are "host:pid".  For our own host we can tell a dead worker from
 * a live one, so its claims come back at once instead of after the lease.
 * The attempt stays charged: a record that kills the worker must not be
 * retried forever.
 */
int
outbox_recover(struct db *d, const char *host)
{
	sqlite3_stmt	*st, *up;
	char		*owner, *colon;
	size_t		 hl = strlen(host);
	long		 pid;
	int		 total = 0;
	char		*owners[64];
	size_t		 nowners = 0, i;
	int		 rc;

	st = db_prep(d, "SELECT DISTINCT lease_owner FROM outbox "
	    "WHERE state = 'inflight' AND lease_owner IS NOT NULL");
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (nowners < 64 && (owner = db_col_strdup(st, 0)) != NULL)
			owners[nowners++] = owner;
	if (rc != SQLITE_DONE) {
		db_fail(d, rc);
		sqlite3_reset(st);
		for (i = 0; i < nowners; i++)
			free(owners[i]);
		return -1;
	}
	sqlite3_reset(st);
	for (i = 0; i < nowners; i++) {
		owner = owners[i];
		colon = strrchr(owner, ':');
		if (colon == NULL || (size_t)(colon - owner) != hl ||
		    strncmp(owner, host, hl) != 0)
			continue;
		pid = strtol(colon + 1, NULL, 10);
		if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		up = db_prep(d, "UPDATE outbox SET state = 'pending', "
		    "in_doubt = 1, lease_owner = NULL, lease_until = NULL, "
		    "next_at = 0, updated_at = unixepoch() "
		    "WHERE state = 'inflight' AND lease_owner = ?");
		if (up == NULL)
			continue;
		db_bind_text(up, 1, owner);
		if (db_step_done(d, up) == 0)
			total += sqlite3_changes(d->h);
	}
	for (i = 0; i < nowners; i++)
		free(owners[i]);
	return total;
}

int
outbox_release_all(struct db *d, const char *owner)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "UPDATE outbox SET state = 'pending', "
	    "attempts = max(attempts - 1, 0), lease_owner = NULL, "
	    "lease_until = NULL, updated_at = unixepoch() "
	    "WHERE state = 'inflight' AND lease_owner = ?");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, owner);
	if (db_step_done(d, st) == -1)
		return -1;
	return sqlite3_changes(d->h);
}

int
outbox_journal(struct db *d, int64_t id, struct ob_step **out, size_t *n)
{
	sqlite3_stmt	*st;
	struct ob_step	*a = NULL, *na;
	size_t		 cap = 0;
	int		 rc;

	*out = NULL;
	*n = 0;
	st = db_prep(d, "SELECT step, intercom_id, detail FROM journal "
	    "WHERE outbox_id = ? ORDER BY done_at, rowid");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	/* A partial journal must never pass for a complete one. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((na = realloc(a, cap * sizeof(*a))) == NULL) {
				sqlite3_reset(st);
				ob_step_free_array(a, *n);
				*n = 0;
				return -1;
			}
			a = na;
		}
		a[*n].step = db_col_strdup(st, 0);
		a[*n].intercom_id = db_col_strdup(st, 1);
		a[*n].detail = db_col_strdup(st, 2);
		(*n)++;
	}
	if (rc != SQLITE_DONE) {
		db_fail(d, rc);
		sqlite3_reset(st);
		ob_step_free_array(a, *n);
		*n = 0;
		return -1;
	}
	sqlite3_reset(st);
	*out = a;
	return 0;
}

int
outbox_holds(struct db *d, int64_t id, const char *owner)
{
	sqlite3_stmt	*st;
	int		 held = 0, rc;

	st = db_prep(d, "SELECT 1 FROM outbox WHERE id = ? AND "
	    "state = 'inflight' AND lease_owner = ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, owner);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		held = 1;
	else if (rc != SQLITE_DONE)
		held = db_fail(d, rc);
	sqlite3_reset(st);
	return held;
}

int
outbox_done(struct db *d, int64_t id, const char *owner, int64_t now,
    int *lost)
{
	sqlite3_stmt	*st;

	*lost = 0;
	st = db_prep(d, "UPDATE outbox SET state = 'done', delivered_at = ?, "
	    "lease_owner = NULL, lease_until = NULL, in_doubt = 0, "
	    "last_error = NULL, updated_at = ? "
	    "WHERE id = ? AND state = 'inflight' AND lease_owner = ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, id);
	db_bind_text(st, 4, owner);
	if (db_step_done(d, st) == -1)
		return -1;
	if (sqlite3_changes(d->h) == 0) {
		*lost = 1;
		return -1;
	}
	return 0;
}

/* Truncated copy of a response body, for attempt and dead-letter rows. */
static void
ob_bind_response(sqlite3_stmt *st, int i, const char *resp)
{
	size_t	 len;

	if (resp == NULL) {
		sqlite3_bind_null(st, i);
		return;
	}
	len = strlen(resp);
	if (len > OB_RESPONSE_MAX)
		len = OB_RESPONSE_MAX;
	/* Do not cut a UTF-8 sequence in half. */
	while (len > 0 && len < strlen(resp) &&
	    ((unsigned char)resp[len] & 0xc0) == 0x80)
		len--;
	sqlite3_bind_text(st, i, resp, (int)len, SQLITE_TRANSIENT);
}

static int
ob_log_attempt(struct db *d, int64_t id, const struct ob_fail *f)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "INSERT INTO attempt_log (outbox_id, class, charged, "
	    "http_status, step, message, response) VALUES (?,?,?,?,?,?,?)");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, f->class);
	db_bind_int(st, 3, f->charged);
	if (f->http_status > 0)
		db_bind_int(st, 4, f->http_status);
	db_bind_text(st, 5, f->step);
	db_bind_text(st, 6, f->message);
	ob_bind_response(st, 7, f->response);
	return db_step_done(d, st);
}

int
outbox_retry(struct db *d, int64_t id, const char *owner,
    const struct ob_fail *f, int *lost)
{
	sqlite3_stmt	*st;

	*lost = 0;
	if (db_begin(d) == -1)
		return -1;
	st = db_prep(d, "UPDATE outbox SET state = 'pending', "
	    "lease_owner = NULL, lease_until = NULL, next_at = ?1, "
	    "attempts = CASE WHEN ?7 THEN ?8 ELSE max(attempts - ?2, 0) END, "
	    "in_doubt = in_doubt | ?3, "
	    "last_error = ?4, updated_at = unixepoch() "
	    "WHERE id = ?5 AND state = 'inflight' AND lease_owner = ?6");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, f->next_at);
	db_bind_int(st, 2, f->charged ? 0 : 1);
	db_bind_int(st, 7, f->progressed ? 1 : 0);
	db_bind_int(st, 8, f->charged ? 1 : 0);
	db_bind_int(st, 3, f->in_doubt ? 1 : 0);
	db_bind_text(st, 4, f->message);
	db_bind_int(st, 5, id);
	db_bind_text(st, 6, owner);
	if (db_step_done(d, st) == -1)
		goto fail;
	if (sqlite3_changes(d->h) == 0) {
		*lost = 1;
		goto fail;
	}
	/* Throttles are routine: they refund and are not worth a row each. */
	if (strcmp(f->class, "rate_limited") != 0 &&
	    ob_log_attempt(d, id, f) == -1)
		goto fail;
	return db_commit(d);
fail:
	db_rollback(d);
	return -1;
}

int
outbox_dead(struct db *d, int64_t id, const char *owner,
    const struct ob_fail *f, int *lost)
{
	sqlite3_stmt	*st;

	*lost = 0;
	if (db_begin(d) == -1)
		return -1;
	/* owner NULL: the record was never claimed (rejected when sorted). */
	st = db_prep(d, "UPDATE outbox SET state = 'dead', lease_owner = NULL, "
	    "lease_until = NULL, last_error = ?, updated_at = unixepoch() "
	    "WHERE id = ? AND ((?3 IS NULL AND state = 'pending') OR "
	    "(state = 'inflight' AND lease_owner = ?3))");
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, f->message);
	db_bind_int(st, 2, id);
	db_bind_text(st, 3, owner);
	if (db_step_done(d, st) == -1)
		goto fail;
	if (sqlite3_changes(d->h) == 0) {
		*lost = 1;
		goto fail;
	}
	if (ob_log_attempt(d, id, f) == -1)
		goto fail;
	st = db_prep(d, "INSERT OR REPLACE INTO dead_letter (outbox_id, reason, "
	    "class, message, http_status, response, note) "
	    "VALUES (?,?,?,?,?,?,?)");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, f->reason);
	db_bind_text(st, 3, f->class);
	db_bind_text(st, 4, f->message);
	if (f->http_status > 0)
		db_bind_int(st, 5, f->http_status);
	ob_bind_response(st, 6, f->response);
	db_bind_text(st, 7, f->note);
	if (db_step_done(d, st) == -1)
		goto fail;
	return db_commit(d);
fail:
	db_rollback(d);
	return -1;
}

int
outbox_step(struct db *d, int64_t id, const char *owner, const char *step,
    const char *intercom_id, const char *detail, const struct audit_row *a,
    int *lost)
{
	sqlite3_stmt	*st;
	int		 held;

	*lost = 0;
	if (db_begin(d) == -1)
		return -1;
	if (owner != NULL) {
		if ((held = outbox_holds(d, id, owner)) == -1)
			goto fail;
		if (held == 0) {
			*lost = 1;
			goto fail;
		}
	}
	st = db_prep(d, "INSERT OR REPLACE INTO journal (outbox_id, step, "
	    "intercom_id, detail) VALUES (?, ?, ?, ?)");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, step);
	db_bind_text(st, 3, intercom_id);
	db_bind_text(st, 4, detail);
	if (db_step_done(d, st) == -1)
		goto fail;
	/* A finished step no longer needs its intent. */
	st = db_prep(d, "DELETE FROM journal WHERE outbox_id = ? AND step = "
	    "'intent:' || ?");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, step);
	if (db_step_done(d, st) == -1)
		goto fail;
	if (a != NULL && audit_append(d, a) == -1)
		goto fail;
	return db_commit(d);
fail:
	db_rollback(d);
	return -1;
}

int
outbox_unstep(struct db *d, int64_t id, const char *step)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "DELETE FROM journal WHERE outbox_id = ? AND step = ?");
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, step);
	return db_step_done(d, st);
}

/*
 * Renew only what we hold: the ids the worker has in memory, each still
 * in flight under owner.  A record whose lease another worker took over
 * stays with that worker (a blanket "WHERE lease_owner = me" cannot tell
 * a job we still run from one a stale row still names us for).  One
 * prepared statement per id, all in one transaction.
 */
int
outbox_renew_ids(struct db *d, const char *owner, const int64_t *ids,
    size_t n, int64_t now, int lease)
{
	sqlite3_stmt	*st;
	size_t		 i;
	int		 total = 0;

	if (n == 0)
		return 0;
	if (db_begin(d) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		st = db_prep(d, "UPDATE outbox SET lease_until = ?1 + ?2 "
		    "WHERE id = ?3 AND lease_owner = ?4 AND state = 'inflight'");
		if (st == NULL)
			goto fail;
		db_bind_int(st, 1, now);
		db_bind_int(st, 2, lease);
		db_bind_int(st, 3, ids[i]);
		db_bind_text(st, 4, owner);
		if (db_step_done(d, st) == -1)
			goto fail;
		total += sqlite3_changes(d->h);
	}
	if (db_commit(d) == -1)
		return -1;
	return total;
fail:
	db_rollback(d);
	return -1;
}

/* Delete journal row (id, step) only while owner holds id's lease. */
int
outbox_unstep_owned(struct db *d, int64_t id, const char *owner,
    const char *step, int *lost)
{
	sqlite3_stmt	*st;
	int		 held;

	*lost = 0;
	if (db_begin(d) == -1)
		return -1;
	if ((held = outbox_holds(d, id, owner)) == -1)
		goto fail;
	if (held == 0) {
		*lost = 1;
		goto fail;
	}
	st = db_prep(d, "DELETE FROM journal WHERE outbox_id = ? AND step = ?");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, step);
	if (db_step_done(d, st) == -1)
		goto fail;
	return db_commit(d);
fail:
	db_rollback(d);
	return -1;
}

/*
 * Rewrite the detail of journal row (id, step) under owner's lease; the
 * step, its Intercom id and done_at stay.  A missing row is an error
 * (-1, *lost = 0): there is nothing to update.
 */
int
outbox_step_detail(struct db *d, int64_t id, const char *owner,
    const char *step, const char *detail, int *lost)
{
	sqlite3_stmt	*st;
	int		 held;

	*lost = 0;
	if (db_begin(d) == -1)
		return -1;
	if ((held = outbox_holds(d, id, owner)) == -1)
		goto fail;
	if (held == 0) {
		*lost = 1;
		goto fail;
	}
	st = db_prep(d, "UPDATE journal SET detail = ? WHERE outbox_id = ? "
	    "AND step = ?");
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, detail);
	db_bind_int(st, 2, id);
	db_bind_text(st, 3, step);
	if (db_step_done(d, st) == -1)
		goto fail;
	if (sqlite3_changes(d->h) == 0) {
		db_seterr(d, SQLITE_NOTFOUND, "no such journal step");
		goto fail;
	}
	return db_commit(d);
fail:
	db_rollback(d);
	return -1;
}

/*
 * Owners and liveness.
 *
 * An owner is "host:pid:nonce" with 64 random bits: two processes never
 * share one, not even two containers whose worker is PID 1 under one
 * hostname, or a restarted worker that got its old PID back.
 *
 * A live owner holds flock(LOCK_EX) on <dbpath>.owners/<owner> for as
 * long as it runs; the kernel drops the lock when the process dies, however
 * it dies.  So "can I take that lock?" answers "is that owner dead?"
 * truthfully, across PID namespaces (flock is per open file, not per
 * PID), where kill(pid, 0) can only guess.  An owner with no lock file
 * (older workers, another host's directory) cannot be judged: its claims
 * come back when their lease lapses, as before.
 */
int
outbox_owner_new(char *buf, size_t sz)
{
	char		 host[256];
	uint64_t	 nonce;
	unsigned char	*p = (unsigned char *)&nonce;
	size_t		 got = 0;
	ssize_t		 r;
	int		 len;

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	while (got < sizeof(nonce)) {
		r = getrandom(p + got, sizeof(nonce) - got, 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	len = snprintf(buf, sz, "%s:%ld:%016llx", host, (long)getpid(),
	    (unsigned long long)nonce);
	if (len < 0 || (size_t)len >= sz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * Path of owner's lock file into buf: the owner sanitised to
 * [A-Za-z0-9._-] (anything else becomes '_', and a leading '.' too, so
 * that no name is "." or ".." or hidden).  -1 if it does not fit.
 */
int
outbox_owner_path(const char *dbpath, const char *owner, char *buf, size_t sz)
{
	char	 name[NAME_MAX + 1];
	size_t	 i, n = strlen(owner);
	int	 len;

	if (n == 0 || n > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)owner[i];

		name[i] = (isalnum(c) && c < 0x80) || c == '.' || c == '_' ||
		    c == '-' ? (char)c : '_';
	}
	name[n] = '\0';
	if (name[0] == '.')
		name[0] = '_';
	len = snprintf(buf, sz, "%s.owners/%s", dbpath, name);
	if (len < 0 || (size_t)len >= sz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
outbox_owner_lock(const char *dbpath, const char *owner, int *fd)
{
	char		 path[PATH_MAX], dir[PATH_MAX];
	struct stat	 sb, fsb;
	int		 f = -1, tries;

	*fd = -1;
	if (snprintf(dir, sizeof(dir), "%s.owners", dbpath) >= (int)sizeof(dir) ||
	    outbox_owner_path(dbpath, owner, path, sizeof(path)) == -1)
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	/*
	 * outbox_recover_dead() unlinks a file it could lock; should that
	 * ever be ours, between our open and our flock, a lock on an unlinked
	 * file proves nothing to anyone, so check and start over.
	 */
	for (tries = 0; tries < 5; tries++) {
		f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (f == -1)
			return -1;
		if (flock(f, LOCK_EX | LOCK_NB) == -1)
			goto fail;	/* held: the owner is not unique */
		if (fstat(f, &fsb) == 0 && stat(path, &sb) == 0 &&
		    sb.st_ino == fsb.st_ino && sb.st_dev == fsb.st_dev) {
			/* For people looking at the directory. */
			if (ftruncate(f, 0) == 0 &&
			    write(f, owner, strlen(owner)) == -1)
				log_debug("%s: %s", path, strerror(errno));
			*fd = f;
			return 0;
		}
		close(f);
	}
	errno = EAGAIN;
	return -1;
fail:
	close(f);
	return -1;
}

void
outbox_owner_unlock(const char *dbpath, const char *owner, int fd)
{
	char	 path[PATH_MAX];

	if (fd == -1)
		return;
	/* Unlink while still holding the lock, so no one judges a stranger. */
	if (outbox_owner_path(dbpath, owner, path, sizeof(path)) == 0)
		unlink(path);
	close(fd);
}

/*
 * 1: owner's lock file exists and we could lock it (owner dead; *fd holds
 * the lock until the caller closes it); 0: alive or unknown (no file).
 */
static int
ob_owner_dead(const char *dbpath, const char *owner, int *fd)
{
	char	 path[PATH_MAX];
	int	 f;

	*fd = -1;
	if (outbox_owner_path(dbpath, owner, path, sizeof(path)) == -1)
		return 0;
	if ((f = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	if (flock(f, LOCK_EX | LOCK_NB) == -1) {
		close(f);
		return 0;
	}
	*fd = f;
	return 1;
}

int
outbox_recover_dead(struct db *d, const char *dbpath, const char *self)
{
	sqlite3_stmt	*st;
	char		**owners = NULL, **no, *o;
	size_t		 n = 0, cap = 0, i;
	int		 rc, total = 0, fd;
	char		 path[PATH_MAX];

	st = db_prep(d, "SELECT DISTINCT lease_owner FROM outbox "
	    "WHERE state = 'inflight' AND lease_owner IS NOT NULL "
	    "AND lease_owner IS NOT ?");
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, self);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((no = reallocarray(owners, cap,
			    sizeof(*owners))) == NULL) {
				db_seterr(d, SQLITE_NOMEM, "out of memory");
				goto fail;
			}
			owners = no;
		}
		if ((o = db_col_strdup(st, 0)) == NULL) {
			db_seterr(d, SQLITE_NOMEM, "out of memory");
			goto fail;
		}
		owners[n++] = o;
	}
	if (rc != SQLITE_DONE) {
		db_fail(d, rc);
		goto fail;
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		if (ob_owner_dead(dbpath, owners[i], &fd) == 0)
			continue;
		/* Same update as outbox_recover: attempt stays charged. */
		st = db_prep(d, "UPDATE outbox SET state = 'pending', "
		    "in_doubt = 1, lease_owner = NULL, lease_until = NULL, "
		    "next_at = 0, updated_at = unixepoch() "
		    "WHERE state = 'inflight' AND lease_owner = ?");
		if (st == NULL || db_bind_text(st, 1, owners[i]) == -1 ||
		    db_step_done(d, st) == -1) {
			close(fd);	/* file kept: a later call retries */
			goto fail;
		}
		total += sqlite3_changes(d->h);
		if (outbox_owner_path(dbpath, owners[i], path, sizeof(path)) == 0)
			unlink(path);
		close(fd);
	}
	for (i = 0; i < n; i++)
		free(owners[i]);
	free(owners);
	return total;
fail:
	sqlite3_reset(st);
	for (i = 0; i < n; i++)
		free(owners[i]);
	free(owners);
	return -1;
}

/*
 * The open and finished-but-not-done records, through outbox_state; the
 * open intents through the partial index journal_intent (migration
 * 0010): a few rows, whatever the size of the journal.  A workspace with
 * an intent has an open record, so the LEFT JOIN loses none.
 */
static const char *const q_ws_counts =
    "WITH r AS (SELECT workspace, sum(state = 'pending') AS pending, "
    "sum(state = 'inflight') AS inflight, "
    "sum(in_doubt AND state IN ('pending', 'inflight')) AS flagged, "
    "min(CASE WHEN state = 'pending' THEN CASE WHEN enqueued_at >= ?1 "
    "THEN enqueued_at ELSE first_seen_at END END) AS oldest, "
    "sum(state = 'dead') AS dead, sum(state = 'handed_off') AS handed_off "
    "FROM outbox WHERE state IN ('pending', 'inflight', 'dead', "
    "'handed_off') AND (?2 IS NULL OR workspace = ?2) GROUP BY workspace), "
    "i AS (SELECT o.workspace, count(*) AS n, count(DISTINCT CASE WHEN "
    "o.in_doubt = 0 THEN o.id END) AS unflagged FROM journal j INDEXED BY "
    "journal_intent CROSS JOIN outbox o ON o.id = j.outbox_id "
    "WHERE j.step >= 'intent:' AND j.step < 'intent;' "
    "AND o.state IN ('pending', 'inflight') "
    "AND (?2 IS NULL OR o.workspace = ?2) GROUP BY o.workspace) "
    "SELECT r.workspace, r.pending, r.inflight, "
    "r.flagged + coalesce(i.unflagged, 0), coalesce(i.n, 0), r.dead, "
    "r.handed_off, coalesce(r.oldest, 0) "
    "FROM r LEFT JOIN i ON i.workspace = r.workspace ORDER BY r.workspace";

int
outbox_ws_counts(struct db *d, int64_t floor, const char *ws,
    int (*fn)(const struct ob_counts *, void *), void *arg)
{
	sqlite3_stmt	*st;
	struct ob_counts c;
	int		 rc;

	if ((st = db_prep(d, q_ws_counts)) == NULL ||
	    db_bind_int(st, 1, floor) == -1 ||
	    (ws != NULL && db_bind_text(st, 2, ws) == -1))
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c.workspace = (const char *)sqlite3_column_text(st, 0);
		c.pending = sqlite3_column_int64(st, 1);
		c.inflight = sqlite3_column_int64(st, 2);
		c.in_doubt = sqlite3_column_int64(st, 3);
		c.intents = sqlite3_column_int64(st, 4);
		c.dead = sqlite3_column_int64(st, 5);
		c.handed_off = sqlite3_column_int64(st, 6);
		c.oldest = sqlite3_column_int64(st, 7);
		if (fn(&c, arg) != 0)
			break;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
fail:
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return -1;
}

int64_t
outbox_open_count(struct db *d, const char *ws)
{
	sqlite3_stmt	*st;
	int64_t		 n = -1;

	/* Per workspace, not all: another worker's records are not the
	 * caller's to wait for. */
	st = db_prep(d, "SELECT count(*) FROM outbox "
	    "WHERE state IN ('pending', 'inflight') AND workspace = ?1");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == 0 && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

int
outbox_contact_intent_elsewhere(struct db *d, const char *ws, int64_t id,
    const char *phone, const char *email)
{
	sqlite3_stmt	*st;
	int		 rc;

	/* From the few contact intents (a partial index), never a scan
	 * of the backlog. */
	st = db_prep(d, "SELECT count(*) FROM journal j "
	    "INDEXED BY journal_contact_intent CROSS JOIN outbox o ON o.id = "
	    "j.outbox_id WHERE j.step = 'intent:contact' "
	    "AND o.workspace = ?1 AND o.state IN ('pending', 'inflight') "
	    "AND o.id <> ?2 "
	    "AND (o.lane = 'p:' || ?3 OR (?4 <> '' AND (o.lane = 'e:' || ?4 "
	    "OR o.caller_email = ?4)))");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 ||
	    db_bind_int(st, 2, id) == -1 ||
	    db_bind_text(st, 3, phone) == -1 ||
	    db_bind_text(st, 4, email) == -1)
		return -1;
	rc = sqlite3_step(st);
	rc = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) > 0 : -1;
	sqlite3_reset(st);
	return rc;
}
