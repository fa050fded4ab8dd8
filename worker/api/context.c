/*
 * context: see context.h.
 *
 * One struct ctx_call per request.  It lives until both its client has
 * been answered (req NULL) and every read it started has come back
 * (busy 0): a read that lands after the deadline still refreshes the
 * cache, and the engine calls every read's done exactly once, so the
 * call is freed by whichever of the two happens last.  The client's
 * evhttp request stays valid until we reply, even when the client hangs
 * up (libevent detaches it then, and frees it in evhttp_send_reply).
 * A warm-up is a ctx_call with no client (req NULL from the start).
 *
 * Query strings are checked before anything else: only the documented
 * parameters, each at most once, bounded lengths, no NUL or control
 * characters; any other shape is a 400 naming the parameter (never
 * echoing its value).  An unknown workspace is a 404.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "clock.h"
#include "context.h"
#include "ctx_cache.h"
#include "rt.h"
#include "httpd.h"
#include "ident.h"
#include "intercom.h"
#include "log.h"

#define CTX_QUERY_MAX	2048		/* bytes of a query string */
#define CTX_READ_MAX	((size_t)4 * 1024 * 1024)	/* answer bound */
#define CTX_READ_TIMEOUT 10		/* s: a late answer still caches */
#define SLOT_SEARCH	CTX_NPARTS	/* the contact search's read */
#define SLOT_DETAIL	(CTX_NPARTS + 1)	/* GET /conversations/{id} ... */
#define NDETAIL		5		/* ... of the first five shown */
#define NSLOTS		(SLOT_DETAIL + NDETAIL)
#define WARM_TICK_S	5		/* s between warm-up rounds */
#define WARM_CALLS	4		/* warm-ups in flight per workspace */

struct ctx_call;

struct ctx_rd {
	struct ws_read	 rd;		/* rd.req owned while non-NULL */
	struct ctx_call	*call;
	int		 slot;
};

struct ctx_call {
	struct ctx		*c;
	struct wsrt		*ws;		/* stable for the engine's life */
	struct evhttp_request	*req;		/* NULL once answered */
	char			 phone[32];	/* E.164 or "" */
	char			 email[256];	/* normalised or "" */
	char			 id[64];	/* contact id once resolved */
	bool			 resolved;	/* id holds the caller */
	bool			 unknown;	/* live search found nobody */
	bool			 failed;	/* resolution failed: cache */
	int			 phase;		/* search: 0 phone, 1 email */
	char			 gone[64];	/* answered 404: re-resolving */
	bool			 moving;	/* id moved: its reads are void */
	int			 moves;		/* times it moved in this call */
	bool			 warm;		/* a warm-up: no client, last */
	bool			 article;	/* GET /v1/articles, not context */
	char			 phrase[256];	/* its phrase, the cache key */
	json_t			*art;		/* its live answer, new ref */
	int64_t			 t0;		/* monotonic ms */
	struct event		*timer;		/* the deadline */
	int			 busy;		/* reads not yet done */
	struct ctx_parts	 p;
	struct ctx_rd		 rds[NSLOTS];
	TAILQ_ENTRY(ctx_call)	 q;
};

TAILQ_HEAD(ctx_calls, ctx_call);

struct ctx {
	struct rt		*e;		/* borrowed */
	struct ctx_calls	 calls;
	struct event		*warm_ev;	/* warm-up rounds, persistent */
	bool			 down;		/* ctx_shutdown ran */
};

static void	ctx_fetch(struct ctx_call *);
static void	ctx_search(struct ctx_call *);
static void	details_fetch(struct ctx_call *);
static void	ctx_move(struct ctx_call *);
static void	article_answer(struct ctx_call *);
static void	warm_cb(evutil_socket_t, short, void *);

struct ctx *
ctx_new(struct rt *e)
{
	struct ctx	*c;
	struct timeval	 tv = { WARM_TICK_S, 0 };

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->e = e;
	TAILQ_INIT(&c->calls);
	/* Always armed: context_warm may be turned on by a reload. */
	if ((c->warm_ev = event_new(rt_base(e), -1, EV_PERSIST, warm_cb,
	    c)) == NULL || event_add(c->warm_ev, &tv) == -1) {
		ctx_free(c);
		return NULL;
	}
	return c;
}

/* ------------------------------------------------------------------ */
/* answers                                                              */

static void
bad_request(struct evhttp_request *req, int code, const char *reason,
    const char *error, const char *msg)
{
	httpd_reply_json(req, code, reason, json_pack("{s:s,s:s}", "error",
	    error, "message", msg));
}

