/*
 * tasks: the call tasks the inbox's rules make (inbox.h), as the voice
 * agent sees them (docs/contract.md section 6).  A task is due, leased
 * (claimed, until lease_until; an expired lease makes it due again),
 * done, failed or cancelled.  Done, failed and cancelled are final: a
 * task is called once.
 *
 * The functions below tasks_http read and change the tasks of a struct
 * db (the daemon's, or the tool's for `callsync tasks`) through the
 * store's taskdb.h, which holds the table's SQL, and give them as the
 * task API's JSON; tasks_http answers the task API on the local API
 * listener (httpd.c).
 */
#ifndef CALLSYNC_TASKS_H
#define CALLSYNC_TASKS_H

#include <stdint.h>
#include <jansson.h>

#include "db.h"

struct rt;
struct evhttp_request;

/* The task as JSON (contract fields plus rule, priority, outcome); NULL
 * when there is none (*found 0) or on a database error (*found -1). */
json_t	*tasks_get(struct db *, int64_t id, int64_t now, int *found);
/* Lease the next due task (of ws, or any when NULL) for lease_s: 1 with
 * *out, 0 when none is due, -1 on a database error. */
int	 tasks_claim(struct db *, const char *ws, int lease_s, int64_t now,
	    json_t **out);
/*
 * Move task id to state ("done", "failed", "cancelled", or "due" for a
 * release) with outcome (may be NULL).  200 on success, 404 unknown,
 * 409 when it is already final, -1 on a database error.
 */
int	 tasks_finish(struct db *, int64_t id, const char *state,
	    const char *outcome, int64_t now);
/*
 * A done that enqueues the call the agent made: task id done with
 * outcome and, in the same transaction, payload (a validated record,
 * borrowed) enqueued as key in the task's workspace, the task naming it
 * (record_key).  Both or neither: 200; 404 unknown; 409 when the task is
 * final already (err empty) or another record has key (err says so,
 * nothing changed); -1 on a database error or an outbox refusal (err).
 */
int	 tasks_done_record(struct db *, int64_t id, const char *outcome,
	    const char *key, const char *payload, int64_t now, char *err,
	    size_t errsz);
/* Tasks (of state, or all when NULL, an effective state: an expired
 * lease reads "due"), newest first, at most limit; NULL on error. */
json_t	*tasks_list(struct db *, const char *state, int64_t now, int limit);
/* Due tasks and the oldest due one's due_at (0 none), per workspace,
 * as {ws: [n, oldest]}; NULL on error. */
json_t	*tasks_due_counts(struct db *, int64_t now);

/* Age (s) of workspace ws's oldest due task (an expired lease counts),
 * 0 when none or on a database error. */
int64_t	 tasks_oldest_due(struct db *, const char *ws, int64_t now);

struct httpd;
/* Route the task API (/v1/tasks and under it) of h to e's tasks. */
int	 tasks_routes(struct rt *, struct httpd *);
/* Answer a request to the task API. */
void	 tasks_http(struct rt *, struct evhttp_request *,
	    const char *path);

#endif
