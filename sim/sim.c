/*
 * sim.c: intercom-sim's main: flags, the two evhttp listeners, and the
 * fault layer between HTTP and the API handlers.  Every API request gets a
 * sequence number and, on arrival, all of its random decisions (fault kind,
 * 5xx status, jitter) from one PRNG seeded by --seed, so the same request
 * sequence always meets the same faults.  Delays use libevent timers, never
 * sleep.  A request waiting for its timer or stalled forever is a "pend";
 * the connection's close callback tells us when the client gave up (evhttp
 * then hands the request to us, and we free it).  Then come auth, version,
 * Accept and rate-limit checks like Intercom's, the handler (sim_api.c),
 * and the answer may be lost (applied, connection dropped), truncated
 * (malformed) or sent.  The /_sim/ endpoints are served on both listeners
 * without faults, and every API request is counted and logged for GET
 * /_sim/state.
 *
 * Late applies model Intercom finishing a write after the gateway gave
 * up: a write drawn "late" (p_late, p_late_lost, or forced by late_next,
 * optionally only on late_paths) runs late_ms after arrival from a timer,
 * whether the client is still connected or not.  Everything the handler
 * needs (method, path, query, the headers the checks read, body) is
 * copied on arrival, because a client that leaves takes evhttp's request
 * with it: the close callback frees the request at once, and the pend
 * runs from its copy.  Auth, rate limit and the handler's clock are those
 * of the apply, so created_at and the search lag count from it.  The log
 * entry is made on arrival (status 0) and completed at the apply.
 * merge_on_next merges two contacts as a chosen request arrives, and
 * /_sim/pad_conversation grows a conversation past what a client reads.
 *
 * Per path: latency_paths gives the requests whose path contains a
 * substring their own latency (one slow endpoint among fast ones, for a
 * client's deadline), and fault_paths limits the random faults to paths
 * containing a substring (the draw still happens, so seeds keep their
 * meaning); forbidden_paths answers 403 on exact paths, as Intercom does
 * for a token without the scope a path needs.  POST /_sim/teams adds a
 * team, as a teammate would in the Intercom UI.  POST /_sim/{conversations,companies,tickets,articles} seed
 * or change fixtures without the API's rules or search lag (sim_ctx.c).
 *
 * portal (not Intercom: it simulates the network between the client and
 * Intercom, a hotel or venue captive portal or a middlebox): while set,
 * every API request is answered by "the network" before it reaches the
 * API, as a portal intercepting the connection would: "302" redirects to
 * portal_location (a login page on another host), "html" answers 200
 * text/html with a login page, "407" asks for proxy credentials.
 * Nothing is applied, logged or counted as an API request; such answers
 * are counted under faults.portal_answered in GET /_sim/state, and
 * faults.portal_auth counts those that carried an Authorization header.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "sim.h"
#include "sim_hooks.h"

#define MAX_BODY	(2 * 1024 * 1024)	/* larger: 413 */
#define LOG_CAP		100000			/* entries kept in the log */

/* New kinds go last: the names index GET /_sim/state's log. */
enum fault { F_NONE, F_RESET, F_STALL, F_5XX, F_LOST, F_MALFORMED,
    F_429, F_LATE, F_LATE_LOST, F_NFAULTS };
static const char *fault_names[] = { NULL, "reset", "stall", "5xx", "lost",
    "malformed", "429", "late", "late_lost" };

enum down { DOWN_NONE, DOWN_REFUSE, DOWN_STALL };
/* Not Intercom: the network answering in its place (see the top). */
enum portal { PORTAL_NONE, PORTAL_302, PORTAL_HTML, PORTAL_407 };

#define LAT_PATHS	8	/* latency_paths entries */

struct latpath {
	char		 path[128];	/* substring of the request path */
	long		 ms;
};

struct conf {
	long		 latency_ms, jitter_ms;
	double		 p_5xx, p_reset, p_lost, p_stall, p_malformed;
	double		 p_late, p_late_lost;
	long		 late_ms;	/* a late write applies this late */
	long		 late_next;	/* this many writes late, no draw */
	char		 late_paths[256];	/* "": late anywhere */
	bool		 token_revoked;
	double		 search_lag_s;
	double		 conv_search_lag_s;	/* -1: search_lag_s */
	double		 search_lag_tail_s;	/* 0: lags fixed; else drawn */
	long		 rate_limit;	/* per minute, 0: unlimited */
	enum down	 down;
	enum portal	 portal;
	char		 portal_location[256];
	struct latpath	 lat_paths[LAT_PATHS];	/* first match wins */
	size_t		 nlat_paths;
	char		 fault_paths[256];	/* "": random faults anywhere */
	char		 forbidden_paths[256];	/* ","-separated: 403 there */
	/*
	 * Test controls for the client's clock handling (invented: Intercom
	 * has no such knobs).  clock_skew_s moves the clock the answers
	 * show, the Date header and X-RateLimit-Reset (and so the rate
	 * windows), as when the client's box is that far off Intercom's
	 * clock the other way; stored objects keep the real clock.  The next
	 * rl_hostile_next answers say X-RateLimit-Remaining 0 and a Reset
	 * rl_hostile_reset_s ahead (a broken limiter or a hostile
	 * middlebox), the requests themselves being served.
	 */
	long		 clock_skew_s;
	long		 rl_hostile_next;
	long		 rl_hostile_reset_s;
	/*
	 * first_5xx (invented test control): the first request of each
	 * endpoint (as /_sim/state's by_endpoint names it) is answered 500
	 * unapplied, later ones as usual.  A record of several steps then
	 * meets one transient failure per step, each after progress: a
	 * deterministic way to test how failures are counted.
	 */
	bool		 first_5xx;
};

#define FIRST5XX_MAX	64


struct logent {
	unsigned long long seq;
	char		 method[8];
	char		*path;
	char		*endpoint;
	int		 status;
	enum fault	 fault;
	long long	 at_ms;
	bool		 applied_late;
	long long	 applied_at_ms;
};

struct sim;

/*
 * What api_process() needs of a request, copied on arrival: a late write
 * runs after the client may have gone, and then nothing of evhttp's is
 * ours to read any more.
 */
struct areq {
	char		 method[8];
	char		*path, *query;	/* query may be NULL */
	char		*auth, *version, *accept;	/* NULL when absent */
	char		*body;
	size_t		 bodylen;
};

/* merge_on_next: a merge armed to happen as a chosen request arrives. */
struct merge_next {
	bool		 armed;
	char		 path[256];
	char		 from[SIM_CID_LEN], into[SIM_CID_LEN];
};

/*
 * A request held back by latency, a stall or a late apply.  req is NULL
 * once the client has gone: evhttp handed it to us and we freed it, so
 * the pend runs from its copy a alone.
 */
struct pend {
	struct sim		*s;
	struct evhttp_request	*req;
	struct areq		 a;
	struct event		*timer;
	enum fault		 fault;
	int			 status5xx;
	unsigned long long	 seq;
	long long		 at_ms;
	long			 late_ms;	/* late_ms at arrival */
	bool			 gone;	/* client left: req is ours */
	struct pend		*prev, *next;
};

struct sim {
	struct event_base	*base;
	struct evhttp		*api, *ctl;
	struct evhttp_bound_socket *api_sock;
	struct event		*sigterm, *sigint;
	const char		*bind;
	int			 api_port, ctl_port;
	char			*token;
	struct conf		 conf;
	unsigned long long	 seed, rng;
	struct sim_store	 store;
	/* counters */
	unsigned long long	 seq, total;
	json_t			*by_endpoint;
	unsigned long long	 faults[F_NFAULTS];
	struct merge_next	 merge_next;
	char			 f5_seen[FIRST5XX_MAX][128];	/* first_5xx */
	size_t			 f5_n;
	struct logent		*log;
	size_t			 nlog, loghead;
	/* rate limit */
	long long		 rl_window;
	long			 rl_used;
	struct pend		*pends;
	/* API requests received and not yet answered (or dropped), and the
	 * most seen at once: how much concurrency a client reached. */
	long			 open, open_max;
	/* the network's answers in Intercom's place (portal) */
	unsigned long long	 portal_answered, portal_auth;
	const char		*dump;
};

static void	api_cb(struct evhttp_request *, void *);

/* splitmix64: one stream drives every random decision. */
static uint64_t
rng_next(struct sim *s)
{
	uint64_t	z;

	z = (s->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
rng_double(struct sim *s)
{
	return (rng_next(s) >> 11) * 0x1.0p-53;
}

/*
 * A new object's search lag (invented: Intercom publishes no
 * distribution, only "a few minutes").  With search_lag_tail_s set, drawn
 * for each object from a log-normal distribution whose median is the
 * configured lag (sigma 1.5: many fast, a few twenty times the median or
 * more), capped at search_lag_tail_s; else the configured lag itself.
 * No draw without a tail, so the random stream of other faults is the
 * one a seed always gave.
 */
static double
lag_draw(struct sim *s, double median)
{
	double	 u1, u2, v;

	if (s->conf.search_lag_tail_s <= 0 || median <= 0)
		return median;
	u1 = rng_double(s);
	u2 = rng_double(s);
	if (u1 < 1e-12)
		u1 = 1e-12;
	v = median * exp(1.5 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
	return v < s->conf.search_lag_tail_s ? v : s->conf.search_lag_tail_s;
}

static long long
now_ms(void)
{
	return (long long)(sim_now() * 1000);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

static const char *
method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	default: return "OTHER";
	}
}

static const char *
req_path(struct evhttp_request *req)
{
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	const char		*p = u ? evhttp_uri_get_path(u) : NULL;

	return p != NULL && *p != '\0' ? p : "/";
}

/* Send body (borrowed) as JSON; frees a request the client abandoned. */
static void
send_raw(struct evhttp_request *req, int status, const char *body,
    size_t len)
{
	struct evkeyvalq	*h;
	struct evbuffer		*b;

	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
	if ((b = evbuffer_new()) != NULL)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, status, reason(status), b);
	evbuffer_free(b);
}

static void
send_json(struct evhttp_request *req, int status, json_t *o)
{
	char	*s;

	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s == NULL)
		send_raw(req, 500, "{}", 2);
	else
		send_raw(req, status, s, strlen(s));
	free(s);
}

