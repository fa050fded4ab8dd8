/*
 * t_steps: the step table (worker/core/steps.c) against an expectation of
 * its own, row by row, and what the driver does with every row after
 * every uncertain or failed outcome (step_on_fail, step_send_ok,
 * step_window_ms), without a network.  The expectations below restate
 * the essay at the top of worker/job/job.c; a row of steps[] changed without
 * this file (or its code) fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "steps.h"

#define W	true
#define R	false

/* One request as the step modules build it, and what its row must say. */
struct expect {
	const char	*step;		/* a journal step name as sent */
	const char	*method;	/* NULL: a journal row, no request */
	const char	*path;		/* a path as sent */
	bool		 write, repeatable, intent;
	enum step_settle settle;
	enum step_rec	 rec;
	bool		 audited, fresh;
};

static const struct expect want[] = {
	{ "clock_check", NULL, NULL, R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false },
	{ "text_repair", NULL, NULL, R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false },
	{ "attr_check", NULL, NULL, R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false },
	{ "assign_check", "GET", "/teams", R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false },
	{ "assign_check", "GET", "/admins", R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false },
	{ "contact", "POST", "/contacts", W, false, true, STEP_SETTLE_SEARCH,
	    STEP_REC_CONTACT_SEARCH, true, true },
	{ "contact", "POST", "/contacts/search", R, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, false, false },
	{ "contact", "POST", "/contacts/5f1a2b3c4d5e6f7a8b9c0d1e/unarchive", W,
	    true, false, STEP_SETTLE_NONE, STEP_REC_NONE, true, true },
	{ "contact", "GET", "/contacts/5f1a2b3c4d5e6f7a8b9c0d1e", R, true,
	    false, STEP_SETTLE_NONE, STEP_REC_NONE, false, false },
	{ "merge:5f00000000000000000000aa", "POST", "/contacts/merge", W,
	    false, true, STEP_SETTLE_READ, STEP_REC_MERGE_PROBE, true, true },
	{ "merge:5f00000000000000000000aa", "GET",
	    "/contacts/5f00000000000000000000aa", R, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, false, false },
	{ "conversation", "POST", "/conversations", W, false, true,
	    STEP_SETTLE_SEARCH, STEP_REC_CONV_SEARCH, true, true },
	{ "conversation", "POST", "/conversations/search", R, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, false, false },
	{ "note:2", "POST", "/conversations/123456/reply", W, false, true,
	    STEP_SETTLE_READ, STEP_REC_PART_TOKEN, true, true },
	{ "reply:3", "POST", "/conversations/123456/reply", W, false, true,
	    STEP_SETTLE_READ, STEP_REC_PART_REPLY, true, true },
	{ "tag_create", "POST", "/tags", W, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, true, false },
	{ "tag:VIP caller", "POST", "/conversations/123456/tags", W, false,
	    true, STEP_SETTLE_READ, STEP_REC_CONV_TAG, true, true },
	{ "attributes", "PUT", "/contacts/5f1a2b3c4d5e6f7a8b9c0d1e", W, true,
	    false, STEP_SETTLE_NONE, STEP_REC_NONE, true, false },
	{ "attributes", "GET", "/contacts/5f1a2b3c4d5e6f7a8b9c0d1e", R, true,
	    false, STEP_SETTLE_NONE, STEP_REC_NONE, false, false },
	{ "details", "PUT", "/conversations/123456", W, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, true, false },
	{ "assign", "POST", "/conversations/123456/parts", W, false, true,
	    STEP_SETTLE_READ, STEP_REC_CONV_ASSIGNEE, true, true },
	{ "note:2", "GET", "/conversations/123456", R, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, false, false },
};
#define NWANT	(sizeof(want) / sizeof(want[0]))

/* The row the code finds for e: by the request, or by the step name. */
static const struct step_def *
row_of(const struct expect *e)
{
	if (e->method == NULL)
		return step_def_of(e->step);
	return step_def_req(e->step, e->method, e->path);
}

