/*
 * pipeline: one record's way into Intercom, as an explicit state machine.
 *
 * A job is a claimed record.  job_advance() looks at the step journal and
 * starts the first unfinished step; each step either completes without a
 * request (known locally) or sends one request and continues from its
 * handler.  Every completed step is committed to the journal, with the
 * Intercom id it produced and its audit row, in one transaction, so a
 * retry, restart or replay resumes at the first unfinished step.
 *
 * Exactly once without idempotency keys: before each write that is not
 * naturally repeatable the job commits an "intent:<step>" row.  A step
 * that has an intent but no completion may or may not have reached
 * Intercom (lost answer, timeout, crash), so it is reconciled before it
 * is written again: conversations by searching for the record's marker
 * (waiting out search lag), notes by looking for the note's marker among
 * the conversation's parts, tags and assignments by reading the
 * conversation, contacts by searching again and by the id in a 409.
 *
 * Steps of a call: contact, conversation (or the given conversation),
 * note:2..N (transcript continued), tag:<name>..., attributes, assign.
 * A note record: note:1.  A reply record: reply.
 */
#include <ctype.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "engine.h"
#include "ident.h"
#include "intercom.h"
#include "lastcall.h"
#include "log.h"
#include "phone.h"

static void	job_advance(struct job *);
static void	job_http_done(struct http_req *, void *);

#define NOW()	((int64_t)time(NULL))

typedef void (*job_handler)(struct job *, struct http_req *, enum verdict,
    json_t *);

/* ------------------------------------------------------------------ */
/* journal in memory                                                    */

static json_t *
jn_get(struct job *j, const char *step)
{
	return json_object_get(j->journal, step);
}

static const char *
jn_id(struct job *j, const char *step)
{
	return ic_str(jn_get(j, step), "id");
}

/*
 * The doubt clock of step's intent: milliseconds of elapsed time, as
 * observed by running workers on the monotonic clock, since its write
 * could last have been sent; -1 when step has no intent.  In memory an
 * intent carries detail.waited_ms (credit persisted by earlier attempts)
 * and "base" (monotonic ms when this process started counting).  Time
 * while no worker held the record is not counted: a wall clock stepped
 * by NTP can neither shorten a wait nor make an age negative.
 */
static int64_t
jn_doubt_ms(struct job *j, const char *step)
{
	char	 k[128];
	json_t	*in;
	int64_t	 w, d;

	snprintf(k, sizeof(k), "intent:%s", step);
	if ((in = jn_get(j, k)) == NULL)
		return -1;
	w = json_integer_value(json_object_get(json_object_get(in, "detail"),
	    "waited_ms"));
	d = clock_mono_ms() - json_integer_value(json_object_get(in, "base"));
	return (w > 0 ? w : 0) + (d > 0 ? d : 0);
}

/* The in-memory form of a journal row; detail is stolen. */
static int
jn_set(struct job *j, const char *step, const char *id, json_t *detail)
{
	json_t	*row;

	row = json_pack("{s:s?,s:o?,s:I}", "id", id, "detail", detail, "base",
	    (json_int_t)clock_mono_ms());
	if (row == NULL)
		return -1;
	return json_object_set_new(j->journal, step, row);
}

static int
jn_load(struct job *j)
{
	struct ob_step	*s;
	size_t		 n, i;
	int		 rc = 0;

	if (outbox_journal(&j->e->db, j->rec.id, &s, &n) == -1)
		return -1;
	j->loaded_ms = clock_mono_ms();
	for (i = 0; i < n && rc == 0; i++)
		rc = jn_set(j, s[i].step, s[i].intercom_id, s[i].detail ?
		    json_loads(s[i].detail, 0, NULL) : NULL);
	ob_step_free_array(s, n);
	return rc;
}

/* The write of step is leaving now: its doubt clock starts at zero. */
static void
jn_intent_sent(struct job *j, const char *intent)
{
	json_t	*in, *det;

	if ((in = jn_get(j, intent)) == NULL)
		return;
	if ((det = json_object_get(in, "detail")) != NULL)
		json_object_set_new(det, "waited_ms", json_integer(0));
	json_object_set_new(in, "base", json_integer(clock_mono_ms()));
}

/*
 * Persist the doubt clock of every open intent of j (under the lease),
 * so that a restart keeps the time already waited.  Best effort: losing
 * an update only makes a later wait longer, never shorter.
 */
static void
job_doubt_save(struct job *j)
{
	const char	*k;
	json_t		*in, *det;
	char		*txt;
	int64_t		 ms;
	int		 lost;

	if (j->e->db_stalled)
		return;
	json_object_foreach(j->journal, k, in) {
		if (strncmp(k, "intent:", 7) != 0 ||
		    (ms = jn_doubt_ms(j, k + 7)) < 0)
			continue;
		if ((det = json_object_get(in, "detail")) == NULL) {
			det = json_object();
			json_object_set_new(in, "detail", det);
		}
		json_object_set_new(det, "waited_ms", json_integer(ms));
		json_object_set_new(in, "base", json_integer(clock_mono_ms()));
		if ((txt = json_dumps(det, JSON_COMPACT)) == NULL)
			continue;
		outbox_step_detail(&j->e->db, j->rec.id, j->e->owner, k, txt,
		    &lost);
		free(txt);
	}
}

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
	free(j->c_step);
	free(j->c_id);
	free(j->c_detail);
	j->c_step = j->c_id = j->c_detail = NULL;
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	if (j->timer != NULL)
		event_free(j->timer);
	job_stall_clear(j);
	ob_rec_clear(&j->rec);
	record_free(&j->r);
	json_decref(j->journal);
	json_decref(j->conv);
	json_decref(j->tags);
	json_decref(j->pieces);
	json_decref(j->merges);
	free(j->body_text);
	http_req_free(j->req);
	free(j);
}

static void
job_end(struct job *j)
{
	if (j->timer != NULL)
		evtimer_del(j->timer);
	if (j->waiting) {
		j->waiting = false;
		j->ws->waiting--;
	}
	if (j->stall != STALL_NONE) {
		TAILQ_REMOVE(&j->e->stalled, j, sq);
		j->stall = STALL_NONE;
	}
	engine_job_finished(j->e, j);
	job_free(j);
}

static void
job_lost(struct job *j)
{
	log_warnx("%s/%s: lease lost to another worker; dropping this claim",
	    j->ws->name, j->rec.record_key);
	job_end(j);
}

/*
 * A database write of j failed (locked by another process past the busy
 * timeout, disk full, out of memory): j keeps its claim and what it
 * learned, and the write is retried from the engine's stall timer, one
 * job at a time so a locked database never stalls the loop.  While any
 * job is stalled, other jobs queue behind it without trying.
 */
static void
job_stall(struct job *j, int what)
{
	struct engine	*e = j->e;
	struct timeval	 tv;
	int64_t		 ms;

	if (e->final) {
		log_warnx("%s/%s: database unwritable at exit (%s); the claim "
		    "lapses with its lease", j->ws->name, j->rec.record_key,
		    db_errmsg(&e->db));
		job_end(j);
		return;
	}
	if (!e->db_stalled)
		log_warnx("database write failed (%s); keeping every outcome "
		    "in memory and retrying", db_errmsg(&e->db));
	e->db_stalled = true;
	j->stall = what;
	if (e->stall_running)
		TAILQ_INSERT_HEAD(&e->stalled, j, sq);
	else
		TAILQ_INSERT_TAIL(&e->stalled, j, sq);
	if (!evtimer_pending(e->stall_ev, NULL)) {
		ms = 100L << (e->stall_n < 4 ? e->stall_n : 4);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(e->stall_ev, &tv);
	}
}

static void	job_outcome(struct job *, int, const struct ob_fail *);
static int	job_commit(struct job *, const char *, const char *,
		    const char *, bool, long, long);