static void
error_json(struct sim_call *c, unsigned long long seq)
{
	/* UUID-shaped and reproducible: the sequence number, not the PRNG. */
	snprintf(c->request_id, sizeof(c->request_id),
	    "5e1f0000-0000-4000-8000-%012llx", seq);
}

/* --- counters and log --- */

static void
count_endpoint(struct sim *s, const char *ep, int status)
{
	json_t	*m, *v;
	char	 st[8];

	snprintf(st, sizeof(st), "%d", status);
	if ((m = json_object_get(s->by_endpoint, ep)) == NULL) {
		json_object_set_new(s->by_endpoint, ep, json_object());
		m = json_object_get(s->by_endpoint, ep);
	}
	v = json_object_get(m, st);
	json_object_set_new(m, st, json_integer(v ?
	    json_integer_value(v) + 1 : 1));
}

static void
log_add(struct sim *s, unsigned long long seq, const char *method,
    const char *path, const char *ep, int status, enum fault f, long long at)
{
	struct logent	*e;

	if (s->log == NULL &&
	    (s->log = calloc(LOG_CAP, sizeof(*s->log))) == NULL)
		return;
	/* A ring: the oldest entry goes once LOG_CAP is reached. */
	if (s->nlog < LOG_CAP)
		e = &s->log[(s->loghead + s->nlog++) % LOG_CAP];
	else {
		e = &s->log[s->loghead];
		s->loghead = (s->loghead + 1) % LOG_CAP;
		free(e->path);
		free(e->endpoint);
	}
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	snprintf(e->method, sizeof(e->method), "%s", method);
	e->path = strndup(path, 256);
	e->endpoint = strdup(ep);
	e->status = status;
	e->fault = f;
	e->at_ms = at;
}

/* The entry of seq; NULL once the ring or a reset lost it. */
static struct logent *
log_find(struct sim *s, unsigned long long seq)
{
	struct logent	*e;
	size_t		 i;

	for (i = s->nlog; i > 0; i--) {
		e = &s->log[(s->loghead + i - 1) % LOG_CAP];
		if (e->seq == seq)	/* jitter reorders: scan it all */
			return e;
	}
	return NULL;
}

static void
count(struct sim *s, unsigned long long seq, const char *method,
    const char *path, const char *ep, int status, enum fault f, long long at)
{
	s->total++;
	if (f != F_NONE)
		s->faults[f]++;
	count_endpoint(s, ep, status);
	log_add(s, seq, method, path, ep, status, f, at);
}

static void
log_clear(struct sim *s)
{
	size_t	i;

	for (i = 0; i < s->nlog; i++) {
		free(s->log[(s->loghead + i) % LOG_CAP].path);
		free(s->log[(s->loghead + i) % LOG_CAP].endpoint);
	}
	free(s->log);
	s->log = NULL;
	s->nlog = s->loghead = 0;
}

/* Late writes drawn but not applied yet. */
static unsigned long long
late_pending(struct sim *s)
{
	const struct pend	*p;
	unsigned long long	 n = 0;

	for (p = s->pends; p != NULL; p = p->next)
		if (p->fault == F_LATE || p->fault == F_LATE_LOST)
			n++;
	return n;
}

static json_t *
state_json(struct sim *s)
{
	const struct logent	*e;
	json_t			*o, *log, *ent;
	size_t			 i;

	o = sim_store_state(&s->store, sim_now());
	log = json_array();
	for (i = 0; i < s->nlog; i++) {
		e = &s->log[(s->loghead + i) % LOG_CAP];
		json_array_append_new(log, ent = json_pack(
		    "{s:I,s:s,s:s,s:s,s:i,s:o,s:I}", "seq", (json_int_t)e->seq,
		    "method", e->method, "path", e->path ? e->path : "",
		    "endpoint", e->endpoint ? e->endpoint : "",
		    "status", e->status, "fault", fault_names[e->fault] ?
		    json_string(fault_names[e->fault]) : json_null(),
		    "at_ms", (json_int_t)e->at_ms));
		/* Late writes only: the key's absence keeps old logs alike. */
		if (ent != NULL && (e->fault == F_LATE ||
		    e->fault == F_LATE_LOST)) {
			json_object_set_new(ent, "applied_late",
			    json_boolean(e->applied_late));
			json_object_set_new(ent, "applied_at_ms",
			    e->applied_late ? json_integer(e->applied_at_ms) :
			    json_null());
		}
	}
	json_object_set_new(o, "requests", json_pack("{s:I,s:O,s:o,s:I,s:I}",
	    "total", (json_int_t)s->total, "by_endpoint", s->by_endpoint,
	    "log", log, "open", (json_int_t)s->open,
	    "open_max", (json_int_t)s->open_max));
	json_object_set_new(json_object_get(o, "requests"), "searches",
	    s->store.searches != NULL ? json_incref(s->store.searches) :
	    json_object());
	json_object_set_new(o, "faults", json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
	    "lost", (json_int_t)s->faults[F_LOST],
	    "reset", (json_int_t)s->faults[F_RESET],
	    "stall", (json_int_t)s->faults[F_STALL],
	    "5xx", (json_int_t)s->faults[F_5XX],
	    "malformed", (json_int_t)s->faults[F_MALFORMED],
	    "rate_limited", (json_int_t)s->faults[F_429],
	    "late", (json_int_t)s->faults[F_LATE],
	    "late_lost", (json_int_t)s->faults[F_LATE_LOST],
	    "late_pending", (json_int_t)late_pending(s)));
	/* Not Intercom's faults: the network's (portal). */
	json_object_set_new(json_object_get(o, "faults"), "portal_answered",
	    json_integer((json_int_t)s->portal_answered));
	json_object_set_new(json_object_get(o, "faults"), "portal_auth",
	    json_integer((json_int_t)s->portal_auth));
	return o;
}

/* --- the API path: checks, handler, fault outcome --- */

static const char *versions[] = { "1.0", "1.1", "1.2", "1.3", "1.4", "2.0",
    "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8", "2.9", "2.10",
    "2.11", "2.12", "2.13", "2.14", "2.15", "2.16", NULL };

