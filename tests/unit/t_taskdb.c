/*
 * t_taskdb: the tasks table's store (worker/store/taskdb.c) on a real
 * database migrated by the project's migrations, asserted on its rows:
 * the claim picks the due task and leases it, a leased task is not
 * claimed again until its lease ends, the finish sets the state (and
 * enqueues a record in the same transaction, or nothing), the list, the
 * per-workspace counts and the oldest due give what the rows hold, and
 * the phone fill-in's reads and writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "db.h"
#include "taskdb.h"

#define TDB_NAME	"t_taskdb"
#include "tdb.h"

/* A task of ws: priority prio, due at due; its id (1, 2, ... in order). */
static void
add(struct db *d, const char *ws, const char *dedupe, int prio, int due,
    const char *contact)
{
	char	 sql[400];

	snprintf(sql, sizeof(sql), "INSERT INTO tasks (workspace, dedupe, "
	    "rule, reason, priority, due_at, contact_id) VALUES ('%s', '%s', "
	    "'tag:callback', 'asked', %d, %d, %s%s%s)", ws, dedupe, prio, due,
	    contact ? "'" : "", contact ? contact : "NULL",
	    contact ? "'" : "");
	assert_int_equal(db_exec(d, sql), 0);
}

/* Column col of task id as text (new; NULL for NULL). */
static char *
col(struct db *d, int64_t id, const char *c)
{
	sqlite3_stmt	*st;
	char		 sql[160], *s = NULL;

	snprintf(sql, sizeof(sql), "SELECT %s FROM tasks WHERE id = %lld", c,
	    (long long)id);
	assert_int_equal(sqlite3_prepare_v2(d->h, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	if (sqlite3_column_type(st, 0) != SQLITE_NULL)
		s = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return s;
}

/* Does column c of task id read v (NULL: is it NULL)? */
static void
col_is(struct db *d, int64_t id, const char *c, const char *v)
{
	char	*s = col(d, id, c);

	if (v == NULL)
		assert_null(s);
	else {
		assert_non_null(s);
		assert_string_equal(s, v);
	}
	free(s);
}

static int64_t
col_int(struct db *d, int64_t id, const char *c)
{
	char	*s = col(d, id, c);
	int64_t	 v;

	assert_non_null(s);
	v = strtoll(s, NULL, 10);
	free(s);
	return v;
}

/* Statements of d still stepping (an open read snapshot). */
static int
busy_stmts(struct db *d)
{
	sqlite3_stmt	*st = NULL;
	int		 n = 0;

	while ((st = sqlite3_next_stmt(d->h, st)) != NULL)
		n += sqlite3_stmt_busy(st) != 0;
	return n;
}

static int64_t
claim(struct db *d, const char *ws, int lease, int64_t now)
{
	int64_t	 id = -1;
	int	 rc;

	rc = taskdb_claim(d, ws, lease, now, &id);
	assert_true(rc == 0 || rc == 1);
	assert_int_equal(rc == 0, id == 0);
	return id;
}

static void
t_claim(void **state)
{
	struct db	*d = *state;

	add(d, "acme", "a", 0, 100, NULL);		/* 1 */
	add(d, "acme", "b", 5, 100, NULL);		/* 2: first (priority) */
	add(d, "globex", "c", 0, 90, NULL);		/* 3 */
	add(d, "acme", "later", 9, 5000, NULL);	/* 4: due at 5000 only */
	add(d, "acme", "d", 0, 50, NULL);		/* 5: older than 1 */

	/* Nothing is due before its due_at. */
	assert_int_equal(claim(d, NULL, 60, 10), 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE "
	    "state <> 'due' OR lease_until IS NOT NULL"), 0);
	/* Highest priority first, leased until now + lease_s. */
	assert_int_equal(claim(d, NULL, 60, 1000), 2);
	col_is(d, 2, "state", "leased");
	assert_int_equal(col_int(d, 2, "lease_until"), 1060);
	assert_int_equal(col_int(d, 2, "updated_at"), 1000);
	/* Then the oldest due_at, of the workspace asked for. */
	assert_int_equal(claim(d, "acme", 60, 1000), 5);
	assert_int_equal(claim(d, "acme", 60, 1000), 1);
	assert_int_equal(claim(d, "acme", 60, 1000), 0);	/* 4: later */
	assert_int_equal(claim(d, NULL, 60, 1000), 3);
	assert_int_equal(claim(d, NULL, 60, 1059), 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE "
	    "state = 'leased'"), 4);
	col_is(d, 4, "state", "due");
	col_is(d, 4, "lease_until", NULL);
	/* Task 2's lease ends at 1060: due again, claimed again, with a new
	 * lease; the others (leased until 1060 too) follow by id order. */
	assert_int_equal(claim(d, "acme", 30, 1060), 2);
	assert_int_equal(col_int(d, 2, "lease_until"), 1090);
	assert_int_equal(col_int(d, 2, "updated_at"), 1060);
	assert_int_equal(claim(d, "globex", 30, 1060), 3);
	assert_int_equal(claim(d, "globex", 30, 1089), 0);
	/* Task 4, due at 5000, ranks first by priority from then on. */
	assert_int_equal(claim(d, "acme", 30, 5000), 4);
	/* The claim left no transaction and no read open. */
	assert_int_equal(d->txdepth, 0);
	assert_int_equal(sqlite3_get_autocommit(d->h), 1);
	assert_int_equal(busy_stmts(d), 0);
}

