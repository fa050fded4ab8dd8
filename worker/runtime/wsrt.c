/*
 * wsrt: see wsrt.h.
 *
 * Each job sends one request at a time through its workspace's queue;
 * ws_pump sends as the limiter allows, up to the in-flight target that
 * ws_size derives from the announced rate limit and the measured round
 * trip (Little's law; max_inflight caps it).  Interactive reads go ahead
 * of the drain within a share of the window; warm-ups and search-lag
 * samples go last.
 *
 * Failure that is not the record's fault costs it nothing: an outage
 * opens the workspace's breaker (records go back to pending, refunded,
 * and a GET /me probe runs every 0.5-1 s, PROBE_MS); a 401/403 pauses
 * the workspace until its token file changes or SIGHUP.
 *
 * What the job and API layers do with an answer is theirs: this file
 * calls them only through the hooks of struct rt (rt.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "fdlimit.h"
#include "ident.h"
#include "intercom.h"
#include "log.h"
#include "ops.h"
#include "rt_impl.h"
#include "store.h"
#include "wsrt_impl.h"
#include "wscheck.h"

/*
 * Outage probes: one GET /me on a fresh connection every 0.5-1 s
 * (jittered, so workers do not probe in step), no backoff.  A restored
 * link is seen within a second and the send queue refills at once
 * (ws_ready kicks the claim); a probe is one request on a link that
 * carries nothing else meanwhile, so a backoff (it was 1..10 s: 10.5 s
 * from restore to the first request in BENCHMARKS.md) only delayed the
 * recovery.
 */
#define PROBE_MS	1000
#define NETFAIL_OUTAGE	3	/* consecutive transport failures = outage */
#define INFLIGHT_START	8	/* until an answer tells the limit and RTT */
/* Out of file descriptors (fdlimit.h): wait this long before sending
 * again (rt.c: FD_FULL_MS while the cap on requests in flight is
 * reached). */
#define FD_SHORT_MS	250
#define INFLIGHT_ROOM	1.25	/* headroom over rate x round trip */
#define INFLIGHT_SPARE	2	/* ...plus this many (a slow answer) */
#define WAIT_LOG_MS	5000	/* a rate-limit wait longer is logged */

static void	ws_foreign(struct wsrt *, const struct http_req *, bool);
static enum verdict ws_feed(struct wsrt *, struct http_req *);

static const char *
ws_state_name(enum ws_state s)
{
	switch (s) {
	case WS_OUTAGE:
		return "open";
	default:
		return "closed";
	}
}

/* Persist what `callsync status` shows about this workspace. */
void
ws_save(struct wsrt *ws)
{
	struct rt	*rt = ws->rt;
	struct store_ws_save s;
	int64_t		 now = clock_mono_ms(), rl = 0;

	/* The limiter runs on the monotonic clock; status wants a date. */
	if (ws->lim.blocked_until > now)
		rl = clock_wall_s() + (ws->lim.blocked_until - now + 999) / 1000;

	/* 0 and NULL: stored as none (store_ws_state_save). */
	memset(&s, 0, sizeof(s));
	s.breaker = ws_state_name(ws->state);
	if (ws->state == WS_OUTAGE)
		s.breaker_since = ws->state_since;
	if (rl > clock_wall_s())
		s.rate_limited_until = rl;
	s.paused = ws->state == WS_PAUSED;
	if (ws->state == WS_PAUSED)
		s.pause_reason = ws->pause_reason;
	if (ws->delivered > 0)
		s.last_delivery_at = clock_wall_s();
	s.worker = rt->owner;
	if (store_ws_state_save(&rt->db, ws->name, &s) == 0) {
		ws->delivered = 0;
		ws->dirty = false;
		ws->saved_at = clock_wall_s();
	}
}

static void
ws_set_state(struct wsrt *ws, enum ws_state s)
{
	ws->state = s;
	ws->state_since = clock_wall_s();
	ws->dirty = true;
	ws_save(ws);
}

static void
ws_arm(struct wsrt *ws, int64_t ms)
{
	struct timeval	 tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ws->wake, &tv);
}

/*
 * Requests of ws wait for the limiter until the monotonic time until: a
 * wait of more than WAIT_LOG_MS (half of Intercom's window: even pacing
 * never waits that long) gets one line, so that no rate-limit stall is
 * silent; the same wait seen again by the next pump does not.
 */
static void
ws_wait_log(struct wsrt *ws, int64_t now, int64_t until)
{
	if (until - now <= WAIT_LOG_MS || until <= ws->wait_logged)
		return;
	ws->wait_logged = until;
	log_notice("%s: rate limited: waiting %" PRId64 " s for Intercom's "
	    "next window", ws->name, (until - now + 500) / 1000);
}

/* Give every queued job of ws back to the outbox, refunded. */
void
ws_release_queued(struct wsrt *ws, const char *class, const char *why)
{
	struct job_link	*l;

	while ((l = TAILQ_FIRST(&ws->sendq)) != NULL) {
		TAILQ_REMOVE(&ws->sendq, l, q);
		l->queued = false;
		ws->rt->hooks.release(l, class, why);
	}
}

void
ws_enqueue(struct wsrt *ws, struct job_link *l)
{
	/* An intent written in the open group is not durable yet: nothing
	 * leaves before the group commits (rt_tx_flush sends it). */
	if (ws->rt->tx_open) {
		TAILQ_INSERT_TAIL(&ws->rt->held, l, q);
		l->held = true;
		return;
	}
	if (ws->state != WS_READY) {
		ws->rt->hooks.release(l, ws->state != WS_PAUSED ?
		    "outage" : ws->pause_config ? "config" : "auth",
		    "workspace not available");
		return;
	}
	TAILQ_INSERT_TAIL(&ws->sendq, l, q);
	l->queued = true;
	ws_pump(ws);
}

/* ------------------------------------------------------------------ */
/* interactive reads: ahead of the drain, within a share of the window  */

/*
 * The rate budget is shared.  A read (a voice agent waiting for caller
 * context) is sent before any queued job, without waiting for the
 * drain's even pacing: it only charges the limiter, which pushes the
 * drain's next send back, so the drain yields.  Reads may jump this way
 * for at most context_share percent of a 10-s window's budget; past
 * that they wait for the next window (their deadline answers from the
 * cache meanwhile), so a burst of calls cannot take the drain's whole
 * window either.  Reads never wait for a free max_inflight slot: they
 * are few (at most four per context request) and latency-bound.
 */
static void
ws_read_done_cb(struct http_req *r, void *arg)
{
	struct ws_read	*rd = arg;
	struct wsrt	*ws = rd->ws;
	enum verdict	 v;

	ws->inflight--;
	ws->rt->n_requests++;
	v = ws_feed(ws, r);
	if (v == V_OK && r->too_big)
		v = V_MALFORMED;
	/* Transport failures are the lane's, whoever asked; a 401/403 on
	 * a read may be a missing scope (tickets, articles): that read
	 * fails, the drain is not paused for it. */
	if (v == V_FOREIGN)
		ws_foreign(ws, r, false);
	else if (v == V_OUTAGE || v == V_NETFAIL || v == V_OK)
		ws_netresult(ws, v);
	rd->done(rd, v);
	ws_pump(ws);
}