static bool
token_ok(struct sim *s, const char *auth)
{
	if (s->conf.token_revoked || auth == NULL ||
	    strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	return strcmp(auth + 7, s->token) == 0;
}

/*
 * forbidden_paths: a token without the scope these paths need (the
 * 2.16 description's 403 "forbidden"); exact paths, comma-separated.
 */
static bool
path_forbidden(const struct sim *s, const char *path)
{
	const char	*p = s->conf.forbidden_paths, *e;
	size_t		 n = strlen(path);

	while (*p != '\0') {
		e = strchr(p, ',');
		if ((size_t)((e ? e : p + strlen(p)) - p) == n &&
		    strncmp(p, path, n) == 0)
			return true;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return false;
}

static bool
version_ok(const char *v)
{
	size_t	i;

	for (i = 0; versions[i] != NULL; i++)
		if (strcmp(v, versions[i]) == 0)
			return true;
	return false;
}

/* No Accept allows anything (RFC 9110); else JSON must be acceptable. */
static bool
accept_ok(const char *a)
{
	return a == NULL || strstr(a, "application/json") != NULL ||
	    strstr(a, "*/*") != NULL || strstr(a, "application/*") != NULL;
}

struct rl {
	bool		 on;
	long long	 limit, remaining, reset;
	long long	 date;	/* Date (unix s); 0: evhttp's own */
};

/*
 * Intercom splits the per-minute budget into 10 s windows aligned on the
 * wall clock.  Unlimited (0) still sends headers, with a budget no client
 * reaches, so pacing code sees the same shape.  false: over the budget.
 */
static bool
rate_take(struct sim *s, double now, struct rl *rl)
{
	long long	win = (long long)(now / 10);
	long long	budget;

	if (win != s->rl_window) {
		s->rl_window = win;
		s->rl_used = 0;
	}
	budget = s->conf.rate_limit > 0 ? (s->conf.rate_limit + 5) / 6 :
	    1000000;
	rl->on = true;
	rl->limit = budget;
	rl->reset = (win + 1) * 10;
	rl->date = (long long)now;
	if (s->rl_used >= budget) {
		rl->remaining = 0;
		return false;
	}
	s->rl_used++;
	rl->remaining = budget - s->rl_used;
	return true;
}

static char *
dup_or_null(const char *v)
{
	return v != NULL ? strdup(v) : NULL;
}

static void
areq_free(struct areq *a)
{
	free(a->path);
	free(a->query);
	free(a->auth);
	free(a->version);
	free(a->accept);
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/* Copy of req for api_process(); -1: out of memory. */
static int
areq_copy(struct areq *a, struct evhttp_request *req)
{
	struct evkeyvalq	*h = evhttp_request_get_input_headers(req);
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	const struct evhttp_uri	*u = evhttp_request_get_evhttp_uri(req);
	const char		*q = u ? evhttp_uri_get_query(u) : NULL;

	memset(a, 0, sizeof(*a));
	snprintf(a->method, sizeof(a->method), "%s", method_name(req));
	a->bodylen = evbuffer_get_length(in);
	if ((a->path = strdup(req_path(req))) == NULL ||
	    (q != NULL && (a->query = strdup(q)) == NULL) ||
	    (a->body = malloc(a->bodylen + 1)) == NULL)
		goto fail;
	a->auth = dup_or_null(evhttp_find_header(h, "Authorization"));
	a->version = dup_or_null(evhttp_find_header(h, "Intercom-Version"));
	a->accept = dup_or_null(evhttp_find_header(h, "Accept"));
	evbuffer_copyout(in, a->body, a->bodylen);
	a->body[a->bodylen] = '\0';
	return 0;
fail:
	areq_free(a);
	return -1;
}

/*
 * Checks and handler for a; the answer is left in c (status, resp) and
 * rl.  Applies the request's effects, if any.
 */
static void
api_process(struct sim *s, const struct areq *a, struct sim_call *c,
    struct rl *rl, enum fault *f)
{
	c->method = a->method;
	snprintf(c->path, sizeof(c->path), "%s", a->path);
	c->query = a->query;
	c->now = sim_now();
	c->search_lag = lag_draw(s, s->conf.search_lag_s);
	c->conv_search_lag = lag_draw(s, s->conf.conv_search_lag_s >= 0 ?
	    s->conf.conv_search_lag_s : s->conf.search_lag_s);
	if (!token_ok(s, a->auth)) {
		sim_api_error(c, 401, "unauthorized", "Access Token Invalid");
		return;
	}
	if (a->version != NULL && !version_ok(a->version)) {
		sim_api_error(c, 400, "intercom_version_invalid",
		    "The requested version could not be found");
		return;
	}
	if (path_forbidden(s, a->path)) {
		sim_api_error(c, 403, "forbidden", "You do not have the "
		    "required scope to access this resource");
		return;
	}
	/* Intercom's clock as its answers show it (see clock_skew_s). */
	rl->date = (long long)(c->now + s->conf.clock_skew_s);
	if (!rate_take(s, c->now + s->conf.clock_skew_s, rl)) {
		char	msg[96];

		snprintf(msg, sizeof(msg), "Exceeded rate limit of %lld in "
		    "10_seconds", rl->limit);
		sim_api_error(c, 429, "rate_limit_exceeded", msg);
		*f = F_429;
		return;
	}
	if (s->conf.rl_hostile_next > 0) {
		s->conf.rl_hostile_next--;
		rl->remaining = 0;
		rl->reset = rl->date + s->conf.rl_hostile_reset_s;
	}
	if (!accept_ok(a->accept)) {
		sim_api_error(c, 406, "not_acceptable",
		    "Accept must allow application/json");
		return;
	}
	if (a->bodylen > MAX_BODY) {
		sim_api_error(c, 413, "request_too_large",
		    "Request body exceeds 2 MiB");
		return;
	}
	c->bodylen = a->bodylen;
	c->body = a->body;
	sim_api_handle(&s->store, c);
}

static void
pend_unlink(struct pend *p)
{
	struct sim	*s = p->s;

	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		s->pends = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	if (p->timer != NULL)
		event_free(p->timer);
	areq_free(&p->a);
	free(p);
	s->open--;
}

/* Drop the connection: RST (SO_LINGER 0) for resets, FIN otherwise. */
static void
drop(struct evhttp_request *req, bool rst)
{
	struct evhttp_connection	*evcon;
	struct linger			 lg = { 1, 0 };
	evutil_socket_t			 fd;
	int				 nfd;

	if (req == NULL)
		return;		/* the client left first: freed then */
	if ((evcon = evhttp_request_get_connection(req)) == NULL) {
		evhttp_request_free(req);	/* client gone: ours */
		return;
	}
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	/*
	 * evhttp_connection_free() sends a FIN (shutdown) before closing,
	 * which the client sees as an empty reply.  For a reset, close the
	 * socket first with SO_LINGER 0 by putting a fresh, unconnected
	 * socket in its place with dup2(): libevent then shuts down and
	 * closes the stand-in, and no fd number is ever closed twice.
	 */
	if (rst && fd != -1 &&
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0 &&
	    (nfd = socket(AF_INET, SOCK_STREAM, 0)) != -1) {
		dup2(nfd, fd);
		close(nfd);
	}
	evhttp_connection_free(evcon);	/* frees req too */
}

static void
reply(struct evhttp_request *req, const struct sim_call *c,
    const struct rl *rl, const char *body, size_t len)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct evhttp_connection *evcon;
	char			 buf[64];
	struct tm		 tm;
	time_t			 t = (time_t)rl->date;

	if (req == NULL)
		return;
	if ((evcon = evhttp_request_get_connection(req)) == NULL) {
		evhttp_request_free(req);
		return;
	}
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	/*
	 * Date, as every HTTP origin with a clock sends it (RFC 9110 6.6.1;
	 * Intercom's answers carry it); evhttp would add one from the real
	 * clock, so the skewed one is set here when there is one.
	 */
	if (rl->date > 0 && gmtime_r(&t, &tm) != NULL &&
	    strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
		evhttp_add_header(h, "Date", buf);
	if (rl->on) {
		snprintf(buf, sizeof(buf), "%lld", rl->limit);
		evhttp_add_header(h, "X-RateLimit-Limit", buf);
		snprintf(buf, sizeof(buf), "%lld", rl->remaining);
		evhttp_add_header(h, "X-RateLimit-Remaining", buf);
		snprintf(buf, sizeof(buf), "%lld", rl->reset);
		evhttp_add_header(h, "X-RateLimit-Reset", buf);
	}
	if (c->link[0] != '\0')
		evhttp_add_header(h, "Link", c->link);
	send_raw(req, c->status, body, len);
}

/*
 * A late write's apply, at its timer whether or not the client is still
 * there: the log entry made on arrival gets the apply's status and time.
 * The client, if still connected, gets the answer now; late_lost drops it.
 */
static void
late_finish(struct pend *p, struct sim_call *c, const char *ep)
{
	struct sim	*s = p->s;
	struct rl	 rl = { false, 0, 0, 0, 0 };
	struct logent	*e;
	enum fault	 f = p->fault;
	char		*body;

	api_process(s, &p->a, c, &rl, &f);
	count_endpoint(s, ep, c->status);
	if ((e = log_find(s, p->seq)) != NULL) {
		e->status = c->status;
		e->applied_late = true;
		e->applied_at_ms = now_ms();
	}
	if (p->fault == F_LATE_LOST) {
		drop(p->req, false);
		return;
	}
	body = json_dumps(c->resp, JSON_COMPACT);
	reply(p->req, c, &rl, body ? body : "{}", body ? strlen(body) : 2);
	free(body);
}

/* Run p to its end: answer, lose or reset it.  Frees p. */
static void
pend_finish(struct pend *p)
{
	struct sim		*s = p->s;
	struct evhttp_request	*req = p->req;
	struct sim_call		*c;
	struct rl		 rl = { false, 0, 0, 0, 0 };
	enum fault		 f = p->fault;
	const char		*method = p->a.method, *path = p->a.path;
	char			 ep[128], *body = NULL;
	size_t			 len;

	sim_api_endpoint(method, path, ep, sizeof(ep));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		drop(req, true);
		goto out;
	}
	error_json(c, p->seq);
	if (f == F_LATE || f == F_LATE_LOST) {
		late_finish(p, c, ep);
		goto out;
	}
	if (f == F_RESET) {
		count(s, p->seq, method, path, ep, 0, f, p->at_ms);
		drop(req, true);
		goto out;
	}
	if (f == F_5XX) {
		sim_api_error(c, p->status5xx, p->status5xx == 503 ?
		    "service_unavailable" : "server_error", "Server Error");
		count(s, p->seq, method, path, ep, c->status, f, p->at_ms);
		body = json_dumps(c->resp, JSON_COMPACT);
		reply(req, c, &rl, body ? body : "{}", body ? strlen(body) : 2);
		goto out;
	}
	api_process(s, &p->a, c, &rl, &f);
	body = json_dumps(c->resp, JSON_COMPACT);
	len = body ? strlen(body) : 0;
	if (f == F_LOST) {
		count(s, p->seq, method, path, ep, 0, f, p->at_ms);
		drop(req, false);
		goto out;
	}
	if (f == F_MALFORMED && c->status == 200)
		len /= 2;	/* cut mid-document: never valid JSON */
	else if (f == F_MALFORMED)
		f = F_NONE;	/* only successful answers get mangled */
	count(s, p->seq, method, path, ep, c->status, f, p->at_ms);
	reply(req, c, &rl, body ? body : "{}", body ? len : 2);
out:
	if (c != NULL)
		json_decref(c->resp);
	free(c);
	free(body);
	pend_unlink(p);
}

static void
pend_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pend	*p = arg;
	struct timeval	 tv;
	long long	 left;

	(void)fd;
	(void)what;
	/*
	 * libevent times from the loop's cached clock, which may lag our
	 * arrival stamp by a little: a late apply waits the rest, so that
	 * applied_at_ms - at_ms is never under late_ms.
	 */
	if ((p->fault == F_LATE || p->fault == F_LATE_LOST) &&
	    (left = p->at_ms + p->late_ms - now_ms()) > 0 &&
	    left <= p->late_ms) {
		tv.tv_sec = left / 1000;
		tv.tv_usec = (left % 1000) * 1000;
		evtimer_add(p->timer, &tv);
		return;
	}
	pend_finish(p);
}

/*
 * The client closed while we held its request: evhttp detached the request
 * and hands it to us, and we free it at once.  A stall ends here; a timed
 * pend (latency, late apply) still runs from its copy at its timer: the
 * server had the request, so it is applied, only nobody hears the answer.
 */
static void
pend_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct pend	*p = arg;

	(void)evcon;
	p->gone = true;
	if (p->req == NULL || evhttp_request_get_connection(p->req) != NULL)
		return;		/* evhttp_free at exit: evhttp frees it */
	evhttp_request_free(p->req);
	p->req = NULL;
	if (p->timer == NULL)
		pend_unlink(p);
}

/* The latency of path: the first latency_paths match, else the global. */
static long
path_latency(struct sim *s, const char *path)
{
	size_t	i;

	for (i = 0; i < s->conf.nlat_paths; i++)
		if (strstr(path, s->conf.lat_paths[i].path) != NULL)
			return s->conf.lat_paths[i].ms;
	return s->conf.latency_ms;
}

