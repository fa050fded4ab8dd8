/*
 * rt: see rt.h.  The shared run-time state's own functions: its life,
 * the random helper, the kick, the open-file budget, the records kept
 * parsed, the database stall.  The workspaces are wsrt.c's, the group commit and the jobs
 * it holds tx.c's (above both: it queues to workspaces).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "outbox.h"
#include "rt_impl.h"
#include "wsrt_impl.h"

#define FD_FULL_MS	20	/* rt_fd_full: wait this long while the cap on
				 * requests in flight is reached */

static void	rt_stall_round(evutil_socket_t, short, void *);

void
rt_init(struct rt *rt, bool drain)
{
	memset(rt, 0, sizeof(*rt));
	TAILQ_INIT(&rt->all);
	TAILQ_INIT(&rt->stalled);
	TAILQ_INIT(&rt->txjobs);
	TAILQ_INIT(&rt->held);
	rt->drain = drain;
	/*
	 * Fault injection for the crash tests: with this probability the
	 * worker kills itself after a write's answer arrived and before its
	 * journal commit, the worst moment for exactly-once (job.c).
	 */
#ifdef CALLSYNC_TEST_HOOKS
	if (getenv("CALLSYNC_TEST_CRASH") != NULL)
		rt->crash_p = strtod(getenv("CALLSYNC_TEST_CRASH"), NULL);
#endif
}

struct rt *
rt_new(bool drain)
{
	struct rt	*rt;

	if ((rt = malloc(sizeof(*rt))) == NULL)
		return NULL;
	rt_init(rt, drain);
	return rt;
}

void
rt_destroy(struct rt *rt)
{
	if (rt == NULL)
		return;
	db_close(&rt->db);
	free(rt);
}

void
rt_set_hooks(struct rt *rt, const struct rt_hooks *h)
{
	rt->hooks = *h;
}

int
rt_open(struct rt *rt, const char *path, int flags, char *err, size_t errsz)
{
	if (outbox_owner_new(rt->owner, sizeof(rt->owner)) == -1) {
		snprintf(err, errsz, "cannot make a worker identity");
		return -1;
	}
	return db_open(&rt->db, path, flags, err, errsz);
}

/* Backoff applies to the next failure; a lease to the next claim. */
void
rt_configure(struct rt *rt, struct conf *c)
{
	rt->conf = c;
	rt->backoff_base_ms = c->retry_base_ms;
	rt->backoff_cap_ms = (int64_t)c->retry_max * 1000;
}

void
rt_http_close(struct rt *rt)
{
	http_free(rt->http);
	rt->http = NULL;
}

void
rt_set_kick(struct rt *rt, struct event *ev)
{
	rt->kick_ev = ev;
}

int
rt_fd_caps(struct rt *rt, int transfers, int ws_cap, int idle)
{
	rt->fd_transfers = transfers;
	rt->fd_ws_cap = ws_cap;
	/* Idle connections hold descriptors too. */
	return http_set_maxconnects(rt->http, idle);
}

void
rt_db_busy(struct rt *rt)
{
	rt->db_busy_until = clock_mono_ms() + 1000;
}

void
rt_stop(struct rt *rt, bool final)
{
	rt->stopping = true;
	if (final)
		rt->final = true;
}

int
rt_events(struct rt *rt, struct event_base *base, struct http *http)
{
	rt->base = base;
	rt->http = http;
	rt->stall_ev = evtimer_new(base, rt_stall_round, rt);
	return rt->stall_ev == NULL ? -1 : 0;
}

void
rt_free(struct rt *rt)
{
	rt_parsed_flush(rt);
	free(rt->parsed);
	rt->parsed = NULL;
	if (rt->stall_ev)
		event_free(rt->stall_ev);
	if (rt->tx_ev)
		event_free(rt->tx_ev);
	rt->stall_ev = rt->tx_ev = NULL;
}

void
rt_drain_progress(struct rt *rt)
{
	if (rt->hooks.waiting != NULL)
		rt->hooks.waiting(rt->hooks.arg);
}

void
rt_count_retry(struct rt *rt)
{
	rt->n_retries++;
}

