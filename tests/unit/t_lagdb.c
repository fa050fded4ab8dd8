/*
 * t_lagdb: the search_lag table through worker/store/lagdb.c, as
 * job/lag.c uses it (lag_store_add, lag_store_load), on a new migrated
 * database.  A sample is one row (a censored one without lag_ms); the
 * load hands up the newest first, a censored one as the caller's
 * number, no more than max; keep drops only the oldest of the same
 * workspace and kind; a refused row leaves nothing behind.
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
#include "lagdb.h"

#define TDB_NAME	"t_lagdb"
#include "tdb.h"

#define CENSORED	(-7)	/* what a censored sample reads as here */

static void
t_add_rows(void **state)
{
	struct db	*d = *state;

	assert_int_equal(lagdb_add(d, "acme", "contact", "c1", false, 1200,
	    900, 3, 1000), 0);
	assert_int_equal(lagdb_add(d, "acme", "contact", "c2", true, 999,
	    120000, 40, 1000), 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM search_lag"), 2);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM search_lag WHERE "
	    "workspace = 'acme' AND kind = 'contact' AND object_id = 'c1' AND "
	    "lag_ms = 1200 AND lo_ms = 900 AND looks = 3 AND censored = 0"),
	    1);
	/* Censored: no lag stored, whatever lag_ms said. */
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM search_lag WHERE "
	    "object_id = 'c2' AND lag_ms IS NULL AND lo_ms = 120000 AND "
	    "looks = 40 AND censored = 1"), 1);
	/* A kind the table refuses: -1, and the transaction left nothing. */
	assert_int_equal(lagdb_add(d, "acme", "ticket", "t1", false, 5, 0, 1,
	    1000), -1);
	assert_int_equal(d->txdepth, 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM search_lag"), 2);
}

static void
t_load(void **state)
{
	struct db	*d = *state;
	int64_t		 ms[8];
	size_t		 n;

	assert_int_equal(lagdb_load(d, "acme", "contact", CENSORED, ms, 8,
	    &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lagdb_add(d, "acme", "contact", "c1", false, 100, 0,
	    1, 1000), 0);
	assert_int_equal(lagdb_add(d, "acme", "contact", "c2", true, 0,
	    60000, 9, 1000), 0);
	assert_int_equal(lagdb_add(d, "acme", "contact", "c3", false, 300, 0,
	    1, 1000), 0);
	assert_int_equal(lagdb_add(d, "acme", "conversation", "v1", false,
	    400, 0, 1, 1000), 0);
	assert_int_equal(lagdb_add(d, "globex", "contact", "g1", false, 500,
	    0, 1, 1000), 0);
	/* Newest first, only acme's contacts, the censored one as asked. */
	assert_int_equal(lagdb_load(d, "acme", "contact", CENSORED, ms, 8,
	    &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ms[0], 300);
	assert_int_equal(ms[1], CENSORED);
	assert_int_equal(ms[2], 100);
	/* No more than max: the newest two. */
	assert_int_equal(lagdb_load(d, "acme", "contact", CENSORED, ms, 2,
	    &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ms[0], 300);
	assert_int_equal(ms[1], CENSORED);
	/* A row a producer wrote without a lag and without the flag reads
	 * as censored too. */
	assert_int_equal(db_exec(d, "INSERT INTO search_lag (workspace, kind, "
	    "object_id, looks) VALUES ('acme', 'conversation', 'v2', 1)"), 0);
	assert_int_equal(lagdb_load(d, "acme", "conversation", CENSORED, ms, 8,
	    &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ms[0], CENSORED);
	assert_int_equal(ms[1], 400);
}

static void
t_keep(void **state)
{
	struct db	*d = *state;
	int64_t		 ms[8];
	size_t		 n;
	int		 i;

	assert_int_equal(lagdb_add(d, "acme", "conversation", "v1", false, 7,
	    0, 1, 3), 0);
	assert_int_equal(lagdb_add(d, "globex", "contact", "g1", false, 8, 0,
	    1, 3), 0);
	for (i = 1; i <= 5; i++)
		assert_int_equal(lagdb_add(d, "acme", "contact", "c", false,
		    i * 10, 0, 1, 3), 0);
	/* The newest 3 of acme's contacts stay; the others' rows too. */
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM search_lag WHERE "
	    "workspace = 'acme' AND kind = 'contact'"), 3);
	assert_int_equal(tdb_count(d, "SELECT min(lag_ms) FROM search_lag "
	    "WHERE workspace = 'acme' AND kind = 'contact'"), 30);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM search_lag"), 5);
	assert_int_equal(lagdb_load(d, "acme", "contact", CENSORED, ms, 8,
	    &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ms[0], 50);
	assert_int_equal(ms[2], 30);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TDB_TEST(t_add_rows),
		TDB_TEST(t_load),
		TDB_TEST(t_keep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
