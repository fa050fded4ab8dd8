/*
 * metrics: see metrics.h.
 *
 * Everything is answered from memory but the record counts, which come
 * from four cheap queries (the partial indexes on open records and on
 * state; the audit count scans its table and is refreshed only every
 * 10 s), and the workers table (a handful of rows, each judged live or
 * stale by its lock file as callsync status does: ops_workers).  Their
 * results are kept for a second, so a scraper polling every second costs
 * the outbox one set of queries per second whatever the number of
 * scrapers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "clock.h"
#include "httpd.h"
#include "job.h"
#include "lag.h"
#include "metrics.h"
#include "ops.h"
#include "outbox.h"
#include "poller.h"
#include "rt.h"
#include "store.h"
#include "ui.h"
#include "tasks.h"
#include "webhook.h"

#define CACHE_MS	1000	/* record counts */
#define UNSERVED_TOP	20	/* unserved workspaces shown one by one */
#define AUDIT_MS	10000	/* audit row counts: a table scan */

/*
 * A workspace with pending or in-flight records that no running worker
 * serves: not one of ours, and no live worker's heartbeat row lists it.
 * Its name comes from a producer, so it is kept cleaned (valid UTF-8, no
 * control characters) and escaped again for JSON and label values.
 */
struct unserved {
	char			 name[128];
	int64_t			 n;		/* records */
	int64_t			 oldest;	/* enqueued_at, 0 = none */
};

/*
 * What the three pages share: the engine they read, its record counts
 * (cache_refresh) and the start time.  One per process (metrics_routes),
 * like the local API it is served on.
 */
struct mstate {
	struct rt		*e;		/* borrowed */
	int64_t			 cache_ms;	/* monotonic; 0 = never */
	int64_t			 audit_ms;
	bool			 cache_ok;	/* the last refresh worked */
	int64_t			 db_bytes, wal_bytes;
	int64_t			 started;	/* unix seconds */
	struct ops_worker	 workers[OPS_MAXWORKERS];
	size_t			 nworkers;	/* kept in workers[] */
	size_t			 nworkers_all;	/* rows in the table */
	size_t			 nworkers_live;	/* of which live */
	/* Unserved workspaces, most records first (cardinality bound); the
	 * others summed in unserved_rest; unserved_ws counts them all. */
	struct unserved		 unserved[UNSERVED_TOP];
	size_t			 nunserved;
	struct unserved		 unserved_rest;
	size_t			 unserved_ws;
	/* The served workspaces' counts, counts[i] of rt_ws(e, i) (wc). */
	struct ws_counts	*counts;
	size_t			 ncounts;
};

static struct mstate	 mstate;

/* ------------------------------------------------------------------ */
/* the database side, cached                                            */

/* The counts of workspace rt_ws(e, i); all zero when they could not be
 * kept (out of memory when a reload added it). */
static struct ws_counts *
wc(size_t i)
{
	static struct ws_counts	 none;

	if (i < mstate.ncounts)
		return &mstate.counts[i];
	memset(&none, 0, sizeof(none));
	return &none;
}

/* Index of the served workspace named name; -1 when not served. */
static ssize_t
ws_index(struct rt *e, const char *name)
{
	struct wsrt	*ws;
	size_t		 i;

	if ((ws = ws_find(e, name)) == NULL)
		return -1;
	for (i = 0; rt_ws(e, i) != ws; i++)
		;
	return (ssize_t)i;
}

/*
 * s as valid UTF-8 without control characters (each bad byte becomes
 * '?'), cut at a character boundary to fit out.
 */
static void
clean_name(const char *s, char *out, size_t outsz)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = 0, len, k;

	while (*p != '\0') {
		if (*p < 0x80)
			len = 1;
		else if (*p >= 0xc2 && *p <= 0xdf)
			len = 2;
		else if ((*p & 0xf0) == 0xe0)
			len = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			len = 4;
		else
			len = 0;
		for (k = 1; k < len; k++)
			if ((p[k] & 0xc0) != 0x80)
				len = 0;	/* also stops at the NUL */
		/* Overlong forms, surrogates, past U+10FFFF. */
		if ((len == 3 && ((*p == 0xe0 && p[1] < 0xa0) ||
		    (*p == 0xed && p[1] >= 0xa0))) || (len == 4 &&
		    ((*p == 0xf0 && p[1] < 0x90) || (*p == 0xf4 &&
		    p[1] >= 0x90))))
			len = 0;
		if (n + (len > 0 ? len : 1) >= outsz)
			break;
		if (len == 0 || (len == 1 && (*p < 0x20 || *p == 0x7f))) {
			out[n++] = '?';
			p++;
			continue;
		}
		memcpy(out + n, p, len);
		n += len;
		p += len;
	}
	out[n] = '\0';
}

