/*
 * engine: see engine.h.
 *
 * Claiming: a poll timer (poll_interval_ms, and at once whenever a job
 * ends or a claim filled a whole batch with room left) first sorts new
 * records into lanes (dead-lettering the invalid ones before anything is
 * written), then claims up to twice the in-flight target per ready
 * workspace.  Each job sends one request at a time through its
 * workspace's queue (runtime/wsrt.c: ws_pump, paced by the limiter, up
 * to the in-flight target).
 *
 * Why one request per job, not a record's independent steps (tags,
 * attributes, assignment) at once: concurrency across records already
 * reaches the limit whenever the backlog has as many lanes as the target
 * (a caller's records stay in order, other callers' records fill the
 * wire), and a job with several requests on the wire would need several
 * intents and doubt clocks in flight and a journal merge per answer: the
 * exactly-once core would change for a gain only a backlog of one caller
 * shows.
 *
 * Writes are group-committed, one transaction per loop turn: see GROUP
 * COMMIT in runtime/tx.c.  The poll opens the turn's group.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "context.h"
#include "engine.h"
#include "fdlimit.h"
#include "httpd.h"
#include "job.h"
#include "lag.h"
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "outbox.h"
#include "poller.h"
#include "rt.h"
#include "tasks.h"
#include "wake.h"
#include "webhook.h"

#define GRACE_S		10	/* SIGTERM: wait this long for in-flight requests */

/*
 * The loop's own state: the event base, the configuration (loaded at
 * start and on a reload; the runtime borrows it: rt_configure); what
 * the layers below share is e->rt (rt.h), which the engine fills at
 * start and on a reload.
 */
struct engine {
	struct rt	*rt;
	struct event_base *base;
	struct conf	*conf;
	struct httpd	*httpd;		/* [worker] listen; NULL when off */
	struct ctx	*ctx;		/* its /v1/context, /v1/articles; NULL when off */
	struct poll	*poll;		/* polling (api/poller.c) */
	char		*conf_path;
	int		 owner_fd;	/* flock held on <database>.owners/<owner> */
	char		 host[96];
	struct event	*poll_ev, *renew_ev, *grace_ev;
	struct event	*sig_term, *sig_int, *sig_hup;
	int		 exit_code;
	bool		 claim_more;	/* the last poll filled a batch with room left */
	struct event	*hb_ev;		/* heartbeat (workers row), ops.c */
	struct wake	*wake;		/* inotify wake-up on enqueue; NULL = poll only */
	struct event	*wd_ev;		/* systemd watchdog, when asked for */
	int64_t		 drain_said_ms;	/* --drain: last progress line */
};

static void	engine_heartbeat_cb(evutil_socket_t, short, void *);

/* ------------------------------------------------------------------ */
/* the outbox loop                                                      */

/*
 * New records get their lane; invalid ones are dead-lettered here, before
 * anything is written to Intercom, and never block their neighbours.
 * Only records of the workspaces this worker serves are looked at: a
 * record of another workspace may belong to another worker (a rollout,
 * two configurations on one database) and is left alone; `callsync
 * status` shows it waiting.
 */
static int
engine_sort(struct engine *e)
{
	struct ob_rec	*a;
	size_t		 n, i, k;
	struct wsrt	*ws;
	struct record	 r;
	struct rec_err	 err;
	struct ob_fail	 f;
	char		 lane[320];
	int		 lost, total = 0;

	for (k = 0; k < rt_nws(e->rt); k++) {
		ws = rt_ws(e->rt, k);
		/* Sort ahead only as far as claiming needs: sorting a whole
		 * 1M backlog up front took the loop from delivering (bench
		 * section 4); a record is still sorted before it is claimed,
		 * and so dead-lettered before anything of it is written. */
		if (!ws_sort_ahead(ws))
			continue;
		if (outbox_unsorted_ws(rt_db(e->rt), ws_name(ws), 256, &a,
		    &n) == -1)
			return -1;
		if (n > 0 && db_begin(rt_db(e->rt)) == -1) {
			ob_rec_free_array(a, n);
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (record_parse_row(a[i].payload, a[i].record_key,
			    ws_conf(ws), &r, &err) == -1) {
				memset(&f, 0, sizeof(f));
				f.class = "invalid";
				f.charged = 1;
				f.note = "later records were not blocked by this one";
				f.reason = err.reason;
				f.message = err.message;
				if (outbox_dead(rt_db(e->rt), a[i].id, NULL, &f,
				    &lost) == 0) {
					ws_count_dead(ws, err.reason);
					log_rec(LOG_LVL_WARN, ws_name(ws),
					    a[i].record_key, NULL,
					    "dead-lettered: %s: %s", err.reason,
					    err.message);
				}
				continue;
			}
			outbox_set_lane(rt_db(e->rt), a[i].id, record_lane(&r,
			    lane, sizeof(lane)));
			rt_parsed_keep(e->rt, a[i].id, a[i].payload,
			    ws_conf(ws), &r);
		}
		if (n > 0 && db_commit(rt_db(e->rt)) == -1) {
			db_rollback(rt_db(e->rt));
			ob_rec_free_array(a, n);
			return -1;
		}
		ob_rec_free_array(a, n);
		total += (int)n;
	}
	return total;
}

