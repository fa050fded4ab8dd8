/*
 * rt: what the layers above share at run time, one owner for each piece:
 * the event base, the HTTP client, the database and the configuration
 * in force; the workspace runtimes (wsrt.h); the jobs held (their links:
 * all, stalled) and their counters; the database-stall state; the group
 * commit (rt_tx_*: one transaction per loop turn, see GROUP COMMIT in
 * tx.c); the open-file budget; the records parsed when sorted (kept for
 * the job that claims them).
 *
 * Its fields are the runtime's own (rt_impl.h): the layers above hold a
 * struct rt as an incomplete type and ask the functions below.  The loop
 * (daemon/engine.c) makes one (rt_new), fills it at start and on a
 * reload, and registers the hooks through which the runtime calls up
 * without naming the layers above (libevent style: a function and its
 * argument): a job's release, send and group fate are the job layer's
 * (job.c), the claim that a kick asks for is the loop's, and so on.  A
 * lower layer never includes a higher one's header: the linker checks it.
 */
#ifndef CALLSYNC_RT_H
#define CALLSYNC_RT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <event2/event.h>

#include "conf.h"
#include "db.h"
#include "http.h"
#include "record.h"
#include "wsrt.h"

struct rt;

#define RT_OWNER_MAX	160	/* rt_owner's length, with its NUL */

/*
 * The calls up.  Set once by the loop before the first event (engine.c,
 * engine_init); each is required unless said otherwise.
 */
struct rt_hooks {
	/* The job layer (job.c), given a job's link: give its record back
	 * (no attempt charged); its request was handed to libcurl; the
	 * group it wrote in was committed (ok) or rolled back.  Each may
	 * end and free the job. */
	void		(*release)(struct job_link *, const char *class,
			    const char *why);
	void		(*sent)(struct job_link *);
	void		(*tx_done)(struct job_link *, bool ok);
	/* A round of the stall timer retries the parked write of the job
	 * whose link this is (job.c): it may park it again (rt_stall_park)
	 * or end it. */
	void		(*unstall)(struct job_link *);
	/* lag.c: a workspace's search-lag sampler, made with it and freed
	 * with it (optional: NULL, no sampler). */
	void		*(*sampler_new)(struct wsrt *);
	void		(*sampler_free)(void *);
	/* ...and how many lag searches a 10-s window may carry out of its
	 * budget (the sampler's share; required with sampler_new). */
	long		(*sampler_room)(long budget, int share);
	/* GET /me named ws's app (ws->app_id): webhook.c (optional). */
	void		(*app_known)(struct rt *, struct wsrt *);
	/* A job parks in an in-doubt wait or wakes from one: the loop's
	 * --drain progress line (optional). */
	void		(*waiting)(void *arg);
	void		*arg;		/* of waiting */
};

/* Register the calls up (copied), before rt_events. */
void	 rt_set_hooks(struct rt *, const struct rt_hooks *);
/* A new rt, ready (its queues, no events yet; rt_init); drain:
 * --drain.  NULL on ENOMEM.  rt_free, then rt_destroy, free it. */
struct rt	*rt_new(bool drain);
/* Serve configuration c (borrowed; the caller frees the one before):
 * at start and on a reload. */
void	 rt_configure(struct rt *, struct conf *);
/* Make the runtime's events on base (borrowed) and take the HTTP client
 * (stolen: rt_http_close frees it), after the hooks are set;
 * then the group commit's (rt_tx_init); -1 on ENOMEM. */
int	 rt_events(struct rt *, struct event_base *, struct http *);
/* The loop has ended: free the HTTP client (every transfer dies). */
void	 rt_http_close(struct rt *);
/* kick_ev (borrowed): the loop's claim timer, fired by rt_kick. */
void	 rt_set_kick(struct rt *, struct event *);
/* The open-file plan's caps (fdlimit.h): in flight in all, per
 * workspace (0: none), and the idle connections the HTTP client keeps
 * (after rt_events); -1 when that bound cannot be set. */
int	 rt_fd_caps(struct rt *, int transfers, int ws_cap, int idle);
/* The outbox was locked: no claim, group or beat for a second. */
void	 rt_db_busy(struct rt *);
/* Stopping (SIGTERM): nothing new is claimed or read; final: the loop
 * has ended, no more timers (the group is flushed alone). */
void	 rt_stop(struct rt *, bool final);
/* Free the kept records and the runtime's events (the workspaces:
 * ws_free_all; the HTTP client: rt_http_close), before the event base
 * they are on is freed; rt itself stays for rt_destroy. */
void	 rt_free(struct rt *);
/* Last: close the database rt_open opened and free rt (NULL: nothing). */
void	 rt_destroy(struct rt *);
/* A uniform random number in [0, 1). */
double	 rt_rand(void);
/* Ask the loop to claim more (a job ended, a workspace got room). */
void	 rt_kick(struct rt *);
/* tx.c: the group commit's event, after rt_events */
int	 rt_tx_init(struct rt *);
/* A claimed job starts (l in rt->all, counted) or finished (out of
 * every queue, uncounted; the loop claims again or ends). */
