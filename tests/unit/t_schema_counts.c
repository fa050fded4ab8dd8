/*
 * t_schema_counts: outbox_ws_counts, the one query behind `callsync
 * status` and /metrics (issue 21), on a database with a record in every
 * state: pending, inflight, in doubt by the flag, in doubt by an open
 * intent only, both (counted once), dead, handed_off, done, a pending
 * record enqueued in 1970 (its first claim is its age), and an intent of
 * a done record (not counted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"
#include "db.h"
#include "outbox.h"

static char	 dir[64];
static char	 path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/t_schema_counts.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/outbox.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	char	 cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#define NWS	3
struct seen {
	struct ob_counts c[NWS];
	char		 name[NWS][16];
	int		 n;
};

static int
collect(const struct ob_counts *c, void *arg)
{
	struct seen	*s = arg;

	assert_true(s->n < NWS);
	s->c[s->n] = *c;
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", c->workspace);
	s->c[s->n].workspace = s->name[s->n];
	s->n++;
	return 0;
}

/* Insert a record of workspace ws: state, in_doubt, enqueued_at, first
 * claim (0: NULL), and an open intent when intent. */
static void
rec(struct db *d, const char *ws, const char *key, const char *state,
    int doubt, int64_t enq, int64_t first, int intent)
{
	char	 sql[512], fs[24] = "NULL";

	if (first != 0)
		snprintf(fs, sizeof(fs), "%lld", (long long)first);
	snprintf(sql, sizeof(sql), "INSERT INTO outbox (workspace, "
	    "record_key, payload, state, in_doubt, enqueued_at, first_seen_at) "
	    "VALUES ('%s', '%s', '{}', '%s', %d, %lld, %s)", ws, key, state,
	    doubt, (long long)enq, fs);
	assert_int_equal(db_exec(d, sql), 0);
	if (intent) {
		snprintf(sql, sizeof(sql), "INSERT INTO journal (outbox_id, "
		    "step) SELECT id, 'intent:conversation' FROM outbox WHERE "
		    "workspace = '%s' AND record_key = '%s'", ws, key);
		assert_int_equal(db_exec(d, sql), 0);
		snprintf(sql, sizeof(sql), "INSERT INTO journal (outbox_id, "
		    "step) SELECT id, 'intent:tags' FROM outbox WHERE "
		    "workspace = '%s' AND record_key = '%s'", ws, key);
		assert_int_equal(db_exec(d, sql), 0);
	}
}

static void
t_counts(void **state)
{
	struct db	 d;
	struct seen	 s;
	char		 err[256];
	int64_t		 now = clock_wall_s();

	(void)state;
	assert_int_equal(db_open(&d, path, DB_OPEN_CREATE, err, sizeof(err)),
	    0);
	rec(&d, "a", "p1", "pending", 0, now - 100, 0, 0);
	rec(&d, "a", "p2", "pending", 0, 600, now - 300, 0);	/* 1970 */
	rec(&d, "a", "i1", "inflight", 0, now - 50, now - 40, 0);
	rec(&d, "a", "df", "pending", 1, now - 60, now - 55, 0);	/* flag */
	rec(&d, "a", "di", "inflight", 0, now - 70, now - 65, 1); /* intent */
	rec(&d, "a", "db", "pending", 1, now - 80, now - 75, 1);	/* both */
	rec(&d, "a", "x1", "dead", 1, now - 900, now - 800, 1);
	rec(&d, "a", "x2", "dead", 0, now - 900, now - 800, 0);
	rec(&d, "a", "h1", "handed_off", 0, now - 900, 0, 0);
	rec(&d, "a", "d1", "done", 1, now - 5000, now - 4000, 1);
	rec(&d, "a", "d2", "done", 0, 600, 0, 0);
	rec(&d, "b", "d1", "done", 0, now - 5000, now - 4000, 0);
	rec(&d, "c", "x1", "dead", 0, now - 900, now - 800, 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(outbox_ws_counts(&d, clock_floor(), NULL, collect,
	    &s), 0);
	/* b has only done records: not read, not listed. */
	assert_int_equal(s.n, 2);
	assert_string_equal(s.c[0].workspace, "a");
	assert_int_equal(s.c[0].pending, 4);
	assert_int_equal(s.c[0].inflight, 2);
	assert_int_equal(s.c[0].in_doubt, 3);	/* df, di, db */
	assert_int_equal(s.c[0].intents, 4);	/* di and db, two each */
	assert_int_equal(s.c[0].dead, 2);
	assert_int_equal(s.c[0].handed_off, 1);
	/* p2's 1970 enqueued_at is unknown: its first claim counts. */
	assert_int_equal(s.c[0].oldest, now - 300);
	assert_string_equal(s.c[1].workspace, "c");
	assert_int_equal(s.c[1].dead, 1);
	assert_int_equal(s.c[1].pending + s.c[1].inflight + s.c[1].in_doubt +
	    s.c[1].intents + s.c[1].oldest + s.c[1].handed_off, 0);

	/* One workspace (status): the same numbers; another: nothing. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(outbox_ws_counts(&d, clock_floor(), "a", collect,
	    &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.c[0].in_doubt, 3);
	assert_int_equal(s.c[0].intents, 4);
	assert_int_equal(s.c[0].oldest, now - 300);
	memset(&s, 0, sizeof(s));
	assert_int_equal(outbox_ws_counts(&d, clock_floor(), "b", collect,
	    &s), 0);
	assert_int_equal(s.n, 0);
	/* The statement is cached: the workspace binding does not stick. */
	assert_int_equal(outbox_ws_counts(&d, clock_floor(), NULL, collect,
	    &s), 0);
	assert_int_equal(s.n, 2);
	db_close(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_counts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
