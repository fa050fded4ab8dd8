/*
 * ui: see ui.h.
 *
 * The workspace table comes from the engine's memory (state, pause
 * reason, limiter) and the counts metrics.c's cache refreshed; the other
 * sections are small queries of their own, each bounded by a LIMIT and
 * reset at once (an open read would pin a WAL snapshot): writes in doubt
 * through the partial index on open records, dead letters grouped by
 * reason (the dead_letter table is small: records leave it when replayed
 * or purged), recent deliveries scanning the outbox backwards by id.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "outbox.h"
#include "store.h"
#include "ui.h"
#include "version.h"

#define UI_MAX_ROWS	50	/* rows per section */
#define UI_RECENT	20	/* recent deliveries shown */

void
ui_esc(struct evbuffer *b, const char *s)
{
	const char	*p, *run;

	if (s == NULL)
		return;
	for (run = p = s; *p != '\0'; p++) {
		const char *ent;

		switch (*p) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		evbuffer_add(b, run, (size_t)(p - run));
		evbuffer_add(b, ent, strlen(ent));
		run = p + 1;
	}
	evbuffer_add(b, run, (size_t)(p - run));
}

/* printf, then escaped. */
static void __attribute__((format(printf, 2, 3)))
uf(struct evbuffer *b, const char *fmt, ...)
{
	char	 buf[2048];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ui_esc(b, buf);
}

/* A table cell with escaped text. */
static void
td(struct evbuffer *b, const char *s)
{
	evbuffer_add_printf(b, "<td>");
	ui_esc(b, s != NULL ? s : "-");
	evbuffer_add_printf(b, "</td>");
}

static void
td_int(struct evbuffer *b, int64_t v)
{
	evbuffer_add_printf(b, "<td class=n>%" PRId64 "</td>", v);
}

static const char *
ui_time(int64_t t, char *buf, size_t sz)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t <= 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(buf, sz, "%Y-%m-%d %H:%M:%SZ", &tm);
	return buf;
}

static const char *
ui_age(int64_t s, char *buf, size_t sz)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, sz, "%" PRId64 "d %" PRId64 "h", s / 86400,
		    s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, sz, "%" PRId64 "h %" PRId64 "m", s / 3600,
		    s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, sz, "%" PRId64 "m %" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, sz, "%" PRId64 "s", s);
	return buf;
}

static const char *
col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* What an operator does about a dead letter of this reason. */
static const char *
dlq_hint(const char *reason)
{
	static const struct {
		const char	*prefix;
		const char	*hint;
	} h[] = {
		{ "attribute_not_allowed", "add the attribute to "
		  "allowed_attributes and reload, or drop it from the "
		  "record (callsync dlq edit); then callsync dlq replay" },
		{ "public_reply_disabled", "set allow_public_replies = true "
		  "if public replies are wanted, reload, then replay; "
		  "otherwise callsync dlq purge" },
		{ "handed_off", "exported with export --handoff; if the "
		  "bundle is lost: callsync dlq replay --reason handed_off" },
		{ "max_age", "the incident is over? callsync dlq replay "
		  "--reason max_age --rate 5/s" },
		{ "max_attempts", "read callsync dlq show KEY; replay once "
		  "the cause is fixed" },
		{ "http_", "Intercom refused the data: callsync dlq show KEY, "
		  "fix the payload (callsync dlq edit) or the producer, "
		  "then replay" },
		{ "missing_field", "fix the producer; correct the record "
		  "with callsync dlq edit, then replay" },
		{ "invalid_", "fix the producer; correct the record with "
		  "callsync dlq edit, then replay" },
		{ "unknown_type", "fix the producer; purge or edit and "
		  "replay" },
	};
	size_t	 i;

	for (i = 0; reason != NULL && i < sizeof(h) / sizeof(h[0]); i++)
		if (strncmp(reason, h[i].prefix, strlen(h[i].prefix)) == 0)
			return h[i].hint;
	return "read callsync dlq show KEY, fix the cause, then callsync "
	    "dlq replay (try --dry-run first)";
}

static void
section(struct evbuffer *b, const char *id, const char *title)
{
	evbuffer_add_printf(b, "<h2 id=\"%s\">%s</h2>\n", id, title);
}