/* Reads that may still jump the drain in this window. */
static long
ws_read_room(struct wsrt *ws, int64_t now)
{
	long	 budget = limiter_budget(&ws->lim);

	if (now - ws->rd_win_start >= 10000) {
		ws->rd_win_start = now;
		ws->rd_win_n = 0;
	}
	if (budget <= 0)
		return 1;	/* the server has not said: no share to keep */
	return budget * ws->rt->conf->context_share / 100 - ws->rd_win_n;
}

/* The queue rd waits in: interactive, warm-up or search-lag sample. */
static struct readq *
ws_readq_of(struct wsrt *ws, const struct ws_read *rd)
{
	return rd->lag ? &ws->lagq : rd->warm ? &ws->warmq : &ws->readq;
}

static void
ws_read_flush(struct wsrt *ws)
{
	struct ws_read	*rd;

	while ((rd = TAILQ_FIRST(&ws->readq)) != NULL ||
	    (rd = TAILQ_FIRST(&ws->warmq)) != NULL ||
	    (rd = TAILQ_FIRST(&ws->lagq)) != NULL) {
		TAILQ_REMOVE(ws_readq_of(ws, rd), rd, q);
		rd->queued = false;
		rd->req->sent_ms = 0;
		rd->done(rd, V_OUTAGE);
	}
}

int
ws_read(struct wsrt *ws, struct ws_read *rd)
{
	if (ws->state != WS_READY || ws->rt->stopping)
		return -1;
	rd->ws = ws;
	TAILQ_INSERT_TAIL(ws_readq_of(ws, rd), rd, q);
	rd->queued = true;
	ws_pump(ws);
	return 0;
}

void
ws_read_cancel(struct ws_read *rd)
{
	if (rd->queued) {
		TAILQ_REMOVE(ws_readq_of(rd->ws, rd), rd, q);
		rd->queued = false;
	}
}

/*
 * The drain leaves a twentieth of a window's budget (at least 2 requests)
 * to interactive reads: when the server's count of remaining requests
 * reaches that reserve, the drain waits for the window's reset.  Reads
 * already sent in the window count against the reserve first, so the
 * drain gives up max(reserve, reads) of each window, not their sum: with
 * calls arriving steadily, the drain keeps 0.95 of the limit less what
 * the reads beyond the reserve take.  Without a reserve, a drain paced to
 * the full budget would run the window dry and a caller arriving late in
 * it would wait for the next one.  Returns when the drain may send, <=
 * now when it may send now.
 */
static int64_t
ws_drain_reserve(struct wsrt *ws, int64_t now)
{
	long	 budget = limiter_budget(&ws->lim);
	long	 reserve = budget / 20 > 2 ? budget / 20 : 2;

	if (now - ws->rd_win_start < 10000)
		reserve -= ws->rd_win_n;	/* reads took it already */
	if (budget <= 0 || reserve <= 0 || ws->lim.remaining < 0 ||
	    ws->lim.reset_ms <= now || ws->lim.remaining > reserve)
		return now;
	return ws->lim.reset_ms;
}

/*
 * Send waiting reads.  When one must wait, the monotonic time it may go
 * (the wake timer is armed for it), else 0.
 */
static int64_t
ws_pump_reads(struct wsrt *ws)
{
	struct ws_read	*rd;
	int64_t		 now;

	while (ws->state == WS_READY && (rd = TAILQ_FIRST(&ws->readq)) !=
	    NULL) {
		now = clock_mono_ms();
		if (ws->lim.blocked_until > now) {	/* 429 or none left */
			ws_wait_log(ws, now, ws->lim.blocked_until);
			ws_arm(ws, ws->lim.blocked_until - now);
			return ws->lim.blocked_until;
		}
		if (!rd->poll && ws_read_room(ws, now) <= 0) {
			ws_arm(ws, ws->rd_win_start + 10000 - now);
			return ws->rd_win_start + 10000;
		}
		TAILQ_REMOVE(&ws->readq, rd, q);
		rd->queued = false;
		rd->req->done = ws_read_done_cb;
		rd->req->arg = rd;
		ws->rd_win_n += !rd->poll;	/* polling keeps its own share */
		limiter_sent(&ws->lim, now);
		ws->st.sent_context += !rd->poll;
		if (http_submit(ws->rt->http, rd->req) == -1) {
			log_warnx("%s: cannot start a context read: %s",
			    ws->name, rd->req->errbuf);
			rd->req->sent_ms = 0;
			rd->done(rd, V_OUTAGE);
			continue;
		}
		ws->inflight++;
	}
	return 0;
}

/*
 * Warm-up reads (context.c refreshing recent callers' contexts) go last:
 * only when no interactive read and no record waits, on the drain's
 * pacing, never into the reserve the drain keeps for interactive reads,
 * and paced to context_warm_share percent of a window's budget (10 a
 * window when the server has not said), so they cannot starve either.
 */
static void
ws_pump_warm(struct wsrt *ws)
{
	struct ws_read	*rd;
	int64_t		 now, t;
	long		 n;

	while (ws->state == WS_READY && TAILQ_EMPTY(&ws->readq) &&
	    TAILQ_EMPTY(&ws->sendq) && ws->inflight < ws->target &&
	    (rd = TAILQ_FIRST(&ws->warmq)) != NULL) {
		now = clock_mono_ms();
		if ((t = limiter_when(&ws->lim, now)) <= now &&
		    (t = ws_drain_reserve(ws, now)) <= now)
			t = ws->wm_next;
		if (t > now) {
			/* Never moves another wait: a pending wake pumps. */
			if (!evtimer_pending(ws->wake, NULL))
				ws_arm(ws, t - now);
			return;
		}
		n = limiter_budget(&ws->lim) * ws->rt->conf->context_warm_share /
		    100;
		ws->wm_next = now + 10000 / (limiter_budget(&ws->lim) <= 0 ?
		    10 : n > 0 ? n : 1);
		TAILQ_REMOVE(&ws->warmq, rd, q);
		rd->queued = false;
		rd->req->done = ws_read_done_cb;
		rd->req->arg = rd;
		limiter_sent(&ws->lim, now);
		ws->st.sent_warm++;
		if (http_submit(ws->rt->http, rd->req) == -1) {
			rd->req->sent_ms = 0;
			rd->done(rd, V_OUTAGE);
			continue;
		}
		ws->inflight++;
	}
}

/*
 * Search-lag samples (lag.c) go as warm-ups do: only when no
 * interactive read and no record waits, on the drain's pacing, never
 * into the reserve the drain keeps for interactive reads, so they never
 * delay a delivery; ahead of the warm-ups (a look's time is what it
 * measures); and at most lag_room (search_lag_share percent of a
 * window's budget, lag.c: hooks.sampler_room) in a 10-s window.
 */
