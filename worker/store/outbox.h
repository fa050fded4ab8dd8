/*
 * outbox: records, their step journal, attempts and dead letters.
 *
 * A record moves pending -> inflight -> done | dead.  Claiming sets the
 * lease and charges the attempt in one statement; a failure that proves
 * to be an outage or a throttle refunds it.  Every write the worker makes
 * after a claim is guarded by its lease (lease_owner = me), so a worker
 * that lost its lease to another never overwrites that worker's progress.
 */
#ifndef CALLSYNC_OUTBOX_H
#define CALLSYNC_OUTBOX_H

#include <stdint.h>
#include <time.h>

#include "db.h"

struct ob_rec {
	int64_t		 id;
	char		*workspace;
	char		*record_key;
	char		*payload;
	char		*marker;	/* unique one-word token, e.g. cs1f2e... */
	char		*lane;		/* NULL until sorted */
	char		*state;
	int		 attempts;
	int		 in_doubt;
	int64_t		 enqueued_at;
	int64_t		 next_at;
	char		*last_error;	/* newest failure; NULL: none */
	int64_t		 first_seen_at;	/* first claim (0012); 0 not yet */
};

/* Frees the strings of r (not r itself); NULL-safe. */
void	 ob_rec_clear(struct ob_rec *r);
/* Frees an array of n records from outbox_claim/outbox_unsorted. */
void	 ob_rec_free_array(struct ob_rec *, size_t n);

enum ob_enq { OB_ENQ_NEW, OB_ENQ_SAME, OB_ENQ_DIFFERS };

/*
 * Insert a record unless (workspace, key) exists.  *res says which.  A
 * payload that is not JSON or is over 1 MiB is refused (-1, err says why).
 */
int	 outbox_enqueue(struct db *, const char *ws, const char *key,
	    const char *payload, enum ob_enq *res, char *err, size_t errsz);

/* Pending records not yet sorted into a lane (up to max); new array. */
int	 outbox_unsorted(struct db *, size_t max, struct ob_rec **, size_t *n);
int	 outbox_unsorted_ws(struct db *, const char *ws, size_t max,
	    struct ob_rec **, size_t *n);
int	 outbox_set_lane(struct db *, int64_t id, const char *lane);

/*
 * Claim up to max due records of workspace ws for owner, lease seconds.
 * Records whose lease lapsed are reclaimed in doubt.  A record is only
 * claimed when no earlier record of its lane is pending or in flight.
 */
int	 outbox_claim(struct db *, const char *ws, const char *owner,
	    int64_t now, int lease, size_t max, struct ob_rec **, size_t *n);
/*
 * Extend every lease owner holds; returns rows touched or -1.
 * Deprecated: use outbox_renew_ids().
 */
int	 outbox_renew(struct db *, const char *owner, int64_t now, int lease);
/*
 * Extend to now + lease the leases of ids (n of them, borrowed) that are
 * still in flight under owner; others are left alone.  One transaction.
 * Returns rows touched (< n: some lease was lost) or -1.
 */
int	 outbox_renew_ids(struct db *, const char *owner, const int64_t *ids,
	    size_t n, int64_t now, int lease);
/*
 * Deprecated: use outbox_recover_dead() (kill(pid, 0) lies under PID
 * reuse and across PID namespaces).
 * At start-up: in-flight records whose owner was this host and whose pid
 * is gone go back to pending, in doubt.  Returns how many.
 */
int	 outbox_recover(struct db *, const char *host);

/*
 * Owner identity and liveness (see outbox.c "Owners and liveness").
 * outbox_owner_new: "host:pid:nonce" (nonce: 16 hex digits from
 * getrandom) into buf; -1 with errno if sz is too small or no entropy.
 */
int	 outbox_owner_new(char *buf, size_t sz);
/*
 * Create <dbpath>.owners/ (0700) and hold flock(LOCK_EX) on the file
 * named after owner ([A-Za-z0-9._-], others '_') for the life of the
 * process: *fd (O_CLOEXEC) must stay open.  -1 with errno on failure,
 * EWOULDBLOCK if another process holds that owner's lock.
 */
/* The lock file of owner: <dbpath>.owners/<owner with anything but
 * [A-Za-z0-9._-] as '_'>; -1 (ENAMETOOLONG) when it does not fit. */
int	 outbox_owner_path(const char *dbpath, const char *owner, char *buf,
	    size_t sz);
int	 outbox_owner_lock(const char *dbpath, const char *owner, int *fd);
/* Clean exit: unlink owner's lock file, then close fd (-1: no-op). */
void	 outbox_owner_unlock(const char *dbpath, const char *owner, int fd);
/*
 * Every owner but self_owner with in-flight records whose lock file
 * exists and can be locked is dead: its records go back to pending, in
 * doubt (attempt stays charged), and its lock file is removed.  Owners
 * without a lock file are left to lease expiry.  Returns rows released,
 * or -1 (db_busy() says whether to retry).
 */
int	 outbox_recover_dead(struct db *, const char *dbpath,
	    const char *self_owner);
/* Release every claim owner holds (SIGTERM), refunding the attempt. */
int	 outbox_release_all(struct db *, const char *owner);

