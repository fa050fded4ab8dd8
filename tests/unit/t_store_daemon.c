/*
 * t_store_daemon: the statements callsyncd ran itself until they moved
 * into the store (issue 21 item 3), each on a new migrated database,
 * asserting the rows: the heartbeat (store_worker_beat, forget: insert,
 * then only heartbeat_at and workspaces move; busy told from an error),
 * a workspace's state save (store_ws_state_save: 0 as NULL, the last
 * delivery kept), the drain's count (outbox_open_count) and the check
 * for another record's contact create (outbox_contact_intent_elsewhere).
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
#include "outbox.h"
#include "store.h"

#define TDB_NAME	"t_store_daemon"
#include "tdb.h"

static void
t_worker_beat(void **state)
{
	struct db		*d = *state, d2;
	struct store_worker	 w;
	char			 why[256], err[256];

	memset(&w, 0, sizeof(w));
	w.owner = "h1:10:n1";
	w.pid = 10;
	w.host = "h1";
	w.version = "1.2.3";
	w.workspaces = "acme";
	w.started_at = w.heartbeat_at = 1000;
	assert_int_equal(store_worker_beat(d, &w, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	w.owner = "h2:20:n2";
	w.host = "h2";
	assert_int_equal(store_worker_beat(d, &w, why, sizeof(why)), 0);
	/* A later beat of h1: only heartbeat_at and workspaces move. */
	w.owner = "h1:10:n1";
	w.host = "elsewhere";
	w.pid = 99;
	w.started_at = w.heartbeat_at = 1010;
	w.workspaces = "acme,globex";
	assert_int_equal(store_worker_beat(d, &w, why, sizeof(why)), 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM workers"), 2);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM workers WHERE "
	    "owner = 'h1:10:n1' AND pid = 10 AND host = 'h1' AND "
	    "version = '1.2.3' AND started_at = 1000 AND heartbeat_at = 1010 "
	    "AND workspaces = 'acme,globex'"), 1);
	assert_int_equal(tdb_count(d, "SELECT heartbeat_at FROM workers WHERE "
	    "owner = 'h2:20:n2'"), 1000);
	/* An error: -1 with SQLite's message, nothing written. */
	w.owner = "h3:30:n3";
	w.host = NULL;
	assert_int_equal(store_worker_beat(d, &w, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "NOT NULL"));
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM workers"), 2);
	/* Another connection holds the write lock: busy, not an error. */
	assert_int_equal(db_open(&d2, tdb_path, 0, err, sizeof(err)), 0);
	assert_int_equal(db_begin(&d2), 0);
	db_set_busy_ms(d, 10);
	w.host = "h3";
	assert_int_equal(store_worker_beat(d, &w, why, sizeof(why)), 1);
	assert_int_equal(store_worker_forget(d, "h2:20:n2", why, sizeof(why)),
	    1);
	db_rollback(&d2);
	db_close(&d2);
	/* Forget deletes that worker's row only. */
	assert_int_equal(store_worker_forget(d, "h2:20:n2", why, sizeof(why)),
	    0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM workers"), 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM workers WHERE "
	    "owner = 'h1:10:n1'"), 1);
}

static void
t_ws_state_save(void **state)
{
	struct db		*d = *state;
	struct store_ws_save	 s;
	struct store_ws_state	 r;

	memset(&s, 0, sizeof(s));
	s.breaker = "open";
	s.breaker_since = 100;
	s.last_delivery_at = 500;
	s.worker = "h1:10:n1";
	assert_int_equal(store_ws_state_save(d, "acme", &s), 0);
	s.breaker = "closed";
	s.breaker_since = 0;
	assert_int_equal(store_ws_state_save(d, "globex", &s), 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM workspace_state "
	    "WHERE workspace = 'acme' AND breaker = 'open' AND breaker_since = "
	    "100 AND rate_limited_until IS NULL AND paused = 0 AND "
	    "pause_reason IS NULL AND last_delivery_at = 500 AND worker = "
	    "'h1:10:n1' AND updated_at > 0"), 1);
	/* acme again, paused, rate limited, no delivery since: the last
	 * delivery stays; a time of 0 is no time. */
	memset(&s, 0, sizeof(s));
	s.breaker = "closed";
	s.rate_limited_until = 700;
	s.paused = true;
	s.pause_reason = "HTTP 401";
	s.worker = "h2:20:n2";
	assert_int_equal(store_ws_state_save(d, "acme", &s), 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM workspace_state"),
	    2);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM workspace_state "
	    "WHERE workspace = 'acme' AND breaker = 'closed' AND breaker_since "
	    "IS NULL AND rate_limited_until = 700 AND paused = 1 AND "
	    "pause_reason = 'HTTP 401' AND last_delivery_at = 500 AND worker = "
	    "'h2:20:n2'"), 1);
	/* What status reads back. */
	assert_int_equal(store_ws_state(d, "acme", &r), 1);
	assert_string_equal(r.breaker, "closed");
	assert_string_equal(r.pause_reason, "HTTP 401");
	assert_true(r.paused);
	assert_int_equal(r.last_delivery_at, 500);
	store_ws_state_free(&r);
	/* The table's CHECK refuses a breaker: -1, the row unchanged. */
	s.breaker = "ajar";
	assert_int_equal(store_ws_state_save(d, "acme", &s), -1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM workspace_state "
	    "WHERE workspace = 'acme' AND breaker = 'closed'"), 1);
}