static void
ws_pump_lag(struct wsrt *ws)
{
	struct ws_read	*rd;
	int64_t		 now, t;

	while (ws->state == WS_READY && TAILQ_EMPTY(&ws->readq) &&
	    TAILQ_EMPTY(&ws->sendq) && ws->inflight < ws->target &&
	    (rd = TAILQ_FIRST(&ws->lagq)) != NULL) {
		now = clock_mono_ms();
		if (now - ws->lg_win_start >= 10000) {
			ws->lg_win_start = now;
			ws->lg_win_n = 0;
		}
		if ((t = limiter_when(&ws->lim, now)) <= now &&
		    (t = ws_drain_reserve(ws, now)) <= now &&
		    ws->lg_win_n >= ws->rt->hooks.sampler_room(
		    limiter_budget(&ws->lim), ws->cw->search_lag_share))
			t = ws->lg_win_start + 10000;
		if (t > now) {
			/* Never moves another wait: a pending wake pumps. */
			if (!evtimer_pending(ws->wake, NULL))
				ws_arm(ws, t - now);
			return;
		}
		TAILQ_REMOVE(&ws->lagq, rd, q);
		rd->queued = false;
		rd->req->done = ws_read_done_cb;
		rd->req->arg = rd;
		ws->lg_win_n++;
		limiter_sent(&ws->lim, now);
		ws->st.sent_lag++;
		if (http_submit(ws->rt->http, rd->req) == -1) {
			rd->req->sent_ms = 0;
			rd->done(rd, V_OUTAGE);
			continue;
		}
		ws->inflight++;
	}
}

/*
 * A request failed for want of a file descriptor (EMFILE, ENFILE: the
 * socket was never made, nothing was sent).  Back-pressure: every
 * workspace holds new requests for FD_SHORT_MS, this one is sent again
 * (V_THROTTLED: no attempt charged, no breaker, its intent void), and
 * one line says so per episode.
 */
static enum verdict
ws_fd_refused(struct wsrt *ws, const struct http_req *r)
{
	struct rt	*rt = ws->rt;

	rt->fd_short_until = clock_mono_ms() + FD_SHORT_MS;
	if (rt->fd_short_n++ == 0)
		log_warnx("out of file descriptors: %s: %s: %s (%d requests "
		    "in flight, open-file limit %ld); requests wait and are "
		    "sent again: this box's limit, not an Intercom outage",
		    ws->name, r->method, strerror((int)r->os_errno),
		    http_active(rt->http), fdlimit_soft());
	return V_THROTTLED;
}

/* Send queued requests while slots and the limiter allow.  Called when
 * a request is queued, when the limiter's timer fires, and when an
 * answer frees a slot (else a queue could wait forever).  Interactive
 * reads go first (ws_pump_reads). */
void
ws_pump(struct wsrt *ws)
{
	struct job_link	*l;
	int64_t		 now, t, rwake;

	rwake = ws_pump_reads(ws);
	limiter_slack(&ws->lim, 2 * ws->rt->commit_ms);
	while (ws->state == WS_READY && (l = TAILQ_FIRST(&ws->sendq)) != NULL &&
	    ws->inflight < ws->target) {
		now = clock_mono_ms();
		if (rt_fd_full(ws->rt, now)) {
			ws_arm(ws, rt_fd_wait(ws->rt, now));
			return;
		}
		if ((t = limiter_when(&ws->lim, now)) > now ||
		    (t = ws_drain_reserve(ws, now)) > now) {
			/* One timer: the earlier of the two waits. */
			ws_wait_log(ws, now, t);
			ws_arm(ws, (rwake > 0 && rwake < t ? rwake : t) - now);
			if (t - now > 2000 && !ws->dirty) {
				ws->dirty = true;	/* status shows the wait */
				ws_save(ws);
			}
			return;
		}
		TAILQ_REMOVE(&ws->sendq, l, q);
		l->queued = false;
		limiter_sent(&ws->lim, now);
		ws->st.sent_drain++;
		if (http_submit(ws->rt->http, l->req) == -1) {
			/* Never handed to libcurl: its intent is void. */
			log_warnx("%s: cannot start a transfer: %s", ws->name,
			    l->req->errbuf);
			ws->rt->hooks.release(l, "internal",
			    "cannot start a transfer");
			continue;
		}
		ws->rt->hooks.sent(l);
		ws->inflight++;
	}
	ws_pump_lag(ws);
	ws_pump_warm(ws);
}

void
ws_outage(struct wsrt *ws, const char *why)
{
	if (ws->state == WS_OUTAGE)
		return;
	/* ws_foreign: why is the whole story (who answered instead). */
	if (strncmp(why, "the network answered", 20) == 0)
		snprintf(ws->outage_why, sizeof(ws->outage_why), "%s", why);
	else
		snprintf(ws->outage_why, sizeof(ws->outage_why), "Intercom "
		    "unreachable (%s)", why);
	if (strncmp(why, "the network answered", 20) == 0)
		log_warnx("%s: %s; holding records, probing every second",
		    ws->name, why);
	else
		log_warnx("%s: intercom unreachable (%s); holding records, "
		    "probing every second", ws->name, why);
	ws_set_state(ws, WS_OUTAGE);
	ws_release_queued(ws, "outage", why);
	ws_read_flush(ws);
	ws_arm(ws, (int64_t)(PROBE_MS * (0.5 + rt_rand() / 2)));
}

void
ws_pause(struct wsrt *ws, long status, const char *why)
{
	struct stat	 sb;

	/* A token refused while paused on a setting (a re-check's GET)
	 * is a token pause from now on. */
	if (ws->state == WS_PAUSED && !ws->pause_config)
		return;
	log_warnx("%s: PAUSED: Intercom rejected the token (HTTP %ld: %s); "
	    "no record is dead-lettered; fix the token, then change the "
	    "token file or send SIGHUP", ws->name, status, why);
	ws->pause_config = false;
	ws->pause_proxy = false;
	snprintf(ws->pause_reason, sizeof(ws->pause_reason), "token rejected "
	    "(401/403): waiting for a new token (token file change or "
	    "SIGHUP)");
	ws_set_state(ws, WS_PAUSED);
	ws_release_queued(ws, "auth", why);
	ws_read_flush(ws);
	ws->token_mtime = 0;
	if (ws->cw->token_file != NULL && stat(ws->cw->token_file, &sb) == 0)
		ws->token_mtime = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
		    sb.st_mtim.tv_nsec;
	ws_arm(ws, 2000);
}

/*
 * A proxy asks for credentials (HTTP 407, to the tunnel or the request):
 * the site's configuration, neither Intercom nor the records.  The
 * workspace pauses as for a setting Intercom contradicts (pause_config:
 * records stay pending, no attempt charged, /healthz and status say
 * why), and tries again every config_recheck, or at once on SIGHUP.
 * The line names the proxy without its credentials, never the token.
 */
static void
ws_pause_proxy(struct wsrt *ws)
{
	int64_t	 ms = (int64_t)ws->cw->config_recheck * 1000;
	char	 proxy[256], reason[sizeof(ws->pause_reason)];

	conf_ws_proxy_show(ws->cw, proxy, sizeof(proxy));
	snprintf(reason, sizeof(reason), "the proxy %s answered HTTP 407 "
	    "(Proxy Authentication Required)", proxy);
	ws->recheck_at = clock_mono_ms() + ms;
	ws->pause_proxy = true;
	if (ws->state == WS_PAUSED && ws->pause_config &&
	    strcmp(ws->pause_reason, reason) == 0) {
		ws_arm(ws, ms);
		return;
	}
	log_warnx("%s: PAUSED: %s; no record is written or dead-lettered; "
	    "give the proxy's user and password (proxy = "
	    "http://USER:PASSWORD@HOST:PORT in the workspace, or "
	    "https_proxy), then reload (checked again every %lld s)",
	    ws->name, reason, (long long)ws->cw->config_recheck);
	ws->pause_config = true;
	memcpy(ws->pause_reason, reason, sizeof(reason));
	ws_set_state(ws, WS_PAUSED);
	ws_release_queued(ws, "config", reason);
	ws_read_flush(ws);
	ws_arm(ws, ms);
}

