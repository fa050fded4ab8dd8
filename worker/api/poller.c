/*
 * poller: see poller.h.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "rt.h"
#include "inbox.h"
#include "intercom.h"
#include "log.h"
#include "poller.h"
#include "webhook.h"

#define POLL_TICK_MS	100
#define POLL_DAY_S	86400
#define POLL_BACKOFF_MS	1000	/* after a failure, doubling... */
#define POLL_BACKOFF_MAX 60000	/* ...up to this */

enum { PK_CONV, PK_CONTACT, PK_N };
static const char *const kind_name[PK_N] = { "conversation", "contact" };
static const char *const kind_path[PK_N] = { "/conversations/search",
    "/contacts/search" };
static const char *const kind_list[PK_N] = { "conversations", "data" };
static const char *const kind_topic[PK_N] = { "poll.conversation",
    "poll.contact" };

/* One workspace's polling; pw->ws is the engine's (same index). */
struct poll_ws {
	struct poll	*p;
	struct wsrt	*ws;		/* borrowed */
	struct ws_read	 rd;		/* rd.req owned while busy */
	bool		 busy;		/* a request is queued or on the wire */
	bool		 loaded;	/* watermarks read from the database */
	bool		 active;	/* poll_share > 0 (said once) */
	bool		 failing;	/* said "polling fails" */
	int64_t		 wm[PK_N];	/* watermark: Intercom's updated_at */
	int64_t		 done_at[PK_N];	/* wall s a complete read of it began */
	int		 kind;		/* the kind being read */
	bool		 in_kind;	/* between its first page and its last */
	int64_t		 kind_at;	/* wall s this kind's read began */
	int64_t		 lo;		/* it reads updated_at >= lo */
	int64_t		 seen;		/* newest updated_at it read */
	/* Per kind, whether the answers come newest first: 0 not known
	 * yet, 1 seen so (a later object older, none newer), -1 not (a
	 * later object newer: the sort is ignored; for good). */
	int		 order[PK_N];
	char		*cursor;	/* the next page's starting_after; owned */
	int64_t		 next_ms;	/* monotonic: the next request may go */
	int64_t		 round_ms;	/* monotonic: this round began */
	int		 fails;		/* in a row */
	uint64_t	 requests, failures, entries, duplicates, tasks;
};

struct poll {
	struct rt	*e;
	struct event	*tick;
	struct poll_ws	**pw;		/* [npw], owned; index = e->ws's */
	size_t		 npw;
	int64_t		 started;	/* wall s */
	bool		 fill_failed;	/* webhook_new (phones only) failed */
};

/* Load ws's watermarks; a kind never polled starts now.  0 or -1. */
static int
pw_load(struct poll_ws *pw)
{
	struct rt	*e = pw->p->e;
	int		 i;

	for (i = 0; i < PK_N; i++)
		pw->wm[i] = clock_wall_s();
	if (inbox_poll_marks(rt_db(e), ws_name(pw->ws), kind_name, pw->wm,
	    PK_N) == -1)
		return -1;
	pw->loaded = true;
	return 0;
}

/* The round is abandoned; the next one reads the same range again. */
static void
pw_reset(struct poll_ws *pw)
{
	free(pw->cursor);
	pw->cursor = NULL;
	pw->in_kind = false;
}

/* A failed request (why) or commit: back off; said once. */
static void
pw_fail(struct poll_ws *pw, const char *why, bool say)
{
	int64_t	 ms = POLL_BACKOFF_MS;
	int	 i;

	pw->failures++;
	for (i = 0; i < pw->fails && ms < POLL_BACKOFF_MAX; i++)
		ms *= 2;
	if (ms > POLL_BACKOFF_MAX)
		ms = POLL_BACKOFF_MAX;
	pw->fails++;
	pw->next_ms = clock_mono_ms() + (int64_t)(ms * (0.5 +
	    rt_rand() / 2));
	if (say && !pw->failing) {
		pw->failing = true;
		log_warnx("%s: polling fails (%s); reading again with backoff "
		    "(no notification is lost: the next round reads the same "
		    "range)", ws_name(pw->ws), why);
	}
	pw_reset(pw);
}