static void
db_error(struct evbuffer *b, struct rt *e)
{
	evbuffer_add_printf(b, "<p class=bad>database error: ");
	ui_esc(b, db_errmsg(rt_db(e)));
	evbuffer_add_printf(b, "</p>\n");
}

/* The state cell of ws: a word, and for a pause why and what to do. */
static void
ws_state(struct evbuffer *b, const struct wsrt *ws, const struct ws_counts *c,
    int64_t now)
{
	struct ws_status s;
	char	 t[48];

	ws_status(ws, &s);
	switch (s.state) {
	case WS_BOOT:
		evbuffer_add_printf(b, "<td class=warn>starting: checking "
		    "the token (GET /me)</td>");
		break;
	case WS_OUTAGE:
		evbuffer_add_printf(b, "<td class=bad><b>outage</b>: Intercom "
		    "unreachable since ");
		ui_esc(b, ui_time(s.since, t, sizeof(t)));
		uf(b, " (%" PRId64 " s); probing, records wait",
		    now - s.since);
		evbuffer_add_printf(b, "</td>");
		break;
	case WS_PAUSED:
		evbuffer_add_printf(b, "<td class=bad><b>paused</b>: ");
		ui_esc(b, s.why[0] ? s.why :
		    s.pause_config ? "a setting Intercom contradicts" :
		    "Intercom rejected the token (401/403)");
		evbuffer_add_printf(b, "<br><i>what to do:</i> ");
		if (s.pause_config)
			uf(b, "fix the configuration, then systemctl reload "
			    "callsyncd (Intercom is checked again every %lld "
			    "s)", (long long)ws_conf(ws)->config_recheck);
		else
			uf(b, "replace the token, then change the token file "
			    "or systemctl reload callsyncd");
		evbuffer_add_printf(b, "</td>");
		break;
	default:
		evbuffer_add_printf(b, "<td class=ok>%s</td>", s.jobs > 0 ||
		    c->pending > 0 ? "delivering" : "idle");
	}
}

static void
workspaces(struct evbuffer *b, struct rt *e, const struct ws_counts *cnt,
    size_t ncnt, int64_t now)
{
	static const struct ws_counts	 none;
	const struct ws_counts	*c;
	struct store_ws_state	 wst;
	const struct wsrt	*ws;
	struct ws_status	 s;
	int64_t			 rl;
	char			 t[48], a[32];
	size_t			 i;

	section(b, "workspaces", "Workspaces");
	evbuffer_add_printf(b, "<table><tr><th>workspace<th>state"
	    "<th>pending<th>in flight<th>in doubt<th>dead<th>oldest pending"
	    "<th>last delivery<th>requests in flight<th>rate limit</tr>\n");
	for (i = 0; i < rt_nws(e); i++) {
		ws = rt_ws(e, i);
		c = i < ncnt ? &cnt[i] : &none;
		evbuffer_add_printf(b, "<tr>");
		td(b, ws_name(ws));
		ws_state(b, ws, c, now);
		td_int(b, c->pending);
		td_int(b, c->inflight);
		td_int(b, c->in_doubt);
		td_int(b, c->dead);
		td(b, c->pending > 0 && c->oldest > 0 ?
		    ui_age(now - c->oldest, a, sizeof(a)) : "-");
		td(b, ui_time(ws_stats(ws)->last_delivery, t, sizeof(t)));
		ws_status(ws, &s);
		evbuffer_add_printf(b, "<td class=n>%d / %d</td>",
		    s.inflight, s.target);
		/* The row callsync status reads (store_ws_state). */
		rl = store_ws_state(rt_db(e), ws_name(ws), &wst) == 1 ?
		    wst.rate_limited_until : 0;
		store_ws_state_free(&wst);
		evbuffer_add_printf(b, "<td>");
		if (rl > now) {
			evbuffer_add_printf(b, "<span class=warn>429: waiting "
			    "until ");
			ui_esc(b, ui_time(rl, t, sizeof(t)));
			evbuffer_add_printf(b, "</span><br>");
		}
		if (ws_rate_budget(ws) > 0)
			evbuffer_add_printf(b, "%ld requests / 10 s",
			    ws_rate_budget(ws));
		else
			evbuffer_add_printf(b, "not known yet");
		evbuffer_add_printf(b, "</td></tr>\n");
	}
	evbuffer_add_printf(b, "</table>\n");
}