/*
 * The network answered instead of Intercom (retry_foreign: a captive
 * portal, a middlebox, a proxy): not the record's fault, and Intercom
 * was not reached.  Like an outage, the breaker opens (records go back
 * refunded, GET /me probes until Intercom answers) and one line says who
 * answered; a proxy wanting credentials pauses instead (ws_pause_proxy).
 * probe: r was the breaker's own probe or a boot check, which re-arms.
 */
static void
ws_foreign(struct wsrt *ws, const struct http_req *r, bool probe)
{
	ws->netfails = 0;
	if (r->status == 407 || r->connect_status == 407)
		ws_pause_proxy(ws);
	else if (ws->state != WS_OUTAGE)
		ws_outage(ws, r->errbuf);
	else if (probe)
		ws_arm(ws, (int64_t)(PROBE_MS * (0.5 + rt_rand() / 2)));
}

/*
 * How many requests ws keeps on the wire (ws->target).  By Little's law
 * a sender that must reach rate R with answers taking T needs R x T
 * requests in flight: 10,000/min at 0.15 s is 25, 25,000/min at 0.3 s is
 * 125.  A fixed number is wrong somewhere (the old default of 8 reached
 * 0.3 of 10,000/min at 150 ms), so the target follows the limit the
 * server announces (X-RateLimit-Limit per 10-s window, or our own
 * rate_limit when lower) and the smoothed round trip of every answer,
 * with 25% + 2 of headroom for slow answers.  Sending more would gain
 * nothing: the limiter paces sends to the limit whatever the target, and
 * extra claims only hold leases.  max_inflight caps it (a pathological
 * round trip must not open thousands of connections).  Before the first
 * answer the target is INFLIGHT_START, so a burst cannot overrun a
 * limit not yet known; a server that announces no limit gets the cap.
 */
static void
ws_size(struct wsrt *ws)
{
	int	 cap = ws->cw->max_inflight, t;
	double	 rate = limiter_rate(&ws->lim);

	/* A short open-file limit (fdlimit.h) caps it too. */
	if (ws->rt->fd_ws_cap > 0 && cap > ws->rt->fd_ws_cap)
		cap = ws->rt->fd_ws_cap;

	if (ws->rtt_ms <= 0)
		t = INFLIGHT_START;
	else if (rate <= 0)
		t = cap;
	else
		t = (int)(rate * ws->rtt_ms / 1000.0 * INFLIGHT_ROOM + 0.999) +
		    INFLIGHT_SPARE;
	if (t > cap)
		t = cap;
	if (t < 1)
		t = 1;
	if (t != ws->target)
		log_debug("%s: %d requests in flight (round trip %.0f ms, "
		    "%.1f requests/s allowed)", ws->name, t, ws->rtt_ms, rate);
	if (t > ws->target && ws->target > 0) {
		ws->target = t;
		rt_kick(ws->rt);	/* claim for the new room */
		return;
	}
	ws->target = t;
}

/*
 * What every answer of ws tells, a job's or the workspace's own (boot
 * checks, probes): counted for /metrics, fed to the limiter and the
 * round-trip average, classified.
 */
static enum verdict
ws_feed(struct wsrt *ws, struct http_req *r)
{
	enum verdict	 v;

	stats_request(&ws->st, r->method, r->url,
	    r->cc == CURLE_OK ? r->status : 0, r->duration_ms / 1000.0);
	v = retry_classify(r->cc, r->status);
	/* A connect that timed out never reached Intercom: an outage. */
	if (v == V_NETFAIL && r->unsent)
		v = V_OUTAGE;
	/* A captive portal or a proxy answering in Intercom's place. */
	if (v != V_THROTTLED && retry_foreign(r->cc, r->status,
	    r->connect_status, r->ctype, r->location, r->resp, r->resplen,
	    r->errbuf, sizeof(r->errbuf)))
		v = V_FOREIGN;
	/* A reset beyond the window (http.c capped it): said once. */
	if (r->rl_reset_epoch > 0 && r->rl_wait_ms > HTTP_RL_WAIT_MAX_MS) {
		if (!ws->rl_capped)
			log_warnx("%s: Intercom's answer puts the rate-limit "
			    "reset %" PRId64 " s away (its window is 10 s; "
			    "a wrong clock or a proxy?): waiting at most "
			    "%d s", ws->name, (r->rl_wait_ms + 999) / 1000,
			    HTTP_RL_WAIT_MAX_MS / 1000);
		ws->rl_capped = true;
	} else if (r->rl_reset_epoch > 0)
		ws->rl_capped = false;
	limiter_update(&ws->lim, clock_mono_ms(), r->rl_limit, r->rl_remaining,
	    r->rl_reset, v == V_THROTTLED, rt_rand() * 2000.0);
	if (r->cc != CURLE_OK && fdlimit_errno((int)r->os_errno))
		return ws_fd_refused(ws, r);
	if (v == V_OK && ws->rt->fd_short_n > 0 &&
	    clock_mono_ms() >= ws->rt->fd_short_until) {
		log_notice("file descriptors available again (%ld requests "
		    "had to wait)", ws->rt->fd_short_n);
		ws->rt->fd_short_n = 0;
	}
	/* Only answers: a timeout measures the timeout, not the link. */
	if (r->cc == CURLE_OK && r->duration_ms > 0)
		ws->rtt_ms = ws->rtt_ms <= 0 ? (double)r->duration_ms :
		    ws->rtt_ms + ((double)r->duration_ms - ws->rtt_ms) / 8.0;
	ws_size(ws);
	return v;
}

/*
 * An answer (or a failure) of one of ws's requests came back: free its
 * slot, feed the limiter and the breaker, and classify it.  The only
 * place that changes a workspace's in-flight count, pacing and breaker
 * for job requests.
 */
enum verdict
ws_answered(struct wsrt *ws, struct http_req *req)
{
	enum verdict	 v;

	ws->inflight--;
	ws->rt->n_requests++;
	v = ws_feed(ws, req);
	if (v == V_OK && req->too_big)
		v = V_MALFORMED;
	if (v == V_FOREIGN)
		ws_foreign(ws, req, false);
	else
		ws_netresult(ws, v);
	return v;
}

void
ws_netresult(struct wsrt *ws, enum verdict v)
{
	if (v == V_OUTAGE) {
		ws_outage(ws, "connection failed");
		return;
	}
	if (v == V_NETFAIL) {
		if (++ws->netfails >= NETFAIL_OUTAGE)
			ws_outage(ws, "repeated timeouts or resets");
		return;
	}
	ws->netfails = 0;
}

