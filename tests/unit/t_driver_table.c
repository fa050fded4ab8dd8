/*
 * t_driver_table: the driver's answer path, table-driven, without a
 * network.  For each write a call record reaches (rows of steps[]: the
 * contact, its unarchive after a 409, the conversation, the note that
 * continues a long transcript, the tag's create-or-get, the tag applied,
 * the contact's attributes, the conversation's details, the assignment)
 * and each class of answer to it (2xx; a 2xx without the object's id,
 * empty, or a captive portal's page; 400, 422, 409, 429, 500; an answer
 * lost after the request left; a request that never left; the token
 * refused, 401 and 403; the object gone, 404 and 410; a proxy's 407, to
 * the request or to its tunnel; a portal's 302 and 511; a 429 while the
 * worker stops; and, after a 500, the next attempt's look: found, not
 * there yet, not there), one case, 9 x 23 = 207:
 *
 *   - a claimed record on a new database, its journal filled for the
 *     steps before the row's (as a resumed record has it; the contact's
 *     search is answered "nobody" instead), under the runtime as the
 *     loop sets it up (fix_rt.h: rt_new, rt_configure, rt_open,
 *     rt_events, ws_add; then rt_job_started, the group opened by
 *     rt_tx_open);
 *   - the job runs to the row's request, which the open group holds
 *     (rt->held); the wire below commits the group (the intent durable
 *     first), hands the request over as ws_pump does (hooks.sent), and
 *     answers it by setting the fields http.c sets (cc, status, unsent,
 *     resp, content type, errbuf) and calling its done callback, which is
 *     job_http_done: the driver's real answer path, ws_answered included;
 *   - then what is observable: the step's journal row (or the tag cache
 *     for the create-or-get), the intent row, the record's outbox row
 *     (state, attempts, in_doubt) after the group commits, the request
 *     the job holds next; and for a record given back, what its next
 *     attempt does first (claimed again, a new job): wait out the doubt,
 *     or send at once;
 *   - look_found, look_early, look_absent: the row's write answered 500
 *     and given back, its doubt clock as a worker left it
 *     (detail.waited_ms: 2.5 s, past the first look; or past every
 *     window), the next attempt's look (a search, the conversation read)
 *     answered with the write there or not: found, the step is committed
 *     and the job goes on; not there within the window, it waits for the
 *     next look; not there after it, the write is sent again with a new
 *     intent.  A row without an intent has nothing to look for and sends
 *     again at once.
 *
 * The expectations are the table expect[][] below, written from the essay
 * at the top of job.c (THE INTENT LIFECYCLE, THE WINDOW, SETTLE ON
 * EVIDENCE), the rows' comments in steps.c, the handlers' documented
 * exceptions (a 409 naming the contact; conversation attributes refused:
 * the title alone; a contact that answers 404/410 looked up again; a
 * cached tag that answers 404 created again by name), README.md (what
 * is dead-lettered, paused, released) and docs/operations.md (captive
 * portals and proxies; a revoked token; SIGTERM), never computed from
 * step_on_fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "clock.h"
#include "conf.h"
#include "ident.h"
#include "job.h"
#include "fix_rt.h"
#include "journal.h"
#include "outbox.h"

/* A call whose transcript is longer than max_body: a note continues it. */
#define PAYLOAD	"{\"type\":\"call\",\"call_id\":\"c-1\",\"caller\":" \
		"{\"phone\":\"+1 555 123 4567\"},\"summary\":\"s\"," \
		"\"category\":\"billing\",\"transcript\":\"%s\"}"
#define TRANSCRIPT_WORDS 250	/* two pieces: note:2 */
#define CONF	"[workspace acme]\nadmin_id = 123456\n" \
		"token_file = /nonexistent/acme.token\n" \
		"default_tags = billing\nroute = billing:team:111\n" \
		"max_body = 1024\n"
#define CID	"65a1b2c3d4e5f60718293a4b"	/* the contact */
#define CONV	"1001"				/* the conversation */
#define TAG	"77"		/* the tag "billing" (the category is one too) */

/* The rows, in the order a call reaches them. */
enum row { R_CONTACT, R_UNARCH, R_CONV, R_NOTE, R_TAGC, R_TAG, R_ATTR,
    R_DET, R_ASSIGN, NROWS };
/* The classes of answer. */
enum cls { K_OK, K_NOID, K_EMPTY, K_FOREIGN, K_400, K_422, K_409, K_429,
    K_500, K_LOST, K_UNSENT, K_401, K_403, K_404, K_410, K_407, K_407T,
    K_302, K_511, K_429S, K_FOUND, K_EARLY, K_ABSENT, NCLS };

struct rowdef {
	const char	*name;
	const char	*step;		/* its journal row; NULL: the tag cache */
	const char	*method, *path;	/* its request */
	bool		 intent;	/* "intent:<step>" before it */
	const char	*first_m, *first_p;	/* an attempt's first request */
	const char	*next_m, *next_p;	/* after its 2xx; NULL: done */
	const char	*ok;		/* its 2xx body */
	const char	*look_m, *look_p;	/* the look for it in doubt */
};