/* Retry what a stalled job could not write. */
static void
job_stall_run(struct job *j, int what)
{
	struct ob_fail	 f;

	switch (what) {
	case STALL_COMMIT:
		if (job_commit(j, j->c_step, j->c_id, j->c_detail, j->c_write,
		    j->c_status, j->c_dur) == 0)
			job_advance(j);
		break;
	case STALL_OUTCOME:
		f = j->out;
		job_outcome(j, j->out_kind, &f);
		break;
	default:
		job_advance(j);
		break;
	}
}

void
job_stall_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*e = arg;
	struct job	*j;
	int		 kind;

	(void)fd;
	(void)what;
	e->stall_running = true;
	while ((j = TAILQ_FIRST(&e->stalled)) != NULL) {
		TAILQ_REMOVE(&e->stalled, j, sq);
		kind = j->stall;
		j->stall = STALL_NONE;
		e->db_stalled = false;
		job_stall_run(j, kind);		/* may stall again, at the head */
		if (e->db_stalled)
			break;
	}
	e->stall_running = false;
	if (TAILQ_EMPTY(&e->stalled)) {
		if (e->stall_n > 0)
			log_warnx("database writable again; outcomes written");
		e->stall_n = 0;
		e->db_stalled = false;
		engine_kick(e);
		return;
	}
	e->stall_n++;
	e->db_stalled = true;
	if (!evtimer_pending(e->stall_ev, NULL)) {
		struct timeval tv = { 0, (100L << (e->stall_n < 3 ?
		    e->stall_n : 3)) * 1000 };

		evtimer_add(e->stall_ev, &tv);
	}
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
	struct db	*d = &j->e->db;
	int		 lost = 0, rc = -1;

	if (!j->e->db_stalled) {
		if (kind != OUT_DONE)
			job_doubt_save(j);
		if (kind == OUT_DONE)
			rc = outbox_done(d, j->rec.id, j->e->owner, NOW(), &lost);
		else if (kind == OUT_DEAD)
			rc = outbox_dead(d, j->rec.id, j->e->owner, f, &lost);
		else
			rc = outbox_retry(d, j->rec.id, j->e->owner, f, &lost);
	}
	if (rc == -1 && lost) {
		job_lost(j);
		return;
	}
	if (rc == -1) {
		if (f != &j->out)
			job_keep_outcome(j, kind, f);
		job_stall(j, STALL_OUTCOME);
		return;
	}
	if (kind == OUT_DONE) {
		j->e->n_delivered++;
		j->ws->delivered++;
		log_info("%s/%s: delivered%s%s (%d requests)", j->ws->name,
		    j->rec.record_key, j->conv_id[0] ? " to conversation " : "",
		    j->conv_id, j->nrequests);
	} else if (kind == OUT_DEAD) {
		j->e->n_dead++;
		log_warnx("%s/%s: dead-lettered: %s: %s", j->ws->name,
		    j->rec.record_key, f->reason, f->message);
	}
	job_end(j);
}

/* Forget step's intent: its write certainly did not happen. */
static void
job_void_intent(struct job *j, const char *intent)
{
	int	 lost;

	outbox_unstep_owned(&j->e->db, j->rec.id, j->e->owner, intent, &lost);
	json_object_del(j->journal, intent);
	if (strcmp(j->intent, intent) == 0)
		j->intent[0] = '\0';
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
	f.next_at = NOW();
	/* The answer that caused the release (401, ...), if one came. */
	f.http_status = j->req != NULL ? j->req->status : 0;
	/* An intent whose request never left the queue is void: drop it,
	 * or the next attempt would wait out search lag for nothing. */
	if (!j->sent && j->intent[0] != '\0')
		job_void_intent(j, j->intent);
	f.response = j->req != NULL && j->req->status > 0 ? j->req->resp : NULL;
	job_outcome(j, OUT_RETRY, &f);
}

static void	job_wait_cb(evutil_socket_t, short, void *);

/*
 * Hold the claim and wait ms of elapsed time (monotonic) before the next
 * look: a write in doubt is reconciled only once it can no longer land.
 * The doubt clock is persisted at every wake-up (at most every 5 s), so
 * a crash loses at most that much of the wait.  On SIGTERM the record is
 * released with the time already waited.
 */
static void
job_wait(struct job *j, int64_t ms, const char *why)
{
	struct timeval	 tv;

	if (j->e->stopping) {
		job_release(j, "shutdown", "worker stopping while a write is "
		    "in doubt");
		return;
	}
	if (j->timer == NULL &&
	    (j->timer = evtimer_new(j->e->base, job_wait_cb, j)) == NULL) {
		job_release(j, "internal", "out of memory arming a timer");
		return;
	}
	if (!j->waiting) {
		log_info("%s/%s: %s: %s; reconciling in %" PRId64 " s",
		    j->ws->name, j->rec.record_key, j->step, why,
		    (ms + 999) / 1000);
		j->waiting = true;
		j->ws->waiting++;
	}
	job_doubt_save(j);
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
	j->ws->waiting--;
	/* What was read before the wait is stale now. */
	json_decref(j->conv);
	j->conv = NULL;
	job_advance(j);
}

/*
 * 1 when step's write, if it was sent, can no longer land: its doubt
 * clock has run request_timeout + settle_margin (plus search_lag when
 * the write must be found by a search).  Else j waits and 0 is returned.
 */
static int
job_settled(struct job *j, const char *step, bool search, const char *what)
{
	const struct conf_ws *cw = j->ws->cw;
	int64_t		 need, have;
	char		 why[160];

	need = ((int64_t)cw->request_timeout + cw->settle_margin +
	    (search ? cw->search_lag : 0)) * 1000;
	if ((have = jn_doubt_ms(j, step)) < 0 || have >= need)
		return 1;
	snprintf(j->step, sizeof(j->step), "%s", step);
	snprintf(why, sizeof(why), "%s outcome unknown (answer lost or late)",
	    what);
	job_wait(j, need - have, why);
	return 0;
}