static void
in_doubt(struct evbuffer *b, struct rt *e, int64_t now)
{
	sqlite3_stmt	*st;
	char		 a[32], t[48];
	int		 n = 0, rc;

	section(b, "doubt", "Writes in doubt");
	/* In doubt as status and /metrics count it (outbox_ws_counts): the
	 * flag, or an open intent left by an outage or a shutdown. */
	if ((st = store_prep(rt_db(e), SQ_UI_IN_DOUBT)) == NULL) {
		db_error(b, e);
		return;
	}
	sqlite3_bind_int(st, 1, UI_MAX_ROWS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == 0)
			evbuffer_add_printf(b, "<p>A write that may have "
			    "reached Intercom unseen (a timeout, a crash) is "
			    "reconciled before anything is written again: "
			    "nothing to do.</p><table><tr><th>workspace"
			    "<th>record<th>in doubt since<th>reconciles in"
			    "<th>last error</tr>\n");
		evbuffer_add_printf(b, "<tr>");
		td(b, col(st, 0));
		td(b, col(st, 1));
		td(b, ui_time(sqlite3_column_int64(st, 3), t, sizeof(t)));
		td(b, sqlite3_column_int64(st, 2) > now ? ui_age(
		    sqlite3_column_int64(st, 2) - now, a, sizeof(a)) : "now");
		td(b, col(st, 4));
		evbuffer_add_printf(b, "</tr>\n");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		db_error(b, e);
	evbuffer_add_printf(b, n ? "</table>\n" : "<p>None.</p>\n");
}

static void
dead_letters(struct evbuffer *b, struct rt *e)
{
	sqlite3_stmt	*st;
	char		 t[48];
	int		 n = 0, rc;

	section(b, "dead", "Dead letters");
	/* Bare columns with max(): SQLite takes them from the newest row. */
	if ((st = store_prep(rt_db(e), SQ_UI_DEAD_GROUPS)) == NULL) {
		db_error(b, e);
		return;
	}
	sqlite3_bind_int(st, 1, UI_MAX_ROWS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == 0)
			evbuffer_add_printf(b, "<table><tr><th>workspace"
			    "<th>reason<th>records<th>newest<th>newest record"
			    "<th>its message<th>what to do</tr>\n");
		evbuffer_add_printf(b, "<tr>");
		td(b, col(st, 0));
		td(b, col(st, 1));
		td_int(b, sqlite3_column_int64(st, 2));
		td(b, ui_time(sqlite3_column_int64(st, 3), t, sizeof(t)));
		td(b, col(st, 4));
		td(b, col(st, 5));
		td(b, dlq_hint(col(st, 1)));
		evbuffer_add_printf(b, "</tr>\n");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		db_error(b, e);
	evbuffer_add_printf(b, n ? "</table>\n<p>Replays resume from the "
	    "journal: what reached Intercom is never written twice.</p>\n" :
	    "<p>None.</p>\n");
}

/* Workspaces with open records that no live worker lists. */
static void
unserved(struct evbuffer *b, struct rt *e, int64_t now)
{
	sqlite3_stmt	*st;
	char		 a[32];
	int		 n = 0, rc;

	section(b, "unserved", "Records no worker serves");
	if ((st = store_prep(rt_db(e), SQ_UI_UNSERVED)) == NULL) {
		db_error(b, e);
		return;
	}
	sqlite3_bind_int64(st, 1, now - OPS_HEARTBEAT_STALE_S);
	sqlite3_bind_int(st, 2, UI_MAX_ROWS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == 0)
			evbuffer_add_printf(b, "<p>These records wait until a "
			    "worker configured for their workspace runs: add "
			    "the workspace to a configuration and reload.</p>"
			    "<table><tr><th>workspace<th>records waiting"
			    "<th>oldest</tr>\n");
		evbuffer_add_printf(b, "<tr>");
		td(b, col(st, 0));
		td_int(b, sqlite3_column_int64(st, 1));
		td(b, ui_age(now - sqlite3_column_int64(st, 2), a, sizeof(a)));
		evbuffer_add_printf(b, "</tr>\n");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		db_error(b, e);
	evbuffer_add_printf(b, n ? "</table>\n" : "<p>None.</p>\n");
}

