/*
 * journal: what a job knows and has written (journal.c), below the step
 * modules that read it and the driver (job.c) that runs them: the
 * journal in memory, intents and their doubt clock, commits, the writes
 * of the open group (for a replay), and the decision of the step or
 * answer handler now running.
 *
 * STEPS DECIDE, THE DRIVER DOES.  A step or an answer handler never
 * sends, waits, parks or ends its job itself: it records one decision
 * (job_next, job_request, job_fail, job_retry, job_dead, job_give_back,
 * job_hold, job_stall; a failed commit or intent records its own), and
 * returns; the driver does it (job_do, job.c) right after.  One per
 * entry: a second is a bug, said with log_warnx, and the first stands.
 * The job is alive until the driver acts, so no step touches a freed job.
 */
#ifndef CALLSYNC_JOURNAL_H
#define CALLSYNC_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "audit.h"
#include "rt.h"

struct job;

typedef void (*job_handler)(struct job *, struct http_req *, enum verdict,
    json_t *);

/*
 * A write a job made in the open group (runtime/tx.c, GROUP COMMIT), kept
 * with copies of everything it wrote until the group is committed, so
 * that a failed commit is repaired by doing the writes again
 * (job_replay) instead of forgetting what the job knows.
 */
enum { JOP_STEP, JOP_INTENT, JOP_UNSTEP, JOP_TAG };
struct job_op {
	int		 type;
	char		*s[3];		/* STEP: step, id, detail; INTENT: intent,
					 * detail; UNSTEP: intent; TAG: name, id */
	bool		 has_audit;
	struct audit_row a;		/* strings in as[] */
	char		*as[9];
	char		*contact_id;	/* STEP "attributes": last call note */
	int64_t		 lastcall_at;
	struct job_op	*next;
};

/* What the driver is to do next (job_do). */
enum job_do {
	JD_NONE,
	JD_NEXT,	/* job_advance: the next unfinished step */
	JD_REQUEST,	/* queue a request */
	JD_FAIL,	/* the usual treatment of a failed answer */
	JD_RETRY,	/* charged: backoff, or dead when exhausted */
	JD_DEAD,	/* dead-letter the record */
	JD_RELEASE,	/* give the record back, no attempt charged */
	JD_WAIT,	/* hold the claim ms, then look again */
	JD_STALL,	/* park on a failed database write (STALL_*) */
	JD_LOST		/* the lease is another worker's: drop the claim */
};

struct job_decision {
	enum job_do	 what;
	/* REQUEST */
	char		 method[8];
	char		 path[256];
	char		 step[96];
	json_t		*body;		/* owned */
	job_handler	 handler;
	/* FAIL, RETRY: the answer (borrowed: it lives until the driver
	 * acts); FAIL: o, a new reference */
	struct http_req	*req;
	enum verdict	 v;
	json_t		*o;
	/* RETRY, DEAD, RELEASE: msg; WAIT: msg is why, NULL for a hold */
	char		*msg;
	char		*reason, *class, *resp;	/* DEAD; RELEASE: class */
	long		 status;		/* DEAD */
	int64_t		 ms;			/* WAIT */
	int		 stall;			/* STALL: STALL_* */
};

/* The journal in memory */
json_t		*jn_get(struct job *, const char *step);
const char	*jn_id(struct job *, const char *step);
/* Elapsed ms on step's doubt clock; -1 when step has no intent. */
int64_t		 jn_doubt_ms(struct job *, const char *step);
int		 jn_load(struct job *);
/* The write of the intent's step is leaving now: its clock restarts. */
void		 jn_intent_sent(struct job *, const char *intent);
/* Persist the doubt clock of every open intent (best effort). */
void		 job_doubt_save(struct job *);

/* Writes (on failure each records the decision: JD_STALL or JD_LOST) */
int	 job_commit(struct job *, const char *step, const char *id,
	    const char *detail, bool write, long status, long duration_ms);
int	 job_intent(struct job *, const char *step, const char *into);
void	 job_void_intent(struct job *, const char *intent);
/* Note a tag creation written in the open group (for a replay). */
void	 job_note_tag(struct job *, const char *name, const char *id,
	    const struct audit_row *);
/* What a failed commit keeps for its retry (c_*), freed. */
void	 job_commit_kept_clear(struct job *);
/* The writes of the open group: dropped; written again in order (0, or
 * -1 with *lost set when the lease was lost). */
void	 job_ops_clear(struct job *);
int	 job_ops_replay(struct job *, int *lost);

/* Doubt: 1 when step's write may be looked for now, else 0 and a wait
 * is decided (JD_WAIT). */
int	 job_settled(struct job *, const char *step, bool search,
	    const char *what);
/* A look did not find step's write: 1 when that settles it (not there),
 * else 0 and j waits for the next look (decided). */
int	 job_absent(struct job *, const char *step, bool search,
	    const char *what);

/* Decisions: the driver does them when the step or handler returns. */
void	 job_next(struct job *);
/* Queue a request for j; body is stolen (may be NULL).  What it is (a
 * write, repeatable, its intent, its connection) comes from its row of
 * the step table (steps.c). */
void	 job_request(struct job *, const char *method, const char *path,
	    json_t *body, const char *step, job_handler);
void	 job_fail(struct job *, struct http_req *, enum verdict, json_t *);
void	 job_retry(struct job *, enum verdict, struct http_req *,
	    const char *msg);
void	 job_dead(struct job *, const char *reason, const char *class,
	    long status, const char *msg, const char *resp);
/* Give the record back without charging an attempt (job_release). */
void	 job_give_back(struct job *, const char *class, const char *why);
/* Hold the claim ms (monotonic), then job_advance again; nothing is
 * logged (a read another job has on the wire, assign_check). */
void	 job_hold(struct job *, int64_t ms);
/*
 * The job marks key as on the wire in its workspace (ws_flight_set), so
 * that other jobs wait for its answer; NULL: its answer came, the mark
 * goes.  A job that ends holding a mark (given back while its request
 * was queued: its answer callback never runs) drops it in job_end, or
 * every job needing that key would hold until the mark expired.
 */
void	 job_flight(struct job *, const char *key);
void	 job_stall(struct job *, int what);
/* The decision j holds: taken (j's slot is empty again), or JD_NONE. */
void	 job_decision_take(struct job *, struct job_decision *);
void	 job_decision_clear(struct job_decision *);

#endif