static void
job_dead(struct job *j, const char *reason, const char *class,
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
job_retry(struct job *j, enum verdict v, struct http_req *req,
    const char *msg)
{
	struct ob_fail	 f;
	int64_t		 delay;
	char		 line[512];

	if (j->rec.attempts >= j->ws->cw->max_attempts) {
		snprintf(line, sizeof(line), "gave up after %d attempts: %s",
		    j->rec.attempts, msg);
		job_dead(j, "max_attempts", "exhausted",
		    req ? req->status : 0, line, req ? req->resp : NULL);
		return;
	}
	delay = retry_backoff_ms(j->rec.attempts, j->e->backoff_base_ms,
	    j->e->backoff_cap_ms, engine_rand());
	memset(&f, 0, sizeof(f));
	f.class = retry_verdict_name(v);
	f.step = j->step;
	f.http_status = req ? req->status : 0;
	f.message = msg;
	f.response = req ? req->resp : NULL;
	f.charged = 1;
	f.in_doubt = j->is_write && retry_uncertain(v);
	f.next_at = NOW() + (delay + 999) / 1000;
	j->e->n_retries++;
	log_info("%s/%s: %s: %s; attempt %d, retry in %" PRId64 " ms",
	    j->ws->name, j->rec.record_key, j->step, msg, j->rec.attempts,
	    delay);
	job_outcome(j, OUT_RETRY, &f);
}

/* The usual treatment of a failed answer; handlers call it for what they
 * do not handle themselves. */
static void
job_fail(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	char	 code[64], emsg[256], msg[1024], reason[32];

	ic_error(o, code, sizeof(code), emsg, sizeof(emsg));
	if (req->cc != CURLE_OK)
		snprintf(msg, sizeof(msg), "%s %s: %s", req->method, j->path,
		    req->errbuf[0] ? req->errbuf : curl_easy_strerror(req->cc));
	else
		snprintf(msg, sizeof(msg), "%s %s: HTTP %ld%s%s%s%s",
		    req->method, j->path, req->status, code[0] ? " " : "", code,
		    emsg[0] ? ": " : "", emsg);
	switch (v) {
	case V_OUTAGE:
		job_release(j, "outage", msg);
		return;
	case V_NETFAIL:
		if (j->ws->state == WS_OUTAGE) {
			job_release(j, "outage", msg);
			return;
		}
		job_retry(j, v, req, msg);
		return;
	case V_AUTH:
		ws_pause(j->ws, req->status, msg);
		job_release(j, "auth", msg);
		return;
	case V_THROTTLED:
		/* Only while stopping (else resent): not the record's fault. */
		job_release(j, "rate_limited", msg);
		return;
	case V_TRANSIENT:
	case V_MALFORMED:
		job_retry(j, v, req, msg);
		return;
	default:
		break;
	}
	/* A 4xx refusal means the write did not happen: its intent is void,
	 * so a replay will not wait out search lag for nothing. */
	if (j->is_write && j->intent[0] != '\0' && req->status >= 400 &&
	    req->status < 500)
		job_void_intent(j, j->intent);
	snprintf(reason, sizeof(reason), "http_%ld", req->status);
	job_dead(j, reason, "permanent", req->status, msg, req->resp);
}

/* Set *p to a copy of s (NULL stays NULL); the old value is freed after
 * the copy, since s may be *p itself. */
static void
keep_str(char **p, const char *s)
{
	char	*n = dupnull(s);

	free(*p);
	*p = n;
}

/*
 * What a step's commit records beside its journal and audit rows, in the
 * same transaction: the merge mapping of a "merge:<from>" step, and the
 * call time behind the last_call_* attributes just written.
 */
static int
job_commit_extras(struct job *j, const char *step, const char *id)
{
	struct db	*d = &j->e->db;

	if (strncmp(step, "merge:", 6) == 0 && id != NULL && id[0] != '\0')
		return ident_merge(d, j->ws->name, step + 6, id,
		    "merged_by_callsync");
	if (strcmp(step, "attributes") == 0 && j->lastcall_at > 0)
		return lastcall_note(d, j->ws->name, j->contact_id,
		    j->lastcall_at, j->rec.record_key);
	return 0;
}

/*
 * Commit step with its Intercom id.  With write true, its audit row goes
 * in the same transaction; a "merge:<from>" step also records the merge
 * mapping there.  status < 0 marks a write found by reconciliation (its
 * answer was never seen).  Returns -1 when the job ended (lease lost) or
 * was parked to retry the commit (then it continues with job_advance).
 */
static int
job_commit(struct job *j, const char *step, const char *id,
    const char *detail, bool write, long status, long duration_ms)
{
	struct audit_row	 a;
	struct db		*d = &j->e->db;
	int			 lost = 0, rc = -1;
	char			 k[128];

	memset(&a, 0, sizeof(a));
	if (write) {
		a.kind = "write";
		a.workspace = j->ws->name;
		a.record_key = j->rec.record_key;
		a.step = step;
		a.method = j->req ? j->req->method : "POST";
		a.path = j->path;
		a.http_status = status;
		a.object_id = id;
		a.admin_id = j->ws->cw->admin_id;
		a.duration_ms = duration_ms;
		a.body = j->body_text;
		a.store_body = j->ws->cw->audit_bodies;
		a.detail = status < 0 ? "{\"reconciled\":true}" : detail;
	}
	if (!j->e->db_stalled && db_begin(d) == 0) {
		if (job_commit_extras(j, step, id) == -1)
			rc = -1;
		else
			rc = outbox_step(d, j->rec.id, j->e->owner, step, id,
			    detail, write ? &a : NULL, &lost);
		if (rc == 0 && db_commit(d) == -1)
			rc = -1;
		if (rc == -1)
			db_rollback(d);
	}
	if (rc == -1 && lost) {
		job_lost(j);
		return -1;
	}
	if (rc == -1) {
		keep_str(&j->c_step, step);
		keep_str(&j->c_id, id);
		keep_str(&j->c_detail, detail);
		j->c_write = write;
		j->c_status = status;
		j->c_dur = duration_ms;
		job_stall(j, STALL_COMMIT);
		return -1;
	}
	jn_set(j, step, id, detail ? json_loads(detail, 0, NULL) : NULL);
	snprintf(k, sizeof(k), "intent:%s", step);
	json_object_del(j->journal, k);
	if (strcmp(j->intent, k) == 0)
		j->intent[0] = '\0';
	j->search_phase = 0;
	return 0;
}

/*
 * Commit the intent of step before its write is sent; into (may be NULL)
 * is kept in its detail for reconciling.  -1: j was parked or ended.
 */
static int
job_intent(struct job *j, const char *step, const char *into)
{
	char	 k[128];
	char	*txt;
	json_t	*det;
	int	 lost = 0;

	snprintf(k, sizeof(k), "intent:%s", step);
	det = json_pack("{s:I,s:I,s:s?}", "at", (json_int_t)NOW(),
	    "waited_ms", (json_int_t)0, "into", into);
	if (det == NULL || (txt = json_dumps(det, JSON_COMPACT)) == NULL) {
		json_decref(det);
		job_release(j, "internal", "out of memory writing an intent");
		return -1;
	}
	if (j->e->db_stalled || outbox_step(&j->e->db, j->rec.id, j->e->owner,
	    k, NULL, txt, NULL, &lost) == -1) {
		free(txt);
		json_decref(det);
		if (lost)
			job_lost(j);
		else
			job_stall(j, STALL_ADVANCE);
		return -1;
	}
	free(txt);
	jn_set(j, k, NULL, det);
	snprintf(j->intent, sizeof(j->intent), "%s", k);
	return 0;
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

	snprintf(url, sizeof(url), "%s%s", j->ws->cw->api_base, j->path);
	if ((r = http_req_new(method, url)) == NULL)
		goto fail;
	if (j->body_text != NULL && (r->body = strdup(j->body_text)) == NULL)
		goto fail;
	if (ws_prepare(j->ws->cw, r) == -1)
		goto fail;
	/* Not repeatable: no silent resend by libcurl (see http_submit). */
	r->fresh = j->is_write && strcmp(method, "POST") == 0 &&
	    strcmp(j->path, "/tags") != 0;
	r->done = job_http_done;
	r->arg = j;
	http_req_free(j->req);
	j->req = r;
	j->sent = false;
	ws_enqueue(j->ws, j);
	return;
fail:
	http_req_free(r);
	job_release(j, "internal", "out of memory building a request");
}

/*
 * Queue a request for j.  body is stolen (may be NULL).  The workspace's
 * queue sends it when the limiter allows; job_http_done takes it back.
 */
static void
job_request(struct job *j, const char *method, const char *path,
    json_t *body, const char *step, bool is_write, job_handler h)
{
	snprintf(j->path, sizeof(j->path), "%s", path);
	snprintf(j->step, sizeof(j->step), "%s", step);
	j->is_write = is_write;
	j->handler = h;
	free(j->body_text);
	j->body_text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	/* The intent (if any) was written just before this request. */
	if (strncmp(j->intent, "intent:", 7) != 0 ||
	    strcmp(j->intent + 7, step) != 0)
		j->intent[0] = '\0';
	job_send(j, method);
}

/* A throttled request goes back in the queue as it was: no attempt. */
static void
job_resend(struct job *j)
{
	char	 method[8];

	snprintf(method, sizeof(method), "%s", j->req->method);
	job_send(j, method);
}

/* The engine handed j's request to libcurl: from now on its write may
 * land, so its doubt clock starts. */
int64_t
job_record_id(const struct job *j)
{
	return j->rec.id;
}

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
	if (j->is_write && j->e->crash_p > 0 && engine_rand() < j->e->crash_p)
		raise(SIGKILL);		/* test hook, see engine_init */
#endif
	ws->inflight--;
	j->nrequests++;
	j->e->n_requests++;
	v = retry_classify(req->cc, req->status);
	if (v == V_OK && req->too_big)
		v = V_MALFORMED;
	limiter_update(&ws->lim, clock_mono_ms(), req->rl_limit,
	    req->rl_remaining, req->rl_reset, v == V_THROTTLED,
	    engine_rand() * 2000.0);
	log_debug("%s/%s: %s %s -> %ld (%s, %" PRId64 " ms)", ws->name,
	    j->rec.record_key, req->method, j->path, req->status,
	    retry_verdict_name(v), req->duration_ms);
	ws_netresult(ws, v);
	if (v == V_THROTTLED && !j->e->stopping) {
		if (ws->state == WS_READY || ws->state == WS_BOOT)
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
	j->handler(j, req, v, o);	/* may end and free j */
	json_decref(o);
	/* This answer freed a slot: others may be waiting for it. */
	ws_pump(ws);
}

/* ------------------------------------------------------------------ */
/* building blocks                                                      */

/* Body pieces: the text split to fit max_body, each ending in a
 * reference line with its own marker token. */
static json_t *
job_pieces(struct job *j)
{
	const struct record	*r = &j->r;
	size_t			 max = j->ws->cw->max_body, room, len, cut, off;
	size_t			 n, k, total;
	char			*text = NULL, *piece, tok[64];
	json_t			*a = json_array();
	const char		*src;

	if (r->type == REC_CALL) {
		size_t sl = strlen(r->summary), tl = r->transcript ?
		    strlen(r->transcript) : 0;

		if ((text = malloc(sl + tl + 32)) == NULL)
			goto fail;
		snprintf(text, sl + tl + 32, "%s%s%s", r->summary,
		    r->transcript ? "\n\nTranscript:\n" : "",
		    r->transcript ? r->transcript : "");
		src = text;
	} else
		src = r->body;
	len = strlen(src);
	/* Room for "\n\n(continued, part 999 of 999) ref <key> <token>". */
	if (max < 1024)
		max = 1024;
	room = max - 64 - strlen(j->rec.record_key) - strlen(j->rec.marker);
	if (strlen(j->rec.record_key) + 200 > max)
		room = max / 2;
	total = len / room + 1;
	for (off = 0, n = 0; off < len || n == 0; n++) {
		cut = len - off;
		if (cut > room) {
			cut = room;
			/* Prefer a line break, never split a UTF-8 sequence. */
			for (k = cut; k > room / 2; k--)
				if (src[off + k] == '\n')
					break;
			if (k > room / 2)
				cut = k;
			while (cut > 0 && ((unsigned char)src[off + cut] &
			    0xc0) == 0x80)
				cut--;
		}
		if (n == 0)
			snprintf(tok, sizeof(tok), "%s", j->rec.marker);
		else
			snprintf(tok, sizeof(tok), "%sn%zu", j->rec.marker,
			    n + 1);
		if (asprintf(&piece, "%.*s\n\n%sref %s %s", (int)cut, src + off,
		    n > 0 ? "(transcript continued) " : "", j->rec.record_key,
		    tok) == -1)
			goto fail;
		json_array_append_new(a, json_string(piece));
		free(piece);
		off += cut;
		if (n > total + 2)
			break;
	}
	free(text);
	return a;
fail:
	free(text);
	json_decref(a);
	return NULL;
}

static void
job_token(struct job *j, size_t piece, char *tok, size_t sz)
{
	if (piece == 0)
		snprintf(tok, sz, "%s", j->rec.marker);
	else
		snprintf(tok, sz, "%sn%zu", j->rec.marker, piece + 1);
}

/* Tag names to apply: workspace defaults, the record's, its category. */
static json_t *
job_tag_names(struct job *j)
{
	json_t		*a = json_array(), *t;
	size_t		 i, k;
	const char	*names[CONF_MAX_LIST + REC_MAX_TAGS + 1];
	size_t		 n = 0;
	int		 dup;

	for (i = 0; i < j->ws->cw->ndefault_tags; i++)
		names[n++] = j->ws->cw->default_tags[i];
	for (i = 0; i < j->r.ntags; i++)
		names[n++] = j->r.tags[i];
	if (j->r.category != NULL && j->r.category[0] != '\0')
		names[n++] = j->r.category;
	for (i = 0; i < n; i++) {
		dup = 0;
		json_array_foreach(a, k, t)
			if (strcasecmp(json_string_value(t), names[i]) == 0)
				dup = 1;
		if (!dup)
			json_array_append_new(a, json_string(names[i]));
	}
	return a;
}

static void
lower_step(char *out, size_t sz, const char *prefix, const char *name)
{
	size_t	 i, p;

	p = (size_t)snprintf(out, sz, "%s", prefix);
	for (i = 0; name[i] != '\0' && p + 1 < sz; i++)
		out[p++] = (char)tolower((unsigned char)name[i]);
	out[p < sz ? p : sz - 1] = '\0';
}

/* ------------------------------------------------------------------ */
/* step: contact                                                        */

static void step_contact_resolve(struct job *);

/* Learn every identity of the record for contact id. */
static void
job_learn(struct job *j, const char *id, const char *role, const char *how)
{
	if (j->r.phone[0] != '\0')
		ident_learn(&j->e->db, j->ws->name, "phone", j->r.phone, id,
		    role, how);
	if (j->r.email[0] != '\0')
		ident_learn(&j->e->db, j->ws->name, "email", j->r.email, id,
		    role, how);
}

static int
job_set_contact(struct job *j, const char *id, const char *role,
    const char *how, bool write, long status, long dur)
{
	char	 det[96], cid[64], crole[16];

	/* id and role may point into j->contact_id / j->contact_role. */
	snprintf(cid, sizeof(cid), "%s", id);
	snprintf(crole, sizeof(crole), "%s", role ? role : "");
	id = cid;
	role = crole[0] ? crole : NULL;
	snprintf(j->contact_id, sizeof(j->contact_id), "%s", id);
	snprintf(j->contact_role, sizeof(j->contact_role), "%s", crole);
	snprintf(det, sizeof(det), "{\"source\":\"%s\",\"role\":\"%s\"}", how,
	    crole);
	/* A contact that vanished without a Link was replaced by this one:
	 * keep the mapping (how: re-resolved after a 404). */
	if (j->gone_id[0] != '\0' && strcmp(j->gone_id, id) != 0) {
		ident_merge(&j->e->db, j->ws->name, j->gone_id, id, "search_404");
		j->gone_id[0] = '\0';
	}
	/* The map is a cache: learning before the journal commit is safe.
	 * Identities already mapped to this contact keep how they were
	 * learned; a new one found beside a map hit is "linked". */
	job_learn(j, id, role, strcmp(how, "map") == 0 ? "linked" : how);
	return job_commit(j, "contact", id, det, write, status, dur);
}

static void contact_merge_next(struct job *);

/* Whether two contacts store the same phone or email (Intercom's 2.16
 * duplicate rule for merges compares these as stored). */
static int
same_identity(json_t *a, json_t *b)
{
	const char	*pa = ic_str(a, "phone"), *pb = ic_str(b, "phone");
	const char	*ea = ic_str(a, "email"), *eb = ic_str(b, "email");

	if (pa != NULL && pb != NULL && pa[0] != '\0' && strcmp(pa, pb) == 0)
		return 1;
	return ea != NULL && eb != NULL && ea[0] != '\0' &&
	    strcasecmp(ea, eb) == 0;
}

/* A duplicate lead was merged into the winner: journal, mapping and audit
 * in one transaction (job_commit, step "merge:<from>"). */
static void
contact_merge_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char		 step[96], from[64];
	char		 code[64], msg[256];

	snprintf(from, sizeof(from), "%s",
	    ic_str(json_array_get(j->merges, 0), "id"));
	snprintf(step, sizeof(step), "merge:%s", from);
	if (v == V_OK) {
		if (job_commit(j, step, j->contact_id,
		    "{\"merged_by_callsync\":true}", true, req->status,
		    (long)req->duration_ms) == -1)
			return;
		log_info("%s/%s: merged lead %s into user %s", j->ws->name,
		    j->rec.record_key, from, j->contact_id);
	} else if (v == V_OUTAGE || v == V_NETFAIL || v == V_AUTH ||
	    v == V_TRANSIENT || v == V_MALFORMED || v == V_THROTTLED) {
		job_fail(j, req, v, o);		/* in doubt: reconciled later */
		return;
	} else {
		/* Not mergeable (422 for some sources, 400 invalid_merge):
		 * nothing happened; the call still goes to the winner. */
		job_void_intent(j, j->intent);
		ic_error(o, code, sizeof(code), msg, sizeof(msg));
		log_warnx("%s/%s: cannot merge lead %s into %s: HTTP %ld %s %s",
		    j->ws->name, j->rec.record_key, from, j->contact_id,
		    req->status, code, msg);
	}
	json_array_remove(j->merges, 0);
	contact_merge_next(j);
}

