/*
 * db: opening, migrating and statement caching for the SQLite store.
 *
 * Durability: WAL with synchronous=FULL by default, so a record the
 * producer saw committed survives power loss.  synchronous=NORMAL (config
 * `synchronous = normal`) is faster but may lose the last transactions on
 * power loss (never corrupts); see README "Durability".
 *
 * Concurrency: producers insert from other processes while the worker
 * claims.  WAL lets readers run beside the one writer; every writer waits
 * up to busy_timeout for the lock instead of failing with SQLITE_BUSY, and
 * the worker keeps its write transactions short (one claim, one step).
 *
 * Checkpoints: only the connection opened with DB_OPEN_CHECKPOINT (the
 * worker's) checkpoints; every other one runs with wal_autocheckpoint=0,
 * against SQLite's WAL-reset bug (db.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "dbperm.h"
#include "log.h"

#define DB_BUSY_MS	10000	/* long enough for any of our short writers */

const char *
db_errmsg(struct db *d)
{
	if (d->lasterr != 0 && d->errbuf[0] != '\0')
		return d->errbuf;
	return d->h != NULL ? sqlite3_errmsg(d->h) : "database not open";
}

/* A new statement starts: the previous failure no longer describes it. */
static void
db_clearerr(struct db *d)
{
	d->lasterr = 0;
	d->errbuf[0] = '\0';
}

int
db_seterr(struct db *d, int rc, const char *msg)
{
	d->lasterr = rc != SQLITE_OK ? rc : SQLITE_ERROR;
	snprintf(d->errbuf, sizeof(d->errbuf), "%s", msg);
	return -1;
}

int
db_fail(struct db *d, int rc)
{
	db_seterr(d, rc, d->h != NULL ? sqlite3_errmsg(d->h) :
	    "database not open");
	log_warnx("%s: %s", d->path != NULL ? d->path : "db", d->errbuf);
	return -1;
}