static int
engine_claim(struct engine *e)
{
	size_t		 i, k, n;
	struct wsrt	*ws;
	struct ob_rec	*a;
	struct job_link	*l;
	int		 room, total = 0;

	for (i = 0; i < rt_nws(e->rt); i++) {
		ws = rt_ws(e->rt, i);
		/* Twice the in-flight target keeps the wire busy while jobs
		 * commit (0: not ready); batch bounds one claim transaction. */
		room = ws_claim_room(ws);
		if (room > e->conf->batch) {
			room = e->conf->batch;
			e->claim_more = true;	/* more room: claim again at once */
		}
		if (room <= 0)
			continue;
		if (outbox_claim(rt_db(e->rt), ws_name(ws), rt_owner(e->rt),
		    clock_wall_s(), e->conf->lease, (size_t)room, &a,
		    &n) == -1) {
			if (db_busy(rt_db(e->rt)))
				rt_db_busy(e->rt);
			continue;
		}
		/* Short of sorted records, or lanes blocked: sort more now. */
		if (ws_claimed(ws, n, (size_t)room))
			rt_kick(e->rt);
		for (k = 0; k < n; k++) {
			if ((l = job_new(e->rt, ws, &a[k])) == NULL)
				continue;
			rt_job_started(e->rt, l);
			total++;
			job_start(job_of(l));
		}
		ob_rec_free_array(a, n);
	}
	return total;
}

/*
 * --drain holding records whose writes are in doubt: one line at once,
 * then one every 9 s (checked at each poll and each wake-up of a wait,
 * at most 5 s apart), so that a wait of minutes is never silent.
 */
static void
engine_drain_progress(void *arg)
{
	struct engine	*e = arg;
	int64_t	 now = clock_mono_ms(), next;
	int	 n;

	if (!rt_draining(e->rt))
		return;
	if ((n = job_doubt_waits(e->rt, NULL, &next)) == 0) {
		e->drain_said_ms = 0;
		return;
	}
	if (e->drain_said_ms != 0 && now - e->drain_said_ms < 9000)
		return;
	e->drain_said_ms = now;
	log_warnx("drain: waiting for %d held record%s: %d writes in doubt, "
	    "next reconciled in %" PRId64 " s", rt_jobs(e->rt),
	    rt_jobs(e->rt) == 1 ? "" : "s", n, (next + 999) / 1000);
}

/* --drain: 0 when nothing is left, 3 when records wait. */
static void
engine_drain_check(struct engine *e)
{
	size_t		 i;
	long long	 left = -1;
	int64_t		 n;

	if (rt_jobs(e->rt) > 0) {
		engine_drain_progress(e);
		return;
	}
	for (i = 0; i < rt_nws(e->rt); i++)
		if (ws_starting(rt_ws(e->rt, i)))
			return;		/* not yet able to tell */
	/* Only the workspaces this worker serves: another worker's
	 * records are not this drain's to wait for. */
	for (i = 0, left = 0; i < rt_nws(e->rt) && left >= 0; i++) {
		if ((n = outbox_open_count(rt_db(e->rt),
		    ws_name(rt_ws(e->rt, i)))) < 0)
			left = -1;
		else
			left += n;
	}
	if (left < 0)
		return;
	e->exit_code = left == 0 ? 0 : 3;
	if (left > 0)
		log_info("drain: %lld records still waiting (retry time, "
		    "offline or paused workspace)", left);
	event_base_loopbreak(e->base);
}