static void
recent(struct evbuffer *b, struct rt *e)
{
	sqlite3_stmt	*st;
	char		 t[48];
	int		 n = 0, rc;

	section(b, "recent", "Recent deliveries");
	if ((st = store_prep(rt_db(e), SQ_UI_RECENT)) == NULL) {
		db_error(b, e);
		return;
	}
	sqlite3_bind_int(st, 1, UI_RECENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == 0)
			evbuffer_add_printf(b, "<table><tr><th>delivered"
			    "<th>workspace<th>record<th>conversation"
			    "<th>summary</tr>\n");
		evbuffer_add_printf(b, "<tr>");
		td(b, ui_time(sqlite3_column_int64(st, 2), t, sizeof(t)));
		td(b, col(st, 0));
		td(b, col(st, 1));
		td(b, col(st, 4));
		td(b, col(st, 3));
		evbuffer_add_printf(b, "</tr>\n");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		db_error(b, e);
	evbuffer_add_printf(b, n ? "</table>\n" : "<p>None yet.</p>\n");
}

static void
workers(struct evbuffer *b, struct rt *e, const struct ops_worker *w,
    size_t nw)
{
	char	 a[32];
	size_t	 i;

	section(b, "workers", "Workers");
	evbuffer_add_printf(b, "<table><tr><th>owner<th>host<th>last "
	    "heartbeat<th>state</tr>\n");
	for (i = 0; i < nw; i++) {
		evbuffer_add_printf(b, "<tr>");
		td(b, w[i].owner);
		td(b, w[i].host);
		evbuffer_add_printf(b, "<td>");
		uf(b, "%s ago", ui_age(w[i].age_s, a, sizeof(a)));
		evbuffer_add_printf(b, "</td><td class=%s>%s%s</td></tr>\n",
		    w[i].live ? "ok" : "bad", w[i].live ? "live" : "stale",
		    strcmp(w[i].owner, rt_owner(e)) == 0 ? " (this one)" : "");
	}
	evbuffer_add_printf(b, "</table>\n");
	if (nw == 0)
		evbuffer_add_printf(b, "<p>No worker has registered.</p>\n");
}

void
ui_render(struct rt *e, const struct ws_counts *cnt, size_t ncnt,
    const struct ops_worker *w, size_t nw, int64_t started, bool dbok,
    struct evbuffer *b)
{
	int64_t	 now = clock_wall_s();
	char	 t[48], a[32];

	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=en><head>"
	    "<meta charset=utf-8>"
	    "<meta http-equiv=\"refresh\" content=\"%d\">"
	    "<meta name=viewport content=\"width=device-width\">"
	    "<title>callsync status</title><style>"
	    "body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;"
	    "color:#222}"
	    "table{border-collapse:collapse;margin-bottom:1em}"
	    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;"
	    "vertical-align:top}"
	    "th{background:#f0f0f0}td.n{text-align:right}"
	    ".ok{color:#17631f}.warn{color:#8a5a00}.bad{color:#a11}"
	    "h2{margin:1.2em 0 .4em;font-size:1.1em}"
	    "p.meta{color:#555}</style></head><body>\n"
	    "<h1>callsync</h1>\n<p class=meta>", UI_REFRESH_S);
	uf(b, "callsyncd %s, up %s; database %s; as of ", CALLSYNC_VERSION,
	    ui_age(now - started, a, sizeof(a)), rt_db(e)->path);
	ui_esc(b, ui_time(now, t, sizeof(t)));
	evbuffer_add_printf(b, "; this page refreshes every %d s and "
	    "changes nothing.</p>\n", UI_REFRESH_S);
	if (rt_db_stalled(e))
		evbuffer_add_printf(b, "<p class=bad><b>database "
		    "unwritable</b>: a write failed; the worker retries it and "
		    "claims nothing new (disk full? read the log)</p>\n");
	if (!dbok)
		evbuffer_add_printf(b, "<p class=bad>the record counts could "
		    "not be read: they may be old</p>\n");
	workspaces(b, e, cnt, ncnt, now);
	in_doubt(b, e, now);
	dead_letters(b, e);
	unserved(b, e, now);
	recent(b, e);
	workers(b, e, w, nw);
	evbuffer_add_printf(b, "</body></html>\n");
}