/* ------------------------------------------------------------------ */
/* workspace-level requests: boot checks and outage probes              */

/*
 * Headers, timeouts and CA of a request to cw's Intercom, from the
 * configuration as it is now.  The token goes only into the header list,
 * which is never logged; the formatting buffer is wiped.
 */
int
ws_prepare(const struct conf_ws *cw, struct http_req *r)
{
	char	 hdr[4200];
	int	 n;

	n = snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
	    cw->token ? cw->token : "");
	r->headers = curl_slist_append(r->headers, hdr);
	/* Only what snprintf wrote holds the token: wiping all 4200 bytes
	 * per request cost 1.7% of the worker's instructions. */
	explicit_bzero(hdr, n < 0 || (size_t)n >= sizeof(hdr) ? sizeof(hdr) :
	    (size_t)n + 1);
	snprintf(hdr, sizeof(hdr), "Intercom-Version: %s", cw->intercom_version);
	r->headers = curl_slist_append(r->headers, hdr);
	r->headers = curl_slist_append(r->headers, "Accept: application/json");
	if (r->body != NULL)
		r->headers = curl_slist_append(r->headers,
		    "Content-Type: application/json");
	r->timeout_s = cw->request_timeout;
	r->connect_timeout_s = cw->connect_timeout;
	if (r->headers == NULL || http_req_set_ca(r, cw->ca_file) == -1 ||
	    http_req_set_proxy(r, conf_ws_proxy(cw)) == -1)
		return -1;
	return 0;
}

static struct http_req *
ws_request(struct wsrt *ws, const char *path,
    void (*done)(struct http_req *, void *))
{
	struct http_req	*r;
	char		 url[512];

	snprintf(url, sizeof(url), "%s%s", ws->cw->api_base, path);
	if ((r = http_req_new("GET", url)) == NULL)
		return NULL;
	if (ws_prepare(ws->cw, r) == -1) {
		http_req_free(r);
		return NULL;
	}
	/* A probe must prove that new connections get through, not ride
	 * one kept alive from before the outage. */
	r->fresh = 1;
	r->done = done;
	r->arg = ws;
	if (http_submit(ws->rt->http, r) == -1) {
		http_req_free(r);
		return NULL;
	}
	return r;
}

static void
ws_ready(struct wsrt *ws)
{
	if (ws->state == WS_OUTAGE)
		log_warnx("%s: intercom reachable again; resuming", ws->name);
	else if (ws->pause_proxy)
		log_warnx("%s: the proxy lets requests through again; resuming",
		    ws->name);
	if (ws->pause_proxy) {
		ws->pause_proxy = false;
		ws->pause_config = false;
	}
	ws->netfails = 0;
	ws->boot_failures = 0;
	ws_set_state(ws, WS_READY);
	rt_kick(ws->rt);
}

/* Common verdict handling of boot and probe answers; 1 if handled. */
static int
ws_answer_failed(struct wsrt *ws, struct http_req *r, enum verdict v)
{
	if (v == V_OUTAGE || v == V_NETFAIL) {
		if (ws->state != WS_OUTAGE)
			ws_outage(ws, r->errbuf[0] ? r->errbuf :
			    curl_easy_strerror(r->cc));
		else
			ws_arm(ws, (int64_t)(PROBE_MS * (0.5 +
			    rt_rand() / 2)));
		return 1;
	}
	if (v == V_AUTH) {
		ws_pause(ws, r->status, "GET /me");
		return 1;
	}
	if (v == V_FOREIGN) {
		ws_foreign(ws, r, true);
		return 1;
	}
	if (v == V_THROTTLED || v == V_TRANSIENT || v == V_MALFORMED) {
		/* Reachable, just busy: try the check again shortly.  --drain
		 * counts the workspace as waiting meanwhile (exit 3). */
		ws->boot_failures++;
		ws_arm(ws, 2000);
		if (ws->rt->drain)
			rt_kick(ws->rt);
		return 1;
	}
	return 0;
}

/*
 * The common start of the boot-check handlers: feed the limiter and deal
 * with failures.  Fills *v and returns 0, or returns -1 when the answer
 * was handled here (r is then freed, and the chain of checks ends: the
 * outage probe, the retry timer or the pause starts it again).
 */
static int
ws_boot_answer(struct wsrt *ws, struct http_req *r, enum verdict *v)
{
	*v = ws_feed(ws, r);
	if (ws_answer_failed(ws, r, *v)) {
		ws->booting = false;
		http_req_free(r);
		return -1;
	}
	return 0;
}

/*
 * The boot checks, in order: GET /me (ws_boot), then each of these that
 * is still needed, then the verdict on the configuration (ws_checks_end).
 */
enum boot_stage { BS_ATTRS, BS_TAGS, BS_ADMINS, BS_TEAMS, BS_END };

static void	ws_boot_next(struct wsrt *, enum boot_stage);

/* Does cw route anything to a team (so GET /teams is worth asking)? */
static bool
ws_routes_teams(const struct conf_ws *cw)
{
	size_t	 i;

	for (i = 0; i < cw->nroutes; i++)
		if (cw->routes[i].kind == 't')
			return true;
	return cw->has_escalation && cw->escalation.kind == 't';
}

/*
 * A setting Intercom contradicts: pause ws, keep its records pending, and
 * say so in one line that names the setting, its value and what
 * Intercom answered.  The same reason again (a SIGHUP or a re-check
 * that fixed nothing) is not logged twice.  The checks run again every
 * config_recheck (ws_recheck): the operator may fix Intercom (create the
 * team) rather than the file, and no one would send SIGHUP for that.
 */
static void
ws_pause_config(struct wsrt *ws, const char *why)
{
	int64_t	 ms = (int64_t)ws->cw->config_recheck * 1000;
	char	 reason[sizeof(ws->pause_reason)];

	ws->recheck_at = clock_mono_ms() + ms;
	snprintf(reason, sizeof(reason), "configuration: %s", why);
	if (ws->state == WS_PAUSED && ws->pause_config &&
	    strcmp(ws->pause_reason, reason) == 0) {
		ws_arm(ws, ms);
		return;
	}
	ws->pause_proxy = false;
	log_warnx("%s: PAUSED: configuration does not match Intercom: %s; "
	    "no record is written or dead-lettered; fix the configuration, "
	    "then reload (kill -HUP or systemctl reload), or fix Intercom "
	    "(checked again every %lld s)", ws->name, why,
	    (long long)ws->cw->config_recheck);
	ws->pause_config = true;
	memcpy(ws->pause_reason, reason, sizeof(reason));
	ws_set_state(ws, WS_PAUSED);
	ws_release_queued(ws, "config", why);
	ws_arm(ws, ms);
}

/*
 * Paused on a setting: run the checks that can pause (GET /admins, GET
 * /teams) again once config_recheck has passed, staying paused meanwhile
 * (/healthz keeps answering 503); ws_checks_end resumes or re-arms.  A
 * re-check that met a busy Intercom (checked still false) is tried again
 * at once.
 */
