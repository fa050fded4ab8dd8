/*
 * t_store_sql: the reads callsync and callsyncd share (worker/store/store.c).
 * store_workers gives every row of the workers table, oldest worker
 * first, with each column in its field, and stops when the callback
 * says so; store_ws_state gives a workspace's row (a NULL time as 0) or
 * 0 when it has none; every statement of enum store_q prepares on a
 * migrated database.
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
#include "store.h"

#define TDB_NAME	"t_store_sql"
#include "tdb.h"

static void
exec_ok(struct db *d, const char *sql)
{
	assert_int_equal(sqlite3_exec(d->h, sql, NULL, NULL, NULL), SQLITE_OK);
}

/* What the callback saw: owners in order, and the second row whole. */
struct seen {
	char			 owners[256];
	int			 n, stop_at;
	struct store_worker	 second;
	char			 host[32], version[32], wss[64];
};

static int
seen_cb(const struct store_worker *w, void *arg)
{
	struct seen	*s = arg;

	strcat(s->owners, w->owner);
	strcat(s->owners, ";");
	if (++s->n == 2) {
		s->second = *w;
		snprintf(s->host, sizeof(s->host), "%s", w->host);
		snprintf(s->version, sizeof(s->version), "%s", w->version);
		snprintf(s->wss, sizeof(s->wss), "%s", w->workspaces);
	}
	return s->n == s->stop_at;
}

static void
t_workers(void **state)
{
	struct db	*d = *state;
	struct seen	 s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(store_workers(d, seen_cb, &s), 0);
	assert_int_equal(s.n, 0);
	exec_ok(d, "INSERT INTO workers (owner, pid, host, version, "
	    "started_at, heartbeat_at, workspaces) VALUES "
	    "('b:2:x', 2, 'hb', '1.0', 200, 250, 'acme'), "
	    "('a:1:x', 1, 'ha', '0.9', 100, 150, 'acme,globex'), "
	    "('c:3:x', 3, 'hc', '1.1', 200, 260, '')");
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_workers(d, seen_cb, &s), 0);
	/* started_at, then owner. */
	assert_string_equal(s.owners, "a:1:x;b:2:x;c:3:x;");
	assert_int_equal(s.second.pid, 2);
	assert_int_equal(s.second.started_at, 200);
	assert_int_equal(s.second.heartbeat_at, 250);
	assert_string_equal(s.host, "hb");
	assert_string_equal(s.version, "1.0");
	assert_string_equal(s.wss, "acme");
	/* A callback that stops the walk makes it fail. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	assert_int_equal(store_workers(d, seen_cb, &s), -1);
	assert_int_equal(s.n, 1);
}

static void
t_ws_state(void **state)
{
	struct db		*d = *state;
	struct store_ws_state	 w;

	assert_int_equal(store_ws_state(d, "acme", &w), 0);
	assert_null(w.breaker);
	assert_int_equal(w.updated_at, 0);
	store_ws_state_free(&w);
	exec_ok(d, "INSERT INTO workspace_state (workspace, breaker, "
	    "breaker_since, rate_limited_until, paused, pause_reason, "
	    "last_delivery_at, worker, updated_at) VALUES "
	    "('acme', 'open', 10, NULL, 1, 'token revoked', 30, 'h:1:n', 40)");
	assert_int_equal(store_ws_state(d, "acme", &w), 1);
	assert_string_equal(w.breaker, "open");
	assert_int_equal(w.breaker_since, 10);
	assert_int_equal(w.rate_limited_until, 0);
	assert_true(w.paused);
	assert_string_equal(w.pause_reason, "token revoked");
	assert_int_equal(w.last_delivery_at, 30);
	assert_string_equal(w.worker, "h:1:n");
	assert_int_equal(w.updated_at, 40);
	store_ws_state_free(&w);
	assert_null(w.breaker);
	assert_int_equal(store_ws_state(d, "globex", &w), 0);
	store_ws_state_free(&w);
}

/* Every entry has a text, and it prepares on the current schema. */
static void
t_prepare_all(void **state)
{
	struct db	*d = *state;
	int		 q;

	for (q = 0; q < SQ__MAX; q++) {
		if (store_prep(d, (enum store_q)q) == NULL)
			print_error("store_q %d: %s\n", q, db_errmsg(d));
		assert_non_null(store_prep(d, (enum store_q)q));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TDB_TEST(t_workers),
		TDB_TEST(t_ws_state),
		TDB_TEST(t_prepare_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