static void
check_row(const struct expect *e, const struct step_def *d)
{
	char	 what[160];

	snprintf(what, sizeof(what), "%s %s %s", e->step,
	    e->method ? e->method : "-", e->path ? e->path : "-");
	if (d == NULL)
		fail_msg("%s: no row", what);
	if (d->write != e->write || d->repeatable != e->repeatable ||
	    d->intent != e->intent || d->settle != e->settle ||
	    d->reconcile != e->rec || d->audited != e->audited ||
	    d->fresh != e->fresh)
		fail_msg("%s: row says write %d repeatable %d intent %d "
		    "settle %s reconcile %s audited %d fresh %d; expected "
		    "%d %d %d %s %s %d %d", what, d->write, d->repeatable,
		    d->intent, step_settle_name(d->settle),
		    step_rec_name(d->reconcile), d->audited, d->fresh,
		    e->write, e->repeatable, e->intent,
		    step_settle_name(e->settle), step_rec_name(e->rec),
		    e->audited, e->fresh);
}

/* Every row as expected, and every row of steps[] expected once. */
static void
t_rows(void **state)
{
	bool		 seen[64];
	size_t		 i, k;
	const struct step_def *d;

	(void)state;
	assert_true(steps_n <= sizeof(seen) / sizeof(seen[0]));
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < NWANT; i++) {
		d = row_of(&want[i]);
		check_row(&want[i], d);
		k = (size_t)(d - steps);
		assert_true(k < steps_n);
		if (seen[k])
			fail_msg("row %zu (%s) expected twice", k, d->name);
		seen[k] = true;
	}
	for (k = 0; k < steps_n; k++)
		if (!seen[k])
			fail_msg("row %zu (%s %s %s) has no expectation in "
			    "t_steps.c", k, steps[k].name,
			    steps[k].method ? steps[k].method : "-",
			    steps[k].path ? steps[k].path : "-");
}

/* The rules that tie the columns together (job.c, THE STEP TABLE). */
static void
t_invariants(void **state)
{
	size_t			 k;
	const struct step_def	*d;

	(void)state;
	for (k = 0; k < steps_n; k++) {
		d = &steps[k];
		/* Not repeatable <=> an intent: the write may be in doubt. */
		assert_int_equal(!d->repeatable, d->intent);
		/* An intent is settled and reconciled somehow; nothing else
		 * is. */
		assert_int_equal(d->intent, d->settle != STEP_SETTLE_NONE);
		assert_int_equal(d->intent, d->reconcile != STEP_REC_NONE);
		/* Every write is audited, nothing else. */
		assert_int_equal(d->write, d->audited);
		/* A non-repeatable write has its own connection: no silent
		 * resend, and a refusal proves it never left. */
		if (d->intent)
			assert_true(d->fresh && d->write);
		if (!d->write)
			assert_false(d->fresh);
		if (d->method == NULL)
			assert_null(d->path);
	}
}

