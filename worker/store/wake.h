/*
 * wake: wake the worker when another process commits to the outbox.
 *
 * A producer's INSERT (callsync enqueue, or the documented SQL insert)
 * writes the database's -wal file (WAL mode) or the database file itself
 * (rollback journal).  inotify reports those writes on a descriptor that
 * the event loop watches; the module then asks SQLite whether anything
 * was committed by another connection (PRAGMA data_version, which the
 * worker's own commits do not move) and, if so, calls the owner's
 * callback.  It reads data_version at most once per WAKE_MIN_GAP_MS: a
 * burst of inserts costs a few outbox polls, not one per page written.
 *
 * Everything here is an optimisation over the poll timer, which keeps
 * running: where inotify is missing or full (ENOSYS, ENOSPC, a network
 * file system that never reports remote writes), wake_new() says why
 * once and the worker falls back to poll_interval_ms.
 */
#ifndef CALLSYNC_WAKE_H
#define CALLSYNC_WAKE_H

#include <event2/event.h>

#include "db.h"

#define WAKE_MIN_GAP_MS	5	/* between two data_version reads */

struct wake;

/*
 * Watch the database at dbpath (opened as d, borrowed; it must outlive
 * the wake) and call fn(arg) from base's loop when another connection
 * committed.  NULL when inotify cannot be used; the reason was logged.
 */
struct wake	*wake_new(struct event_base *base, struct db *d,
		    const char *dbpath, void (*fn)(void *), void *arg);
void		 wake_free(struct wake *);
/* Callbacks made so far (for the log line at exit and tests). */
long		 wake_count(const struct wake *);

#endif