/* Merge the next pending duplicate, or commit the contact step. */
static void
contact_merge_next(struct job *j)
{
	const char	*from;
	char		 step[96];
	json_t		*m, *body;

	while (j->merges != NULL && json_array_size(j->merges) > 0) {
		m = json_array_get(j->merges, 0);
		from = ic_str(m, "id");
		snprintf(step, sizeof(step), "merge:%s", from);
		if (jn_get(j, step) != NULL) {
			json_array_remove(j->merges, 0);	/* done before */
			continue;
		}
		if (job_intent(j, step, j->contact_id) == -1)
			return;
		body = json_pack("{s:s,s:s}", "from", from, "into",
		    j->contact_id);
		/* They matched one normalised phone or email, but Intercom's
		 * duplicate rule compares the stored strings: say we know. */
		if (json_is_true(json_object_get(m, "skip")))
			json_object_set_new(body, "skip_duplicate_validation",
			    json_true());
		job_request(j, "POST", "/contacts/merge", body, step, true,
		    contact_merge_done);
		return;
	}
	/* Found by search after our own create was in doubt: that create
	 * happened (the search found nobody before it); audit it now. */
	if (jn_doubt_ms(j, "contact") >= 0) {
		snprintf(j->path, sizeof(j->path), "/contacts");
		http_req_free(j->req);
		j->req = NULL;
		free(j->body_text);
		j->body_text = NULL;
		if (job_set_contact(j, j->contact_id, j->contact_role[0] ?
		    j->contact_role : NULL, "created", true, -1, 0) == -1)
			return;
	} else if (job_set_contact(j, j->contact_id, j->contact_role[0] ?
	    j->contact_role : NULL, "search", false, 0, 0) == -1)
		return;
	job_advance(j);
}