static void
t_finish(void **state)
{
	struct db	*d = *state;
	char		 err[200];

	add(d, "acme", "a", 0, 100, NULL);	/* 1 */
	add(d, "acme", "b", 0, 100, NULL);	/* 2 */
	add(d, "acme", "c", 0, 100, NULL);	/* 3 */
	assert_int_equal(claim(d, NULL, 60, 1000), 1);
	/* Done: state, outcome, lease cleared, updated_at. */
	assert_int_equal(taskdb_finish(d, 1, "done", "called", NULL, NULL,
	    1010, err, sizeof(err)), TASKDB_FIN_OK);
	col_is(d, 1, "state", "done");
	col_is(d, 1, "outcome", "called");
	col_is(d, 1, "lease_until", NULL);
	assert_int_equal(col_int(d, 1, "updated_at"), 1010);
	/* Final: a second done, a release, a cancel change nothing. */
	assert_int_equal(taskdb_finish(d, 1, "done", "again", NULL, NULL,
	    1020, err, sizeof(err)), TASKDB_FIN_FINAL);
	assert_int_equal(taskdb_finish(d, 1, "due", NULL, NULL, NULL, 1020,
	    err, sizeof(err)), TASKDB_FIN_FINAL);
	col_is(d, 1, "outcome", "called");
	assert_int_equal(col_int(d, 1, "updated_at"), 1010);
	assert_int_equal(taskdb_finish(d, 99, "done", NULL, NULL, NULL, 1020,
	    err, sizeof(err)), TASKDB_FIN_UNKNOWN);
	/* Release: due again at once, the outcome kept when NULL. */
	assert_int_equal(claim(d, NULL, 60, 1000), 2);
	assert_int_equal(taskdb_finish(d, 2, "due", "busy", NULL, NULL, 1001,
	    err, sizeof(err)), TASKDB_FIN_OK);
	assert_int_equal(taskdb_finish(d, 2, "due", NULL, NULL, NULL, 1002,
	    err, sizeof(err)), TASKDB_FIN_OK);
	col_is(d, 2, "state", "due");
	col_is(d, 2, "outcome", "busy");
	col_is(d, 2, "lease_until", NULL);
	assert_int_equal(claim(d, NULL, 60, 1002), 2);
	/* Failed and cancelled are final too. */
	assert_int_equal(taskdb_finish(d, 2, "failed", "no answer", NULL, NULL,
	    1003, err, sizeof(err)), TASKDB_FIN_OK);
	col_is(d, 2, "state", "failed");
	assert_int_equal(taskdb_finish(d, 2, "done", NULL, NULL, NULL, 1004,
	    err, sizeof(err)), TASKDB_FIN_FINAL);

	/* Done with a record: the record in the outbox of the task's
	 * workspace and the task naming it, in one transaction. */
	assert_int_equal(taskdb_finish(d, 3, "done", "ok", "call-1",
	    "{\"type\":\"call\",\"call_id\":\"call-1\"}", 1005, err,
	    sizeof(err)), TASKDB_FIN_OK);
	assert_string_equal(err, "");
	col_is(d, 3, "state", "done");
	col_is(d, 3, "record_key", "call-1");
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM outbox WHERE "
	    "workspace = 'acme' AND record_key = 'call-1'"), 1);
	/* Another record under that key: 409's case, and nothing changed
	 * (the task is still leased, no second row). */
	add(d, "acme", "e", 0, 100, NULL);	/* 4 */
	assert_int_equal(claim(d, NULL, 60, 1006), 4);
	assert_int_equal(taskdb_finish(d, 4, "done", "ok", "call-1",
	    "{\"type\":\"call\",\"call_id\":\"call-1\",\"summary\":\"x\"}",
	    1007, err, sizeof(err)), TASKDB_FIN_KEY_TAKEN);
	assert_string_equal(err, "another record is in the outbox as "
	    "acme/call-1");
	col_is(d, 4, "state", "leased");
	col_is(d, 4, "record_key", NULL);
	col_is(d, 4, "outcome", NULL);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM outbox"), 1);
	/* A payload the outbox refuses: an error, and nothing changed. */
	assert_int_equal(taskdb_finish(d, 4, "done", "ok", "call-2",
	    "not json", 1008, err, sizeof(err)), TASKDB_FIN_ERR);
	assert_string_not_equal(err, "");
	col_is(d, 4, "state", "leased");
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM outbox"), 1);
	assert_int_equal(d->txdepth, 0);
	assert_int_equal(sqlite3_get_autocommit(d->h), 1);
}

