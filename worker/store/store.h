/*
 * store: the SQL of callsync(8)'s commands and of callsyncd's pages, in
 * one place.
 *
 * What callsync and callsyncd both read is a function here, with the row
 * as a struct: the workers table (store_workers: `callsync status` and
 * /metrics) and a workspace's state row (store_ws_state: status, /ui),
 * so the two sides cannot read two different things; their writers,
 * callsyncd's heartbeat and state save (store_worker_beat,
 * store_ws_state_save), sit beside them for the same reason.  The same holds
 * for the functions of the modules that own their tables, which
 * callsync calls where it does what the daemon does (outbox_ws_counts:
 * status and /metrics; outbox_unstep: dlq edit's journal invalidation).
 *
 * Every other statement of the commands, and those of the daemon's
 * pages (/ui, /metrics' audit counts), is an entry of enum store_q, its
 * text an entry of the array in store.c (kcaldav's sqls[SQL__MAX]),
 * prepared once through db_prep's cache; the command binds, steps and
 * formats (a page writes HTML).  Parameters and columns are those of
 * the text in store.c, whose column order is part of each entry's
 * contract.
 *
 * The daemon's own SQL stays with the module that owns its table
 * (outbox.c, audit.c, ident.c, ...).  tests/integration/66_store_sql.sh
 * fails when SQL text appears in tools/ again.
 */
#ifndef CALLSYNC_STORE_H
#define CALLSYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "db.h"

enum store_q {
	/* The workers table: callsync forget-worker; store_worker_forget
	 * (callsyncd's clean exit, ops.c) */
	SQ_WORKER_FORGET,
	/* Workspaces: callsync status, top, doctor */
	SQ_WS_KNOWN,
	SQ_WS_DONE,
	SQ_WS_DELIVERED_SINCE,
	SQ_WS_WAITING,
	/* A record and what hangs off it: ls, show, records, export */
	SQ_REC_LIST,
	SQ_REC_ROW,
	SQ_REC_BY_KEY,
	SQ_REC_EXISTS,
	SQ_REC_PAYLOAD,
	SQ_REC_JOURNAL,
	SQ_JOURNAL_STEPS,
	SQ_REC_ATTEMPTS,
	SQ_REC_DEAD_LETTER,
	SQ_REC_HANDOFF,
	SQ_REC_PAYLOADS,
	SQ_REC_AUDIT,
	/* Dead letters: callsync dlq */
	SQ_DLQ_LIST,
	SQ_DLQ_REQUEUE,
	SQ_DLQ_DROP,
	SQ_HANDOFF_FORGET,
	SQ_DEAD_LETTER_FORGET,
	SQ_DEAD_PAYLOAD,
	SQ_DEAD_PAYLOAD_ID,
	SQ_PAYLOAD_KEEP,
	SQ_DEAD_PAYLOAD_SET,
	/* Pending records moved or cancelled: callsync records */
	SQ_PENDING_LIST,
	SQ_PENDING_MOVE,
	SQ_PENDING_CANCEL,
	SQ_CANCEL_LETTER,
	/* Export, import and hand-off: callsync export, import */
	SQ_READ_BEGIN,
	SQ_READ_COMMIT,
	SQ_READ_ROLLBACK,
	SQ_XFER_INFLIGHT,
	SQ_XFER_MAXID,
	SQ_XFER_COUNT_UPTO,
	SQ_XFER_PAGE,
	SQ_XFER_COUNT,
	SQ_XFER_ALL,
	SQ_HANDOFF_MARK,
	SQ_HANDOFF_STATE,
	SQ_HANDOFF_SEAL,
	SQ_IMPORT_RECORD,
	SQ_IMPORT_JOURNAL,
	SQ_IMPORT_HANDOFF,
	SQ_IMPORT_DEAD_LETTER,
	/* Retention: callsync prune */
	SQ_PRUNE_COUNT,
	SQ_PRUNE_DONE,
	/* The audit trail: callsync audit */
	SQ_AUDIT_FIND,
	/* Contact identities (ident.c writes them): callsync contacts */
	SQ_IDENT_LIST,
	SQ_IDENT_OF_CONTACT,
	SQ_IDENT_LOOKUP,
	SQ_MERGE_OF_CONTACT,
	SQ_MERGE_LIST,
	SQ_DUP_OF_CONTACT,
	/* The daemon's pages: /ui (ui.c), /metrics (metrics.c) */
	SQ_UI_IN_DOUBT,
	SQ_UI_DEAD_GROUPS,
	SQ_UI_UNSERVED,
	SQ_UI_RECENT,
	SQ_AUDIT_PER_WS,
	SQ__MAX
};

