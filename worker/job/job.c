/*
 * job: one record's way into Intercom, as an explicit state machine.
 *
 * A job is a claimed record.  job_advance() looks at the step journal and
 * starts the first unfinished step; each step either completes without a
 * request (known locally) or sends one request and continues from its
 * handler.  Steps decide, the driver does: a step or a handler records
 * one decision (send, go on, wait, retry, dead, release, park: journal.h)
 * and returns, and job_do here carries it out; what a job knows and has
 * written (its journal, intents, doubt clock, commits, the open group's
 * writes) is journal.c, below the step modules.
 *
 * Every completed step is committed to the journal, with the Intercom id
 * it produced and its audit row, in one transaction, so a retry, restart
 * or replay resumes at the first unfinished step.
 *
 * THE STEP TABLE is data: steps[] in steps.c, one row per request a job
 * sends (and per journal row it writes without one): the step it
 * serves, method and path, whether it writes, whether sending it again
 * is safe (repeatable), whether an intent is committed before it, its
 * settle rule, the code that reconciles it, whether it is audited, and
 * whether it needs a connection of its own.  The driver takes these from
 * the row, never from the step's name: job_request finds the row of what
 * it sends (a write or not, job_send's fresh connection) and sends nothing
 * the table does not know, nor a non-repeatable write without its
 * intent; job_intent refuses a step whose row has none (a bug in a step
 * module: a warning, and the record retried with backoff until it is
 * dead-lettered); job_fail's treatment of a failed answer is
 * step_on_fail's, and the doubt window step_window_ms's.
 * tests/unit/t_steps.c holds every row against an expectation of its
 * own and runs every row through every uncertain outcome, without a
 * network; tests/unit/t_driver_table.c feeds the write rows' answers,
 * class by class, through this driver (job_http_done) and checks the
 * journal, the intent and the outbox row it leaves.  What follows is why the rows are what they are; the step
 * modules (job_contact.c, job_conv.c, job_tags.c, job_update.c) follow
 * them.
 *
 * A write is repeatable when sending it twice leaves Intercom as sending
 * it once: an idempotent PUT (attributes, details), a create-or-get by
 * name (POST /tags), an unarchive.  Every other write makes something (a
 * contact, a conversation, a part, a merge, a tag on a conversation, an
 * assignment), so its answer may be lost after it landed: it commits an
 * intent first, and has a connection of its own, so that libcurl never
 * resends it silently on a reused connection and a refused connection
 * proves it never left (http_unsent).  A write in doubt is looked for by
 * a read when one shows it at once (a merged lead answers 410 or 404; a
 * part, a tag, an assignee is in the conversation), else by a search (a
 * contact by phone and email; a conversation by the marker in
 * source.body, never by contact, since merges move conversations), and a
 * search must also wait out what it has not indexed yet: the settle rule
 * is S for a read, S + L for a search.  A public reply carries no marker
 * the customer could see, so it is found by what it is: a part by our
 * admin, with the text sent, created at or after the intent's "at" less
 * 300 s.  Every write is audited, and a write found by reconciliation
 * carries {"reconciled":true} in the journal and the audit log.  The
 * journal rows without a request (clock_check, text_repair, attr_check,
 * assign_check) are warnings committed before the record's first write.
 *
 * S = request_timeout + settle_margin, L = the search lag (learned from
 * Intercom, at most search_lag: THE WINDOW below), both measured on the
 * intent's doubt clock (below).  The settle rule is the window before
 * "not there" may be concluded; a look that finds the write ends the
 * doubt at any time (settle on evidence, below).
 *
 * THE INTENT LIFECYCLE.
 *
 * An intent ("intent:<step>" in the journal) is committed, under the
 * record's lease, before the request of a non-repeatable write is
 * queued.  From then on the write is in doubt until one of three things
 * happens.  (1) Its answer arrives: the step is committed with the id the
 * answer carries and the intent is deleted in the same transaction.
 * (2) The write provably did not happen: the request never left the queue
 * (released before it was handed to libcurl), the server refused it with
 * a 4xx, or it answered 429; the intent is deleted (job_void_intent),
 * under the lease, so that no later attempt waits for a write that
 * cannot land.  (3) The outcome is unknown: a timeout, a reset, a 5xx, a
 * malformed answer, a crash or SIGKILL, a lease lost.  The intent stays,
 * and whoever holds the record next must reconcile before writing again.
 *
 * SETTLE ON EVIDENCE.  Concluding "not there" too early is how
 * duplicates happen: a server under load applies a request after the
 * client gave up, and search shows a new object minutes after it was
 * made.  Finding the write is never too early: a search or read that
 * shows it proves it landed, whenever it is made.  So a write in doubt is
 * looked for from 2 s into its doubt clock on, a write found by search
 * from the median search lag observed (lag.c), within [1 s, 2 s]
 * (job_settled: a geometric scale from there to the window's end, 8
 * looks at most, since a search costs rate budget); a look that finds
 * it commits it (reconciled) at once; a look that does not is
 * conclusive only when it started after the write can no longer land
 * and could be seen, S (plus L for a search) of elapsed time since it
 * was sent (job_absent): the rule is
 * "conclude 'not there' only once it can no longer land".  A read made
 * before the window closed is never reused for the final look.
 *
 * THE WINDOW.  Why S bounds when a sent write can still land: the doubt
 * clock starts when the request is handed to libcurl, and libcurl stops
 * the transfer at request_timeout (CURLOPT_TIMEOUT): whatever Intercom
 * received, it received by then.  settle_margin is how long a request
 * Intercom received may still be applied after that (its own processing
 * under load; not published, hence configurable, 5 s by default).  A
 * closed or reset connection does not shorten the window: the server may
 * be processing what it already received, and bytes in the socket buffer
 * may still leave after the close.  A refused connection does: the write
 * provably never left the box (http_unsent: refused, not resolved, no
 * TLS handshake, no request byte), so it is not in doubt at all and its
 * intent is dropped at once (job_fail), as for a 4xx or a 429.  L is for
 * what a search cannot show yet: an object made but not yet indexed.
 * Intercom says only that this "can take a few minutes", so L is
 * measured (lag.c): the worker searches a sample of the contacts and
 * conversations it created, by id, until they show, and with 50 samples
 * of a kind L is twice the p99.9 of the newest 1,000 (or twice the lag
 * a sample under way is known to exceed, if longer), at least 10 s,
 * never more than search_lag; a sample never shown (censored) in that
 * tail makes it search_lag.  Until then, or with search_lag_share = 0, L = search_lag.
 * The margin is the factor 2 on a tail that a single slow sample raises
 * at once; search_lag stays the ceiling an operator sets.
 *
 * Elapsed time here is the intent's
 * doubt clock: it restarts at zero when the request is handed to libcurl
 * (job_on_sent), runs on CLOCK_MONOTONIC within a process, and is saved
 * as detail.waited_ms whenever the job parks or ends, so a restart
 * continues from what was already waited.  Time while no worker held the
 * record is not counted and the wall clock is never read for it: an NTP
 * step can neither end a wait early nor make an age negative.  The wait
 * holds the claim (the lease is renewed) with a timer in memory; it does
 * not count against the claim window, and SIGTERM releases the record
 * with its clock saved.
 *
 * A worker never holds two jobs for one record: claims skip rows whose
 * lease names this worker, whatever the wall clock says about the lease;
 * every journal write is guarded by the lease, so a worker that lost it
 * writes nothing more.
 *
 * GROUP COMMIT (runtime/tx.c has the mechanism).  "Committed" above means
 * committed in the loop turn's group transaction: every write of a turn
 * (a step's result, the next step's intent, claims, outcomes, of every
 * job) shares one COMMIT and one fsync.  The two rules hold at the
 * group's granularity: a request queued in a turn leaves only after that
 * turn's COMMIT (so its intent is durable first), and a job whose outcome
 * was written in a turn ends, counts and logs only after it.  Each write
 * stays all-or-nothing (a SAVEPOINT of its own).  A job keeps a copy of
 * its writes of the open turn (job_op_add); if the COMMIT fails, it
 * replays them from the stall timer (job_replay, all or nothing) before
 * anything else, keeping what it learned: an answer received stays
 * known instead of becoming a write in doubt.  A crash loses the open
 * turn, whose requests had not left: what was sent before has its intent
 * durable, which is all reconciliation needs.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "clock.h"
#include "intercom.h"
#include "job.h"
#include "journal.h"
#include "log.h"

static void	job_http_done(struct http_req *, void *);
static void	job_advance(struct job *);
static void	job_do(struct job *);
static void	job_do_dead(struct job *, const char *, const char *, long,
		    const char *, const char *);

/* ------------------------------------------------------------------ */
/* outcomes                                                             */

