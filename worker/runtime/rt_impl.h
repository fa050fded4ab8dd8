/*
 * rt_impl.h: the fields of struct rt, private to worker/runtime/.  The
 * layers above hold a struct rt only as an incomplete type (rt_new
 * makes one) and ask rt.h's functions for what they need; only the .c
 * files of worker/runtime/ include this (tests/integration/67_layers.sh
 * part f; a unit test may, white-box, defining CALLSYNC_RUNTIME_PRIVATE
 * first).
 */
#ifndef CALLSYNC_RT_IMPL_H
#define CALLSYNC_RT_IMPL_H

#ifndef CALLSYNC_RUNTIME_PRIVATE
#error "rt_impl.h is worker/runtime/'s own: use rt.h's functions"
#endif

#include "rt.h"

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

struct rt {
	struct event_base *base;
	struct http	*http;
	struct db	 db;
	struct conf	*conf;		/* in force; replaced by a reload */
	char		 owner[RT_OWNER_MAX];	/* "host:pid:nonce", unique per process */
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

/* Ready rt's storage (zeroed: its queues, no events yet); drain:
 * --drain.  With test hooks, CALLSYNC_TEST_CRASH sets crash_p.  rt_new
 * is this on a new allocation. */
void	 rt_init(struct rt *, bool drain);

#endif
