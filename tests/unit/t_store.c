/*
 * t_store: the SQLite store.  Migrations (fresh, idempotent, interrupted,
 * newer database refused), file mode 0600, enqueue idempotency and the
 * CHECK constraints, claiming (leases, lanes, lapsed leases in doubt), the
 * journal guarded by the lease, the audit chain, and concurrent producers
 * in other processes while this one claims: no SQLITE_BUSY surfaces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit.h"
#include "db.h"
#include "outbox.h"

static char	 dir[64];
static char	 path[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/t_store.XXXXXX");
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

static void
open_ok(struct db *d)
{
	char	 err[256];

	assert_int_equal(db_open(d, path, DB_OPEN_CREATE, err, sizeof(err)), 0);
}

static void
t_migrate(void **state)
{
	struct db	 d;
	struct stat	 sb;
	char		 err[256];

	(void)state;
	/* Missing file without CREATE: a clear error. */
	assert_int_equal(db_open(&d, path, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "callsync init"));
	open_ok(&d);
	assert_int_equal(db_version(&d), db_latest_version());
	db_close(&d);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* Re-opening applies nothing new. */
	open_ok(&d);
	assert_int_equal(db_version(&d), db_latest_version());
	/* A newer database is refused, and left alone. */
	assert_int_equal(db_exec(&d, "PRAGMA user_version = 999"), 0);
	db_close(&d);
	assert_int_equal(db_open(&d, path, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "newer than this callsync"));
	assert_int_equal(db_open(&d, path, DB_OPEN_NOMIGRATE, err,
	    sizeof(err)), 0);
	assert_int_equal(db_version(&d), 999);
	db_close(&d);
}

