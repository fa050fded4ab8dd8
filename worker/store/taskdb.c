/*
 * taskdb: see taskdb.h.
 *
 * The statements are the texts below, each prepared once by db_prep's
 * cache (the pointer is the key) and reset as soon as its rows are read.
 * Rows go up as a struct taskdb_row whose strings point into the
 * statement (borrowed for the callback), so a page of tasks is read
 * without a copy.
 *
 * A lease that ran out reads as due: in SQL by EFFECTIVE (the list's
 * filter) and the claim's and counts' "state = 'due' OR lease_until <=
 * now", in C by taskdb_state.  The claim and the finish are
 * transactions (db_begin: BEGIN IMMEDIATE, or a savepoint inside the
 * daemon's group): the claim's read and its lease are one step for any
 * other claimer, the finish's check of the state, its update and the
 * record's enqueue all happen or none does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "taskdb.h"

/* The columns of a struct taskdb_row, in the order row_read reads. */
#define TASK_COLS "id, workspace, contact_id, phone, email, name, reason, " \
	"conversation_id, due_at, lease_until, state, rule, priority, " \
	"outcome, created_at, updated_at, record_key"
/* The state shown at ?1: a lease that ran out reads as due. */
#define EFFECTIVE "CASE WHEN state = 'leased' AND lease_until <= ?1 " \
	"THEN 'due' ELSE state END"

static const char q_get[] =
    "SELECT " TASK_COLS " FROM tasks WHERE id = ?";
/* ?1 now, ?2 workspace or NULL. */
static const char q_claim_pick[] =
    "SELECT id FROM tasks WHERE state IN ('due', "
    "'leased') AND (state = 'due' OR lease_until <= ?1) AND "
    "due_at <= ?1 AND (?2 IS NULL OR workspace = ?2) "
    "ORDER BY priority DESC, due_at, id LIMIT 1";
static const char q_claim_lease[] =
    "UPDATE tasks SET state = 'leased', "
    "lease_until = ?, updated_at = ? WHERE id = ?";
static const char q_fin_state[] =
    "SELECT state, workspace FROM tasks WHERE id = ?";
static const char q_fin_set[] =
    "UPDATE tasks SET state = ?, lease_until = NULL, "
    "outcome = coalesce(?, outcome), updated_at = ?, "
    "record_key = coalesce(?, record_key) WHERE id = ?";
/* ?1 now, ?2 state or NULL (all), ?3 limit. */
static const char q_list[] =
    "SELECT " TASK_COLS " FROM tasks WHERE ?2 IS "
    "NULL OR " EFFECTIVE " = ?2 ORDER BY id DESC LIMIT ?3";
static const char q_due_counts[] =
    "SELECT workspace, count(*), min(due_at) FROM "
    "tasks WHERE state IN ('due', 'leased') AND (state = 'due' OR "
    "lease_until <= ?) GROUP BY workspace";
static const char q_oldest_due[] =
    "SELECT min(due_at) FROM tasks WHERE workspace "
    "= ?1 AND state IN ('due', 'leased') AND (state = 'due' OR "
    "lease_until <= ?2) AND due_at <= ?2";
static const char q_phones_unread[] =
    "SELECT id, contact_id FROM tasks WHERE "
    "workspace = ? AND phone IS NULL AND contact_id IS NOT NULL AND "
    "state IN ('due', 'leased') AND (phone_read_at IS NULL OR "
    "phone_read_at < ?) ORDER BY id LIMIT ?";
static const char q_phone_asked[] =
    "UPDATE tasks SET phone_read_at = ? WHERE id = ?";
static const char q_fill_phone[] =
    "UPDATE tasks SET phone = ?, email = coalesce(email, ?), "
    "name = coalesce(name, ?), updated_at = unixepoch() WHERE "
    "id = ? AND phone IS NULL";

const char *
taskdb_state(const struct taskdb_row *r, int64_t now)
{
	if (strcmp(r->state, "leased") == 0 && r->lease_until <= now)
		return "due";
	return r->state;
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* The row st stands on (a TASK_COLS statement) into *r, borrowing. */
static void
row_read(sqlite3_stmt *st, struct taskdb_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->workspace = col_text(st, 1);
	r->contact_id = col_text(st, 2);
	r->phone = col_text(st, 3);
	r->email = col_text(st, 4);
	r->name = col_text(st, 5);
	r->reason = col_text(st, 6);
	r->conversation_id = col_text(st, 7);
	r->due_at = sqlite3_column_int64(st, 8);
	r->lease_until = sqlite3_column_int64(st, 9);
	r->state = col_text(st, 10);
	r->rule = col_text(st, 11);
	r->priority = sqlite3_column_int64(st, 12);
	r->outcome = col_text(st, 13);
	r->created_at = sqlite3_column_int64(st, 14);
	r->updated_at = sqlite3_column_int64(st, 15);
	r->record_key = col_text(st, 16);
}

int
taskdb_get(struct db *d, int64_t id,
    int (*fn)(const struct taskdb_row *, void *), void *arg)
{
	sqlite3_stmt		*st;
	struct taskdb_row	 r;
	int			 rc, ret = -1;

	if ((st = db_prep(d, q_get)) == NULL)
		return -1;
	db_bind_int(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_read(st, &r);
		ret = fn(&r, arg) == 0 ? 1 : -1;
	} else if (rc == SQLITE_DONE)
		ret = 0;
	sqlite3_reset(st);
	return ret;
}

int
taskdb_claim(struct db *d, const char *ws, int lease_s, int64_t now,
    int64_t *idp)
{
	sqlite3_stmt	*st;
	int64_t		 id = 0;
	int		 rc;

	*idp = 0;
	if (db_begin(d) == -1)
		return -1;
	if ((st = db_prep(d, q_claim_pick)) == NULL)
		goto fail;
	db_bind_int(st, 1, now);
	db_bind_text(st, 2, ws);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	if (id == 0) {
		db_rollback(d);
		return 0;
	}
	if ((st = db_prep(d, q_claim_lease)) == NULL)
		goto fail;
	db_bind_int(st, 1, now + lease_s);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, id);
	if (db_step_done(d, st) == -1)
		goto fail;
	if (db_commit(d) == -1)
		return -1;
	*idp = id;
	return 1;
fail:
	db_rollback(d);
	return -1;
}