/* late_paths: late faults only where the path has the substring. */
static bool
late_path_ok(struct sim *s, const char *path)
{
	return s->conf.late_paths[0] == '\0' ||
	    strstr(path, s->conf.late_paths) != NULL;
}

/*
 * merge_on_next: the merge happens as the chosen request arrives, before
 * it is handled (or even delayed), like a human merging in the UI at the
 * worst moment.  Disarmed once done; a contact gone meanwhile (reset,
 * merged elsewhere) disarms it without a merge.
 */
static void
merge_trigger(struct sim *s, const char *path)
{
	struct merge_next	*m = &s->merge_next;
	struct sim_contact	*from, *into;

	if (!m->armed || strstr(path, m->path) == NULL)
		return;
	m->armed = false;
	from = sim_contact_find(&s->store, m->from);
	into = sim_contact_find(&s->store, m->into);
	if (from == NULL || into == NULL || from == into ||
	    from->merged_into[0] || into->merged_into[0] ||
	    sim_merge(&s->store, from, into, true) == -1)
		fprintf(stderr, "intercom-sim: merge_on_next %s into %s: "
		    "not merged\n", m->from, m->into);
}

/*
 * Not Intercom: a captive portal or middlebox answering in its place
 * (portal, see the top of this file).  The request goes no further.
 */
static void
portal_answer(struct sim *s, struct evhttp_request *req)
{
	static const char page[] = "<!DOCTYPE html>\n<html><head><title>"
	    "Guest Wi-Fi</title></head><body><h1>Welcome</h1><p>Please "
	    "accept the terms to continue.</p><form method=\"post\" "
	    "action=\"/login\"><button>Connect</button></form></body>"
	    "</html>\n";
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct evbuffer		*b;
	int			 status;

	s->portal_answered++;
	if (evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization") != NULL)
		s->portal_auth++;
	switch (s->conf.portal) {
	case PORTAL_302:
		status = 302;
		evhttp_add_header(h, "Location", s->conf.portal_location);
		break;
	case PORTAL_407:
		status = 407;
		evhttp_add_header(h, "Proxy-Authenticate",
		    "Basic realm=\"proxy\"");
		break;
	default:
		status = 200;
		break;
	}
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if ((b = evbuffer_new()) != NULL)
		evbuffer_add(b, page, sizeof(page) - 1);
	evhttp_send_reply(req, status, status == 302 ? "Found" : status ==
	    407 ? "Proxy Authentication Required" : "OK", b);
	evbuffer_free(b);
}

static bool	first_of(struct sim *, const char *);

static void
api_cb(struct evhttp_request *req, void *arg)
{
	struct sim	*s = arg;
	struct pend	*p;
	struct timeval	 tv;
	const char	*method = method_name(req);
	double		 u, acc;
	long		 delay;
	bool		 write, late;
	char		 ep[128];

	if (s->conf.portal != PORTAL_NONE) {
		portal_answer(s, req);
		return;
	}
	merge_trigger(s, req_path(req));
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		send_raw(req, 500, "{}", 2);
		return;
	}
	if (areq_copy(&p->a, req) == -1) {
		free(p);
		send_raw(req, 500, "{}", 2);
		return;
	}
	p->s = s;
	p->req = req;
	p->seq = ++s->seq;
	p->at_ms = now_ms();
	if ((p->next = s->pends) != NULL)
		p->next->prev = p;
	s->pends = p;
	if (++s->open > s->open_max)
		s->open_max = s->open;
	write = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
	if (s->conf.down == DOWN_STALL)
		p->fault = F_STALL;
	else {
		/*
		 * Draw order is fixed: the same sequence, the same faults.
		 * New kinds come after the old ones, so that with their
		 * probabilities at 0 an old seed still means what it did.
		 */
		u = rng_double(s);
		acc = s->conf.p_reset;
		if (u < acc)
			p->fault = F_RESET;
		else if (u < (acc += s->conf.p_stall))
			p->fault = F_STALL;
		else if (u < (acc += s->conf.p_5xx))
			p->fault = F_5XX;
		else if (u < (acc += s->conf.p_lost))
			p->fault = write ? F_LOST : F_NONE;
		else if (u < (acc += s->conf.p_malformed))
			p->fault = F_MALFORMED;
		else if (u < (acc += s->conf.p_late))
			p->fault = write && late_path_ok(s, p->a.path) ?
			    F_LATE : F_NONE;
		else if (u < (acc += s->conf.p_late_lost))
			p->fault = write && late_path_ok(s, p->a.path) ?
			    F_LATE_LOST : F_NONE;
		if (p->fault == F_5XX)
			p->status5xx = (int[]){ 500, 502, 503 }[
			    rng_next(s) % 3];
		/* fault_paths: drawn everywhere, applied only there. */
		if (p->fault != F_LATE && p->fault != F_LATE_LOST &&
		    s->conf.fault_paths[0] != '\0' &&
		    strstr(p->a.path, s->conf.fault_paths) == NULL)
			p->fault = F_NONE;
		/* late_next beats the draw, which still happens: seeds hold. */
		if (write && s->conf.late_next > 0 &&
		    late_path_ok(s, p->a.path)) {
			s->conf.late_next--;
			p->fault = F_LATE;
		}
	}
	sim_api_endpoint(method, p->a.path, ep, sizeof(ep));
	if (s->conf.first_5xx && p->fault != F_STALL && first_of(s, ep)) {
		p->fault = F_5XX;
		p->status5xx = 500;
	}
	if (p->fault == F_STALL) {
		count(s, p->seq, method, p->a.path, ep, 0, F_STALL, p->at_ms);
		evhttp_connection_set_closecb(evhttp_request_get_connection(req),
		    pend_close_cb, p);
		return;
	}
	delay = path_latency(s, p->a.path);
	if (s->conf.jitter_ms > 0)
		delay += (long)(rng_next(s) % (unsigned long)(s->conf.jitter_ms
		    + 1));
	late = p->fault == F_LATE || p->fault == F_LATE_LOST;
	if (late) {
		/*
		 * Logged now, with status 0 until the apply: the request
		 * reached the server now, its effect comes late_ms later,
		 * independently of the client (Intercom's timing after a
		 * gateway timeout).  by_endpoint counts the apply's status.
		 */
		s->total++;
		s->faults[p->fault]++;
		log_add(s, p->seq, method, p->a.path, ep, 0, p->fault,
		    p->at_ms);
		delay = p->late_ms = s->conf.late_ms;
	}
	if (delay == 0 && !late && p->fault != F_RESET && p->fault != F_LOST) {
		pend_finish(p);
		return;
	}
	/* Resets and losses free the connection: never inside its callback. */
	if ((p->timer = evtimer_new(s->base, pend_timer_cb, p)) == NULL) {
		pend_finish(p);
		return;
	}
	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
	    pend_close_cb, p);
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(p->timer, &tv);
}

/* --- control endpoints --- */

static int
listen_api(struct sim *s)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	evutil_socket_t		 fd;

	s->api_sock = evhttp_bind_socket_with_handle(s->api, s->bind,
	    (ev_uint16_t)s->api_port);
	if (s->api_sock == NULL)
		return -1;
	fd = evhttp_bound_socket_get_fd(s->api_sock);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		s->api_port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static json_t *
conf_json(struct sim *s)
{
	const struct conf	*k = &s->conf;
	json_t			*o, *lp;
	const struct merge_next	*m = &s->merge_next;
	size_t			 i;

	o = json_pack("{s:i,s:i,s:f,s:f,s:f,s:f,s:f,s:b,s:f,s:i,s:o,s:I,"
	    "s:i}", "latency_ms", (int)k->latency_ms,
	    "jitter_ms", (int)k->jitter_ms, "p_5xx", k->p_5xx,
	    "p_reset", k->p_reset, "p_lost", k->p_lost, "p_stall", k->p_stall,
	    "p_malformed", k->p_malformed, "token_revoked", k->token_revoked,
	    "search_lag_s", k->search_lag_s, "rate_limit", (int)k->rate_limit,
	    "down", k->down == DOWN_NONE ? json_null() : json_string(
	    k->down == DOWN_REFUSE ? "refuse" : "stall"),
	    "seed", (json_int_t)s->seed, "port", s->api_port);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "conv_search_lag_s", k->conv_search_lag_s >= 0 ?
	    json_real(k->conv_search_lag_s) : json_null());
	json_object_set_new(o, "search_lag_tail_s",
	    json_real(k->search_lag_tail_s));
	json_object_set_new(o, "p_late", json_real(k->p_late));
	json_object_set_new(o, "clock_skew_s", json_integer(k->clock_skew_s));
	json_object_set_new(o, "first_5xx", json_boolean(k->first_5xx));
	json_object_set_new(o, "rl_hostile_next",
	    json_integer(k->rl_hostile_next));
	json_object_set_new(o, "rl_hostile_reset_s",
	    json_integer(k->rl_hostile_reset_s));
	json_object_set_new(o, "p_late_lost", json_real(k->p_late_lost));
	json_object_set_new(o, "late_ms", json_integer(k->late_ms));
	json_object_set_new(o, "late_next", json_integer(k->late_next));
	json_object_set_new(o, "late_paths", k->late_paths[0] ?
	    json_string(k->late_paths) : json_null());
	json_object_set_new(o, "merge_on_next", m->armed ? json_pack(
	    "{s:s,s:s,s:s}", "path", m->path, "from", m->from, "into",
	    m->into) : json_null());
	json_object_set_new(o, "latency_paths", lp = json_object());
	for (i = 0; i < k->nlat_paths; i++)
		json_object_set_new(lp, k->lat_paths[i].path,
		    json_integer(k->lat_paths[i].ms));
	json_object_set_new(o, "fault_paths", k->fault_paths[0] ?
	    json_string(k->fault_paths) : json_null());
	json_object_set_new(o, "forbidden_paths", k->forbidden_paths[0] ?
	    json_string(k->forbidden_paths) : json_null());
	json_object_set_new(o, "behaviours", sim_beh_json());
	json_object_set_new(o, "companies_key", json_string(
	    s->store.companies_as_data ? "data" : "companies"));
	json_object_set_new(o, "portal", k->portal == PORTAL_NONE ?
	    json_null() : json_string(k->portal == PORTAL_302 ? "302" :
	    k->portal == PORTAL_407 ? "407" : "html"));
	json_object_set_new(o, "portal_location",
	    json_string(k->portal_location));
	return o;
}