/*
 * A merge whose answer never came: once it can no longer land, ask for
 * the lead.  Gone (410 naming the survivor, or 404) means it was merged:
 * journal, mapping and audit row (reconciled).  Still there means it was
 * not: the intent is void and the next search merges it again.
 */
static void
merge_probe_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char		 into[25], k[128];
	const char	*from = j->step + 6, *target;
	json_t		*det;

	snprintf(k, sizeof(k), "intent:%s", j->step);
	det = json_object_get(jn_get(j, k), "detail");
	target = ic_str(det, "into");
	if (req->status == 410 && ic_link_contact(req->link, into) == 0)
		target = into;
	if (req->status == 410 || v == V_GONE) {
		snprintf(j->path, sizeof(j->path), "/contacts/merge");
		http_req_free(j->req);
		j->req = NULL;
		free(j->body_text);
		j->body_text = NULL;
		if (target == NULL)
			target = "";
		log_info("%s/%s: reconciled merge of %s into %s (earlier "
		    "answer was lost)", j->ws->name, j->rec.record_key, from,
		    target);
		if (job_commit(j, j->step, target, NULL, true, -1, 0) == -1)
			return;
		job_advance(j);
		return;
	}
	if (v == V_OK) {
		job_void_intent(j, k);
		job_advance(j);
		return;
	}
	job_fail(j, req, v, o);
}

/* 1 when no merge of this record is in doubt; else reconciles one. */
static int
step_merges(struct job *j)
{
	const char	*k;
	json_t		*in;
	char		 path[96], step[96];

	json_object_foreach(j->journal, k, in) {
		if (strncmp(k, "intent:merge:", 13) != 0)
			continue;
		snprintf(step, sizeof(step), "%s", k + 7);
		if (!job_settled(j, step, false, "contact merge"))
			return 0;
		snprintf(path, sizeof(path), "/contacts/%s", k + 13);
		job_request(j, "GET", path, NULL, step, false,
		    merge_probe_done);
		return 0;
	}
	return 1;
}

static void
contact_search_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	json_t		*data, *c;
	int		 w;
	size_t		 i;
	const char	*id, *kind;
	char		 ident[300];

	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	data = json_object_get(o, "data");
	if (!json_is_array(data)) {
		job_retry(j, V_MALFORMED, req, "contact search: no data array");
		return;
	}
	if ((w = ic_pick_contact(data)) < 0) {
		j->search_phase++;
		step_contact_resolve(j);
		return;
	}
	c = json_array_get(data, (size_t)w);
	id = ic_str(c, "id");
	kind = j->search_phase == 0 ? "phone" : "email";
	snprintf(ident, sizeof(ident), "%s:%s", kind,
	    j->search_phase == 0 ? j->r.phone : j->r.email);
	json_decref(j->merges);
	j->merges = json_array();
	/* The others are known duplicates of the winner: keep a record.
	 * With merge_duplicates, leads beside a winning user are merged
	 * into it (they share this phone or email: 2.16's duplicate rule). */
	json_array_foreach(data, i, c) {
		if ((int)i == w || !ic_is_contact_id(ic_str(c, "id")))
			continue;
		ident_duplicate(&j->e->db, j->ws->name, ic_str(c, "id"), id,
		    ident);
		if (j->ws->cw->merge_duplicates && ic_str(c, "role") != NULL &&
		    strcmp(ic_str(c, "role"), "lead") == 0 &&
		    strcmp(ic_str(json_array_get(data, (size_t)w), "role") ?
		    ic_str(json_array_get(data, (size_t)w), "role") : "",
		    "user") == 0)
			json_array_append_new(j->merges, json_pack("{s:s,s:b}",
			    "id", ic_str(c, "id"), "skip",
			    !same_identity(c, json_array_get(data, (size_t)w))));
	}
	snprintf(j->contact_id, sizeof(j->contact_id), "%s", id);
	snprintf(j->contact_role, sizeof(j->contact_role), "%s",
	    ic_str(json_array_get(data, (size_t)w), "role") ?
	    ic_str(json_array_get(data, (size_t)w), "role") : "");
	contact_merge_next(j);
}