/* Step names as the journal holds them, and the row each one means. */
static void
t_names(void **state)
{
	static const struct {
		const char	*step, *method, *path;
	} own[] = {
		{ "clock_check", NULL, NULL },
		{ "text_repair", NULL, NULL },
		{ "attr_check", NULL, NULL },
		{ "assign_check", "GET", "/teams" },
		{ "contact", "POST", "/contacts" },
		{ "merge:5f00000000000000000000aa", "POST", "/contacts/merge" },
		{ "conversation", "POST", "/conversations" },
		{ "note:2", "POST", "/conversations/{id}/reply" },
		{ "note:17", "POST", "/conversations/{id}/reply" },
		{ "reply", "POST", "/conversations/{id}/reply" },
		{ "reply:2", "POST", "/conversations/{id}/reply" },
		{ "tag_create", "POST", "/tags" },
		{ "tag:vip", "POST", "/conversations/{id}/tags" },
		{ "tag:a:b", "POST", "/conversations/{id}/tags" },
		{ "attributes", "PUT", "/contacts/{id}" },
		{ "details", "PUT", "/conversations/{id}" },
		{ "assign", "POST", "/conversations/{id}/parts" },
	};
	static const char *const unknown[] = { "intent:contact", "contacts",
	    "tags", "tag_createx", "notes", "replyx", "", "*", "merge_x" };
	const struct step_def	*d;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		if ((d = step_def_of(own[i].step)) == NULL)
			fail_msg("%s: no row", own[i].step);
		if ((own[i].method == NULL) != (d->method == NULL) ||
		    (own[i].method != NULL &&
		    (strcmp(own[i].method, d->method) != 0 ||
		    strcmp(own[i].path, d->path) != 0)))
			fail_msg("%s: own row is %s %s", own[i].step,
			    d->method ? d->method : "-",
			    d->path ? d->path : "-");
	}
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		if (step_def_of(unknown[i]) != NULL)
			fail_msg("'%s' found a row", unknown[i]);
	/* Requests the table does not know are never sent. */
	assert_null(step_def_req("contact", "DELETE", "/contacts/1"));
	assert_null(step_def_req("contact", "POST", "/contacts/1/archive"));
	assert_null(step_def_req("details", "PUT", "/contacts/1"));
	assert_null(step_def_req("tag:x", "POST", "/tags"));
	assert_null(step_def_req("contact", "POST", "/conversations"));
	/* The conversation read serves any step; only that read. */
	assert_non_null(step_def_req("assign", "GET", "/conversations/9"));
	assert_null(step_def_req("assign", "GET", "/conversations/9/parts"));
}

static void
t_paths(void **state)
{
	(void)state;
	assert_true(step_path_match("/contacts/{id}", "/contacts/abc"));
	assert_true(step_path_match("/contacts/{id}", "/contacts/"));
	assert_false(step_path_match("/contacts/{id}", "/contacts"));
	assert_false(step_path_match("/contacts/{id}",
	    "/contacts/abc/unarchive"));
	assert_true(step_path_match("/contacts/{id}/unarchive",
	    "/contacts/abc/unarchive"));
	assert_false(step_path_match("/contacts/{id}/unarchive",
	    "/contacts/abc/unarchived"));
	assert_true(step_path_match("/tags", "/tags"));
	assert_false(step_path_match("/tags", "/tags/1"));
}

/*
 * The failed or uncertain outcomes of a request, and what the driver must
 * do after each: act and class; whether the write did not happen (its
 * intent is dropped, for a row that has one); whether it is in doubt
 * (for a row that writes, when retried).
 */
struct outcome {
	const char	*name;
	enum verdict	 v;
	CURLcode	 cc;
	long		 status, connect_status;
	bool		 refused;	/* never left the box (fresh only) */
	bool		 ws_outage;
	enum step_act	 act;
	const char	*class;
	bool		 voids;		/* the write did not happen */
	bool		 doubt;		/* its outcome is unknown */
};