/*
 * latency_paths: {"substring": ms, ...} replaces the set (null or {}
 * empties it); at most LAT_PATHS entries, matched in the order given.
 */
static int
latpaths_set(struct conf *n, json_t *v)
{
	const char	*p;
	json_t		*ms;

	n->nlat_paths = 0;
	if (json_is_null(v))
		return 0;
	if (!json_is_object(v) || json_object_size(v) > LAT_PATHS)
		return -1;
	json_object_foreach(v, p, ms) {
		if (*p == '\0' || strlen(p) >= sizeof(n->lat_paths[0].path) ||
		    !json_is_number(ms) || json_number_value(ms) < 0 ||
		    json_number_value(ms) > 1e9)
			return -1;
		strcpy(n->lat_paths[n->nlat_paths].path, p);
		n->lat_paths[n->nlat_paths++].ms = (long)json_number_value(ms);
	}
	return 0;
}

/*
 * fault_paths, forbidden_paths: a string (null empties it); forbidden
 * paths are exact, so the first must start with '/'.
 */
static int
paths_set(char *dst, size_t dstsz, const json_t *v, bool exact)
{
	const char	*d;

	if (json_is_null(v)) {
		dst[0] = '\0';
		return 0;
	}
	if ((d = json_string_value(v)) == NULL || *d == '\0' ||
	    (exact && *d != '/') || strlen(d) >= dstsz)
		return -1;
	strcpy(dst, d);
	return 0;
}

/* --latency-path PATH=MS, repeatable: one more latency_paths entry. */
static int
latpath_arg(struct conf *n, const char *arg)
{
	const char	*eq = strrchr(arg, '=');
	char		*end;
	long		 ms;

	if (eq == NULL || eq == arg || n->nlat_paths == LAT_PATHS ||
	    (size_t)(eq - arg) >= sizeof(n->lat_paths[0].path))
		return -1;
	ms = strtol(eq + 1, &end, 10);
	if (end == eq + 1 || *end != '\0' || ms < 0 || ms > 1000000000L)
		return -1;
	snprintf(n->lat_paths[n->nlat_paths].path,
	    sizeof(n->lat_paths[0].path), "%.*s", (int)(eq - arg), arg);
	n->lat_paths[n->nlat_paths++].ms = ms;
	return 0;
}

/* first_5xx: true the first time ep is seen (remembered until reset). */
static bool
first_of(struct sim *s, const char *ep)
{
	size_t	i;

	for (i = 0; i < s->f5_n; i++)
		if (strcmp(s->f5_seen[i], ep) == 0)
			return false;
	if (s->f5_n == FIRST5XX_MAX)
		return false;
	snprintf(s->f5_seen[s->f5_n++], sizeof(s->f5_seen[0]), "%s", ep);
	return true;
}

/* Validate all of o first, then apply: a 400 changes nothing. */
static int
control(struct sim *s, json_t *o, char *err, size_t errsz)
{
	static const char	*probs[] = { "p_5xx", "p_reset", "p_lost",
	    "p_stall", "p_malformed", "p_late", "p_late_lost", NULL };
	struct conf		 n = s->conf;
	struct merge_next	 mn = s->merge_next;
	bool			 data_key = s->store.companies_as_data;
	struct sim_contact	*from, *into;
	double			*pp[] = { &n.p_5xx, &n.p_reset, &n.p_lost,
	    &n.p_stall, &n.p_malformed, &n.p_late, &n.p_late_lost };
	const char		*k, *d, *mp, *mf, *mi;
	json_t			*v;
	size_t			 i;

	json_object_foreach(o, k, v) {
		for (i = 0; probs[i] != NULL; i++)
			if (strcmp(k, probs[i]) == 0)
				break;
		if (probs[i] != NULL) {
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1)
				goto bad;
			*pp[i] = json_number_value(v);
		} else if (strcmp(k, "latency_ms") == 0 ||
		    strcmp(k, "jitter_ms") == 0 ||
		    strcmp(k, "rate_limit") == 0) {
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1e9)
				goto bad;
			*(k[0] == 'l' ? &n.latency_ms : k[0] == 'j' ?
			    &n.jitter_ms : &n.rate_limit) =
			    (long)json_number_value(v);
		} else if (strcmp(k, "clock_skew_s") == 0) {
			if (!json_is_number(v) || json_number_value(v) < -1e9 ||
			    json_number_value(v) > 1e9)
				goto bad;
			n.clock_skew_s = (long)json_number_value(v);
		} else if (strcmp(k, "rl_hostile_next") == 0 ||
		    strcmp(k, "rl_hostile_reset_s") == 0) {
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1e9)
				goto bad;
			*(strcmp(k, "rl_hostile_next") == 0 ?
			    &n.rl_hostile_next : &n.rl_hostile_reset_s) =
			    (long)json_number_value(v);
		} else if (strcmp(k, "search_lag_s") == 0) {
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1e9)
				goto bad;
			n.search_lag_s = json_number_value(v);
		} else if (strcmp(k, "search_lag_tail_s") == 0) {
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1e9)
				goto bad;
			n.search_lag_tail_s = json_number_value(v);
		} else if (strcmp(k, "conv_search_lag_s") == 0) {
			if (json_is_null(v))
				n.conv_search_lag_s = -1;
			else if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1e9)
				goto bad;
			else
				n.conv_search_lag_s = json_number_value(v);
		} else if (strcmp(k, "late_ms") == 0 ||
		    strcmp(k, "late_next") == 0) {
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1e9)
				goto bad;
			*(k[5] == 'm' ? &n.late_ms : &n.late_next) =
			    (long)json_number_value(v);
		} else if (strcmp(k, "late_paths") == 0) {
			if (json_is_null(v))
				n.late_paths[0] = '\0';
			else if ((d = json_string_value(v)) == NULL ||
			    strlen(d) >= sizeof(n.late_paths))
				goto bad;
			else
				strcpy(n.late_paths, d);
		} else if (strcmp(k, "merge_on_next") == 0) {
			if (json_is_null(v)) {
				mn.armed = false;
				continue;
			}
			mp = json_string_value(json_object_get(v, "path"));
			mf = json_string_value(json_object_get(v, "from"));
			mi = json_string_value(json_object_get(v, "into"));
			if (mp == NULL || mf == NULL || mi == NULL ||
			    strlen(mp) >= sizeof(mn.path))
				goto bad;
			from = sim_contact_find(&s->store, mf);
			into = sim_contact_find(&s->store, mi);
			if (from == NULL || into == NULL || from == into ||
			    from->merged_into[0] || into->merged_into[0]) {
				snprintf(err, errsz, "merge_on_next: from and "
				    "into must be distinct, existing, unmerged "
				    "contacts");
				return -1;
			}
			mn.armed = true;
			strcpy(mn.path, mp);
			strcpy(mn.from, from->id);
			strcpy(mn.into, into->id);
		} else if (strcmp(k, "latency_paths") == 0) {
			if (latpaths_set(&n, v) == -1)
				goto bad;
		} else if (strcmp(k, "fault_paths") == 0 ||
		    strcmp(k, "forbidden_paths") == 0) {
			if ((k[1] == 'a' ? paths_set(n.fault_paths,
			    sizeof(n.fault_paths), v, false) :
			    paths_set(n.forbidden_paths,
			    sizeof(n.forbidden_paths), v, true)) == -1)
				goto bad;
		} else if (strcmp(k, "behaviours") == 0) {
			if (!json_is_object(v))
				goto bad;
		} else if (strcmp(k, "companies_key") == 0) {
			d = json_string_value(v);
			if (d == NULL || (strcmp(d, "data") != 0 &&
			    strcmp(d, "companies") != 0))
				goto bad;
			data_key = strcmp(d, "data") == 0;
		} else if (strcmp(k, "token_revoked") == 0) {
			if (!json_is_boolean(v))
				goto bad;
			n.token_revoked = json_is_true(v);
		} else if (strcmp(k, "first_5xx") == 0) {
			if (!json_is_boolean(v))
				goto bad;
			n.first_5xx = json_is_true(v);
		} else if (strcmp(k, "portal") == 0) {
			d = json_string_value(v);
			if (json_is_null(v))
				n.portal = PORTAL_NONE;
			else if (d != NULL && strcmp(d, "302") == 0)
				n.portal = PORTAL_302;
			else if (d != NULL && strcmp(d, "html") == 0)
				n.portal = PORTAL_HTML;
			else if (d != NULL && strcmp(d, "407") == 0)
				n.portal = PORTAL_407;
			else
				goto bad;
		} else if (strcmp(k, "portal_location") == 0) {
			if ((d = json_string_value(v)) == NULL || *d == '\0' ||
			    strlen(d) >= sizeof(n.portal_location) ||
			    strpbrk(d, "\r\n") != NULL)
				goto bad;
			strcpy(n.portal_location, d);
		} else if (strcmp(k, "down") == 0) {
			d = json_string_value(v);
			if (json_is_null(v))
				n.down = DOWN_NONE;
			else if (d != NULL && strcmp(d, "refuse") == 0)
				n.down = DOWN_REFUSE;
			else if (d != NULL && strcmp(d, "stall") == 0)
				n.down = DOWN_STALL;
			else
				goto bad;
		} else {
			snprintf(err, errsz, "unknown control field '%.64s'",
			    k);
			return -1;
		}
	}
	if (n.p_5xx + n.p_reset + n.p_lost + n.p_stall + n.p_malformed +
	    n.p_late + n.p_late_lost > 1.0 + 1e-9) {
		snprintf(err, errsz, "fault probabilities add up to over 1");
		return -1;
	}
	if (n.down == DOWN_REFUSE && s->api_sock != NULL) {
		evhttp_del_accept_socket(s->api, s->api_sock);
		s->api_sock = NULL;
	} else if (n.down != DOWN_REFUSE && s->api_sock == NULL &&
	    listen_api(s) == -1) {
		snprintf(err, errsz, "cannot listen on %s:%d again: %s",
		    s->bind, s->api_port, strerror(errno));
		return -1;
	}
	if ((v = json_object_get(o, "behaviours")) != NULL &&
	    sim_beh_set(v, err, errsz) == -1)
		return -1;
	if (n.rate_limit != s->conf.rate_limit)
		s->rl_used = 0;	/* a new limit starts with a full window */
	s->conf = n;
	s->merge_next = mn;
	s->store.companies_as_data = data_key;
	return 0;
