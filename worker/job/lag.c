/*
 * lag: see lag.h.  Three parts: the pure arithmetic (percentiles,
 * bounds, the sampler's schedule), the store (the search_lag table,
 * shared with callsync status; its SQL is worker/store/lagdb.c's), and
 * the worker's sampler: per workspace
 * one open sample per kind, its searches queued on the workspace's lag
 * queue (runtime/wsrt.c ws_pump_lag), its tail recomputed from the table after
 * each sample it records.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "clock.h"
#include "rt.h"
#include "intercom.h"
#include "lag.h"
#include "lagdb.h"
#include "log.h"

const char *const lag_kind_names[LAG_NKIND] = { "contact", "conversation" };

/* Bounds (seconds) of callsync_search_lag_seconds, STATS_NB of them. */
static const double lag_bounds[STATS_NB] = {
	0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600
};

/* ------------------------------------------------------------------ */
/* pure                                                                 */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int64_t
lag_pct(const int64_t *sorted, size_t n, double q)
{
	size_t	 k;

	if (n == 0)
		return -1;
	k = (size_t)ceil(q * (double)n - 1e-9);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}

void
lag_tail_of(int64_t *ms, size_t n, struct lag_tail *t)
{
	size_t	 i;

	memset(t, 0, sizeof(*t));
	t->p50 = t->p99 = t->p999 = t->max = -1;
	if (n == 0)
		return;
	qsort(ms, n, sizeof(*ms), cmp_i64);
	t->n = n;
	for (i = 0; i < n; i++)
		if (ms[i] == LAG_CENSORED)
			t->censored++;
	t->p50 = lag_pct(ms, n, 0.50);
	t->p99 = lag_pct(ms, n, 0.99);
	t->p999 = lag_pct(ms, n, 0.999);
	t->max = ms[n - 1];
}

int64_t
lag_first_ms(const struct lag_tail *t, int64_t dflt_ms)
{
	int64_t	 v;

	if (t == NULL || t->n < LAG_MIN_N || t->p50 < 0)
		return dflt_ms;
	v = t->p50;
	if (v > dflt_ms)
		v = dflt_ms;
	if (v < LAG_FIRST_FLOOR_MS)
		v = LAG_FIRST_FLOOR_MS;
	return v < dflt_ms ? v : dflt_ms;
}

int64_t
lag_wait_ms(const struct lag_tail *t, int64_t open_ms, int64_t cap_ms)
{
	int64_t	 tail;

	if (cap_ms < 0)
		cap_ms = 0;
	if (t == NULL || t->n < LAG_MIN_N || t->p999 < 0 ||
	    t->p999 == LAG_CENSORED)
		return cap_ms;
	tail = t->p999 > open_ms ? t->p999 : open_ms;
	if (tail >= cap_ms / LAG_TAIL_FACTOR)
		return cap_ms;
	tail *= LAG_TAIL_FACTOR;
	if (tail < LAG_WAIT_FLOOR_MS)
		tail = LAG_WAIT_FLOOR_MS;
	return tail < cap_ms ? tail : cap_ms;
}

int64_t
lag_next_look_ms(int64_t last_ms)
{
	int64_t	 step;

	if (last_ms <= 0)
		return LAG_LOOK0_MS;
	step = last_ms / 4;		/* x1.25 */
	if (step < LAG_LOOK0_MS)
		step = LAG_LOOK0_MS;
	return last_ms + step;
}

int64_t
lag_giveup_ms(int search_lag_s)
{
	int64_t	 g = (int64_t)search_lag_s * 2000;

	return g > LAG_GIVEUP_MIN_MS ? g : LAG_GIVEUP_MIN_MS;
}

long
lag_room(long budget, int share)
{
	long	 n;

	if (share <= 0)
		return 0;
	if (budget <= 0)
		return LAG_UNKNOWN_ROOM;
	n = budget * share / 100;
	return n > 0 ? n : 1;
}

/* ------------------------------------------------------------------ */
/* store                                                                */

/* The rows are lagdb.c's (worker/store): here only what they mean. */
int
lag_store_add(struct db *d, const char *ws, enum lag_kind kind,
    const char *object_id, int64_t lag_ms, int64_t lo_ms, int looks)
{
	return lagdb_add(d, ws, lag_kind_names[kind], object_id,
	    lag_ms == LAG_CENSORED, lag_ms, lo_ms, looks, LAG_KEEP);
}

int
lag_store_load(struct db *d, const char *ws, enum lag_kind kind,
    int64_t *out, size_t *n)
{
	return lagdb_load(d, ws, lag_kind_names[kind], LAG_CENSORED, out,
	    LAG_KEEP, n);
}