static void
call_free(struct ctx_call *k)
{
	size_t	 i;

	TAILQ_REMOVE(&k->c->calls, k, q);
	if (k->timer != NULL)
		event_free(k->timer);
	for (i = 0; i < NSLOTS; i++) {
		ws_read_cancel(&k->rds[i].rd);
		http_req_free(k->rds[i].rd.req);
	}
	ctx_parts_clear(&k->p);
	json_decref(k->art);
	free(k);
}

/* Free k once it has answered and nothing of it is in flight. */
static void
call_maybe_free(struct ctx_call *k)
{
	size_t	 i;
	bool	 any = false;

	if (k->req != NULL || k->busy > 0)
		return;
	if (k->article && k->art != NULL && ctx_article_put(rt_db(k->c->e),
	    ws_name(k->ws), k->phrase, k->art) == -1)
		log_debug("%s: article cache not written: %s", ws_name(k->ws),
		    db_errmsg(rt_db(k->c->e)));
	/* The late reads' parts refresh the cache, then k goes. */
	for (i = 0; i < CTX_NPARTS; i++)
		any = any || k->p.live[i];
	if (k->resolved && any && ctx_cache_put(rt_db(k->c->e), ws_name(k->ws),
	    k->id, &k->p) == -1)
		log_debug("%s: context cache not written: %s", ws_name(k->ws),
		    db_errmsg(rt_db(k->c->e)));
	call_free(k);
}

/*
 * Answer k's client with what it has: live parts, the rest from the
 * cache.  Resolution that did not finish (deadline, failure) falls back
 * to the local resolution (identity map, cached lookups).
 */
static void
call_answer(struct ctx_call *k)
{
	struct rt	*e = k->c->e;
	const struct conf *cf = rt_conf(e);
	int64_t		 now = clock_wall_s();
	const char	*how;
	json_t		*o;
	size_t		 i, nlive = 0;
	int		 src;

	if (k->req == NULL)
		return;
	if (k->article) {
		article_answer(k);
		return;
	}
	if (!k->resolved && !k->unknown && ctx_resolve_local(rt_db(e),
	    ws_name(k->ws), k->phone, k->email, k->id, sizeof(k->id),
	    &how) == 1)
		k->resolved = true;
	if (k->resolved && ctx_cache_get(rt_db(e), ws_name(k->ws), k->id,
	    now - (int64_t)cf->context_max_age, &k->p) == -1)
		log_debug("%s: context cache not read: %s", ws_name(k->ws),
		    db_errmsg(rt_db(e)));
	for (i = 0; i < CTX_NPARTS; i++)
		nlive += k->p.live[i];
	o = ctx_answer(ws_name(k->ws), k->resolved ? k->id : NULL, &k->p,
	    k->unknown, now, cf->context_ttl);
	if (k->unknown || nlive == CTX_NPARTS)
		src = STATS_CTX_LIVE;
	else
		src = nlive > 0 ? STATS_CTX_PARTIAL : STATS_CTX_CACHE;
	ws_count_context(k->ws, src, (clock_mono_ms() - k->t0) / 1000.0);
	if (o == NULL)
		bad_request(k->req, 500, "Internal Server Error", "internal",
		    "out of memory");
	else
		httpd_reply_json(k->req, 200, "OK", o);
	k->req = NULL;
	if (k->timer != NULL)
		evtimer_del(k->timer);
}

/* Answer an article search: live, else the cache (any age up to
 * context_max_age), else an empty list marked stale. */
static void
article_answer(struct ctx_call *k)
{
	struct rt	*e = k->c->e;
	int64_t		 now = clock_wall_s(), at = now;
	json_t		*list = NULL;
	char		 asof[32];
	struct tm	 tm;
	time_t		 t;

	if (k->art != NULL)
		list = json_incref(k->art);
	else if (ctx_article_get(rt_db(e), ws_name(k->ws), k->phrase, now -
	    (int64_t)rt_conf(e)->context_max_age, &list, &at) != 1)
		at = 0;
	t = (time_t)(at > 0 ? at : now);
	gmtime_r(&t, &tm);
	strftime(asof, sizeof(asof), "%Y-%m-%dT%H:%M:%SZ", &tm);
	httpd_reply_json(k->req, 200, "OK", json_pack("{s:s,s:s,s:o,s:s,s:s,"
	    "s:b}", "workspace", ws_name(k->ws), "query", k->phrase, "articles",
	    list != NULL ? list : json_array(), "source", k->art != NULL ?
	    "live" : "cache", "as_of", asof, "stale", k->art == NULL &&
	    (at == 0 || now - at > (int64_t)rt_conf(e)->context_ttl)));
	k->req = NULL;
	if (k->timer != NULL)
		evtimer_del(k->timer);
}