enum { OUT_DONE, OUT_RETRY, OUT_DEAD };

static void
job_stall_clear(struct job *j)
{
	size_t	 i;

	for (i = 0; i < sizeof(j->out_strs) / sizeof(j->out_strs[0]); i++) {
		free(j->out_strs[i]);
		j->out_strs[i] = NULL;
	}
	job_commit_kept_clear(j);
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	if (j->timer != NULL)
		event_free(j->timer);
	job_stall_clear(j);
	job_ops_clear(j);
	job_decision_clear(&j->jd);
	ob_rec_clear(&j->rec);
	record_free(&j->r);
	json_decref(j->journal);
	json_decref(j->conv);
	json_decref(j->tags);
	json_decref(j->pieces);
	json_decref(j->merges);
	json_decref(j->contact_obj);
	json_decref(j->search_acc);
	free(j->body_text);
	http_req_free(j->link.req);
	free(j);
}

static void
job_end(struct job *j)
{
	if (j->timer != NULL)
		evtimer_del(j->timer);
	job_flight(j, NULL);	/* given back before its answer came */
	if (j->waiting) {
		j->waiting = false;
		ws_wait_end(j->ws);
	}
	if (j->stall != STALL_NONE) {
		rt_stall_drop(j->e, &j->link);
		j->stall = STALL_NONE;
	}
	rt_job_finished(j->e, &j->link);
	job_free(j);
}

