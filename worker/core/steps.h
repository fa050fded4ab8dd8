/*
 * steps: the step table as data, and what a step's row decides.
 *
 * Every request a job sends, and every journal row it writes without a
 * request, is one row of steps[] (steps.c): which step it serves, its
 * method and path, whether it changes Intercom, whether sending it again
 * is safe, whether an intent is committed before it, how a write in doubt
 * is settled and reconciled, whether it is audited, and whether it needs
 * a connection of its own.  The job driver (job.c) takes these from the
 * row instead of deriving them again: job_request finds the row of what
 * it sends (step_def_req), job_intent and job_request refuse a send the
 * row forbids (step_send_ok), job_send's fresh connection and job_fail's
 * treatment of a failed answer (step_on_fail) come from it, and the
 * doubt window from step_window_ms.  Why each row is what it is: the
 * essay at the top of job.c.
 *
 * Pure: no I/O, no job, no clock; t_steps.c runs every row and every
 * uncertain outcome without a network.
 */
#ifndef CALLSYNC_STEPS_H
#define CALLSYNC_STEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "retry.h"

/*
 * The window before a write in doubt may be concluded "not there" (job.c,
 * SETTLE ON EVIDENCE): S = request_timeout + settle_margin, L =
 * search_lag.  No row is found by a search without the lag: a search
 * cannot show what it has not indexed yet.
 */
enum step_settle {
	STEP_SETTLE_NONE,	/* never in doubt: no intent */
	STEP_SETTLE_READ,	/* found by a read: S */
	STEP_SETTLE_SEARCH	/* found by a search: S + L */
};

/* How a write in doubt is looked for, and where the code that does it is. */
enum step_rec {
	STEP_REC_NONE,
	STEP_REC_CONTACT_SEARCH,	/* job_contact.c step_contact_resolve:
					 * search phone, email; a 409 too */
	STEP_REC_MERGE_PROBE,		/* job_contact.c merge_probe_done: GET
					 * the lead, 410/404 = merged */
	STEP_REC_CONV_SEARCH,		/* job_conv.c conv_search_done:
					 * source.body = marker */
	STEP_REC_PART_TOKEN,		/* job_conv.c step_parts: the part's
					 * token in the conversation */
	STEP_REC_PART_REPLY,		/* job_conv.c reply_find: a part by our
					 * admin, same text, after the intent */
	STEP_REC_CONV_TAG,		/* job_tags.c step_tags: tag present */
	STEP_REC_CONV_ASSIGNEE		/* job_update.c step_assign: assignee */
};

struct step_def {
	const char	*name;		/* journal step; "merge" also names
					 * "merge:<id>" (any "name:..."); "*"
					 * is any step (a read that serves
					 * several) */
	const char	*method;	/* NULL: a journal row, no request */
	const char	*path;		/* "{id}": one path segment */
	bool		 write;		/* changes Intercom */
	bool		 repeatable;	/* sending it twice does no harm */
	bool		 intent;	/* "intent:<step>" committed first */
	enum step_settle settle;
	enum step_rec	 reconcile;
	bool		 audited;	/* an audit row with its commit */
	bool		 fresh;		/* own connection (http_submit): no
					 * silent resend, and a refused one
					 * provably never left (http_unsent) */
	const char	*what;		/* a few words, for people */
};

extern const struct step_def	 steps[];
extern const size_t		 steps_n;

/* The row of step's own write (of its journal row when it sends none);
 * NULL for a step the table does not know.  Borrowed, static. */
const struct step_def	*step_def_of(const char *step);
/* The row of a request: step, method and path as sent; NULL when none
 * fits (a request the table does not know: never sent). */
const struct step_def	*step_def_req(const char *step, const char *method,
			    const char *path);
/* Whether a template ("/contacts/{id}") fits path. */
bool			 step_path_match(const char *tmpl, const char *path);
/* The doubt window of d's write, in ms of its doubt clock (d may be NULL:
 * S). */
int64_t			 step_window_ms(const struct step_def *d,
			    int request_timeout, int settle_margin,
			    int search_lag);
/*
 * Whether d's request may be sent, intent_open saying whether the intent
 * of its step is written: false when d is NULL, when its row wants an
 * intent and none is written, or when a write without an intent would go
 * out with one open.  The driver refuses such a send.
 */
bool			 step_send_ok(const struct step_def *d,
			    bool intent_open);

/* What the driver does with an answer the step's handler did not take. */
enum step_act {
	STEP_ACT_RELEASE,	/* give the record back, no attempt charged */
	STEP_ACT_PAUSE,		/* pause the workspace, then release */
	STEP_ACT_RETRY,		/* backoff, attempt charged (or dead when
				 * attempts are exhausted: job_retry) */
	STEP_ACT_DEAD		/* dead-letter: the record's own fault */
};

struct step_answer {
	enum verdict	 v;
	CURLcode	 cc;		/* the transfer's result */
	long		 status;	/* HTTP status; 0 none */
	long		 connect_status;	/* a proxy's CONNECT answer */
	bool		 unsent;	/* http_unsent: never left the box */
	bool		 ws_outage;	/* the workspace is in outage */
};

struct step_action {
	enum step_act	 act;
	const char	*class;		/* RELEASE, PAUSE: the failure class */
	bool		 void_intent;	/* the write did not happen: drop the
					 * intent (only rows with one) */
	bool		 in_doubt;	/* the write's outcome is unknown */
};

/* The failed answer a to d's request: what to do (into *out). */
void			 step_on_fail(const struct step_def *d,
			    const struct step_answer *a,
			    struct step_action *out);
/* Whether a failure with verdict v leaves d's write in doubt (a retry's
 * in_doubt flag; d may be NULL: no request). */
bool			 step_in_doubt(const struct step_def *d,
			    enum verdict v);
const char		*step_settle_name(enum step_settle);
const char		*step_rec_name(enum step_rec);

#endif