static void
call_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctx_call	*k = arg;

	(void)fd;
	(void)what;
	call_answer(k);
	call_maybe_free(k);
}

/* ------------------------------------------------------------------ */
/* reads                                                                */

static void	read_done_cb(struct ws_read *, enum verdict);

/* Start a read in slot of k; -1 when it cannot be (then not busy). */
static int
call_read(struct ctx_call *k, int slot, const char *method, const char *path,
    json_t *body)
{
	struct ctx_rd	*cr = &k->rds[slot];
	struct http_req	*r;
	char		 url[512];

	snprintf(url, sizeof(url), "%s%s", ws_conf(k->ws)->api_base, path);
	if ((r = http_req_new(method, url)) == NULL)
		goto fail;
	if (body != NULL && (r->body = json_dumps(body, JSON_COMPACT)) == NULL)
		goto fail;
	if (ws_prepare(ws_conf(k->ws), r) == -1)
		goto fail;
	if (r->timeout_s > CTX_READ_TIMEOUT)
		r->timeout_s = CTX_READ_TIMEOUT;
	r->resp_max = CTX_READ_MAX;
	cr->call = k;
	cr->slot = slot;
	cr->rd.req = r;
	cr->rd.done = read_done_cb;
	cr->rd.arg = cr;
	cr->rd.warm = k->warm;
	k->busy++;
	if (ws_read(k->ws, &cr->rd) == -1) {
		k->busy--;
		cr->rd.req = NULL;
		goto fail;
	}
	json_decref(body);
	return 0;
fail:
	http_req_free(r);
	json_decref(body);
	return -1;
}

/* A search by one field = value, most recently updated first. */
static json_t *
search_body(const char *field, const char *value, int per_page, bool sort)
{
	json_t	*b;

	b = json_pack("{s:{s:s,s:s,s:s},s:{s:i}}", "query", "field", field,
	    "operator", "=", "value", value, "pagination", "per_page",
	    per_page);
	if (b != NULL && sort)
		json_object_set_new(b, "sort", json_pack("{s:s,s:s}", "field",
		    "updated_at", "order", "descending"));
	return b;
}

/* The caller is known: the four parts, in parallel. */
static void
ctx_fetch(struct ctx_call *k)
{
	char	 path[128];
	int	 n = rt_conf(k->c->e)->context_conversations;

	k->resolved = true;
	snprintf(path, sizeof(path), "/contacts/%s", k->id);
	call_read(k, CTX_CONTACT, "GET", path, NULL);
	/* Twice the count asked for, so open ones further down still
	 * come first. */
	call_read(k, CTX_CONVERSATIONS, "POST", "/conversations/search",
	    search_body("contact_ids", k->id, n * 2 > 50 ? 50 : n * 2, true));
	call_read(k, CTX_TICKETS, "POST", "/tickets/search",
	    search_body("contact_ids", k->id, 20, true));
	snprintf(path, sizeof(path), "/contacts/%s/companies", k->id);
	call_read(k, CTX_COMPANY, "GET", path, NULL);
	if (k->busy == 0)		/* none could start */
		call_answer(k);
}

/*
 * Search the next identity (phone, then email), as the drain does.  Like
 * ctx_fetch it may answer, never frees k: callers end with
 * call_maybe_free.
 */
static void
ctx_search(struct ctx_call *k)
{
	json_t	*b;

	if (k->phase == 0 && k->phone[0] == '\0')
		k->phase = 1;
	if (k->phase == 1 && k->email[0] == '\0')
		k->phase = 2;
	if (k->phase == 2) {		/* nobody: an unknown caller */
		k->unknown = true;
		call_answer(k);
		return;
	}
	if (k->phase == 0)
		b = json_pack("{s:o,s:{s:i}}", "query", ic_phone_query(k->phone,
		    ws_conf(k->ws)->default_region), "pagination", "per_page",
		    50);
	else
		b = search_body("email", k->email, 50, false);
	if (call_read(k, SLOT_SEARCH, "POST", "/contacts/search", b) == -1) {
		k->failed = true;
		call_answer(k);
	}
}

/*
 * The contact the map held answered 404 and the search found k->id: it
 * replaced the vanished one.  Keep the mapping and the map as the drain
 * does (job_set_contact: how "search_404", the identity learned again).
 */