bad:
	snprintf(err, errsz, "invalid value for '%.64s'", k);
	return -1;
}

static void
ctl_error(struct evhttp_request *req, int status, const char *code,
    const char *msg)
{
	json_t	*o;

	o = json_pack("{s:s,s:n,s:[{s:s,s:s}]}", "type", "error.list",
	    "request_id", "errors", "code", code, "message", msg);
	send_json(req, status, o);
	json_decref(o);
}

static void
sim_reset(struct sim *s)
{
	sim_store_reset(&s->store);
	log_clear(s);
	json_object_clear(s->by_endpoint);
	memset(s->faults, 0, sizeof(s->faults));
	s->total = s->seq = 0;
	s->portal_answered = s->portal_auth = 0;
	s->rl_used = 0;
	s->open_max = s->open;
	s->rng = s->seed;	/* a reset run replays the same faults */
	s->merge_next.armed = false;	/* its contacts are gone */
	s->f5_n = 0;
}

#define PAD_MAX		(80LL * 1024 * 1024)	/* pad_conversation bytes */
#define PAD_PART	(8LL * 1024 * 1024)	/* at most per note part */

/*
 * POST /_sim/pad_conversation {"id", "bytes"}: another admin (991, not
 * the worker's) writes notes of "bytes" filler bytes in all, in parts of
 * at most 8 MiB, so that GET /conversations/{id} answers more than a
 * client may be willing to read.  Each body is "<p>xxx...</p>".
 */
static json_t *
pad_conversation(struct sim *s, json_t *b, char *err, size_t errsz)
{
	struct sim_conv	*cv;
	struct sim_part	*pt;
	json_t		*id = json_object_get(b, "id"), *parts = NULL;
	char		 idbuf[SIM_NID_LEN], *fill = NULL;
	long long	 left, n, now = (long long)sim_now();

	if (json_is_integer(id))
		snprintf(idbuf, sizeof(idbuf), "%lld",
		    (long long)json_integer_value(id));
	else if (json_is_string(id))
		snprintf(idbuf, sizeof(idbuf), "%s", json_string_value(id));
	else
		idbuf[0] = '\0';
	if ((cv = sim_conv_find(&s->store, idbuf)) == NULL) {
		snprintf(err, errsz, "no conversation '%.32s'", idbuf);
		return NULL;
	}
	left = json_integer_value(json_object_get(b, "bytes"));
	if (!json_is_integer(json_object_get(b, "bytes")) || left < 8 ||
	    left > PAD_MAX) {
		snprintf(err, errsz, "bytes must be an integer from 8 to %lld",
		    PAD_MAX);
		return NULL;
	}
	if ((fill = malloc(PAD_PART + 1)) == NULL ||
	    (parts = json_array()) == NULL)
		goto oom;
	while (left > 0) {
		/* No part shorter than its tags; the last takes the rest. */
		n = left > PAD_PART ? PAD_PART : left;
		if (left - n > 0 && left - n < 8)
			n = left - 8;
		memset(fill, 'x', n);
		memcpy(fill, "<p>", 3);
		memcpy(fill + n - 4, "</p>", 4);
		fill[n] = '\0';
		if ((pt = sim_conv_add_part(&s->store, cv, "note", fill,
		    "admin", "991", now)) == NULL)
			goto oom;
		json_array_append_new(parts, json_string(pt->id));
		left -= n;
	}
	free(fill);
	return json_pack("{s:s,s:I,s:o}", "id", cv->id, "bytes",
	    json_integer_value(json_object_get(b, "bytes")), "parts", parts);
oom:
	free(fill);
	json_decref(parts);
	snprintf(err, errsz, "out of memory");
	return NULL;
}

static void
ctl_dispatch(struct sim *s, struct evhttp_request *req)
{
	struct evbuffer		*in = evhttp_request_get_input_buffer(req);
	struct sim_contact	*from, *into, *k;
	const char		*path = req_path(req), *method;
	json_t			*b = NULL, *o;
	size_t			 len;
	char			 err[256];
	int			 code;

	method = method_name(req);
	if ((len = evbuffer_get_length(in)) > 0) {
		b = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0,
		    NULL);
		if (!json_is_object(b)) {
			ctl_error(req, 400, "parameter_invalid",
			    "body must be a JSON object");
			goto out;
		}
	} else
		b = json_object();
	if (strcmp(path, "/_sim/state") == 0 && strcmp(method, "GET") == 0) {
		o = state_json(s);
		send_json(req, 200, o);
		json_decref(o);
	} else if (strcmp(path, "/_sim/control") == 0 &&
	    (strcmp(method, "POST") == 0 || strcmp(method, "GET") == 0)) {
		if (control(s, b, err, sizeof(err)) == -1) {
			ctl_error(req, 400, "parameter_invalid", err);
			goto out;
		}
		o = conf_json(s);
		send_json(req, 200, o);
		json_decref(o);
	} else if (strcmp(path, "/_sim/reset") == 0 &&
	    strcmp(method, "POST") == 0) {
		sim_reset(s);
		send_raw(req, 200, "{\"reset\":true}", 14);
	} else if (strcmp(path, "/_sim/merge") == 0 &&
	    strcmp(method, "POST") == 0) {
		/* A human's merge in the Intercom UI: no role or dup rules. */
		from = sim_contact_find(&s->store,
		    json_string_value(json_object_get(b, "from")) ?: "");
		into = sim_contact_find(&s->store,
		    json_string_value(json_object_get(b, "into")) ?: "");
		if (from == NULL || into == NULL || from == into ||
		    from->merged_into[0] || into->merged_into[0]) {
			ctl_error(req, 400, "invalid_merge", "from and into "
			    "must be distinct, existing, unmerged contacts");
			goto out;
		}
		if (sim_merge(&s->store, from, into, true) == -1) {
			ctl_error(req, 500, "server_error", "out of memory");
			goto out;
		}
		o = sim_obj_contact(&s->store, into);
		send_json(req, 200, o);
		json_decref(o);
	} else if (strcmp(path, "/_sim/pad_conversation") == 0 &&
	    strcmp(method, "POST") == 0) {
		if ((o = pad_conversation(s, b, err, sizeof(err))) == NULL) {
			ctl_error(req, strcmp(err, "out of memory") == 0 ?
			    500 : 400, "parameter_invalid", err);
			goto out;
		}
		send_json(req, 200, o);
		json_decref(o);
	} else if (strcmp(method, "POST") == 0 &&
	    sim_ctx_seedable(path + 6)) {
		/* Fixtures: no lag, timestamps and states as given. */
		if ((o = sim_ctx_seed(&s->store, path + 6, b, err,
		    sizeof(err))) == NULL) {
			ctl_error(req, strcmp(err, "out of memory") == 0 ?
			    500 : 400, "parameter_invalid", err);
			goto out;
		}
		send_json(req, 200, o);
		json_decref(o);
	} else if (strcmp(path, "/_sim/teams") == 0 &&
	    strcmp(method, "POST") == 0) {
		/* A teammate creating a team in the Intercom UI. */
		if (sim_team_add(&s->store, json_string_value(json_object_get(b,
		    "id")), json_string_value(json_object_get(b, "name")), err,
		    sizeof(err)) == -1) {
			ctl_error(req, 400, "parameter_invalid", err);
			goto out;
		}
		o = sim_api_team(&s->store, json_string_value(
		    json_object_get(b, "id")));
		send_json(req, 200, o);
		json_decref(o);
	} else if (strcmp(path, "/_sim/contacts") == 0 &&
	    strcmp(method, "POST") == 0) {
		/* Test setup: no lag, no 409, any custom attribute. */
		if ((k = sim_contact_new(&s->store, 0)) == NULL) {
			ctl_error(req, 500, "server_error", "out of memory");
			goto out;
		}
		if (sim_obj_set_contact(&s->store, k, b, true, err,
		    sizeof(err)) == -1) {
			ctl_error(req, 400, "parameter_invalid", err);
			goto out;
		}
		o = sim_obj_contact(&s->store, k);
		send_json(req, 200, o);
		json_decref(o);
	} else if ((o = sim_hooks_ctl(path, method, b, &code)) != NULL) {
		send_json(req, code, o);	/* webhooks: sim_hooks.c */
		json_decref(o);
	} else
		ctl_error(req, 404, "not_found", "Resource Not Found");
out:
	json_decref(b);
}

static bool
is_sim_path(const char *path)
{
	return strncmp(path, "/_sim/", 6) == 0;
}

static void
ctl_cb(struct evhttp_request *req, void *arg)
{
	if (is_sim_path(req_path(req)))
		ctl_dispatch(arg, req);
	else
		ctl_error(req, 404, "not_found", "Resource Not Found");
}

static void
api_gen_cb(struct evhttp_request *req, void *arg)
{
	if (is_sim_path(req_path(req)))
		ctl_dispatch(arg, req);
	else
		api_cb(req, arg);
}

