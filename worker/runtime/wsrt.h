/*
 * wsrt: the workspace runtime.  Each workspace served has one: its send
 * queue of job requests, its interactive, warm-up and search-lag read
 * queues, its limiter and in-flight target, the outage breaker and its
 * probes, the pause on a refused token or a contradicted setting, the
 * boot checks (GET /me, /data_attributes, /tags, /admins, /teams), the
 * one-on-the-wire marks and the admin and team ids the checks read.
 *
 * Workspaces are isolated: each has its own token, limiter, breaker,
 * pause state and queue, so one workspace's outage or 401 never holds up
 * another's records.  The loop (daemon/engine.c) claims records and
 * hands them to jobs (job/job.c); jobs queue their requests here and
 * get their answers classified here (ws_answered); the local API
 * (api/context.c, poller.c, webhook.c) sends its reads here (ws_read).
 * What all workspaces share (the database, the group commit, the
 * counters) is struct rt (rt.h).
 */
#ifndef CALLSYNC_WSRT_H
#define CALLSYNC_WSRT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <jansson.h>
#include <event2/event.h>

#include "conf.h"
#include "http.h"
#include "retry.h"
#include "stats.h"

enum ws_state {
	WS_BOOT,	/* checking token and attributes (GET /me, /data_attributes) */
	WS_READY,
	WS_OUTAGE,	/* breaker open: probing with capped backoff */
	WS_PAUSED	/* 401/403: waiting for a new token (file change, SIGHUP);
			 * or a setting Intercom contradicts (pause_config):
			 * waiting for a fixed configuration (SIGHUP) */
};

struct rt;

/*
 * What the runtime holds of a job: its links in the queues the runtime
 * owns and the request to send.  The job itself is the job module's
 * (job.h, where the link is the first member of struct job): the runtime
 * only queues, sends and counts, and hands links back through its hooks
 * (rt.h), so it never names the job layer.
 */
struct job_link {
	struct wsrt	*ws;
	struct http_req	*req;		/* the next request; owned by the job */
	int64_t		 record_id;
	bool		 queued;	/* in ws->sendq */
	bool		 held;		/* in rt->held: waits for the group commit */
	bool		 in_tx;		/* in rt->txjobs: wrote in the open group */
	bool		 resend;	/* held when its group failed: send after
					 * the writes are replayed and committed */
	TAILQ_ENTRY(job_link) q;	/* in ws->sendq or rt->held */
	TAILQ_ENTRY(job_link) tx;	/* in rt->txjobs */
	TAILQ_ENTRY(job_link) all;	/* in rt->all */
	TAILQ_ENTRY(job_link) sq;	/* in rt->stalled */
};

TAILQ_HEAD(jobq, job_link);

/*
 * An interactive read (the caller context, context.c): a GET or a search
 * that takes no intent and writes nothing.  The caller embeds it, sets
 * req and done, and hands it to ws_read; the runtime sends it ahead of
 * the drain (see ws_pump) and calls done exactly once: with the answer's
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
	struct rt	*rt;
	struct conf_ws	*cw;		/* borrowed from rt->conf */
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
	void		*lag;		/* the search-lag sampler: the job
					 * layer's (lag.h), opaque here */
	int64_t		 wm_next;	/* monotonic ms the next may go */
	char		 app_id[64];	/* GET /me app.id_code, "" unknown */
	struct event	*wake;		/* limiter / probe / token-check timer */
	json_t		*attrs;		/* contact data attributes: name -> type */
	int64_t		 token_mtime;
	bool		 warned_attrs;	/* ws_attr_misfit was told once */
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

/* A new workspace runtime for cw (borrowed), booting, in rt->ws; NULL
 * on ENOMEM.  ws_free frees one (the loop has ended). */
struct wsrt	*ws_add(struct rt *, struct conf_ws *);
void	 ws_free(struct wsrt *);
/* Free every workspace of rt (the loop has ended). */
void	 ws_free_all(struct rt *);
/* The workspace runtime of that name (NULL: none); NULL: not served. */
struct wsrt	*ws_find(struct rt *, const char *name);
/* Start the boot checks (GET /me first); a probe in an outage. */
void	 ws_boot(struct wsrt *);
/* A reload: serve under cw (borrowed from the new configuration) and
 * check it against Intercom again; fresh: the workspace is new. */
void	 ws_reload(struct wsrt *, struct conf_ws *, bool fresh);
/* Persist what `callsync status` shows about ws (workspace_state);
 * ws_save_due only when a state changed or a delivery time is a second
 * old (each save is a commit). */
void	 ws_save(struct wsrt *);
void	 ws_save_due(struct wsrt *);
/* Give every queued job of ws back to the outbox, refunded. */
void	 ws_release_queued(struct wsrt *, const char *class, const char *why);
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
/*
 * What the jobs tell the runtime (the counters of `callsync status`,
 * /metrics and the exit line; the room the loop claims for):
 * a record was delivered (enqueued_s: its enqueue time, unix s, 0 not
 * known: no end-to-end time), dead-lettered for reason, given back for
 * a later attempt (class); a job parks in an in-doubt wait or leaves it
 * (a waiting job leaves room to claim another).
 */
void	 ws_count_delivered(struct wsrt *, int64_t enqueued_s);
void	 ws_count_dead(struct wsrt *, const char *reason);
void	 ws_count_retry(struct wsrt *, const char *class);
void	 ws_wait_begin(struct wsrt *);
void	 ws_wait_end(struct wsrt *);
/* A /v1/context answer from source src (STATS_CTX_*), dur_s long. */
void	 ws_count_context(struct wsrt *, int src, double dur_s);
/* The loop's claim found n records for room: the workspace is supplied
 * (n == room) until the next claim, and needs no sorting ahead. */
void	 ws_claimed(struct wsrt *, size_t n, size_t room);
/*
 * What Intercom told a job about the workspace's setup: a contact
 * attribute does not fit it (true the first time: warn once); it refused
 * the conversation attributes now (ws->conv_attrs_refused: when).
 */
bool	 ws_attr_misfit(struct wsrt *);
void	 ws_conv_attrs_refused(struct wsrt *);

#endif
