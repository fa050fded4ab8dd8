/*
 * tdb.h: the cmocka setup and teardown of the unit tests that each run on
 * a new database (migrated, in its own /tmp/TDB_NAME.XXXXXX directory).
 * Define TDB_NAME before including; *state is the struct db.
 */
#ifndef CALLSYNC_TDB_H
#define CALLSYNC_TDB_H

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