/* The rows a callback saw. */
struct seen {
	int64_t		 ids[16];
	char		 states[16][16];
	char		 ws[16][16];
	int64_t		 n1[16], n2[16];
	size_t		 n;
	size_t		 stop_at;	/* non-zero: fail at this row */
};

static int
row_cb(const struct taskdb_row *r, void *arg)
{
	struct seen	*s = arg;

	assert_true(s->n < 16);
	s->ids[s->n] = r->id;
	snprintf(s->states[s->n], sizeof(s->states[0]), "%s", r->state);
	snprintf(s->ws[s->n], sizeof(s->ws[0]), "%s", r->workspace);
	s->n1[s->n] = r->lease_until;
	s->n++;
	return s->stop_at != 0 && s->n == s->stop_at;
}

static void
t_get_list(void **state)
{
	struct db	*d = *state;
	struct seen	 s;
	char		 err[64];

	add(d, "acme", "a", 3, 100, "c1");	/* 1 */
	add(d, "acme", "b", 0, 100, NULL);	/* 2 */
	add(d, "globex", "c", 0, 100, NULL);	/* 3 */
	assert_int_equal(db_exec(d, "UPDATE tasks SET phone = '+15550100', "
	    "email = 'a@example.com', name = 'Ann', conversation_id = '77', "
	    "outcome = 'o', record_key = 'k', created_at = 11, updated_at = 12 "
	    "WHERE id = 1"), 0);
	assert_int_equal(claim(d, NULL, 60, 1000), 1);	/* to 1060 */
	assert_int_equal(claim(d, NULL, 600, 1000), 2);	/* to 1600 */
	assert_int_equal(taskdb_finish(d, 3, "done", NULL, NULL, NULL, 1000,
	    err, sizeof(err)), TASKDB_FIN_OK);

	/* get: every column; the state as stored, taskdb_state's at now. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_get(d, 99, row_cb, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(taskdb_get(d, 1, row_cb, &s), 1);
	assert_int_equal(s.n, 1);
	{
		struct taskdb_row	 r;

		memset(&r, 0, sizeof(r));
		r.state = "leased";
		r.lease_until = 1060;
		assert_string_equal(taskdb_state(&r, 1059), "leased");
		assert_string_equal(taskdb_state(&r, 1060), "due");
		r.state = "done";
		assert_string_equal(taskdb_state(&r, 5000), "done");
	}
	assert_string_equal(s.states[0], "leased");
	assert_int_equal(s.n1[0], 1060);
	assert_string_equal(s.ws[0], "acme");
	/* A callback that fails: -1. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	assert_int_equal(taskdb_get(d, 1, row_cb, &s), -1);
	assert_int_equal(busy_stmts(d), 0);

	/* list: newest first, at most limit; NULL is every state. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_list(d, NULL, 1000, 10, row_cb, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ids[0], 3);
	assert_int_equal(s.ids[1], 2);
	assert_int_equal(s.ids[2], 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_list(d, NULL, 1000, 2, row_cb, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.ids[1], 2);
	/* The state filter is the state at now: 1's lease ends at 1060. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_list(d, "leased", 1059, 10, row_cb, &s), 0);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_list(d, "leased", 1060, 10, row_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_list(d, "due", 1060, 10, row_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], 1);
	assert_string_equal(s.states[0], "leased");	/* as stored */
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_list(d, "due", 1059, 10, row_cb, &s), 0);
	assert_int_equal(s.n, 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_list(d, "done", 1059, 10, row_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.ids[0], 3);
	/* A callback that stops the list: -1, no snapshot left open. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	assert_int_equal(taskdb_list(d, NULL, 1000, 10, row_cb, &s), -1);
	assert_int_equal(s.n, 1);
	assert_int_equal(busy_stmts(d), 0);
}

/* Every field of a row, read through taskdb_get. */
static int
full_cb(const struct taskdb_row *r, void *arg)
{
	(void)arg;
	assert_int_equal(r->id, 1);
	assert_string_equal(r->workspace, "acme");
	assert_string_equal(r->contact_id, "c1");
	assert_string_equal(r->phone, "+15550100");
	assert_string_equal(r->email, "a@example.com");
	assert_string_equal(r->name, "Ann");
	assert_string_equal(r->reason, "asked");
	assert_string_equal(r->conversation_id, "77");
	assert_int_equal(r->due_at, 100);
	assert_int_equal(r->lease_until, 0);
	assert_string_equal(r->state, "due");
	assert_string_equal(r->rule, "tag:callback");
	assert_int_equal(r->priority, 3);
	assert_string_equal(r->outcome, "o");
	assert_int_equal(r->created_at, 11);
	assert_int_equal(r->updated_at, 12);
	assert_string_equal(r->record_key, "k");
	return 0;
}

static int
null_cb(const struct taskdb_row *r, void *arg)
{
	(void)arg;
	assert_null(r->contact_id);
	assert_null(r->phone);
	assert_null(r->email);
	assert_null(r->name);
	assert_null(r->conversation_id);
	assert_null(r->outcome);
	assert_null(r->record_key);
	assert_int_equal(r->lease_until, 0);
	return 0;
}

static void
t_row(void **state)
{
	struct db	*d = *state;

	add(d, "acme", "a", 3, 100, "c1");	/* 1 */
	add(d, "acme", "b", 0, 100, NULL);	/* 2 */
	assert_int_equal(db_exec(d, "UPDATE tasks SET phone = '+15550100', "
	    "email = 'a@example.com', name = 'Ann', conversation_id = '77', "
	    "outcome = 'o', record_key = 'k', created_at = 11, updated_at = 12 "
	    "WHERE id = 1"), 0);
	assert_int_equal(taskdb_get(d, 1, full_cb, NULL), 1);
	assert_int_equal(taskdb_get(d, 2, null_cb, NULL), 1);
}

static int
due_cb(const char *ws, int64_t n, int64_t oldest, void *arg)
{
	struct seen	*s = arg;

	assert_true(s->n < 16);
	snprintf(s->ws[s->n], sizeof(s->ws[0]), "%s", ws);
	s->n1[s->n] = n;
	s->n2[s->n] = oldest;
	s->n++;
	return 0;
}

/* The entry of workspace ws in s, or -1. */
static int
seen_ws(const struct seen *s, const char *ws)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ws[i], ws) == 0)
			return (int)i;
	return -1;
}

