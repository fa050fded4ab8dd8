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
	/*
	 * An inner db_rollback() cannot undo only its own part (no
	 * savepoints), so it dooms the whole transaction: the outermost
	 * db_commit() then rolls back and fails.  rbwhy/rbrc keep what the
	 * inner failure said, for db_errmsg()/db_busy() after that commit.
	 */
	int		 rbonly;
	int		 rbrc;
	char		 rbwhy[200];
	/*
	 * Group commit (engine.c): while group is set, the outermost level
	 * (txdepth 1) is the engine's group transaction and every
	 * db_begin() at level 1 opens a SAVEPOINT instead: its db_commit()
	 * releases it, its db_rollback() (or an inner one) undoes it alone,
	 * so each operation keeps the all-or-nothing it had as a
	 * transaction of its own, and only durability waits for the group.
	 */
	int		 group;
	int		 group_lost;	/* SQLite rolled the group back itself */
	/*
	 * The last failure seen by db.c or outbox.c: its SQLite result code
	 * and message, copied at the time (a ROLLBACK afterwards would
	 * reset sqlite3_errmsg()).  Cleared when the next statement starts.
	 */
	int		 lasterr;
	char		 errbuf[256];
	int		 busy_ms;
	bool		 readonly;	/* opened read-only (DB_OPEN_READ) */
};

#define DB_OPEN_CREATE	0x01	/* create the file if missing */
#define DB_OPEN_NOSYNC	0x02	/* synchronous=NORMAL (documented trade-off) */
#define DB_OPEN_NOMIGRATE 0x04	/* open only; report schema level */
/*
 * The caller only reads: when the file, its -wal/-shm or (to create
 * them) its directory cannot be written, open read-only instead
 * (mode=ro, else immutable=1 when no -shm can be made: see db_open_ro).
 * d->readonly tells which; nothing is migrated then.
 */
#define DB_OPEN_READ	0x08
/*
 * This connection checkpoints: callsyncd's one connection, and no other.
 * Every other connection gets wal_autocheckpoint=0 and callsync never
 * calls sqlite3_wal_checkpoint.  Why: SQLite 3.7.0 to 3.51.2 (Debian 12
 * ships 3.40.1) has the WAL-reset bug (sqlite.org/wal.html#walresetbug):
 * two checkpoints by two connections while a third commits can corrupt
 * the database.  With one checkpointer, checkpoints never overlap.  The
 * checkpoint SQLite runs when the last connection closes stays: it needs
 * an exclusive lock on the file, so no other connection is open then.
 * Producers must set wal_autocheckpoint=0 too (README, schema.sql).
 */
#define DB_OPEN_CHECKPOINT 0x10

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
 * Is SQLite version v (sqlite3_libversion_number()) in the range of the
 * WAL-reset bug?  3.7.0 to 3.51.2, except the fixed 3.44.6+ and 3.50.7+
 * of those branches.  Pure.
 */
bool	 db_walreset_affected(int v);
/* The connection's wal_autocheckpoint (pages; 0: never), or -1. */
int	 db_autocheckpoint(struct db *);

/*
 * Prepared statement for sql (a string literal: the pointer is the cache
 * key), reset and with bindings cleared.  Borrowed: do not finalize.
 */
sqlite3_stmt	*db_prep(struct db *, const char *sql);
/* Run sql with no parameters and no rows (PRAGMAs, DDL). */
int	 db_exec(struct db *, const char *sql);
/*
 * BEGIN IMMEDIATE / COMMIT / ROLLBACK; nesting is counted, not nested.
 * An inner db_commit() only counts down.  An inner db_rollback() marks
 * the transaction rollback-only: statements keep running inside it, but
 * the outermost db_commit() rolls everything back and returns -1 with
 * db_errmsg() "inner statement failed; rolled back (...)".  The
 * outermost db_rollback() rolls back at once.
 */
int	 db_begin(struct db *);
int	 db_commit(struct db *);
void	 db_rollback(struct db *);
/* The group transaction (see struct db): begin, and end with COMMIT
 * (commit != 0) or ROLLBACK.  -1 when it could not begin / commit (it
 * is rolled back then). */
int	 db_group_begin(struct db *);
int	 db_group_end(struct db *, int commit);
/* Step a statement expecting SQLITE_DONE; logs the error otherwise. */
int	 db_step_done(struct db *, sqlite3_stmt *);
/* The last failure's message (ours or SQLite's); borrowed. */
const char *db_errmsg(struct db *);
/*
 * Record a failure of a raw sqlite3_* call (rc is its result code) so
 * that db_errmsg() and db_busy() describe it; logs it.  Returns -1.
 */
int	 db_fail(struct db *, int rc);
/* The same with our own message (copied), not logged.  Returns -1. */
int	 db_seterr(struct db *, int rc, const char *msg);
/*
 * Busy timeout in milliseconds: how long a writer waits for the lock
 * before SQLITE_BUSY.  db_open() sets 10 s (the CLI); the worker sets
 * ~250 ms because it waits inside its event loop.
 */
void	 db_set_busy_ms(struct db *, int ms);
/*
 * 1 if the last failure was SQLITE_BUSY or SQLITE_LOCKED (another
 * process held the lock past the busy timeout): nothing was written and
 * the same operation may simply be retried later.  0 otherwise.
 */
int	 db_busy(struct db *);

/* Binding helpers: NULL strings bind NULL.  Return 0 or -1. */
int	 db_bind_text(sqlite3_stmt *, int, const char *);
int	 db_bind_int(sqlite3_stmt *, int, int64_t);
/* Strdup of column i (NULL stays NULL); caller frees. */
char	*db_col_strdup(sqlite3_stmt *, int);

#endif