static void
pw_ok(struct poll_ws *pw)
{
	if (pw->failing)
		log_notice("%s: polling works again (after %d failed "
		    "requests)", ws_name(pw->ws), pw->fails);
	pw->failing = false;
	pw->fails = 0;
}

/* The page's objects into the inbox, and the watermark when it is the
 * kind's last page (last, or *stop: an object older than the range was
 * met); one transaction.  0, or -1 with why. */
static int
pw_store(struct poll_ws *pw, const json_t *list, bool last,
    bool *stop, char *why, size_t whysz)
{
	struct rt		*e = pw->p->e;
	const struct conf_ws	*cw = ws_conf(pw->ws);
	struct inbox_note	 n;
	enum inbox_result	 r;
	const json_t		*item, *v;
	char			 key[INBOX_EVENT_KEY_MAX], id[INBOX_EVENT_KEY_MAX
				    + 8], idbuf[32];
	int64_t			 at, now = clock_wall_s();
	uint64_t		 entries = 0, dups = 0, tasks = 0;
	size_t			 i;
	int			 made;
	bool			 old = false, up = false, down = false;
	/* Order is judged within one answer: between pages, objects written
	 * meanwhile shift the cursor's place, and a page may start newer than
	 * the last one ended. */
	int64_t			 up_at = 0, up_prev = 0, prev = INT64_MAX;

	*stop = false;
	rt_tx_flush(e);	/* a transaction of its own */
	if (rt_db(e)->txdepth > 0 || db_begin(rt_db(e)) == -1) {
		snprintf(why, whysz, "database busy");
		return -1;
	}
	json_array_foreach(list, i, item) {
		v = json_object_get(item, "updated_at");
		if (!json_is_integer(v))
			continue;
		at = json_integer_value(v);
		if (at > prev && prev != INT64_MAX && !up) {
			up = true;
			up_at = at;
			up_prev = prev;
		}
		down |= at < prev && prev != INT64_MAX;
		prev = at;
		if (at < pw->lo) {
			old = true;
			continue;
		}
		if (at > pw->seen)
			pw->seen = at;
		memset(&n, 0, sizeof(n));
		n.item = item;
		n.item_type = json_string_value(json_object_get(item, "type"));
		v = json_object_get(item, "id");
		if (json_is_integer(v)) {
			snprintf(idbuf, sizeof(idbuf), "%" JSON_INTEGER_FORMAT,
			    json_integer_value(v));
			n.item_id = idbuf;
		} else
			n.item_id = json_string_value(v);
		n.topic = kind_topic[pw->kind];
		n.app_id = "";
		n.created_at = n.event_at = at;
		if (n.item_type == NULL || !inbox_event_key(&n, key,
		    sizeof(key)))
			continue;	/* not a conversation or contact */
		snprintf(id, sizeof(id), "poll:%s", key);
		n.id = id;
		r = inbox_store(rt_db(e), cw, ws_name(pw->ws), &n, "poll", now,
		    &made);
		if (r == INBOX_ERR)
			goto fail;
		if (r == INBOX_DUP)
			dups++;
		else {
			entries++;
			tasks += (uint64_t)made;
		}
	}
	if (up && pw->order[pw->kind] != -1) {
		pw->order[pw->kind] = -1;
		log_notice("%s: POST %s answers are not newest first (the sort "
		    "is ignored: updated_at %" PRId64 " after %" PRId64 "): "
		    "reading every page of the range", ws_name(pw->ws),
		    kind_path[pw->kind], up_at, up_prev);
	} else if (down && pw->order[pw->kind] == 0)
		pw->order[pw->kind] = 1;
	/* Seen newest first: past an older object, the rest is older. */
	*stop = old && pw->order[pw->kind] == 1;
	if (*stop || last) {
		if (inbox_poll_mark_save(rt_db(e), ws_name(pw->ws),
		    kind_name[pw->kind], pw->seen) == -1)
			goto fail;
	}
	if (db_commit(rt_db(e)) == -1)
		goto fail;
	pw->entries += entries;
	pw->duplicates += dups;
	pw->tasks += tasks;
	if (tasks > 0) {
		log_info("%s: polling made %" PRIu64 " call task%s",
		    ws_name(pw->ws), tasks, tasks == 1 ? "" : "s");
		webhook_tasks_made(e);
	}
	return 0;
fail:
	snprintf(why, whysz, "cannot store: %s", db_errmsg(rt_db(e)));
	db_rollback(rt_db(e));
	return -1;
}