/* Journal. */
struct ob_step {
	char	*step;
	char	*intercom_id;
	char	*detail;
};
int	 outbox_journal(struct db *, int64_t id, struct ob_step **, size_t *n);
void	 ob_step_free_array(struct ob_step *, size_t n);

/*
 * Outcomes.  All are guarded by owner: -1 with *lost = 1 when the lease
 * went to another worker (then nothing was written).
 */
int	 outbox_done(struct db *, int64_t id, const char *owner, int64_t now,
	    int *lost);
struct ob_fail {
	const char	*class;		/* transient, outage, rate_limited, auth, permanent, invalid */
	const char	*reason;	/* dead letters: short code */
	const char	*step;
	long		 http_status;	/* 0 if none */
	const char	*message;	/* one line */
	const char	*response;	/* may be NULL; truncated here */
	const char	*note;		/* dead letters */
	int		 charged;	/* 0 refunds the claim's attempt */
	int		 in_doubt;	/* 1: a write may have happened */
	/*
	 * 1: a step landed in this claim.  attempts then restarts at this
	 * failure (1 charged, 0 refunded): max_attempts counts failures in
	 * a row, so a record of many steps on a lossy link is not
	 * dead-lettered for failures it got past, while a step that never
	 * lands still is.  A record's steps are finite, so this cannot loop.
	 */
	int		 progressed;
	int64_t		 next_at;
};
int	 outbox_retry(struct db *, int64_t id, const char *owner,
	    const struct ob_fail *, int *lost);
int	 outbox_dead(struct db *, int64_t id, const char *owner,
	    const struct ob_fail *, int *lost);
/* Whether owner still holds id's lease (inside a transaction). */
int	 outbox_holds(struct db *, int64_t id, const char *owner);

/*
 * Remove a journal row (an intent proven void: the write did not happen).
 * Deprecated: does not check the lease; use outbox_unstep_owned().
 */
int	 outbox_unstep(struct db *, int64_t id, const char *step);
/*
 * The same, only while owner holds id's lease (one transaction):
 * -1 with *lost = 1 when it does not (nothing deleted).
 */
int	 outbox_unstep_owned(struct db *, int64_t id, const char *owner,
	    const char *step, int *lost);
/*
 * Rewrite only the detail (JSON text, borrowed) of the existing journal
 * row (id, step) while owner holds the lease: -1 with *lost = 1 when it
 * does not; -1 with *lost = 0 if there is no such row or on error.
 */
int	 outbox_step_detail(struct db *, int64_t id, const char *owner,
	    const char *step, const char *detail, int *lost);
#define OB_RESPONSE_MAX	2048	/* bytes of a response body kept */

/*
 * SQL: outbox row T (its name or alias in the query) has an open intent,
 * a write whose outcome is not known yet, read through the partial index
 * journal_intent (0010).  With the in_doubt flag it is what status, ls
 * and /ui call in doubt.
 */
#define OB_SQL_OPEN_INTENT(t)	"EXISTS (SELECT 1 FROM journal j INDEXED " \
	"BY journal_intent WHERE j.outbox_id = " t ".id AND j.step >= " \
	"'intent:' AND j.step < 'intent;')"

struct audit_row;
/*
 * Commit a finished step: journal row (step, intercom_id, detail) and,
 * when a is not NULL, its audit row, in one transaction guarded by the
 * lease.  Re-recording an existing step replaces it.
 */
int	 outbox_step(struct db *, int64_t id, const char *owner,
	    const char *step, const char *intercom_id, const char *detail,
	    const struct audit_row *a, int *lost);

/*
 * Per-workspace record counts: what `callsync status` and /metrics both
 * show, from one query.  in_doubt counts the open records whose flag is
 * set or that have an open intent (a write whose outcome is not known,
 * kept by an outage or a shutdown without the flag); intents counts the
 * open intents themselves.  oldest is the enqueue time of the oldest
 * pending record, its first claim when enqueued_at is before floor
 * (clock_floor(): unknown, not old); 0 when nothing is pending.
 */
struct ob_counts {
	const char	*workspace;	/* borrowed: valid in the callback */
	int64_t		 pending, inflight, in_doubt, intents;
	int64_t		 dead, handed_off;
	int64_t		 oldest;
};
/*
 * Call fn once per workspace that has a pending, in-flight, dead or
 * handed-off record (only ws when not NULL; done records are not read).
 * 0, or -1 when the query failed or fn returned non-zero.
 */
int	 outbox_ws_counts(struct db *, int64_t floor, const char *ws,
	    int (*fn)(const struct ob_counts *, void *), void *arg);

/*
 * The open (pending or in-flight) records of workspace ws: what
 * callsyncd --drain waits for.  The count, or -1 on a database error
 * (a failed step is not logged: the drain asks again).
 */
int64_t	 outbox_open_count(struct db *, const char *ws);
/*
 * Whether another open record of ws than id has a contact create in
 * flight or in doubt (journal step intent:contact) for the same caller:
 * its lane is phone's ("p:" phone), or, when email is not "", email's
 * lane or caller_email.  1 yes, 0 no, -1 on a database error.  The
 * why is job_contact.c's (contact_create_elsewhere).
 */
int	 outbox_contact_intent_elsewhere(struct db *, const char *ws,
	    int64_t id, const char *phone, const char *email);
#endif
