/*
 * dbperm: can this process write (or read) the SQLite database at a path,
 * and if not, a one-line answer an operator can act on: which file or
 * directory, its owner and mode, and what the process runs as:
 *
 *   cannot open /x/outbox.db for writing: owner callsync (uid 998)
 *   mode 0640; running as uid 1000 (bob)
 *
 * SQLite itself only says "unable to open database file" or "attempt to
 * write a readonly database", and opens a write-protected file read-only
 * without a word.  A WAL database needs to write <db>-wal and <db>-shm
 * too (and to create them in the directory when they are missing, which
 * is after every clean close), so these are checked the same way.
 *
 * The answers come from access(2) (real uid, as the process runs without
 * set-id bits), asked before SQLite is: a file mode change between the
 * check and the open is caught by SQLite as before, with its own words.
 */
#ifndef CALLSYNC_DBPERM_H
#define CALLSYNC_DBPERM_H

#include <stddef.h>

/* 0 if path and its -wal/-shm can be written; -1 with err saying why. */
int	 dbperm_check_write(const char *path, char *err, size_t errsz);
/* 0 if path can be read; -1 with err saying why. */
int	 dbperm_check_read(const char *path, char *err, size_t errsz);
/* "cannot create PATH: directory DIR: owner ...; running as ..." */
void	 dbperm_create_err(const char *path, int errnum, char *err,
	    size_t errsz);
/*
 * A read-only SQLite URI for path into buf ("file:/x/outbox.db?mode=ro",
 * with "&immutable=1" when immutable); -1 if it does not fit.
 */
int	 dbperm_uri_ro(const char *path, int immutable, char *buf, size_t sz);

/*
 * 1 with a message naming the directory and the fix when path's directory
 * does not exist, else 0 (err untouched).
 */
int	 dbperm_dir_missing(const char *path, char *err, size_t errsz);

#endif