static void
t_counts(void **state)
{
	struct db	*d = *state;
	struct seen	 s;
	char		 err[64];
	int64_t		 due;
	int		 i;

	add(d, "acme", "a", 0, 500, NULL);	/* 1: leased, runs out */
	add(d, "acme", "b", 0, 300, NULL);	/* 2: due */
	add(d, "acme", "c", 0, 9000, NULL);	/* 3: due later */
	add(d, "globex", "d", 0, 200, NULL);	/* 4: leased, holds */
	add(d, "globex", "e", 0, 100, NULL);	/* 5: done */
	add(d, "initech", "f", 0, 50, NULL);	/* 6: cancelled */
	assert_int_equal(taskdb_finish(d, 5, "done", NULL, NULL, NULL, 10,
	    err, sizeof(err)), TASKDB_FIN_OK);
	assert_int_equal(taskdb_finish(d, 6, "cancelled", NULL, NULL, NULL,
	    10, err, sizeof(err)), TASKDB_FIN_OK);
	assert_int_equal(claim(d, "globex", 5000, 1000), 4);	/* to 6000 */
	assert_int_equal(claim(d, "acme", 100, 1000), 2);	/* b: older */
	assert_int_equal(taskdb_finish(d, 2, "due", NULL, NULL, NULL, 1000,
	    err, sizeof(err)), TASKDB_FIN_OK);
	assert_int_equal(claim(d, "acme", 100, 1000), 2);
	assert_int_equal(claim(d, "acme", 100, 1000), 1);	/* to 1100 */
	assert_int_equal(taskdb_finish(d, 2, "due", NULL, NULL, NULL, 1000,
	    err, sizeof(err)), TASKDB_FIN_OK);

	/* At 1050: acme 2 and 3 due (3 counts though due at 9000 only),
	 * 1 leased; globex's one leased; nothing of initech. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_due_counts(d, 1050, due_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_not_equal((i = seen_ws(&s, "acme")), -1);
	assert_int_equal(s.n1[i], 2);
	assert_int_equal(s.n2[i], 300);
	/* At 1100 acme's lease of 1 has run out: 3 due, the oldest 300. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_due_counts(d, 1100, due_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.n1[0], 3);
	assert_int_equal(s.n2[0], 300);
	/* At 6000 globex's too. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(taskdb_due_counts(d, 6000, due_cb, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_not_equal((i = seen_ws(&s, "globex")), -1);
	assert_int_equal(s.n1[i], 1);
	assert_int_equal(s.n2[i], 200);

	/* Oldest due: due by now only, a run-out lease counts. */
	assert_int_equal(taskdb_oldest_due(d, "acme", 1050, &due), 1);
	assert_int_equal(due, 300);
	assert_int_equal(taskdb_oldest_due(d, "acme", 250, &due), 0);
	assert_int_equal(due, 0);
	assert_int_equal(taskdb_oldest_due(d, "globex", 1050, &due), 0);
	assert_int_equal(taskdb_oldest_due(d, "globex", 6000, &due), 1);
	assert_int_equal(due, 200);
	assert_int_equal(taskdb_oldest_due(d, "initech", 6000, &due), 0);
	assert_int_equal(taskdb_oldest_due(d, "nobody", 6000, &due), 0);
	/* 2 done: the oldest is 1's 500 once its lease ran out. */
	assert_int_equal(taskdb_finish(d, 2, "done", NULL, NULL, NULL, 1000,
	    err, sizeof(err)), TASKDB_FIN_OK);
	assert_int_equal(taskdb_oldest_due(d, "acme", 1099, &due), 0);
	assert_int_equal(taskdb_oldest_due(d, "acme", 1100, &due), 1);
	assert_int_equal(due, 500);
}