static void
pw_done(struct ws_read *rd, enum verdict v)
{
	struct poll_ws	*pw = rd->arg;
	struct http_req	*r = rd->req;
	json_t		*o = NULL;
	const json_t	*list, *next;
	const char	*cur;
	char		 why[512];
	bool		 stop, last;

	rd->req = NULL;
	pw->busy = false;
	if (v != V_OK) {
		/* Never sent (the workspace went down or paused: the engine
		 * says so) or a 429 (the limiter waits, the engine logs a
		 * long wait): no line of ours. */
		snprintf(why, sizeof(why), "%s %s: %s", kind_path[pw->kind],
		    retry_verdict_name(v), r->cc != CURLE_OK ? r->errbuf :
		    "HTTP error");
		if (r->cc == CURLE_OK && r->status > 0)
			snprintf(why, sizeof(why), "POST %s: HTTP %ld",
			    kind_path[pw->kind], r->status);
		pw_fail(pw, why, r->sent_ms != 0 && v != V_THROTTLED);
		goto done;
	}
	o = ic_parse(r->resp, r->resplen);
	list = json_object_get(o, kind_list[pw->kind]);
	if (!json_is_array(list)) {
		snprintf(why, sizeof(why), "POST %s: the answer has no %s list",
		    kind_path[pw->kind], kind_list[pw->kind]);
		pw_fail(pw, why, true);
		goto done;
	}
	next = json_object_get(json_object_get(json_object_get(o, "pages"),
	    "next"), "starting_after");
	cur = json_string_value(next);
	last = cur == NULL || cur[0] == '\0';
	if (pw_store(pw, list, last, &stop, why, sizeof(why)) == -1) {
		pw_fail(pw, why, true);
		goto done;
	}
	pw_ok(pw);
	if (stop || last) {	/* the kind is read: the next one */
		pw->wm[pw->kind] = pw->seen > pw->wm[pw->kind] ? pw->seen :
		    pw->wm[pw->kind];
		pw->done_at[pw->kind] = pw->kind_at;
		pw_reset(pw);
		pw->kind = (pw->kind + 1) % PK_N;
	} else {
		free(pw->cursor);
		if ((pw->cursor = strdup(cur)) == NULL)
			pw_fail(pw, "out of memory", true);
	}
done:
	json_decref(o);
	http_req_free(r);
}

/* Requests a window's budget allows polling: at least 1. */
static long
pw_share(const struct poll_ws *pw)
{
	long	 budget = ws_rate_budget(pw->ws), n;

	if (budget <= 0)
		budget = 100;	/* the server has not said */
	n = budget * ws_conf(pw->ws)->poll_share / 100;
	return n > 0 ? n : 1;
}

