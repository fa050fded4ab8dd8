/*
 * journal.c: what a job knows and has written, below the step modules
 * and the driver (journal.h): the step journal in memory and its rows
 * in the outbox database, intents and their doubt clock (when a write in
 * doubt may be looked for, and when "not there" may be concluded),
 * commits with their audit rows, the copies of the open group's writes
 * that a failed group commit replays, and the one decision a step or
 * answer handler records for the driver (job.c, job_do) to carry out.
 * Why the rules are what they are: the essay at the top of job.c.
 *
 * Nothing here sends, waits, parks or ends a job: where a write fails
 * (a lost lease, a database that cannot be written) the decision says
 * so (JD_LOST, JD_STALL) and the caller returns.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "ident.h"
#include "intercom.h"
#include "job.h"
#include "journal.h"
#include "lag.h"
#include "lastcall.h"
#include "log.h"

static void	job_op_add(struct job *, int, const char *, const char *,
		    const char *, const struct audit_row *);
static void	job_lose(struct job *);
static void	job_wait_decide(struct job *, int64_t, const char *);



/* ------------------------------------------------------------------ */
/* journal in memory                                                    */

json_t *
jn_get(struct job *j, const char *step)
{
	return json_object_get(j->journal, step);
}

const char *
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
int64_t
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

#define DOUBT_FIRST_MS	2000	/* see job_settled */

/*
 * How long step's write stays in doubt, in ms of its doubt clock:
 * request_timeout + settle_margin, plus the search lag for the writes
 * found by a search (a contact, a conversation): learned (lag_for), at
 * most search_lag: job_settled's rule.  In *first_ms (may be NULL) when
 * to look first.
 */
static int64_t
jn_doubt_need_ms(const struct job *j, const char *step, int64_t *first_ms)
{
	const struct conf_ws *cw = ws_conf(j->ws);
	const struct step_def *d = step_def_of(step);
	int64_t		 lag = 0;
	int		 kind;

	if (first_ms != NULL)
		*first_ms = DOUBT_FIRST_MS;
	/* Which writes a search finds: the step table's settle rule; how
	 * long its index lags: learned from Intercom (lag_for), at most
	 * search_lag. */
	if (d != NULL && d->settle == STEP_SETTLE_SEARCH)
		lag = (kind = lag_kind_of_step(step)) >= 0 ? lag_for(j->ws,
		    (enum lag_kind)kind, DOUBT_FIRST_MS, first_ms) :
		    (int64_t)cw->search_lag * 1000;
	return step_window_ms(d, cw->request_timeout, cw->settle_margin, 0) +
	    lag;
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

int
jn_load(struct job *j)
{
	struct ob_step	*s;
	size_t		 n, i;
	int		 rc = 0;

	if (outbox_journal(rt_db(j->e), j->rec.id, &s, &n) == -1)
		return -1;
	j->loaded_ms = clock_mono_ms();
	for (i = 0; i < n && rc == 0; i++)
		rc = jn_set(j, s[i].step, s[i].intercom_id, s[i].detail ?
		    json_loads(s[i].detail, 0, NULL) : NULL);
	ob_step_free_array(s, n);
	return rc;
}

/* The write of step is leaving now: its doubt clock starts at zero. */
void
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
void
job_doubt_save(struct job *j)
{
	const char	*k;
	json_t		*in, *det;
	char		*txt;
	int64_t		 ms;
	int		 lost;

	if (rt_db_stalled(j->e))
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
		/* For callsync show only (the wait never reads them): the
		 * wait's length, and when waited_ms was true. */
		json_object_set_new(det, "need_ms", json_integer(
		    jn_doubt_need_ms(j, k + 7, NULL)));
		json_object_set_new(det, "saved_at", json_integer(clock_wall_s()));
		json_object_set_new(in, "base", json_integer(clock_mono_ms()));
		if ((txt = json_dumps(det, JSON_COMPACT)) == NULL)
			continue;
		outbox_step_detail(rt_db(j->e), j->rec.id, rt_owner(j->e), k,
		    txt, &lost);
		free(txt);
	}
}