static void
job_lost(struct job *j)
{
	log_warnx("%s/%s: lease lost to another worker; dropping this claim",
	    ws_name(j->ws), j->rec.record_key);
	job_end(j);
}

/*
 * A database write of j failed (locked by another process past the busy
 * timeout, disk full, out of memory): j keeps its claim and what it
 * learned, and the write is retried from the runtime's stall timer
 * (rt_stall_park, runtime/rt.c), one job at a time so a locked database
 * never stalls the loop.  While any job is stalled, other jobs queue
 * behind it without trying.
 */
static void
job_do_stall(struct job *j, int what)
{
	struct rt	*e = j->e;

	if (rt_loop_ended(e)) {
		log_warnx("%s/%s: database unwritable at exit (%s); the claim "
		    "lapses with its lease", ws_name(j->ws), j->rec.record_key,
		    db_errmsg(rt_db(e)));
		job_end(j);
		return;
	}
	j->stall = what;
	rt_stall_park(e, &j->link);
}

static void	job_outcome(struct job *, int, const struct ob_fail *);
static void	job_outcome_end(struct job *, int, const struct ob_fail *);
static int	job_replay(struct job *);

/* Retry what a stalled job could not write. */
static void
job_stall_run(struct job *j, int what)
{
	struct ob_fail	 f;

	/* The writes of a failed group first, then what was parked. */
	if (j->replay && job_replay(j) == -1)
		return;

	switch (what) {
	case STALL_COMMIT:
		if (job_commit(j, j->c_step, j->c_id, j->c_detail, j->c_write,
		    j->c_status, j->c_dur) == 0)
			job_advance(j);
		else
			job_do(j);	/* parked again, or lost */
		break;
	case STALL_OUTCOME:
		f = j->out;
		job_outcome(j, j->out_kind, &f);
		break;
	case STALL_REPLAY:
		/* Replayed (below): the group's commit does the rest. */
		if (!j->link.in_tx)
			job_tx_done(j, true);
		break;
	default:
		job_advance(j);
		break;
	}
}

void
job_unstall(struct job *j)
{
	int	 kind = j->stall;

	j->stall = STALL_NONE;
	job_stall_run(j, kind);		/* may stall again, at the head */
}