/* ms as seconds, or null for a censored value. */
static json_t *
lag_secs(int64_t ms)
{
	if (ms < 0 || ms == LAG_CENSORED)
		return json_null();
	return json_real((double)ms / 1000.0);
}

json_t *
lag_store_json(struct db *d, const char *ws, int search_lag_s, int share)
{
	struct lag_tail	 t;
	int64_t		*ms, cap;
	json_t		*o, *k;
	size_t		 n;
	int		 i;

	if ((ms = calloc(LAG_KEEP, sizeof(*ms))) == NULL)
		return NULL;
	if ((o = json_object()) == NULL)
		goto fail;
	for (i = 0; i < LAG_NKIND; i++) {
		if (lag_store_load(d, ws, i, ms, &n) == -1)
			goto fail;
		lag_tail_of(ms, n, &t);
		k = json_pack("{s:I,s:I,s:o,s:o,s:o,s:o}", "n",
		    (json_int_t)t.n, "censored", (json_int_t)t.censored,
		    "p50_s", lag_secs(t.p50), "p99_s", lag_secs(t.p99),
		    "p999_s", lag_secs(t.p999), "max_s", lag_secs(t.max));
		if (k == NULL)
			goto fail;
		if (search_lag_s >= 0) {
			cap = (int64_t)search_lag_s * 1000;
			json_object_set_new(k, "in_use", json_boolean(
			    share > 0 && t.n >= LAG_MIN_N));
			json_object_set_new(k, "wait_s", json_real((double)
			    (share > 0 ? lag_wait_ms(&t, 0, cap) : cap) /
			    1000.0));
		}
		json_object_set_new(o, lag_kind_names[i], k);
	}
	free(ms);
	return o;
fail:
	json_decref(o);
	free(ms);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* the sampler                                                          */

struct lag_ws;

struct lag_sample {
	struct lag_ws	*lw;
	enum lag_kind	 kind;
	bool		 open;		/* a sample is under way */
	char		 id[64];	/* the object searched for */
	int64_t		 t0;	/* monotonic ms: the create's answer */
	int64_t		 last;	/* ms after t0: the last look planned */
	int64_t		 lo;	/* ms after t0: the last search that missed */
	int		 looks;
	struct event	*timer;		/* the next look */
	struct ws_read	 rd;		/* rd.req owned when non-NULL */
};

struct lag_ws {
	struct wsrt		*ws;
	struct lag_sample	 s[LAG_NKIND];
	struct lag_tail		 tail[LAG_NKIND];
	struct stats_hist	 hist[LAG_NKIND];	/* since start */
	uint64_t		 censored[LAG_NKIND];	/* since start */
};

static void	lag_look_cb(evutil_socket_t, short, void *);
static void	lag_read_done(struct ws_read *, enum verdict);

/* The tail of kind from the table (the newest LAG_KEEP samples). */
static void
lag_reload(struct lag_ws *lw, enum lag_kind kind)
{
	int64_t	*ms;
	size_t	 n;

	if ((ms = calloc(LAG_KEEP, sizeof(*ms))) == NULL)
		return;
	if (lag_store_load(rt_db(ws_rt(lw->ws)), ws_name(lw->ws), kind, ms,
	    &n) == 0)
		lag_tail_of(ms, n, &lw->tail[kind]);
	free(ms);
}

struct lag_ws *
lag_ws_new(struct wsrt *ws)
{
	struct lag_ws	*lw;
	int		 i;

	if ((lw = calloc(1, sizeof(*lw))) == NULL)
		return NULL;
	lw->ws = ws;
	for (i = 0; i < LAG_NKIND; i++) {
		lw->s[i].lw = lw;
		lw->s[i].kind = i;
		lw->tail[i].p50 = lw->tail[i].p99 = lw->tail[i].p999 =
		    lw->tail[i].max = -1;
		if ((lw->s[i].timer = evtimer_new(rt_base(ws_rt(ws)),
		    lag_look_cb, &lw->s[i])) == NULL) {
			lag_ws_free(lw);
			return NULL;
		}
		lag_reload(lw, i);
	}
	return lw;
}

void
lag_ws_free(struct lag_ws *lw)
{
	int	 i;

	if (lw == NULL)
		return;
	for (i = 0; i < LAG_NKIND; i++) {
		if (lw->s[i].timer != NULL)
			event_free(lw->s[i].timer);
		ws_read_cancel(&lw->s[i].rd);
		http_req_free(lw->s[i].rd.req);
	}
	free(lw);
}

/* The sample ends: recorded (lag_ms, LAG_CENSORED) or dropped (-1). */
static void
lag_end(struct lag_sample *s, int64_t lag_ms)
{
	struct lag_ws	*lw = s->lw;
	struct wsrt	*ws = lw->ws;

	s->open = false;
	evtimer_del(s->timer);
	if (lag_ms < 0)
		return;
	if (lag_ms == LAG_CENSORED) {
		lw->censored[s->kind]++;
		lw->hist[s->kind].count++;	/* +Inf: over every bound */
		lw->hist[s->kind].sum += (double)s->lo / 1000.0;
		log_warnx("%s: search lag: %s %s still not found by search "
		    "%" PRId64 " s after it was created (search_lag = %d s)",
		    ws_name(ws), lag_kind_names[s->kind], s->id, s->lo / 1000,
		    ws_conf(ws)->search_lag);
	} else
		stats_observe(&lw->hist[s->kind], lag_bounds,
		    (double)lag_ms / 1000.0);
	if (rt_db_stalled(ws_rt(ws)))
		return;
	rt_tx_open(ws_rt(ws));		/* in the turn's group commit */
	if (lag_store_add(rt_db(ws_rt(ws)), ws_name(ws), s->kind, s->id, lag_ms,
	    s->lo, s->looks) == 0)
		lag_reload(lw, s->kind);
	log_debug("%s: search lag: %s %s shown after %" PRId64 " ms "
	    "(%d searches)", ws_name(ws), lag_kind_names[s->kind], s->id,
	    lag_ms == LAG_CENSORED ? -1 : lag_ms, s->looks);
}

/* Arm the timer for the next look, or censor the sample. */
static void
lag_schedule(struct lag_sample *s)
{
	struct timeval	 tv;
	int64_t		 at, wait;

	at = lag_next_look_ms(s->last);
	if (at > lag_giveup_ms(ws_conf(s->lw->ws)->search_lag)) {
		lag_end(s, LAG_CENSORED);
		return;
	}
	s->last = at;
	wait = s->t0 + at - clock_mono_ms();
	if (wait < 0)
		wait = 0;
	tv.tv_sec = wait / 1000;
	tv.tv_usec = (wait % 1000) * 1000;
	evtimer_add(s->timer, &tv);
}

void
lag_offer(struct wsrt *ws, enum lag_kind kind, const char *id)
{
	struct lag_ws	 *lw = ws_sampler(ws);
	struct lag_sample *s;

	if (lw == NULL || ws_conf(ws)->search_lag_share <= 0 ||
	    rt_stopping(ws_rt(ws)) || id == NULL || id[0] == '\0' ||
	    strlen(id) >= sizeof(s->id))
		return;
	s = &lw->s[kind];
	if (s->open)
		return;			/* one at a time per kind */
	s->open = true;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->t0 = clock_mono_ms();
	s->last = s->lo = 0;
	s->looks = 0;
	lag_schedule(s);
}

/* A look is due: queue the search (behind every record, runtime/wsrt.c). */
static void
lag_look_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lag_sample *s = arg;
	struct wsrt	*ws = s->lw->ws;
	struct http_req	*r = NULL;
	json_t		*q;
	char		 url[512];

	(void)fd;
	(void)what;
	if (!s->open || s->rd.req != NULL)
		return;
	snprintf(url, sizeof(url), "%s/%s/search", ws_conf(ws)->api_base,
	    s->kind == LAG_CONTACT ? "contacts" : "conversations");
	q = json_pack("{s:{s:s,s:s,s:s}}", "query", "field", "id",
	    "operator", "=", "value", s->id);
	if (q == NULL || (r = http_req_new("POST", url)) == NULL ||
	    (r->body = json_dumps(q, JSON_COMPACT)) == NULL ||
	    ws_prepare(ws_conf(ws), r) == -1)
		goto drop;
	json_decref(q);
	s->rd.req = r;
	s->rd.done = lag_read_done;
	s->rd.arg = s;
	s->rd.warm = false;
	s->rd.lag = true;
	if (ws_read(ws, &s->rd) == -1) {
		s->rd.req = NULL;
		http_req_free(r);
		lag_end(s, -1);
	}
	return;
drop:
	json_decref(q);
	http_req_free(r);
	lag_end(s, -1);
}