/* A migration that fails half-way leaves the database as it was. */
static void
t_migrate_interrupted(void **state)
{
	struct db		 d;
	char			 err[256];
	sqlite3_stmt		*st;
	struct db_migration	 bad = { 99, "0099_broken",
	    "CREATE TABLE half (x INTEGER);\nINSERT INTO nosuchtable VALUES (1);" };

	(void)state;
	open_ok(&d);
	/* Drive the same code path db_migrate uses, with a broken script. */
	assert_int_equal(db_exec(&d, "BEGIN IMMEDIATE"), 0);
	assert_int_not_equal(sqlite3_exec(d.h, bad.sql, NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(db_exec(&d, "ROLLBACK"), 0);
	assert_int_equal(sqlite3_prepare_v2(d.h, "SELECT count(*) FROM "
	    "sqlite_master WHERE name = 'half'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	assert_int_equal(db_version(&d), db_latest_version());
	/* A real interrupted run: kill a child in the middle of a migration
	 * transaction; the parent finds the database unchanged. */
	db_close(&d);
	if (fork() == 0) {
		struct db	 c;

		if (db_open(&c, path, 0, err, sizeof(err)) == -1)
			_exit(1);
		db_exec(&c, "BEGIN IMMEDIATE");
		db_exec(&c, "CREATE TABLE half (x INTEGER)");
		db_exec(&c, "PRAGMA user_version = 2");
		_exit(0);	/* no COMMIT: as if killed */
	}
	wait(NULL);
	open_ok(&d);
	assert_int_equal(db_version(&d), db_latest_version());
	assert_int_equal(sqlite3_prepare_v2(d.h, "SELECT count(*) FROM "
	    "sqlite_master WHERE name = 'half'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	db_close(&d);
}

static void
t_enqueue(void **state)
{
	struct db	 d;
	enum ob_enq	 r;
	char		 err[256], *big;

	(void)state;
	open_ok(&d);
	assert_int_equal(outbox_enqueue(&d, "acme", "k1",
	    "{\"type\":\"call\",\"summary\":\"a\"}", &r, err, sizeof(err)), 0);
	assert_int_equal(r, OB_ENQ_NEW);
	/* Same payload (whitespace differs): a no-op. */
	assert_int_equal(outbox_enqueue(&d, "acme", "k1",
	    "{ \"type\" : \"call\", \"summary\" : \"a\" }", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(r, OB_ENQ_SAME);
	/* Different payload: reported, first kept. */
	assert_int_equal(outbox_enqueue(&d, "acme", "k1",
	    "{\"type\":\"call\",\"summary\":\"b\"}", &r, err, sizeof(err)), 0);
	assert_int_equal(r, OB_ENQ_DIFFERS);
	/* Same key, other workspace: a new record. */
	assert_int_equal(outbox_enqueue(&d, "other", "k1", "{}", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(r, OB_ENQ_NEW);
	/* Not JSON: refused by the CHECK constraint. */
	assert_int_equal(outbox_enqueue(&d, "acme", "k2", "{nope", &r, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not valid JSON"));
	/* Over 1 MiB: refused. */
	big = malloc(1100000);
	assert_non_null(big);
	memset(big, ' ', 1100000 - 1);
	big[0] = '{';
	big[1099997] = '}';
	big[1099998] = '\0';
	assert_int_equal(outbox_enqueue(&d, "acme", "k3", big, &r, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "1 MiB"));
	free(big);
	/* The raw SQL of a producer hits the same constraint. */
	assert_int_not_equal(sqlite3_exec(d.h, "INSERT INTO outbox (workspace, "
	    "record_key, payload) VALUES ('acme', 'k4', 'not json')", NULL,
	    NULL, NULL), SQLITE_OK);
	db_close(&d);
}

static int
claim_keys(struct db *d, const char *owner, int64_t now, char *out,
    size_t outsz)
{
	struct ob_rec	*a;
	size_t		 n, i;

	out[0] = '\0';
	if (outbox_claim(d, "acme", owner, now, 30, 10, &a, &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		strncat(out, a[i].record_key, outsz - strlen(out) - 1);
		strncat(out, " ", outsz - strlen(out) - 1);
	}
	ob_rec_free_array(a, n);
	return (int)n;
}

static void
t_claim_lanes(void **state)
{
	struct db	 d;
	enum ob_enq	 r;
	char		 err[256], keys[256];
	int64_t		 now = time(NULL);
	struct ob_fail	 f;
	int		 lost;

	(void)state;
	open_ok(&d);
	outbox_enqueue(&d, "acme", "a1", "{}", &r, err, sizeof(err));
	outbox_enqueue(&d, "acme", "b1", "{}", &r, err, sizeof(err));
	outbox_enqueue(&d, "acme", "a2", "{}", &r, err, sizeof(err));
	/* Unsorted records are not claimable. */
	assert_int_equal(claim_keys(&d, "w1", now, keys, sizeof(keys)), 0);
	outbox_set_lane(&d, 1, "p:+1");
	outbox_set_lane(&d, 2, "p:+2");
	outbox_set_lane(&d, 3, "p:+1");
	/* a2 waits behind a1 (same caller); b1 goes in parallel. */
	assert_int_equal(claim_keys(&d, "w1", now, keys, sizeof(keys)), 2);
	assert_string_equal(keys, "a1 b1 ");
	/* Another worker gets nothing: leases hold. */
	assert_int_equal(claim_keys(&d, "w2", now, keys, sizeof(keys)), 0);
	/* The lease guards writes: w2 cannot finish w1's record. */
	assert_int_equal(outbox_done(&d, 1, "w2", now, &lost), -1);
	assert_int_equal(lost, 1);
	assert_int_equal(outbox_step(&d, 1, "w2", "contact", "x", NULL, NULL,
	    &lost), -1);
	assert_int_equal(lost, 1);
	/* a1 fails transiently: a2 still waits (enqueue order per lane). */
	memset(&f, 0, sizeof(f));
	f.class = "transient";
	f.message = "HTTP 503";
	f.charged = 1;
	f.next_at = now + 60;
	assert_int_equal(outbox_retry(&d, 1, "w1", &f, &lost), 0);
	assert_int_equal(claim_keys(&d, "w2", now, keys, sizeof(keys)), 0);
	/* b1's worker died: after the lease it comes back in doubt. */
	assert_int_equal(claim_keys(&d, "w3", now + 31, keys, sizeof(keys)), 1);
	assert_string_equal(keys, "b1 ");
	{
		sqlite3_stmt *st;

		sqlite3_prepare_v2(d.h, "SELECT in_doubt, attempts FROM outbox "
		    "WHERE record_key = 'b1'", -1, &st, NULL);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 1);
		assert_int_equal(sqlite3_column_int(st, 1), 2);
		sqlite3_finalize(st);
	}
	/* A dead letter does not block its lane. */
	f.class = "permanent";
	f.reason = "http_422";
	f.next_at = 0;
	assert_int_equal(claim_keys(&d, "w1", now + 61, keys, sizeof(keys)), 1);
	assert_int_equal(outbox_dead(&d, 1, "w1", &f, &lost), 0);
	assert_int_equal(claim_keys(&d, "w2", now + 61, keys, sizeof(keys)), 1);
	assert_string_equal(keys, "a2 ");
	/* An outage refunds the attempt. */
	memset(&f, 0, sizeof(f));
	f.class = "outage";
	f.message = "connect refused";
	f.charged = 0;
	assert_int_equal(outbox_retry(&d, 2, "w3", &f, &lost), 0);
	{
		sqlite3_stmt *st;

		sqlite3_prepare_v2(d.h, "SELECT attempts FROM outbox WHERE "
		    "record_key = 'b1'", -1, &st, NULL);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 1);
		sqlite3_finalize(st);
	}
	db_close(&d);
}

static void
t_audit_chain(void **state)
{
	struct db		 d;
	struct audit_row	 a;
	int64_t			 bad, n;
	char			 msg[256];
	int			 i;

	(void)state;
	open_ok(&d);
	memset(&a, 0, sizeof(a));
	a.workspace = "acme";
	a.record_key = "k";
	a.step = "conversation";
	a.method = "POST";
	a.path = "/conversations";
	a.http_status = 200;
	a.object_id = "1";
	a.admin_id = "1001";
	a.body = "{\"body\":\"x\"}";
	for (i = 0; i < 5; i++)
		assert_int_equal(audit_append(&d, &a), 0);
	assert_int_equal(audit_verify(&d, &bad, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 5);
	/* Altered row 3: named. */
	assert_int_equal(db_exec(&d, "UPDATE audit SET http_status = 500 "
	    "WHERE id = 3"), 0);
	assert_int_equal(audit_verify(&d, &bad, &n, msg, sizeof(msg)), 1);
	assert_int_equal(bad, 3);
	assert_non_null(strstr(msg, "altered"));
	assert_int_equal(db_exec(&d, "UPDATE audit SET http_status = 200 "
	    "WHERE id = 3"), 0);
	assert_int_equal(audit_verify(&d, &bad, &n, msg, sizeof(msg)), 0);
	/* Missing row 2: named. */
	assert_int_equal(db_exec(&d, "DELETE FROM audit WHERE id = 2"), 0);
	assert_int_equal(audit_verify(&d, &bad, &n, msg, sizeof(msg)), 1);
	assert_int_equal(bad, 2);
	assert_non_null(strstr(msg, "missing"));
	db_close(&d);
}

static void
t_audit_prune(void **state)
{
	struct db		 d;
	struct audit_row	 a;
	int64_t			 bad, n;
	char			 msg[256];
	int			 i;

	(void)state;
	open_ok(&d);
	memset(&a, 0, sizeof(a));
	a.workspace = "acme";
	a.method = "POST";
	a.path = "/tags";
	for (i = 0; i < 6; i++) {
		a.at_ms = 1000 + i;
		assert_int_equal(audit_append(&d, &a), 0);
	}
	assert_int_equal(audit_prune(&d, 1004, "test"), 4);
	assert_int_equal(audit_verify(&d, &bad, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 3);		/* 2 kept + the checkpoint */
	/* Removing the checkpoint's anchor breaks verification. */
	assert_int_equal(db_exec(&d, "DELETE FROM audit WHERE kind = "
	    "'checkpoint'"), 0);
	assert_int_equal(audit_verify(&d, &bad, &n, msg, sizeof(msg)), 1);
	db_close(&d);
}

/*
 * Four producer processes insert with the contract SQL (autocommit, as an
 * agent does) while this process claims and completes in a loop.  No
 * producer may see an error, and every record must be there.
 */
static void
t_concurrent_producers(void **state)
{
	struct db	 d;
	pid_t		 kids[4];
	int		 i, status, claimed = 0, lost;
	const int	 per = 300;
	struct ob_rec	*a;
	size_t		 n, k;
	sqlite3_stmt	*st;

	(void)state;
	open_ok(&d);
	for (i = 0; i < 4; i++) {
		if ((kids[i] = fork()) == 0) {
			sqlite3		*h;
			char		 sql[256];
			int		 j, errs = 0;

			if (sqlite3_open(path, &h) != SQLITE_OK)
				_exit(2);
			sqlite3_busy_timeout(h, 5000);
			for (j = 0; j < per; j++) {
				snprintf(sql, sizeof(sql), "INSERT INTO outbox "
				    "(workspace, record_key, payload) VALUES "
				    "('acme', 'p%d-%d', '{\"n\":%d}') ON CONFLICT "
				    "(workspace, record_key) DO NOTHING", i, j, j);
				if (sqlite3_exec(h, sql, NULL, NULL, NULL) !=
				    SQLITE_OK)
					errs++;
			}
			sqlite3_close(h);
			_exit(errs == 0 ? 0 : 1);
		}
	}
	/* Claim and finish while they insert. */
	for (i = 0; i < 400; i++) {
		db_exec(&d, "UPDATE outbox SET lane = 'l' || id WHERE lane IS NULL");
		if (outbox_claim(&d, "acme", "me:1", time(NULL), 30, 20, &a,
		    &n) == -1)
			fail_msg("claim failed: %s", db_errmsg(&d));
		for (k = 0; k < n; k++) {
			assert_int_equal(outbox_done(&d, a[k].id, "me:1",
			    time(NULL), &lost), 0);
			claimed++;
		}
		ob_rec_free_array(a, n);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);	/* no BUSY */
	}
	assert_int_equal(sqlite3_prepare_v2(d.h, "SELECT count(*) FROM outbox",
	    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 4 * per);
	sqlite3_finalize(st);
	assert_true(claimed > 0);
	db_close(&d);
}

/* Read one integer with a raw statement; -999 if no row. */
static int64_t
q_int(struct db *d, const char *sql)
{
	sqlite3_stmt	*st;
	int64_t		 v = -999;

	assert_int_equal(sqlite3_prepare_v2(d->h, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Three sorted records k1..k3 of workspace acme. */
static void
three(struct db *d)
{
	enum ob_enq	 r;
	char		 err[256];

	assert_int_equal(outbox_enqueue(d, "acme", "k1", "{}", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(outbox_enqueue(d, "acme", "k2", "{}", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(outbox_enqueue(d, "acme", "k3", "{}", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(db_exec(d, "UPDATE outbox SET lane = 'l' || id"), 0);
}

/* 1. An inner rollback dooms the outer transaction. */
static void
t_nested_tx(void **state)
{
	struct db	 d;

	(void)state;
	open_ok(&d);
	/* Balanced nesting commits. */
	assert_int_equal(db_begin(&d), 0);
	assert_int_equal(db_exec(&d, "CREATE TABLE t (x)"), 0);
	assert_int_equal(db_begin(&d), 0);
	assert_int_equal(db_exec(&d, "INSERT INTO t VALUES (1)"), 0);
	assert_int_equal(db_commit(&d), 0);
	assert_int_equal(db_commit(&d), 0);
	assert_int_equal(q_int(&d, "SELECT count(*) FROM t"), 1);
	/* Inner rollback: the outer commit rolls back and fails. */
	assert_int_equal(db_begin(&d), 0);
	assert_int_equal(db_exec(&d, "INSERT INTO t VALUES (2)"), 0);
	assert_int_equal(db_begin(&d), 0);
	assert_int_equal(db_exec(&d, "INSERT INTO nosuch VALUES (3)"), -1);
	db_rollback(&d);
	/* Still inside the outer transaction, not in autocommit. */
	assert_int_equal(sqlite3_get_autocommit(d.h), 0);
	assert_int_equal(db_exec(&d, "INSERT INTO t VALUES (4)"), 0);
	assert_int_equal(db_commit(&d), -1);
	assert_non_null(strstr(db_errmsg(&d),
	    "inner statement failed; rolled back"));
	assert_non_null(strstr(db_errmsg(&d), "nosuch"));
	assert_int_equal(sqlite3_get_autocommit(d.h), 1);
	assert_int_equal(q_int(&d, "SELECT count(*) FROM t"), 1);
	/* The next transaction starts clean. */
	assert_int_equal(db_begin(&d), 0);
	assert_int_equal(db_exec(&d, "INSERT INTO t VALUES (5)"), 0);
	assert_int_equal(db_commit(&d), 0);
	assert_int_equal(q_int(&d, "SELECT count(*) FROM t"), 2);
	/* An outermost rollback still rolls back at once. */
	assert_int_equal(db_begin(&d), 0);
	assert_int_equal(db_exec(&d, "INSERT INTO t VALUES (6)"), 0);
	db_rollback(&d);
	assert_int_equal(sqlite3_get_autocommit(d.h), 1);
	assert_int_equal(q_int(&d, "SELECT count(*) FROM t"), 2);
	db_close(&d);
}

/*
 * 2, 3. Another connection holds the write lock: with busy timeout 0 a
 * write fails at once and db_busy() says "retry later".  A read that
 * fails half-way fails (it is not a shorter journal).
 */
static int
interrupt_cb(void *arg)
{
	int	*ticks = arg;

	return ++*ticks > 300;
}

static void
t_step_errors(void **state)
{
	struct db	 d;
	struct ob_step	*js;
	struct ob_rec	*a;
	size_t		 n;
	sqlite3		*h;
	int		 lost, i, ticks;
	char		 step[32];

	(void)state;
	open_ok(&d);
	three(&d);
	assert_int_equal(outbox_claim(&d, "acme", "w1", 1000, 30, 10, &a, &n),
	    0);
	ob_rec_free_array(a, n);
	assert_int_equal(outbox_step(&d, 1, "w1", "contact", "c1", NULL, NULL,
	    &lost), 0);
	assert_int_equal(outbox_journal(&d, 1, &js, &n), 0);
	assert_int_equal(n, 1);
	ob_step_free_array(js, n);
	/* A writer holding the write lock: BEGIN IMMEDIATE is BUSY. */
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	db_set_busy_ms(&d, 0);
	assert_int_equal(db_begin(&d), -1);
	assert_int_equal(db_busy(&d), 1);
	assert_int_equal(outbox_claim(&d, "acme", "w1", 1000, 30, 10, &a, &n),
	    -1);
	assert_int_equal(db_busy(&d), 1);
	sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(h);
	/*
	 * A step that fails half-way (here: interrupted after a few hundred
	 * VM steps, as an I/O error or a corrupt page would) must fail the
	 * read, not end it: 60 journal rows, then the error.
	 */
	for (i = 0; i < 60; i++) {
		snprintf(step, sizeof(step), "note:%d", i);
		assert_int_equal(outbox_step(&d, 1, "w1", step, "n", NULL,
		    NULL, &lost), 0);
	}
	ticks = 0;
	sqlite3_progress_handler(d.h, 1, interrupt_cb, &ticks);
	js = NULL;
	n = 42;
	assert_int_equal(outbox_journal(&d, 1, &js, &n), -1);
	assert_true(ticks > 20);	/* rows were read before the error */
	assert_null(js);
	assert_int_equal(n, 0);
	assert_int_equal(db_busy(&d), 0);
	/* Failing at the first step: an error, not "no row". */
	ticks = 1000;
	assert_int_equal(outbox_holds(&d, 1, "w1"), -1);
	sqlite3_progress_handler(d.h, 0, NULL, NULL);
	assert_int_equal(db_exec(&d, "UPDATE outbox SET lane = NULL WHERE "
	    "id > 1"), 0);
	sqlite3_progress_handler(d.h, 1, interrupt_cb, &ticks);
	ticks = 1000;
	assert_int_equal(outbox_unsorted(&d, 10, &a, &n), -1);
	sqlite3_progress_handler(d.h, 0, NULL, NULL);
	/* Lock gone: everything reads again; a non-busy error is not busy. */
	assert_int_equal(outbox_journal(&d, 1, &js, &n), 0);
	assert_int_equal(n, 61);
	ob_step_free_array(js, n);
	assert_int_equal(db_exec(&d, "SELECT nosuch FROM outbox"), -1);
	assert_int_equal(db_busy(&d), 0);
	db_close(&d);
}

/* 4. Owner names: host:pid:16 hex digits, fresh each time. */
static void
t_owner_new(void **state)
{
	char	 a[300], b[300], small[8], want[32];
	char	*p;
	size_t	 i;

	(void)state;
	assert_int_equal(outbox_owner_new(a, sizeof(a)), 0);
	assert_int_equal(outbox_owner_new(b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	snprintf(want, sizeof(want), ":%ld:", (long)getpid());
	assert_non_null(p = strstr(a, want));
	p += strlen(want);
	assert_int_equal(strlen(p), 16);
	for (i = 0; i < 16; i++)
		assert_non_null(strchr("0123456789abcdef", p[i]));
	/* Same host and pid, so only the nonce differs. */
	assert_memory_equal(a, b, (size_t)(p - a));
	assert_int_equal(outbox_owner_new(small, sizeof(small)), -1);
}

/* Set record id in flight under owner, lease far in the future. */
static void
set_inflight(struct db *d, int id, const char *owner)
{
	char	 sql[512];

	snprintf(sql, sizeof(sql), "UPDATE outbox SET state = 'inflight', "
	    "lease_owner = '%s', lease_until = unixepoch() + 3600 "
	    "WHERE id = %d", owner, id);
	assert_int_equal(db_exec(d, sql), 0);
}

static int64_t
inflight_of(struct db *d, int id)
{
	char	 sql[128];

	snprintf(sql, sizeof(sql), "SELECT state = 'inflight' FROM outbox "
	    "WHERE id = %d", id);
	return q_int(d, sql);
}

/*
 * 5. Liveness by lock: a live child's records stay, a dead owner's come
 * back in doubt, an owner without a lock file is left to its lease.
 */
static void
t_owner_lock(void **state)
{
	struct db	 d;
	char		 self[300], live[300], dead[300], lockdir[200];
	int		 tochild[2], fromchild[2], fd, status, lost;
	pid_t		 kid, kid2;
	ssize_t		 r;
	struct stat	 sb;
	enum ob_enq	 e;
	char		 err[256];

	(void)state;
	open_ok(&d);
	three(&d);
	assert_int_equal(outbox_enqueue(&d, "acme", "k4", "{}", &e, err,
	    sizeof(err)), 0);
	assert_int_equal(outbox_owner_new(self, sizeof(self)), 0);
	assert_int_equal(outbox_owner_lock(path, self, &fd), 0);
	snprintf(lockdir, sizeof(lockdir), "%s.owners", path);
	assert_int_equal(stat(lockdir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	/* The same owner cannot be locked twice. */
	{
		int fd2;

		assert_int_equal(outbox_owner_lock(path, self, &fd2), -1);
	}
	assert_int_equal(pipe(tochild), 0);
	assert_int_equal(pipe(fromchild), 0);
	if ((kid = fork()) == 0) {
		char	 o[300], c;
		int	 f;

		close(tochild[1]);
		close(fromchild[0]);
		if (outbox_owner_new(o, sizeof(o)) == -1 ||
		    outbox_owner_lock(path, o, &f) == -1)
			_exit(1);
		if (write(fromchild[1], o, strlen(o) + 1) == -1)
			_exit(1);
		(void)read(tochild[0], &c, 1);	/* until the parent closes */
		_exit(0);
	}
	close(tochild[0]);
	close(fromchild[1]);
	r = read(fromchild[0], live, sizeof(live));
	assert_true(r > 0);
	/* A dead owner: locked, then exited. */
	if ((kid2 = fork()) == 0) {
		char	 o[300];
		int	 f;

		if (outbox_owner_new(o, sizeof(o)) == -1 ||
		    outbox_owner_lock(path, o, &f) == -1)
			_exit(1);
		/* Tell the parent the name through a file. */
		{
			char	 fn[200];
			FILE	*fp;

			snprintf(fn, sizeof(fn), "%s/dead", dir);
			if ((fp = fopen(fn, "w")) == NULL)
				_exit(1);
			fputs(o, fp);
			fclose(fp);
		}
		_exit(0);	/* the kernel drops the lock */
	}
	assert_int_equal(waitpid(kid2, &status, 0), kid2);
	assert_int_equal(WEXITSTATUS(status), 0);
	{
		char	 fn[200];
		FILE	*fp;

		snprintf(fn, sizeof(fn), "%s/dead", dir);
		assert_non_null(fp = fopen(fn, "r"));
		assert_non_null(fgets(dead, sizeof(dead), fp));
		fclose(fp);
	}
	set_inflight(&d, 1, live);
	set_inflight(&d, 2, dead);
	set_inflight(&d, 3, "ghost:1:0000000000000001");	/* no lock file */
	set_inflight(&d, 4, self);
	/* Only the dead owner's record comes back. */
	assert_int_equal(outbox_recover_dead(&d, path, self), 1);
	assert_int_equal(inflight_of(&d, 1), 1);
	assert_int_equal(inflight_of(&d, 2), 0);
	assert_int_equal(inflight_of(&d, 3), 1);
	assert_int_equal(inflight_of(&d, 4), 1);
	assert_int_equal(q_int(&d, "SELECT in_doubt FROM outbox WHERE id = 2"),
	    1);
	assert_int_equal(q_int(&d, "SELECT lease_owner IS NULL FROM outbox "
	    "WHERE id = 2"), 1);
	/* Still alive: nothing more, however often asked. */
	assert_int_equal(outbox_recover_dead(&d, path, self), 0);
	assert_int_equal(inflight_of(&d, 1), 1);
	/* The child exits: now its record comes back, its file goes. */
	close(tochild[1]);
	assert_int_equal(waitpid(kid, &status, 0), kid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(outbox_recover_dead(&d, path, self), 1);
	assert_int_equal(inflight_of(&d, 1), 0);
	assert_int_equal(inflight_of(&d, 3), 1);
	assert_int_equal(inflight_of(&d, 4), 1);
	{
		char	 fn[600], *q;

		snprintf(fn, sizeof(fn), "%s/%s", lockdir, live);
		for (q = fn + strlen(lockdir) + 1; *q != '\0'; q++)
			if (*q == ':')
				*q = '_';
		assert_int_equal(stat(fn, &sb), -1);
	}
	/* Our own lock file goes on a clean exit. */
	outbox_owner_unlock(path, self, fd);
	assert_int_equal(rmdir(lockdir), 0);	/* empty now */
	(void)lost;
	db_close(&d);
}

/* 6. Renewal touches only the ids given that owner still holds. */
static void
t_renew_ids(void **state)
{
	struct db	 d;
	struct ob_rec	*a;
	size_t		 n;
	int64_t		 ids[] = { 1, 2, 3, 99 };

	(void)state;
	open_ok(&d);
	three(&d);
	assert_int_equal(outbox_claim(&d, "acme", "w1", 1000, 30, 10, &a, &n),
	    0);
	assert_int_equal(n, 3);
	ob_rec_free_array(a, n);
	/* Record 2 went to w2; record 3 is not in our memory. */
	assert_int_equal(db_exec(&d, "UPDATE outbox SET lease_owner = 'w2' "
	    "WHERE id = 2"), 0);
	assert_int_equal(outbox_renew_ids(&d, "w1", ids, 1, 2000, 30), 1);
	ids[1] = 2;
	assert_int_equal(outbox_renew_ids(&d, "w1", ids, 2, 3000, 30), 1);
	assert_int_equal(q_int(&d, "SELECT lease_until FROM outbox WHERE "
	    "id = 1"), 3030);
	assert_int_equal(q_int(&d, "SELECT lease_until FROM outbox WHERE "
	    "id = 2"), 1030);
	assert_int_equal(q_int(&d, "SELECT lease_until FROM outbox WHERE "
	    "id = 3"), 1030);
	/* Unknown ids and nothing at all: no rows, no error. */
	assert_int_equal(outbox_renew_ids(&d, "w1", ids + 3, 1, 3000, 30), 0);
	assert_int_equal(outbox_renew_ids(&d, "w1", ids, 0, 3000, 30), 0);
	db_close(&d);
}

/*
 * 7. A worker never re-claims its own record after its lease lapsed;
 * another worker does.  The claim still walks outbox_open.
 */
static void
t_claim_own(void **state)
{
	struct db	 d;
	char		 keys[256], eqp[4096] = "", *sql;
	sqlite3_stmt	*st, *x;

	(void)state;
	open_ok(&d);
	three(&d);
	assert_int_equal(claim_keys(&d, "w1", 1000, keys, sizeof(keys)), 3);
	/* The wall clock jumps past the lease. */
	assert_int_equal(claim_keys(&d, "w1", 1031, keys, sizeof(keys)), 0);
	assert_int_equal(q_int(&d, "SELECT count(*) FROM outbox WHERE "
	    "attempts = 1"), 3);
	assert_int_equal(claim_keys(&d, "w2", 1031, keys, sizeof(keys)), 3);
	assert_string_equal(keys, "k1 k2 k3 ");
	/* The cached claim statement's plan. */
	for (st = sqlite3_next_stmt(d.h, NULL); st != NULL;
	    st = sqlite3_next_stmt(d.h, st))
		if (strstr(sqlite3_sql(st), "SET state = 'inflight'") != NULL)
			break;
	assert_non_null(st);
	assert_non_null(sql = sqlite3_mprintf("EXPLAIN QUERY PLAN %s",
	    sqlite3_sql(st)));
	assert_int_equal(sqlite3_prepare_v2(d.h, sql, -1, &x, NULL), SQLITE_OK);
	while (sqlite3_step(x) == SQLITE_ROW) {
		strncat(eqp, (const char *)sqlite3_column_text(x, 3),
		    sizeof(eqp) - strlen(eqp) - 2);
		strcat(eqp, "\n");
	}
	sqlite3_finalize(x);
	sqlite3_free(sql);
	assert_non_null(strstr(eqp, "USING INDEX outbox_open"));
	assert_null(strstr(eqp, "SCAN o\n"));
	db_close(&d);
}

/* 8, 9. Intents are deleted and details rewritten only under the lease. */
static void
t_journal_owned(void **state)
{
	struct db	 d;
	struct ob_rec	*a;
	size_t		 n;
	int		 lost;

	(void)state;
	open_ok(&d);
	three(&d);
	assert_int_equal(outbox_claim(&d, "acme", "w1", 1000, 30, 1, &a, &n),
	    0);
	assert_int_equal(n, 1);
	ob_rec_free_array(a, n);
	assert_int_equal(outbox_step(&d, 1, "w1", "intent:contact", NULL,
	    "{\"waited_s\":0}", NULL, &lost), 0);
	/* w2 holds no lease: nothing deleted, nothing rewritten. */
	assert_int_equal(outbox_unstep_owned(&d, 1, "w2", "intent:contact",
	    &lost), -1);
	assert_int_equal(lost, 1);
	assert_int_equal(outbox_step_detail(&d, 1, "w2", "intent:contact",
	    "{\"waited_s\":99}", &lost), -1);
	assert_int_equal(lost, 1);
	assert_int_equal(q_int(&d, "SELECT json_extract(detail, '$.waited_s') "
	    "FROM journal WHERE outbox_id = 1 AND step = 'intent:contact'"), 0);
	/* w1 does: the detail changes, then the intent goes. */
	assert_int_equal(outbox_step_detail(&d, 1, "w1", "intent:contact",
	    "{\"waited_s\":42}", &lost), 0);
	assert_int_equal(lost, 0);
	assert_int_equal(q_int(&d, "SELECT json_extract(detail, '$.waited_s') "
	    "FROM journal WHERE outbox_id = 1 AND step = 'intent:contact'"), 42);
	/* No such step: an error, not a lost lease. */
	assert_int_equal(outbox_step_detail(&d, 1, "w1", "intent:nope",
	    "{}", &lost), -1);
	assert_int_equal(lost, 0);
	assert_int_equal(sqlite3_get_autocommit(d.h), 1);
	assert_int_equal(outbox_unstep_owned(&d, 1, "w1", "intent:contact",
	    &lost), 0);
	assert_int_equal(lost, 0);
	assert_int_equal(q_int(&d, "SELECT count(*) FROM journal WHERE "
	    "outbox_id = 1"), 0);
	/* After the lease lapsed and w2 took it, w1 deletes nothing. */
	assert_int_equal(outbox_step(&d, 1, "w1", "intent:contact", NULL,
	    NULL, NULL, &lost), 0);
	assert_int_equal(db_exec(&d, "UPDATE outbox SET lease_owner = 'w2' "
	    "WHERE id = 1"), 0);
	assert_int_equal(outbox_unstep_owned(&d, 1, "w1", "intent:contact",
	    &lost), -1);
	assert_int_equal(lost, 1);
	assert_int_equal(q_int(&d, "SELECT count(*) FROM journal WHERE "
	    "outbox_id = 1"), 1);
	db_close(&d);
}

/*
 * outbox.caller_email (0007) follows the payload whoever writes it, and
 * the migration fills it for rows enqueued before it.
 */
static void
t_caller_email(void **state)
{
	struct db	 d;
	enum ob_enq	 r;
	char		 err[256];

	(void)state;
	open_ok(&d);
	assert_int_equal(outbox_enqueue(&d, "acme", "k1", "{\"type\":\"call\","
	    "\"caller\":{\"email\":\" Ann@Example.ORG \"}}", &r, err,
	    sizeof(err)), 0);
	assert_int_equal(q_int(&d, "SELECT caller_email = 'ann@example.org' "
	    "FROM outbox WHERE record_key = 'k1'"), 1);
	/* A producer's raw SQL, without an email. */
	assert_int_equal(db_exec(&d, "INSERT INTO outbox (workspace, "
	    "record_key, payload) VALUES ('acme', 'k2', "
	    "'{\"type\":\"call\",\"caller\":{\"phone\":\"+15551234567\"}}')"),
	    0);
	assert_int_equal(q_int(&d, "SELECT caller_email IS NULL FROM outbox "
	    "WHERE record_key = 'k2'"), 1);
	/* dlq edit replaces the payload: the column follows. */
	assert_int_equal(db_exec(&d, "UPDATE outbox SET payload = "
	    "'{\"caller\":{\"email\":\"B@x.io\"}}' WHERE record_key = 'k2'"), 0);
	assert_int_equal(q_int(&d, "SELECT caller_email = 'b@x.io' FROM outbox "
	    "WHERE record_key = 'k2'"), 1);
	/* Back to a database before 0007 with rows in it: migrating fills
	 * the column. */
	assert_int_equal(db_exec(&d, "DROP TRIGGER outbox_caller_email_insert"),
	    0);
	assert_int_equal(db_exec(&d, "DROP TRIGGER outbox_caller_email_update"),
	    0);
	assert_int_equal(db_exec(&d, "ALTER TABLE outbox DROP COLUMN "
	    "caller_email"), 0);
	/* What later migrations made goes too (0008: the handoff table;
	 * its CHECK edit finds nothing to change the second time); the
	 * others run again as they are (e.g. CREATE INDEX IF NOT EXISTS). */
	assert_int_equal(db_exec(&d, "DROP TABLE handoff"), 0);
	/* ...and before the later ones, which run again. */
	assert_int_equal(db_exec(&d, "ALTER TABLE outbox DROP COLUMN "
	    "first_seen_at"), 0);
	/* 0014: the inbox and the call tasks; 0015: polling's watermarks
	 * (its inbox column and index go with the table). */
	assert_int_equal(db_exec(&d, "DROP TABLE tasks; DROP TABLE "
	    "workspace_app; DROP TABLE inbox_watermark; DROP TABLE inbox; "
	    "DROP TABLE poll_watermark"), 0);
	/* 0016: the search lag samples. */
	assert_int_equal(db_exec(&d, "DROP TABLE search_lag"), 0);
	assert_int_equal(db_exec(&d, "DELETE FROM schema_migrations WHERE "
	    "version >= 7"), 0);
	assert_int_equal(db_exec(&d, "PRAGMA user_version = 6"), 0);
	db_close(&d);
	open_ok(&d);
	assert_int_equal(db_version(&d), db_latest_version());
	assert_int_equal(q_int(&d, "SELECT count(*) FROM outbox WHERE "
	    "(record_key = 'k1' AND caller_email = 'ann@example.org') OR "
	    "(record_key = 'k2' AND caller_email = 'b@x.io')"), 2);
	db_close(&d);
}

/* The WAL-reset bug's range (db.h): 3.7.0 to 3.51.2 but the backports. */
static void
t_walreset_range(void **state)
{
	(void)state;
	assert_false(db_walreset_affected(3006023));
	assert_true(db_walreset_affected(3007000));
	assert_true(db_walreset_affected(3040001));	/* Debian 12 */
	assert_true(db_walreset_affected(3044005));
	assert_false(db_walreset_affected(3044006));
	assert_true(db_walreset_affected(3045000));
	assert_true(db_walreset_affected(3050006));
	assert_false(db_walreset_affected(3050007));
	assert_true(db_walreset_affected(3051002));
	assert_false(db_walreset_affected(3051003));
	assert_false(db_walreset_affected(3052000));
}

/* Only a DB_OPEN_CHECKPOINT connection checkpoints on its own. */
static void
t_autocheckpoint(void **state)
{
	struct db	 d;
	char		 err[256];

	(void)state;
	open_ok(&d);
	assert_int_equal(db_autocheckpoint(&d), 0);
	db_close(&d);
	assert_int_equal(db_open(&d, path, DB_OPEN_CHECKPOINT, err,
	    sizeof(err)), 0);
	assert_int_equal(db_autocheckpoint(&d), 1000);
	db_close(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(t_migrate_interrupted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_enqueue, setup, teardown),
		cmocka_unit_test_setup_teardown(t_claim_lanes, setup, teardown),
		cmocka_unit_test_setup_teardown(t_audit_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(t_audit_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(t_concurrent_producers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_nested_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(t_step_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(t_owner_new, setup, teardown),
		cmocka_unit_test_setup_teardown(t_owner_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(t_renew_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(t_claim_own, setup, teardown),
		cmocka_unit_test_setup_teardown(t_journal_owned, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_caller_email, setup,
		    teardown),
		cmocka_unit_test(t_walreset_range),
		cmocka_unit_test_setup_teardown(t_autocheckpoint, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