static void
contact_unarchive_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (job_set_contact(j, j->contact_id, ic_str(o, "role"),
	    "conflict_409", true, req->status, (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

static void
contact_create_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char		 code[64], msg[512], id[25], path[96];
	const char	*cid;

	if (v == V_CONFLICT) {
		/* It exists (search lag, or a race with another worker). */
		ic_error(o, code, sizeof(code), msg, sizeof(msg));
		if (ic_conflict_id(msg, id) == -1) {
			job_retry(j, V_TRANSIENT, req,
			    "409 without a contact id; searching again");
			return;
		}
		job_void_intent(j, "intent:contact");
		if (strstr(msg, "archived") != NULL && j->ws->cw->unarchive) {
			snprintf(j->contact_id, sizeof(j->contact_id), "%s", id);
			snprintf(path, sizeof(path), "/contacts/%s/unarchive", id);
			job_request(j, "POST", path, NULL, "contact", true,
			    contact_unarchive_done);
			return;
		}
		if (job_set_contact(j, id, NULL, "conflict_409", false, 0, 0) == -1)
			return;
		job_advance(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if ((cid = ic_str(o, "id")) == NULL || !ic_is_contact_id(cid)) {
		job_retry(j, V_MALFORMED, req, "contact create: no id in answer");
		return;
	}
	if (job_set_contact(j, cid, ic_str(o, "role"), "created", true,
	    req->status, (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

static json_t *
phone_query(struct job *j)
{
	char	 forms[6][32];
	size_t	 n, i;
	json_t	*or;

	n = phone_variants(j->r.phone, j->ws->cw->default_region, forms, 6);
	if (n <= 1)
		return json_pack("{s:s,s:s,s:s}", "field", "phone", "operator",
		    "=", "value", j->r.phone);
	or = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(or, json_pack("{s:s,s:s,s:s}", "field",
		    "phone", "operator", "=", "value", forms[i]));
	return json_pack("{s:s,s:o}", "operator", "OR", "value", or);
}

/*
 * Resolution order: explicit contact_id, the local map, search by phone,
 * by email, then create a lead.  search_phase: 0 phone, 1 email, 2 create.
 */
static void
step_contact_resolve(struct job *j)
{
	json_t		*body;

	/* An earlier create may still land or be missing from search:
	 * search only once it could be found. */
	if (j->search_phase == 0 && !job_settled(j, "contact", true,
	    "contact create"))
		return;
	if (j->search_phase == 0 && j->r.phone[0] != '\0') {
		body = json_pack("{s:o,s:{s:i}}", "query", phone_query(j),
		    "pagination", "per_page", 50);
		job_request(j, "POST", "/contacts/search", body, "contact",
		    false, contact_search_done);
		return;
	}
	if (j->search_phase == 0)
		j->search_phase = 1;
	if (j->search_phase == 1 && j->r.email[0] != '\0') {
		body = json_pack("{s:{s:s,s:s,s:s},s:{s:i}}", "query", "field",
		    "email", "operator", "=", "value", j->r.email, "pagination",
		    "per_page", 50);
		job_request(j, "POST", "/contacts/search", body, "contact",
		    false, contact_search_done);
		return;
	}
	/* Nobody found, and any earlier create of ours had its full window
	 * to show up (see step_contact_resolve's start): create. */
	if (job_intent(j, "contact", NULL) == -1)
		return;
	body = json_pack("{s:s}", "role", "lead");
	if (j->r.phone[0] != '\0')
		json_object_set_new(body, "phone", json_string(j->r.phone));
	if (j->r.email[0] != '\0')
		json_object_set_new(body, "email", json_string(j->r.email));
	if (j->r.name != NULL)
		json_object_set_new(body, "name", json_string(j->r.name));
	job_request(j, "POST", "/contacts", body, "contact", true,
	    contact_create_done);
}

/* 1: the step is done (or the job ended); 0: a request is on its way. */
static int
step_contact(struct job *j)
{
	struct ident_hit h;
	const char	*id;
	char		 follow[64];
	int		 rc;

	if ((id = jn_id(j, "contact")) != NULL) {
		snprintf(j->contact_id, sizeof(j->contact_id), "%s", id);
		ident_follow(&j->e->db, j->ws->name, j->contact_id,
		    j->contact_id, sizeof(j->contact_id));
		return 1;
	}
	if (j->r.contact_id != NULL) {
		rc = ident_follow(&j->e->db, j->ws->name, j->r.contact_id,
		    follow, sizeof(follow));
		if (job_set_contact(j, follow, NULL, rc == 1 ? "explicit_merged" :
		    "explicit", false, 0, 0) == -1)
			return 0;
		return 1;
	}
	if ((j->r.phone[0] != '\0' && ident_lookup(&j->e->db, j->ws->name,
	    "phone", j->r.phone, &h) == 1) ||
	    (j->r.email[0] != '\0' && ident_lookup(&j->e->db, j->ws->name,
	    "email", j->r.email, &h) == 1)) {
		if (job_set_contact(j, h.contact_id, h.role[0] ? h.role : NULL,
		    "map", false, 0, 0) == -1)
			return 0;
		return 1;
	}
	step_contact_resolve(j);
	return 0;
}

/*
 * The contact we used answered 404 or 410: merged away or deleted.  Ask
 * for it: a 410 names the survivor in its Link header.
 */
static void
contact_probe_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char	 into[25];
	int	 lost;

	if (req->status == 410 && ic_link_contact(req->link, into) == 0) {
		ident_merge(&j->e->db, j->ws->name, j->contact_id, into,
		    "link_410");
		log_info("%s/%s: contact %s was merged into %s", j->ws->name,
		    j->rec.record_key, j->contact_id, into);
		if (job_set_contact(j, into, NULL, "merge", false, 0, 0) == -1)
			return;
		job_advance(j);
		return;
	}
	if (v == V_OK) {
		/* It exists after all: the failure was about something else. */
		job_retry(j, V_TRANSIENT, req, "contact exists but the write "
		    "answered 404");
		return;
	}
	if (v == V_GONE) {
		if (j->r.contact_id != NULL && strcmp(j->r.contact_id,
		    j->contact_id) == 0) {
			job_dead(j, "contact_not_found", "permanent", req->status,
			    "caller.contact_id: no such contact in Intercom",
			    req->resp);
			return;
		}
		/* Deleted, or merged with no Link (2.15 behaviour): resolve
		 * again from scratch. */
		ident_forget(&j->e->db, j->ws->name, j->contact_id);
		snprintf(j->gone_id, sizeof(j->gone_id), "%s", j->contact_id);
		outbox_unstep_owned(&j->e->db, j->rec.id, j->e->owner,
		    "contact", &lost);
		json_object_del(j->journal, "contact");
		j->contact_id[0] = '\0';
		j->search_phase = 0;
		job_advance(j);
		return;
	}
	job_fail(j, req, v, o);
}

static void
contact_gone(struct job *j)
{
	char	 path[96];

	/* A contact that keeps vanishing must not loop within one attempt. */
	if (++j->resolves > 3) {
		job_retry(j, V_TRANSIENT, NULL, "contact keeps disappearing "
		    "(merged or deleted repeatedly); resolving again later");
		return;
	}

	snprintf(path, sizeof(path), "/contacts/%s", j->contact_id);
	job_request(j, "GET", path, NULL, "contact", false, contact_probe_done);
}

/* ------------------------------------------------------------------ */
/* step: conversation                                                   */

static void
conv_create_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char	 cid[32];

	if (v == V_GONE) {
		/* No write happened: the contact is the problem. */
		job_void_intent(j, "intent:conversation");
		contact_gone(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (ic_id(o, "conversation_id", cid, sizeof(cid)) == NULL) {
		job_retry(j, V_MALFORMED, req,
		    "conversation create: no conversation_id in answer");
		return;
	}
	snprintf(j->conv_id, sizeof(j->conv_id), "%s", cid);
	if (job_commit(j, "conversation", cid, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

static void
conv_create(struct job *j)
{
	json_t	*body;

	if (job_intent(j, "conversation", NULL) == -1)
		return;
	body = json_pack("{s:{s:s,s:s},s:O}", "from", "type",
	    strcmp(j->contact_role, "user") == 0 ? "user" : "lead", "id",
	    j->contact_id, "body", json_array_get(j->pieces, 0));
	job_request(j, "POST", "/conversations", body, "conversation", true,
	    conv_create_done);
}

static void
conv_search_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	json_t	*list;
	char	 cid[32];

	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	list = json_object_get(o, "conversations");
	if (json_is_array(list) && json_array_size(list) > 0 &&
	    ic_id(json_array_get(list, 0), "id", cid, sizeof(cid)) != NULL) {
		/* Found: the earlier create did happen.  Audit it now. */
		snprintf(j->conv_id, sizeof(j->conv_id), "%s", cid);
		snprintf(j->path, sizeof(j->path), "/conversations");
		http_req_free(j->req);
		j->req = NULL;
		if (job_commit(j, "conversation", cid, "{\"reconciled\":true}",
		    true, -1, 0) == -1)
			return;
		log_info("%s/%s: reconciled conversation %s (earlier answer "
		    "was lost)", j->ws->name, j->rec.record_key, cid);
		job_advance(j);
		return;
	}
	/* Settled and searchable, yet not found: it never happened. */
	conv_create(j);
}

static int
step_conversation(struct job *j)
{
	const char	*id;
	json_t		*body;

	/* The journal first: a conversation created before a dlq edit
	 * stays the record's conversation. */
	if ((id = jn_id(j, "conversation")) != NULL) {
		snprintf(j->conv_id, sizeof(j->conv_id), "%s", id);
		return 1;
	}
	if (j->r.conversation_id != NULL) {
		snprintf(j->conv_id, sizeof(j->conv_id), "%s",
		    j->r.conversation_id);
		return 1;
	}
	if (jn_doubt_ms(j, "conversation") >= 0) {
		if (!job_settled(j, "conversation", true,
		    "conversation create"))
			return 0;
		/* By the marker alone: it is unique, and a merge may have
		 * moved the conversation to another contact meanwhile. */
		body = json_pack("{s:{s:s,s:s,s:s}}", "query",
		    "field", "source.body", "operator", "=", "value",
		    j->rec.marker);
		job_request(j, "POST", "/conversations/search", body,
		    "conversation", false, conv_search_done);
		return 0;
	}
	conv_create(j);
	return 0;
}

/* ------------------------------------------------------------------ */
/* conversation reads for reconciling notes, tags and assignments       */

static int	 step_parts(struct job *);

static void
conv_read_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	if (v == V_GONE) {
		job_dead(j, "conversation_not_found", "permanent", req->status,
		    "conversation_id: no such conversation in Intercom",
		    req->resp);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	json_decref(j->conv);
	j->conv = json_incref(o);
	job_advance(j);
}

/* 1 when j->conv is fresh enough to reconcile with; else starts a GET. */
static int
job_need_conv(struct job *j, const char *step)
{
	char	 path[96];

	if (j->conv != NULL)
		return 1;
	snprintf(path, sizeof(path), "/conversations/%s", j->conv_id);
	job_request(j, "GET", path, NULL, step, false, conv_read_done);
	return 0;
}

/* ------------------------------------------------------------------ */
/* step: notes (transcript continued; note and reply records)           */

static void
part_done(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	json_t	*parts, *last;
	char	 pid[32] = "";

	if (v == V_GONE) {
		job_dead(j, "conversation_not_found", "permanent", req->status,
		    "conversation_id: no such conversation in Intercom",
		    req->resp);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	parts = json_object_get(json_object_get(o, "conversation_parts"),
	    "conversation_parts");
	if (json_is_array(parts) && json_array_size(parts) > 0) {
		last = json_array_get(parts, json_array_size(parts) - 1);
		ic_id(last, "id", pid, sizeof(pid));
	}
	if (job_commit(j, j->step, pid[0] ? pid : j->conv_id, NULL, true,
	    req->status, (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

/*
 * Pieces from first (0 for notes on an existing conversation, 1 after a
 * created one) are added as notes; a reply record adds one comment.
 */
static int
step_parts(struct job *j)
{
	size_t	 first, i;
	char	 step[32], tok[64], path[96];
	bool	 reply = j->r.type == REC_REPLY;
	json_t	*body;

	first = (j->r.type == REC_CALL && j->r.conversation_id == NULL) ? 1 : 0;
	for (i = first; i < json_array_size(j->pieces); i++) {
		if (reply)
			snprintf(step, sizeof(step), "reply");
		else
			snprintf(step, sizeof(step), "note:%zu", i + 1);
		if (jn_get(j, step) != NULL)
			continue;
		job_token(j, i, tok, sizeof(tok));
		if (jn_doubt_ms(j, step) >= 0) {
			if (!job_settled(j, step, false, "note") ||
			    !job_need_conv(j, step))
				return 0;
			if (ic_conv_has_marker(j->conv, tok)) {
				snprintf(j->path, sizeof(j->path),
				    "/conversations/%s/reply", j->conv_id);
				http_req_free(j->req);
				j->req = NULL;
				if (job_commit(j, step, j->conv_id,
				    "{\"reconciled\":true}", true, -1, 0) == -1)
					return 0;
				continue;
			}
		}
		if (job_intent(j, step, NULL) == -1)
			return 0;
		body = json_pack("{s:s,s:s,s:s,s:O}", "message_type",
		    reply ? "comment" : "note", "type", "admin", "admin_id",
		    j->ws->cw->admin_id, "body", json_array_get(j->pieces, i));
		snprintf(path, sizeof(path), "/conversations/%s/reply",
		    j->conv_id);
		job_request(j, "POST", path, body, step, true, part_done);
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* step: tags                                                           */

static void
tag_apply_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (job_commit(j, j->step, j->tag_id, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

static void
tag_create_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	struct audit_row a;
	char		 tid[32];
	const char	*name = json_string_value(json_array_get(j->tags,
	    (size_t)j->tag_i));

	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (ic_id(o, "id", tid, sizeof(tid)) == NULL) {
		job_retry(j, V_MALFORMED, req, "tag create: no id in answer");
		return;
	}
	memset(&a, 0, sizeof(a));
	a.workspace = j->ws->name;
	a.record_key = j->rec.record_key;
	a.step = "tag_create";
	a.method = "POST";
	a.path = "/tags";
	a.http_status = req->status;
	a.object_id = tid;
	a.admin_id = j->ws->cw->admin_id;
	a.duration_ms = (long)req->duration_ms;
	a.body = j->body_text;
	a.store_body = j->ws->cw->audit_bodies;
	/* The tag and its audit row together, or neither: a tag created
	 * without its row would be a write missing from the audit log. */
	if (j->e->db_stalled || db_begin(&j->e->db) == -1)
		goto stall;
	if (ident_tag_put(&j->e->db, j->ws->name, name, tid) == -1 ||
	    audit_append(&j->e->db, &a) == -1 || db_commit(&j->e->db) == -1) {
		db_rollback(&j->e->db);
		goto stall;
	}
	job_advance(j);
	return;
stall:
	/* POST /tags is create-or-get by name: doing it again is safe. */
	job_stall(j, STALL_ADVANCE);
}

static int
step_tags(struct job *j)
{
	size_t		 i;
	const char	*name;
	char		 step[128], path[96];
	json_t		*body;

	for (i = 0; i < json_array_size(j->tags); i++) {
		name = json_string_value(json_array_get(j->tags, i));
		lower_step(step, sizeof(step), "tag:", name);
		if (jn_get(j, step) != NULL)
			continue;
		j->tag_i = (int)i;
		if (ident_tag_get(&j->e->db, j->ws->name, name, j->tag_id,
		    sizeof(j->tag_id)) != 1) {
			job_request(j, "POST", "/tags", json_pack("{s:s}",
			    "name", name), "tag_create", true, tag_create_done);
			return 0;
		}
		if (jn_doubt_ms(j, step) >= 0) {
			if (!job_settled(j, step, false, "tag") ||
			    !job_need_conv(j, step))
				return 0;
			if (ic_conv_has_tag(j->conv, j->tag_id)) {
				snprintf(j->path, sizeof(j->path),
				    "/conversations/%s/tags", j->conv_id);
				http_req_free(j->req);
				j->req = NULL;
				if (job_commit(j, step, j->tag_id,
				    "{\"reconciled\":true}", true, -1, 0) == -1)
					return 0;
				continue;
			}
		}
		if (job_intent(j, step, NULL) == -1)
			return 0;
		body = json_pack("{s:s,s:s}", "id", j->tag_id, "admin_id",
		    j->ws->cw->admin_id);
		snprintf(path, sizeof(path), "/conversations/%s/tags", j->conv_id);
		job_request(j, "POST", path, body, step, true, tag_apply_done);
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* step: contact attributes                                             */

static void
attrs_done(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	if (v == V_GONE) {
		contact_gone(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (job_commit(j, "attributes", j->contact_id, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

/* Set a standard attribute only if the workspace defines it. */
static void
attr_std(struct job *j, json_t *ca, const char *name, json_t *val)
{
	if (val == NULL)
		return;
	if (j->ws->attrs != NULL && json_object_get(j->ws->attrs, name) == NULL) {
		if (!j->ws->warned_attrs)
			log_warnx("%s: contact attribute %s does not exist; "
			    "skipping it (run: callsync doctor --fix)",
			    j->ws->name, name);
		j->ws->warned_attrs = 1;
		json_decref(val);
		return;
	}
	json_object_set_new(ca, name, val);
}

static int
step_attributes(struct job *j)
{
	json_t	*ca, *body;
	size_t	 i;
	char	 path[96];
	int64_t	 at;
	int	 newer;

	if (jn_get(j, "attributes") != NULL)
		return 1;
	ca = json_object();
	at = j->r.started_unix > 0 ? j->r.started_unix : j->rec.enqueued_at;
	/* A replayed older call must not overwrite a newer call's view. */
	if ((newer = lastcall_newer(&j->e->db, j->ws->name, j->contact_id,
	    at)) == -1) {
		json_decref(ca);
		job_stall(j, STALL_ADVANCE);
		return 0;
	}
	j->lastcall_at = newer ? at : 0;
	if (!newer)
		log_info("%s/%s: contact %s has a newer call; last_call_* left "
		    "as they are", j->ws->name, j->rec.record_key,
		    j->contact_id);
	else {
		attr_std(j, ca, "last_call_at", json_integer(at));
		if (j->r.outcome != NULL)
			attr_std(j, ca, "last_call_outcome",
			    json_string(j->r.outcome));
		if (j->r.escalate >= 0)
			attr_std(j, ca, "last_call_escalated",
			    json_boolean(j->r.escalate));
		if (j->r.nps >= 0)
			attr_std(j, ca, "last_call_nps",
			    json_integer(j->r.nps));
	}
	for (i = 0; i < j->r.nattrs; i++)
		json_object_set(ca, j->r.attrs[i].name, j->r.attrs[i].value);
	if (json_object_size(ca) == 0) {
		json_decref(ca);
		if (job_commit(j, "attributes", NULL, "{\"skipped\":true}",
		    false, 0, 0) == -1)
			return 0;
		return 1;
	}
	body = json_pack("{s:o}", "custom_attributes", ca);
	snprintf(path, sizeof(path), "/contacts/%s", j->contact_id);
	job_request(j, "PUT", path, body, "attributes", true, attrs_done);
	return 0;
}

/* ------------------------------------------------------------------ */
/* step: assignment                                                     */

/* Where the conversation goes: assign, else route by category, else
 * the escalation target when escalated.  0 when nowhere. */
static char
job_assignee(struct job *j, const char **id)
{
	struct conf_ws	*cw = j->ws->cw;
	size_t		 i;

	if (j->r.assign_kind != 0) {
		*id = j->r.assign_id;
		return j->r.assign_kind;
	}
	if (j->r.category != NULL)
		for (i = 0; i < cw->nroutes; i++)
			if (cw->routes[i].category != NULL &&
			    strcasecmp(cw->routes[i].category,
			    j->r.category) == 0) {
				*id = cw->routes[i].id;
				return cw->routes[i].kind;
			}
	if (j->r.escalate == 1 && cw->has_escalation) {
		*id = cw->escalation.id;
		return cw->escalation.kind;
	}
	return 0;
}

static void
assign_done(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	const char	*id = NULL;

	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	job_assignee(j, &id);
	if (job_commit(j, "assign", id, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

static int
step_assign(struct job *j)
{
	const char	*id = NULL;
	char		 kind, cur[32], path[96];
	json_t		*body;

	if (jn_get(j, "assign") != NULL)
		return 1;
	if ((kind = job_assignee(j, &id)) == 0 || id == NULL)
		return 1;
	if (jn_doubt_ms(j, "assign") >= 0) {
		if (!job_settled(j, "assign", false, "assignment") ||
		    !job_need_conv(j, "assign"))
			return 0;
		if (ic_conv_assignee(j->conv, kind, cur, sizeof(cur)) != NULL &&
		    strcmp(cur, id) == 0) {
			snprintf(j->path, sizeof(j->path),
			    "/conversations/%s/parts", j->conv_id);
			http_req_free(j->req);
			j->req = NULL;
			if (job_commit(j, "assign", id, "{\"reconciled\":true}",
			    true, -1, 0) == -1)
				return 0;
			return 1;
		}
	}
	if (job_intent(j, "assign", NULL) == -1)
		return 0;
	body = json_pack("{s:s,s:s,s:s,s:s}", "message_type", "assignment",
	    "type", kind == 't' ? "team" : "admin", "admin_id",
	    j->ws->cw->admin_id, "assignee_id", id);
	snprintf(path, sizeof(path), "/conversations/%s/parts", j->conv_id);
	job_request(j, "POST", path, body, "assign", true, assign_done);
	return 0;
}

/* ------------------------------------------------------------------ */
/* driver                                                               */

static void
job_delivered(struct job *j)
{
	job_outcome(j, OUT_DONE, NULL);
}

static void
job_advance(struct job *j)
{
	j->step[0] = '\0';
	if (j->e->stopping) {
		job_release(j, "shutdown", "worker stopping");
		return;
	}
	if (j->r.type == REC_CALL) {
		if (!step_merges(j) || !step_contact(j) || !step_conversation(j) ||
		    !step_parts(j) || !step_tags(j) || !step_attributes(j) ||
		    !step_assign(j))
			return;
	} else {
		snprintf(j->conv_id, sizeof(j->conv_id), "%s",
		    j->r.conversation_id);
		if (!step_parts(j))
			return;
	}
	job_delivered(j);
}

void
job_release_waiting(struct engine *e)
{
	struct job	*j, *next;

	for (j = TAILQ_FIRST(&e->all); j != NULL; j = next) {
		next = TAILQ_NEXT(j, all);
		if (j->waiting)
			job_release(j, "shutdown", "worker stopping while a "
			    "write is in doubt");
	}
}

struct job *
job_new(struct engine *e, struct wsrt *ws, struct ob_rec *rec)
{
	struct job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->e = e;
	j->ws = ws;
	j->rec = *rec;			/* steals the strings */
	memset(rec, 0, sizeof(*rec));
	j->journal = json_object();
	return j;
}

/* Parse, check age, load the journal, go. */
void
job_start(struct job *j)
{
	struct rec_err	 err;
	char		 msg[400];

	if (record_parse(j->rec.payload, j->ws->cw, &j->r, &err) == -1) {
		job_dead(j, err.reason, "invalid", 0, err.message, NULL);
		return;
	}
	if (NOW() - j->rec.enqueued_at > j->ws->cw->max_age) {
		snprintf(msg, sizeof(msg), "not delivered within max_age "
		    "(%lld s); last error: see attempts",
		    (long long)j->ws->cw->max_age);
		job_dead(j, "max_age", "exhausted", 0, msg, NULL);
		return;
	}
	if (jn_load(j) == -1 || (j->pieces = job_pieces(j)) == NULL) {
		job_release(j, "internal", "cannot load the journal");
		return;
	}
	j->tags = j->r.type == REC_CALL ? job_tag_names(j) : json_array();
	job_advance(j);
}