/* Whether a search answer lists the object id. */
static bool
lag_shows(const struct http_req *r, enum lag_kind kind, const char *id)
{
	json_t		*o, *a, *v;
	size_t		 i;
	char		 buf[64];
	bool		 yes = false;

	if ((o = ic_parse(r->resp, r->resplen)) == NULL)
		return false;
	a = json_object_get(o, kind == LAG_CONTACT ? "data" : "conversations");
	json_array_foreach(a, i, v)
		if (ic_id(v, "id", buf, sizeof(buf)) != NULL &&
		    strcmp(buf, id) == 0)
			yes = true;
	json_decref(o);
	return yes;
}

static void
lag_read_done(struct ws_read *rd, enum verdict v)
{
	struct lag_sample *s = rd->arg;
	struct http_req	*r = rd->req;
	int64_t		 at;

	rd->req = NULL;
	if (!s->open) {
		http_req_free(r);
		return;
	}
	if (v != V_OK || r->sent_ms <= 0) {
		/* No answer to measure by (an outage, a 5xx, a stall):
		 * the sample says nothing. */
		http_req_free(r);
		lag_end(s, -1);
		return;
	}
	s->looks++;
	at = r->sent_ms - s->t0;
	if (at < 0)
		at = 0;
	if (lag_shows(r, s->kind, s->id)) {
		http_req_free(r);
		lag_end(s, at);
		return;
	}
	http_req_free(r);
	if (at > s->lo)
		s->lo = at;
	if (s->last < at)
		s->last = at;	/* sent late (the drain went first) */
	lag_schedule(s);
}

