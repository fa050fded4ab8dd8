/*
 * engine: the worker's runtime.  One libevent loop drives everything:
 * the outbox poll timer (sort, claim), per-workspace send queues paced by
 * the limiter, the outage breaker and its probes, lease renewal, signals.
 * Data flows one way: outbox -> job (job.c) -> Intercom -> journal
 * and audit.
 *
 * Workspaces are isolated: each has its own token, limiter, breaker,
 * pause state and queue, so one workspace's outage or 401 never holds up
 * another's records.
 */
#ifndef CALLSYNC_ENGINE_H
#define CALLSYNC_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <jansson.h>
#include <event2/event.h>

#include "conf.h"
#include "db.h"
#include "http.h"
#include "httpd.h"
#include "outbox.h"
#include "record.h"
#include "retry.h"
#include "stats.h"
#include "wake.h"

enum ws_state {
	WS_BOOT,	/* checking token and attributes (GET /me, /data_attributes) */
	WS_READY,
	WS_OUTAGE,	/* breaker open: probing with capped backoff */
	WS_PAUSED	/* 401/403: waiting for a new token (file change, SIGHUP);
			 * or a setting Intercom contradicts (pause_config):
			 * waiting for a fixed configuration (SIGHUP) */
};

struct engine;
struct job;
struct ctx;
struct lag_ws;

/* What a job parked on a failed database write retries (job_stall). */
enum { STALL_NONE, STALL_ADVANCE, STALL_COMMIT, STALL_OUTCOME,
    STALL_REPLAY };

/*
 * What the engine holds of a job: its links in the queues the engine owns
 * and the request to send.  The job itself is the job module's (job.h):
 * the engine only queues, sends and counts.
 */
struct job_link {
	struct job	*job;
	struct wsrt	*ws;
	struct http_req	*req;		/* the next request; owned by the job */
	int64_t		 record_id;
	bool		 queued;	/* in ws->sendq */
	bool		 held;		/* in e->held: waits for the group commit */
	bool		 in_tx;		/* in e->txjobs: wrote in the open group */
	bool		 resend;	/* held when its group failed: send after
					 * the writes are replayed and committed */
	TAILQ_ENTRY(job_link) q;	/* in ws->sendq or e->held */
	TAILQ_ENTRY(job_link) tx;	/* in e->txjobs */
	TAILQ_ENTRY(job_link) all;	/* in e->all */
	TAILQ_ENTRY(job_link) sq;	/* in e->stalled */
};

TAILQ_HEAD(jobq, job_link);

/*
 * An interactive read (the caller context, context.c): a GET or a search
 * that takes no intent and writes nothing.  The caller embeds it, sets
 * req and done, and hands it to ws_read; the engine sends it ahead of the
 * drain (see ws_pump) and calls done exactly once: with the answer's
 * verdict, or with V_OUTAGE and req->sent_ms == 0 when it was never sent
 * (the workspace went down or paused while it waited).
 */
struct ws_read {
	struct http_req	*req;		/* owned by the caller */
	void		(*done)(struct ws_read *, enum verdict);
	void		*arg;
	struct wsrt	*ws;		/* set by ws_read */
	bool		 warm;		/* a warm-up: last, paced (ws_pump_warm) */
	bool		 lag;		/* a search-lag sample (lag.c, ws_pump_lag) */
	bool		 poll;		/* polling (poller.c): paced by its owner to
					 * poll_share, outside context_share */
	bool		 queued;	/* in ws->readq (warmq when warm) */
	TAILQ_ENTRY(ws_read) q;
};

TAILQ_HEAD(readq, ws_read);