/* Does a live worker (its heartbeat row) list workspace ws? */
static bool
served_elsewhere(const struct mstate *m, const char *ws)
{
	const char	*p, *c;
	size_t		 i, n = strlen(ws);

	for (i = 0; i < m->nworkers; i++) {
		if (!m->workers[i].live)
			continue;
		for (p = m->workers[i].workspaces; *p != '\0'; p = c + 1) {
			if ((c = strchr(p, ',')) == NULL)
				c = p + strlen(p);
			if ((size_t)(c - p) == n && strncmp(p, ws, n) == 0)
				return true;
			if (*c == '\0')
				break;
		}
	}
	return false;
}

static void
unserved_fold(struct unserved *into, const struct unserved *u)
{
	into->n += u->n;
	if (u->oldest > 0 && (into->oldest == 0 || u->oldest < into->oldest))
		into->oldest = u->oldest;
}

/* Keep the UNSERVED_TOP with most records (ties: by name). */
static void
unserved_add(struct mstate *m, const char *raw, int64_t n, int64_t oldest)
{
	struct unserved	 u;
	size_t		 i;

	memset(&u, 0, sizeof(u));
	clean_name(raw, u.name, sizeof(u.name));
	u.n = n;
	u.oldest = oldest;
	m->unserved_ws++;
	for (i = m->nunserved; i > 0; i--)
		if (m->unserved[i - 1].n > u.n || (m->unserved[i - 1].n ==
		    u.n && strcmp(m->unserved[i - 1].name, u.name) < 0))
			break;
	if (i == UNSERVED_TOP) {
		unserved_fold(&m->unserved_rest, &u);
		return;
	}
	if (m->nunserved == UNSERVED_TOP)
		unserved_fold(&m->unserved_rest,
		    &m->unserved[UNSERVED_TOP - 1]);
	else
		m->nunserved++;
	memmove(&m->unserved[i + 1], &m->unserved[i],
	    (m->nunserved - 1 - i) * sizeof(u));
	m->unserved[i] = u;
}


/* One workspace's counts (outbox_ws_counts): into its runtime, or,
 * when no worker serves it, into the unserved list. */
static int
cache_counts(const struct ob_counts *c, void *arg)
{
	struct mstate	*m = arg;
	struct ws_counts *w;
	ssize_t		 i;

	if ((i = ws_index(m->e, c->workspace)) == -1) {
		if (c->pending + c->inflight > 0 &&
		    !served_elsewhere(m, c->workspace))
			unserved_add(m, c->workspace, c->pending + c->inflight,
			    c->oldest);
		return 0;
	}
	w = wc((size_t)i);
	w->pending = c->pending;
	w->inflight = c->inflight;
	w->in_doubt = c->in_doubt;
	w->intents = c->intents;
	w->oldest = c->oldest;
	w->dead = c->dead;
	w->handed_off = c->handed_off;
	return 0;
}

/*
 * Refresh the per-workspace counts when older than CACHE_MS.  Statements
 * are reset at once: an open read would pin a WAL snapshot and hold off
 * checkpoints.  -1 when a query failed (counts keep their old values).
 */
static int
cache_refresh(struct mstate *m)
{
	struct rt	*e = m->e;
	sqlite3_stmt	*st;
	struct ws_counts *w, *a;
	ssize_t		 k;
	struct stat	 sb;
	char		 wal[4096];
	int64_t		 now = clock_mono_ms();
	size_t		 i;
	int		 rc;
	bool		 audit;

	if (m->cache_ms != 0 && now - m->cache_ms < CACHE_MS)
		return m->cache_ok ? 0 : -1;
	m->cache_ms = now;
	m->cache_ok = false;
	audit = m->audit_ms == 0 || now - m->audit_ms >= AUDIT_MS;
	/* A reload added workspaces: room for their counts. */
	if (m->ncounts < rt_nws(e) && (a = reallocarray(m->counts, rt_nws(e),
	    sizeof(*a))) != NULL) {
		memset(a + m->ncounts, 0,
		    (rt_nws(e) - m->ncounts) * sizeof(*a));
		m->counts = a;
		m->ncounts = rt_nws(e);
	}
	for (i = 0; i < rt_nws(e); i++) {
		w = wc(i);
		w->pending = w->inflight = 0;
		w->in_doubt = w->oldest = w->dead = 0;
		w->handed_off = 0;
		w->intents = 0;
		if (audit)
			w->audit = 0;
	}
	/* The workers first: they tell which other workspaces are served. */
	if (ops_workers(rt_db(e), rt_db(e)->path, clock_wall_s(), m->workers,
	    OPS_MAXWORKERS, &m->nworkers, &m->nworkers_all,
	    &m->nworkers_live) == -1)
		return -1;
	m->nunserved = m->unserved_ws = 0;
	memset(&m->unserved_rest, 0, sizeof(m->unserved_rest));
	if (outbox_ws_counts(rt_db(e), clock_floor(), NULL, cache_counts,
	    m) == -1)
		return -1;
	if (audit) {
		if ((st = store_prep(rt_db(e), SQ_AUDIT_PER_WS)) == NULL)
			return -1;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			if ((k = ws_index(e, (const char *)
			    sqlite3_column_text(st, 0))) != -1)
				wc((size_t)k)->audit =
				    sqlite3_column_int64(st, 1);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return -1;
		m->audit_ms = now;
	}
	m->db_bytes = stat(rt_db(e)->path, &sb) == 0 ? (int64_t)sb.st_size : 0;
	snprintf(wal, sizeof(wal), "%s-wal", rt_db(e)->path);
	m->wal_bytes = stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
	m->cache_ok = true;
	return 0;
}

