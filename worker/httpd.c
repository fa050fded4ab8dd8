/*
 * httpd: see httpd.h.
 *
 * Everything is answered from memory but the record counts, which come
 * from four cheap queries (the partial indexes on open records and on
 * state; the audit count scans its table and is refreshed only every
 * 10 s), and the workers table (a handful of rows, each judged live or
 * stale by its lock file as callsync status does: ops_workers).  Their results are kept for a second, so a scraper polling
 * every second costs the outbox one set of queries per second whatever
 * the number of scrapers.
 *
 * libevent 2.1 has no connection limit for evhttp: each connection that
 * asks something is entered in a table of HTTPD_MAXCONN slots and leaves
 * it through its close callback; a connection that finds the table full
 * is answered 503 and closed.  Connections that never ask are closed by
 * the idle timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "context.h"
#include "engine.h"
#include "httpd.h"
#include "log.h"
#include "ops.h"
#include "tasks.h"
#include "webhook.h"

#define HTTPD_MAXCONN	16	/* concurrent client connections */
#define HTTPD_IDLE_S	10	/* a silent connection is closed */
#define HTTPD_MAXHDR	8192	/* request line and headers, bytes */
#define HTTPD_MAXBODY	1024	/* GETs have none; refuse big ones early */
#define CACHE_MS	1000	/* record counts */
#define AUDIT_MS	10000	/* audit row counts: a table scan */

struct httpd {
	struct engine		*e;		/* borrowed */
	struct ctx		*ctx;		/* /v1/context, /v1/articles */
	struct evhttp		*http;
	struct evhttp_connection *conns[HTTPD_MAXCONN];
	int64_t			 cache_ms;	/* monotonic; 0 = never */
	int64_t			 audit_ms;
	bool			 cache_ok;	/* the last refresh worked */
	int64_t			 db_bytes, wal_bytes;
	int64_t			 started;	/* unix seconds */
	struct ops_worker	 workers[OPS_MAXWORKERS];
	size_t			 nworkers;	/* kept in workers[] */
	size_t			 nworkers_all;	/* rows in the table */
	size_t			 nworkers_live;	/* of which live */
};

/* ------------------------------------------------------------------ */
/* the database side, cached                                            */

static struct wsrt *
ws_by_name(struct engine *e, const char *name)
{
	size_t	 i;

	for (i = 0; name != NULL && i < e->nws; i++)
		if (strcmp(e->ws[i]->name, name) == 0)
			return e->ws[i];
	return NULL;
}

static const char *const q_open =
    "SELECT workspace, sum(state = 'pending'), sum(state = 'inflight'), "
    "sum(in_doubt), min(CASE WHEN state = 'pending' THEN enqueued_at END) "
    "FROM outbox WHERE state IN ('pending', 'inflight') GROUP BY workspace";
static const char *const q_dead =
    "SELECT workspace, count(*) FROM outbox WHERE state = 'dead' "
    "GROUP BY workspace";
static const char *const q_audit =
    "SELECT workspace, count(*) FROM audit GROUP BY workspace";

/*
 * Refresh the per-workspace counts when older than CACHE_MS.  Statements
 * are reset at once: an open read would pin a WAL snapshot and hold off
 * checkpoints.  -1 when a query failed (counts keep their old values).
 */
