/*
 * sqlins: the producer side of the benchmarks, as a voice agent would do it
 * with nothing but SQLite (prepared statement, busy timeout).
 *
 *   sqlins insert DB outbox|bare ROWS_PER_TXN full|normal < records.jsonl
 *       Insert every JSON line; prints "<rows> <seconds>" (wall, from the
 *       first BEGIN to the last COMMIT; opening the database is excluded).
 *       outbox: the documented producer statement of docs/contract.md:
 *         INSERT INTO outbox (workspace, record_key, payload) VALUES (...)
 *         ON CONFLICT (workspace, record_key) DO NOTHING
 *       bare: the same rows into a plain table without constraints or
 *       indexes (CREATE TABLE IF NOT EXISTS bare (workspace, record_key,
 *       payload)), same journal mode (WAL) and synchronous setting.
 *
 *   sqlins trickle DB INTERVAL_MS < records.jsonl
 *       One single-row autocommit insert into the outbox every INTERVAL_MS;
 *       prints "<record_key> <unix ms after COMMIT>" per row.
 *
 * The record key is the line's "call_id" (found with a plain string
 * search: the generator writes it first); workspace is "acme".
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "sqlins: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
	exit(1);
}

static void
exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die(db, sql);
}

/* Copy the value of "call_id" (or "key") of line into key. */
static int
line_key(const char *line, char *key, size_t sz)
{
	const char	*p, *e;

	if ((p = strstr(line, "\"call_id\":\"")) != NULL)
		p += 11;
	else if ((p = strstr(line, "\"key\":\"")) != NULL)
		p += 7;
	else
		return -1;
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= sz)
		return -1;
	memcpy(key, p, e - p);
	key[e - p] = '\0';
	return 0;
}

static sqlite3 *
open_db(const char *path, const char *sync)
{
	sqlite3	*db;
	char	 sql[64];

	if (sqlite3_open(path, &db) != SQLITE_OK)
		die(db, path);
	sqlite3_busy_timeout(db, 5000);
	exec(db, "PRAGMA journal_mode=WAL");
	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", sync);
	exec(db, sql);
	return db;
}

int
main(int argc, char **argv)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	char		*line = NULL, key[256];
	size_t		 cap = 0;
	ssize_t		 len;
	long		 rows = 0, per_txn = 1, interval = 200;
	int		 bare = 0, trickle;
	double		 t0 = 0, t1;

	if (argc < 3)
		goto usage;
	trickle = strcmp(argv[1], "trickle") == 0;
	if (trickle && argc == 4)
		interval = atol(argv[3]);
	else if (!trickle && strcmp(argv[1], "insert") == 0 && argc == 6) {
		bare = strcmp(argv[3], "bare") == 0;
		per_txn = atol(argv[4]);
	} else
		goto usage;
	db = open_db(argv[2], trickle ? "full" : argv[5]);
	if (bare)
		exec(db, "CREATE TABLE IF NOT EXISTS bare (workspace TEXT, "
		    "record_key TEXT, payload TEXT)");
	if (sqlite3_prepare_v2(db, bare ?
	    "INSERT INTO bare (workspace, record_key, payload) VALUES (?, ?, ?)" :
	    "INSERT INTO outbox (workspace, record_key, payload) "
	    "VALUES (?, ?, ?) ON CONFLICT (workspace, record_key) DO NOTHING",
	    -1, &st, NULL) != SQLITE_OK)
		die(db, "prepare");
	t0 = now_s();
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0 || line_key(line, key, sizeof(key)) == -1)
			continue;
		if (!trickle && per_txn > 1 && rows % per_txn == 0)
			exec(db, "BEGIN");
		sqlite3_bind_text(st, 1, "acme", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, line, (int)len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			die(db, "insert");
		sqlite3_reset(st);
		rows++;
		if (!trickle && per_txn > 1 && rows % per_txn == 0)
			exec(db, "COMMIT");
		if (trickle) {
			printf("%s %lld\n", key, wall_ms());
			fflush(stdout);
			usleep((useconds_t)interval * 1000);
		}
	}
	if (!trickle && per_txn > 1 && rows % per_txn != 0)
		exec(db, "COMMIT");
	t1 = now_s();
	if (!trickle)
		printf("%ld %.4f\n", rows, t1 - t0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(line);
	return 0;
usage:
	fprintf(stderr, "usage: sqlins insert DB outbox|bare ROWS_PER_TXN "
	    "full|normal < jsonl\n       sqlins trickle DB INTERVAL_MS < jsonl\n");
	return 2;
}