enum taskdb_fin
taskdb_finish(struct db *d, int64_t id, const char *state,
    const char *outcome, const char *key, const char *payload, int64_t now,
    char *err, size_t errsz)
{
	sqlite3_stmt	*st;
	char		*cur = NULL, *ws = NULL;
	enum ob_enq	 res;
	enum taskdb_fin	 code = TASKDB_FIN_ERR;
	int		 rc;

	if (errsz > 0)
		err[0] = '\0';
	if (db_begin(d) == -1)
		return TASKDB_FIN_ERR;
	if ((st = db_prep(d, q_fin_state)) == NULL)
		goto cleanup;
	db_bind_int(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cur = db_col_strdup(st, 0);
		ws = db_col_strdup(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto cleanup;
	if (cur == NULL || ws == NULL) {
		/* No row, or out of memory. */
		code = rc == SQLITE_DONE ? TASKDB_FIN_UNKNOWN : TASKDB_FIN_ERR;
		goto cleanup;
	}
	if (strcmp(cur, "done") == 0 || strcmp(cur, "failed") == 0 ||
	    strcmp(cur, "cancelled") == 0) {
		code = TASKDB_FIN_FINAL;
		goto cleanup;
	}
	if ((st = db_prep(d, q_fin_set)) == NULL)
		goto cleanup;
	db_bind_text(st, 1, state);
	db_bind_text(st, 2, outcome);
	db_bind_int(st, 3, now);
	db_bind_text(st, 4, key);
	db_bind_int(st, 5, id);
	if (db_step_done(d, st) == -1)
		goto cleanup;
	if (key != NULL) {
		if (outbox_enqueue(d, ws, key, payload, &res, err, errsz) == -1)
			goto cleanup;
		if (res == OB_ENQ_DIFFERS) {
			snprintf(err, errsz, "another record is in the outbox "
			    "as %s/%s", ws, key);
			code = TASKDB_FIN_KEY_TAKEN;
			goto cleanup;
		}
	}
	if (db_commit(d) == 0) {
		free(cur);
		free(ws);
		return TASKDB_FIN_OK;
	}
cleanup:
	db_rollback(d);
	free(cur);
	free(ws);
	return code;
}

int
taskdb_list(struct db *d, const char *state, int64_t now, int limit,
    int (*fn)(const struct taskdb_row *, void *), void *arg)
{
	sqlite3_stmt		*st;
	struct taskdb_row	 r;
	int			 rc;

	if ((st = db_prep(d, q_list)) == NULL)
		return -1;
	db_bind_int(st, 1, now);
	db_bind_text(st, 2, state);
	db_bind_int(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_read(st, &r);
		if (fn(&r, arg) != 0)
			break;
	}
	/* Reset at once: an open read would pin a WAL snapshot. */
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
taskdb_due_counts(struct db *d, int64_t now,
    int (*fn)(const char *, int64_t, int64_t, void *), void *arg)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = db_prep(d, q_due_counts)) == NULL)
		return -1;
	db_bind_int(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (fn(col_text(st, 0), sqlite3_column_int64(st, 1),
		    sqlite3_column_int64(st, 2), arg) != 0)
			break;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
taskdb_oldest_due(struct db *d, const char *ws, int64_t now,
    int64_t *due_at)
{
	sqlite3_stmt	*st;
	int		 rc, ret;

	*due_at = 0;
	if ((st = db_prep(d, q_oldest_due)) == NULL)
		return -1;
	db_bind_text(st, 1, ws);
	db_bind_int(st, 2, now);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*due_at = sqlite3_column_int64(st, 0);
		ret = 1;
	} else	/* min() of no row: one row, NULL */
		ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return ret;
}

int
taskdb_phones_unread(struct db *d, const char *ws, int64_t before, int max,
    int64_t *ids, char **cids)
{
	sqlite3_stmt	*st;
	int		 n = 0;

	if ((st = db_prep(d, q_phones_unread)) == NULL)
		return -1;
	db_bind_text(st, 1, ws);
	db_bind_int(st, 2, before);
	db_bind_int(st, 3, max);
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		ids[n] = sqlite3_column_int64(st, 0);
		cids[n++] = db_col_strdup(st, 1);
	}
	sqlite3_reset(st);
	return n;
}

int
taskdb_phone_asked(struct db *d, int64_t id, int64_t now)
{
	sqlite3_stmt	*st;

	if ((st = db_prep(d, q_phone_asked)) == NULL)
		return -1;
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, id);
	return db_step_done(d, st);
}

int
taskdb_fill_phone(struct db *d, int64_t id, const char *phone,
    const char *email, const char *name)
{
	sqlite3_stmt	*st;

	if ((st = db_prep(d, q_fill_phone)) == NULL)
		return -1;
	db_bind_text(st, 1, phone);
	db_bind_text(st, 2, email);
	db_bind_text(st, 3, name);
	db_bind_int(st, 4, id);
	return db_step_done(d, st);
}
