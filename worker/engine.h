/*
 * engine: the worker's runtime.  One libevent loop drives everything:
 * the outbox poll timer (sort, claim), per-workspace send queues paced by
 * the limiter, the outage breaker and its probes, lease renewal, signals.
 * Data flows one way: outbox -> job (pipeline.c) -> Intercom -> journal
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
#include "outbox.h"
#include "record.h"
#include "retry.h"

enum ws_state {
	WS_BOOT,	/* checking token and attributes (GET /me, /data_attributes) */
	WS_READY,
	WS_OUTAGE,	/* breaker open: probing with capped backoff */
	WS_PAUSED	/* 401/403: waiting for a new token (file change, SIGHUP) */
};

struct engine;
struct job;

/* What a job parked on a failed database write retries (job_stall). */
enum { STALL_NONE, STALL_ADVANCE, STALL_COMMIT, STALL_OUTCOME };

TAILQ_HEAD(jobq, job);

struct wsrt {
	struct engine	*e;
	struct conf_ws	*cw;		/* borrowed from e->conf */
	char		 name[65];
	enum ws_state	 state;
	struct limiter	 lim;
	int		 inflight;	/* requests on the wire */
	int		 jobs;		/* records claimed */
	int		 waiting;	/* of which parked in an in-doubt wait */
	int		 netfails;	/* consecutive transport failures */
	int		 probe_s;	/* current probe backoff */
	int		 boot_failures;	/* busy answers to the boot check */
	int64_t		 state_since;
	struct jobq	 sendq;		/* jobs whose next request waits to be sent */
	struct event	*wake;		/* limiter / probe / token-check timer */
	json_t		*attrs;		/* contact data attributes: name -> type */
	int64_t		 token_mtime;
	int		 warned_attrs;
	bool		 tags_loaded;	/* GET /tags filled the tag cache */
	int		 delivered;	/* since the last state save */
	int64_t		 saved_at;	/* when workspace_state was last written */
	bool		 dirty;		/* workspace_state row needs writing */
};

struct engine {
	struct event_base *base;
	struct http	*http;
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
	struct event	*stall_ev;
	int		 stall_n;	/* consecutive failed stall rounds */
	bool		 db_stalled;	/* a write failed: others queue, don't try */
	bool		 stall_running;
	bool		 final;		/* the loop ended: no more timers */
	int64_t		 backoff_base_ms, backoff_cap_ms;
	double		 crash_p;	/* test hook: CALLSYNC_TEST_CRASH */
	/* counters, printed at exit */
	long		 n_delivered, n_dead, n_requests, n_retries;
};

struct job {
	struct engine	*e;
	struct wsrt	*ws;
	struct ob_rec	 rec;
	struct record	 r;
	json_t		*journal;	/* step -> {"id":..., "detail":...} */
	char		 contact_id[64];
	char		 contact_role[16];
	char		 conv_id[32];
	json_t		*conv;		/* last GET of the conversation, for reconciling */
	char		 tag_id[32];	/* tag being applied */
	int		 tag_i;		/* index into the tag list */
	json_t		*tags;		/* array of tag names to apply */
	json_t		*pieces;	/* array of bodies: [0] conversation/first note, then continuations */
	int		 search_phase;	/* contact resolution sub-state */
	json_t		*merges;
	int		 resolves;	/* contact re-resolutions this attempt */
	char		 gone_id[64];	/* contact that answered 404 without a Link */	/* leads to merge into contact_id (merge_duplicates) */
	int		 nrequests;
	/* the request being built / waited on */
	struct http_req	*req;
	char		 step[96];	/* journal step the request serves */
	char		 path[256];
	bool		 is_write;
	char		*body_text;	/* copy of the request body for audit */
	void		(*handler)(struct job *, struct http_req *, enum verdict, json_t *);
	char		 intent[128];	/* step whose intent the queued request serves */
	bool		 sent;		/* the current request reached the wire */
	int64_t		 loaded_ms;	/* monotonic: journal loaded (doubt clock base) */
	/* parked in memory: an in-doubt wait, or a database write to retry */
	struct event	*timer;
	bool		 waiting;	/* an in-doubt wait holds the claim */
	int		 stall;		/* STALL_*: what the timer retries */
	int		 stall_n;	/* consecutive failed retries */
	struct ob_fail	 out;		/* STALL_OUTCOME: the outcome to write */
	int		 out_kind;	/* OUT_* */
	char		*out_strs[6];	/* owned copies behind out */
	char		*c_step, *c_id, *c_detail;	/* STALL_COMMIT */
	bool		 c_write;
	int64_t		 lastcall_at;	/* call time behind last_call_* being written; 0 none */
	long		 c_status, c_dur;
	TAILQ_ENTRY(job) q;		/* in ws->sendq */
	TAILQ_ENTRY(job) all;		/* in e->all */
	TAILQ_ENTRY(job) sq;		/* in e->stalled */
	bool		 queued;
};

/* engine.c */
int	 engine_init(struct engine *, const char *conf_path, struct conf *);
int	 engine_run(struct engine *);
void	 engine_free(struct engine *);
void	 ws_enqueue(struct wsrt *, struct job *);
void	 ws_pump(struct wsrt *);
/* Headers, timeouts and CA of a request, copied from cw (nothing borrowed:
 * a reload may free cw before the request is sent); -1 on ENOMEM. */
int	 ws_prepare(const struct conf_ws *, struct http_req *);
void	 ws_netresult(struct wsrt *, enum verdict);
void	 ws_pause(struct wsrt *, long status, const char *why);
void	 ws_outage(struct wsrt *, const char *why);
void	 engine_job_finished(struct engine *, struct job *);
void	 engine_kick(struct engine *);
double	 engine_rand(void);

/* pipeline.c */
struct job *job_new(struct engine *, struct wsrt *, struct ob_rec *);
void	 job_start(struct job *);
void	 job_free(struct job *);
/* The engine handed the job's request to libcurl. */
void	 job_on_sent(struct job *);
int64_t	 job_record_id(const struct job *);
/* The engine's stall timer: retry parked database writes. */
void	 job_stall_cb(evutil_socket_t, short, void *);
/* Release every job parked in an in-doubt wait (SIGTERM). */
void	 job_release_waiting(struct engine *);
/* Give the record back (outage, pause, shutdown): no attempt charged. */
void	 job_release(struct job *, const char *class, const char *why);

#endif
