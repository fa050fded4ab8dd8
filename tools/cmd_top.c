/*
 * cmd_top: `callsync top`, a live view of the outbox and the worker.
 *
 * Each frame has one line per workspace: its state, deliveries and
 * requests per second, requests in flight (and the limiter's target),
 * records pending, claimed, in doubt and dead, the oldest pending age,
 * the breaker and the rate limiter.  Record figures come from the
 * database through recs_status_all() (the same objects `status --json`
 * prints), so they hold for every worker on the outbox; deliveries per
 * second are the records delivered in the last TOP_WINDOW seconds.
 * Request figures come from the worker on [worker] listen (GET /metrics:
 * callsync_requests_total between two samples, callsync_requests_inflight,
 * callsync_requests_inflight_target, callsync_throttled_total); without
 * a listen or an answer they are "-" and the frame says why.
 *
 * On a terminal the screen is redrawn every --interval seconds until
 * Ctrl-C; otherwise (a pipe, a log) each frame is printed as plain text
 * after a blank line.  --once prints one plain frame (it samples the
 * worker twice, one interval apart, for the rates) and exits.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "tool.h"

#define TOP_WINDOW	10		/* s: deliveries/s averaged over */
#define TOP_METRICS_MAX	(4 * 1024 * 1024)
#define TOP_TIMEOUT_MS	2000

static const struct tool_cmd top_c = { "top", NULL,
	"top [--once] [--interval SECONDS]",
	"A live view, one line per workspace: STATE (delivering, idle,\n"
	"outage, paused and why, rate-limited, not served), DELIV/S (records\n"
	"delivered in the last 10 s, per second), REQ/S (requests to\n"
	"Intercom per second), REQ-INFL (requests in flight / the limiter's\n"
	"target), PENDING, CLAIMED (records in flight), DOUBT (writes in\n"
	"doubt), DEAD, OLDEST (oldest pending), BREAKER and LIMITER (ok, or\n"
	"429 until a time; throttled answers counted).  Records come from\n"
	"the database, request figures from the worker's GET /metrics on\n"
	"[worker] listen (\"-\" when it does not answer).  Refreshes every\n"
	"--interval seconds (default 1) until Ctrl-C; plain frames, one after\n"
	"the other, when stdout is not a terminal.  --once prints one plain\n"
	"frame and exits (it waits one interval to measure the rates)." };

static volatile sig_atomic_t top_stop;

static void
top_sig(int sig)
{
	(void)sig;
	top_stop = 1;
}

/* One GET /metrics, summed per "metric\tworkspace". */
struct top_sample {
	bool	 ok;
	int64_t	 ms;
	json_t	*v;		/* object: key -> real */
	char	 why[600];	/* when !ok */
};

static void
top_sample_free(struct top_sample *s)
{
	json_decref(s->v);
	s->v = NULL;
	s->ok = false;
}

static double
top_get(const struct top_sample *s, const char *metric, const char *ws)
{
	char	 k[256];

	if (s->v == NULL)
		return 0;
	snprintf(k, sizeof(k), "%s\t%s", metric, ws);
	return json_real_value(json_object_get(s->v, k));
}

/* Add every sample line of a Prometheus text body into s->v. */
static void
top_parse(struct top_sample *s, char *body)
{
	char	*line, *save = NULL, *sp, *w, *we, *name_end;
	char	 k[256], ws[128];
	double	 val, old;

	for (line = strtok_r(body, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || (sp = strrchr(line, ' ')) == NULL)
			continue;
		val = strtod(sp + 1, NULL);
		name_end = line + strcspn(line, "{ ");
		ws[0] = '\0';
		if (*name_end == '{' && (w = strstr(name_end,
		    "workspace=\"")) != NULL && w < sp) {
			w += strlen("workspace=\"");
			if ((we = strchr(w, '"')) != NULL &&
			    (size_t)(we - w) < sizeof(ws)) {
				memcpy(ws, w, (size_t)(we - w));
				ws[we - w] = '\0';
			}
		}
		snprintf(k, sizeof(k), "%.*s\t%s", (int)(name_end - line),
		    line, ws);
		old = json_real_value(json_object_get(s->v, k));
		json_object_set_new(s->v, k, json_real(old + val));
	}
}

/* Loopback URL of listen, as cmd_context does it. */
static void
top_url(const char *listen, char *out, size_t outsz)
{
	const char	*colon = strrchr(listen, ':');

	if (strncmp(listen, "0.0.0.0:", 8) == 0)
		snprintf(out, outsz, "http://127.0.0.1%s/metrics", colon);
	else if (strncmp(listen, "[::]:", 5) == 0)
		snprintf(out, outsz, "http://[::1]%s/metrics", colon);
	else
		snprintf(out, outsz, "http://%s/metrics", listen);
}