static const char *
ws_health(const struct wsrt *ws, int doubts)
{
	struct ws_status	 s;

	ws_status(ws, &s);
	switch (s.state) {
	case WS_BOOT:
		return "starting";
	case WS_OUTAGE:
		return "breaker_open";
	case WS_PAUSED:
		return "paused";
	default:
		/* Every record it holds waits out a write in doubt. */
		if (doubts > 0 && doubts >= s.jobs)
			return "reconciling";
		return s.jobs > 0 ? "delivering" : "idle";
	}
}

/*
 * Names are [workspace NAME] values: conf.c allows no quote, backslash
 * or control character in them, so they need no JSON escaping.
 */
static void
problem(struct evbuffer *b, int *n, const char *what, const char *ws,
    const char *detail)
{
	evbuffer_add_printf(b, "%s{\"problem\":\"%s\"", (*n)++ ? "," : "",
	    what);
	if (ws != NULL)
		evbuffer_add_printf(b, ",\"workspace\":\"%s\"", ws);
	evbuffer_add_printf(b, ",\"detail\":\"%s\"}", detail);
}

/*
 * A workspace paused on a configuration mistake: the detail carries the
 * settings and values from the file and what Intercom said, so it is
 * JSON-escaped (jansson), unlike the fixed details above.
 */
static void
problem_config(struct evbuffer *b, int *n, const struct wsrt *ws,
    const char *why)
{
	json_t	*d;
	char	*txt, msg[WS_WHY_MAX + 128];

	snprintf(msg, sizeof(msg), "paused: %s; fix the configuration, then "
	    "reload, or fix Intercom (checked again every %lld s)",
	    why, (long long)ws_conf(ws)->config_recheck);
	d = json_string(msg);
	txt = d != NULL ? json_dumps(d, JSON_ENCODE_ANY) : NULL;
	evbuffer_add_printf(b, "%s{\"problem\":\"paused\",\"workspace\":"
	    "\"%s\",\"reason\":\"config\",\"detail\":%s}", (*n)++ ? "," :
	    "", ws_name(ws), txt != NULL ? txt : "\"paused: configuration\"");
	free(txt);
	json_decref(d);
}

/*
 * Unserved workspace u (the rest of them when rest): degraded while its
 * records are young, a failure (*nfail) once the oldest is older than
 * health_max_age, as backlog_age is for a served workspace.  The name
 * comes from a producer: JSON-escaped by jansson.
 */