void	 rt_job_started(struct rt *, struct job_link *);
void	 rt_job_finished(struct rt *, struct job_link *);
/* A job parks in an in-doubt wait or leaves one (hooks.waiting). */
void	 rt_drain_progress(struct rt *);
/*
 * The database stall.  A job's write failed (locked past the busy
 * timeout, disk full, out of memory): rt_stall_park marks the database
 * stalled (others queue behind without trying; the first says so in the
 * log) and parks l: at the tail, or at the head when a round is running
 * (l was just retried and failed again: it stays first).  A timer runs
 * a round: each parked job in turn (hooks.unstall) until one parks
 * again.  It waits 100 ms doubling with each failed round to 800 ms; a
 * job parked again arms it before its round is counted, so the waits are
 * 100, 100, 200, 400, 800, 800... ms (t_rt_stall).  When none is left
 * the database is writable again (rt_kick).  rt_stall_drop takes a
 * parked l out (its job ends).
 */
void	 rt_stall_park(struct rt *, struct job_link *);
void	 rt_stall_drop(struct rt *, struct job_link *);
/* The exit counters: a retry was scheduled after a failed attempt. */
void	 rt_count_retry(struct rt *);
/* Open the database (db_open's flags; err as db_open's) under a new
 * worker identity (owner): at start; -1 with err or a log line. */
int	 rt_open(struct rt *, const char *path, int flags, char *err,
	    size_t errsz);
/* Open-file budget spent (fdlimit.h): send nothing new; how long to wait. */
bool	 rt_fd_full(const struct rt *, int64_t now);
int64_t	 rt_fd_wait(const struct rt *, int64_t now);
/* Group commit: open the loop iteration's transaction if none is open
 * (0, or -1 when it cannot begin: then writes go alone, as before). */
int	 rt_tx_open(struct rt *);
/* The same, and note that l's job wrote in it (its fate follows the
 * group's commit: hooks.tx_done). */
int	 rt_tx_join(struct rt *, struct job_link *);
/* Commit the open group now (before the loop ends). */
void	 rt_tx_flush(struct rt *);
/* The parsed-record cache (struct rt_parsed): keep r (taken over), take
 * it back when claimed (1, *r filled) or not (0: parse again), forget
 * all (a reload frees the configuration they were parsed under). */
void	 rt_parsed_keep(struct rt *, int64_t id, const char *payload,
	    const struct conf_ws *, struct record *);
int	 rt_parsed_take(struct rt *, int64_t id, const char *payload,
	    const struct conf_ws *, struct record *);
void	 rt_parsed_flush(struct rt *);

/*
 * What the layers above read.  Each answers from rt and owns nothing it
 * returns: a pointer is borrowed from rt, good until the next event
 * (the configuration: until a reload).
 */
/* The database rt_open opened: the runtime's, open until rt_destroy. */
struct db	*rt_db(struct rt *);
/* The configuration in force (rt_configure's): borrowed from the loop,
 * which replaces it on a reload. */
const struct conf *rt_conf(const struct rt *);
/* This worker's identity, "host:pid:nonce" (rt_open): rt's. */
const char	*rt_owner(const struct rt *);
/* The event base (rt_events): the loop's, borrowed. */
struct event_base *rt_base(const struct rt *);
/* The workspaces served, and the i-th of them (i < rt_nws; rt's, its
 * address stable until ws_free_all). */
size_t		 rt_nws(const struct rt *);
struct wsrt	*rt_ws(const struct rt *, size_t i);
/* The jobs held (counted by rt_job_started), and the first of their
 * links (NULL: none; the next: TAILQ_NEXT(l, all)); the job layer's. */
int		 rt_jobs(const struct rt *);
struct job_link	*rt_first_job(const struct rt *);
/* --drain: the loop exits when nothing is due. */
bool	 rt_draining(const struct rt *);
/* Stopping (rt_stop): nothing new is claimed or read. */
bool	 rt_stopping(const struct rt *);
/* The loop has ended (rt_stop final): no more timers. */
bool	 rt_loop_ended(const struct rt *);
/* A database write failed and waits (rt_stall_park): others queue
 * behind it without trying. */
bool	 rt_db_stalled(const struct rt *);
/* The outbox was locked less than a second ago (rt_db_busy): wait. */
bool	 rt_db_locked(const struct rt *);
/* The turn's group transaction is open (rt_tx_open). */
bool	 rt_tx_active(const struct rt *);
/* A transaction of the caller's own is open inside the group (or
 * alone): the database's depth is more than the group's. */
bool	 rt_tx_nested(const struct rt *);
/* A write of the loop's own (a heartbeat) may go now: the database is
 * not stalled, not locked a moment ago, and in no transaction but the
 * turn's group. */
bool	 rt_db_writable_now(const struct rt *);
/* How long to wait before attempt attempts + 1 (retry.h's backoff with
 * the configuration's retry_base_ms, retry_max, jitter). */
int64_t	 rt_backoff_ms(const struct rt *, int attempts);
/* Test hook (CALLSYNC_TEST_CRASH, rt_init): kill the worker now?  A
 * draw with the configured probability; false in release builds. */
bool	 rt_crash_now(const struct rt *);
/* The group commits since the start (*n) and the time the loop spent
 * in them, failed ones too (*ms): /metrics. */
void	 rt_commit_totals(const struct rt *, long *n, int64_t *ms);
/* Log the exit line: delivered, dead-lettered, retries, requests, group
 * commits, counted since the start. */
void	 rt_log_totals(const struct rt *);

#endif