static void
top_fetch(struct tool *t, struct top_sample *s)
{
	CURL			*h;
	CURLcode		 cc;
	struct curl_slist	*hdr = NULL;
	struct tool_buf		 b = { NULL, 0, TOP_METRICS_MAX };
	char			 url[400], auth[4200], cerr[CURL_ERROR_SIZE];
	long			 status = 0;

	top_sample_free(s);
	s->ms = clock_wall_ms();
	if (t->conf == NULL || t->conf->listen == NULL ||
	    t->conf->listen[0] == '\0') {
		snprintf(s->why, sizeof(s->why), "no [worker] listen in %s",
		    t->conf ? "the configuration" : "use (--config FILE)");
		return;
	}
	if ((h = curl_easy_init()) == NULL) {
		snprintf(s->why, sizeof(s->why), "cannot start libcurl");
		return;
	}
	top_url(t->conf->listen, url, sizeof(url));
	if (t->conf->listen_token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    t->conf->listen_token);
		hdr = curl_slist_append(hdr, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	cerr[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)TOP_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tool_buf_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	if ((cc = curl_easy_perform(h)) != CURLE_OK)
		snprintf(s->why, sizeof(s->why), "no worker answers on %s: %s",
		    t->conf->listen, cerr[0] ? cerr : curl_easy_strerror(cc));
	else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status),
	    status != 200)
		snprintf(s->why, sizeof(s->why), "the worker on %s answers "
		    "HTTP %ld to /metrics", t->conf->listen, status);
	else if (b.p != NULL) {
		s->v = json_object();
		top_parse(s, b.p);
		s->ok = true;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(b.p);
}

/* Records delivered in the last TOP_WINDOW s, per workspace. */
static json_t *
top_recent(struct tool *t, int64_t now)
{
	sqlite3_stmt	*st;
	json_t		*o = json_object();

	st = store_prep(&t->db, SQ_WS_DELIVERED_SINCE);
	if (st == NULL)
		return o;
	sqlite3_bind_int64(st, 1, now - TOP_WINDOW);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
		    json_integer(sqlite3_column_int64(st, 1)));
	sqlite3_reset(st);
	return o;
}