static const struct outcome outcomes[] = {
	{ "connection refused", V_OUTAGE, CURLE_COULDNT_CONNECT, 0, 0, true,
	    false, STEP_ACT_RELEASE, "outage", true, false },
	{ "host not resolved", V_OUTAGE, CURLE_COULDNT_RESOLVE_HOST, 0, 0,
	    true, false, STEP_ACT_RELEASE, "outage", true, false },
	{ "TLS failed after a reused connection", V_OUTAGE,
	    CURLE_SSL_CONNECT_ERROR, 0, 0, false, false, STEP_ACT_RELEASE,
	    "outage", false, false },
	{ "answer lost (timeout)", V_NETFAIL, CURLE_OPERATION_TIMEDOUT, 0, 0,
	    false, false, STEP_ACT_RETRY, NULL, false, true },
	{ "answer lost (reset)", V_NETFAIL, CURLE_RECV_ERROR, 0, 0, false,
	    false, STEP_ACT_RETRY, NULL, false, true },
	{ "answer lost in an outage", V_NETFAIL, CURLE_OPERATION_TIMEDOUT, 0,
	    0, false, true, STEP_ACT_RELEASE, "outage", false, false },
	{ "500", V_TRANSIENT, CURLE_OK, 500, 0, false, false, STEP_ACT_RETRY,
	    NULL, false, true },
	{ "503 in an outage", V_TRANSIENT, CURLE_OK, 503, 0, false, true,
	    STEP_ACT_RETRY, NULL, false, true },
	{ "408", V_TRANSIENT, CURLE_OK, 408, 0, false, false, STEP_ACT_RETRY,
	    NULL, false, true },
	{ "2xx not JSON", V_MALFORMED, CURLE_OK, 200, 0, false, false,
	    STEP_ACT_RETRY, NULL, false, true },
	{ "answer over the size cap", V_MALFORMED, CURLE_WRITE_ERROR, 200, 0,
	    false, false, STEP_ACT_RETRY, NULL, false, true },
	{ "401", V_AUTH, CURLE_OK, 401, 0, false, false, STEP_ACT_PAUSE,
	    "auth", true, false },
	{ "403", V_AUTH, CURLE_OK, 403, 0, false, false, STEP_ACT_PAUSE,
	    "auth", true, false },
	{ "429 while stopping", V_THROTTLED, CURLE_OK, 429, 0, false, false,
	    STEP_ACT_RELEASE, "rate_limited", true, false },
	{ "400", V_PERMANENT, CURLE_OK, 400, 0, false, false, STEP_ACT_DEAD,
	    NULL, true, false },
	{ "422", V_PERMANENT, CURLE_OK, 422, 0, false, false, STEP_ACT_DEAD,
	    NULL, true, false },
	{ "404 not handled", V_GONE, CURLE_OK, 404, 0, false, false,
	    STEP_ACT_DEAD, NULL, true, false },
	{ "409 not handled", V_CONFLICT, CURLE_OK, 409, 0, false, false,
	    STEP_ACT_DEAD, NULL, true, false },
	{ "portal redirect", V_FOREIGN, CURLE_OK, 302, 0, false, false,
	    STEP_ACT_RELEASE, "outage", true, false },
	{ "portal 511", V_FOREIGN, CURLE_OK, 511, 0, false, false,
	    STEP_ACT_RELEASE, "outage", true, false },
	{ "proxy wants credentials", V_FOREIGN, CURLE_OK, 407, 0, false,
	    false, STEP_ACT_RELEASE, "config", true, false },
	{ "proxy refused the tunnel", V_FOREIGN, CURLE_COULDNT_CONNECT, 0, 407,
	    false, false, STEP_ACT_RELEASE, "config", true, false },
	{ "a 2xx page in Intercom's place", V_FOREIGN, CURLE_OK, 200, 0,
	    false, false, STEP_ACT_RELEASE, "outage", false, false },
};
#define NOUT	(sizeof(outcomes) / sizeof(outcomes[0]))

static const char *
act_name(enum step_act a)
{
	switch (a) {
	case STEP_ACT_RELEASE:
		return "release";
	case STEP_ACT_PAUSE:
		return "pause";
	case STEP_ACT_RETRY:
		return "retry";
	default:
		return "dead";
	}
}

