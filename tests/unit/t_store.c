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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