static void
ws_recheck(struct wsrt *ws)
{
	int64_t	 now = clock_mono_ms();

	if (ws->booting)
		return;		/* on its way: its end re-arms */
	if (ws->checked && now < ws->recheck_at) {
		ws_arm(ws, ws->recheck_at - now);
		return;
	}
	ws->checked = false;
	ws->booting = true;
	ws->rechecking = true;
	ws_boot_next(ws, BS_ADMINS);
}

/* The last boot check: judge the configuration, then serve or pause. */
static void
ws_checks_end(struct wsrt *ws)
{
	char	 why[sizeof(ws->pause_reason) - 32];
	int	 n;

	ws->booting = false;
	if (ws->checked) {	/* an outage probe: judged already */
		ws_ready(ws);
		return;
	}
	/* An allowed attribute Intercom lacks costs only that attribute
	 * (each record's value for it is dropped, job_update.c): said, not
	 * a reason to hold every call; said again by a reload, not by each
	 * re-check of a paused workspace. */
	if (!ws->rechecking &&
	    wscheck_allowed(ws->cw, ws->attrs, why, sizeof(why)) > 0)
		log_warnx("%s: %s; records' values for %s are dropped (create "
		    "the attribute in Intercom or fix allowed_attributes, "
		    "then reload)", ws->name, why, strchr(why, ';') ?
		    "them" : "it");
	/* The lists stay: records' own assign is judged by them (ws_ids). */
	n = wscheck_config(ws->cw, ws->chk_admins, ws->chk_teams, why,
	    sizeof(why));
	ws->checked = true;
	ws->rechecking = false;
	if (n > 0) {
		ws_pause_config(ws, why);
		return;
	}
	if (ws->pause_config && !ws->pause_proxy)
		log_notice("%s: configuration matches Intercom again; resuming",
		    ws->name);
	ws->pause_config = false;
	ws_ready(ws);
}

/*
 * GET /admins or /teams answered 403: the token lacks the scope to read
 * them ("Read admins" in Intercom's Developer Hub; its scope list has no
 * separate one for teams).  Only the checks need that scope, so the
 * workspace is not paused for it: the settings those lists would judge
 * are not judged, which one line says (once, until a list is read).
 */
static void
ws_ids_forbidden(struct wsrt *ws, int k, json_t *o)
{
	char	 code[64], msg[256];

	if (ws->ids_warned[k])
		return;
	ws->ids_warned[k] = true;
	ic_error(o, code, sizeof(code), msg, sizeof(msg));
	if (k == 0)
		log_warnx("%s: GET /admins answered 403%s%s%s: the token lacks "
		    "the \"Read admins\" permission; admin_id and the routes "
		    "to admins are not checked; delivering", ws->name,
		    code[0] ? " (" : "", code, code[0] ? ")" : "");
	else
		log_warnx("%s: GET /teams answered 403%s%s%s: the token lacks "
		    "the permission to list teams (\"Read admins\"); the "
		    "routes to teams are not checked; delivering", ws->name,
		    code[0] ? " (" : "", code, code[0] ? ")" : "");
}

const json_t *
ws_ids(const struct wsrt *ws, char kind)
{
	return kind == 't' ? ws->chk_teams : ws->chk_admins;
}

bool
ws_flight_busy(const struct wsrt *ws, const char *key)
{
	json_t	*at = json_object_get(ws->flights, key);

	return at != NULL && clock_mono_ms() - json_integer_value(at) <
	    ((int64_t)ws->cw->request_timeout + ws->cw->settle_margin) * 1000;
}

void
ws_flight_set(struct wsrt *ws, const char *key, bool on)
{
	if (!on) {
		json_object_del(ws->flights, key);
		return;
	}
	if (ws->flights == NULL && (ws->flights = json_object()) == NULL)
		return;		/* out of memory: no sharing, still correct */
	json_object_set_new(ws->flights, key, json_integer(clock_mono_ms()));
}

const char *
ws_ids_key(char kind)
{
	return kind == 't' ? "GET /teams" : "GET /admins";
}

int
ws_ids_reread(struct wsrt *ws, char kind)
{
	int	 k = kind == 't';
	int64_t	 now = clock_mono_ms();

	if (ws_flight_busy(ws, ws_ids_key(kind)))
		return -1;
	if (ws->ids_read_ms[k] != 0 && now - ws->ids_read_ms[k] <
	    (int64_t)ws->cw->config_recheck * 1000)
		return 0;
	ws->ids_read_ms[k] = now;
	ws_flight_set(ws, ws_ids_key(kind), true);
	return 1;
}

void
ws_ids_learn(struct wsrt *ws, char kind, const struct http_req *r,
    json_t *o)
{
	int	 k = kind == 't';
	json_t	**ids = k ? &ws->chk_teams : &ws->chk_admins, *n;

	ws_flight_set(ws, ws_ids_key(kind), false);
	n = r->cc == CURLE_OK && r->status == 200 ?
	    wscheck_ids(o, k ? "teams" : "admins") : NULL;
	if (n != NULL) {
		json_decref(*ids);
		*ids = n;
		ws->ids_warned[k] = false;
	} else if (r->cc == CURLE_OK && r->status == 403) {
		json_decref(*ids);
		*ids = NULL;
		ws_ids_forbidden(ws, k, o);
	}
	/* Any other failure: the list as last read stands. */
}

/*
 * GET /admins or GET /teams: keep the ids for ws_checks_end.  An answer
 * that is neither a list nor a failure the boot checks handle (a 403
 * for a token without that scope, a 404) leaves the settings unjudged,
 * with a warning: only Intercom saying "no such admin/team" pauses.
 */
static void
ws_list_done(struct wsrt *ws, struct http_req *r, const char *key,
    json_t **ids, enum boot_stage next)
{
	enum verdict	 v;
	json_t		*o;
	int		 k = strcmp(key, "teams") == 0;

	v = ws_feed(ws, r);
	if (!(v == V_AUTH && r->status == 403) && ws_answer_failed(ws, r, v)) {
		ws->booting = false;
		http_req_free(r);
		return;
	}
	o = ic_parse(r->resp, r->resplen);
	json_decref(*ids);
	*ids = v == V_OK ? wscheck_ids(o, key) : NULL;
	if (*ids != NULL)
		ws->ids_warned[k] = false;
	else if (r->status == 403)
		ws_ids_forbidden(ws, k, o);
	else
		log_warnx("%s: GET /%s answered HTTP %ld without a list; the "
		    "%s of the configuration are not checked", ws->name, key,
		    r->status, key);
	json_decref(o);
	http_req_free(r);
	ws_boot_next(ws, next);
}

static void
ws_admins_done(struct http_req *r, void *arg)
{
	struct wsrt	*ws = arg;

	ws_list_done(ws, r, "admins", &ws->chk_admins, BS_TEAMS);
}

static void
ws_teams_done(struct http_req *r, void *arg)
{
	struct wsrt	*ws = arg;

	ws_list_done(ws, r, "teams", &ws->chk_teams, BS_END);
}

/*
 * GET /tags at boot fills the tag cache, so that jobs starting together
 * do not each create (create-or-get) the same tag before one answer lands.
 */