static const struct rowdef rows[NROWS] = {
	{ "contact", "contact", "POST", "/contacts", true,
	    "POST", "/contacts/search", "POST", "/conversations",
	    "{\"type\":\"contact\",\"id\":\"" CID "\",\"role\":\"lead\"}",
	    "POST", "/contacts/search" },
	/* After a 409 naming an archived contact (unarchive is on by
	 * default): a repeatable write, on a connection of its own. */
	{ "unarchive", "contact", "POST", "/contacts/" CID "/unarchive", false,
	    "POST", "/contacts/search", "POST", "/conversations",
	    "{\"type\":\"contact\",\"id\":\"" CID "\",\"role\":\"lead\"}" },
	{ "conversation", "conversation", "POST", "/conversations", true,
	    "POST", "/conversations", "POST", "/conversations/" CONV "/reply",
	    "{\"type\":\"admin_message\",\"id\":\"9\",\"conversation_id\":\""
	    CONV "\"}", "POST", "/conversations/search" },
	/* The transcript's second piece: "note:2". */
	{ "note", "note:2", "POST", "/conversations/" CONV "/reply", true,
	    "POST", "/conversations/" CONV "/reply", "POST", "/tags",
	    "{\"type\":\"conversation\",\"id\":\"" CONV "\","
	    "\"conversation_parts\":{\"type\":\"conversation_part.list\","
	    "\"conversation_parts\":[{\"type\":\"conversation_part\","
	    "\"id\":\"555\"}]}}", "GET", "/conversations/" CONV },
	{ "tag_create", NULL, "POST", "/tags", false,
	    "POST", "/tags", "POST", "/conversations/" CONV "/tags",
	    "{\"type\":\"tag\",\"id\":\"" TAG "\",\"name\":\"billing\"}" },
	{ "tag", "tag:billing", "POST", "/conversations/" CONV "/tags", true,
	    "POST", "/conversations/" CONV "/tags", "PUT", "/contacts/" CID,
	    "{\"type\":\"tag\",\"id\":\"" TAG "\",\"name\":\"billing\"}",
	    "GET", "/conversations/" CONV },
	{ "attributes", "attributes", "PUT", "/contacts/" CID, false,
	    "PUT", "/contacts/" CID, "PUT", "/conversations/" CONV,
	    "{\"type\":\"contact\",\"id\":\"" CID "\"}" },
	{ "details", "details", "PUT", "/conversations/" CONV, false,
	    "PUT", "/conversations/" CONV, "POST",
	    "/conversations/" CONV "/parts",
	    "{\"type\":\"conversation\",\"id\":\"" CONV "\"}" },
	{ "assign", "assign", "POST", "/conversations/" CONV "/parts", true,
	    "POST", "/conversations/" CONV "/parts", NULL, NULL,
	    "{\"type\":\"conversation\",\"id\":\"" CONV "\"}",
	    "GET", "/conversations/" CONV },
};

static const char *const cls_name[NCLS] = { "2xx", "2xx_noid",
    "2xx_empty", "2xx_foreign",
    "400", "422", "409", "429", "500", "lost", "unsent",
    "401", "403", "404", "410", "407", "407_tunnel", "302_portal",
    "511_portal", "429_stopping", "look_found", "look_early",
    "look_absent" };

/* What the job does with the answer. */
enum out {
	O_NEXT,		/* step committed, the next step's request held */
	O_SAME,		/* the same request held again, nothing committed */
	O_DONE,		/* delivered */
	O_RETRY,	/* pending, attempt charged */
	O_DEAD,		/* dead-lettered */
	O_RELEASE,	/* pending, no attempt charged */
	O_HOLD,		/* nothing committed, another request held (hm hp) */
	O_FIRST,	/* the attempt's first request held (no look) */
	O_WAIT		/* nothing held: the job waits for its next look */
};
/* What the record's next attempt does first (O_RETRY, O_RELEASE). */
enum nxt { N_NONE, N_WAIT, N_SEND };

struct expect {
	enum out	 out;
	bool		 row;		/* the step's journal row written */
	bool		 intent;	/* its intent still open after */
	bool		 doubt;		/* the record's in_doubt flag */
	enum nxt	 next;
	const char	*hm, *hp;	/* O_HOLD: the request held */
	const char	*cls;		/* O_RELEASE: its class in attempt_log */
};

/* Shorthands: the same for every row that has them. */
#define OK_NEXT		{ O_NEXT, true, false, false, N_NONE }
#define REFUSED		{ O_DEAD, false, false, false, N_NONE }
/* 429 while running: resent as it was, no attempt; the intent stays
 * with the request, which is on its way again. */
#define THR_I		{ O_SAME, false, true, false, N_NONE }
#define THR		{ O_SAME, false, false, false, N_NONE }
/* Unknown outcome (a 5xx, an answer lost after the request left): the
 * intent stays, the next attempt waits out the doubt before writing. */
#define DOUBT_I		{ O_RETRY, false, true, true, N_WAIT }
/* ...a repeatable write has no intent: sent again at once. */
#define DOUBT		{ O_RETRY, false, false, true, N_SEND }
/* Never left the box (refused): not in doubt, intent dropped at once,
 * released as an outage without charge; the next attempt writes. */
#define UNSENT		{ O_RELEASE, false, false, false, N_SEND }
#define DONE		{ O_DONE, true, false, false, N_NONE }
/* Someone else answered: given back uncharged, the intent kept. */
#define FOREIGN_I	{ O_RELEASE, false, true, false, N_WAIT }
#define FOREIGN		{ O_RELEASE, false, false, false, N_SEND }
/* Refused before it was applied: the token refused (401, 403: the
 * workspace pauses, "auth"), a proxy's 407 (to the request or to its
 * tunnel: the workspace pauses on the proxy, "config"), a portal's
 * redirect or 511 (an outage), a 429 while the worker stops (released,
 * never dead-lettered; a throttle leaves no attempt_log row).  Nothing
 * reached Intercom or Intercom applied nothing (THE INTENT LIFECYCLE (2);
 * docs/operations.md: "a write whose answer was a redirect, a 511 or a
 * 407 went no further, so its intent is dropped"): the intent dropped,
 * given back uncharged, the next attempt writes at once. */