static char *
dupnull(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* Keep a copy of f for a later retry (it may point into j's buffers). */
static void
job_keep_outcome(struct job *j, int kind, const struct ob_fail *f)
{
	char	*s[6];
	size_t	 i;

	s[0] = dupnull(f->class);
	s[1] = dupnull(f->reason);
	s[2] = dupnull(f->step);
	s[3] = dupnull(f->message);
	s[4] = dupnull(f->response);
	s[5] = dupnull(f->note);
	job_stall_clear(j);
	for (i = 0; i < 6; i++)
		j->out_strs[i] = s[i];
	j->out = *f;
	j->out.class = s[0];
	j->out.reason = s[1];
	j->out.step = s[2];
	j->out.message = s[3];
	j->out.response = s[4];
	j->out.note = s[5];
	j->out_kind = kind;
}

/*
 * Write j's outcome, lease-guarded, then end j.  When the write fails
 * for any reason but a lost lease, j stays claimed and the write is
 * retried: a record is never left in flight with no job behind it.
 */
static void
job_outcome(struct job *j, int kind, const struct ob_fail *f)
{
	struct db	*d = rt_db(j->e);
	struct ob_fail	 none;
	int		 lost = 0, rc = -1;

	if (f == NULL) {		/* OUT_DONE carries no failure */
		memset(&none, 0, sizeof(none));
		f = &none;
	}
	rt_tx_join(j->e, &j->link);
	if (!rt_db_stalled(j->e)) {
		if (kind != OUT_DONE)
			job_doubt_save(j);
		if (kind == OUT_DONE)
			rc = outbox_done(d, j->rec.id, rt_owner(j->e),
			    clock_wall_s(), &lost);
		else if (kind == OUT_DEAD)
			rc = outbox_dead(d, j->rec.id, rt_owner(j->e), f,
			    &lost);
		else
			rc = outbox_retry(d, j->rec.id, rt_owner(j->e), f,
			    &lost);
	}
	if (rc == -1 && lost) {
		job_lost(j);
		return;
	}
	if (rc == -1) {
		if (f != &j->out)
			job_keep_outcome(j, kind, f);
		job_do_stall(j, STALL_OUTCOME);
		return;
	}
	if (j->link.in_tx) {
		/* Written in the open group: the job ends when it commits. */
		if (f != &j->out)
			job_keep_outcome(j, kind, f);
		j->ending = true;
		return;
	}
	job_outcome_end(j, kind, f);
}

/* The outcome of j is durable: count it, log it, end j. */
static void
job_outcome_end(struct job *j, int kind, const struct ob_fail *f)
{
	if (kind == OUT_DONE) {
		ws_count_delivered(j->ws, job_age_from(j));
		log_rec(LOG_LVL_INFO, ws_name(j->ws), j->rec.record_key, NULL,
		    "delivered%s%s (%d requests)", j->conv_id[0] ?
		    " to conversation " : "", j->conv_id, j->nrequests);
	} else if (kind == OUT_DEAD) {
		ws_count_dead(j->ws, f->reason);
		log_rec(LOG_LVL_WARN, ws_name(j->ws), j->rec.record_key,
		    f->step, "dead-lettered: %s: %s", f->reason, f->message);
	} else
		ws_count_retry(j->ws, f->class);
	job_end(j);
}

void
job_release(struct job *j, const char *class, const char *why)
{
	struct ob_fail	 f;

	memset(&f, 0, sizeof(f));
	f.class = class;
	f.step = j->step[0] ? j->step : NULL;
	f.message = why;
	f.charged = 0;
	f.next_at = clock_wall_s();
	/* The answer that caused the release (401, ...), if one came. */
	f.http_status = j->link.req != NULL ? j->link.req->status : 0;
	/* An intent whose request never left the queue is void: drop it,
	 * or the next attempt would wait out search lag for nothing. */
	if (!j->sent && j->intent[0] != '\0')
		job_void_intent(j, j->intent);
	f.response = j->link.req != NULL && j->link.req->status > 0 ? j->link.req->resp : NULL;
	job_outcome(j, OUT_RETRY, &f);
}

static void	job_wait_cb(evutil_socket_t, short, void *);

/*
 * Hold the claim and wait ms of elapsed time (monotonic) before the next
 * look: a write in doubt is concluded "not there" only once it can no
 * longer land (job_settled).
 * The doubt clock is persisted at every wake-up (at most every 5 s), so
 * a crash loses at most that much of the wait.  On SIGTERM the record is
 * released with the time already waited.
 */
static void
job_wait(struct job *j, int64_t ms, const char *why)
{
	struct timeval	 tv;

	if (rt_stopping(j->e)) {
		job_release(j, "shutdown", why != NULL ? "worker stopping "
		    "while a write is in doubt" : "worker stopping");
		return;
	}
	if (j->timer == NULL &&
	    (j->timer = evtimer_new(rt_base(j->e), job_wait_cb, j)) == NULL) {
		job_release(j, "internal", "out of memory arming a timer");
		return;
	}
	if (!j->waiting) {
		/* Said once per wait, at the default level; the wake-ups
		 * every 5 s that look again are not news. */
		if (why != NULL && strcmp(j->doubt_step, j->step) != 0) {
			log_rec(LOG_LVL_WARN, ws_name(j->ws),
			    j->rec.record_key, j->step, "%s", why);
			snprintf(j->doubt_step, sizeof(j->doubt_step), "%s",
			    j->step);
		}
		j->waiting = true;
		ws_wait_begin(j->ws);
	}
	job_doubt_save(j);
	if (why != NULL)
		rt_drain_progress(j->e);
	if (ms > 5000)
		ms = 5000;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000 + 1000;
	evtimer_add(j->timer, &tv);
}

static void
job_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job	*j = arg;

	(void)fd;
	(void)what;
	j->waiting = false;
	ws_wait_end(j->ws);
	rt_tx_join(j->e, &j->link);
	/* What was read before the wait is stale now. */
	json_decref(j->conv);
	j->conv = NULL;
	job_advance(j);
}

/*
 * The in-doubt waits held by ws's jobs (every workspace's when ws is
 * NULL): how many, and in *next_ms (may be NULL) the ms until the first
 * ends, -1 when there is none.
 */
int
job_doubt_waits(struct rt *e, const struct wsrt *ws, int64_t *next_ms)
{
	struct job_link	*l;
	struct job	*j;
	int64_t		 now = clock_mono_ms(), left, next = -1;
	int		 n = 0;

	for (l = rt_first_job(e); l != NULL; l = TAILQ_NEXT(l, all)) {
		j = job_of(l);
		if (!j->waiting || j->doubt_end_ms == 0 ||
		    (ws != NULL && j->ws != ws))
			continue;
		n++;
		left = j->doubt_end_ms > now ? j->doubt_end_ms - now : 0;
		if (next < 0 || left < next)
			next = left;
	}
	if (next_ms != NULL)
		*next_ms = next;
	return n;
}

static void
job_do_dead(struct job *j, const char *reason, const char *class,
    long status, const char *msg, const char *resp)
{
	struct ob_fail	 f;

	memset(&f, 0, sizeof(f));
	f.class = class;
	f.reason = reason;
	f.step = j->step[0] ? j->step : NULL;
	f.http_status = status;
	f.message = msg;
	f.response = resp;
	f.note = "later records of this caller or conversation were not "
	    "blocked by this one";
	f.charged = 1;
	job_outcome(j, OUT_DEAD, &f);
}

/* A failure charged to the record: backoff, or dead when exhausted. */
static void
job_do_retry(struct job *j, enum verdict v, struct http_req *req,
    const char *msg)
{
	struct ob_fail	 f;
	int64_t		 delay;
	char		 line[512];
	/* Failures in a row: a step that landed in this claim restarts the
	 * count at this one (outbox.h, ob_fail.progressed). */
	int		 att = j->stepped ? 1 : j->rec.attempts;

	if (att >= ws_conf(j->ws)->max_attempts) {
		snprintf(line, sizeof(line), "gave up after %d attempts "
		    "in a row: %s", att, msg);
		job_do_dead(j, "max_attempts", "exhausted",
		    req ? req->status : 0, line, req ? req->resp : NULL);
		return;
	}
	delay = rt_backoff_ms(j->e, att);
	memset(&f, 0, sizeof(f));
	f.class = retry_verdict_name(v);
	f.step = j->step;
	f.http_status = req ? req->status : 0;
	f.message = msg;
	f.response = req ? req->resp : NULL;
	f.charged = 1;
	f.progressed = j->stepped;
	f.in_doubt = step_in_doubt(j->def, v);	/* a write's, unknown */
	f.next_at = clock_wall_s() + (delay + 999) / 1000;
	rt_count_retry(j->e);
	log_rec(LOG_LVL_INFO, ws_name(j->ws), j->rec.record_key, j->step,
	    "%s; attempt %d, retry in %" PRId64 " ms", msg, att, delay);
	job_outcome(j, OUT_RETRY, &f);
}

/* The usual treatment of a failed answer; handlers decide it (job_fail)
 * for what they do not handle themselves.  What it is comes from the step's row
 * (step_on_fail): whether its write did not happen (the intent is void),
 * and whether the record is released, retried or dead. */
static void
job_do_fail(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	struct step_answer	 a;
	struct step_action	 act;
	char	 code[64], emsg[256], msg[1024], reason[32];

	memset(&a, 0, sizeof(a));
	a.v = v;
	a.cc = req->cc;
	a.status = req->status;
	a.connect_status = req->connect_status;
	a.unsent = req->unsent;		/* http.c, http_unsent */
	a.ws_outage = ws_in_outage(j->ws);
	step_on_fail(j->def, &a, &act);
	if (act.void_intent && j->intent[0] != '\0')
		job_void_intent(j, j->intent);
	ic_error(o, code, sizeof(code), emsg, sizeof(emsg));
	if (req->cc != CURLE_OK || v == V_FOREIGN)
		snprintf(msg, sizeof(msg), "%s %s: %s", req->method, j->path,
		    req->errbuf[0] ? req->errbuf : curl_easy_strerror(req->cc));
	else
		snprintf(msg, sizeof(msg), "%s %s: HTTP %ld%s%s%s%s",
		    req->method, j->path, req->status, code[0] ? " " : "", code,
		    emsg[0] ? ": " : "", emsg);
	switch (act.act) {
	case STEP_ACT_PAUSE:
		ws_pause(j->ws, req->status, msg);
		/* FALLTHROUGH */
	case STEP_ACT_RELEASE:
		job_release(j, act.class, msg);
		return;
	case STEP_ACT_RETRY:
		job_do_retry(j, v, req, msg);
		return;
	default:
		break;
	}
	snprintf(reason, sizeof(reason), "http_%ld", req->status);
	job_do_dead(j, reason, "permanent", req->status, msg, req->resp);
}

/* ------------------------------------------------------------------ */
/* requests                                                             */

/*
 * Build the HTTP request for the job's current method, path and body,
 * from the workspace's configuration as it is now (token, version,
 * timeouts: a SIGHUP may have changed them), and queue it.
 */
static void
job_send(struct job *j, const char *method)
{
	struct http_req	*r;
	char		 url[512];

	snprintf(url, sizeof(url), "%s%s", ws_conf(j->ws)->api_base, j->path);
	if ((r = http_req_new(method, url)) == NULL)
		goto fail;
	if (j->body_text != NULL && (r->body = strdup(j->body_text)) == NULL)
		goto fail;
	if (ws_prepare(ws_conf(j->ws), r) == -1)
		goto fail;
	/* Not repeatable: no silent resend by libcurl (see http_submit). */
	r->fresh = j->def->fresh;
	r->done = job_http_done;
	r->arg = j;
	http_req_free(j->link.req);
	j->link.req = r;
	j->sent = false;
	ws_enqueue(j->ws, &j->link);
	return;
fail:
	http_req_free(r);
	job_release(j, "internal", "out of memory building a request");
}

/*
 * Queue a request for j (a step decided it: job_request).  body is
 * stolen (may be NULL).  The workspace's queue sends it when the limiter
 * allows; job_http_done takes it back.
 */
static void
job_do_request(struct job *j, const char *method, const char *path,
    json_t *body, const char *step, job_handler h)
{
	char	 msg[400];

	snprintf(j->path, sizeof(j->path), "%s", path);
	snprintf(j->step, sizeof(j->step), "%s", step);
	j->def = step_def_req(step, method, path);
	j->handler = h;
	j->sent = false;
	/* The intent (if any) was written just before this request. */
	if (strncmp(j->intent, "intent:", 7) != 0 ||
	    strcmp(j->intent + 7, step) != 0)
		j->intent[0] = '\0';
	/* What the step table does not allow is never sent: a request it
	 * does not know, a non-repeatable write without its intent. */
	if (!step_send_ok(j->def, j->intent[0] != '\0')) {
		/* A bug: as in job_intent.  An intent stays (reconciled). */
		json_decref(body);
		snprintf(msg, sizeof(msg), "%s %s: %s in the step table "
		    "(steps.c); not sent", method, path, j->def == NULL ?
		    "no row" : "its intent not as");
		log_warnx("%s/%s: %s: %s", ws_name(j->ws), j->rec.record_key,
		    step, msg);
		job_do_retry(j, V_PERMANENT, NULL, msg);
		return;
	}
	if (rt_stopping(j->e)) {
		/* After SIGTERM no request starts; an intent written for
		 * this one is void (job_release drops it: never sent). */
		json_decref(body);
		job_release(j, "shutdown", "worker stopping");
		return;
	}
	free(j->body_text);
	j->body_text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (body != NULL && j->body_text == NULL) {
		job_release(j, "internal", "out of memory building a request");
		return;
	}
	job_send(j, method);
}

/* A throttled request goes back in the queue as it was: no attempt. */
static void
job_resend(struct job *j)
{
	char	 method[8];

	snprintf(method, sizeof(method), "%s", j->link.req->method);
	job_send(j, method);
}

/* The runtime handed j's request to libcurl: from now on its write may
 * land, so its doubt clock starts. */
void
job_on_sent(struct job *j)
{
	j->sent = true;
	if (j->intent[0] != '\0')
		jn_intent_sent(j, j->intent);
}

static void
job_http_done(struct http_req *req, void *arg)
{
	struct job	*j = arg;
	struct wsrt	*ws = j->ws;
	enum verdict	 v;
	json_t		*o;

#ifdef CALLSYNC_TEST_HOOKS
	if (j->def->write && rt_crash_now(j->e))
		raise(SIGKILL);		/* test hook, see rt_init (runtime/rt.c) */
#endif
	j->nrequests++;
	/* What this answer leads to is written in this turn's group. */
	rt_tx_join(j->e, &j->link);
	v = ws_answered(ws, req);	/* slots, limiter, breaker: runtime/wsrt.c */
	log_debug("%s/%s: %s %s -> %ld (%s, %" PRId64 " ms)", ws_name(ws),
	    j->rec.record_key, req->method, j->path, req->status,
	    retry_verdict_name(v), req->duration_ms);
	if (v == V_THROTTLED && !rt_stopping(j->e)) {
		if (!ws_offline(ws))
			job_resend(j);
		else
			job_release(j, "rate_limited", "throttled while the "
			    "workspace went offline");
		ws_pump(ws);
		return;
	}
	o = ic_parse(req->resp, req->resplen);
	if (v == V_OK && o == NULL && req->resplen > 0)
		v = V_MALFORMED;
	if (v == V_OK && o == NULL && strcmp(req->method, "DELETE") != 0)
		v = V_MALFORMED;	/* every answer we use is an object */
	j->handler(j, req, v, o);
	job_do(j);			/* may end and free j */
	json_decref(o);
	/* This answer freed a slot: others may be waiting for it. */
	ws_pump(ws);
}

/* ------------------------------------------------------------------ */
/* driver                                                               */

static void
job_delivered(struct job *j)
{
	job_outcome(j, OUT_DONE, NULL);
}

/*
 * The steps in order: a call's, and a note's or reply's (on a given
 * conversation).  Each returns 1 when it is done (the next one runs), or
 * 0 when it decided what the job does now (journal.h).
 */
typedef int (*job_step_fn)(struct job *);
static const job_step_fn job_chain_call[] = {
	step_clock_check, step_text_repair, step_attr_check,
	step_assign_check, step_merges, step_contact, step_conversation,
	step_parts, step_tags, step_attributes, step_details, step_assign
};
static const job_step_fn job_chain_note[] = {
	step_clock_check, step_text_repair, step_parts
};

static void
job_advance(struct job *j)
{
	const job_step_fn *chain = job_chain_call;
	size_t		 i, n = sizeof(job_chain_call) / sizeof(*chain);

	j->step[0] = '\0';
	if (rt_stopping(j->e)) {
		job_release(j, "shutdown", "worker stopping");
		return;
	}
	if (j->r.type != REC_CALL) {
		chain = job_chain_note;
		n = sizeof(job_chain_note) / sizeof(*chain);
		snprintf(j->conv_id, sizeof(j->conv_id), "%s",
		    j->r.conversation_id);
	}
	for (i = 0; i < n; i++)
		if (!chain[i](j) || j->jd.what != JD_NONE) {
			job_do(j);	/* what the step decided */
			return;
		}
	job_delivered(j);
}

/*
 * Do what the step or answer handler that just returned decided
 * (journal.h): exactly one thing, once; the decision is taken from j
 * first, so what is done may decide anew (a step run again).  None is a
 * bug in a step module (the job would hang): said loudly.  j may be
 * freed on return.
 */
static void
job_do(struct job *j)
{
	struct job_decision	 d;

	job_decision_take(j, &d);
	switch (d.what) {
	case JD_NONE:
		log_warnx("%s/%s: %s: a step returned without deciding what "
		    "the job does", ws_name(j->ws), j->rec.record_key,
		    j->step[0] ? j->step : "-");
		break;
	case JD_NEXT:
		job_advance(j);
		break;
	case JD_REQUEST:
		job_do_request(j, d.method, d.path, d.body, d.step, d.handler);
		d.body = NULL;		/* stolen */
		break;
	case JD_FAIL:
		job_do_fail(j, d.req, d.v, d.o);
		break;
	case JD_RETRY:
		job_do_retry(j, d.v, d.req, d.msg);
		break;
	case JD_DEAD:
		job_do_dead(j, d.reason, d.class, d.status, d.msg, d.resp);
		break;
	case JD_RELEASE:
		job_release(j, d.class, d.msg);
		break;
	case JD_WAIT:
		job_wait(j, d.ms, d.msg);
		break;
	case JD_STALL:
		job_do_stall(j, d.stall);
		break;
	case JD_LOST:
		job_lost(j);
		break;
	}
	job_decision_clear(&d);
}

/*
 * Do j's writes of a failed group again, in order, then its outcome if
 * it was ending.  0 when all are written (in the open group, or durable
 * when none could open); -1 when j was parked again or ended (lease
 * lost: another worker has the record).
 */
static int
job_replay(struct job *j)
{
	struct db	*d = rt_db(j->e);
	int		 lost = 0, rc = 0;

	/* All or nothing: a replay cut short must not leave half of it
	 * durable, or the next one would write that half twice. */
	rt_tx_join(j->e, &j->link);
	if (db_begin(d) == -1)
		rc = -1;
	if (rc == 0)
		rc = job_ops_replay(j, &lost);
	if (rc == 0 && j->ending) {
		if (j->out_kind == OUT_DONE)
			rc = outbox_done(d, j->rec.id, rt_owner(j->e),
			    clock_wall_s(), &lost);
		else if (j->out_kind == OUT_DEAD)
			rc = outbox_dead(d, j->rec.id, rt_owner(j->e), &j->out,
			    &lost);
		else
			rc = outbox_retry(d, j->rec.id, rt_owner(j->e), &j->out,
			    &lost);
	}
	if (rc == 0 && db_commit(d) == -1)
		rc = -1;
	else if (rc == -1 && rt_tx_nested(j->e))
		db_rollback(d);
	if (rc == -1 && lost) {
		job_lost(j);
		return -1;
	}
	if (rc == -1) {
		job_do_stall(j, STALL_REPLAY);
		return -1;
	}
	j->replay = false;
	return 0;
}

/*
 * The group j wrote in (runtime/tx.c, GROUP COMMIT) is over.  Committed: its
 * kept writes are durable, so they are dropped, and what waited for the
 * commit goes on: an outcome ends j, a request held through a failed
 * group is queued, a wait cut short looks again.  Rolled back: j keeps
 * everything it knows and replays its writes from the stall timer.
 */
void
job_tx_done(struct job *j, bool ok)
{
	struct ob_fail	 f;

	if (!ok) {
		j->replay = true;
		if (j->waiting) {
			evtimer_del(j->timer);
			j->waiting = false;
			ws_wait_end(j->ws);
			j->readvance = true;
		}
		if (j->stall == STALL_NONE)
			job_do_stall(j, STALL_REPLAY);
		/* else parked already: job_stall_run replays first */
		return;
	}
	job_ops_clear(j);
	if (j->replay)
		return;		/* a later write failed: still to replay */
	if (j->ending) {
		f = j->out;
		job_outcome_end(j, j->out_kind, &f);
		return;
	}
	if (j->link.resend) {
		j->link.resend = false;
		ws_enqueue(j->ws, &j->link);
		return;
	}
	if (j->readvance) {
		j->readvance = false;
		job_advance(j);
	}
}

void
job_release_waiting(struct rt *e)
{
	struct job_link	*l, *next;

	for (l = rt_first_job(e); l != NULL; l = next) {
		next = TAILQ_NEXT(l, all);
		if (job_of(l)->waiting) {
			if (job_of(l)->doubt_end_ms != 0)
				log_warnx("%s/%s: %s: still in doubt at "
				    "shutdown; the next worker goes on "
				    "waiting", ws_name(job_of(l)->ws),
				    job_of(l)->rec.record_key, job_of(l)->step);
			job_release(job_of(l), "shutdown", "worker stopping while "
			    "a write is in doubt");
		}
	}
}

struct job_link *
job_new(struct rt *e, struct wsrt *ws, struct ob_rec *rec)
{
	struct job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	if ((j->journal = json_object()) == NULL) {
		free(j);
		return NULL;
	}
	j->e = e;
	j->ws = ws;
	j->rec = *rec;			/* steals the strings */
	memset(rec, 0, sizeof(*rec));
	j->link.ws = ws;
	j->link.record_id = j->rec.id;
	j->ops_tail = &j->ops;
	return &j->link;
}

/* Parse, check age, load the journal, go. */
void
job_start(struct job *j)
{
	struct rec_err	 err;
	char		 msg[400];
	int64_t		 from = job_age_from(j);

	/* Most records were parsed a moment ago, when sorted. */
	if (!rt_parsed_take(j->e, j->rec.id, j->rec.payload, ws_conf(j->ws),
	    &j->r) && record_parse_row(j->rec.payload, j->rec.record_key,
	    ws_conf(j->ws), &j->r, &err) == -1) {
		job_do_dead(j, err.reason, "invalid", 0, err.message, NULL);
		return;
	}
	/* Age from a time the clocks know (job_clock.c); never "see
	 * attempts" where no attempt failed. */
	if (from > 0 && clock_known(clock_wall_s()) &&
	    clock_wall_s() - from > ws_conf(j->ws)->max_age) {
		snprintf(msg, sizeof(msg), "not delivered within max_age "
		    "(%lld s); %s%.300s", (long long)ws_conf(j->ws)->max_age,
		    j->rec.last_error != NULL ? "last error: " :
		    "no attempt failed", j->rec.last_error != NULL ?
		    j->rec.last_error : "");
		job_do_dead(j, "max_age", "exhausted", 0, msg, NULL);
		return;
	}
	if (jn_load(j) == -1 || (j->pieces = body_pieces(&j->r, ws_conf(j->ws)->max_body, j->rec.record_key, j->rec.marker)) == NULL) {
		job_release(j, "internal", "cannot load the journal");
		return;
	}
	j->tags = j->r.type == REC_CALL ? body_tag_names(ws_conf(j->ws), &j->r) : json_array();
	job_advance(j);
}