int
db_busy(struct db *d)
{
	int	 rc = d->lasterr;

	/* Failures outside db.c/outbox.c are only in SQLite's own state. */
	if (rc == 0 && d->h != NULL)
		rc = sqlite3_extended_errcode(d->h);
	rc &= 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

void
db_set_busy_ms(struct db *d, int ms)
{
	d->busy_ms = ms;
	if (d->h != NULL)
		sqlite3_busy_timeout(d->h, ms);
}

int
db_exec(struct db *d, const char *sql)
{
	char	*msg = NULL;
	int	 rc;

	db_clearerr(d);
	if ((rc = sqlite3_exec(d->h, sql, NULL, NULL, &msg)) != SQLITE_OK) {
		db_seterr(d, rc, msg != NULL ? msg : sqlite3_errmsg(d->h));
		log_warnx("%s: %s", d->path, d->errbuf);
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/*
 * Create the file with mode 0600 before SQLite sees it: SQLite would use
 * 0644 (umask permitting), and the outbox holds callers' personal data.
 * The -wal and -shm files inherit the database file's mode.
 */
static int
db_create_file(const char *path, char *err, size_t errsz)
{
	int	 fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		dbperm_create_err(path, errno, err, errsz);
		return -1;
	}
	close(fd);
	return 0;
}

int
db_version(struct db *d)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(d->h, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

bool
db_walreset_affected(int v)
{
	if (v < 3007000 || v >= 3051003)
		return false;
	if (v >= 3044006 && v < 3045000)	/* backport: 3.44.6 */
		return false;
	if (v >= 3050007 && v < 3051000)	/* backport: 3.50.7 */
		return false;
	return true;
}

int
db_autocheckpoint(struct db *d)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(d->h, "PRAGMA wal_autocheckpoint", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int
db_latest_version(void)
{
	return db_nmigrations > 0 ? db_migrations[db_nmigrations - 1].version : 0;
}

/*
 * Apply one migration in BEGIN IMMEDIATE ... COMMIT, recording it in
 * schema_migrations and user_version in the same transaction: a crash or
 * an error at any point leaves the database at the previous version.
 */
static int
db_apply(struct db *d, const struct db_migration *m, char *err, size_t errsz)
{
	char		*msg = NULL;
	char		 pragma[64];
	sqlite3_stmt	*st = NULL;

	if (sqlite3_exec(d->h, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(d->h, m->sql, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(d->h, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
	    "applied_at INTEGER NOT NULL DEFAULT (unixepoch()))",
	    NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v2(d->h, "INSERT INTO schema_migrations "
	    "(version, name) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int(st, 1, m->version);
	sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->version);
	if (sqlite3_exec(d->h, pragma, NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	if (sqlite3_exec(d->h, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errsz, "%s: migration %s failed: %s", d->path, m->name,
	    msg != NULL ? msg : sqlite3_errmsg(d->h));
	sqlite3_free(msg);
	sqlite3_finalize(st);
	sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
db_migrate(struct db *d, char *err, size_t errsz)
{
	int	 v, i;

	if ((v = db_version(d)) < 0) {
		snprintf(err, errsz, "%s: cannot read schema version: %s",
		    d->path, db_errmsg(d));
		return -1;
	}
	if (v > db_latest_version()) {
		snprintf(err, errsz, "%s: database schema version %d is newer "
		    "than this callsync (knows up to %d): upgrade callsync",
		    d->path, v, db_latest_version());
		return -1;
	}
	for (i = 0; i < db_nmigrations; i++) {
		if (db_migrations[i].version <= v)
			continue;
		if (db_apply(d, &db_migrations[i], err, errsz) == -1)
			return -1;
		log_debug("%s: applied migration %s", d->path,
		    db_migrations[i].name);
	}
	return 0;
}

/*
 * Open d->path read-only.  "mode=ro" works while the -shm exists or can
 * be made; in a directory this process cannot write and with no -shm (a
 * WAL database after its last clean close), SQLite cannot open it that
 * way (SQLITE_CANTOPEN on the first read), so try again with
 * immutable=1: the file is read as it is, without locks.  Its -wal, if
 * one is left, is then not read: say so.  0, or -1 with err.
 */
static int
db_open_ro(struct db *d, char *err, size_t errsz)
{
	struct stat	 sb;
	char		 uri[PATH_MAX * 3 + 32], wal[PATH_MAX + 8];
	int		 imm, rc;

	for (imm = 0; imm < 2; imm++) {
		if (dbperm_uri_ro(d->path, imm, uri, sizeof(uri)) == -1) {
			snprintf(err, errsz, "%s: path too long", d->path);
			return -1;
		}
		rc = sqlite3_open_v2(uri, &d->h, SQLITE_OPEN_READONLY |
		    SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(d->h, "SELECT count(*) FROM "
			    "sqlite_master", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			break;
		snprintf(err, errsz, "%s: %s", d->path, d->h != NULL ?
		    sqlite3_errmsg(d->h) : sqlite3_errstr(rc));
		sqlite3_close(d->h);
		d->h = NULL;
	}
	if (d->h == NULL)
		return -1;
	snprintf(wal, sizeof(wal), "%s-wal", d->path);
	if (imm && stat(wal, &sb) == 0 && sb.st_size > 0)
		log_warnx("%s: read-only, without its write-ahead log %s "
		    "(this directory cannot be written): the newest changes "
		    "may be missing", d->path, wal);
	d->readonly = true;
	return 0;
}

int
db_open(struct db *d, const char *path, int flags, char *err, size_t errsz)
{
	struct stat	 sb;
	char		 werr[PATH_MAX + 256];
	int		 oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int		 v;

	memset(d, 0, sizeof(*d));
	if (stat(path, &sb) == -1) {
		if (errno == ENOENT && dbperm_dir_missing(path, err, errsz))
			return -1;
		if (errno != ENOENT || !(flags & DB_OPEN_CREATE)) {
			snprintf(err, errsz, "%s: %s%s", path, strerror(errno),
			    errno == ENOENT ? " (run: callsync init)" : "");
			return -1;
		}
		if (db_create_file(path, err, errsz) == -1)
			return -1;
	}
	if ((d->path = strdup(path)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	/* Say who may not write what before SQLite says less (dbperm.h). */
	if (dbperm_check_write(path, werr, sizeof(werr)) == -1) {
		if (!(flags & DB_OPEN_READ)) {
			snprintf(err, errsz, "%s", werr);
			goto out_close;
		}
		if (dbperm_check_read(path, err, errsz) == -1 ||
		    db_open_ro(d, err, errsz) == -1)
			goto out_close;
		db_set_busy_ms(d, DB_BUSY_MS);
		sqlite3_extended_result_codes(d->h, 1);
		sqlite3_wal_autocheckpoint(d->h, 0);	/* one checkpointer */
		v = db_version(d);
		if (!(flags & DB_OPEN_NOMIGRATE) && v != db_latest_version()) {
			snprintf(err, errsz, "%s: schema version %d, this "
			    "callsync needs %d and cannot migrate it read-only "
			    "(%s): run callsync migrate as a user who can write "
			    "it", path, v, db_latest_version(), werr);
			goto out_close;
		}
		return 0;
	}
	if (sqlite3_open_v2(path, &d->h, oflags, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, db_errmsg(d));
		goto out_close;
	}
	db_set_busy_ms(d, DB_BUSY_MS);
	sqlite3_extended_result_codes(d->h, 1);
	/* Only the worker checkpoints: the WAL-reset bug (db.h). */
	if (!(flags & DB_OPEN_CHECKPOINT) &&
	    sqlite3_wal_autocheckpoint(d->h, 0) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, db_errmsg(d));
		goto out_close;
	}
	if (db_exec(d, "PRAGMA journal_mode=WAL") == -1 ||
	    db_exec(d, "PRAGMA foreign_keys=ON") == -1 ||
	    db_exec(d, (flags & DB_OPEN_NOSYNC) ?
	    "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL") == -1) {
		snprintf(err, errsz, "%s: %s", path, db_errmsg(d));
		goto out_close;
	}
	if (!(flags & DB_OPEN_NOMIGRATE) && db_migrate(d, err, errsz) == -1)
		goto out_close;
	return 0;
out_close:
	db_close(d);
	return -1;
}

void
db_close(struct db *d)
{
	size_t		 i;
	sqlite3_stmt	*st;

	db_clearerr(d);
	for (i = 0; i < d->ncache; i++)
		sqlite3_finalize(d->cache[i].st);
	d->ncache = 0;
	if (d->h != NULL) {
		/* Strays mean a module forgot to finalize: say so. */
		while ((st = sqlite3_next_stmt(d->h, NULL)) != NULL) {
			log_warnx("%s: unfinalized statement: %s", d->path,
			    sqlite3_sql(st));
			sqlite3_finalize(st);
		}
		sqlite3_close(d->h);
		d->h = NULL;
	}
	free(d->path);
	d->path = NULL;
}

/* The cached statement for sql (keyed by the pointer), reset. */
static sqlite3_stmt *
db_stmt(struct db *d, const char *sql)
{
	size_t		 i;
	sqlite3_stmt	*st;
	int		 rc;

	for (i = 0; i < d->ncache; i++)
		if (d->cache[i].sql == sql) {
			st = d->cache[i].st;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return st;
		}
	if ((rc = sqlite3_prepare_v2(d->h, sql, -1, &st, NULL)) != SQLITE_OK) {
		db_seterr(d, rc, sqlite3_errmsg(d->h));
		log_warnx("%s: prepare: %s: %s", d->path, d->errbuf, sql);
		return NULL;
	}
	if (d->ncache < DB_STMT_CACHE) {
		d->cache[d->ncache].sql = sql;
		d->cache[d->ncache].st = st;
		d->ncache++;
	} else {
		/* Cache full: a design error, but keep working. */
		log_warnx("%s: statement cache full", d->path);
		db_seterr(d, SQLITE_ERROR, "statement cache full");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

sqlite3_stmt *
db_prep(struct db *d, const char *sql)
{
	db_clearerr(d);
	return db_stmt(d, sql);
}

/*
 * Transaction control (BEGIN, COMMIT, SAVEPOINT, RELEASE) by a cached
 * statement: sqlite3_exec parsed and prepared the text on every call,
 * two per operation of a group (callgrind: 4% of all instructions,
 * issue 15 item 6).  Sets no error: an SQLite result code, SQLITE_OK
 * when done; the caller reports it as it did the sqlite3_exec one.
 */
static int
db_ctl(struct db *d, const char *sql)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = db_stmt(d, sql)) == NULL)
		return d->lasterr != 0 ? d->lasterr : SQLITE_ERROR;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/*
 * 1 when SQLite rolled the open group back by itself (FULL, IOERR,
 * NOMEM roll back the whole transaction): from then on statements would
 * run in autocommit, so the group is marked lost, and db_group_end fails
 * it whatever follows.
 */
static int
db_group_gone(struct db *d)
{
	if (d->group && !d->group_lost && sqlite3_get_autocommit(d->h)) {
		d->group_lost = 1;
		db_seterr(d, SQLITE_ABORT, "group transaction was rolled back "
		    "by SQLite after an error");
		log_warnx("%s: %s", d->path, d->errbuf);
	}
	return d->group_lost;
}

int
db_begin(struct db *d)
{
	int	 rc;

	if (d->group && d->txdepth == 1) {
		/* One operation inside the group transaction.  If SQLite
		 * rolled the group back after an error, a SAVEPOINT would
		 * start a new transaction: the group is lost instead. */
		if (db_group_gone(d))
			return -1;
		db_clearerr(d);
		if ((rc = db_ctl(d, "SAVEPOINT op")) != SQLITE_OK) {
			db_fail(d, rc);
			return -1;
		}
		d->txdepth++;
		d->rbonly = 0;
		d->rbrc = 0;
		d->rbwhy[0] = '\0';
		return 0;
	}
	if (d->txdepth++ > 0)
		return 0;
	d->rbonly = 0;
	d->rbrc = 0;
	d->rbwhy[0] = '\0';
	db_clearerr(d);
	if ((rc = db_ctl(d, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		db_fail(d, rc);
		d->txdepth = 0;
		return -1;
	}
	return 0;
}

/*
 * Outermost COMMIT.  A transaction an inner level gave up on is rolled
 * back instead: committing the outer part alone would persist half an
 * operation (say, a lane sorted but its dead letter not written).
 */
int
db_commit(struct db *d)
{
	int	 rc;

	if (d->group && d->txdepth == 1)
		return -1;	/* an operation whose begin failed: not ours */
	if (d->group && d->txdepth == 2) {
		d->txdepth = 1;
		if (db_group_gone(d))
			return -1;
		if (d->rbonly) {	/* an inner level gave up: undo it alone */
			sqlite3_exec(d->h, "ROLLBACK TO op", NULL, NULL, NULL);
			sqlite3_exec(d->h, "RELEASE op", NULL, NULL, NULL);
			d->rbonly = 0;
			d->lasterr = d->rbrc != 0 ? d->rbrc : SQLITE_ABORT;
			snprintf(d->errbuf, sizeof(d->errbuf), "inner statement "
			    "failed; rolled back%s%.180s%s", d->rbwhy[0] != '\0' ?
			    " (" : "", d->rbwhy, d->rbwhy[0] != '\0' ? ")" : "");
			return -1;
		}
		if ((rc = db_ctl(d, "RELEASE op")) != SQLITE_OK) {
			db_fail(d, rc);
			return -1;
		}
		return 0;
	}
	if (d->txdepth == 0 || --d->txdepth > 0)
		return 0;
	if (d->rbonly) {
		rc = d->rbrc != 0 ? d->rbrc : SQLITE_ABORT;
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
		d->rbonly = 0;
		d->lasterr = rc;
		snprintf(d->errbuf, sizeof(d->errbuf),
		    "inner statement failed; rolled back%s%.180s%s",
		    d->rbwhy[0] != '\0' ? " (" : "", d->rbwhy,
		    d->rbwhy[0] != '\0' ? ")" : "");
		log_warnx("%s: %s", d->path, d->errbuf);
		return -1;
	}
	/* SQLite rolls back by itself on some errors (FULL, IOERR, NOMEM). */
	if (sqlite3_get_autocommit(d->h)) {
		db_seterr(d, SQLITE_ABORT, "transaction was rolled back by "
		    "SQLite after an error");
		log_warnx("%s: %s", d->path, d->errbuf);
		return -1;
	}
	if ((rc = db_ctl(d, "COMMIT")) != SQLITE_OK) {
		db_fail(d, rc);
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

void
db_rollback(struct db *d)
{
	if (d->txdepth == 0 || (d->group && d->txdepth == 1))
		return;		/* (an operation whose begin failed) */
	if (d->group && d->txdepth == 2) {
		d->txdepth = 1;
		d->rbonly = 0;
		if (db_group_gone(d))
			return;
		sqlite3_exec(d->h, "ROLLBACK TO op", NULL, NULL, NULL);
		sqlite3_exec(d->h, "RELEASE op", NULL, NULL, NULL);
		return;
	}
	if (--d->txdepth > 0) {
		/* Inner level: the outermost commit will roll back. */
		if (!d->rbonly) {
			d->rbonly = 1;
			d->rbrc = d->lasterr;
			snprintf(d->rbwhy, sizeof(d->rbwhy), "%.180s",
			    d->lasterr != 0 ? d->errbuf : "");
		}
		return;
	}
	d->rbonly = 0;
	if (sqlite3_get_autocommit(d->h) == 0)
		sqlite3_exec(d->h, "ROLLBACK", NULL, NULL, NULL);
}

int
db_group_begin(struct db *d)
{
	if (d->group || d->txdepth > 0)
		return -1;		/* one group, never inside a transaction */
	if (db_begin(d) == -1)
		return -1;
	d->group = 1;
	d->group_lost = 0;
	return 0;
}

int
db_group_end(struct db *d, int commit)
{
	if (!d->group)
		return -1;
	/* An operation left open (a bug) must not be committed half. */
	while (d->txdepth > 1)
		db_rollback(d);
	if (db_group_gone(d))
		commit = 0;
	d->group = 0;
	if (!commit) {
		db_rollback(d);
		return d->group_lost ? -1 : 0;
	}
	return db_commit(d);
}

int
db_step_done(struct db *d, sqlite3_stmt *st)
{
	int	 rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		db_seterr(d, rc, sqlite3_errmsg(d->h));
		log_warnx("%s: %s: %s", d->path, d->errbuf, sqlite3_sql(st));
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

int
db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(st, i) == SQLITE_OK ? 0 : -1;
	return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) ==
	    SQLITE_OK ? 0 : -1;
}

int
db_bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	return sqlite3_bind_int64(st, i, v) == SQLITE_OK ? 0 : -1;
}

char *
db_col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char	*s;

	if ((s = sqlite3_column_text(st, i)) == NULL)
		return NULL;
	return strdup((const char *)s);
}