/* Send the next request of pw's round, when it is time. */
static void
pw_step(struct poll_ws *pw)
{
	struct rt		*e = pw->p->e;
	struct wsrt		*ws = pw->ws;
	const struct conf_ws	*cw = ws_conf(ws);
	struct http_req		*r = NULL;
	json_t			*b = NULL, *pg;
	int64_t			 now;
	char			 url[512];

	if (rt_stopping(e) || pw->busy)
		return;
	if (cw->poll_share <= 0) {
		if (pw->active)
			log_info("%s: polling off (poll_share = 0)",
			    ws_name(ws));
		pw->active = false;
		pw_reset(pw);
		return;
	}
	if (!pw->active)
		log_info("%s: polling Intercom for changes with %d%% of the "
		    "rate budget", ws_name(ws), cw->poll_share);
	pw->active = true;
	now = clock_mono_ms();
	if (!ws_is_ready(ws) || now < pw->next_ms)
		return;
	if (!pw->loaded && pw_load(pw) == -1) {
		pw->next_ms = now + POLL_BACKOFF_MS;
		return;
	}
	if (!pw->in_kind) {
		if (pw->kind == PK_CONV) {	/* a new round */
			if (now < pw->round_ms + POLL_ROUND_MS)
				return;
			pw->round_ms = now;
		}
		pw->in_kind = true;
		pw->kind_at = clock_wall_s();
		pw->lo = pw->wm[pw->kind] - cw->search_lag;
		pw->seen = pw->wm[pw->kind];
	}
	b = json_pack("{s:{s:s,s:s,s:I},s:{s:s,s:s},s:{s:i}}",
	    "query", "field", "updated_at", "operator", ">", "value",
	    (json_int_t)(pw->lo - POLL_DAY_S),
	    "sort", "field", "updated_at", "order", "descending",
	    "pagination", "per_page", POLL_PER_PAGE);
	if (b == NULL)
		goto fail;
	if (pw->cursor != NULL && (pg = json_object_get(b, "pagination"))
	    != NULL)
		json_object_set_new(pg, "starting_after",
		    json_string(pw->cursor));
	snprintf(url, sizeof(url), "%s%s", cw->api_base, kind_path[pw->kind]);
	if ((r = http_req_new("POST", url)) == NULL ||
	    (r->body = json_dumps(b, JSON_COMPACT)) == NULL ||
	    ws_prepare(cw, r) == -1)
		goto fail;
	json_decref(b);
	memset(&pw->rd, 0, sizeof(pw->rd));
	pw->rd.req = r;
	pw->rd.done = pw_done;
	pw->rd.arg = pw;
	pw->rd.poll = true;
	pw->busy = true;
	if (ws_read(ws, &pw->rd) == -1) {	/* not ready: later */
		pw->busy = false;
		pw->rd.req = NULL;
		http_req_free(r);
		return;
	}
	pw->requests++;
	/* Evenly: a window's share spread over its 10 s. */
	pw->next_ms = now + 10000 / pw_share(pw);
	return;
fail:
	json_decref(b);
	http_req_free(r);
	pw_fail(pw, "out of memory", true);
}

static void
poll_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct poll	*p = arg;
	struct rt	*e = p->e;
	struct poll_ws	**a;
	char		 err[256];
	size_t		 i;

	(void)fd;
	(void)what;
	if (p->npw < rt_nws(e)) {	/* a reload added workspaces */
		if ((a = reallocarray(p->pw, rt_nws(e), sizeof(*a))) == NULL)
			return;
		p->pw = a;
		for (i = p->npw; i < rt_nws(e); i++) {
			if ((a[i] = calloc(1, sizeof(**a))) == NULL)
				return;
			a[i]->p = p;
			a[i]->ws = rt_ws(e, i);
			p->npw = i + 1;
		}
	}
	for (i = 0; i < p->npw; i++) {
		pw_step(p->pw[i]);
		/* Tasks polling makes want their phones too: the fill-in
		 * runs without a receiver (at start, or a reload). */
		if (p->pw[i]->active && webhook_one() == NULL &&
		    !p->fill_failed && webhook_new(e, NULL, err, sizeof(err)) ==
		    NULL) {
			p->fill_failed = true;
			log_warnx("%s: phones of call tasks will not be read: "
			    "%s", ws_name(p->pw[i]->ws), err);
		}
	}
}