/* --- start-up and shutdown --- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: intercom-sim [--help] [--attributes list] [--bind addr] "
	    "[--app-id id] [--control-port n] [--control-port-file file] "
	    "[--dump file] "
	    "[--jitter ms] [--late-ms ms] [--latency ms] "
	    "[--latency-path path=ms] [--p-5xx p] "
	    "[--p-late p] [--p-late-lost p] [--p-lost p] "
	    "[--p-malformed p] [--p-reset p] [--p-stall p] [--port n] "
	    "[--port-file file] [--rate-limit n] [--region r] "
	    "[--conv-search-lag s] [--search-lag s] [--search-lag-tail s] "
	    "[--seed n] [--token t | --token-file file] [--token-revoked]\n"
	    "\n"
	    "  --app-id id             the app (workspace) id GET /me names "
	    "(simapp01)\n"
	    "  --attributes a,b:type   contact data attributes defined at "
	    "start (string\n"
	    "                          unless typed: string integer float "
	    "boolean date datetime)\n"
	    "  --bind addr             listen address (127.0.0.1)\n"
	    "  --control-port n        /_sim/* listener port (0: ephemeral, "
	    "the default)\n"
	    "  --control-port-file f   write the bound control port to f\n"
	    "  --dump file             write GET /_sim/state to file on exit\n"
	    "  --help                  this text\n"
	    "  --jitter ms             add uniform(0, ms) to every answer\n"
	    "  --late-ms ms            a late write applies ms after it "
	    "arrived (3000)\n"
	    "  --latency ms            delay every API answer by ms\n"
	    "  --latency-path p=ms     delay answers whose path contains p "
	    "by ms instead\n"
	    "                          (repeatable, up to 8, first match "
	    "wins)\n"
	    "  --p-5xx p               answer 500/502/503, apply nothing\n"
	    "  --p-late p              apply a write --late-ms late, client "
	    "or not; answer\n"
	    "                          it then if the client is still "
	    "there\n"
	    "  --p-late-lost p         apply a write --late-ms late, then "
	    "drop the connection\n"
	    "                          unanswered\n"
	    "  --p-lost p              apply a write, then drop the "
	    "connection unanswered\n"
	    "  --p-malformed p         apply, then answer 200 with truncated "
	    "JSON\n"
	    "  --p-reset p             reset the connection (RST), apply "
	    "nothing\n"
	    "  --p-stall p             never answer, apply nothing\n"
	    "  --port n                API port (0: ephemeral, the default)\n"
	    "  --port-file f           write the bound API port to f\n"
	    "  --rate-limit n          requests per minute in 10 s windows "
	    "(0: unlimited)\n"
	    "  --region r              app.region of GET /me: US, EU, AU "
	    "(US)\n"
	    "  --search-lag s          new contacts, conversations, tickets "
	    "unsearchable\n"
	    "                          for s seconds\n"
	    "  --conv-search-lag s     new conversations unsearchable for s "
	    "seconds\n"
	    "                          (default: --search-lag; undocumented "
	    "by Intercom)\n"
	    "  --search-lag-tail s     each new object's lag drawn around "
	    "the lags above\n"
	    "                          (log-normal, sigma 1.5), at most s "
	    "seconds (invented)\n"
	    "  --seed n                PRNG seed for every random decision "
	    "(1)\n"
	    "  --token t               the accepted bearer token\n"
	    "  --token-file f          read the token from f\n"
	    "  --token-revoked         answer every API request 401\n"
	    "\n"
	    "Control (on both ports): GET /_sim/state, POST /_sim/reset, "
	    "POST /_sim/merge\n"
	    "{from,into}, POST /_sim/contacts {...}, POST "
	    "/_sim/pad_conversation {id,bytes},\n"
	    "POST /_sim/teams {id,name} (a team made after start),\n"
	    "POST /_sim/control {field: value}: latency_ms jitter_ms p_5xx "
	    "p_reset p_lost\n"
	    "p_stall p_malformed p_late p_late_lost late_ms late_next "
	    "late_paths search_lag_s conv_search_lag_s (s|null)\n"
	    "search_lag_tail_s\n"
	    "rate_limit token_revoked down (null|refuse|stall)\n"
	    "portal (null|302|html|407) portal_location s: not Intercom, the "
	    "network (a captive\nportal) answering every API request in "
	    "its place\n"
	    "merge_on_next ({path,from,into}|null) latency_paths "
	    "({path: ms}|null)\n"
	    "fault_paths (s|null) forbidden_paths (s|null) companies_key "
	    "(companies|data)\nbehaviours ({name: bool}: see sim/README.md).\n"
	    "clock_skew_s rl_hostile_next "
	    "rl_hostile_reset_s first_5xx.  first_5xx true: the first "
	    "request of each\nendpoint answers 500 unapplied "
	    "(invented).  "
	    "late_next n: the next n\n"
	    "writes are late, whatever the draw; late_paths s: late faults "
	    "only for paths\n"
	    "containing s.  merge_on_next: merge as the next API request "
	    "whose path\n"
	    "contains path arrives, before it is handled.  latency_paths: "
	    "answers whose\n"
	    "path contains a key wait its ms instead of latency_ms.  "
	    "fault_paths s: random\n"
	    "faults (p_reset p_stall p_5xx p_lost p_malformed) only for "
	    "paths containing s.\n"
	    "forbidden_paths \"/a,/b\": those exact paths answer 403 "
	    "forbidden (a token\nwithout their scope).  "
	    "companies_key: the array key of GET /contacts/{id}/companies "
	    "(2.16's schema\n"
	    "says companies, its example data).  clock_skew_s n: the "
	    "Date and\nX-RateLimit-Reset headers (and the rate windows) "
	    "run n seconds off the\nreal clock.  rl_hostile_next n: the "
	    "next n answers say Remaining 0 and a\nReset "
	    "rl_hostile_reset_s (86400) ahead; the requests are served.\n"
	    "\n"
	    "Fixtures (no search lag; with \"id\", change that object):\n"
	    "POST /_sim/conversations {contact_ids, body, state, created_at, "
	    "updated_at,\n"
	    "  admin_assignee_id, team_assignee_id, snoozed_until, "
	    "parts: [{part_type, body,\n"
	    "  author_type, author_id, created_at}]}\n"
	    "POST /_sim/tickets {contact_ids, ticket_type_id, state "
	    "(submitted|in_progress|\n"
	    "  waiting_on_customer|resolved), ticket_state_id, open, "
	    "ticket_attributes,\n"
	    "  admin_assignee_id, team_assignee_id, snoozed_until, "
	    "created_at, updated_at}\n"
	    "POST /_sim/companies {company_id, name, plan, monthly_spend, "
	    "industry, website,\n"
	    "  size, session_count, custom_attributes, contact_ids "
	    "(attach), created_at,\n"
	    "  updated_at, remote_created_at, last_request_at}\n"
	    "POST /_sim/articles {title, description, body, state "
	    "(published|draft),\n"
	    "  author_id, created_at, updated_at}\n"
	    "Webhooks (sim/README.md): POST /_sim/webhooks {url, secret, "
	    "copies, shuffle,\n"
	    "  max_attempts, pause_after, pause_ms, app_id}; GET "
	    "/_sim/webhooks: figures;\n"
	    "POST /_sim/callback {contact_id | phone, via: tag|attribute, "
	    "tag}: a customer\n"
	    "  asks for a call; POST /_sim/webhook_burst {n, tag}: n of "
	    "them at once\n"
	    "Ticket types: 3001 Bug report, 3002 Billing question (Customer), "
	    "3003 Follow-up\n"
	    "(Back-office).  Ticket states: 4001 submitted, 4002 "
	    "in_progress, 4003\n"
	    "waiting_on_customer, 4004 resolved.  Admins 1001 1002, teams "
	    "2001 2002.\n");
}

/* Atomic: readers polling for the file never see it half written. */
static int
write_file(const char *path, const char *text)
{
	char	tmp[4096];
	FILE	*f;
	int	 rc = -1;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	if (fputs(text, f) != EOF && fflush(f) == 0)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -1;
	if (rc == -1)
		unlink(tmp);
	return rc;
}

static int
write_port(const char *path, int port)
{
	char	buf[16];

	if (path == NULL)
		return 0;
	snprintf(buf, sizeof(buf), "%d\n", port);
	return write_file(path, buf);
}

static char *
read_token(const char *path)
{
	char	buf[4096], *p;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	return strdup(buf);
}

static bool
num_arg(const char *s, double lo, double hi, double *out)
{
	char	*end;

	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && *out >= lo &&
	    *out <= hi && !isnan(*out);
}

static void
sig_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

static void
shutdown_sim(struct sim *s)
{
	struct pend	*p;
	json_t		*o;
	char		*text;

	if (s->dump != NULL && (o = state_json(s)) != NULL) {
		if ((text = json_dumps(o, JSON_COMPACT)) == NULL ||
		    write_file(s->dump, text) == -1)
			fprintf(stderr, "intercom-sim: %s: cannot write dump\n",
			    s->dump);
		free(text);
		json_decref(o);
	}
	/* Pends: detached requests are ours; attached ones evhttp frees. */
	while ((p = s->pends) != NULL) {
		if (p->req == NULL)
			;	/* freed when the client left */
		else if (evhttp_request_get_connection(p->req) == NULL)
			evhttp_request_free(p->req);
		else
			evhttp_connection_set_closecb(
			    evhttp_request_get_connection(p->req), NULL, NULL);
		pend_unlink(p);
	}
	if (s->api != NULL)
		evhttp_free(s->api);
	if (s->ctl != NULL)
		evhttp_free(s->ctl);
	if (s->sigterm != NULL)
		event_free(s->sigterm);
	if (s->sigint != NULL)
		event_free(s->sigint);
	if (s->base != NULL)
		event_base_free(s->base);
	sim_store_free(&s->store);
	log_clear(s);
	json_decref(s->by_endpoint);
	free(s->token);
	libevent_global_shutdown();
}