static void
engine_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*e = arg;
	struct timeval	 tv;
	int		 sorted, claimed;
	size_t		 i;

	(void)fd;
	(void)what;
	if (rt_stopping(e->rt))
		return;
	if (rt_db_stalled(e->rt) || rt_db_locked(e->rt)) {
		/* A write is waiting for the database, or it was locked a
		 * moment ago: claiming now would only block the loop on the
		 * same lock (up to the busy timeout per statement). */
		tv.tv_sec = 0;
		tv.tv_usec = 500000;
		evtimer_add(e->poll_ev, &tv);
		return;
	}
	/* Sorting, claims and the first steps of the jobs claimed share
	 * this turn's group commit. */
	rt_tx_open(e->rt);
	if ((sorted = engine_sort(e)) == -1 && db_busy(rt_db(e->rt))) {
		log_debug("outbox locked by another process; polling again in "
		    "1 s");
		rt_db_busy(e->rt);
		sorted = 0;
	}
	e->claim_more = false;
	claimed = rt_db_locked(e->rt) ? 0 : engine_claim(e);
	for (i = 0; i < rt_nws(e->rt); i++)
		ws_save_due(rt_ws(e->rt, i));
	if (rt_draining(e->rt) && sorted == 0 && claimed == 0)
		engine_drain_check(e);
	tv.tv_sec = e->conf->poll_interval_ms / 1000;
	tv.tv_usec = (e->conf->poll_interval_ms % 1000) * 1000;
	/* Unsorted records left, or a full batch claimed with room for
	 * more (a large in-flight target, or the queue refilling after an
	 * outage): the next poll runs at once, not a poll interval later. */
	if (sorted > 0 || (e->claim_more && claimed > 0))
		tv.tv_sec = tv.tv_usec = 0;
	if (!evtimer_pending(e->poll_ev, NULL) || tv.tv_sec + tv.tv_usec == 0)
		evtimer_add(e->poll_ev, &tv);
}

/* wake.c: another process committed (a producer's insert). */
static void
engine_wake_cb(void *arg)
{
	struct engine	*e = arg;

	rt_kick(e->rt);
}

static void
engine_renew_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*e = arg;

	int64_t		*ids;
	struct job_link	*l;
	size_t		 n = 0;

	(void)fd;
	(void)what;
	/* Only the records this worker holds a job for: a claim whose job
	 * is gone must lapse, never be kept alive by its owner's name. */
	if (rt_jobs(e->rt) == 0)
		return;
	if ((ids = calloc((size_t)rt_jobs(e->rt), sizeof(*ids))) == NULL)
		return;
	for (l = rt_first_job(e->rt); l != NULL; l = TAILQ_NEXT(l, all))
		if (n < (size_t)rt_jobs(e->rt))
			ids[n++] = l->record_id;
	if (outbox_renew_ids(rt_db(e->rt), rt_owner(e->rt), ids, n,
	    clock_wall_s(), e->conf->lease) == -1)
		log_warnx("cannot renew leases: %s", db_errmsg(rt_db(e->rt)));
	free(ids);
}

/* ------------------------------------------------------------------ */
/* signals                                                              */

static void
engine_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*e = arg;

	(void)fd;
	(void)what;
	log_warnx("shutdown: %d requests still in flight after %d s; "
	    "releasing their records (they will reconcile)", rt_jobs(e->rt),
	    GRACE_S);
	event_base_loopbreak(e->base);
}

static void
engine_term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct engine	*e = arg;
	struct timeval	 tv = { GRACE_S, 0 };
	size_t		 i;

	(void)what;
	if (rt_stopping(e->rt))
		return;
	ops_notify("STOPPING=1");
	log_notice("signal %d: stopping; finishing %d records in flight",
	    (int)sig, rt_jobs(e->rt));
	rt_stop(e->rt, false);
	e->exit_code = 0;
	for (i = 0; i < rt_nws(e->rt); i++)
		ws_release_queued(rt_ws(e->rt, i), "shutdown",
		    "worker stopping");
	job_release_waiting(e->rt);
	if (rt_jobs(e->rt) == 0)
		event_base_loopbreak(e->base);
	else
		evtimer_add(e->grace_ev, &tv);
}

