/*
 * job: the inside of a job, shared by the driver (job.c: lifecycle,
 * outcomes, requests), its step modules (job_contact.c, job_conv.c,
 * job_tags.c, job_update.c, job_clock.c) and the journal below them
 * (journal.c: what the steps may call, journal.h).  The engine sees only
 * struct job_link (engine.h).  The step table is steps.c; see job.c for
 * why its rules are what they are and for the intent lifecycle.
 */
#ifndef CALLSYNC_JOB_H
#define CALLSYNC_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

#include "audit.h"
#include "outbox.h"
#include "rt.h"
#include "journal.h"
#include "steps.h"

struct job;

/* What a job parked on a failed database write retries (job_stall; the
 * runtime keeps the parked and the timer: rt_stall_park). */
enum { STALL_NONE, STALL_ADVANCE, STALL_COMMIT, STALL_OUTCOME,
    STALL_REPLAY };

struct job {
	struct job_link	 link;		/* what the engine sees; link.req is the request */
	struct rt	*e;
	struct wsrt	*ws;
	struct ob_rec	 rec;
	struct record	 r;
	json_t		*journal;	/* step -> {"id", "detail", "base"} */
	char		 contact_id[64];
	char		 contact_role[16];
	char		 conv_id[32];
	json_t		*conv;		/* last GET of the conversation, for reconciling */
	char		 tag_id[32];	/* tag being applied */
	int		 tag_i;		/* index into the tag list */
	json_t		*tags;		/* array of tag names to apply */
	bool		 tag_reresolved;	/* a deleted tag was resolved again */
	/* A ws_flight_* mark this job set (POST /tags NAME, GET /admins):
	 * cleared at its answer, or when the job ends without one. */
	char		 flight[300];
	json_t		*pieces;	/* bodies: [0] conversation/first note, then continuations */
	int		 search_phase;	/* contact resolution: 0 phone, 1 email, 2 create */
	json_t		*merges;	/* leads to merge into contact_id (merge_duplicates) */
	int		 resolves;	/* contact re-resolutions this attempt */
	char		 gone_id[64];	/* contact that answered 404 without a Link */
	json_t		*contact_obj;	/* the contact as last read (fill of empty fields) */
	json_t		*search_acc;	/* contact search: matches of the pages read */
	int		 search_pages;	/* pages read of that search */
	bool		 details_plain;	/* custom_attributes refused: title alone */
	bool		 phone_plain;	/* formatted_phone refused: search without it */
	bool		 fill_off;	/* Intercom refused the fill: attributes alone */
	int		 nrequests;
	/* the request being built / waited on (link.req) */
	char		 step[96];	/* journal step the request serves */
	char		 path[256];
	const struct step_def *def;	/* its row of the step table: a write? */
	char		*body_text;	/* copy of the request body for audit */
	job_handler	 handler;
	char		 intent[128];	/* "intent:<step>" the queued request serves */
	bool		 sent;		/* the current request was handed to libcurl */
	int64_t		 loaded_ms;	/* monotonic: journal loaded (doubt clock base) */
	/* parked in memory: an in-doubt wait, or a database write to retry */
	struct event	*timer;
	bool		 waiting;	/* an in-doubt wait holds the claim */
	bool		 stepped;	/* a step committed in this claim */
	int64_t		 doubt_end_ms;	/* monotonic: that wait ends; 0: not one */
	char		 doubt_step[96];	/* the step whose wait was logged */
	int		 stall;		/* STALL_*: what the stall timer retries */
	struct ob_fail	 out;		/* STALL_OUTCOME: the outcome to write */
	int		 out_kind;	/* OUT_* */
	char		*out_strs[6];	/* owned copies behind out */
	char		*c_step, *c_id, *c_detail;	/* STALL_COMMIT */
	bool		 c_write;
	long		 c_status, c_dur;
	int64_t		 lastcall_at;	/* call time behind last_call_* being written; 0 none */
	bool		 ending;	/* outcome (out, out_kind) written in the open group */
	/* group commit: this job's writes in the open group, oldest first */
	struct job_op	*ops, **ops_tail;
	bool		 replay;	/* its group failed: replay ops first */
	bool		 readvance;	/* ...then look again (a wait was cut) */
	/* what the step or handler now running decided (journal.h) */
	struct job_decision jd;
};

/* job_contact.c */
int	 step_merges(struct job *);
int	 step_details(struct job *);
int	 step_contact(struct job *);
void	 step_contact_gone(struct job *);
/* job_conv.c */
int	 step_conversation(struct job *);
int	 step_parts(struct job *);
int	 step_conv_fresh(struct job *, const char *step);
/* job_tags.c */
int	 step_tags(struct job *);
/* job_update.c */
int	 step_text_repair(struct job *);
int	 step_attr_check(struct job *);
/* job_clock.c: times stamped by a clock not yet set (see there) */
int	 step_clock_check(struct job *);
/* When j's age counts from (unix s); 0: unknown, it does not expire. */
int64_t	 job_age_from(const struct job *);
/* When j's call happened, as far as is known (unix s); 0: unknown, the
 * conversation is dated at delivery. */
int64_t	 job_call_time(const struct job *);
int	 step_assign_check(struct job *);
int	 step_attributes(struct job *);
int	 step_assign(struct job *);

/* The job whose link l is (the link is its first member). */
static inline struct job *
job_of(struct job_link *l)
{
	return (struct job *)(void *)((char *)l - offsetof(struct job, link));
}

/* job.c: what the loop (engine.c) calls, and the runtime's hooks (rt.h) */
/* A job for claimed record rec (its strings are stolen); NULL on ENOMEM. */
struct job_link *job_new(struct rt *, struct wsrt *, struct ob_rec *);
void	 job_start(struct job *);
void	 job_free(struct job *);
/* The runtime handed the job's request to libcurl. */
void	 job_on_sent(struct job *);
/* A round of the runtime's stall timer: retry j's parked write. */
void	 job_unstall(struct job *);
/* Release every job parked in an in-doubt wait (SIGTERM). */
void	 job_release_waiting(struct rt *);
int	 job_doubt_waits(struct rt *, const struct wsrt *, int64_t *);
/* Give the record back (outage, pause, shutdown): no attempt charged. */
void	 job_release(struct job *, const char *class, const char *why);
/* The group j wrote in was committed (ok) or rolled back. */
void	 job_tx_done(struct job *, bool ok);

#endif