double
rt_rand(void)
{
	return (double)random() / ((double)RAND_MAX + 1.0);
}

/* ------------------------------------------------------------------ */
/* file descriptors (fdlimit.h): the box's limit, not Intercom's outage */

/* Whether nothing new may be sent now: the open-file budget is spent. */
bool
rt_fd_full(const struct rt *rt, int64_t now)
{
	if (now < rt->fd_short_until)
		return true;
	return rt->fd_transfers > 0 && http_active(rt->http) >= rt->fd_transfers;
}

/* How long a workspace waits before trying again (rt_fd_full). */
int64_t
rt_fd_wait(const struct rt *rt, int64_t now)
{
	if (now < rt->fd_short_until)
		return rt->fd_short_until - now;
	return (int64_t)(FD_FULL_MS * (1 + rt_rand()));
}

static void
rt_parsed_drop(struct rt *rt, struct rt_parsed *p)
{
	if (p->payload == NULL)
		return;
	rt->parsed_bytes -= strlen(p->payload) + 1;
	free(p->payload);
	p->payload = NULL;
	record_free(&p->r);
}

/* Forget every kept record (a reload: the config they were parsed under
 * is freed, and a new one may get its address). */
void
rt_parsed_flush(struct rt *rt)
{
	size_t	 i;

	if (rt->parsed == NULL)
		return;
	for (i = 0; i < RT_PARSED; i++)
		rt_parsed_drop(rt, &rt->parsed[i]);
}

/* Keep r (taken over; freed when it cannot be kept) for job_start. */
void
rt_parsed_keep(struct rt *rt, int64_t id, const char *payload,
    const struct conf_ws *cw, struct record *r)
{
	struct rt_parsed	*p;
	size_t			 len = strlen(payload) + 1;

	if (rt->parsed == NULL &&
	    (rt->parsed = calloc(RT_PARSED, sizeof(*rt->parsed))) == NULL)
		goto drop;
	p = &rt->parsed[(uint64_t)id % RT_PARSED];
	rt_parsed_drop(rt, p);
	if (rt->parsed_bytes + len > RT_PARSED_BYTES ||
	    (p->payload = malloc(len)) == NULL)
		goto drop;
	memcpy(p->payload, payload, len);
	rt->parsed_bytes += len;
	p->id = id;
	p->cw = cw;
	p->r = *r;
	memset(r, 0, sizeof(*r));
	return;
drop:
	record_free(r);
}

/*
 * 1 and *r filled (the caller owns it) when record id was kept parsed
 * from the same payload text under the same config, else 0: parse it.
 * Parsing depends on nothing else, so the result is the same.
 */
int
rt_parsed_take(struct rt *rt, int64_t id, const char *payload,
    const struct conf_ws *cw, struct record *r)
{
	struct rt_parsed	*p;

	if (rt->parsed == NULL || payload == NULL)
		return 0;
	p = &rt->parsed[(uint64_t)id % RT_PARSED];
	if (p->payload == NULL || p->id != id || p->cw != cw ||
	    strcmp(p->payload, payload) != 0)
		return 0;
	*r = p->r;
	memset(&p->r, 0, sizeof(p->r));
	rt_parsed_drop(rt, p);	/* the payload copy only now */
	return 1;
}

/* The loop's claim timer fires at once (it is the loop's: kick_ev). */
void
rt_kick(struct rt *rt)
{
	struct timeval	 tv = { 0, 0 };

	if (!rt->stopping && rt->kick_ev != NULL)
		evtimer_add(rt->kick_ev, &tv);
}

/* ------------------------------------------------------------------ */
/* the database stall (rt.h: rt_stall_park)                             */

/* Arm the stall timer, unless armed: 100 ms, doubling with each failed
 * round up to 800 ms. */
static void
rt_stall_arm(struct rt *rt)
{
	struct timeval	 tv;
	int64_t		 ms;

	if (evtimer_pending(rt->stall_ev, NULL))
		return;
	ms = 100L << (rt->stall_n < 3 ? rt->stall_n : 3);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(rt->stall_ev, &tv);
}