/* Log each setting that a reload cannot change under a running worker. */
static void
engine_restart_only(const struct conf *o, const struct conf *n)
{
	size_t			 i;
	const struct conf_ws	*ow;

#define STR_CHANGED(a, b) (((a) == NULL) != ((b) == NULL) || \
	((a) != NULL && strcmp((a), (b)) != 0))
	if (STR_CHANGED(o->database, n->database))
		log_warnx("SIGHUP: database changed; takes effect on restart "
		    "(still using %s)", o->database);
	if (STR_CHANGED(o->synchronous, n->synchronous))
		log_warnx("SIGHUP: synchronous changed; takes effect on "
		    "restart");
	if (STR_CHANGED(o->listen, n->listen))
		log_warnx("SIGHUP: listen changed; takes effect on restart");
	for (i = 0; i < n->nws; i++) {
		if ((ow = conf_ws_find((struct conf *)o, n->ws[i].name)) == NULL)
			continue;
		if (ow->rate_limit != n->ws[i].rate_limit)
			log_warnx("SIGHUP: %s: rate_limit changed; takes effect "
			    "on restart", n->ws[i].name);
	}
#undef STR_CHANGED
}

/*
 * SIGHUP: read the configuration again; tokens, timeouts and every
 * per-request setting apply to the next request (nothing queued borrows
 * from the old configuration: requests are built from copies), a paused
 * workspace boots again, a new workspace is served at once.  A removed
 * workspace keeps its old settings until restart.  A bad file keeps
 * the old configuration whole.
 */
static void
engine_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct engine	*e = arg;
	struct conf	*nc;
	struct conf_ws	*cw;
	struct wsrt	*ws;
	char		 err[512];
	size_t		 i, nold = rt_nws(e->rt);

	(void)sig;
	(void)what;
	if ((nc = conf_load(e->conf_path, true, err, sizeof(err))) == NULL) {
		log_warnx("SIGHUP: keeping the old configuration: %s", err);
		return;
	}
	for (i = 0; i < rt_nws(e->rt); i++) {
		if ((cw = conf_ws_find(nc, ws_name(rt_ws(e->rt, i)))) == NULL) {
			log_warnx("SIGHUP: workspace %s removed from the "
			    "configuration; restart to drop it; keeping the "
			    "old configuration", ws_name(rt_ws(e->rt, i)));
			conf_free(nc);
			return;
		}
	}
	engine_restart_only(e->conf, nc);
	rt_parsed_flush(e->rt);
	for (i = 0; i < nc->nws; i++) {
		if (ws_find(e->rt, nc->ws[i].name) != NULL)
			continue;
		if ((ws = ws_add(e->rt, &nc->ws[i])) == NULL) {
			log_warnx("SIGHUP: out of memory adding workspace %s",
			    nc->ws[i].name);
			continue;
		}
		log_info("SIGHUP: serving new workspace %s", ws_name(ws));
	}
	if (webhook_one() != NULL && webhook_grow(webhook_one()) == -1)
		log_warnx("SIGHUP: out of memory: the new workspaces' "
		    "notifications are refused until a restart");
	for (i = 0; i < rt_nws(e->rt); i++)
		ws_reload(rt_ws(e->rt, i),
		    conf_ws_find(nc, ws_name(rt_ws(e->rt, i))), i >= nold);
	/* A new lease applies to the next claim, and renewals follow it at
	 * once. */
	if (nc->lease != e->conf->lease) {
		struct timeval tv = { nc->lease / 3 > 0 ? nc->lease / 3 : 1, 0 };

		event_add(e->renew_ev, &tv);
		engine_renew_cb(-1, 0, e);
	}
	/* The database stays the one opened at start. */
	free(nc->database);
	nc->database = strdup(e->conf->database);
	conf_free(e->conf);
	e->conf = nc;
	rt_configure(e->rt, nc);	/* backoff: the next failure */
	log_set_json(strcmp(nc->log_format, "json") == 0);
	engine_heartbeat_cb(-1, 0, e);	/* the new workspace list */
	log_notice("SIGHUP: configuration and tokens reloaded");
	rt_kick(e->rt);
}

/* ------------------------------------------------------------------ */
/* heartbeat and watchdog (ops.c)                                       */

static void
engine_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*e = arg;
	char		 wss[1024];

	(void)fd;
	(void)what;
	/* The database is stuck or locked by another process: a beat can
	 * wait (status reads an old heartbeat as "hung?" only after 60 s). */
	if (!rt_db_writable_now(e->rt))
		return;
	ops_ws_list(e->conf, wss, sizeof(wss));
	ops_hb_register(rt_db(e->rt), rt_owner(e->rt), e->host, wss,
	    clock_wall_s());
}