static void
search_replaces(struct ctx_call *k, const char *role)
{
	struct db	*d = rt_db(k->c->e);
	const char	*ws = ws_name(k->ws);

	if (strcmp(k->gone, k->id) != 0 && (ident_merge(d, ws, k->gone,
	    k->id, "search_404") == -1 || (k->phone[0] != '\0' &&
	    ident_learn(d, ws, "phone", k->phone, k->id, role, "search") ==
	    -1) || (k->email[0] != '\0' && ident_learn(d, ws, "email",
	    k->email, k->id, role, "search") == -1)))
		log_warnx("%s: contact %s replaced by %s: mapping not "
		    "recorded: %s", ws, k->gone, k->id, db_errmsg(d));
	k->gone[0] = '\0';
}

static void
search_done(struct ctx_call *k, struct http_req *r, enum verdict v)
{
	json_t		*o, *data;
	const char	*id;
	int		 w;

	if (v != V_OK || (o = ic_parse(r->resp, r->resplen)) == NULL) {
		k->failed = true;
		call_answer(k);
		return;
	}
	data = json_object_get(o, "data");
	if (!json_is_array(data)) {
		json_decref(o);
		k->failed = true;
		call_answer(k);
		return;
	}
	if ((w = ic_pick_contact(data)) < 0) {
		json_decref(o);
		k->phase++;
		if (k->req != NULL)
			ctx_search(k);
		return;
	}
	id = ic_str(json_array_get(data, (size_t)w), "id");
	if (id == NULL || !ic_is_contact_id(id)) {
		json_decref(o);
		k->failed = true;
		call_answer(k);
		return;
	}
	snprintf(k->id, sizeof(k->id), "%s", id);
	if (k->gone[0] != '\0')
		search_replaces(k, ic_str(json_array_get(data, (size_t)w),
		    "role"));
	json_decref(o);
	k->resolved = true;
	/* Offline, this caller resolves to the same contact. */
	if (ctx_cache_learn(rt_db(k->c->e), ws_name(k->ws), k->phase == 0 ?
	    "phone" : "email", k->phase == 0 ? k->phone : k->email, k->id,
	    clock_wall_s()) == -1)
		log_debug("%s: context lookup not stored: %s", ws_name(k->ws),
		    db_errmsg(rt_db(k->c->e)));
	if (k->req != NULL)		/* past the deadline: no more reads */
		ctx_fetch(k);
}

/*
 * The contact k read answered 404 or 410: merged away or deleted.  As
 * the drain does (job_contact.c, contact_probe_done): a 410's Link names
 * the survivor and the merge is recorded (ident_gone_link); without one
 * the contact is forgotten and the caller searched again, the search's
 * answer recorded as its replacement (search_replaces).  The parts read
 * for the old id are void; once its reads are back, ctx_move reads the
 * new one.  A contact that keeps moving answers from the cache.
 */
static void
contact_moved(struct ctx_call *k, struct http_req *r)
{
	struct db	*d = rt_db(k->c->e);
	const char	*ws = ws_name(k->ws);
	char		 into[25];
	int		 rc;

	if (++k->moves > 2)
		return;
	k->moving = true;
	ctx_parts_clear(&k->p);
	if (r->status == 410 && (rc = ident_gone_link(d, ws, k->id, r->link,
	    into)) != 0) {
		if (rc == -1)
			log_warnx("%s: merge of %s into %s not recorded: %s", ws,
			    k->id, into, db_errmsg(d));
		log_info("%s: context read: contact %s was merged into %s", ws,
		    k->id, into);
		snprintf(k->id, sizeof(k->id), "%s", into);
		return;
	}
	log_info("%s: context read: contact %s is gone (HTTP %ld); searching "
	    "the caller again", ws, k->id, r->status);
	if (ident_forget(d, ws, k->id) == -1 || ctx_cache_unlearn(d, ws,
	    k->id) == -1)
		log_warnx("%s: contact %s not forgotten: %s", ws, k->id,
		    db_errmsg(d));
	snprintf(k->gone, sizeof(k->gone), "%s", k->id);
	k->id[0] = '\0';
	k->resolved = false;
}

/*
 * The old id's reads are all back: read the survivor, or search the
 * caller again.  Past the deadline nothing more is read (the mapping is
 * recorded: the next read goes to the survivor).
 */
static void
ctx_move(struct ctx_call *k)
{
	k->moving = false;
	ctx_parts_clear(&k->p);
	if (k->req == NULL && !k->warm)
		return;
	if (k->id[0] != '\0')
		ctx_fetch(k);
	else {
		k->phase = 0;
		ctx_search(k);
	}
}

