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

/*
 * struct wsrt's fields are the runtime's own (wsrt_impl.h); the layers
 * above ask these.  Each answers from the workspace runtime ws and owns
 * nothing it returns: a pointer is borrowed from ws (or from the
 * configuration in force) and good until the next event.
 */
struct wsrt;

/* Its name ([workspace NAME]); ws's, lives as long as ws. */
const char	*ws_name(const struct wsrt *);
/* The configuration it is served under: rt's configuration in force's
 * (rt_conf), replaced by a reload. */
const struct conf_ws *ws_conf(const struct wsrt *);
/* Its boot checks passed and it is neither in an outage nor paused:
 * records are claimed for it, reads are sent. */
bool	 ws_is_ready(const struct wsrt *);
/* Its breaker is open (WS_OUTAGE): Intercom unreachable, probing. */
bool	 ws_in_outage(const struct wsrt *);
/* In an outage or paused: what is queued waits (a throttled request
 * is given back rather than sent again). */
bool	 ws_offline(const struct wsrt *);
/* The app id GET /me named ("" not known yet); ws's. */
const char	*ws_app_id(const struct wsrt *);
/* Its contact data attributes, name -> type (GET /data_attributes);
 * ws's; NULL not known. */
const json_t	*ws_attrs(const struct wsrt *);
/* The search-lag sampler hooks.sampler_new made for it (the job
 * layer's, lag.h; NULL: none). */
void	*ws_sampler(const struct wsrt *);
/* Intercom refused its conversation attributes less than ms ago. */
bool	 ws_conv_attrs_refused_within(const struct wsrt *, int64_t ms);
/* Requests its rate limit allows per 10-s window; 0: not known yet. */
long	 ws_rate_budget(const struct wsrt *);
/* The loop: sort its new records now (it is not ready, or the last
 * claim found fewer sorted records than it had room for). */
bool	 ws_sort_ahead(const struct wsrt *);
/* The loop: how many records it may claim for ws now: twice the
 * in-flight target less the jobs not parked in a wait; 0 when not
 * ready. */
int	 ws_claim_room(const struct wsrt *);
/* --drain: its first boot check has neither passed nor failed yet, so
 * whether its records can move is not known. */
bool	 ws_starting(const struct wsrt *);
/* Its /metrics counters (stats.h): ws's, counted by the runtime. */
const struct stats_ws *ws_stats(const struct wsrt *);
/* The shared runtime it belongs to. */
struct rt	*ws_rt(const struct wsrt *);

/* What /healthz, /metrics and /ui show of a workspace (ws_status). */
#define WS_WHY_MAX	1024	/* the longest why, with its NUL */
struct ws_status {
	enum ws_state	 state;
	int64_t		 since;		/* wall s it entered state */
	const char	*why;		/* outage or pause: as logged; "" */
	bool		 pause_config;	/* paused on a configuration mistake */
	int		 jobs;		/* records held */
	int		 inflight;	/* requests on the wire */
	int		 target;	/* ...wanted (ws_size) */
};
/* Fill s from ws (why borrowed from ws). */
void	 ws_status(const struct wsrt *, struct ws_status *s);

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
/* The flight key of the admins ('a') or teams ('t') read (static). */
const char	*ws_ids_key(char kind);
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
 * (n == room) until the next claim, and needs no sorting ahead; true
 * when it was supplied and came up short: sort more at once. */
bool	 ws_claimed(struct wsrt *, size_t n, size_t room);
/*
 * What Intercom told a job about the workspace's setup: a contact
 * attribute does not fit it (true the first time: warn once); it refused
 * the conversation attributes now (ws->conv_attrs_refused: when).
 */
bool	 ws_attr_misfit(struct wsrt *);
void	 ws_conv_attrs_refused(struct wsrt *);

#endif