static void
engine_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ops_notify("WATCHDOG=1");
}

/* ------------------------------------------------------------------ */

/*
 * The calls up from the runtime (rt.h): the job layer's, the search-lag
 * sampler's, the webhook's, and this loop's --drain line.  Registered
 * before any workspace is made.
 */
/*
 * The runtime's hooks speak of job links and opaque samplers, so that it
 * names nothing of the job layer; these turn them into jobs and search-lag
 * samplers (job.h job_of, lag.h).
 */
static void
engine_job_release(struct job_link *l, const char *class, const char *why)
{
	job_release(job_of(l), class, why);
}

static void
engine_job_sent(struct job_link *l)
{
	job_on_sent(job_of(l));
}

static void
engine_job_tx_done(struct job_link *l, bool ok)
{
	job_tx_done(job_of(l), ok);
}

static void
engine_job_unstall(struct job_link *l)
{
	job_unstall(job_of(l));
}

static void *
engine_sampler_new(struct wsrt *ws)
{
	return lag_ws_new(ws);
}

static void
engine_sampler_free(void *lw)
{
	lag_ws_free(lw);
}

static void
engine_hooks(struct engine *e)
{
	struct rt_hooks	 h;

	memset(&h, 0, sizeof(h));
	h.release = engine_job_release;
	h.sent = engine_job_sent;
	h.tx_done = engine_job_tx_done;
	h.unstall = engine_job_unstall;
	h.sampler_new = engine_sampler_new;
	h.sampler_free = engine_sampler_free;
	h.sampler_room = lag_room;
	h.app_known = webhook_note_app;
	h.waiting = engine_drain_progress;
	h.arg = e;
	rt_set_hooks(e->rt, &h);
}

/*
 * Size the file descriptors the configuration needs against the open-file
 * limit, once the worker holds its own (fdlimit.h): when the limit is
 * short, cap the in-flight target of each workspace and the requests in
 * flight in all, and say so in one line.
 */
static void
engine_fd_plan(struct engine *e)
{
	struct fdplan	 p;
	char		 line[512];
	size_t		 i;

#ifdef CALLSYNC_TEST_HOOKS
	/* Test hook: no caps, so that EMFILE happens (test 76). */
	if (getenv("CALLSYNC_TEST_NO_FDPLAN") != NULL)
		return;
#endif
	memset(&p, 0, sizeof(p));
	p.limit = fdlimit_soft();
	if (p.limit < 0 || (p.open = fdlimit_count_open()) < 0)
		return;
	p.reserve = FDLIMIT_RESERVE + (e->httpd != NULL ?
	    FDLIMIT_LISTEN_RESERVE : 0);
	p.nws = (int)e->conf->nws;
	for (i = 0; i < e->conf->nws; i++)
		p.inflight += e->conf->ws[i].max_inflight;
	fdlimit_plan(&p);
	if (p.transfers == 0) {
		log_info("file descriptors: limit %ld, this configuration "
		    "needs at most %ld", p.limit, p.needed);
		return;
	}
	/* Idle connections hold descriptors too. */
	if (rt_fd_caps(e->rt, p.transfers, p.ws_cap, p.idle) == -1)
		log_warnx("cannot bound libcurl's connection cache");
	fdlimit_describe(&p, line, sizeof(line));
	log_warnx("%s", line);
}