static void
part_done(struct ctx_call *k, int slot, struct http_req *r, enum verdict v)
{
	const struct conf_ws *cw = ws_conf(k->ws);
	json_t		*o, *s = NULL;

	if (k->moving)
		return;			/* a read of the contact that moved */
	if (slot == CTX_CONTACT && v == V_GONE && (r->status == 404 ||
	    r->status == 410)) {
		contact_moved(k, r);
		return;
	}
	if (v != V_OK || (o = ic_parse(r->resp, r->resplen)) == NULL)
		return;			/* this part comes from the cache */
	switch (slot) {
	case CTX_CONTACT:
		s = ctx_shape_contact(o, cw);
		break;
	case CTX_CONVERSATIONS:
		s = ctx_shape_conversations(o, ws_app_id(k->ws),
		    rt_conf(k->c->e)->context_conversations);
		break;
	case CTX_TICKETS:
		s = ctx_shape_tickets(o);
		break;
	case CTX_COMPANY:
		s = ctx_shape_company(o, cw);
		break;
	}
	json_decref(o);
	if (s == NULL)
		return;
	json_decref(k->p.v[slot]);
	k->p.v[slot] = s;
	k->p.at[slot] = clock_wall_s();
	k->p.live[slot] = true;
	if (slot == CTX_CONVERSATIONS && (k->req != NULL || k->warm))
		details_fetch(k);
}

/*
 * Search answers carry a conversation's first message, not its parts:
 * the snippet of the last part needs GET /conversations/{id}, for the
 * first NDETAIL shown, in parallel (the second round trip).  What is not
 * back by the deadline keeps the first message's snippet.
 */
static void
details_fetch(struct ctx_call *k)
{
	json_t		*cv;
	const char	*id;
	char		 path[128];
	size_t		 i;

	json_array_foreach(k->p.v[CTX_CONVERSATIONS], i, cv) {
		if (i >= NDETAIL)
			break;
		if ((id = ic_str(cv, "id")) == NULL)
			continue;
		snprintf(path, sizeof(path), "/conversations/%s", id);
		call_read(k, SLOT_DETAIL + (int)i, "GET", path, NULL);
	}
}

static void
detail_done(struct ctx_call *k, int slot, struct http_req *r, enum verdict v)
{
	json_t		*o, *cv;
	char		 snip[256];

	cv = json_array_get(k->p.v[CTX_CONVERSATIONS], (size_t)(slot -
	    SLOT_DETAIL));
	if (v != V_OK || cv == NULL || (o = ic_parse(r->resp, r->resplen)) ==
	    NULL)
		return;
	if (ic_str(o, "id") != NULL && ic_str(cv, "id") != NULL &&
	    strcmp(ic_str(o, "id"), ic_str(cv, "id")) == 0) {
		ctx_conv_snippet(o, snip, sizeof(snip));
		json_object_set_new(cv, "snippet", json_string(snip));
	}
	json_decref(o);
}

static void
read_done_cb(struct ws_read *rd, enum verdict v)
{
	struct ctx_rd	*cr = rd->arg;
	struct ctx_call	*k = cr->call;
	struct http_req	*r = rd->req;

	k->busy--;
	rd->req = NULL;		/* the email search may reuse the slot */
	if (k->article) {
		json_t *o = v == V_OK ? ic_parse(r->resp, r->resplen) : NULL;

		k->art = ctx_shape_articles(o);
		json_decref(o);
		call_answer(k);
	} else if (cr->slot == SLOT_SEARCH)
		search_done(k, r, v);
	else if (cr->slot >= SLOT_DETAIL)
		detail_done(k, cr->slot, r, v);
	else
		part_done(k, cr->slot, r, v);
	http_req_free(r);
	if (k->moving && k->busy == 0)
		ctx_move(k);
	if (!k->article && cr->slot != SLOT_SEARCH && k->busy == 0)
		call_answer(k);
	call_maybe_free(k);
}

/* ------------------------------------------------------------------ */
/* the request                                                          */

/* Whether s holds a control character (a NUL cannot reach here). */
static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

struct qparam {
	const char	*name;
	size_t		 max;		/* bytes */
	const char	*val;		/* borrowed from the parsed list */
};

/*
 * Parse and check req's query against params (NULL-terminated names);
 * 0, or -1 after answering 400.
 */
