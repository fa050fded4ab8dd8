/*
 * tdb.h: the cmocka setup and teardown of the unit tests that each run on
 * a new database (migrated, in its own /tmp/TDB_NAME.XXXXXX directory).
 * Define TDB_NAME before including (after cmocka.h); *state is the
 * struct db.  tdb_count: a count query's answer.
 */
#ifndef CALLSYNC_TDB_H
#define CALLSYNC_TDB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"

/* A test run on its own new database. */
#define TDB_TEST(f)	cmocka_unit_test_setup_teardown(f, tdb_setup, \
			    tdb_teardown)

static char	 tdb_dir[64];
static char	 tdb_path[128];

static int
tdb_setup(void **state)
{
	struct db	*d;
	char		 err[256];

	snprintf(tdb_dir, sizeof(tdb_dir), "/tmp/%s.XXXXXX", TDB_NAME);
	if (mkdtemp(tdb_dir) == NULL)
		return -1;
	snprintf(tdb_path, sizeof(tdb_path), "%s/outbox.db", tdb_dir);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -1;
	if (db_open(d, tdb_path, DB_OPEN_CREATE, err, sizeof(err)) == -1) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

/* The integer the first column of sql's first row holds, -1 if none
 * (for counts: "SELECT count(*) ..."). */
static inline int64_t
tdb_count(struct db *d, const char *sql)
{
	sqlite3_stmt	*st = db_prep(d, sql);
	int64_t		 n = -1;

	assert_non_null(st);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

static int
tdb_teardown(void **state)
{
	char	 cmd[160];

	db_close(*state);
	free(*state);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tdb_dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