enum { O_ATTR = 256, O_BIND, O_CPORT, O_CPORTF, O_DUMP, O_HELP, O_JIT,
    O_LAT, O_P5, O_PL, O_PM, O_PR, O_PS, O_PORT, O_PORTF, O_RATE, O_LAG,
    O_CLAG, O_LAGTAIL,
    O_SEED, O_TOK, O_TOKF, O_REVOKED, O_PLATE, O_PLATEL, O_LATEMS,
    O_LATPATH, O_REGION, O_APPID };

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "app-id", required_argument, NULL, O_APPID },
		{ "attributes", required_argument, NULL, O_ATTR },
		{ "bind", required_argument, NULL, O_BIND },
		{ "control-port", required_argument, NULL, O_CPORT },
		{ "control-port-file", required_argument, NULL, O_CPORTF },
		{ "dump", required_argument, NULL, O_DUMP },
		{ "help", no_argument, NULL, O_HELP },
		{ "jitter", required_argument, NULL, O_JIT },
		{ "late-ms", required_argument, NULL, O_LATEMS },
		{ "latency", required_argument, NULL, O_LAT },
		{ "latency-path", required_argument, NULL, O_LATPATH },
		{ "p-5xx", required_argument, NULL, O_P5 },
		{ "p-late", required_argument, NULL, O_PLATE },
		{ "p-late-lost", required_argument, NULL, O_PLATEL },
		{ "p-lost", required_argument, NULL, O_PL },
		{ "p-malformed", required_argument, NULL, O_PM },
		{ "p-reset", required_argument, NULL, O_PR },
		{ "p-stall", required_argument, NULL, O_PS },
		{ "port", required_argument, NULL, O_PORT },
		{ "port-file", required_argument, NULL, O_PORTF },
		{ "rate-limit", required_argument, NULL, O_RATE },
		{ "region", required_argument, NULL, O_REGION },
		{ "search-lag", required_argument, NULL, O_LAG },
		{ "conv-search-lag", required_argument, NULL, O_CLAG },
		{ "search-lag-tail", required_argument, NULL, O_LAGTAIL },
		{ "seed", required_argument, NULL, O_SEED },
		{ "token", required_argument, NULL, O_TOK },
		{ "token-file", required_argument, NULL, O_TOKF },
		{ "token-revoked", no_argument, NULL, O_REVOKED },
		{ NULL, 0, NULL, 0 }
	};
	struct sim	 s;
	const char	*attrs = NULL, *portf = NULL, *cportf = NULL;
	const char	*region = "US";
	struct evhttp_bound_socket *cs;
	struct sockaddr_storage ss;
	socklen_t	 sl = sizeof(ss);
	double		 d;
	char		 err[256];
	int		 ch, rc = 1;

	memset(&s, 0, sizeof(s));
	s.bind = "127.0.0.1";
	s.seed = 1;
	s.conf.late_ms = 3000;
	snprintf(s.conf.portal_location, sizeof(s.conf.portal_location),
	    "http://portal.invalid/login");
	s.conf.conv_search_lag_s = -1;
	s.conf.rl_hostile_reset_s = 86400;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case O_ATTR:
			attrs = optarg;
			break;
		case O_BIND:
			s.bind = optarg;
			break;
		case O_CPORT:
		case O_PORT:
			if (!num_arg(optarg, 0, 65535, &d))
				goto badarg;
			*(ch == O_PORT ? &s.api_port : &s.ctl_port) = (int)d;
			break;
		case O_CPORTF:
			cportf = optarg;
			break;
		case O_PORTF:
			portf = optarg;
			break;
		case O_DUMP:
			s.dump = optarg;
			break;
		case O_HELP:
			usage(stdout);
			return 0;
		case O_JIT:
		case O_LAT:
		case O_LATEMS:
		case O_RATE:
			if (!num_arg(optarg, 0, 1e9, &d))
				goto badarg;
			*(ch == O_JIT ? &s.conf.jitter_ms : ch == O_LAT ?
			    &s.conf.latency_ms : ch == O_LATEMS ?
			    &s.conf.late_ms : &s.conf.rate_limit) = (long)d;
			break;
		case O_LATPATH:
			if (latpath_arg(&s.conf, optarg) == -1)
				goto badarg;
			break;
		case O_PLATE:
		case O_PLATEL:
			if (!num_arg(optarg, 0, 1, &d))
				goto badarg;
			*(ch == O_PLATE ? &s.conf.p_late :
			    &s.conf.p_late_lost) = d;
			break;
		case O_P5:
		case O_PL:
		case O_PM:
		case O_PR:
		case O_PS:
			if (!num_arg(optarg, 0, 1, &d))
				goto badarg;
			*(ch == O_P5 ? &s.conf.p_5xx : ch == O_PL ?
			    &s.conf.p_lost : ch == O_PM ? &s.conf.p_malformed :
			    ch == O_PR ? &s.conf.p_reset : &s.conf.p_stall) = d;
			break;
		case O_LAG:
			if (!num_arg(optarg, 0, 1e9, &d))
				goto badarg;
			s.conf.search_lag_s = d;
			break;
		case O_CLAG:
			if (!num_arg(optarg, 0, 1e9, &d))
				goto badarg;
			s.conf.conv_search_lag_s = d;
			break;
		case O_LAGTAIL:
			if (!num_arg(optarg, 0, 1e9, &d))
				goto badarg;
			s.conf.search_lag_tail_s = d;
			break;
		case O_REGION:
			/* Intercom's regions; anything short passes, so a test
			 * can show a region callsync does not know. */
			if (strlen(optarg) == 0 || strlen(optarg) >= 8)
				goto badarg;
			region = optarg;
			break;
		case O_SEED:
			s.seed = strtoull(optarg, NULL, 0);
			break;
		case O_APPID:
			if (strlen(optarg) == 0 || strlen(optarg) >= 64)
				goto badarg;
			sim_app_id = optarg;
			break;
		case O_TOK:
			free(s.token);
			if ((s.token = strdup(optarg)) == NULL)
				goto out;
			break;
		case O_TOKF:
			free(s.token);
			if ((s.token = read_token(optarg)) == NULL) {
				fprintf(stderr, "intercom-sim: %s: cannot read "
				    "token\n", optarg);
				goto out;
			}
			break;
		case O_REVOKED:
			s.conf.token_revoked = true;
			break;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc || s.token == NULL || *s.token == '\0') {
		fprintf(stderr, "intercom-sim: %s\n", optind != argc ?
		    "unexpected argument" : "--token or --token-file needed");
		usage(stderr);
		goto out;
	}
	if (s.conf.p_5xx + s.conf.p_reset + s.conf.p_lost + s.conf.p_stall +
	    s.conf.p_malformed + s.conf.p_late + s.conf.p_late_lost >
	    1.0 + 1e-9) {
		fprintf(stderr, "intercom-sim: fault probabilities add up to "
		    "over 1\n");
		goto out;
	}
	s.rng = s.seed;
	if (sim_store_init(&s.store, attrs, err, sizeof(err)) == -1) {
		fprintf(stderr, "intercom-sim: --attributes: %s\n", err);
		goto out;
	}
	snprintf(s.store.region, sizeof(s.store.region), "%s", region);
	signal(SIGPIPE, SIG_IGN);
	if ((s.by_endpoint = json_object()) == NULL ||
	    (s.base = event_base_new()) == NULL ||
	    (s.api = evhttp_new(s.base)) == NULL ||
	    (s.ctl = evhttp_new(s.base)) == NULL)
		goto out;
	evhttp_set_allowed_methods(s.api, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	/* Bodies up to 2 MiB are read whole; 2-4 MiB get our JSON 413. */
	evhttp_set_max_body_size(s.api, 2 * MAX_BODY);
	evhttp_set_max_body_size(s.ctl, 2 * MAX_BODY);
	evhttp_set_max_headers_size(s.api, 64 * 1024);
	evhttp_set_gencb(s.api, api_gen_cb, &s);
	evhttp_set_gencb(s.ctl, ctl_cb, &s);
	if (listen_api(&s) == -1) {
		fprintf(stderr, "intercom-sim: cannot listen on %s:%d: %s\n",
		    s.bind, s.api_port, strerror(errno));
		goto out;
	}
	if ((cs = evhttp_bind_socket_with_handle(s.ctl, s.bind,
	    (ev_uint16_t)s.ctl_port)) == NULL) {
		fprintf(stderr, "intercom-sim: cannot listen on %s:%d: %s\n",
		    s.bind, s.ctl_port, strerror(errno));
		goto out;
	}
	if (getsockname(evhttp_bound_socket_get_fd(cs),
	    (struct sockaddr *)&ss, &sl) == 0)
		s.ctl_port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	if ((s.sigterm = evsignal_new(s.base, SIGTERM, sig_cb, s.base)) ==
	    NULL || (s.sigint = evsignal_new(s.base, SIGINT, sig_cb,
	    s.base)) == NULL || evsignal_add(s.sigterm, NULL) == -1 ||
	    evsignal_add(s.sigint, NULL) == -1)
		goto out;
	if (write_port(portf, s.api_port) == -1 ||
	    write_port(cportf, s.ctl_port) == -1) {
		fprintf(stderr, "intercom-sim: cannot write port file\n");
		goto out;
	}
	fprintf(stderr, "intercom-sim: api on %s:%d, control on %s:%d\n",
	    s.bind, s.api_port, s.bind, s.ctl_port);
	sim_hooks_init(s.base, &s.store);
	sim_api_add_routes(sim_ctx_routes);
	event_base_dispatch(s.base);
	rc = 0;
out:
	shutdown_sim(&s);
	return rc;
badarg:
	fprintf(stderr, "intercom-sim: bad value '%s'\n", optarg);
	usage(stderr);
	goto out;
}