static int
query_check(struct evhttp_request *req, struct evkeyvalq *kv,
    struct qparam *params)
{
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	const char		*q = u ? evhttp_uri_get_query(u) : NULL;
	struct evkeyval		*h;
	struct qparam		*p;
	char			 msg[160];

	if (q == NULL)
		q = "";
	if (strlen(q) > CTX_QUERY_MAX) {
		bad_request(req, 400, "Bad Request", "bad_query",
		    "query string too long");
		return -1;
	}
	/* A %00 would cut a value short after decoding: refuse it. */
	if (strstr(q, "%00") != NULL || strcasestr(q, "%00") != NULL) {
		bad_request(req, 400, "Bad Request", "bad_query",
		    "NUL byte in the query string");
		return -1;
	}
	if (evhttp_parse_query_str(q, kv) == -1) {
		bad_request(req, 400, "Bad Request", "bad_query",
		    "malformed query string");
		return -1;
	}
	TAILQ_FOREACH(h, kv, next) {
		for (p = params; p->name != NULL; p++)
			if (strcmp(h->key, p->name) == 0)
				break;
		if (p->name == NULL) {
			bad_request(req, 400, "Bad Request", "bad_query",
			    "unknown parameter (see the documentation of "
			    "this endpoint)");
			return -1;
		}
		if (p->val != NULL) {
			snprintf(msg, sizeof(msg), "%s: given more than once",
			    p->name);
			bad_request(req, 400, "Bad Request", "bad_query", msg);
			return -1;
		}
		if (strlen(h->value) > p->max || has_ctl(h->value)) {
			snprintf(msg, sizeof(msg), "%s: longer than %zu bytes "
			    "or holds control characters", p->name, p->max);
			bad_request(req, 400, "Bad Request", "bad_query", msg);
			return -1;
		}
		p->val = h->value;
	}
	return 0;
}

/*
 * A new call for req on workspace name, in c's list; NULL after
 * answering (404 for a workspace this worker does not serve).
 */
static struct ctx_call *
call_new(struct ctx *c, struct evhttp_request *req, const char *name)
{
	struct ctx_call	*k;
	struct wsrt	*ws;

	if ((ws = ws_find(c->e, name)) == NULL) {
		bad_request(req, 404, "Not Found", "unknown_workspace",
		    "this worker serves no such workspace");
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		bad_request(req, 500, "Internal Server Error", "internal",
		    "out of memory");
		return NULL;
	}
	k->c = c;
	k->ws = ws;
	k->req = req;
	k->t0 = clock_mono_ms();
	TAILQ_INSERT_TAIL(&c->calls, k, q);
	return k;
}

/*
 * The client's deadline_ms: it may only shorten dl.  The new deadline,
 * or -1 after answering 400.
 */
static long
deadline_param(struct evhttp_request *req, const char *val, long dl)
{
	char	*end;
	long	 v;

	v = strtol(val, &end, 10);
	if (val[0] < '0' || val[0] > '9' || *end != '\0' || v < 1) {
		bad_request(req, 400, "Bad Request", "bad_query",
		    "deadline_ms: expected a positive number of milliseconds");
		return -1;
	}
	return v < dl ? v : dl;
}

/* Whether a live search resolved k's caller less than context_ttl ago. */
static bool
lookup_fresh(struct ctx_call *k)
{
	int64_t	 min_at = clock_wall_s() -
	    (int64_t)rt_conf(k->c->e)->context_ttl;
	char	 id[64];

	return (k->phone[0] != '\0' && ctx_cache_lookup(rt_db(k->c->e),
	    ws_name(k->ws), "phone", k->phone, min_at, id, sizeof(id)) == 1) ||
	    (k->email[0] != '\0' && ctx_cache_lookup(rt_db(k->c->e),
	    ws_name(k->ws), "email", k->email, min_at, id, sizeof(id)) == 1);
}