/* Forget step's intent: its write certainly did not happen. */
void
job_void_intent(struct job *j, const char *intent)
{
	int	 lost;

	rt_tx_join(j->e, &j->link);
	if (outbox_unstep_owned(rt_db(j->e), j->rec.id, rt_owner(j->e), intent,
	    &lost) != -1)
		job_op_add(j, JOP_UNSTEP, intent, NULL, NULL, NULL);
	json_object_del(j->journal, intent);
	if (strcmp(j->intent, intent) == 0)
		j->intent[0] = '\0';
}

/*
 * When to look for a write in doubt (the essay's "settle on evidence").
 * A look that finds the write proves it landed, whenever it is made; one
 * that does not is conclusive only when it starts after the window (S,
 * plus L for a search).  So the first look comes DOUBT_FIRST_MS into the
 * doubt clock (a write applied as its answer was lost shows in a read at
 * once, and in a search once the index has it: for a search, the
 * observed median lag within [1 s, DOUBT_FIRST_MS], lag_for), the next
 * ones on a geometric scale up to the window's end: DOUBT_LOOKS looks at most per
 * write, the last at the window's end (a search costs rate budget).
 */
#define DOUBT_LOOKS	8

/*
 * 1 when step's write may be looked for now: the look is due on the
 * scale above, or the write can no longer land (its doubt clock has run
 * request_timeout + settle_margin, plus search_lag when the write must be
 * found by a search; then the look is final).  Else 0, and j is to wait
 * until the next look (decided: JD_WAIT).
 */
int
job_settled(struct job *j, const char *step, bool search, const char *what)
{
	int64_t		 need, have, look, first;
	json_t		*in;
	char		 k[128], why[224];

	(void)search;		/* jn_doubt_need_ms knows it by the step */
	need = jn_doubt_need_ms(j, step, &first);
	snprintf(k, sizeof(k), "intent:%s", step);
	if ((have = jn_doubt_ms(j, step)) < 0 || (in = jn_get(j, k)) == NULL) {
		j->doubt_end_ms = 0;
		return 1;
	}
	if (have >= need) {
		if (!json_is_true(json_object_get(in, "final"))) {
			/* A read made before the window closed cannot
			 * say "not there": the final look reads again. */
			json_object_set_new(in, "final", json_true());
			json_decref(j->conv);
			j->conv = NULL;
		}
		j->doubt_end_ms = 0;
		return 1;
	}
	if ((look = json_integer_value(json_object_get(in, "look_ms"))) <= 0) {
		look = retry_next_look_ms(first, need, -1, DOUBT_LOOKS);
		json_object_set_new(in, "look_ms", json_integer(look));
	}
	if (have >= look) {
		j->doubt_end_ms = 0;
		return 1;
	}
	j->doubt_end_ms = clock_mono_ms() + (look - have);
	snprintf(j->step, sizeof(j->step), "%s", step);
	snprintf(why, sizeof(why), "%s outcome unknown (answer lost or late); "
	    "looking in %" PRId64 " s, 'not there' only after %" PRId64 " s",
	    what, (look - have + 999) / 1000, (need - have + 999) / 1000);
	job_wait_decide(j, look - have, why);
	return 0;
}

/*
 * A look did not find step's write.  1 when that look was final: the
 * write did not happen, the caller sends it again.  Else 0: j is to wait
 * for the next look (decided; job_advance runs the step again then).
 */
int
job_absent(struct job *j, const char *step, bool search, const char *what)
{
	int64_t		 need, have, first;
	json_t		*in;
	char		 k[128], st[96];

	snprintf(k, sizeof(k), "intent:%s", step);
	if ((in = jn_get(j, k)) == NULL ||
	    json_is_true(json_object_get(in, "final")))
		return 1;
	snprintf(st, sizeof(st), "%s", step);	/* step may be j->step */
	need = jn_doubt_need_ms(j, st, &first);
	have = jn_doubt_ms(j, st);
	json_object_set_new(in, "look_ms", json_integer(
	    retry_next_look_ms(first, need, have, DOUBT_LOOKS)));
	if (job_settled(j, st, search, what))
		job_hold(j, 0);		/* the window closed meanwhile */
	return 0;
}