/* One per process, as the local API: /metrics finds it here. */
static struct poll	*poll_the;

struct poll *
poll_new(struct rt *e)
{
	struct poll	*p;
	struct timeval	 tv = { 0, POLL_TICK_MS * 1000 };

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->e = e;
	p->started = clock_wall_s();
	if ((p->tick = event_new(rt_base(e), -1, EV_PERSIST, poll_tick_cb, p))
	    == NULL || event_add(p->tick, &tv) == -1) {
		poll_free(p);
		return NULL;
	}
	poll_the = p;
	return p;
}

void
poll_free(struct poll *p)
{
	size_t	 i;

	if (p == NULL)
		return;
	if (p == poll_the)
		poll_the = NULL;
	if (p->tick != NULL)
		event_free(p->tick);
	for (i = 0; i < p->npw; i++) {
		if (p->pw[i] == NULL)
			continue;
		ws_read_cancel(&p->pw[i]->rd);
		http_req_free(p->pw[i]->rd.req);
		free(p->pw[i]->cursor);
		free(p->pw[i]);
	}
	free(p->pw);
	free(p);
}

static void
head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* One counter of every workspace; off: the offset of it in poll_ws. */
static void
counter(struct rt *e, struct evbuffer *b, const char *name,
    const char *help, size_t off)
{
	struct poll	*p = poll_the;
	size_t		 i;

	head(b, name, "counter", help);
	for (i = 0; i < rt_nws(e); i++)
		evbuffer_add_printf(b, "%s{workspace=\"%s\"} %" PRIu64 "\n",
		    name, ws_name(rt_ws(e, i)), p != NULL && i < p->npw ?
		    *(const uint64_t *)(const void *)((const char *)p->pw[i] +
		    off) : 0);
}

void
poll_metrics(struct rt *e, struct evbuffer *b)
{
	struct poll	*p = poll_the;
	struct poll_ws	*pw;
	int64_t		 now = clock_wall_s(), since;
	size_t		 i;
	int		 k;

	counter(e, b, "callsync_poll_requests_total", "Searches polling sent "
	    "(conversations and contacts changed since the watermark).",
	    offsetof(struct poll_ws, requests));
	counter(e, b, "callsync_poll_failures_total", "Polling requests or "
	    "commits that failed (the round is read again after a backoff).",
	    offsetof(struct poll_ws, failures));
	counter(e, b, "callsync_poll_entries_total", "Inbox entries polling "
	    "stored (object states not stored before).",
	    offsetof(struct poll_ws, entries));
	counter(e, b, "callsync_poll_duplicates_total", "Objects polling read "
	    "whose state the inbox held already (re-reads, webhooks).",
	    offsetof(struct poll_ws, duplicates));
	counter(e, b, "callsync_poll_tasks_made_total", "Call tasks the rules "
	    "made from polled entries.", offsetof(struct poll_ws, tasks));
	head(b, "callsync_poll_watermark_age_seconds", "gauge", "Seconds "
	    "since the last complete read of a kind began (what changed "
	    "before then, less search_lag, is in the inbox); grows when "
	    "polling fails or falls behind.");
	for (i = 0; i < rt_nws(e); i++) {
		pw = p != NULL && i < p->npw ? p->pw[i] : NULL;
		if (pw == NULL || !pw->active)
			continue;
		for (k = 0; k < PK_N; k++) {
			since = pw->done_at[k] > 0 ? pw->done_at[k] :
			    p->started;
			evbuffer_add_printf(b, "callsync_poll_watermark_age_"
			    "seconds{workspace=\"%s\",kind=\"%s\"} %" PRId64
			    "\n", ws_name(rt_ws(e, i)), kind_name[k],
			    now - since);
		}
	}
}