static int
cache_refresh(struct httpd *h)
{
	struct engine	*e = h->e;
	sqlite3_stmt	*st;
	struct wsrt	*ws;
	struct stat	 sb;
	char		 wal[4096];
	int64_t		 now = clock_mono_ms();
	size_t		 i;
	int		 rc;
	bool		 audit;

	if (h->cache_ms != 0 && now - h->cache_ms < CACHE_MS)
		return h->cache_ok ? 0 : -1;
	h->cache_ms = now;
	h->cache_ok = false;
	audit = h->audit_ms == 0 || now - h->audit_ms >= AUDIT_MS;
	for (i = 0; i < e->nws; i++) {
		ws = e->ws[i];
		ws->st.db_pending = ws->st.db_inflight = 0;
		ws->st.db_in_doubt = ws->st.db_oldest = ws->st.db_dead = 0;
		if (audit)
			ws->st.db_audit = 0;
	}
	if ((st = db_prep(&e->db, q_open)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ws = ws_by_name(e, (const char *)sqlite3_column_text(st,
		    0))) == NULL)
			continue;
		ws->st.db_pending = sqlite3_column_int64(st, 1);
		ws->st.db_inflight = sqlite3_column_int64(st, 2);
		ws->st.db_in_doubt = sqlite3_column_int64(st, 3);
		ws->st.db_oldest = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || (st = db_prep(&e->db, q_dead)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((ws = ws_by_name(e, (const char *)sqlite3_column_text(st,
		    0))) != NULL)
			ws->st.db_dead = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (audit) {
		if ((st = db_prep(&e->db, q_audit)) == NULL)
			return -1;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			if ((ws = ws_by_name(e, (const char *)
			    sqlite3_column_text(st, 0))) != NULL)
				ws->st.db_audit = sqlite3_column_int64(st, 1);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return -1;
		h->audit_ms = now;
	}
	if (ops_workers(&e->db, e->db.path, (int64_t)time(NULL), h->workers,
	    OPS_MAXWORKERS, &h->nworkers, &h->nworkers_all,
	    &h->nworkers_live) == -1)
		return -1;
	h->db_bytes = stat(e->db.path, &sb) == 0 ? (int64_t)sb.st_size : 0;
	snprintf(wal, sizeof(wal), "%s-wal", e->db.path);
	h->wal_bytes = stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
	h->cache_ok = true;
	return 0;
}

/* ------------------------------------------------------------------ */
/* answers                                                              */

static void
reply(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(req);

	evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "Cache-Control", "no-store");
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, code, reason, body);
}