/*
 * The doubt about step's write is over: reconciliation found it (how
 * says which), after waited ms of its doubt clock (-1: unknown).  One
 * line at the default level, as when its wait started (job.c, job_wait).
 */
static void
job_doubt_ended(struct job *j, const char *step, int64_t waited,
    const char *how)
{
	log_rec(LOG_LVL_WARN, ws_name(j->ws), j->rec.record_key, step,
	    "in doubt resolved after %" PRId64 " s: %s",
	    waited > 0 ? (waited + 500) / 1000 : 0, how);
	j->doubt_step[0] = '\0';
	j->doubt_end_ms = 0;
}

/* Set *p to a copy of s (NULL stays NULL); the old value is freed after
 * the copy, since s may be *p itself. */
static void
keep_str(char **p, const char *s)
{
	char	*n = s != NULL ? strdup(s) : NULL;

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
	struct db	*d = rt_db(j->e);

	if (strncmp(step, "merge:", 6) == 0 && id != NULL && id[0] != '\0')
		return ident_merge(d, ws_name(j->ws), step + 6, id,
		    "merged_by_callsync");
	if (strcmp(step, "attributes") == 0 && j->lastcall_at > 0)
		return lastcall_note(d, ws_name(j->ws), j->contact_id,
		    j->lastcall_at, j->rec.record_key);
	return 0;
}

/*
 * Commit step with its Intercom id.  With write true, its audit row goes
 * in the same transaction; a "merge:<from>" step also records the merge
 * mapping there.  status < 0 marks a write found by reconciliation (its
 * answer was never seen).  Returns -1 when the commit failed: the job
 * is to end (lease lost: JD_LOST) or to be parked to retry the commit
 * (JD_STALL; then it continues with job_advance), as decided here.
 */