static void
problem_unserved(struct mstate *m, struct evbuffer *b, int *n, int *nfail,
    const struct unserved *u, bool rest, int64_t now)
{
	struct rt	*e = m->e;
	json_t		*o;
	char		 d[1024], hint[200], *txt;
	int64_t		 age = u->oldest > 0 ? now - u->oldest : 0;
	int64_t		 maxage = rt_conf(e)->health_max_age;
	size_t		 i;

	snprintf(hint, sizeof(hint), "not in this worker's configuration");
	for (i = 0; !rest && i < rt_nws(e); i++)
		if (strcasecmp(ws_name(rt_ws(e, i)), u->name) == 0)
			snprintf(hint, sizeof(hint), "did you mean %s?",
			    ws_name(rt_ws(e, i)));
	if (rest)
		snprintf(d, sizeof(d), "%zu more workspaces with %" PRId64
		    " records that no running worker serves: callsync status "
		    "lists them", m->unserved_ws - m->nunserved, u->n);
	else
		snprintf(d, sizeof(d), "%" PRId64 " record%s waiting for "
		    "workspace '%s', which no running worker serves (%s): "
		    "callsync records move --workspace '%s' --to NAME, or "
		    "callsync records cancel", u->n, u->n == 1 ? "" : "s",
		    u->name, hint, u->name);
	if (maxage > 0 && age > maxage) {
		(*nfail)++;
		snprintf(d + strlen(d), sizeof(d) - strlen(d), "; the oldest "
		    "is %" PRId64 " s old (health_max_age %" PRId64 " s)", age,
		    maxage);
	}
	o = json_pack("{s:s, s:I, s:I, s:s}", "problem", "unserved_records",
	    "records", (json_int_t)u->n, "oldest_pending_age_s",
	    (json_int_t)age, "detail", d);
	if (o != NULL && !rest)
		json_object_set_new(o, "workspace", json_string(u->name));
	if (o != NULL && rest)
		json_object_set_new(o, "workspaces", json_integer(
		    (json_int_t)(m->unserved_ws - m->nunserved)));
	txt = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) :
	    NULL;
	if (txt != NULL)
		evbuffer_add_printf(b, "%s%s", (*n)++ ? "," : "", txt);
	free(txt);
	json_decref(o);
}