static void
reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(b, "%s\n", text);
	reply(req, code, reason, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

void
httpd_reply_json(struct evhttp_request *req, int code, const char *reason,
    json_t *o)
{
	struct evbuffer	*b;
	char		*txt;

	if (o == NULL || (txt = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	json_decref(o);
	if ((b = evbuffer_new()) == NULL) {
		free(txt);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(b, "%s\n", txt);
	free(txt);
	reply(req, code, reason, "application/json", b);
	evbuffer_free(b);
}

static const char *
ws_health(const struct wsrt *ws)
{
	switch (ws->state) {
	case WS_BOOT:
		return "starting";
	case WS_OUTAGE:
		return "breaker_open";
	case WS_PAUSED:
		return "paused";
	default:
		return ws->jobs > 0 ? "delivering" : "idle";
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
problem_config(struct evbuffer *b, int *n, const struct wsrt *ws)
{
	json_t	*d;
	char	*txt, msg[sizeof(ws->pause_reason) + 128];

	snprintf(msg, sizeof(msg), "paused: %s; fix the configuration, then "
	    "reload, or fix Intercom (checked again every %lld s)",
	    ws->pause_reason, (long long)ws->cw->config_recheck);
	d = json_string(msg);
	txt = d != NULL ? json_dumps(d, JSON_ENCODE_ANY) : NULL;
	evbuffer_add_printf(b, "%s{\"problem\":\"paused\",\"workspace\":"
	    "\"%s\",\"reason\":\"config\",\"detail\":%s}", (*n)++ ? "," :
	    "", ws->name, txt != NULL ? txt : "\"paused: configuration\"");
	free(txt);
	json_decref(d);
}

static void
healthz(struct httpd *h, struct evhttp_request *req)
{
	struct engine	*e = h->e;
	struct evbuffer	*b, *p;
	struct wsrt	*ws;
	int64_t		 now = (int64_t)time(NULL), age;
	int64_t		 maxage = e->conf->health_max_age;
	char		 d[160];
	size_t		 i;
	int		 n = 0, dbok;

	if ((b = evbuffer_new()) == NULL || (p = evbuffer_new()) == NULL) {
		evbuffer_free(b);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	dbok = cache_refresh(h);
	if (e->db_stalled)
		problem(p, &n, "database_unwritable", NULL, "a database write "
		    "failed; the worker retries it and claims nothing new");
	if (dbok == -1)
		problem(p, &n, "database_unreadable", NULL, "the record "
		    "counts could not be read");
	for (i = 0; i < e->nws; i++) {
		ws = e->ws[i];
		if (ws->state == WS_OUTAGE) {
			snprintf(d, sizeof(d), "breaker open for %" PRId64
			    " s: Intercom unreachable", now - ws->state_since);
			problem(p, &n, "breaker_open", ws->name, d);
		} else if (ws->state == WS_PAUSED && ws->pause_config)
			problem_config(p, &n, ws);
		else if (ws->state == WS_PAUSED)
			problem(p, &n, "paused", ws->name, "paused: Intercom "
			    "rejected the token (401/403); replace it, then "
			    "change the token file or send SIGHUP");
		age = ws->st.db_oldest > 0 ? now - ws->st.db_oldest : 0;
		if (maxage > 0 && ws->st.db_pending > 0 && age > maxage) {
			snprintf(d, sizeof(d), "oldest pending record is %"
			    PRId64 " s old (health_max_age %" PRId64 " s)",
			    age, maxage);
			problem(p, &n, "backlog_age", ws->name, d);
		}
		if (e->conf->task_max_age > 0 && (age = tasks_oldest_due(&e->db,
		    ws->name, now)) > e->conf->task_max_age) {
			snprintf(d, sizeof(d), "oldest due call task is %" PRId64
			    " s old (task_max_age %" PRId64 " s): is the voice "
			    "agent claiming?", age,
			    (int64_t)e->conf->task_max_age);
			problem(p, &n, "task_age", ws->name, d);
		}
	}
	evbuffer_add_printf(b, "{\"status\":\"%s\",\"problems\":[",
	    n ? "fail" : "ok");
	evbuffer_add_buffer(b, p);
	evbuffer_add_printf(b, "],\"database\":\"%s\",\"workspaces\":{",
	    e->db_stalled ? "unwritable" : dbok == -1 ? "unreadable" : "ok");
	for (i = 0; i < e->nws; i++) {
		ws = e->ws[i];
		age = ws->st.db_oldest > 0 ? now - ws->st.db_oldest : 0;
		evbuffer_add_printf(b, "%s\"%s\":{\"state\":\"%s\","
		    "\"pending\":%" PRId64 ",\"inflight\":%" PRId64
		    ",\"oldest_pending_age_s\":%" PRId64 "}", i ? "," : "",
		    ws->name, ws_health(ws), ws->st.db_pending,
		    ws->st.db_inflight, ws->st.db_pending ? age : 0);
	}
	evbuffer_add_printf(b, "}}\n");
	reply(req, n ? 503 : 200, n ? "Service Unavailable" : "OK",
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

/* One gauge or counter per workspace, its value from field. */
#define PER_WS(b, e, mname, expr) do {					\
	size_t	 i_;							\
	for (i_ = 0; i_ < (e)->nws; i_++) {				\
		const struct wsrt *w_ = (e)->ws[i_];			\
		evbuffer_add_printf((b), "%s{workspace=\"%s\"} %" PRId64 "\n", \
		    (mname), w_->name, (int64_t)(expr));		\
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
    struct engine *e, bool dead)
{
	const struct stats_lab	*t;
	char			 v[80];
	size_t			 i, k;

	for (i = 0; i < e->nws; i++) {
		t = dead ? e->ws[i]->st.dead : e->ws[i]->st.retries;
		for (k = 0; k < STATS_NLAB && t[k].name[0] != '\0'; k++)
			evbuffer_add_printf(b, "%s{workspace=\"%s\",%s=\"%s\"} %"
			    PRIu64 "\n", name, e->ws[i]->name, label,
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
workers(struct httpd *h, struct evbuffer *b)
{
	char	 o[200], hs[120];
	size_t	 i;

	head(b, "callsync_worker_heartbeat_age_seconds", "gauge",
	    "Seconds since each registered worker's last heartbeat "
	    "(workers table; every 10 s while it runs).");
	for (i = 0; i < h->nworkers; i++) {
		evbuffer_add_printf(b, "callsync_worker_heartbeat_age_seconds"
		    "{owner=\"%s\",host=\"%s\"} %" PRId64 "\n",
		    esc(h->workers[i].owner, o, sizeof(o)),
		    esc(h->workers[i].host, hs, sizeof(hs)),
		    h->workers[i].age_s);
	}
	head(b, "callsync_workers_live", "gauge",
	    "Registered workers running with a heartbeat in the last 60 s.");
	evbuffer_add_printf(b, "callsync_workers_live %zu\n",
	    h->nworkers_live);
	head(b, "callsync_workers_stale", "gauge",
	    "Registered workers not running (killed, crashed: their row "
	    "stays) or running without a heartbeat for 60 s (hung).");
	evbuffer_add_printf(b, "callsync_workers_stale %zu\n",
	    h->nworkers_all - h->nworkers_live);
}

static void
metrics(struct httpd *h, struct evhttp_request *req)
{
	struct engine		*e = h->e;
	struct evbuffer		*b;
	const struct stats_ep	*ep;
	int64_t			 now = (int64_t)time(NULL);
	char			 v[80];
	size_t			 i, k;
	int			 c, dbok;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	dbok = cache_refresh(h);
	head(b, "callsync_start_time_seconds", "gauge",
	    "Unix time the worker started.");
	evbuffer_add_printf(b, "callsync_start_time_seconds %" PRId64 "\n",
	    h->started);
	head(b, "callsync_database_stalled", "gauge",
	    "1 while a database write fails and is being retried.");
	evbuffer_add_printf(b, "callsync_database_stalled %d\n",
	    e->db_stalled ? 1 : 0);
	head(b, "callsync_database_query_ok", "gauge",
	    "0 when the record counts below could not be refreshed.");
	evbuffer_add_printf(b, "callsync_database_query_ok %d\n",
	    dbok == 0 ? 1 : 0);
	head(b, "callsync_database_size_bytes", "gauge",
	    "Size of the outbox database file.");
	evbuffer_add_printf(b, "callsync_database_size_bytes %" PRId64 "\n",
	    h->db_bytes);
	head(b, "callsync_database_wal_size_bytes", "gauge",
	    "Size of its write-ahead log.");
	evbuffer_add_printf(b, "callsync_database_wal_size_bytes %" PRId64
	    "\n", h->wal_bytes);

	head(b, "callsync_records_pending", "gauge",
	    "Records waiting to be delivered (includes those backing off).");
	PER_WS(b, e, "callsync_records_pending", w_->st.db_pending);
	head(b, "callsync_records_inflight", "gauge",
	    "Records claimed by a worker.");
	PER_WS(b, e, "callsync_records_inflight", w_->st.db_inflight);
	head(b, "callsync_records_in_doubt", "gauge",
	    "Open records whose last write may have landed (reconciled "
	    "before any resend).");
	PER_WS(b, e, "callsync_records_in_doubt", w_->st.db_in_doubt);
	head(b, "callsync_records_dead", "gauge",
	    "Records in the dead-letter queue.");
	PER_WS(b, e, "callsync_records_dead", w_->st.db_dead);
	head(b, "callsync_oldest_pending_age_seconds", "gauge",
	    "Age of the oldest pending record; 0 when none.");
	PER_WS(b, e, "callsync_oldest_pending_age_seconds",
	    w_->st.db_pending > 0 && w_->st.db_oldest > 0 ?
	    now - w_->st.db_oldest : 0);
	head(b, "callsync_audit_rows", "gauge",
	    "Rows in the audit log (refreshed every 10 s).");
	PER_WS(b, e, "callsync_audit_rows", w_->st.db_audit);

	workers(h, b);

	head(b, "callsync_breaker_open", "gauge",
	    "1 while Intercom is unreachable and the workspace is probing.");
	PER_WS(b, e, "callsync_breaker_open", w_->state == WS_OUTAGE);
	head(b, "callsync_paused", "gauge",
	    "1 while the workspace is paused: a rejected token (401/403) or "
	    "a setting Intercom contradicts.");
	PER_WS(b, e, "callsync_paused", w_->state == WS_PAUSED);
	head(b, "callsync_paused_config", "gauge",
	    "1 while the workspace is paused on a setting Intercom "
	    "contradicts (admin_id, route, allowed_attributes).");
	PER_WS(b, e, "callsync_paused_config", w_->state == WS_PAUSED &&
	    w_->pause_config);
	head(b, "callsync_requests_inflight", "gauge",
	    "Requests on the wire.");
	PER_WS(b, e, "callsync_requests_inflight", w_->inflight);
	head(b, "callsync_requests_inflight_target", "gauge",
	    "Requests the worker keeps in flight: rate allowed x round trip, "
	    "with headroom, capped by max_inflight.");
	PER_WS(b, e, "callsync_requests_inflight_target", w_->target);
	head(b, "callsync_last_delivery_timestamp_seconds", "gauge",
	    "Unix time of the last delivery by this worker; 0 = none yet.");
	PER_WS(b, e, "callsync_last_delivery_timestamp_seconds",
	    w_->st.last_delivery);

	head(b, "callsync_delivered_total", "counter",
	    "Records delivered by this worker since it started.");
	PER_WS(b, e, "callsync_delivered_total", w_->st.delivered);
	head(b, "callsync_dead_lettered_total", "counter",
	    "Records dead-lettered by this worker, by reason.");
	labels(b, "callsync_dead_lettered_total", "reason", e, true);
	head(b, "callsync_retries_total", "counter",
	    "Records given back for a later attempt, by error class.");
	labels(b, "callsync_retries_total", "class", e, false);
	head(b, "callsync_throttled_total", "counter",
	    "Intercom answers 429 (rate limited).");
	PER_WS(b, e, "callsync_throttled_total", w_->st.throttled);
	head(b, "callsync_requests_total", "counter",
	    "Requests to Intercom by method, endpoint template and status "
	    "class (error = no HTTP answer).");
	for (i = 0; i < e->nws; i++)
		for (k = 0; k < STATS_NEP; k++) {
			ep = &e->ws[i]->st.req[k];
			if (ep->path[0] == '\0')
				break;
			for (c = 0; c < STATS_NSC; c++)
				if (ep->n[c] > 0)
					evbuffer_add_printf(b, "callsync_"
					    "requests_total{workspace=\"%s\","
					    "method=\"%s\",endpoint=\"%s\","
					    "status_class=\"%s\"} %" PRIu64
					    "\n", e->ws[i]->name, ep->method,
					    esc(ep->path, v, sizeof(v)),
					    stats_class_names[c], ep->n[c]);
		}
	head(b, "callsync_request_duration_seconds", "histogram",
	    "Time from sending a request to Intercom to its answer.");
	for (i = 0; i < e->nws; i++)
		hist(b, "callsync_request_duration_seconds", e->ws[i]->name,
		    &e->ws[i]->st.req_lat, stats_req_bounds);
	head(b, "callsync_delivery_latency_seconds", "histogram",
	    "Time from enqueue to delivery, per delivered record.");
	for (i = 0; i < e->nws; i++)
		hist(b, "callsync_delivery_latency_seconds", e->ws[i]->name,
		    &e->ws[i]->st.e2e_lat, stats_e2e_bounds);
	head(b, "callsync_requests_sent_total", "counter",
	    "Requests sent to Intercom by priority class: context "
	    "(interactive reads, sent first), drain (records) and warm "
	    "(warm-up reads, last).");
	for (i = 0; i < e->nws; i++)
		evbuffer_add_printf(b, "callsync_requests_sent_total{workspace="
		    "\"%s\",class=\"context\"} %" PRIu64 "\n"
		    "callsync_requests_sent_total{workspace=\"%s\","
		    "class=\"drain\"} %" PRIu64 "\n"
		    "callsync_requests_sent_total{workspace=\"%s\","
		    "class=\"warm\"} %" PRIu64 "\n", e->ws[i]->name,
		    e->ws[i]->st.sent_context, e->ws[i]->name,
		    e->ws[i]->st.sent_drain, e->ws[i]->name,
		    e->ws[i]->st.sent_warm);
	head(b, "callsync_context_answers_total", "counter",
	    "/v1/context answers by source: live (every part from Intercom), "
	    "partial (some from the cache), cache.");
	for (i = 0; i < e->nws; i++)
		for (k = 0; k < 3; k++)
			evbuffer_add_printf(b, "callsync_context_answers_total{"
			    "workspace=\"%s\",source=\"%s\"} %" PRIu64 "\n",
			    e->ws[i]->name, stats_ctx_names[k],
			    e->ws[i]->st.ctx_answers[k]);
	head(b, "callsync_context_duration_seconds", "histogram",
	    "Time to answer GET /v1/context.");
	for (i = 0; i < e->nws; i++)
		hist(b, "callsync_context_duration_seconds", e->ws[i]->name,
		    &e->ws[i]->st.ctx_lat, stats_ctx_bounds);
	webhook_metrics(e, b);	/* inbound: webhook.c */
	reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
}

/* ------------------------------------------------------------------ */
/* connections and dispatch                                             */

static void
conn_close_cb(struct evhttp_connection *c, void *arg)
{
	struct httpd	*h = arg;
	size_t		 i;

	for (i = 0; i < HTTPD_MAXCONN; i++)
		if (h->conns[i] == c)
			h->conns[i] = NULL;
}

/* Enter c in the table; false when it is full. */
static bool
conn_admit(struct httpd *h, struct evhttp_connection *c)
{
	size_t	 i, free_slot = HTTPD_MAXCONN;

	for (i = 0; i < HTTPD_MAXCONN; i++) {
		if (h->conns[i] == c)
			return true;
		if (h->conns[i] == NULL && free_slot == HTTPD_MAXCONN)
			free_slot = i;
	}
	if (free_slot == HTTPD_MAXCONN)
		return false;
	h->conns[free_slot] = c;
	evhttp_connection_set_closecb(c, conn_close_cb, h);
	return true;
}

/*
 * With a listen token, whether req carries it.  Constant time in the
 * token's length: every byte is compared whatever the first mismatch.
 */
static bool
authorized(struct httpd *h, struct evhttp_request *req)
{
	const char	*tok = h->e->conf->listen_token;
	const char	*a;
	size_t		 i, n, m;
	unsigned char	 d;

	if (tok == NULL)
		return true;
	a = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return false;
	a += 7;
	n = strlen(tok);
	m = strlen(a);
	d = (unsigned char)(n != m);
	for (i = 0; i < n; i++)
		d |= (unsigned char)(tok[i] ^ (i < m ? a[i] : 0));
	return d == 0;
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct httpd			*h = arg;
	struct evhttp_connection	*c = evhttp_request_get_connection(req);
	const struct evhttp_uri		*u = evhttp_request_get_evhttp_uri(req);
	const char			*path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type		 m = evhttp_request_get_command(req);

	if (c != NULL && !conn_admit(h, c)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		reply_text(req, 503, "Service Unavailable",
		    "too many connections");
		return;
	}
	/* /livez says only "the process runs": no token needed. */
	if ((path == NULL || strcmp(path, "/livez") != 0) &&
	    !authorized(h, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer");
		httpd_reply_json(req, 401, "Unauthorized", json_pack("{s:s,"
		    "s:s}", "error", "unauthorized", "message", "this "
		    "endpoint wants Authorization: Bearer <the token in "
		    "listen_token_file>"));
		return;
	}
	if (tasks_path(path)) {		/* the task API (tasks.c) */
		tasks_http(h->e, req, path);
		return;
	}
	if (path == NULL || (strcmp(path, "/livez") != 0 &&
	    strcmp(path, "/healthz") != 0 && strcmp(path, "/metrics") != 0 &&
	    strcmp(path, "/v1/context") != 0 &&
	    strcmp(path, "/v1/articles") != 0)) {
		reply_text(req, HTTP_NOTFOUND, "Not Found",
		    "not found: this endpoint serves /livez, /healthz, "
		    "/metrics, /v1/context and /v1/articles");
		return;
	}
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed",
		    "method not allowed: GET only");
		return;
	}
	if (strcmp(path, "/livez") == 0)
		reply_text(req, HTTP_OK, "OK", "ok");
	else if (strcmp(path, "/healthz") == 0)
		healthz(h, req);
	else if (strcmp(path, "/v1/context") == 0)
		ctx_handle(h->ctx, req);
	else if (strcmp(path, "/v1/articles") == 0)
		ctx_articles(h->ctx, req);
	else
		metrics(h, req);
}

struct httpd *
httpd_new(struct engine *e, const char *listen, char *err, size_t errsz)
{
	struct httpd	*h;
	char		 host[256];
	const char	*colon, *hs = listen, *he;
	long		 port;
	char		*end;

	if (*listen == '[') {
		hs = listen + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':')
			goto out_syntax;
		colon = he + 1;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			goto out_syntax;
		he = colon;
	}
	if ((size_t)(he - hs) >= sizeof(host) || he == hs)
		goto out_syntax;
	memcpy(host, hs, he - hs);
	host[he - hs] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		goto out_syntax;
	if (e->conf->listen_token == NULL && !conf_is_loopback(host)) {
		snprintf(err, errsz, "listen = %s: %s is not a loopback "
		    "address: set listen_token_file (a mode 0600 file holding "
		    "the bearer token clients send) to serve other hosts",
		    listen, host);
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	h->e = e;
	h->started = (int64_t)time(NULL);
	if ((h->ctx = ctx_new(e)) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out_free;
	}
	if ((h->http = evhttp_new(e->base)) == NULL) {
		snprintf(err, errsz, "listen = %s: cannot make the HTTP "
		    "server", listen);
		goto out_free;
	}
	evhttp_set_max_headers_size(h->http, HTTPD_MAXHDR);
	evhttp_set_max_body_size(h->http, HTTPD_MAXBODY);
	evhttp_set_timeout(h->http, HTTPD_IDLE_S);
	/* Every method reaches request_cb, which answers 405 itself. */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(h->http, request_cb, h);
	if (evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port) ==
	    NULL) {
		snprintf(err, errsz, "listen = %s: cannot listen: %s", listen,
		    strerror(errno));
		goto out_free;
	}
	return h;
out_syntax:
	snprintf(err, errsz, "listen = %s: expected host:port", listen);
	return NULL;
out_free:
	httpd_free(h);
	return NULL;
}

void
httpd_shutdown(struct httpd *h)
{
	if (h != NULL)
		ctx_shutdown(h->ctx);
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	ctx_free(h->ctx);	/* answers first: evhttp_free frees requests */
	if (h->http != NULL)
		evhttp_free(h->http);	/* calls conn_close_cb: h still valid */
	free(h);
}