#define AUTH		{ O_RELEASE, false, false, false, N_SEND, NULL, NULL, \
			  "auth" }
#define PROXY		{ O_RELEASE, false, false, false, N_SEND, NULL, NULL, \
			  "config" }
#define PORTAL		{ O_RELEASE, false, false, false, N_SEND, NULL, NULL, \
			  "outage" }
#define STOPPED		{ O_RELEASE, false, false, false, N_SEND }
/* The contact the write names answered 404/410 (merged away or deleted:
 * steps.c, the contact's GET row): nothing written, it is read again. */
#define PROBE		{ O_HOLD, false, false, false, N_NONE, "GET", \
			  "/contacts/" CID }
/* The cached tag's id answered 404 (a teammate deleted it): nothing
 * applied, the name resolved again by POST /tags (README.md, Tags). */
#define RETAG		{ O_HOLD, false, false, false, N_NONE, "POST", "/tags" }
/* The look after a doubt wait (SETTLE ON EVIDENCE): found, the step is
 * committed (reconciled) and the job goes on; the record's in_doubt flag
 * stays until it is done.  Not there while it may still land or show:
 * looked for again at the next look.  Not there once it can no longer
 * land: it is sent again, after a new intent. */
#define FOUND		{ O_NEXT, true, false, true, N_NONE }
#define LOOK_AGAIN	{ O_WAIT, false, true, true, N_NONE }
#define FOUND_DONE	{ O_DONE, true, false, false, N_NONE }
#define AGAIN		{ O_SAME, false, true, true, N_NONE }
/* A repeatable write given back in doubt has no intent to look for: the
 * next attempt starts over and sends it again. */
#define NO_LOOK		{ O_FIRST, false, false, true, N_NONE }

/*
 * 2xx_noid: an object without the id the step goes on with (the
 * contact's, the conversation's, the tag's): the answer is not the one
 * expected, so the write is in doubt (a malformed answer, THE INTENT
 * LIFECYCLE (3)); a step that needs nothing from it goes on.  2xx_empty:
 * no object at all (malformed): in doubt for every row.  2xx_foreign: a
 * page in Intercom's place (a captive portal): the workspace goes into
 * outage and the record is given back uncharged, but the page may have
 * replaced Intercom's answer, so the intent stays (steps.c, V_FOREIGN).
 */
static const struct expect expect[NROWS][NCLS] = {
	/*		2xx	   2xx_noid   2xx_empty  2xx_foreign
	 *		400	   422	      409	 429
	 *		500	   lost	      unsent
	 *		401	   403	      404	 410
	 *		407	   407_tunnel 302_portal 511_portal
	 *		429_stopping look_found look_early look_absent */
	/* A 409 naming the contact: it is the caller's (steps.c).  A 404 or
	 * 410 to a create names nothing: a refusal (README.md). */
	[R_CONTACT] = { OK_NEXT,   DOUBT_I,   DOUBT_I,   FOREIGN_I,
			REFUSED,   REFUSED,   OK_NEXT,	 THR_I,
			DOUBT_I,   DOUBT_I,   UNSENT,
			AUTH,	   AUTH,      REFUSED,   REFUSED,
			PROXY,	   PROXY,     PORTAL,	 PORTAL,
			STOPPED,   FOUND,     LOOK_AGAIN, AGAIN },
	/* The contact's row is its own journal row: 2xx_noid commits it.
	 * A 404 or 410 to the unarchive: the contact the 409 named was
	 * deleted or merged since; Intercom's rule is "404/410: resolve
	 * identity" (INTERCOM-API.md 12.1, 12.3.4), so it is read again
	 * (a 410's Link names the survivor), never a dead letter. */
	[R_UNARCH] =  { OK_NEXT,   OK_NEXT,   DOUBT,	 FOREIGN,
			REFUSED,   REFUSED,   REFUSED,	 THR,
			DOUBT,	   DOUBT,     UNSENT,
			AUTH,	   AUTH,      PROBE,     PROBE,
			PROXY,	   PROXY,     PORTAL,	 PORTAL,
			STOPPED,   NO_LOOK,   NO_LOOK,	 NO_LOOK },
	/* 404 "User Not Found" (INTERCOM-API.md 4.1): the contact. */
	[R_CONV] =    { OK_NEXT,   DOUBT_I,   DOUBT_I,   FOREIGN_I,
			REFUSED,   REFUSED,   REFUSED,	 THR_I,
			DOUBT_I,   DOUBT_I,   UNSENT,
			AUTH,	   AUTH,      PROBE,	 PROBE,
			PROXY,	   PROXY,     PORTAL,	 PORTAL,
			STOPPED,   FOUND,     LOOK_AGAIN, AGAIN },
	/* A part's id is the step's when the answer has one, else the
	 * conversation's: 2xx_noid commits it.  The conversation gone: a
	 * refusal, its intent dropped. */
	[R_NOTE] =    { OK_NEXT,   OK_NEXT,   DOUBT_I,   FOREIGN_I,
			REFUSED,   REFUSED,   REFUSED,	 THR_I,
			DOUBT_I,   DOUBT_I,   UNSENT,
			AUTH,	   AUTH,      REFUSED,   REFUSED,
			PROXY,	   PROXY,     PORTAL,	 PORTAL,
			STOPPED,   FOUND,     LOOK_AGAIN, AGAIN },
	[R_TAGC] =    { OK_NEXT,   DOUBT,     DOUBT,	 FOREIGN,
			REFUSED,   REFUSED,   REFUSED,	 THR,
			DOUBT,	   DOUBT,     UNSENT,
			AUTH,	   AUTH,      REFUSED,   REFUSED,
			PROXY,	   PROXY,     PORTAL,	 PORTAL,
			STOPPED,   NO_LOOK,   NO_LOOK,	 NO_LOOK },
	/* The cached tag answered 404: created again by name, once; a 410
	 * is no tag's answer: a refusal. */
	[R_TAG] =     { OK_NEXT,   OK_NEXT,   DOUBT_I,   FOREIGN_I,
			REFUSED,   REFUSED,   REFUSED,	 THR_I,
			DOUBT_I,   DOUBT_I,   UNSENT,
			AUTH,	   AUTH,      RETAG,	 REFUSED,
			PROXY,	   PROXY,     PORTAL,	 PORTAL,
			STOPPED,   FOUND,     LOOK_AGAIN, AGAIN },
	/* The contact answered 404/410: looked up again. */
	[R_ATTR] =    { OK_NEXT,   OK_NEXT,   DOUBT,	 FOREIGN,
			REFUSED,   REFUSED,   REFUSED,	 THR,
			DOUBT,	   DOUBT,     UNSENT,
			AUTH,	   AUTH,      PROBE,	 PROBE,
			PROXY,	   PROXY,     PORTAL,	 PORTAL,
			STOPPED,   NO_LOOK,   NO_LOOK,	 NO_LOOK },
	/* Conversation attributes refused: the title goes alone (the
	 * same PUT again, job_update.c details_done).  The conversation
	 * gone: a refusal. */
	[R_DET] =     { OK_NEXT,   OK_NEXT,   DOUBT,	 FOREIGN,
			THR,	   THR,	      THR,	 THR,
			DOUBT,	   DOUBT,     UNSENT,
			AUTH,	   AUTH,      REFUSED,   REFUSED,
			PROXY,	   PROXY,     PORTAL,	 PORTAL,
			STOPPED,   NO_LOOK,   NO_LOOK,	 NO_LOOK },
	/* The routing's team (no assign of the record's own: no fallback). */
	[R_ASSIGN] =  { DONE,	   DONE,      DOUBT_I,	 FOREIGN_I,
			REFUSED,   REFUSED,   REFUSED,	 THR_I,
			DOUBT_I,   DOUBT_I,   UNSENT,
			AUTH,	   AUTH,      REFUSED,   REFUSED,
			PROXY,	   PROXY,     PORTAL,	 PORTAL,
			STOPPED,   FOUND_DONE, LOOK_AGAIN, AGAIN },
};