void
ctx_handle(struct ctx *c, struct evhttp_request *req)
{
	struct rt		*e = c->e;
	struct evkeyvalq	 kv;
	struct qparam		 params[] = {
		{ "workspace", 64, NULL }, { "phone", 64, NULL },
		{ "email", 254, NULL }, { "deadline_ms", 6, NULL },
		{ NULL, 0, NULL }
	};
	struct ctx_call		*k = NULL;
	struct wsrt		*ws;
	struct timeval		 tv;
	const char		*how;
	char			 why[200], msg[260];
	long			 dl = rt_conf(e)->context_deadline_ms;

	TAILQ_INIT(&kv);
	if (query_check(req, &kv, params) == -1)
		goto out;
	if (params[0].val == NULL || params[0].val[0] == '\0') {
		bad_request(req, 400, "Bad Request", "bad_query",
		    "workspace: required");
		goto out;
	}
	if ((params[1].val == NULL || params[1].val[0] == '\0') &&
	    (params[2].val == NULL || params[2].val[0] == '\0')) {
		bad_request(req, 400, "Bad Request", "bad_query",
		    "phone or email: at least one is required");
		goto out;
	}
	if (params[3].val != NULL && (dl = deadline_param(req, params[3].val,
	    dl)) == -1)
		goto out;
	if ((k = call_new(c, req, params[0].val)) == NULL)
		goto out;
	ws = k->ws;
	if (ctx_normalize(ws_conf(ws), params[1].val && params[1].val[0] ?
	    params[1].val : NULL, params[2].val && params[2].val[0] ?
	    params[2].val : NULL, k->phone, sizeof(k->phone), k->email,
	    sizeof(k->email), why, sizeof(why)) == -1) {
		snprintf(msg, sizeof(msg), "%s", why);
		bad_request(req, 400, "Bad Request", "bad_query", msg);
		k->req = NULL;
		call_free(k);
		goto out;
	}
	/* Lane down, paused or booting: the cache, now. */
	if (!ws_is_ready(ws) || c->down || rt_stopping(e)) {
		call_answer(k);
		call_maybe_free(k);
		goto out;
	}
	if ((k->timer = evtimer_new(rt_base(e), call_deadline_cb, k)) == NULL) {
		call_answer(k);
		call_maybe_free(k);
		goto out;
	}
	tv.tv_sec = dl / 1000;
	tv.tv_usec = (dl % 1000) * 1000;
	evtimer_add(k->timer, &tv);
	/* The identity map (with its merge mappings) is the drain's first
	 * answer too; then what a live search found less than context_ttl
	 * ago; only the rest is searched (one round trip saved per call). */
	if (ctx_resolve_local(rt_db(e), ws_name(ws), k->phone, k->email, k->id,
	    sizeof(k->id), &how) == 1 && (strcmp(how, "map") == 0 ||
	    lookup_fresh(k)))
		ctx_fetch(k);
	else {
		k->id[0] = '\0';
		ctx_search(k);
	}
	call_maybe_free(k);
out:
	evhttp_clear_headers(&kv);
}

/* ------------------------------------------------------------------ */
/* articles                                                             */

void
ctx_articles(struct ctx *c, struct evhttp_request *req)
{
	struct rt		*e = c->e;
	struct evkeyvalq	 kv;
	struct qparam		 params[] = {
		{ "workspace", 64, NULL }, { "q", 200, NULL },
		{ "deadline_ms", 6, NULL }, { NULL, 0, NULL }
	};
	struct ctx_call		*k;
	struct wsrt		*ws;
	struct timeval		 tv;
	char			 path[800], *enc = NULL;
	long			 dl = rt_conf(e)->context_deadline_ms;

	TAILQ_INIT(&kv);
	if (query_check(req, &kv, params) == -1)
		goto out;
	if (params[0].val == NULL || params[0].val[0] == '\0' ||
	    params[1].val == NULL || params[1].val[0] == '\0') {
		bad_request(req, 400, "Bad Request", "bad_query",
		    "workspace and q: both required");
		goto out;
	}
	if (params[2].val != NULL && (dl = deadline_param(req, params[2].val,
	    dl)) == -1)
		goto out;
	if ((k = call_new(c, req, params[0].val)) == NULL)
		goto out;
	ws = k->ws;
	k->article = true;
	ctx_article_key(params[1].val, k->phrase, sizeof(k->phrase));
	if (ws_is_ready(ws) && !c->down && !rt_stopping(e) &&
	    (k->timer = evtimer_new(rt_base(e), call_deadline_cb, k)) != NULL &&
	    (enc = evhttp_encode_uri(k->phrase)) != NULL) {
		tv.tv_sec = dl / 1000;
		tv.tv_usec = (dl % 1000) * 1000;
		evtimer_add(k->timer, &tv);
		snprintf(path, sizeof(path), "/articles/search?phrase=%s&"
		    "state=published", enc);
		free(enc);
		if (call_read(k, SLOT_SEARCH, "GET", path, NULL) == 0)
			goto out;
	}
	call_answer(k);		/* lane down, or no read: the cache now */
	call_maybe_free(k);
out:
	evhttp_clear_headers(&kv);
}

/* ------------------------------------------------------------------ */
/* warm-up                                                              */