/*
 * The prepared statement for q, reset and with bindings cleared, or NULL
 * with db_errmsg() set.  Borrowed (db_prep's cache): do not finalize;
 * reset it when done so that no read snapshot stays open.
 */
sqlite3_stmt	*store_prep(struct db *, enum store_q);
/* Run q (no parameters, no rows: BEGIN, COMMIT, ROLLBACK); 0 or -1. */
int		 store_exec(struct db *, enum store_q);
/*
 * One row of the workers table (migration 0004), as callsync status and
 * /metrics (ops_workers) both read it.  Strings borrowed: valid during
 * the callback only.
 */
struct store_worker {
	const char	*owner, *host, *version;
	const char	*workspaces;	/* "acme,globex": what it serves */
	int64_t		 pid, started_at, heartbeat_at;
};
/*
 * Call fn for each row, oldest worker first (started_at, owner); no row
 * before 0004 (no table).  0, or -1 on a database error (db_errmsg) or
 * when fn returned non-zero.
 */
int		 store_workers(struct db *,
		    int (*fn)(const struct store_worker *, void *), void *);
/*
 * callsyncd's heartbeat (ops.c): insert w's row (w borrowed; its
 * started_at is not read: a new row starts at its first heartbeat_at),
 * or on a later beat move only its heartbeat_at and workspaces.
 * store_worker_forget: delete owner's row (a clean exit).  Both: 0
 * written; 1 the database was busy (SQLITE_BUSY, SQLITE_LOCKED: nothing
 * written, the next beat tries again); -1 failed, SQLite's message in
 * why (whysz bytes, the caller's), or why empty when the statement
 * could not be prepared or bound (db_prep has logged that).  Nothing
 * is logged here: the heartbeat says what a failed beat means.
 */
int		 store_worker_beat(struct db *, const struct store_worker *,
		    char *why, size_t whysz);
int		 store_worker_forget(struct db *, const char *owner, char *why,
		    size_t whysz);

/*
 * A workspace's workspace_state row (written by engine.c), as callsync
 * status, tool_ws_served and /ui read it.  A NULL time reads 0.
 */
struct store_ws_state {
	char		*breaker;	/* new: "closed", "open", "half_open" */
	char		*pause_reason;	/* new, or NULL */
	char		*worker;	/* new, or NULL: "host:pid:nonce" */
	int64_t		 breaker_since, rate_limited_until;
	int64_t		 last_delivery_at, updated_at;
	bool		 paused;
};
/*
 * Read ws's row into *s: 1, or 0 when it has none (*s zeroed), or -1 on
 * a database error.  Free its strings with store_ws_state_free (also
 * after 0 and -1).
 */
int		 store_ws_state(struct db *, const char *ws,
		    struct store_ws_state *);
void		 store_ws_state_free(struct store_ws_state *);
/*
 * What callsyncd saves of a workspace (ws_save, wsrt.c): the row
 * store_ws_state reads, strings borrowed.  A time of 0 is stored as
 * NULL (none: not in an outage, not rate limited), except that
 * last_delivery_at 0 keeps the one stored (no delivery since the last
 * save); updated_at is the database's now.
 */
struct store_ws_save {
	const char	*breaker;	/* "closed", "open", "half_open" */
	const char	*pause_reason;	/* NULL: not paused */
	const char	*worker;	/* "host:pid:nonce" */
	int64_t		 breaker_since, rate_limited_until;
	int64_t		 last_delivery_at;
	bool		 paused;
};
/* Insert or replace ws's row; 0, or -1 (logged, db_errmsg()). */
int		 store_ws_state_save(struct db *, const char *ws,
		    const struct store_ws_save *);

/*
 * PRAGMA integrity_check on a statement of its own (not cached: run
 * once); true when SQLite answered "ok".
 */
bool		 store_integrity_ok(struct db *);

#endif