void
rt_stall_park(struct rt *rt, struct job_link *l)
{
	if (!rt->db_stalled)
		log_warnx("database write failed (%s); keeping every outcome "
		    "in memory and retrying", db_errmsg(&rt->db));
	rt->db_stalled = true;
	if (rt->stall_running)
		TAILQ_INSERT_HEAD(&rt->stalled, l, sq);
	else
		TAILQ_INSERT_TAIL(&rt->stalled, l, sq);
	rt_stall_arm(rt);
}

void
rt_stall_drop(struct rt *rt, struct job_link *l)
{
	TAILQ_REMOVE(&rt->stalled, l, sq);
}

/* The stall timer: retry the parked, one at a time, until one parks
 * again (then the next round waits longer). */
static void
rt_stall_round(evutil_socket_t fd, short what, void *arg)
{
	struct rt	*rt = arg;
	struct job_link	*l;

	(void)fd;
	(void)what;
	rt->stall_running = true;
	while ((l = TAILQ_FIRST(&rt->stalled)) != NULL) {
		TAILQ_REMOVE(&rt->stalled, l, sq);
		rt->db_stalled = false;
		rt->hooks.unstall(l);	/* may park again, at the head */
		if (rt->db_stalled)
			break;
	}
	rt->stall_running = false;
	if (TAILQ_EMPTY(&rt->stalled)) {
		if (rt->stall_n > 0)
			log_warnx("database writable again; outcomes written");
		rt->stall_n = 0;
		rt->db_stalled = false;
		rt_kick(rt);
		return;
	}
	rt->stall_n++;
	rt->db_stalled = true;
	rt_stall_arm(rt);
}

/* ------------------------------------------------------------------ */
/* what the layers above read (rt.h)                                    */

struct db *
rt_db(struct rt *rt)
{
	return &rt->db;
}

const struct conf *
rt_conf(const struct rt *rt)
{
	return rt->conf;
}

const char *
rt_owner(const struct rt *rt)
{
	return rt->owner;
}

struct event_base *
rt_base(const struct rt *rt)
{
	return rt->base;
}

size_t
rt_nws(const struct rt *rt)
{
	return rt->nws;
}

struct wsrt *
rt_ws(const struct rt *rt, size_t i)
{
	return rt->ws[i];
}

int
rt_jobs(const struct rt *rt)
{
	return rt->jobs;
}

struct job_link *
rt_first_job(const struct rt *rt)
{
	return TAILQ_FIRST(&rt->all);
}

bool
rt_draining(const struct rt *rt)
{
	return rt->drain;
}

bool
rt_stopping(const struct rt *rt)
{
	return rt->stopping;
}

bool
rt_loop_ended(const struct rt *rt)
{
	return rt->final;
}

bool
rt_db_stalled(const struct rt *rt)
{
	return rt->db_stalled;
}

bool
rt_db_locked(const struct rt *rt)
{
	return clock_mono_ms() < rt->db_busy_until;
}

bool
rt_tx_active(const struct rt *rt)
{
	return rt->tx_open;
}

bool
rt_tx_nested(const struct rt *rt)
{
	return rt->db.txdepth > (rt->tx_open ? 1 : 0);
}

bool
rt_db_writable_now(const struct rt *rt)
{
	return !rt->db_stalled && !rt_tx_nested(rt) && !rt_db_locked(rt);
}

int64_t
rt_backoff_ms(const struct rt *rt, int attempts)
{
	return retry_backoff_ms(attempts, rt->backoff_base_ms,
	    rt->backoff_cap_ms, rt_rand());
}

bool
rt_crash_now(const struct rt *rt)
{
	return rt->crash_p > 0 && rt_rand() < rt->crash_p;
}

void
rt_commit_totals(const struct rt *rt, long *n, int64_t *ms)
{
	*n = rt->n_commits;
	*ms = rt->commit_total_ms;
}

void
rt_log_totals(const struct rt *rt)
{
	log_notice("exiting: %ld delivered, %ld dead-lettered, %ld retries, "
	    "%ld requests, %ld group commits", rt->n_delivered, rt->n_dead,
	    rt->n_retries, rt->n_requests, rt->n_commits);
}
