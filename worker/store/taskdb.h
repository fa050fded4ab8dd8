/*
 * taskdb: the tasks table (migrations 0014, 0017), all its SQL: the call
 * tasks the inbox's rules make (inbox.c inserts them), as the task API
 * (api/tasks.c), `callsync tasks`, /metrics, /healthz and the webhook's
 * phone fill-in (api/webhook.c) read and change them.
 *
 * A task is due, leased (claimed until lease_until), done, failed or
 * cancelled; the last three are final.  A lease that ran out reads as
 * due: taskdb_state says so for a row, and every statement that selects
 * due tasks counts such a task as due, and claims it again.
 *
 * Every statement goes through db_prep's cache and is reset as soon as
 * its rows are read, so no read snapshot stays open.  Functions return
 * -1 on a database error (db_errmsg, db_busy say which); none of them
 * logs, except where db_step_done does (a failed write).
 */
#ifndef CALLSYNC_TASKDB_H
#define CALLSYNC_TASKDB_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

/*
 * One row of tasks, as the task API shows it.  Strings borrowed: valid
 * during the callback only; NULL for a NULL column (contact_id ... record
 * key may be NULL; workspace, reason, state and rule never are).
 * lease_until is 0 when NULL.  state is the stored one: taskdb_state
 * gives the one to show.
 */
struct taskdb_row {
	int64_t		 id;
	const char	*workspace, *contact_id, *phone, *email, *name;
	const char	*reason, *conversation_id;
	int64_t		 due_at, lease_until;
	const char	*state, *rule;
	int64_t		 priority;
	const char	*outcome;
	int64_t		 created_at, updated_at;
	const char	*record_key;
};

/* The state of r at now: "due" for a lease that ran out (lease_until <=
 * now), else r's state.  Borrowed from r (or static).  Pure. */
const char	*taskdb_state(const struct taskdb_row *r, int64_t now);

/*
 * Task id: fn called with its row, then 1; 0 when there is none; -1 on a
 * database error or when fn returned non-zero.
 */
int		 taskdb_get(struct db *, int64_t id,
		    int (*fn)(const struct taskdb_row *, void *), void *arg);
/*
 * In one transaction (BEGIN IMMEDIATE: two claimers never take the same
 * task): the next due task (of workspace ws, or any when NULL), highest
 * priority first, then oldest due_at, then lowest id; a task whose lease
 * ran out is due again.  Leased to now + lease_s.  1 with *id, 0 when
 * none is due (nothing changed), -1 on a database error (rolled back).
 */
int		 taskdb_claim(struct db *, const char *ws, int lease_s,
		    int64_t now, int64_t *id);

enum taskdb_fin {
	TASKDB_FIN_ERR = -1,	/* database error or outbox refusal; undone */
	TASKDB_FIN_OK = 0,	/* moved (and the record enqueued) */
	TASKDB_FIN_UNKNOWN,	/* no task id */
	TASKDB_FIN_FINAL,	/* already done, failed or cancelled */
	TASKDB_FIN_KEY_TAKEN	/* another record is in the outbox as key */
};
/*
 * In one transaction: move task id to state ("done", "failed",
 * "cancelled", or "due" for a release), its lease cleared, with outcome
 * (NULL keeps the old one); when key is non-NULL, payload (a validated
 * record, borrowed) enqueued as key in the task's workspace too
 * (outbox_enqueue) and the task naming it (record_key).  Both or
 * neither.  err (errsz > 0) is emptied, then says why on KEY_TAKEN and
 * on an outbox refusal.
 */
enum taskdb_fin	 taskdb_finish(struct db *, int64_t id, const char *state,
		    const char *outcome, const char *key, const char *payload,
		    int64_t now, char *err, size_t errsz);
/*
 * Tasks whose state at now (taskdb_state) is state (all when NULL),
 * newest first (id), at most limit: fn called for each.  0, or -1 on a
 * database error or when fn returned non-zero.
 */
int		 taskdb_list(struct db *, const char *state, int64_t now,
		    int limit, int (*fn)(const struct taskdb_row *, void *),
		    void *arg);
/*
 * Per workspace with tasks due at now (leases run out count, whatever
 * their due_at): fn(workspace (borrowed, during the call), how many, the
 * oldest one's due_at, arg).  0, or -1 on a database error or when fn
 * returned non-zero.
 */
int		 taskdb_due_counts(struct db *, int64_t now,
		    int (*fn)(const char *, int64_t, int64_t, void *),
		    void *arg);
/*
 * The oldest due_at of workspace ws's tasks due by now (a lease run out
 * counts): 1 with *due_at, 0 when none, -1 on a database error.
 */
int		 taskdb_oldest_due(struct db *, const char *ws, int64_t now,
		    int64_t *due_at);

/*
 * Phone fill-in (webhook.c): the tasks of ws still due or leased that
 * name a contact but no phone, and whose phone was never asked for or
 * last asked before `before`, oldest id first, at most max (<= n of the
 * arrays).  ids[i] and cids[i] (new: the caller frees; NULL when out of
 * memory) for each; returns how many, the rows read before a failing
 * step included, or -1 when the statement could not be prepared.
 */
int		 taskdb_phones_unread(struct db *, const char *ws,
		    int64_t before, int max, int64_t *ids, char **cids);
/* Task id's phone was asked for at now (phone_read_at).  0 or -1. */
int		 taskdb_phone_asked(struct db *, int64_t id, int64_t now);
/*
 * Task id got its contact's phone (and email and name where it has none
 * yet; both may be NULL), unless it has a phone already (then nothing
 * changes).  0 (also when nothing changed), or -1.
 */
int		 taskdb_fill_phone(struct db *, int64_t id, const char *phone,
		    const char *email, const char *name);

#endif