/*
 * Every WARM_TICK_S, with context_warm > 0: the callers of each ready
 * workspace's last context_warm delivered calls whose cached context is
 * missing or older than context_ttl are read in the background, as a
 * live read would (the same reads, the same merge handling, the cache
 * written when they are back), at most WARM_CALLS at a time.  Their
 * reads are the engine's warm class: sent last and paced to
 * context_warm_share of the budget (ws_pump_warm), so the drain and the
 * voice agents' reads go first.  Nobody waits for them: no deadline.
 */
static bool
warm_busy(struct ctx *c, struct wsrt *ws, const char *id, int *nwarm)
{
	struct ctx_call	*k;
	bool		 busy = false;

	*nwarm = 0;
	TAILQ_FOREACH(k, &c->calls, q) {
		if (k->ws != ws)
			continue;
		*nwarm += k->warm;
		busy = busy || (id != NULL && strcmp(k->id, id) == 0);
	}
	return busy;
}

static void
warm_ws(struct ctx *c, struct wsrt *ws)
{
	struct rt	*e = c->e;
	struct ctx_call	*k;
	char		 ids[200][64], id[64];	/* context_warm <= 200 */
	int64_t		 min_at = clock_wall_s() -
	    (int64_t)rt_conf(e)->context_ttl;
	int		 i, n, nwarm;

	warm_busy(c, ws, NULL, &nwarm);
	if (nwarm >= WARM_CALLS)
		return;
	if ((n = ctx_cache_recent(rt_db(e), ws_name(ws),
	    rt_conf(e)->context_warm, ids,
	    (int)(sizeof(ids) / sizeof(ids[0])))) == -1) {
		log_debug("%s: warm-up: recent callers not read: %s",
		    ws_name(ws), db_errmsg(rt_db(e)));
		return;
	}
	for (i = 0; i < n && nwarm < WARM_CALLS; i++) {
		if (ident_follow(rt_db(e), ws_name(ws), ids[i], id,
		    sizeof(id)) == -1 || ctx_cache_warm_due(rt_db(e),
		    ws_name(ws), id, min_at) != 1 ||
		    warm_busy(c, ws, id, &nwarm))
			continue;
		if ((k = calloc(1, sizeof(*k))) == NULL)
			return;
		k->c = c;
		k->ws = ws;
		k->warm = true;
		k->t0 = clock_mono_ms();
		snprintf(k->id, sizeof(k->id), "%s", id);
		TAILQ_INSERT_TAIL(&c->calls, k, q);
		nwarm++;
		ctx_fetch(k);
		call_maybe_free(k);
	}
}

static void
warm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctx	*c = arg;
	size_t		 i;

	(void)fd;
	(void)what;
	if (c->down || rt_stopping(c->e) || rt_conf(c->e)->context_warm == 0)
		return;
	for (i = 0; i < rt_nws(c->e); i++)
		if (ws_is_ready(rt_ws(c->e, i)))
			warm_ws(c, rt_ws(c->e, i));
}

/* ------------------------------------------------------------------ */
/* shutdown                                                             */

void
ctx_shutdown(struct ctx *c)
{
	struct ctx_call	*k;
	size_t		 i;

	if (c == NULL)
		return;
	c->down = true;
	if (c->warm_ev != NULL)
		event_del(c->warm_ev);
	/* The transfers are gone (http_free): nothing will call back. */
	while ((k = TAILQ_FIRST(&c->calls)) != NULL) {
		for (i = 0; i < NSLOTS; i++) {
			ws_read_cancel(&k->rds[i].rd);
			http_req_free(k->rds[i].rd.req);
			k->rds[i].rd.req = NULL;
		}
		k->busy = 0;
		call_answer(k);
		call_maybe_free(k);
	}
}

void
ctx_free(struct ctx *c)
{
	if (c == NULL)
		return;
	ctx_shutdown(c);
	if (c->warm_ev != NULL)
		event_free(c->warm_ev);
	free(c);
}

static void
route_context(void *arg, struct evhttp_request *req, const char *path)
{
	(void)path;
	ctx_handle(arg, req);
}

static void
route_articles(void *arg, struct evhttp_request *req, const char *path)
{
	(void)path;
	ctx_articles(arg, req);
}

int
ctx_routes(struct ctx *c, struct httpd *h)
{
	if (httpd_route(h, "/v1/context", false, true, route_context, c) ==
	    -1 || httpd_route(h, "/v1/articles", false, true, route_articles,
	    c) == -1)
		return -1;
	return 0;
}