/* What the driver does after outcome o of e's request (row d). */
static void
check_outcome(const struct expect *e, const struct step_def *d,
    const struct outcome *o)
{
	struct step_answer	 a;
	struct step_action	 act;
	bool			 voids = o->voids && e->intent;
	bool			 doubt = o->doubt && e->write;

	memset(&a, 0, sizeof(a));
	a.v = o->v;
	a.cc = o->cc;
	a.status = o->status;
	a.connect_status = o->connect_status;
	/* http_unsent can prove it only on a fresh connection. */
	a.unsent = o->refused && e->fresh;
	a.ws_outage = o->ws_outage;
	step_on_fail(d, &a, &act);
	if (act.act != o->act || act.void_intent != voids ||
	    act.in_doubt != doubt || (o->class == NULL) !=
	    (act.class == NULL) || (o->class != NULL &&
	    strcmp(o->class, act.class) != 0))
		fail_msg("%s %s %s, %s: %s %s void %d doubt %d; expected %s "
		    "%s void %d doubt %d", e->step, e->method, e->path,
		    o->name, act_name(act.act), act.class ? act.class : "-",
		    act.void_intent, act.in_doubt, act_name(o->act),
		    o->class ? o->class : "-", voids, doubt);
	/* The retry's in_doubt flag, as job_retry writes it. */
	assert_int_equal(step_in_doubt(d, o->v),
	    e->write && retry_uncertain(o->v));
}

/* Every request row x every outcome. */
static void
t_outcomes(void **state)
{
	const struct step_def	*d;
	size_t			 i, k, n = 0;

	(void)state;
	for (i = 0; i < NWANT; i++) {
		if (want[i].method == NULL)
			continue;
		d = row_of(&want[i]);
		assert_non_null(d);
		for (k = 0; k < NOUT; k++, n++)
			check_outcome(&want[i], d, &outcomes[k]);
	}
	assert_int_equal(n, 19 * NOUT);		/* 19 request rows */
}

/* Whether a request may go out, with and without its intent written. */
static void
t_send(void **state)
{
	const struct expect	*e;
	const struct step_def	*d;
	size_t			 i;

	(void)state;
	for (i = 0; i < NWANT; i++) {
		e = &want[i];
		if (e->method == NULL)
			continue;
		d = row_of(e);
		if (e->intent) {
			/* A non-repeatable write only after its intent. */
			assert_true(step_send_ok(d, true));
			assert_false(step_send_ok(d, false));
		} else if (e->write) {
			assert_true(step_send_ok(d, false));
			assert_false(step_send_ok(d, true));
		} else {
			/* A read may reconcile a step in doubt. */
			assert_true(step_send_ok(d, false));
			assert_true(step_send_ok(d, true));
		}
	}
	assert_false(step_send_ok(NULL, false));
	assert_false(step_send_ok(NULL, true));
}

/* The doubt window of each write: S, plus L when a search finds it. */
static void
t_window(void **state)
{
	const struct expect	*e;
	size_t			 i;
	int64_t			 s = (30 + 5) * 1000, l = 300 * 1000;

	(void)state;
	for (i = 0; i < NWANT; i++) {
		e = &want[i];
		assert_int_equal(step_window_ms(row_of(e), 30, 5, 300),
		    e->settle == STEP_SETTLE_SEARCH ? s + l : s);
	}
	/* The intent steps by name, as jn_doubt_need_ms asks. */
	assert_int_equal(step_window_ms(step_def_of("contact"), 30, 5, 300),
	    s + l);
	assert_int_equal(step_window_ms(step_def_of("conversation"), 30, 5,
	    300), s + l);
	assert_int_equal(step_window_ms(step_def_of("merge:x"), 30, 5, 300),
	    s);
	assert_int_equal(step_window_ms(step_def_of("note:2"), 30, 5, 300), s);
	assert_int_equal(step_window_ms(step_def_of("reply"), 30, 5, 300), s);
	assert_int_equal(step_window_ms(step_def_of("tag:x"), 30, 5, 300), s);
	assert_int_equal(step_window_ms(step_def_of("assign"), 30, 5, 300), s);
	assert_int_equal(step_window_ms(NULL, 30, 5, 300), s);
	assert_int_equal(step_window_ms(step_def_of("contact"), 10, 0, 0),
	    10000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_rows),
		cmocka_unit_test(t_invariants),
		cmocka_unit_test(t_names),
		cmocka_unit_test(t_paths),
		cmocka_unit_test(t_outcomes),
		cmocka_unit_test(t_send),
		cmocka_unit_test(t_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