struct wsrt {
	struct engine	*e;
	struct conf_ws	*cw;		/* borrowed from e->conf */
	char		 name[65];
	enum ws_state	 state;
	struct limiter	 lim;
	bool		 rl_capped;	/* a Reset past the window: logged */
	int64_t		 wait_logged;	/* end of the last wait logged */
	int		 inflight;	/* requests on the wire */
	int		 target;	/* in-flight requests wanted (ws_size) */
	double		 rtt_ms;	/* smoothed round trip of answers */
	int		 jobs;		/* records claimed */
	int		 waiting;	/* of which parked in an in-doubt wait */
	int		 netfails;	/* consecutive transport failures */
	int		 boot_failures;	/* busy answers to the boot check */
	int64_t		 state_since;
	char		 outage_why[256];	/* WS_OUTAGE: why, as logged */
	struct jobq	 sendq;		/* jobs whose next request waits to be sent */
	struct readq	 readq;		/* interactive reads: sent before sendq */
	int64_t		 rd_win_start;	/* monotonic ms: this 10-s read window */
	long		 rd_win_n;	/* reads that jumped the drain in it */
	struct readq	 warmq;		/* warm-up reads: when nothing waits */
	struct readq	 lagq;		/* search-lag samples: the same, in a share */
	int64_t		 lg_win_start;	/* monotonic ms: this 10-s lag window */
	long		 lg_win_n;	/* lag searches sent in it */
	struct lag_ws	*lag;		/* the search-lag sampler (lag.h) */
	int64_t		 wm_next;	/* monotonic ms the next may go */
	char		 app_id[64];	/* GET /me app.id_code, "" unknown */
	struct event	*wake;		/* limiter / probe / token-check timer */
	json_t		*attrs;		/* contact data attributes: name -> type */
	int64_t		 token_mtime;
	int		 warned_attrs;
	int64_t		 conv_attrs_refused;	/* monotonic ms conversation attributes were refused; 0 never */
	bool		 tags_loaded;	/* GET /tags filled the tag cache */
	json_t		*flights;	/* request key -> monotonic ms it went (ws_flight_*) */
	bool		 supplied;	/* the last claim found all it had room for */
	int		 delivered;	/* since the last state save */
	int64_t		 saved_at;	/* when workspace_state was last written */
	bool		 dirty;		/* workspace_state row needs writing */
	bool		 me_logged;	/* the start-up GET /me line was logged */
	/* Configuration checks (admin_id, routes, allowed_attributes against
	 * GET /admins, /teams, /data_attributes): at start and on SIGHUP. */
	bool		 checked;	/* done for the configuration in force */
	bool		 attrs_stale;	/* SIGHUP: list the attributes again */
	bool		 booting;	/* a boot-check request is on its way */
	json_t		*chk_admins;	/* ids from GET /admins; NULL = unknown */
	json_t		*chk_teams;	/* ids from GET /teams; NULL = unknown */
	/* ...kept after the checks for records' own assign (ws_ids):
	 * [0] admins, [1] teams */
	int64_t		 ids_read_ms[2];	/* monotonic: last read sent; 0 never */
	bool		 ids_warned[2];	/* the 403 line was logged */
	bool		 pause_config;	/* WS_PAUSED on a configuration mistake */
	bool		 pause_proxy;	/* ...a proxy's 407 (ws_pause_proxy) */
	int64_t		 recheck_at;	/* ...checked again then (monotonic ms) */
	bool		 rechecking;	/* those checks are on their way */
	char		 pause_reason[1024];	/* shown by status, /healthz */
	struct stats_ws	 st;		/* /metrics counters (stats.h) */
};

/*
 * A record parsed when it was sorted, kept for job_start so that it is
 * not parsed a second time when claimed (parsing was 9.6% of the
 * instructions per request, half of it the second parse).  Direct
 * mapped by id; a miss only means parsing again.
 */
#define ENGINE_PARSED		512	/* sorting runs 256 ahead */
#define ENGINE_PARSED_BYTES	(16 * 1024 * 1024)	/* payload copies */
struct engine_parsed {
	int64_t			 id;
	char			*payload;	/* owned copy; NULL: slot empty */
	const struct conf_ws	*cw;		/* parsed under this config */
	struct record		 r;		/* owned */
};

struct engine {
	struct event_base *base;
	struct http	*http;
	struct httpd	*httpd;		/* [worker] listen; NULL when off */
	struct ctx	*ctx;		/* its /v1/context, /v1/articles; NULL when off */
	struct webhook	*webhook;	/* [worker] webhook_listen; NULL when off */
	struct poll	*poll;		/* poll_share: poller.c */
	struct db	 db;
	struct conf	*conf;
	char		*conf_path;
	char		 owner[160];	/* "host:pid:nonce", unique per process */
	int		 owner_fd;	/* flock held on <database>.owners/<owner> */
	char		 host[96];
	struct wsrt	**ws;		/* owned; stable addresses (jobs point here) */
	size_t		 nws;
	struct event	*poll_ev, *renew_ev, *grace_ev;
	struct event	*sig_term, *sig_int, *sig_hup;
	bool		 drain;		/* --drain: exit when nothing is due */
	bool		 stopping;
	int		 exit_code;
	int		 jobs;
	struct jobq	 all;		/* every active job */
	struct jobq	 stalled;	/* jobs waiting to retry a database write */
	/* group commit (engine_tx_*): one transaction per loop iteration */
	bool		 tx_open;
	struct event	*tx_ev;		/* commits the group, last in the iteration */
	struct jobq	 txjobs;	/* jobs that wrote in the open group */
	struct jobq	 held;		/* requests queued while it is open */
	long		 n_commits;
	int64_t		 commit_ms;	/* how long commits hold the loop */
	struct event	*stall_ev;
	int		 stall_n;	/* consecutive failed stall rounds */
	bool		 db_stalled;	/* a write failed: others queue, don't try */
	bool		 stall_running;
	bool		 final;		/* the loop ended: no more timers */
	bool		 claim_more;	/* the last poll filled a batch with room left */
	int64_t		 db_busy_until;	/* monotonic ms: outbox was locked, wait */
	int64_t		 backoff_base_ms, backoff_cap_ms;
	double		 crash_p;	/* test hook: CALLSYNC_TEST_CRASH */
	struct event	*hb_ev;		/* heartbeat (workers row), ops.c */
	struct wake	*wake;		/* inotify wake-up on enqueue; NULL = poll only */
	struct event	*wd_ev;		/* systemd watchdog, when asked for */
	/* File descriptors (fdlimit.h): caps set at start when the limit is
	 * short (0: none), and a wait after EMFILE/ENFILE. */
	int		 fd_transfers;	/* requests in flight in all */
	int		 fd_ws_cap;	/* in-flight target per workspace */
	int64_t		 fd_short_until; /* monotonic ms: send nothing new */
	long		 fd_short_n;	/* refusals this episode; 0: none */
	/* counters, printed at exit */
	long		 n_delivered, n_dead, n_requests, n_retries;
	struct engine_parsed *parsed;	/* [ENGINE_PARSED]; NULL until used */
	size_t		 parsed_bytes;	/* payload bytes held there */
	int64_t		 drain_said_ms;	/* --drain: last progress line */
};