static void
t_open_count(void **state)
{
	struct db	*d = *state;

	assert_int_equal(outbox_open_count(d, "acme"), 0);
	assert_int_equal(db_exec(d, "INSERT INTO outbox (workspace, "
	    "record_key, payload, state) VALUES "
	    "('acme', 'k1', '{}', 'pending'), ('acme', 'k2', '{}', 'inflight'), "
	    "('acme', 'k3', '{}', 'done'), ('acme', 'k4', '{}', 'dead'), "
	    "('acme', 'k5', '{}', 'pending'), ('globex', 'k1', '{}', "
	    "'pending')"), 0);
	assert_int_equal(outbox_open_count(d, "acme"), 3);
	assert_int_equal(outbox_open_count(d, "globex"), 1);
	assert_int_equal(outbox_open_count(d, "initech"), 0);
}

static void
t_contact_intent(void **state)
{
	struct db	*d = *state;

	/* 1-3 acme with a contact intent (by phone, by email's lane, by a
	 * phone lane and caller_email), 4 globex's, 5 acme's without. */
	assert_int_equal(db_exec(d, "INSERT INTO outbox (id, workspace, "
	    "record_key, payload, lane) VALUES "
	    "(1, 'acme', 'k1', '{}', 'p:+15550001'), "
	    "(2, 'acme', 'k2', '{}', 'e:ann@x.io'), "
	    "(3, 'acme', 'k3', '{\"caller\":{\"email\":\"bob@x.io\"}}', "
	    "'p:+15550003'), "
	    "(4, 'globex', 'k4', '{}', 'p:+15550004'), "
	    "(5, 'acme', 'k5', '{}', 'p:+15550005')"), 0);
	assert_int_equal(db_exec(d, "INSERT INTO journal (outbox_id, step) "
	    "VALUES (1, 'intent:contact'), (2, 'intent:contact'), "
	    "(3, 'intent:contact'), (4, 'intent:contact'), (5, 'contact'), "
	    "(5, 'intent:conversation')"), 0);
	assert_int_equal(outbox_contact_intent_elsewhere(d, "acme", 9,
	    "+15550001", ""), 1);
	/* Its own intent is not another's. */
	assert_int_equal(outbox_contact_intent_elsewhere(d, "acme", 1,
	    "+15550001", ""), 0);
	assert_int_equal(outbox_contact_intent_elsewhere(d, "acme", 9,
	    "+15559999", "ann@x.io"), 1);
	assert_int_equal(outbox_contact_intent_elsewhere(d, "acme", 9,
	    "+15559999", "bob@x.io"), 1);
	assert_int_equal(outbox_contact_intent_elsewhere(d, "acme", 9,
	    "+15559999", ""), 0);
	/* Another workspace's, and an intent that is not a contact's. */
	assert_int_equal(outbox_contact_intent_elsewhere(d, "acme", 9,
	    "+15550004", ""), 0);
	assert_int_equal(outbox_contact_intent_elsewhere(d, "acme", 9,
	    "+15550005", ""), 0);
	/* A record no longer open. */
	assert_int_equal(db_exec(d, "UPDATE outbox SET state = 'done' WHERE "
	    "id = 1"), 0);
	assert_int_equal(outbox_contact_intent_elsewhere(d, "acme", 9,
	    "+15550001", ""), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TDB_TEST(t_worker_beat),
		TDB_TEST(t_ws_state_save),
		TDB_TEST(t_open_count),
		TDB_TEST(t_contact_intent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