int
job_commit(struct job *j, const char *step, const char *id,
    const char *detail, bool write, long status, long duration_ms)
{
	struct audit_row	 a;
	struct db		*d = rt_db(j->e);
	int			 lost = 0, rc = -1;
	char			 k[128];
	int64_t			 waited = status < 0 ? jn_doubt_ms(j, step) : -1;

	memset(&a, 0, sizeof(a));
	if (write) {
		a.kind = "write";
		a.workspace = ws_name(j->ws);
		a.record_key = j->rec.record_key;
		a.step = step;
		a.method = j->link.req ? j->link.req->method : "POST";
		a.path = j->path;
		a.http_status = status;
		a.object_id = id;
		a.admin_id = ws_conf(j->ws)->admin_id;
		a.duration_ms = duration_ms;
		a.body = j->body_text;
		a.store_body = ws_conf(j->ws)->audit_bodies;
		a.detail = status < 0 ? "{\"reconciled\":true}" : detail;
	}
	rt_tx_join(j->e, &j->link);
	if (!rt_db_stalled(j->e) && db_begin(d) == 0) {
		if (job_commit_extras(j, step, id) == -1)
			rc = -1;
		else
			rc = outbox_step(d, j->rec.id, rt_owner(j->e), step, id,
			    detail, write ? &a : NULL, &lost);
		if (rc == 0 && db_commit(d) == -1)
			rc = -1;
		if (rc == -1)
			db_rollback(d);
	}
	if (rc == -1 && lost) {
		job_lose(j);
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
	job_op_add(j, JOP_STEP, step, id, detail, write ? &a : NULL);
	if (status < 0)
		job_doubt_ended(j, step, waited, "found (it had landed), not "
		    "sent again");
	j->stepped = true;
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
 * is kept in its detail for reconciling.  -1: not written, and what the
 * driver is to do about it decided (parked, ended, retried, released).
 */
int
job_intent(struct job *j, const char *step, const char *into)
{
	const struct step_def *d;
	char	 k[128];
	char	*txt;
	json_t	*det;
	int	 lost = 0;

	/* Only a step whose row wants one (the step table, steps.c). */
	if ((d = step_def_of(step)) == NULL || !d->intent) {
		/* A bug: said loudly, charged and backed off, dead-lettered
		 * in the end, never a loop of claims. */
		log_warnx("%s/%s: %s: the step table (steps.c) has no intent "
		    "for it", ws_name(j->ws), j->rec.record_key, step);
		job_retry(j, V_PERMANENT, NULL, "an intent the step table "
		    "(steps.c) does not have; nothing sent");
		return -1;
	}
	snprintf(k, sizeof(k), "intent:%s", step);
	/* An intent of an earlier send, reconciled: it did not land. */
	if (jn_get(j, k) != NULL)
		job_doubt_ended(j, step, jn_doubt_ms(j, step), "not found, "
		    "sending it again");
	det = json_pack("{s:I,s:I,s:s?}", "at", (json_int_t)clock_wall_s(),
	    "waited_ms", (json_int_t)0, "into", into);
	if (det == NULL || (txt = json_dumps(det, JSON_COMPACT)) == NULL) {
		json_decref(det);
		job_give_back(j, "internal", "out of memory writing an intent");
		return -1;
	}
	rt_tx_join(j->e, &j->link);
	if (rt_db_stalled(j->e) || outbox_step(rt_db(j->e), j->rec.id,
	    rt_owner(j->e), k, NULL, txt, NULL, &lost) == -1) {
		free(txt);
		json_decref(det);
		if (lost)
			job_lose(j);
		else
			job_stall(j, STALL_ADVANCE);
		return -1;
	}
	job_op_add(j, JOP_INTENT, k, txt, NULL, NULL);
	free(txt);
	jn_set(j, k, NULL, det);
	snprintf(j->intent, sizeof(j->intent), "%s", k);
	return 0;
}

/* ------------------------------------------------------------------ */
/* group commit: the writes of the open group, and their replay         */

static void
job_op_free(struct job_op *op)
{
	size_t	 i;

	for (i = 0; i < 3; i++)
		free(op->s[i]);
	for (i = 0; i < sizeof(op->as) / sizeof(op->as[0]); i++)
		free(op->as[i]);
	free(op->contact_id);
	free(op);
}

void
job_ops_clear(struct job *j)
{
	struct job_op	*op;

	while ((op = j->ops) != NULL) {
		j->ops = op->next;
		job_op_free(op);
	}
	j->ops_tail = &j->ops;
}

/*
 * Keep a copy of a write j just made in the open group (nothing when no
 * group is open: the write is durable already).  Out of memory: the
 * write cannot be replayed, so the group is made to fail now rather
 * than commit a job whose repair would be incomplete... which cannot be
 * done either; the record then reconciles as after a crash (its intents
 * are durable or its requests were never sent).
 */
static void
job_op_add(struct job *j, int type, const char *s0, const char *s1,
    const char *s2, const struct audit_row *a)
{
	struct job_op	*op;
	const char	*src[3] = { s0, s1, s2 };
	size_t		 i;

	if (!rt_tx_active(j->e) || !j->link.in_tx)
		return;
	if (j->ops_tail == NULL)
		j->ops_tail = &j->ops;
	if ((op = calloc(1, sizeof(*op))) == NULL)
		goto oom;
	op->type = type;
	for (i = 0; i < 3; i++)
		if (src[i] != NULL && (op->s[i] = strdup(src[i])) == NULL)
			goto oom;
	if (a != NULL) {
		const char *as[9] = { a->kind, a->workspace, a->record_key,
		    a->step, a->method, a->path, a->object_id, a->body,
		    a->admin_id };

		op->has_audit = true;
		op->a = *a;
		for (i = 0; i < 9; i++)
			if (as[i] != NULL && (op->as[i] = strdup(as[i])) == NULL)
				goto oom;
		op->a.kind = op->as[0];
		op->a.workspace = op->as[1];
		op->a.record_key = op->as[2];
		op->a.step = op->as[3];
		op->a.method = op->as[4];
		op->a.path = op->as[5];
		op->a.object_id = op->as[6];
		op->a.body = op->as[7];
		op->a.admin_id = op->as[8];	/* a reload frees the config */
		op->a.detail = a->detail == NULL ? NULL :
		    strcmp(a->detail, "{\"reconciled\":true}") == 0 ?
		    "{\"reconciled\":true}" : op->s[2];
		if (op->a.at_ms == 0)
			op->a.at_ms = clock_wall_ms();
	}
	if (type == JOP_STEP && j->lastcall_at > 0 && s0 != NULL &&
	    strcmp(s0, "attributes") == 0) {
		if ((op->contact_id = strdup(j->contact_id)) == NULL)
			goto oom;
		op->lastcall_at = j->lastcall_at;
	}
	*j->ops_tail = op;
	j->ops_tail = &op->next;
	return;
oom:
	if (op != NULL)
		job_op_free(op);
	log_warnx("%s/%s: out of memory keeping a write for the group commit",
	    ws_name(j->ws), j->rec.record_key);
}

void
job_note_tag(struct job *j, const char *name, const char *id,
    const struct audit_row *a)
{
	job_op_add(j, JOP_TAG, name, id, NULL, a);
}

/* One kept write again, in its own operation (a savepoint in a group). */
static int
job_op_run(struct job *j, struct job_op *op, int *lost)
{
	struct db	*d = rt_db(j->e);
	int		 rc = -1;

	*lost = 0;
	switch (op->type) {
	case JOP_INTENT:
		return outbox_step(d, j->rec.id, rt_owner(j->e), op->s[0], NULL,
		    op->s[1], NULL, lost);
	case JOP_UNSTEP:
		return outbox_unstep_owned(d, j->rec.id, rt_owner(j->e),
		    op->s[0], lost) == -1 && *lost ? -1 : 0;
	default:
		break;
	}
	if (db_begin(d) == -1)
		return -1;
	if (op->type == JOP_TAG)
		rc = ident_tag_put(d, ws_name(j->ws), op->s[0], op->s[1]) ==
		    -1 || (op->has_audit && audit_append(d, &op->a) == -1) ?
		    -1 : 0;
	else if (strncmp(op->s[0], "merge:", 6) == 0 && op->s[1] != NULL &&
	    op->s[1][0] != '\0' && ident_merge(d, ws_name(j->ws), op->s[0] + 6,
	    op->s[1], "merged_by_callsync") == -1)
		rc = -1;
	else if (op->contact_id != NULL && lastcall_note(d, ws_name(j->ws),
	    op->contact_id, op->lastcall_at, j->rec.record_key) == -1)
		rc = -1;
	else
		rc = outbox_step(d, j->rec.id, rt_owner(j->e), op->s[0],
		    op->s[1], op->s[2], op->has_audit ? &op->a : NULL, lost);
	if (rc == 0 && db_commit(d) == -1)
		rc = -1;
	if (rc == -1)
		db_rollback(d);
	return rc;
}

/* Do j's kept writes of the open group again, in order (job.c,
 * job_replay, holds them in one transaction). */
int
job_ops_replay(struct job *j, int *lost)
{
	struct job_op	*op;
	int		 rc = 0;

	*lost = 0;
	for (op = j->ops; op != NULL && rc == 0; op = op->next)
		rc = job_op_run(j, op, lost);
	return rc;
}

void
job_commit_kept_clear(struct job *j)
{
	free(j->c_step);
	free(j->c_id);
	free(j->c_detail);
	j->c_step = j->c_id = j->c_detail = NULL;
}

/* ------------------------------------------------------------------ */
/* decisions: recorded here, done by the driver (job.c, job_do)         */

static const char *const jd_names[] = { "none", "next", "request", "fail",
	"retry", "dead", "release", "wait", "stall", "lost" };

/*
 * Take j's decision slot for what: 0, or -1 when the step or handler
 * now running has decided already.  That is a bug in it (before
 * decisions, the second action would have run on a job the first one
 * may have freed): said loudly, and the first decision stands.
 */
static int
jd_open(struct job *j, enum job_do what)
{
	if (j->jd.what == JD_NONE) {
		j->jd.what = what;
		return 0;
	}
	log_warnx("%s/%s: %s: a second decision (%s after %s) in one step; "
	    "the first stands", ws_name(j->ws), j->rec.record_key,
	    j->step[0] ? j->step : "-", jd_names[what], jd_names[j->jd.what]);
	return -1;
}

static char *
jd_str(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

void
job_next(struct job *j)
{
	jd_open(j, JD_NEXT);
}

void
job_request(struct job *j, const char *method, const char *path,
    json_t *body, const char *step, job_handler h)
{
	if (jd_open(j, JD_REQUEST) == -1) {
		json_decref(body);
		return;
	}
	snprintf(j->jd.method, sizeof(j->jd.method), "%s", method);
	snprintf(j->jd.path, sizeof(j->jd.path), "%s", path);
	snprintf(j->jd.step, sizeof(j->jd.step), "%s", step);
	j->jd.body = body;
	j->jd.handler = h;
}

void
job_fail(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	if (jd_open(j, JD_FAIL) == -1)
		return;
	j->jd.req = req;
	j->jd.v = v;
	j->jd.o = json_incref(o);
}

void
job_retry(struct job *j, enum verdict v, struct http_req *req,
    const char *msg)
{
	if (jd_open(j, JD_RETRY) == -1)
		return;
	j->jd.v = v;
	j->jd.req = req;
	j->jd.msg = jd_str(msg);
}

void
job_dead(struct job *j, const char *reason, const char *class,
    long status, const char *msg, const char *resp)
{
	if (jd_open(j, JD_DEAD) == -1)
		return;
	j->jd.reason = jd_str(reason);
	j->jd.class = jd_str(class);
	j->jd.status = status;
	j->jd.msg = jd_str(msg);
	j->jd.resp = jd_str(resp);
}

void
job_give_back(struct job *j, const char *class, const char *why)
{
	if (jd_open(j, JD_RELEASE) == -1)
		return;
	j->jd.class = jd_str(class);
	j->jd.msg = jd_str(why);
}

/* Wait ms, then look again; why (may be NULL: a hold) is logged once. */
static void
job_wait_decide(struct job *j, int64_t ms, const char *why)
{
	if (jd_open(j, JD_WAIT) == -1)
		return;
	j->jd.ms = ms;
	j->jd.msg = jd_str(why);
}

void
job_hold(struct job *j, int64_t ms)
{
	job_wait_decide(j, ms, NULL);
}

void
job_flight(struct job *j, const char *key)
{
	if (key == NULL) {
		if (j->flight[0] != '\0')
			ws_flight_set(j->ws, j->flight, false);
		j->flight[0] = '\0';
		return;
	}
	ws_flight_set(j->ws, key, true);
	snprintf(j->flight, sizeof(j->flight), "%s", key);
}

void
job_stall(struct job *j, int what)
{
	if (jd_open(j, JD_STALL) == -1)
		return;
	j->jd.stall = what;
}

static void
job_lose(struct job *j)
{
	jd_open(j, JD_LOST);
}

void
job_decision_take(struct job *j, struct job_decision *d)
{
	*d = j->jd;
	memset(&j->jd, 0, sizeof(j->jd));
}

void
job_decision_clear(struct job_decision *d)
{
	json_decref(d->body);
	json_decref(d->o);
	free(d->msg);
	free(d->reason);
	free(d->class);
	free(d->resp);
	memset(d, 0, sizeof(*d));
}