/* engine.c */
int	 engine_init(struct engine *, const char *conf_path, struct conf *);
int	 engine_run(struct engine *);
void	 engine_parsed_keep(struct engine *, int64_t id, const char *payload,
	    const struct conf_ws *, struct record *);
int	 engine_parsed_take(struct engine *, int64_t id, const char *payload,
	    const struct conf_ws *, struct record *);
void	 engine_parsed_flush(struct engine *);
void	 engine_free(struct engine *);
void	 ws_enqueue(struct wsrt *, struct job_link *);
void	 ws_pump(struct wsrt *);
/*
 * Queue an interactive read rd (borrowed until its done runs) on ws.
 * -1 when ws is not ready (nothing queued, done not called).
 */
int	 ws_read(struct wsrt *, struct ws_read *);
/* Take rd out of the queue if it waits there (its done is not called). */
void	 ws_read_cancel(struct ws_read *);
/* Headers, timeouts and CA of a request, copied from cw (nothing borrowed:
 * a reload may free cw before the request is sent); -1 on ENOMEM. */
int	 ws_prepare(const struct conf_ws *, struct http_req *);
void	 ws_netresult(struct wsrt *, enum verdict);
enum verdict ws_answered(struct wsrt *, struct http_req *);
void	 ws_pause(struct wsrt *, long status, const char *why);
/*
 * One request of a kind on the wire per workspace, the other jobs that
 * need its answer wait for it (a tag's create, a re-read of the teams or
 * admins): ws_flight_busy says whether key is on the wire, ws_flight_set
 * marks it sent (on) or answered (off).  A mark older than
 * request_timeout + settle_margin no longer counts, so a request whose
 * job ended before its answer holds no one up.
 */
bool	 ws_flight_busy(const struct wsrt *, const char *key);
void	 ws_flight_set(struct wsrt *, const char *key, bool on);
/*
 * A record's own assign (job_update.c): the ids GET /teams (kind 't') or
 * GET /admins ('a') last answered (borrowed; NULL: not known).
 */
const json_t *ws_ids(const struct wsrt *, char kind);
/*
 * May a job read that list again to look for a team or admin created
 * since it was read?  1: yes, and it is marked as on the wire (the job
 * sends the GET and hands the answer to ws_ids_learn); 0: not before
 * config_recheck has passed since the last read, the list stands; -1: a
 * re-read is on the wire already, wait for it.
 */
int	 ws_ids_reread(struct wsrt *, char kind);
/* The answer of that re-read (o: parsed, may be NULL): keep its ids. */
void	 ws_ids_learn(struct wsrt *, char kind, const struct http_req *,
	    json_t *o);
void	 ws_outage(struct wsrt *, const char *why);
void	 engine_job_finished(struct engine *, struct job_link *);
void	 engine_kick(struct engine *);
double	 engine_rand(void);
/* Open-file budget spent (fdlimit.h): send nothing new; how long to wait. */
bool	 engine_fd_full(const struct engine *, int64_t now);
int64_t	 engine_fd_wait(const struct engine *, int64_t now);
/* Group commit: open the loop iteration's transaction if none is open
 * (0, or -1 when it cannot begin: then writes go alone, as before). */
int	 engine_tx_open(struct engine *);
/* The same, and note that l's job wrote in it (its fate follows the
 * group's commit: job_tx_done). */
int	 engine_tx_join(struct engine *, struct job_link *);
/* Commit the open group now (before the loop ends). */
void	 engine_tx_flush(struct engine *);

/* job.c */
/* A job for claimed record rec (its strings are stolen); NULL on ENOMEM. */
struct job_link *job_new(struct engine *, struct wsrt *, struct ob_rec *);
void	 job_start(struct job *);
void	 job_free(struct job *);
/* The engine handed the job's request to libcurl. */
void	 job_on_sent(struct job *);
/* The engine's stall timer: retry parked database writes. */
void	 job_stall_cb(evutil_socket_t, short, void *);
/* Release every job parked in an in-doubt wait (SIGTERM). */
void	 job_release_waiting(struct engine *);
int	 job_doubt_waits(struct engine *, const struct wsrt *, int64_t *);
void	 engine_drain_progress(struct engine *);
/* Give the record back (outage, pause, shutdown): no attempt charged. */
void	 job_release(struct job *, const char *class, const char *why);
/* The group j wrote in was committed (ok) or rolled back. */
void	 job_tx_done(struct job *, bool ok);

#endif
