/*
 * t_schema_sql: schema/schema.sql is generated (schema/gen.sh, make
 * schema) from the migrations and the prose of schema/notes.txt, and
 * committed.  t_generated fails when the committed file is not what the
 * generator writes now: a hand edit, a migration or a note added without
 * running make schema (the first differing line is printed).  What can
 * be derived from the migrations is checked against them here too: its
 * bookkeeping tail, one INSERT INTO schema_migrations per migration and
 * PRAGMA user_version, must be exactly the text the migrations give
 * (printed on failure), and so must the version its header names.  Test
 * 60_docs compares the tables, indexes and CREATE statements it builds
 * with callsync init's.  The tests run from the top of the tree.
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

/* The whole of path, NUL-terminated (new). */
static char *
slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 n;

	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	assert_true((n = ftell(f)) > 0);
	rewind(f);
	assert_non_null(buf = malloc(n + 1));
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* What command prints on its standard output (new); NULL if it failed. */
static char *
run(const char *command)
{
	FILE	*p;
	char	*buf = NULL;
	size_t	 n = 0, sz = 0;

	assert_non_null(p = popen(command, "r"));
	do {
		if (n + 4096 + 1 > sz)
			assert_non_null(buf = realloc(buf, sz = 2 * sz + 8192));
		n += fread(buf + n, 1, 4096, p);
	} while (!feof(p) && !ferror(p));
	buf[n] = '\0';
	if (pclose(p) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The number of the first line where a and b differ (1 = the first). */
static int
first_diff_line(const char *a, const char *b)
{
	int	 line = 1;

	for (; *a != '\0' && *a == *b; a++, b++)
		if (*a == '\n')
			line++;
	return line;
}

/*
 * The committed schema.sql is what schema/gen.sh writes from the
 * migrations and schema/notes.txt.  gen.sh fails (and so does this) on a
 * note naming a table, column, index or trigger the migrations do not
 * make, and on a table without a note.
 */
static void
t_generated(void **state)
{
	char	*sql, *want;

	(void)state;
	sql = slurp("schema/schema.sql");
	want = run("sh schema/gen.sh");
	if (want == NULL)
		print_error("sh schema/gen.sh failed (see its message above)\n");
	assert_non_null(want);
	if (strcmp(sql, want) != 0)
		print_error("schema/schema.sql is not what schema/gen.sh writes "
		    "(first difference at line %d): edit migrations/ or "
		    "schema/notes.txt, never schema.sql, then run make schema\n",
		    first_diff_line(sql, want));
	assert_string_equal(sql, want);
	free(sql);
	free(want);
}

/* The tail the migrations give, from the INSERT lines on (new). */
static char *
tail_of_migrations(void)
{
	char	*buf, *p;
	size_t	 sz = 256 + (size_t)db_nmigrations * 256;
	int	 i;

	assert_non_null(p = buf = malloc(sz));
	for (i = 0; i < db_nmigrations; i++)
		p += sprintf(p, "INSERT INTO schema_migrations (version, name) "
		    "VALUES (%d, '%s');\n", db_migrations[i].version,
		    db_migrations[i].name);
	sprintf(p, "PRAGMA user_version = %d;\n", db_latest_version());
	return buf;
}

static void
t_tail(void **state)
{
	char	*sql, *want, *at;

	(void)state;
	sql = slurp("schema/schema.sql");
	want = tail_of_migrations();
	at = strstr(sql, "INSERT INTO schema_migrations");
	if (at == NULL || strcmp(at, want) != 0)
		print_error("schema/schema.sql must end with:\n%s", want);
	assert_non_null(at);
	assert_string_equal(at, want);
	free(sql);
	free(want);
}

/*
 * The header's "Current schema version: N" is the version the
 * migrations give too (it said 12 at version 14).
 */
static void
t_header_version(void **state)
{
	char	*sql, *at, want[64];

	(void)state;
	sql = slurp("schema/schema.sql");
	snprintf(want, sizeof(want), "Current schema version: %d ",
	    db_latest_version());
	at = strstr(sql, "Current schema version: ");
	assert_non_null(at);
	if (strncmp(at, want, strlen(want)) != 0)
		print_error("schema/schema.sql's header must say: %s\n", want);
	assert_int_equal(strncmp(at, want, strlen(want)), 0);
	free(sql);
}

/* And it runs: the rows and the version are those of a migrated file. */
static void
t_runs(void **state)
{
	sqlite3		*h;
	sqlite3_stmt	*st;
	char		*sql;
	int		 i = 0;

	(void)state;
	sql = slurp("schema/schema.sql");
	assert_int_equal(sqlite3_open(":memory:", &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT version, name FROM "
	    "schema_migrations ORDER BY version", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_true(i < db_nmigrations);
		assert_int_equal(sqlite3_column_int(st, 0),
		    db_migrations[i].version);
		assert_string_equal((const char *)sqlite3_column_text(st, 1),
		    db_migrations[i].name);
		i++;
	}
	assert_int_equal(i, db_nmigrations);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1,
	    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), db_latest_version());
	sqlite3_finalize(st);
	sqlite3_close(h);
	free(sql);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_generated),
		cmocka_unit_test(t_tail),
		cmocka_unit_test(t_header_version),
		cmocka_unit_test(t_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