static void
healthz(struct mstate *m, struct evhttp_request *req)
{
	struct rt	*e = m->e;
	struct evbuffer	*b, *p;
	struct wsrt	*ws;
	struct ws_status s;
	int64_t		 now = clock_wall_s(), age;
	int64_t		 maxage = rt_conf(e)->health_max_age;
	char		 d[384];
	size_t		 i;
	int		 n = 0, nfail, dbok, doubts;
	int64_t		 next;

	if ((b = evbuffer_new()) == NULL || (p = evbuffer_new()) == NULL) {
		evbuffer_free(b);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	dbok = cache_refresh(m);
	if (rt_db_stalled(e))
		problem(p, &n, "database_unwritable", NULL, "a database write "
		    "failed; the worker retries it and claims nothing new");
	if (dbok == -1)
		problem(p, &n, "database_unreadable", NULL, "the record "
		    "counts could not be read");
	for (i = 0; i < rt_nws(e); i++) {
		ws = rt_ws(e, i);
		ws_status(ws, &s);
		if (s.state == WS_OUTAGE) {
			snprintf(d, sizeof(d), "breaker open for %" PRId64
			    " s: %s", now - s.since, s.why[0] ?
			    s.why : "Intercom unreachable");
			problem(p, &n, "breaker_open", ws_name(ws), d);
		} else if (s.state == WS_PAUSED && s.pause_config)
			problem_config(p, &n, ws, s.why);
		else if (s.state == WS_PAUSED)
			problem(p, &n, "paused", ws_name(ws), "paused: "
			    "Intercom rejected the token (401/403); replace "
			    "it, then change the token file or send SIGHUP");
		age = wc(i)->oldest > 0 ? now - wc(i)->oldest : 0;
		if (maxage > 0 && wc(i)->pending > 0 && age > maxage) {
			snprintf(d, sizeof(d), "oldest pending record is %"
			    PRId64 " s old (health_max_age %" PRId64 " s)",
			    age, maxage);
			problem(p, &n, "backlog_age", ws_name(ws), d);
		}
		if (rt_conf(e)->task_max_age > 0 &&
		    (age = tasks_oldest_due(rt_db(e), ws_name(ws),
		    now)) > rt_conf(e)->task_max_age) {
			snprintf(d, sizeof(d), "oldest due call task is %" PRId64
			    " s old (task_max_age %" PRId64 " s): is the voice "
			    "agent claiming?", age,
			    (int64_t)rt_conf(e)->task_max_age);
			problem(p, &n, "task_age", ws_name(ws), d);
		}
	}
	/* Records nobody serves: degraded, failing once they are old. */
	nfail = n;
	for (i = 0; i < m->nunserved; i++)
		problem_unserved(m, p, &n, &nfail, &m->unserved[i], false, now);
	if (m->unserved_rest.n > 0)
		problem_unserved(m, p, &n, &nfail, &m->unserved_rest, true, now);
	evbuffer_add_printf(b, "{\"status\":\"%s\",\"problems\":[",
	    nfail ? "fail" : n ? "degraded" : "ok");
	evbuffer_add_buffer(b, p);
	evbuffer_add_printf(b, "],\"database\":\"%s\",\"workspaces\":{",
	    rt_db_stalled(e) ? "unwritable" : dbok == -1 ? "unreadable" : "ok");
	for (i = 0; i < rt_nws(e); i++) {
		ws = rt_ws(e, i);
		age = wc(i)->oldest > 0 ? now - wc(i)->oldest : 0;
		doubts = job_doubt_waits(e, ws, &next);
		evbuffer_add_printf(b, "%s\"%s\":{\"state\":\"%s\","
		    "\"pending\":%" PRId64 ",\"inflight\":%" PRId64
		    ",\"oldest_pending_age_s\":%" PRId64 ",\"writes_in_doubt\""
		    ":%d", i ? "," : "", ws_name(ws), ws_health(ws, doubts),
		    wc(i)->pending, wc(i)->inflight,
		    wc(i)->pending ? age : 0, doubts);
		/* A wait is not a problem, but it is why nothing moves. */
		if (doubts > 0)
			evbuffer_add_printf(b, ",\"detail\":\"reconciling %d "
			    "writes, next in %" PRId64 " s\"", doubts,
			    (next + 999) / 1000);
		evbuffer_add_printf(b, "}");
	}
	evbuffer_add_printf(b, "}}\n");
	httpd_reply(req, nfail ? 503 : 200, nfail ? "Service Unavailable" : "OK",
	    "application/json", b);
	evbuffer_free(p);
	evbuffer_free(b);
}

/* A label value from data: \, " and newline escaped, as 0.0.4 wants. */
static const char *
esc(const char *s, char *buf, size_t bufsz)
{
	size_t	 n = 0;

	for (; *s != '\0' && n + 3 < bufsz; s++) {
		if (*s == '\\' || *s == '"') {
			buf[n++] = '\\';
			buf[n++] = *s;
		} else if (*s == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else
			buf[n++] = *s;
	}
	buf[n] = '\0';
	return buf;
}

static void
head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* One gauge or counter per workspace, its value from expr (of c_, the
 * counts read from the database, w_, the workspace's status, and st_,
 * its counters). */
#define PER_WS(b, e, mname, expr) do {					\
	size_t	 i_;							\
	struct ws_status w_;						\
	for (i_ = 0; i_ < rt_nws(e); i_++) {				\
		const struct ws_counts *c_ = wc(i_);			\
		const struct stats_ws *st_ = ws_stats(rt_ws((e), i_));	\
		ws_status(rt_ws((e), i_), &w_);				\
		(void)c_;						\
		(void)st_;						\
		evbuffer_add_printf((b), "%s{workspace=\"%s\"} %" PRId64 "\n", \
		    (mname), ws_name(rt_ws((e), i_)), (int64_t)(expr));	\
	}								\
} while (0)

static void
hist(struct evbuffer *b, const char *name, const char *ws,
    const struct stats_hist *hg, const double *bounds)
{
	uint64_t	 cum = 0;
	size_t		 i;

	for (i = 0; i < STATS_NB; i++) {
		cum += hg->le[i];
		evbuffer_add_printf(b, "%s_bucket{workspace=\"%s\",le=\"%g\"} %"
		    PRIu64 "\n", name, ws, bounds[i], cum);
	}
	evbuffer_add_printf(b, "%s_bucket{workspace=\"%s\",le=\"+Inf\"} %" PRIu64
	    "\n%s_sum{workspace=\"%s\"} %.6f\n%s_count{workspace=\"%s\"} %"
	    PRIu64 "\n", name, ws, hg->count, name, ws, hg->sum, name, ws,
	    hg->count);
}

static void
labels(struct evbuffer *b, const char *name, const char *label,
    struct rt *e, bool dead)
{
	const struct stats_lab	*t;
	char			 v[80];
	size_t			 i, k;

	for (i = 0; i < rt_nws(e); i++) {
		t = dead ? ws_stats(rt_ws(e, i))->dead :
		    ws_stats(rt_ws(e, i))->retries;
		for (k = 0; k < STATS_NLAB && t[k].name[0] != '\0'; k++)
			evbuffer_add_printf(b, "%s{workspace=\"%s\",%s=\"%s\"} %"
			    PRIu64 "\n", name, ws_name(rt_ws(e, i)), label,
			    esc(t[k].name, v, sizeof(v)), t[k].n);
	}
}

/*
 * The workers table: each row's heartbeat age (this worker's too), and
 * how many rows are live and stale (not running, or running without a
 * heartbeat for OPS_HEARTBEAT_STALE_S), counted over every row even past
 * the OPS_MAXWORKERS shown.
 */
static void
workers(struct mstate *m, struct evbuffer *b)
{
	char	 o[200], hs[120];
	size_t	 i;

	head(b, "callsync_worker_heartbeat_age_seconds", "gauge",
	    "Seconds since each registered worker's last heartbeat "
	    "(workers table; every 10 s while it runs).");
	for (i = 0; i < m->nworkers; i++) {
		evbuffer_add_printf(b, "callsync_worker_heartbeat_age_seconds"
		    "{owner=\"%s\",host=\"%s\"} %" PRId64 "\n",
		    esc(m->workers[i].owner, o, sizeof(o)),
		    esc(m->workers[i].host, hs, sizeof(hs)),
		    m->workers[i].age_s);
	}
	head(b, "callsync_workers_live", "gauge",
	    "Registered workers running with a heartbeat in the last 60 s.");
	evbuffer_add_printf(b, "callsync_workers_live %zu\n",
	    m->nworkers_live);
	head(b, "callsync_workers_stale", "gauge",
	    "Registered workers not running (killed, crashed: their row "
	    "stays) or running without a heartbeat for 60 s (hung).");
	evbuffer_add_printf(b, "callsync_workers_stale %zu\n",
	    m->nworkers_all - m->nworkers_live);
}

static void
metrics(struct mstate *m, struct evhttp_request *req)
{
	struct rt		*e = m->e;
	struct evbuffer		*b;
	const struct stats_ep	*ep;
	int64_t			 now = clock_wall_s(), commit_ms;
	long			 ncommits;
	char			 v[80], lv[2 * sizeof(m->unserved[0].name) + 4];
	size_t			 i, k;
	int			 c, dbok;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	dbok = cache_refresh(m);
	head(b, "callsync_start_time_seconds", "gauge",
	    "Unix time the worker started.");
	evbuffer_add_printf(b, "callsync_start_time_seconds %" PRId64 "\n",
	    m->started);
	head(b, "callsync_database_stalled", "gauge",
	    "1 while a database write fails and is being retried.");
	evbuffer_add_printf(b, "callsync_database_stalled %d\n",
	    rt_db_stalled(e) ? 1 : 0);
	/* The disk's cost, visible: every record step waits for a commit
	 * (the intent is durable before its request), so a slow fsync
	 * slows the drain whatever Intercom does. */
	rt_commit_totals(e, &ncommits, &commit_ms);
	head(b, "callsync_database_commits_total", "counter",
	    "Group commits (one transaction per loop iteration).");
	evbuffer_add_printf(b, "callsync_database_commits_total %ld\n",
	    ncommits);
	head(b, "callsync_database_commit_seconds_total", "counter",
	    "Time the event loop spent committing (fsync included).");
	evbuffer_add_printf(b, "callsync_database_commit_seconds_total %.3f\n",
	    (double)commit_ms / 1000.0);
	head(b, "callsync_database_query_ok", "gauge",
	    "0 when the record counts below could not be refreshed.");
	evbuffer_add_printf(b, "callsync_database_query_ok %d\n",
	    dbok == 0 ? 1 : 0);
	head(b, "callsync_database_size_bytes", "gauge",
	    "Size of the outbox database file.");
	evbuffer_add_printf(b, "callsync_database_size_bytes %" PRId64 "\n",
	    m->db_bytes);
	head(b, "callsync_database_wal_size_bytes", "gauge",
	    "Size of its write-ahead log.");
	evbuffer_add_printf(b, "callsync_database_wal_size_bytes %" PRId64
	    "\n", m->wal_bytes);

	head(b, "callsync_records_pending", "gauge",
	    "Records waiting to be delivered (includes those backing off).");
	PER_WS(b, e, "callsync_records_pending", c_->pending);
	head(b, "callsync_records_inflight", "gauge",
	    "Records claimed by a worker.");
	PER_WS(b, e, "callsync_records_inflight", c_->inflight);
	head(b, "callsync_records_in_doubt", "gauge",
	    "Open records whose last write may have landed (reconciled "
	    "before any resend).");
	PER_WS(b, e, "callsync_records_in_doubt", c_->in_doubt);
	head(b, "callsync_writes_in_doubt", "gauge",
	    "Writes in doubt: open intents, each waited out and reconciled "
	    "before any resend.");
	PER_WS(b, e, "callsync_writes_in_doubt", c_->intents);
	head(b, "callsync_records_dead", "gauge",
	    "Records in the dead-letter queue.");
	PER_WS(b, e, "callsync_records_dead", c_->dead);
	head(b, "callsync_records_handed_off", "gauge",
	    "Records handed to another machine by export --handoff: not "
	    "dead letters, not delivered here.");
	PER_WS(b, e, "callsync_records_handed_off", c_->handed_off);
	head(b, "callsync_records_unserved", "gauge",
	    "Pending and in-flight records of a workspace no running worker "
	    "serves (a producer's typo, or its worker is not running); the "
	    "20 workspaces with most records, the rest as (other).");
	for (i = 0; i < m->nunserved; i++)
		evbuffer_add_printf(b, "callsync_records_unserved{workspace="
		    "\"%s\"} %" PRId64 "\n", esc(m->unserved[i].name, lv,
		    sizeof(lv)), m->unserved[i].n);
	if (m->unserved_rest.n > 0)
		evbuffer_add_printf(b, "callsync_records_unserved{workspace="
		    "\"(other)\"} %" PRId64 "\n", m->unserved_rest.n);
	head(b, "callsync_unserved_workspaces", "gauge",
	    "Workspaces with records no running worker serves.");
	evbuffer_add_printf(b, "callsync_unserved_workspaces %zu\n",
	    m->unserved_ws);
	head(b, "callsync_oldest_pending_age_seconds", "gauge",
	    "Age of the oldest pending record; 0 when none.");
	PER_WS(b, e, "callsync_oldest_pending_age_seconds",
	    c_->pending > 0 && c_->oldest > 0 ?
	    now - c_->oldest : 0);
	head(b, "callsync_audit_rows", "gauge",
	    "Rows in the audit log (refreshed every 10 s).");
	PER_WS(b, e, "callsync_audit_rows", c_->audit);

	workers(m, b);

	head(b, "callsync_breaker_open", "gauge",
	    "1 while Intercom is unreachable and the workspace is probing.");
	PER_WS(b, e, "callsync_breaker_open", w_.state == WS_OUTAGE);
	head(b, "callsync_paused", "gauge",
	    "1 while the workspace is paused: a rejected token (401/403) or "
	    "a setting Intercom contradicts.");
	PER_WS(b, e, "callsync_paused", w_.state == WS_PAUSED);
	head(b, "callsync_paused_config", "gauge",
	    "1 while the workspace is paused on a setting Intercom "
	    "contradicts (admin_id, route, allowed_attributes).");
	PER_WS(b, e, "callsync_paused_config", w_.state == WS_PAUSED &&
	    w_.pause_config);
	head(b, "callsync_requests_inflight", "gauge",
	    "Requests on the wire.");
	PER_WS(b, e, "callsync_requests_inflight", w_.inflight);
	head(b, "callsync_requests_inflight_target", "gauge",
	    "Requests the worker keeps in flight: rate allowed x round trip, "
	    "with headroom, capped by max_inflight.");
	PER_WS(b, e, "callsync_requests_inflight_target", w_.target);
	head(b, "callsync_last_delivery_timestamp_seconds", "gauge",
	    "Unix time of the last delivery by this worker; 0 = none yet.");
	PER_WS(b, e, "callsync_last_delivery_timestamp_seconds",
	    st_->last_delivery);

	head(b, "callsync_delivered_total", "counter",
	    "Records delivered by this worker since it started.");
	PER_WS(b, e, "callsync_delivered_total", st_->delivered);
	head(b, "callsync_dead_lettered_total", "counter",
	    "Records dead-lettered by this worker, by reason.");
	labels(b, "callsync_dead_lettered_total", "reason", e, true);
	head(b, "callsync_retries_total", "counter",
	    "Records given back for a later attempt, by error class.");
	labels(b, "callsync_retries_total", "class", e, false);
	head(b, "callsync_throttled_total", "counter",
	    "Intercom answers 429 (rate limited).");
	PER_WS(b, e, "callsync_throttled_total", st_->throttled);
	head(b, "callsync_requests_total", "counter",
	    "Requests to Intercom by method, endpoint template and status "
	    "class (error = no HTTP answer).");
	for (i = 0; i < rt_nws(e); i++)
		for (k = 0; k < STATS_NEP; k++) {
			ep = &ws_stats(rt_ws(e, i))->req[k];
			if (ep->path[0] == '\0')
				break;
			for (c = 0; c < STATS_NSC; c++)
				if (ep->n[c] > 0)
					evbuffer_add_printf(b, "callsync_"
					    "requests_total{workspace=\"%s\","
					    "method=\"%s\",endpoint=\"%s\","
					    "status_class=\"%s\"} %" PRIu64
					    "\n", ws_name(rt_ws(e, i)),
					    ep->method, esc(ep->path, v,
					    sizeof(v)), stats_class_names[c],
					    ep->n[c]);
		}
	head(b, "callsync_request_duration_seconds", "histogram",
	    "Time from sending a request to Intercom to its answer.");
	for (i = 0; i < rt_nws(e); i++)
		hist(b, "callsync_request_duration_seconds",
		    ws_name(rt_ws(e, i)), &ws_stats(rt_ws(e, i))->req_lat,
		    stats_req_bounds);
	head(b, "callsync_delivery_latency_seconds", "histogram",
	    "Time from enqueue to delivery, per delivered record.");
	for (i = 0; i < rt_nws(e); i++)
		hist(b, "callsync_delivery_latency_seconds",
		    ws_name(rt_ws(e, i)), &ws_stats(rt_ws(e, i))->e2e_lat,
		    stats_e2e_bounds);
	head(b, "callsync_requests_sent_total", "counter",
	    "Requests sent to Intercom by priority class: context "
	    "(interactive reads, sent first), drain (records), lag "
	    "(search-lag samples) and warm (warm-up reads, last).");
	for (i = 0; i < rt_nws(e); i++)
		evbuffer_add_printf(b, "callsync_requests_sent_total{workspace="
		    "\"%s\",class=\"context\"} %" PRIu64 "\n"
		    "callsync_requests_sent_total{workspace=\"%s\","
		    "class=\"drain\"} %" PRIu64 "\n"
		    "callsync_requests_sent_total{workspace=\"%s\","
		    "class=\"warm\"} %" PRIu64 "\n"
		    "callsync_requests_sent_total{workspace=\"%s\","
		    "class=\"lag\"} %" PRIu64 "\n", ws_name(rt_ws(e, i)),
		    ws_stats(rt_ws(e, i))->sent_context, ws_name(rt_ws(e, i)),
		    ws_stats(rt_ws(e, i))->sent_drain, ws_name(rt_ws(e, i)),
		    ws_stats(rt_ws(e, i))->sent_warm, ws_name(rt_ws(e, i)),
		    ws_stats(rt_ws(e, i))->sent_lag);
	head(b, "callsync_context_answers_total", "counter",
	    "/v1/context answers by source: live (every part from Intercom), "
	    "partial (some from the cache), cache.");
	for (i = 0; i < rt_nws(e); i++)
		for (k = 0; k < 3; k++)
			evbuffer_add_printf(b, "callsync_context_answers_total{"
			    "workspace=\"%s\",source=\"%s\"} %" PRIu64 "\n",
			    ws_name(rt_ws(e, i)), stats_ctx_names[k],
			    ws_stats(rt_ws(e, i))->ctx_answers[k]);
	head(b, "callsync_context_duration_seconds", "histogram",
	    "Time to answer GET /v1/context.");
	for (i = 0; i < rt_nws(e); i++)
		hist(b, "callsync_context_duration_seconds",
		    ws_name(rt_ws(e, i)), &ws_stats(rt_ws(e, i))->ctx_lat,
		    stats_ctx_bounds);
	lag_metrics(e, b);	/* search lag: lag.c */
	webhook_metrics(e, b);	/* inbound: webhook.c */
	poll_metrics(e, b);	/* polling: poller.c */
	httpd_reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
}

/* GET /ui: the read-only status page (ui.c), never cached, no script. */
static void
ui_page(struct mstate *m, struct evhttp_request *req)
{
	struct evbuffer	*b;
	int		 dbok;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	dbok = cache_refresh(m);
	ui_render(m->e, m->counts, m->ncounts, m->workers, m->nworkers,
	    m->started, dbok == 0, b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Security-Policy", UI_CSP);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Referrer-Policy", "no-referrer");
	httpd_reply(req, 200, "OK", "text/html; charset=utf-8", b);
	evbuffer_free(b);
}

static void
route_healthz(void *arg, struct evhttp_request *req, const char *path)
{
	(void)path;
	healthz(arg, req);
}

static void
route_metrics(void *arg, struct evhttp_request *req, const char *path)
{
	(void)path;
	metrics(arg, req);
}

static void
route_ui(void *arg, struct evhttp_request *req, const char *path)
{
	(void)path;
	ui_page(arg, req);
}

int
metrics_routes(struct rt *e, struct httpd *h)
{
	struct mstate	*m = &mstate;

	free(m->counts);
	memset(m, 0, sizeof(*m));
	m->e = e;
	m->started = clock_wall_s();
	if (httpd_route(h, "/healthz", false, true, route_healthz, m) == -1 ||
	    httpd_route(h, "/metrics", false, true, route_metrics, m) == -1 ||
	    httpd_route(h, "/ui", false, true, route_ui, m) == -1)
		return -1;
	return 0;
}