struct tcase {
	enum row	 r;
	enum cls	 k;
};

struct fix {
	struct fix_rt	 fr;		/* the runtime (fix_rt.h) */
	struct rt	*rt;		/* ...its rt and workspace */
	struct wsrt	*ws;
	int64_t		 id;		/* the record */
	struct job	*j;		/* the running job */
	const struct tcase *tc;
};

/* Claim the record (now: its next_at passed) into a new running job. */
static void
claim_start(struct fix *f, int64_t now)
{
	struct ob_rec	*a;
	struct job_link	*l;
	size_t		 n;

	assert_int_equal(outbox_claim(rt_db(f->rt), ws_name(f->ws),
	    rt_owner(f->rt), now, 120, 10, &a, &n), 0);
	assert_int_equal(n, 1);
	f->id = a[0].id;
	assert_non_null(l = job_new(f->rt, f->ws, &a[0]));
	ob_rec_free_array(a, n);
	rt_job_started(f->rt, l);
	f->j = job_of(l);
}

static void
prefill(struct fix *f, const char *step, const char *id)
{
	int	 lost;

	assert_int_equal(outbox_step(rt_db(f->rt), f->id, rt_owner(f->rt), step,
	    id, NULL, NULL, &lost), 0);
}

static int
fix_setup(void **state)
{
	struct fix	*f;
	enum ob_enq	 res;
	char		 err[512], tr[TRANSCRIPT_WORDS * 5 + 1];
	char		 payload[sizeof(tr) + 256];
	int		 i;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->tc = *state;
	/* As engine.c: rt_new, rt_configure, rt_open, the hooks, events. */
	if (fix_rt_open(&f->fr, "t_driver_table", CONF) == -1)
		return -1;
	f->rt = f->fr.rt;
	f->ws = f->fr.ws;
	for (i = 0; i < TRANSCRIPT_WORDS; i++)
		memcpy(tr + i * 5, "word ", 5);
	tr[TRANSCRIPT_WORDS * 5] = '\0';
	snprintf(payload, sizeof(payload), PAYLOAD, tr);
	if (outbox_enqueue(rt_db(f->rt), ws_name(f->ws), "c-1", payload, &res,
	    err, sizeof(err)) == -1)
		return -1;
	outbox_set_lane(rt_db(f->rt), 1, "p:+15551234567");
	*state = f;
	return 0;
}

static int
fix_teardown(void **state)
{
	struct fix	*f = *state;
	int		 rc;

	rc = fix_rt_close(&f->fr);
	free(f);
	return rc;
}

/* The one request j holds, which must be method path. */
static struct job_link *
held_is(struct fix *f, const char *method, const char *path)
{
	struct job_link	*l = TAILQ_FIRST(&f->rt->held);
	size_t		 ul, pl = strlen(path);

	assert_non_null(l);
	assert_ptr_equal(l, &f->j->link);
	assert_null(TAILQ_NEXT(l, q));
	assert_non_null(l->req);
	assert_string_equal(l->req->method, method);
	assert_string_equal(f->j->path, path);
	ul = strlen(l->req->url);
	assert_true(ul >= pl);
	assert_string_equal(l->req->url + ul - pl, path);
	return l;
}