static int
engine_init(struct engine *e, const char *conf_path, struct conf *c,
    bool drain)
{
	struct event_base *base;
	struct http	*http;
	char		 err[512];
	size_t		 i;
	struct timeval	 tv;
	uint64_t	 wd;
	int		 n;

	e->conf = c;		/* engine_free frees it from here on */
	e->owner_fd = -1;
	if ((e->rt = rt_new(drain)) == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	engine_hooks(e);
	rt_configure(e->rt, c);
	e->conf_path = conf_path ? strdup(conf_path) : NULL;
	if (gethostname(e->host, sizeof(e->host)) == -1)
		snprintf(e->host, sizeof(e->host), "localhost");
	e->host[sizeof(e->host) - 1] = '\0';
	/*
	 * host:pid:nonce, unique per process: a container restarts its
	 * worker as PID 1 with the same hostname, so host:pid names the dead
	 * predecessor too.  Liveness is the owner's lock file (flock, which
	 * the kernel drops when the process dies, whatever its namespace).
	 */
	srandom((unsigned)clock_wall_s() ^ (unsigned)getpid());
	if (rt_open(e->rt, c->database, DB_OPEN_CREATE |
	    DB_OPEN_CHECKPOINT | (c->synchronous &&
	    strcmp(c->synchronous, "normal") == 0 ? DB_OPEN_NOSYNC : 0), err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if (outbox_owner_lock(c->database, rt_owner(e->rt),
	    &e->owner_fd) == -1) {
		log_warnx("cannot create the worker lock in %s.owners: %s",
		    c->database, strerror(errno));
		return -1;
	}
	ops_log_start(conf_path, c, db_version(rt_db(e->rt)));
	if ((n = outbox_recover_dead(rt_db(e->rt), c->database,
	    rt_owner(e->rt))) > 0)
		log_notice("recovered %d records left in flight by a dead worker "
		    "(they will reconcile first)", n);
	if ((e->base = base = event_base_new()) == NULL)
		return -1;
	if ((http = http_new(base)) == NULL)
		return -1;		/* engine_free frees the base */
	if (rt_events(e->rt, base, http) == -1 || rt_tx_init(e->rt) == -1)
		return -1;
	for (i = 0; i < c->nws; i++)
		if (ws_add(e->rt, &c->ws[i]) == NULL)
			return -1;
	if (c->listen != NULL && c->listen[0] != '\0') {
		if ((e->httpd = httpd_new(e->base, &e->conf, c->listen,
		    err, sizeof(err))) == NULL) {
			log_warnx("%s", err);
			return -1;
		}
		/* The local API's modules route themselves to it. */
		if (metrics_routes(e->rt, e->httpd) == -1 ||
		    (e->ctx = ctx_new(e->rt)) == NULL ||
		    ctx_routes(e->ctx, e->httpd) == -1 ||
		    tasks_routes(e->rt, e->httpd) == -1) {
			log_warnx("out of memory");
			return -1;
		}
		log_notice("serving /livez, /healthz, /metrics, /ui, "
		    "/v1/context and /v1/articles on %s%s", c->listen,
		    c->listen_token ? " (bearer token required)" : "");
	}
	if (c->webhook_listen != NULL && c->webhook_listen[0] != '\0') {
		if (webhook_new(e->rt, c->webhook_listen, err,
		    sizeof(err)) == NULL) {
			log_warnx("%s", err);
			return -1;
		}
		log_info("receiving Intercom notifications on %s%s",
		    c->webhook_listen, WEBHOOK_PATH);
	}
	/* poll_share: poller.c */
	if ((e->poll = poll_new(e->rt)) == NULL)
		return -1;
	/* Inside the loop a lock is waited for briefly: a commit that cannot
	 * be made is kept in memory and retried from a timer (job_stall),
	 * so another process's transaction never freezes every workspace. */
	db_set_busy_ms(rt_db(e->rt), 250);
	e->poll_ev = evtimer_new(e->base, engine_poll_cb, e);
	rt_set_kick(e->rt, e->poll_ev);	/* rt_kick: claim at once */
	e->renew_ev = event_new(e->base, -1, EV_PERSIST, engine_renew_cb, e);
	e->grace_ev = evtimer_new(e->base, engine_grace_cb, e);
	e->hb_ev = event_new(e->base, -1, EV_PERSIST, engine_heartbeat_cb, e);
	if (e->hb_ev == NULL)
		return -1;
	/* Without inotify the poll timer alone finds new records. */
	if (c->wake_on_enqueue)
		e->wake = wake_new(e->base, rt_db(e->rt), c->database,
		    engine_wake_cb, e);
	tv.tv_sec = OPS_HEARTBEAT_S;
	tv.tv_usec = 0;
	event_add(e->hb_ev, &tv);
	engine_heartbeat_cb(-1, 0, e);
	if ((wd = ops_watchdog_half_usec()) > 0) {
		e->wd_ev = event_new(e->base, -1, EV_PERSIST,
		    engine_watchdog_cb, e);
		if (e->wd_ev == NULL)
			return -1;
		tv.tv_sec = (time_t)(wd / 1000000);
		tv.tv_usec = (suseconds_t)(wd % 1000000);
		event_add(e->wd_ev, &tv);
	}
	e->sig_term = evsignal_new(e->base, SIGTERM, engine_term_cb, e);
	e->sig_int = evsignal_new(e->base, SIGINT, engine_term_cb, e);
	e->sig_hup = evsignal_new(e->base, SIGHUP, engine_hup_cb, e);
	if (e->poll_ev == NULL || e->renew_ev == NULL || e->sig_term == NULL ||
	    e->sig_int == NULL || e->sig_hup == NULL || e->grace_ev == NULL)
		return -1;
	evsignal_add(e->sig_term, NULL);
	evsignal_add(e->sig_int, NULL);
	evsignal_add(e->sig_hup, NULL);
	tv.tv_sec = c->lease / 3 > 0 ? c->lease / 3 : 1;
	tv.tv_usec = 0;
	event_add(e->renew_ev, &tv);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

struct engine *
engine_new(const char *conf_path, struct conf *c, bool drain)
{
	struct engine	*e;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		log_warnx("out of memory");
		conf_free(c);
		return NULL;
	}
	if (engine_init(e, conf_path, c, drain) == -1) {
		engine_free(e);
		return NULL;
	}
	engine_fd_plan(e);
	return e;
}

int
engine_run(struct engine *e)
{
	size_t		 i;
	struct job_link	*l;
	int		 n;

	for (i = 0; i < rt_nws(e->rt); i++)
		ws_boot(rt_ws(e->rt, i));
	rt_kick(e->rt);
	if (rt_nws(e->rt) == 0)
		log_warnx("no workspace configured: nothing is delivered "
		    "(records wait for a worker that serves them)");
	e->exit_code = 0;
	/* Boot checks are on their way: systemd may start what follows. */
	ops_notify("READY=1\nSTATUS=delivering");
	event_base_dispatch(e->base);
	if (!rt_stopping(e->rt))	/* --drain, or a fatal end: unsaid */
		ops_notify("STOPPING=1");
	/* Whatever is still claimed goes back, refunded; its intents make
	 * the next attempt reconcile. */
	rt_stop(e->rt, true);
	rt_tx_flush(e->rt);	/* the last turn's group; nothing more is sent */
	rt_http_close(e->rt);
	ctx_shutdown(e->ctx);	/* context requests: their reads died */
	while ((l = rt_first_job(e->rt)) != NULL)
		job_release(job_of(l), "shutdown", "worker stopped");
	if ((n = outbox_release_all(rt_db(e->rt), rt_owner(e->rt))) > 0)
		log_info("released %d claims", n);
	for (i = 0; i < rt_nws(e->rt); i++)
		ws_save(rt_ws(e->rt, i));
	ops_hb_unregister(rt_db(e->rt), rt_owner(e->rt));
	rt_log_totals(e->rt);
	return e->exit_code;
}

void
engine_free(struct engine *e)
{
	char	 owner[RT_OWNER_MAX] = "";

	if (e == NULL)
		return;
	poll_free(e->poll);	/* its queued read is in a workspace's queue */
	if (e->rt != NULL) {
		ws_free_all(e->rt);
		rt_free(e->rt);	/* kept records, its events */
	}
	if (e->poll_ev)
		event_free(e->poll_ev);
	if (e->renew_ev)
		event_free(e->renew_ev);
	if (e->grace_ev)
		event_free(e->grace_ev);
	if (e->hb_ev)
		event_free(e->hb_ev);
	wake_free(e->wake);
	if (e->wd_ev)
		event_free(e->wd_ev);
	if (e->sig_term)
		event_free(e->sig_term);
	if (e->sig_int)
		event_free(e->sig_int);
	if (e->sig_hup)
		event_free(e->sig_hup);
	if (e->rt != NULL)
		rt_http_close(e->rt);
	ctx_free(e->ctx);	/* answers first: evhttp_free frees requests */
	httpd_free(e->httpd);		/* before the base its events are on */
	webhook_free(webhook_one());
	if (e->base)
		event_base_free(e->base);
	if (e->rt != NULL)	/* the lock's name outlives the database */
		snprintf(owner, sizeof(owner), "%s", rt_owner(e->rt));
	rt_destroy(e->rt);	/* the database, rt */
	if (e->owner_fd != -1 && e->conf != NULL)
		outbox_owner_unlock(e->conf->database, owner, e->owner_fd);
	conf_free(e->conf);
	free(e->conf_path);
	free(e);
}