static void
t_phones(void **state)
{
	struct db	*d = *state;
	int64_t		 ids[8];
	char		*cids[8], err[64];
	int		 n, i;

	add(d, "acme", "a", 0, 100, "c1");	/* 1: wanted */
	add(d, "acme", "b", 0, 100, NULL);	/* 2: no contact */
	add(d, "acme", "c", 0, 100, "c3");	/* 3: has a phone */
	add(d, "acme", "d", 0, 100, "c4");	/* 4: done */
	add(d, "globex", "e", 0, 100, "c5");	/* 5: other workspace */
	add(d, "acme", "f", 0, 100, "c6");	/* 6: leased: wanted */
	add(d, "acme", "g", 0, 100, "c7");	/* 7: asked at 1000 */
	add(d, "acme", "h", 0, 100, "c8");	/* 8: wanted */
	assert_int_equal(db_exec(d, "UPDATE tasks SET phone = '+1555' WHERE "
	    "id = 3"), 0);
	assert_int_equal(db_exec(d, "UPDATE tasks SET email = 'old@x' WHERE "
	    "id = 8"), 0);
	assert_int_equal(taskdb_finish(d, 4, "done", NULL, NULL, NULL, 10,
	    err, sizeof(err)), TASKDB_FIN_OK);
	assert_int_equal(db_exec(d, "UPDATE tasks SET state = 'leased', "
	    "lease_until = 99999 WHERE id = 6"), 0);
	assert_int_equal(taskdb_phone_asked(d, 7, 1000), 0);
	assert_int_equal(col_int(d, 7, "phone_read_at"), 1000);

	/* Asked at 1000, before 1000: not again; before 1001: again. */
	n = taskdb_phones_unread(d, "acme", 1000, 8, ids, cids);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 1);
	assert_string_equal(cids[0], "c1");
	assert_int_equal(ids[1], 6);
	assert_string_equal(cids[1], "c6");
	assert_int_equal(ids[2], 8);
	for (i = 0; i < n; i++)
		free(cids[i]);
	n = taskdb_phones_unread(d, "acme", 1001, 8, ids, cids);
	assert_int_equal(n, 4);
	assert_int_equal(ids[2], 7);
	for (i = 0; i < n; i++)
		free(cids[i]);
	/* At most max, oldest id first. */
	n = taskdb_phones_unread(d, "acme", 1001, 2, ids, cids);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 6);
	for (i = 0; i < n; i++)
		free(cids[i]);
	/* Asked: out of the list until the next round. */
	assert_int_equal(taskdb_phone_asked(d, 1, 1500), 0);
	n = taskdb_phones_unread(d, "acme", 1400, 8, ids, cids);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 6);
	for (i = 0; i < n; i++)
		free(cids[i]);

	/* The fill: phone, and email and name where it has none. */
	assert_int_equal(taskdb_fill_phone(d, 8, "+15550108", "new@x", "Bo"),
	    0);
	col_is(d, 8, "phone", "+15550108");
	col_is(d, 8, "email", "old@x");
	col_is(d, 8, "name", "Bo");
	assert_true(col_int(d, 8, "updated_at") > 1000000000);
	/* A task that has a phone keeps it. */
	assert_int_equal(db_exec(d, "UPDATE tasks SET updated_at = 5 WHERE "
	    "id = 3"), 0);
	assert_int_equal(taskdb_fill_phone(d, 3, "+1999", "e@x", "Cy"), 0);
	col_is(d, 3, "phone", "+1555");
	col_is(d, 3, "email", NULL);
	col_is(d, 3, "name", NULL);
	assert_int_equal(col_int(d, 3, "updated_at"), 5);
	/* NULL email and name leave theirs. */
	assert_int_equal(taskdb_fill_phone(d, 6, "+15550106", NULL, NULL), 0);
	col_is(d, 6, "phone", "+15550106");
	col_is(d, 6, "email", NULL);
	/* Filled tasks are no longer wanted. */
	n = taskdb_phones_unread(d, "acme", 5000, 8, ids, cids);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 7);
	for (i = 0; i < n; i++)
		free(cids[i]);
	n = taskdb_phones_unread(d, "globex", 5000, 8, ids, cids);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 5);
	free(cids[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TDB_TEST(t_claim),
		TDB_TEST(t_finish),
		TDB_TEST(t_get_list),
		TDB_TEST(t_row),
		TDB_TEST(t_counts),
		TDB_TEST(t_phones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