/*
 * The wire: what rt_tx_flush and ws_pump do with a held request, but
 * for http_submit.  The group commits first (its intent durable), then
 * the request is handed over (hooks.sent: the doubt clock starts).  The
 * link leaves rt->held as rt_tx_flush takes it (the runtime has no
 * function for one link), and ws->inflight is not raised (ws_answered
 * lowers it below 0: only ws_pump's loop reads it, with an empty queue).
 */
static struct http_req *
wire_take(struct fix *f, const char *method, const char *path)
{
	struct job_link	*l = held_is(f, method, path);

	TAILQ_REMOVE(&f->rt->held, l, q);
	l->held = false;
	rt_tx_flush(f->rt);
	assert_false(rt_tx_active(f->rt));
	l->req->started_ms = l->req->sent_ms = clock_mono_ms();
	f->rt->hooks.sent(l);
	return l->req;
}

/* The fields http.c's http_check_done sets, then the callback: also who
 * answered (Location, a proxy's answer to CONNECT). */
static void
wire_full(struct http_req *r, CURLcode cc, long status, long connect_status,
    const char *ctype, const char *location, const char *body, int unsent,
    const char *why)
{
	r->cc = cc;
	r->status = status;
	r->unsent = unsent;
	r->connect_status = connect_status;
	r->os_errno = cc == CURLE_COULDNT_CONNECT && connect_status == 0 ?
	    ECONNREFUSED : 0;
	snprintf(r->location, sizeof(r->location), "%s", location != NULL ?
	    location : "");
	free(r->resp);
	r->resp = NULL;
	r->resplen = 0;
	if (body != NULL && body[0] != '\0') {	/* none came: NULL */
		assert_non_null(r->resp = strdup(body));
		r->resplen = strlen(body);
	}
	snprintf(r->ctype, sizeof(r->ctype), "%s", ctype);
	snprintf(r->errbuf, sizeof(r->errbuf), "%s", why != NULL ? why : "");
	r->duration_ms = clock_mono_ms() - r->started_ms + 1;
	r->done(r, r->arg);
}

static void
wire_ans(struct http_req *r, CURLcode cc, long status, const char *ctype,
    const char *body, int unsent, const char *why)
{
	wire_full(r, cc, status, 0, ctype, NULL, body, unsent, why);
}

/* Intercom's answers are JSON; a failed transfer has no content type. */
static void
wire_answer(struct http_req *r, CURLcode cc, long status, const char *body,
    int unsent, const char *why)
{
	wire_ans(r, cc, status, cc == CURLE_OK ?
	    "application/json; charset=utf-8" : "", body, unsent, why);
}

static void
answer(struct http_req *r, enum row row, enum cls k)
{
	char	 conflict[300];

	switch (k) {
	case K_OK:
		wire_answer(r, CURLE_OK, 200, rows[row].ok, 0, NULL);
		break;
	case K_NOID:
		wire_answer(r, CURLE_OK, 200, "{\"type\":\"list\"}", 0, NULL);
		break;
	case K_EMPTY:
		wire_answer(r, CURLE_OK, 200, "", 0, NULL);
		break;
	case K_FOREIGN:
		wire_ans(r, CURLE_OK, 200, "text/html; charset=utf-8",
		    "<html><body>Log in to the guest network</body></html>", 0,
		    NULL);
		break;
	case K_400:
		wire_answer(r, CURLE_OK, 400, "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"parameter_invalid\",\"message\":"
		    "\"bad\"}]}", 0, NULL);
		break;
	case K_422:
		wire_answer(r, CURLE_OK, 422, "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"parameter_invalid\",\"message\":"
		    "\"unprocessable\"}]}", 0, NULL);
		break;
	case K_409:
		snprintf(conflict, sizeof(conflict), "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"conflict\",\"message\":\"A "
		    "contact matching those details already exists with "
		    "id=%s\"}]}", CID);
		wire_answer(r, CURLE_OK, 409, conflict, 0, NULL);
		break;
	case K_429:
		wire_answer(r, CURLE_OK, 429, "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"rate_limit_exceeded\",\"message\":"
		    "\"slow down\"}]}", 0, NULL);
		break;
	case K_500:
		wire_answer(r, CURLE_OK, 500, "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"server_error\",\"message\":"
		    "\"oops\"}]}", 0, NULL);
		break;
	case K_401:
		wire_answer(r, CURLE_OK, 401, "{\"type\":\"error.list\","
		    "\"request_id\":null,\"errors\":[{\"code\":"
		    "\"unauthorized\",\"message\":\"Access Token Invalid\"}]}",
		    0, NULL);
		break;
	case K_403:
		wire_answer(r, CURLE_OK, 403, "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"api_plan_restricted\","
		    "\"message\":\"Active subscription needed.\"}]}", 0, NULL);
		break;
	case K_404:
		wire_answer(r, CURLE_OK, 404, "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"not_found\",\"message\":"
		    "\"Resource Not Found\"}]}", 0, NULL);
		break;
	case K_410:
		/* As a merged contact's (INTERCOM-API.md 3.5), without the
		 * Link header. */
		wire_answer(r, CURLE_OK, 410, "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"contact_merged\",\"message\":"
		    "\"This contact has been merged.\"}]}", 0, NULL);
		break;
	case K_407:
		/* A plain proxy's own answer to the request. */
		wire_full(r, CURLE_OK, 407, 0, "text/html", NULL,
		    "<html><body>Proxy Authentication Required</body></html>",
		    0, NULL);
		break;
	case K_407T:
		/* The proxy would not open the tunnel: libcurl fails the
		 * transfer ("curl: (56) CONNECT tunnel failed"), the 407 is
		 * CONNECT's (CURLINFO_HTTP_CONNECTCODE). */
		wire_full(r, CURLE_RECV_ERROR, 0, 407, "", NULL, NULL, 0,
		    "CONNECT tunnel failed, response 407");
		break;
	case K_302:
		wire_full(r, CURLE_OK, 302, 0, "text/html; charset=utf-8",
		    "http://portal.example/login?next=api.intercom.io",
		    "<html><body>Moved</body></html>", 0, NULL);
		break;
	case K_511:
		wire_full(r, CURLE_OK, 511, 0, "text/html; charset=utf-8", NULL,
		    "<html><body>Log in to the guest network</body></html>", 0,
		    NULL);
		break;
	case K_429S:
		wire_answer(r, CURLE_OK, 429, "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"rate_limit_exceeded\",\"message\":"
		    "\"slow down\"}]}", 0, NULL);
		break;
	case K_LOST:
		/* Sent, then no answer: the request's bytes may be there. */
		wire_answer(r, CURLE_OPERATION_TIMEDOUT, 0, NULL, 0,
		    "Operation timed out after 30000 milliseconds with 0 "
		    "bytes received");
		break;
	default:
		/* Refused: on a connection of its own nothing left
		 * (http_unsent); on a shared one it cannot be told. */
		wire_answer(r, CURLE_COULDNT_CONNECT, 0, NULL, r->fresh ? 1 : 0,
		    "Failed to connect to 127.0.0.1 port 9: Connection "
		    "refused");
		break;
	}
}

