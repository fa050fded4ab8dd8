/*
 * rt: what the layers above share at run time, one owner for each piece:
 * the event base, the HTTP client, the database and the configuration
 * in force; the workspace runtimes (wsrt.h); the jobs held (their links:
 * all, stalled) and their counters; the database-stall state; the group
 * commit (rt_tx_*: one transaction per loop turn, see GROUP COMMIT in
 * tx.c); the open-file budget; the records parsed when sorted (kept for
 * the job that claims them).
 *
 * The loop (daemon/engine.c) embeds one, fills it at start and on a
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

/*
 * A record parsed when it was sorted, kept for job_start so that it is
 * not parsed a second time when claimed (parsing was 9.6% of the
 * instructions per request, half of it the second parse).  Direct
 * mapped by id; a miss only means parsing again.
 */
#define RT_PARSED		512	/* sorting runs 256 ahead */
#define RT_PARSED_BYTES		(16 * 1024 * 1024)	/* payload copies */
struct rt_parsed {
	int64_t			 id;
	char			*payload;	/* owned copy; NULL: slot empty */
	const struct conf_ws	*cw;		/* parsed under this config */
	struct record		 r;		/* owned */
};

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

struct rt {
	struct event_base *base;
	struct http	*http;
	struct db	 db;
	struct conf	*conf;		/* in force; replaced by a reload */
	char		 owner[160];	/* "host:pid:nonce", unique per process */
	struct wsrt	**ws;		/* owned; stable addresses (jobs point here) */
	size_t		 nws;
	struct rt_hooks	 hooks;
	struct event	*kick_ev;	/* the loop's claim timer (rt_kick) */
	bool		 drain;		/* --drain: exit when nothing is due */
	bool		 stopping;
	bool		 final;		/* the loop ended: no more timers */
	int		 jobs;
	struct jobq	 all;		/* every active job */
	struct jobq	 stalled;	/* jobs waiting to retry a database write */
	/* group commit (rt_tx_*): one transaction per loop iteration */
	bool		 tx_open;
	struct event	*tx_ev;		/* commits the group, last in the iteration */
	struct jobq	 txjobs;	/* jobs that wrote in the open group */
	struct jobq	 held;		/* requests queued while it is open */
	long		 n_commits;
	int64_t		 commit_ms;	/* how long commits hold the loop */
	int64_t		 commit_total_ms; /* ...in all, failed ones too (/metrics) */
	/* The database stall (rt_stall_*): jobs parked on a failed write,
	 * retried one at a time from a timer */
	struct event	*stall_ev;	/* rt_stall_round */
	int		 stall_n;	/* consecutive failed stall rounds */
	bool		 db_stalled;	/* a write failed: others queue, don't try */
	bool		 stall_running;	/* a round is retrying the parked */
	int64_t		 db_busy_until;	/* monotonic ms: outbox was locked, wait */
	int64_t		 backoff_base_ms, backoff_cap_ms;
	double		 crash_p;	/* test hook: CALLSYNC_TEST_CRASH */
	/* File descriptors (fdlimit.h): caps set at start when the limit is
	 * short (0: none), and a wait after EMFILE/ENFILE. */
	int		 fd_transfers;	/* requests in flight in all */
	int		 fd_ws_cap;	/* in-flight target per workspace */
	int64_t		 fd_short_until; /* monotonic ms: send nothing new */
	long		 fd_short_n;	/* refusals this episode; 0: none */
	/* counters, printed at exit */
	long		 n_delivered, n_dead, n_requests, n_retries;
	struct rt_parsed *parsed;	/* [RT_PARSED]; NULL until used */
	size_t		 parsed_bytes;	/* payload bytes held there */
};

/* Register the calls up (copied), before rt_events. */
void	 rt_set_hooks(struct rt *, const struct rt_hooks *);
/* Ready an embedded rt (zeroed: its queues, no events yet); drain:
 * --drain.  With test hooks, CALLSYNC_TEST_CRASH sets crash_p. */
void	 rt_init(struct rt *, bool drain);
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
 * workspace; 0: none. */
void	 rt_fd_caps(struct rt *, int transfers, int ws_cap);
/* The outbox was locked: no claim, group or beat for a second. */
void	 rt_db_busy(struct rt *);
/* Stopping (SIGTERM): nothing new is claimed or read; final: the loop
 * has ended, no more timers (the group is flushed alone). */
void	 rt_stop(struct rt *, bool final);
/* Free the kept records and the runtime's events (the workspaces:
 * ws_free_all; the HTTP client: rt_http_close). */
void	 rt_free(struct rt *);
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

#endif
