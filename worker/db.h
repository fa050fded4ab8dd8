/*
 * db: the SQLite store shared by callsyncd and callsync.  Opening a
 * database creates it mode 0600, sets WAL, a busy timeout and the
 * configured durability, then applies the compiled-in migrations
 * (migrations/NNNN_name.sql) in order, each in its own transaction.
 *
 * Every statement is prepared with bound values; db_prep() caches
 * prepared statements by their text so hot paths prepare once.
 */
#ifndef CALLSYNC_DB_H
#define CALLSYNC_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

struct db_migration {
	int		 version;
	const char	*name;
	const char	*sql;
};
extern const struct db_migration db_migrations[];
extern const int db_nmigrations;

#define DB_STMT_CACHE	96

struct db {
	sqlite3		*h;
	char		*path;
	struct {
		const char	*sql;	/* borrowed: string literal */
		sqlite3_stmt	*st;
	}		 cache[DB_STMT_CACHE];
	size_t		 ncache;
	int		 txdepth;
};

#define DB_OPEN_CREATE	0x01	/* create the file if missing */
#define DB_OPEN_NOSYNC	0x02	/* synchronous=NORMAL (documented trade-off) */
#define DB_OPEN_NOMIGRATE 0x04	/* open only; report schema level */

/*
 * Open (and create, migrate) path into d.  On error returns -1 with a
 * one-line message in err; d is left closed.
 */
int	 db_open(struct db *d, const char *path, int flags, char *err, size_t errsz);
void	 db_close(struct db *);
/* Schema version of the open database (PRAGMA user_version). */
int	 db_version(struct db *);
/* Highest version this binary knows. */
int	 db_latest_version(void);
/* Apply pending migrations; -1 with err on failure (database unchanged). */
int	 db_migrate(struct db *, char *err, size_t errsz);

/*
 * Prepared statement for sql (a string literal: the pointer is the cache
 * key), reset and with bindings cleared.  Borrowed: do not finalize.
 */
sqlite3_stmt	*db_prep(struct db *, const char *sql);
/* Run sql with no parameters and no rows (PRAGMAs, DDL). */
int	 db_exec(struct db *, const char *sql);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK; nesting is counted, not nested. */
int	 db_begin(struct db *);
int	 db_commit(struct db *);
void	 db_rollback(struct db *);
/* Step a statement expecting SQLITE_DONE; logs the error otherwise. */
int	 db_step_done(struct db *, sqlite3_stmt *);
const char *db_errmsg(struct db *);

/* Binding helpers: NULL strings bind NULL.  Return 0 or -1. */
int	 db_bind_text(sqlite3_stmt *, int, const char *);
int	 db_bind_int(sqlite3_stmt *, int, int64_t);
/* Strdup of column i (NULL stays NULL); caller frees. */
char	*db_col_strdup(sqlite3_stmt *, int);

#endif