static int64_t
q_int(struct fix *f, const char *sql, const char *s)
{
	sqlite3_stmt	*st;
	int64_t		 v;

	assert_non_null(st = db_prep(rt_db(f->rt), sql));
	sqlite3_bind_int64(st, 1, f->id);
	if (s != NULL)
		sqlite3_bind_text(st, 2, s, -1, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

static bool
has_step(struct fix *f, const char *step)
{
	return q_int(f, "SELECT count(*) FROM journal WHERE outbox_id = ?1 "
	    "AND step = ?2", step) == 1;
}

static const char *
rec_state(struct fix *f)
{
	static const char *const st[] = { "pending", "inflight", "done",
	    "dead" };
	int64_t		 i;

	i = q_int(f, "SELECT CASE state WHEN 'pending' THEN 0 WHEN "
	    "'inflight' THEN 1 WHEN 'done' THEN 2 WHEN 'dead' THEN 3 ELSE 4 "
	    "END FROM outbox WHERE id = ?1", NULL);
	return i < 4 ? st[i] : "?";
}

/* Fill the journal for the steps before row r, as a resumed record has
 * it, or answer them (the contact's search; the create's 409), and run
 * the job up to row r's request. */
static void
reach(struct fix *f, enum row r)
{
	struct http_req	*q;
	int		 i;

	if (r > R_UNARCH)
		prefill(f, "contact", CID);
	if (r > R_CONV)
		prefill(f, "conversation", CONV);
	if (r > R_NOTE)
		prefill(f, "note:2", "555");
	if (r > R_TAGC)
		assert_int_equal(ident_tag_put(rt_db(f->rt), ws_name(f->ws),
		    "billing", TAG), 0);
	if (r > R_TAG)
		prefill(f, "tag:billing", TAG);
	if (r > R_ATTR)
		prefill(f, "attributes", CID);
	if (r > R_DET)
		prefill(f, "details", CONV);
	/* The loop's turn: the group is open, so requests are held. */
	assert_int_equal(rt_tx_open(f->rt), 0);
	job_start(f->j);
	/* The contact's searches (phone, then email if any) find nobody. */
	for (i = 0; r <= R_UNARCH && i < 3 && strcmp(f->j->path,
	    "/contacts/search") == 0; i++) {
		q = wire_take(f, "POST", "/contacts/search");
		wire_answer(q, CURLE_OK, 200, "{\"type\":\"list\",\"data\":[],"
		    "\"total_count\":0,\"pages\":{\"type\":\"pages\",\"page\":"
		    "1,\"per_page\":50,\"total_pages\":0}}", 0, NULL);
	}
	/* The create answers that the caller is an archived contact. */
	if (r == R_UNARCH) {
		q = wire_take(f, "POST", "/contacts");
		wire_answer(q, CURLE_OK, 409, "{\"type\":\"error.list\","
		    "\"errors\":[{\"code\":\"conflict\",\"message\":\"An "
		    "archived contact matches those details: id=" CID "\"}]}",
		    0, NULL);
	}
}

/* What the answer led to, as x says: the request held next, the step's
 * journal row (or the tag cache), its intent, the outbox row.  t0: when
 * the answer came (a retry's next_at is after it). */
static void
check_out(struct fix *f, const struct rowdef *rd, const struct expect *x,
    const char *intent, int64_t t0)
{
	char	 tagid[32];
	bool	 row;

	switch (x->out) {
	case O_NEXT:
		if (rd->next_m != NULL) {
			held_is(f, rd->next_m, rd->next_p);
			break;
		}
		/* The last row's 2xx is the last step: */
		/* FALLTHROUGH */
	case O_SAME:
		held_is(f, rd->method, rd->path);
		break;
	case O_HOLD:
		held_is(f, x->hm, x->hp);
		/* A tag resolved again: its cached id forgotten first. */
		if (strcmp(x->hp, "/tags") == 0)
			assert_int_equal(ident_tag_get(rt_db(f->rt), ws_name(f->ws),
			    "billing", tagid, sizeof(tagid)), 0);
		break;
	case O_FIRST:
		held_is(f, rd->first_m, rd->first_p);
		break;
	case O_WAIT:
		assert_null(TAILQ_FIRST(&f->rt->held));
		assert_true(f->j->waiting);
		assert_int_equal(job_doubt_waits(f->rt, NULL, NULL), 1);
		break;
	default:
		/* Its outcome is written in the open group: it ends when
		 * the group commits. */
		assert_true(f->j->ending);
		assert_null(TAILQ_FIRST(&f->rt->held));
		rt_tx_flush(f->rt);
		assert_int_equal(rt_jobs(f->rt), 0);
		f->j = NULL;
		break;
	}
	if (rd->step != NULL)
		row = has_step(f, rd->step);
	else
		row = ident_tag_get(rt_db(f->rt), ws_name(f->ws), "billing",
		    tagid, sizeof(tagid)) == 1;
	assert_int_equal(row, x->row);
	assert_int_equal(has_step(f, intent), x->intent);
	switch (x->out) {
	case O_NEXT:
	case O_SAME:
	case O_HOLD:
	case O_FIRST:
	case O_WAIT:
		assert_string_equal(rec_state(f), "inflight");
		break;
	case O_DONE:
		assert_string_equal(rec_state(f), "done");
		break;
	case O_DEAD:
		assert_string_equal(rec_state(f), "dead");
		break;
	case O_RETRY:
	case O_RELEASE:
		assert_string_equal(rec_state(f), "pending");
		assert_int_equal(q_int(f, "SELECT attempts FROM outbox WHERE "
		    "id = ?1", NULL), x->out == O_RETRY ? 1 : 0);
		/* A retry after its backoff; a release at once. */
		if (x->out == O_RETRY)
			assert_true(q_int(f, "SELECT next_at FROM outbox "
			    "WHERE id = ?1", NULL) > t0);
		else
			assert_true(q_int(f, "SELECT next_at FROM outbox "
			    "WHERE id = ?1", NULL) <= clock_wall_s());
		/* Why it went back, uncharged. */
		if (x->cls != NULL)
			assert_int_equal(q_int(f, "SELECT count(*) FROM "
			    "attempt_log WHERE outbox_id = ?1 AND class = ?2 "
			    "AND charged = 0", x->cls), 1);
		break;
	}
	assert_int_equal(q_int(f, "SELECT in_doubt FROM outbox WHERE id = ?1",
	    NULL), x->doubt);
}

/* The next attempt: a new claim (its backoff passed), a new job. */
static void
next_attempt(struct fix *f)
{
	claim_start(f, clock_wall_s() + 86400);
	assert_int_equal(rt_tx_open(f->rt), 0);
	job_start(f->j);
}

/* The doubt clock of intent as a worker saved it (job_doubt_save): ms
 * of elapsed time already waited. */
static void
set_waited(struct fix *f, const char *intent, int64_t ms)
{
	sqlite3_stmt	*st;

	assert_non_null(st = db_prep(rt_db(f->rt), "UPDATE journal SET detail = "
	    "json_set(coalesce(detail, '{}'), '$.waited_ms', ?3) WHERE "
	    "outbox_id = ?1 AND step = ?2"));
	sqlite3_bind_int64(st, 1, f->id);
	sqlite3_bind_text(st, 2, intent, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, ms);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(rt_db(f->rt)->h), 1);
	sqlite3_reset(st);
}

/* Intercom's answer to the look for row r's write: found, or not.  sent:
 * the body of the write that was given back (a note's text is in the
 * conversation as it was sent). */
static void
look_answer(struct http_req *q, enum row r, bool found, const char *sent)
{
	json_t	*o, *b, *parts;
	char	*txt;

	switch (r) {
	case R_CONTACT:
		o = json_pack("{s:s,s:[],s:i,s:{s:s,s:i,s:i,s:i}}", "type",
		    "list", "data", "total_count", found ? 1 : 0, "pages",
		    "type", "pages", "page", 1, "per_page", 50, "total_pages",
		    found ? 1 : 0);
		if (found)
			json_array_append_new(json_object_get(o, "data"),
			    json_pack("{s:s,s:s,s:s,s:s}", "type", "contact",
			    "id", CID, "role", "lead", "phone", "+15551234567"));
		break;
	case R_CONV:
		o = json_pack("{s:s,s:[],s:i}", "type", "conversation.list",
		    "conversations", "total_count", found ? 1 : 0);
		if (found)
			json_array_append_new(json_object_get(o,
			    "conversations"), json_pack("{s:s,s:s}", "type",
			    "conversation", "id", CONV));
		break;
	default:
		/* The conversation read back: the note's part, the tag, the
		 * assignee only when found. */
		o = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:[]},s:{s:s,s:[]}}",
		    "type", "conversation", "id", CONV, "admin_assignee_id",
		    "0", "team_assignee_id", found && r == R_ASSIGN ? "111" :
		    "0", "tags", "type", "tag.list", "tags",
		    "conversation_parts", "type", "conversation_part.list",
		    "conversation_parts");
		if (found && r == R_TAG)
			json_array_append_new(json_object_get(json_object_get(o,
			    "tags"), "tags"), json_pack("{s:s,s:s,s:s}", "type",
			    "tag", "id", TAG, "name", "billing"));
		parts = json_object_get(json_object_get(o,
		    "conversation_parts"), "conversation_parts");
		if (found && r == R_NOTE) {
			assert_non_null(sent);
			assert_non_null(b = json_loads(sent, 0, NULL));
			json_array_append_new(parts, json_pack("{s:s,s:s,s:s,"
			    "s:O}", "type", "conversation_part", "id", "555",
			    "part_type", "note", "body", json_object_get(b,
			    "body")));
			json_decref(b);
		}
		break;
	}
	assert_non_null(o);
	assert_non_null(txt = json_dumps(o, JSON_COMPACT));
	json_decref(o);
	wire_answer(q, CURLE_OK, 200, txt, 0, NULL);
	free(txt);
}