int
lag_kind_of_step(const char *step)
{
	if (strcmp(step, "contact") == 0)
		return LAG_CONTACT;
	if (strcmp(step, "conversation") == 0)
		return LAG_CONV;
	return -1;
}

int64_t
lag_for(struct wsrt *ws, enum lag_kind kind, int64_t dflt_ms,
    int64_t *first_ms)
{
	const struct lag_ws *lw = ws_sampler(ws);
	const struct lag_sample *s;
	int64_t		 cap, open = 0;

	cap = (int64_t)ws_conf(ws)->search_lag * 1000;
	if (first_ms != NULL)
		*first_ms = dflt_ms;
	if (lw == NULL || ws_conf(ws)->search_lag_share <= 0)
		return cap;
	/* A sample under way whose search missed at lo has a lag over lo:
	 * evidence, where its mere age (looks held back) is not. */
	s = &lw->s[kind];
	if (s->open)
		open = s->lo;
	if (first_ms != NULL)
		*first_ms = lag_first_ms(&lw->tail[kind], dflt_ms);
	return lag_wait_ms(&lw->tail[kind], open, cap);
}

void
lag_metrics(struct rt *e, struct evbuffer *b)
{
	const struct lag_ws *lw;
	uint64_t	 cum;
	size_t		 i, k, n;
	const char	*ws, *kn;

	evbuffer_add_printf(b, "# HELP callsync_search_lag_seconds Time from a "
	    "create's answer to the first search that showed the new object, "
	    "per sample (lag.c); over every bound: not shown after twice "
	    "search_lag.\n# TYPE callsync_search_lag_seconds histogram\n");
	for (i = 0; i < rt_nws(e); i++) {
		if ((lw = ws_sampler(rt_ws(e, i))) == NULL)
			continue;
		ws = ws_name(rt_ws(e, i));
		for (k = 0; k < LAG_NKIND; k++) {
			kn = lag_kind_names[k];
			for (n = 0, cum = 0; n < STATS_NB; n++) {
				cum += lw->hist[k].le[n];
				evbuffer_add_printf(b, "callsync_search_lag_"
				    "seconds_bucket{workspace=\"%s\",kind=\"%s\","
				    "le=\"%g\"} %" PRIu64 "\n", ws, kn,
				    lag_bounds[n], cum);
			}
			evbuffer_add_printf(b, "callsync_search_lag_seconds_"
			    "bucket{workspace=\"%s\",kind=\"%s\",le=\"+Inf\"} %"
			    PRIu64 "\ncallsync_search_lag_seconds_sum{workspace="
			    "\"%s\",kind=\"%s\"} %.3f\ncallsync_search_lag_"
			    "seconds_count{workspace=\"%s\",kind=\"%s\"} %" PRIu64
			    "\n", ws, kn, lw->hist[k].count, ws, kn,
			    lw->hist[k].sum, ws, kn, lw->hist[k].count);
		}
	}
	evbuffer_add_printf(b, "# HELP callsync_search_lag_wait_seconds The "
	    "search part of the wait before a write in doubt is concluded "
	    "not there: learned from the samples, else search_lag.\n"
	    "# TYPE callsync_search_lag_wait_seconds gauge\n");
	for (i = 0; i < rt_nws(e); i++)
		for (k = 0; k < LAG_NKIND; k++)
			evbuffer_add_printf(b, "callsync_search_lag_wait_seconds{"
			    "workspace=\"%s\",kind=\"%s\"} %.3f\n",
			    ws_name(rt_ws(e, i)), lag_kind_names[k],
			    (double)lag_for(rt_ws(e, i), k, 0, NULL) / 1000.0);
}
