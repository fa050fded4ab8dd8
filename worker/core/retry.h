/*
 * retry: what a failed request means and when to try again.  Pure
 * functions of (curl result, HTTP status, time, attempts, random), so the
 * policy is unit-tested without a network.
 */
#ifndef CALLSYNC_RETRY_H
#define CALLSYNC_RETRY_H

#include <stdint.h>
#include <curl/curl.h>

enum verdict {
	V_OK,		/* 2xx */
	V_THROTTLED,	/* 429: wait for the window, no attempt charged */
	V_OUTAGE,	/* DNS, connect, TLS: the workspace's lane is down */
	V_NETFAIL,	/* timeout, reset, empty reply: outcome unknown */
	V_TRANSIENT,	/* 5xx, 408: retry with backoff, attempt charged */
	V_AUTH,		/* 401, 403: pause the workspace */
	V_GONE,		/* 404, 410: the object moved (merges) or is gone */
	V_CONFLICT,	/* 409 */
	V_PERMANENT,	/* other 4xx: the record's own data */
	V_MALFORMED,	/* 2xx with a body we cannot use */
	V_FOREIGN	/* not Intercom's answer: the network's (retry_foreign) */
};

enum verdict	 retry_classify(CURLcode cc, long status);
const char	*retry_verdict_name(enum verdict);
/*
 * Was this answer the network's rather than Intercom's?  A captive portal
 * or a middlebox answers in Intercom's place: any 3xx (Intercom's API
 * never redirects), a 407 (a proxy wants credentials), a 511 (RFC 6585,
 * Network Authentication Required: a portal's own), a proxy refusing
 * the tunnel (connect_status >= 300 on CONNECT), or a 2xx that is not
 * Intercom's JSON (a Content-Type that is not JSON, or a body that is not
 * an object with a "type").  Returns 1 and says who answered in why
 * ("the network answered instead of Intercom (HTTP 302 to host
 * portal.example: captive portal or proxy?)"), else 0.  Pure.
 */
int		 retry_foreign(CURLcode cc, long status, long connect_status,
		    const char *ctype, const char *location, const char *body,
		    size_t len, char *why, size_t whysz);
/*
 * For an answer retry_foreign judged the network's: 1 when it proves the
 * request went no further (a redirect, a 511, a proxy's 407 or refused
 * tunnel: none passes the request on), 0 when a middlebox may have passed it
 * on and replaced the answer (a 2xx page): then a write stays in doubt.
 */
int		 retry_foreign_unsent(CURLcode cc, long status,
		    long connect_status);
/* True when a write's outcome is unknown after this verdict. */
int		 retry_uncertain(enum verdict);
/*
 * Exponential backoff with full jitter: uniform in [0, min(cap,
 * base * 2^(attempt-1))] milliseconds, at least base/4.  rnd in [0,1).
 */
int64_t		 retry_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms,
		    double rnd);
/*
 * When to look next for a write in doubt (job_settled): the first point
 * after have ms on the geometric scale of looks points from first to
 * need ms (need itself the last); need when first >= need.
 */
int64_t		 retry_next_look_ms(int64_t first, int64_t need, int64_t have,
		    int looks);

/*
 * limiter: pacing within Intercom's 10-second windows.  Requests are
 * spread evenly over the window (10 s / limit apart) so the budget lasts
 * the whole window, and nothing is sent once the server says none
 * remain until its reset time plus jitter.
 */
struct limiter {
	long		 limit;		/* per 10 s window; 0 = unknown */
	long		 cap;		/* our own per-window cap from rate_limit; 0 none */
	long		 remaining;
	int64_t		 reset_ms;	/* when the server's window refills */
	int64_t		 next_us;	/* earliest next send (pacing), in
					 * microseconds: a gap of 2.4 ms
					 * (25,000/min) rounded to whole ms
					 * would send only 0.8 of the budget */
	int64_t		 blocked_until;	/* after a 429 or Remaining 0 */
	int64_t		 slack_us;	/* how late a send may be and still
					 * keep the schedule (limiter_slack) */
};

void	 limiter_init(struct limiter *, int rate_per_min);
/* Requests per 10-s window: the server's limit, our cap, the lower; 0
 * when neither is known. */
long	 limiter_budget(const struct limiter *);
/* Earliest time (ms) a request may be sent, >= now. */
int64_t	 limiter_when(const struct limiter *, int64_t now);
void	 limiter_sent(struct limiter *, int64_t now);
/* How long the caller's loop may be held between sends (ms): slots
 * missed meanwhile are caught up, up to this (at least 5 ms, at most
 * 100 ms). */
void	 limiter_slack(struct limiter *, int64_t held_ms);
/* Requests per second the limiter allows (server's limit or our cap,
 * the lower); 0 while neither is known. */
double	 limiter_rate(const struct limiter *);
/* Feed the headers of an answer (limit/remaining -1 when absent). */
void	 limiter_update(struct limiter *, int64_t now, long limit,
	    long remaining, long long reset_s, int throttled, double jitter_ms);

#endif