static void
run_case(void **state)
{
	struct fix		*f = *state;
	const struct rowdef	*rd = &rows[f->tc->r];
	const struct expect	*x = &expect[f->tc->r][f->tc->k];
	bool			 look = f->tc->k == K_FOUND ||
				    f->tc->k == K_EARLY || f->tc->k == K_ABSENT;
	struct http_req		*q;
	char			 intent[128], *sent = NULL;
	int64_t			 t0;

	snprintf(intent, sizeof(intent), "intent:%s", rd->step != NULL ?
	    rd->step : rd->name);
	claim_start(f, clock_wall_s());
	reach(f, f->tc->r);
	/* The row's request, as steps[] names it. */
	assert_string_equal(f->j->step, rd->step != NULL ? rd->step :
	    rd->name);
	assert_non_null(f->j->def);
	assert_string_equal(f->j->def->name, strcmp(rd->name, "unarchive") ?
	    rd->name : "contact");
	assert_int_equal(f->j->def->intent, rd->intent);
	q = wire_take(f, rd->method, rd->path);
	/* The intent, committed before the request left. */
	assert_int_equal(has_step(f, intent), rd->intent);
	t0 = clock_wall_s();
	/* SIGTERM while the request is on the wire. */
	if (f->tc->k == K_429S)
		rt_stop(f->rt, false);
	if (look) {
		/* The write answered 500: given back in doubt. */
		if (q->body != NULL)
			assert_non_null(sent = strdup(q->body));
		answer(q, f->tc->r, K_500);
		check_out(f, rd, &expect[f->tc->r][K_500], intent, t0);
	} else {
		answer(q, f->tc->r, f->tc->k);
		check_out(f, rd, x, intent, t0);
	}
	/* The worker that claims it next is not stopping (white-box: no
	 * function starts a stopped runtime again). */
	f->rt->stopping = false;

	if (look) {
		/* Waited past the first look, or past every window. */
		if (rd->intent)
			set_waited(f, intent, f->tc->k != K_ABSENT ? 2500 :
			    INT64_C(1000000000));
		next_attempt(f);
		if (rd->look_m != NULL) {
			q = wire_take(f, rd->look_m, rd->look_p);
			look_answer(q, f->tc->r, f->tc->k == K_FOUND, sent);
		}
		free(sent);
		check_out(f, rd, x, intent, clock_wall_s());
		return;
	}
	if (x->next == N_NONE)
		return;
	next_attempt(f);
	if (x->next == N_WAIT) {
		assert_null(TAILQ_FIRST(&f->rt->held));
		assert_true(f->j->waiting);
		assert_int_equal(job_doubt_waits(f->rt, NULL, NULL), 1);
	} else
		held_is(f, rd->first_m, rd->first_p);
}