static void
ws_tags_done(struct http_req *r, void *arg)
{
	struct wsrt	*ws = arg;
	enum verdict	 v;
	json_t		*o, *data, *t;
	size_t		 i;
	char		 id[32];
	const char	*name;

	if (ws_boot_answer(ws, r, &v) == -1)
		return;
	o = ic_parse(r->resp, r->resplen);
	data = json_object_get(o, "data");
	if (v == V_OK && json_is_array(data) && db_begin(&ws->rt->db) == 0) {
		json_array_foreach(data, i, t)
			if ((name = ic_str(t, "name")) != NULL &&
			    ic_id(t, "id", id, sizeof(id)) != NULL)
				ident_tag_put(&ws->rt->db, ws->name, name, id);
		if (db_commit(&ws->rt->db) == -1)
			db_rollback(&ws->rt->db);
	}
	json_decref(o);
	http_req_free(r);
	ws->tags_loaded = true;
	ws_boot_next(ws, BS_ADMINS);
}

/* The contact attributes (name -> data_type): what jobs check a
 * record's attributes against, and the allowed_attributes check. */
static void
ws_attrs_done(struct http_req *r, void *arg)
{
	struct wsrt	*ws = arg;
	enum verdict	 v;
	json_t		*o, *data, *a;
	size_t		 i;
	const char	*name;

	if (ws_boot_answer(ws, r, &v) == -1)
		return;
	o = ic_parse(r->resp, r->resplen);
	data = json_object_get(o, "data");
	json_decref(ws->attrs);
	ws->attrs = NULL;
	ws->attrs_stale = false;
	if (v == V_OK && json_is_array(data)) {
		ws->attrs = json_object();
		json_array_foreach(data, i, a)
			if ((name = ic_str(a, "name")) != NULL)
				json_object_set_new(ws->attrs, name,
				    json_string(ic_str(a, "data_type") ?
				    ic_str(a, "data_type") : ""));
	} else
		log_warnx("%s: cannot list contact attributes (HTTP %ld); "
		    "sending all standard attributes", ws->name, r->status);
	json_decref(o);
	http_req_free(r);
	ws_boot_next(ws, BS_TAGS);
}

/* Start the first boot check from stage on that is still needed. */
static void
ws_boot_next(struct wsrt *ws, enum boot_stage stage)
{
	for (;; stage++) {
		switch (stage) {
		case BS_ATTRS:
			if ((ws->attrs == NULL || ws->attrs_stale) &&
			    ws_request(ws, "/data_attributes?model=contact",
			    ws_attrs_done) != NULL)
				return;
			break;
		case BS_TAGS:
			if (!ws->tags_loaded &&
			    ws_request(ws, "/tags", ws_tags_done) != NULL)
				return;
			break;
		case BS_ADMINS:
			if (!ws->checked &&
			    ws_request(ws, "/admins", ws_admins_done) != NULL) {
				ws->ids_read_ms[0] = clock_mono_ms();
				return;
			}
			break;
		case BS_TEAMS:
			if (!ws->checked && ws_routes_teams(ws->cw) &&
			    ws_request(ws, "/teams", ws_teams_done) != NULL) {
				ws->ids_read_ms[1] = clock_mono_ms();
				return;
			}
			break;
		default:
			ws_checks_end(ws);
			return;
		}
	}
}

static void
ws_me_done(struct http_req *r, void *arg)
{
	struct wsrt	*ws = arg;
	enum verdict	 v;

	v = ws_feed(ws, r);
	/* Intercom's /me names the token's admin and its app: another
	 * answer is someone else's (a portal's JSON, a middlebox). */
	if (v == V_OK && ic_me_check(r->resp, r->resplen) == -1) {
		v = V_FOREIGN;
		snprintf(r->errbuf, sizeof(r->errbuf), "the network answered "
		    "instead of Intercom (HTTP %ld to GET /me naming no admin "
		    "and app: captive portal or proxy?)", r->status);
	}
	ops_log_me(ws->name, r, v == V_FOREIGN, &ws->me_logged);
	if (ws_answer_failed(ws, r, v)) {
		ws->booting = false;
		http_req_free(r);
		return;
	}
	if (v == V_OK) {	/* teammate links in /v1/context; webhook app */
		ic_me_app_id(r->resp, r->resplen, ws->app_id,
		    sizeof(ws->app_id));
		if (ws->rt->hooks.app_known != NULL)
			ws->rt->hooks.app_known(ws->rt, ws);
	}
	if (v != V_OK)
		log_warnx("%s: GET /me answered HTTP %ld; carrying on", ws->name,
		    r->status);
	http_req_free(r);
	ws_boot_next(ws, BS_ATTRS);
}

void
ws_boot(struct wsrt *ws)
{
	int64_t	 now = clock_mono_ms();

	/* Checks and probes hold a descriptor too (fdlimit.h). */
	if (rt_fd_full(ws->rt, now)) {
		ws_arm(ws, rt_fd_wait(ws->rt, now));
		return;
	}
	ws->booting = true;
	ws->rechecking = false;		/* a whole boot check, not a re-check */
	if (ws_request(ws, "/me", ws_me_done) == NULL) {
		ws->booting = false;
		ws_arm(ws, 1000);
	}
}

static void
ws_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsrt	*ws = arg;
	struct stat	 sb;
	int64_t		 mt;
	char		 err[256];

	(void)fd;
	(void)what;
	if (ws->rt->stopping)
		return;
	switch (ws->state) {
	case WS_READY:
		ws_pump(ws);
		/* A SIGHUP's checks met a busy Intercom: try them again. */
		if (!ws->checked && !ws->booting)
			ws_boot(ws);
		break;
	case WS_BOOT:
	case WS_OUTAGE:
		/* The probe is the boot check; one chain of checks at a time
		 * (a second one would find the first's verdict and resume). */
		if (!ws->booting)
			ws_boot(ws);
		break;
	case WS_PAUSED:
		/* A proxy wanting credentials: the whole boot check again
		 * (it may have stopped the first one before /me). */
		if (ws->pause_proxy) {
			if (!ws->booting && clock_mono_ms() >= ws->recheck_at)
				ws_boot(ws);
			else if (!ws->booting)
				ws_arm(ws, ws->recheck_at - clock_mono_ms());
			break;
		}
		/* A configuration mistake: SIGHUP, or the re-check timer. */
		if (ws->pause_config) {
			ws_recheck(ws);
			break;
		}
		/* Watch the token file: a new token resumes the workspace. */
		mt = 0;
		if (ws->cw->token_file != NULL &&
		    stat(ws->cw->token_file, &sb) == 0)
			mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
			    sb.st_mtim.tv_nsec;
		if (mt != 0 && mt != ws->token_mtime) {
			if (conf_ws_load_token(ws->cw, err, sizeof(err)) == -1)
				log_warnx("%s: %s", ws->name, err);
			else {
				log_warnx("%s: token file changed; resuming",
				    ws->name);
				ws_set_state(ws, WS_BOOT);
				ws_boot(ws);
				break;
			}
			ws->token_mtime = mt;
		}
		ws_arm(ws, 2000);
		break;
	}
}

