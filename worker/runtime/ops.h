/*
 * ops: what the worker tells its operators and its service manager,
 * kept out of the engine's delivery logic.
 *
 * - systemd (sd_notify(3)): READY=1 once the boot checks have started,
 *   STOPPING=1 on SIGTERM, WATCHDOG=1 from a timer at half the
 *   WatchdogSec the manager asked for.  Without NOTIFY_SOCKET each call
 *   is a no-op.
 * - Heartbeats: the workers table (migration 0004): a row inserted at
 *   start, heartbeat_at updated every OPS_HEARTBEAT_S seconds, the row
 *   deleted on a clean exit.
 * - The start-up lines: one with version, configuration, database,
 *   schema version and workspaces; one per workspace with its GET /me
 *   outcome (the admin and app names, or the HTTP status; never a token).
 */
#ifndef CALLSYNC_OPS_H
#define CALLSYNC_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "db.h"
#include "http.h"

#define OPS_HEARTBEAT_S	10	/* seconds between heartbeats */
/* A worker whose heartbeat is older than this (s) is stale, running or not. */
#define OPS_HEARTBEAT_STALE_S	60
#define OPS_MAXWORKERS	32	/* rows of the workers table /metrics shows */

/* sd_notify wrappers; errors are logged once at debug level. */
void	 ops_notify(const char *state);
/* Half the watchdog interval in microseconds, or 0 without a watchdog. */
uint64_t ops_watchdog_half_usec(void);

/* "acme,globex" from c's workspaces into buf. */
void	 ops_ws_list(const struct conf *, char *buf, size_t sz);
/* The start-up line. */
void	 ops_log_start(const char *conf_path, const struct conf *, int schema);
/* The GET /me outcome of workspace ws, once: *logged is set. */
/* foreign: the network answered instead of Intercom: nothing is logged
 * (the breaker's line says it), and the next answer is logged. */
void	 ops_log_me(const char *ws, const struct http_req *, bool foreign,
	    bool *logged);

/*
 * workers table: insert owner's row, or on a beat update its heartbeat
 * and workspaces (a row deleted meanwhile comes back); delete it.  0, -1.
 */
int	 ops_hb_register(struct db *, const char *owner, const char *host,
	    const char *workspaces, int64_t now);
int	 ops_hb_unregister(struct db *, const char *owner);

/*
 * Is owner's process alive?  1 when another open file holds the flock on
 * its lock file under <dbpath>.owners/ (our own worker counts: its lock
 * is on another open file), 0 when the file is missing or could be
 * locked (why says which), -1 when it cannot be told (why says why).
 * Nothing is created or deleted.
 */
int	 ops_owner_alive(const char *dbpath, const char *owner, char *why,
	    size_t whysz);

/* One row of the workers table as /metrics shows it. */
struct ops_worker {
	char		 owner[160];
	char		 host[80];
	int64_t		 age_s;		/* since its last heartbeat */
	bool		 live;		/* lock held, heartbeat fresh */
	char		 workspaces[512];	/* "acme,globex" it serves */
};
/*
 * Read up to max rows of the workers table into w (*n of them), judging
 * each live or stale as callsync status does; *total counts every row
 * and *nlive the live ones, kept or not.  0, or -1 on a database error.
 * An absent table (before 0004) is 0 rows.
 */
int	 ops_workers(struct db *, const char *dbpath, int64_t now,
	    struct ops_worker *w, size_t max, size_t *n, size_t *total,
	    size_t *nlive);

#endif