static long long
top_i(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* The state word of workspace o (paused: with its reason, cut). */
static void
top_state(json_t *o, double dps, char *out, size_t outsz)
{
	const char	*b = tool_json_s(o, "breaker");

	if (json_is_true(json_object_get(o, "paused")))
		snprintf(out, outsz, "paused: %s", tool_json_s(o, "pause_reason"));
	else if (strcmp(b, "closed") != 0 && strcmp(b, "-") != 0)
		snprintf(out, outsz, "outage");
	else if (json_is_string(json_object_get(o, "rate_limited_until")))
		snprintf(out, outsz, "rate-limited");
	else if (top_i(o, "waiting") > 0 &&
	    !json_is_true(json_object_get(o, "served")))
		snprintf(out, outsz, "not served");
	else if (top_i(o, "waiting") > 0 || dps > 0)
		snprintf(out, outsz, "delivering");
	else
		snprintf(out, outsz, "idle");
}

static int
top_frame(struct tool *t, FILE *f, const struct top_sample *prev,
    const struct top_sample *cur)
{
	json_t		*a, *o, *recent, *wk, *w;
	size_t		 i;
	int64_t		 now = clock_wall_s();
	double		 dt, dps, rps, thr, sum_d = 0, sum_r = 0;
	bool		 rates = prev->ok && cur->ok && cur->ms > prev->ms;
	char		 ts[40], st[40], rq[16], inf[24], lim[48], up[24];
	const char	*ws;
	int		 live = 0, stale = 0;

	if ((a = recs_status_all(t, now)) == NULL)
		return -1;
	recent = top_recent(t, now);
	dt = rates ? (double)(cur->ms - prev->ms) / 1000.0 : 0;
	fprintf(f, "callsync top  %s  %s", tool_fmt_time(now, ts, sizeof(ts)),
	    tool_db_path(t));
	if (cur->ok) {
		tool_fmt_age(now - (int64_t)top_get(cur,
		    "callsync_start_time_seconds", ""), up, sizeof(up));
		fprintf(f, "  worker %s up %s", t->conf->listen, up);
	}
	fprintf(f, "\n%-16s %-24s %7s %7s %9s %8s %7s %5s %6s %-7s %-9s %s\n",
	    "WORKSPACE", "STATE", "DELIV/S", "REQ/S", "REQ-INFL", "PENDING",
	    "CLAIMED", "DOUBT", "DEAD", "OLDEST", "BREAKER", "LIMITER");
	json_array_foreach(a, i, o) {
		ws = tool_json_s(o, "workspace");
		dps = (double)json_integer_value(json_object_get(recent, ws)) /
		    TOP_WINDOW;
		sum_d += dps;
		top_state(o, dps, st, sizeof(st));
		if (rates) {
			rps = (top_get(cur, "callsync_requests_total", ws) -
			    top_get(prev, "callsync_requests_total", ws)) / dt;
			sum_r += rps;
			snprintf(rq, sizeof(rq), "%.1f", rps < 0 ? 0 : rps);
		} else
			snprintf(rq, sizeof(rq), "-");
		if (cur->ok)
			snprintf(inf, sizeof(inf), "%.0f/%.0f",
			    top_get(cur, "callsync_requests_inflight", ws),
			    top_get(cur, "callsync_requests_inflight_target",
			    ws));
		else
			snprintf(inf, sizeof(inf), "-");
		if (json_is_string(json_object_get(o, "rate_limited_until")))
			snprintf(lim, sizeof(lim), "429 until %s",
			    tool_json_s(o, "rate_limited_until"));
		else
			snprintf(lim, sizeof(lim), "ok");
		thr = cur->ok ? top_get(cur, "callsync_throttled_total", ws) : 0;
		if (thr > 0)
			snprintf(lim + strlen(lim), sizeof(lim) - strlen(lim),
			    " (%.0f throttled)", thr);
		fprintf(f, "%-16s %-24.24s %7.1f %7s %9s %8lld %7lld %5lld "
		    "%6lld %-7s %-9s %s\n", ws, st, dps, rq, inf,
		    top_i(o, "pending"), top_i(o, "inflight"),
		    top_i(o, "in_doubt"), top_i(o, "dead"),
		    tool_json_s(o, "oldest_pending_age"), tool_json_s(o, "breaker"), lim);
	}
	if (json_array_size(a) == 0)
		fprintf(f, "(no workspace: no record and none configured)\n");
	if ((wk = tool_workers(t, now)) != NULL) {
		json_array_foreach(wk, i, w) {
			if (strcmp(tool_json_s(w, "state"), "live") == 0)
				live++;
			else
				stale++;
		}
		json_decref(wk);
	}
	fprintf(f, "all: %.1f deliveries/s", sum_d);
	if (rates)
		fprintf(f, ", %.1f requests/s", sum_r);
	fprintf(f, "; workers: %d live, %d stale\n", live, stale);
	if (!cur->ok)
		fprintf(f, "request figures not shown: %s\n", cur->why);
	json_decref(recent);
	json_decref(a);
	return 0;
}

/* Sleep ms unless a signal stops us first. */
static void
top_sleep(int64_t ms)
{
	struct timespec	 ts;
	int64_t		 end = clock_wall_ms() + ms, left;

	while (!top_stop && (left = end - clock_wall_ms()) > 0) {
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

int
cmd_top(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "once", no_argument, NULL, '1' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	struct top_sample	 s[2] = { { 0 }, { 0 } };
	struct sigaction	 sa;
	char			 err[512], *end;
	double			 iv = 1;
	int			 ch, cur = 0, frames = 0, rc = TOOL_EXIT_OK;
	bool			 once = false, tty;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&top_c, true);
		case '1':
			once = true;
			break;
		case 'i':
			iv = strtod(optarg, &end);
			if (*end != '\0' || !(iv >= 0.1 && iv <= 3600)) {
				tool_err("top: --interval %s: seconds from 0.1 "
				    "to 3600", optarg);
				return tool_usage(&top_c, false);
			}
			break;
		default:
			return tool_badopt(&top_c, argv, ch);
		}
	}
	if (optind != argc) {
		tool_err("top: unexpected argument %s", argv[optind]);
		return tool_usage(&top_c, false);
	}
	if (tool_conf_lenient(t, "top") == -1 ||
	    tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	if (t->conf != NULL && conf_load_listen_token(t->conf, err,
	    sizeof(err)) == -1)
		tool_warn("top: %s: request figures not shown", err);
	tty = !once && isatty(STDOUT_FILENO);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = top_sig;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	top_fetch(t, &s[0]);
	top_sleep((int64_t)(iv * 1000));
	while (!top_stop) {
		cur ^= 1;
		top_fetch(t, &s[cur]);
		if (tty)
			fputs("\033[H\033[2J", stdout);
		else if (frames > 0)
			fputc('\n', stdout);
		frames++;
		if (top_frame(t, stdout, &s[cur ^ 1], &s[cur]) == -1) {
			rc = TOOL_EXIT_FAIL;
			break;
		}
		fflush(stdout);
		if (once)
			break;
		top_sleep((int64_t)(iv * 1000));
	}
	top_sample_free(&s[0]);
	top_sample_free(&s[1]);
	return rc;
}