struct wsrt *
ws_add(struct rt *rt, struct conf_ws *cw)
{
	struct wsrt	**a, *ws;

	if ((a = reallocarray(rt->ws, rt->nws + 1, sizeof(*a))) == NULL)
		return NULL;
	rt->ws = a;
	if ((ws = calloc(1, sizeof(*ws))) == NULL)
		return NULL;
	ws->rt = rt;
	ws->cw = cw;
	snprintf(ws->name, sizeof(ws->name), "%s", cw->name);
	limiter_init(&ws->lim, cw->rate_limit);
	ws_size(ws);
	TAILQ_INIT(&ws->sendq);
	TAILQ_INIT(&ws->readq);
	TAILQ_INIT(&ws->warmq);
	TAILQ_INIT(&ws->lagq);
	ws->state = WS_BOOT;
	if ((ws->wake = evtimer_new(rt->base, ws_wake_cb, ws)) == NULL) {
		free(ws);
		return NULL;
	}
	if (rt->hooks.sampler_new != NULL &&
	    (ws->lag = rt->hooks.sampler_new(ws)) == NULL) {
		event_free(ws->wake);
		free(ws);
		return NULL;
	}
	rt->ws[rt->nws++] = ws;
	return ws;
}

void
ws_free(struct wsrt *ws)
{
	if (ws == NULL)
		return;
	if (ws->wake != NULL)
		event_free(ws->wake);
	if (ws->rt->hooks.sampler_free != NULL)
		ws->rt->hooks.sampler_free(ws->lag);	/* the loop has ended */
	json_decref(ws->attrs);
	json_decref(ws->chk_admins);
	json_decref(ws->chk_teams);
	json_decref(ws->flights);
	free(ws);
}

/*
 * admin_id, routes and allowed_attributes are checked against Intercom
 * again, with a fresh attribute list; a workspace that is delivering
 * keeps delivering meanwhile.
 */
void
ws_reload(struct wsrt *ws, struct conf_ws *cw, bool fresh)
{
	ws->cw = cw;
	ws->checked = false;
	ws->attrs_stale = true;
	if (fresh)
		ws_boot(ws);
	else if (ws->state == WS_PAUSED) {
		ws_set_state(ws, WS_BOOT);
		if (!ws->booting)	/* a re-check on its way judges */
			ws_boot(ws);
	} else if (ws->state == WS_READY && !ws->booting)
		ws_boot(ws);
}

/* State changes are saved at once; delivery times at most once a
 * second (each save is a commit: one fsync per record otherwise). */
void
ws_save_due(struct wsrt *ws)
{
	if (ws->dirty || (ws->delivered > 0 &&
	    ws->saved_at != clock_wall_s()))
		ws_save(ws);
}

struct wsrt *
ws_find(struct rt *rt, const char *name)
{
	size_t	 i;

	for (i = 0; name != NULL && i < rt->nws; i++)
		if (strcmp(rt->ws[i]->name, name) == 0)
			return rt->ws[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* what the jobs and the local API tell (wsrt.h)                        */

void
ws_count_delivered(struct wsrt *ws, int64_t enqueued_s)
{
	int64_t		 ms = clock_wall_ms();

	ws->rt->n_delivered++;
	ws->delivered++;
	/* /metrics: a delivery and its enqueue-to-delivery time (ms
	 * precision) */
	ws->st.delivered++;
	ws->st.last_delivery = ms / 1000;
	if (enqueued_s > 0 && clock_known(ms / 1000))
		stats_observe(&ws->st.e2e_lat, stats_e2e_bounds,
		    (double)ms / 1000 - (double)enqueued_s);
}

void
ws_count_dead(struct wsrt *ws, const char *reason)
{
	ws->rt->n_dead++;
	stats_label(ws->st.dead, reason);
}

void
ws_count_retry(struct wsrt *ws, const char *class)
{
	stats_label(ws->st.retries, class);
}

void
ws_wait_begin(struct wsrt *ws)
{
	ws->waiting++;
}

void
ws_wait_end(struct wsrt *ws)
{
	ws->waiting--;
}

void
ws_count_context(struct wsrt *ws, int src, double dur_s)
{
	ws->st.ctx_answers[src]++;
	stats_observe(&ws->st.ctx_lat, stats_ctx_bounds, dur_s);
}

bool
ws_claimed(struct wsrt *ws, size_t n, size_t room)
{
	bool	 short_of = n < room && ws->supplied;

	ws->supplied = n == room;
	return short_of;
}

bool
ws_attr_misfit(struct wsrt *ws)
{
	bool	 first = !ws->warned_attrs;

	ws->warned_attrs = true;
	return first;
}

void
ws_conv_attrs_refused(struct wsrt *ws)
{
	ws->conv_attrs_refused = clock_mono_ms();
}

void
ws_free_all(struct rt *rt)
{
	size_t	 i;

	for (i = 0; i < rt->nws; i++)
		ws_free(rt->ws[i]);
	free(rt->ws);
	rt->ws = NULL;
	rt->nws = 0;
}

/* ------------------------------------------------------------------ */
/* what the layers above read (wsrt.h)                                  */

const char *
ws_name(const struct wsrt *ws)
{
	return ws->name;
}

const struct conf_ws *
ws_conf(const struct wsrt *ws)
{
	return ws->cw;
}

bool
ws_is_ready(const struct wsrt *ws)
{
	return ws->state == WS_READY;
}

bool
ws_in_outage(const struct wsrt *ws)
{
	return ws->state == WS_OUTAGE;
}

bool
ws_offline(const struct wsrt *ws)
{
	return ws->state == WS_OUTAGE || ws->state == WS_PAUSED;
}

const char *
ws_app_id(const struct wsrt *ws)
{
	return ws->app_id;
}

const json_t *
ws_attrs(const struct wsrt *ws)
{
	return ws->attrs;
}

void *
ws_sampler(const struct wsrt *ws)
{
	return ws->lag;
}

bool
ws_conv_attrs_refused_within(const struct wsrt *ws, int64_t ms)
{
	return ws->conv_attrs_refused != 0 &&
	    clock_mono_ms() - ws->conv_attrs_refused < ms;
}

long
ws_rate_budget(const struct wsrt *ws)
{
	return limiter_budget(&ws->lim);
}

bool
ws_sort_ahead(const struct wsrt *ws)
{
	return ws->state != WS_READY || !ws->supplied;
}

int
ws_claim_room(const struct wsrt *ws)
{
	if (ws->state != WS_READY)
		return 0;
	/* Twice the in-flight target keeps the wire busy while jobs
	 * commit. */
	return ws->target * 2 - (ws->jobs - ws->waiting);
}

bool
ws_starting(const struct wsrt *ws)
{
	return ws->state == WS_BOOT && ws->boot_failures == 0;
}

const struct stats_ws *
ws_stats(const struct wsrt *ws)
{
	return &ws->st;
}

struct rt *
ws_rt(const struct wsrt *ws)
{
	return ws->rt;
}

void
ws_status(const struct wsrt *ws, struct ws_status *s)
{
	s->state = ws->state;
	s->since = ws->state_since;
	s->why = ws->state == WS_OUTAGE ? ws->outage_why :
	    ws->state == WS_PAUSED ? ws->pause_reason : "";
	s->pause_config = ws->pause_config;
	s->jobs = ws->jobs;
	s->inflight = ws->inflight;
	s->target = ws->target;
}
