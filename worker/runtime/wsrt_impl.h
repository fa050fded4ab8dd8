/*
 * wsrt_impl.h: the fields of struct wsrt, private to worker/runtime/.
 * The layers above hold a struct wsrt only as an incomplete type and
 * ask wsrt.h's functions for what they need; only the .c files of worker/runtime/
 * include this (tests/integration/67_layers.sh part f; a unit test may,
 * white-box, defining CALLSYNC_RUNTIME_PRIVATE first).
 */
#ifndef CALLSYNC_WSRT_IMPL_H
#define CALLSYNC_WSRT_IMPL_H

#ifndef CALLSYNC_RUNTIME_PRIVATE
#error "wsrt_impl.h is worker/runtime/'s own: use wsrt.h's functions"
#endif

#include "wsrt.h"

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
	char		 pause_reason[WS_WHY_MAX];	/* shown by status, /healthz */
	struct stats_ws	 st;		/* /metrics counters (stats.h) */
};

#endif