/*
 * One POST /tags per name at a time (ws_flight_*, job_tags.c): the job
 * that creates a name marks it, and the others wait for its answer.  A
 * job given back before its POST /tags went out (the workspace went into
 * outage while the request was queued: ws_enqueue releases it, and its
 * answer callback never runs) must take its mark with it, or every record
 * with that tag holds, sending nothing, until the mark expires
 * (request_timeout + settle_margin): test 63's stalled drain, 10 of 60
 * records claimed, nothing on the wire, state "delivering".
 */
static void
tag_flight_released(void **state)
{
	struct fix	*f = *state;

	claim_start(f, clock_wall_s());
	reach(f, R_TAGC);
	held_is(f, "POST", "/tags");
	assert_true(ws_flight_busy(f->ws, "POST /tags billing"));
	/* The outage comes while the group holds the request. */
	ws_outage(f->ws, "test: connection failed");
	rt_tx_flush(f->rt);
	assert_null(TAILQ_FIRST(&f->rt->held));
	/* The release joined the next group: the job ends at its commit. */
	assert_true(rt_tx_active(f->rt));
	rt_tx_flush(f->rt);
	assert_string_equal(rec_state(f), "pending");
	assert_int_equal(rt_jobs(f->rt), 0);
	assert_false(ws_flight_busy(f->ws, "POST /tags billing"));
}

int
main(void)
{
	static struct tcase	 tc[NROWS * NCLS + 1];
	static struct CMUnitTest tests[NROWS * NCLS + 1];
	static char		 names[NROWS * NCLS][64];
	size_t			 n = 0;
	int			 r, k;

	for (r = 0; r < NROWS; r++)
		for (k = 0; k < NCLS; k++, n++) {
			tc[n].r = r;
			tc[n].k = k;
			snprintf(names[n], sizeof(names[n]), "%s_%s",
			    rows[r].name, cls_name[k]);
			tests[n].name = names[n];
			tests[n].test_func = run_case;
			tests[n].setup_func = fix_setup;
			tests[n].teardown_func = fix_teardown;
			tests[n].initial_state = &tc[n];
		}
	tests[n].name = "tag_flight_released";
	tests[n].test_func = tag_flight_released;
	tests[n].setup_func = fix_setup;
	tests[n].teardown_func = fix_teardown;
	tests[n].initial_state = &tc[0];
	n++;
	return _cmocka_run_group_tests("t_driver_table", tests, n, NULL,
	    NULL);
}
