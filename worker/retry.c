/*
 * retry: see retry.h.
 */
#include <math.h>
#include <time.h>

#include "retry.h"

#define LIMITER_SLACK_MS	5
#define LIMITER_SLACK_MAX_MS	100
/*
 * Remaining 0 without a 429: the window is used up, and it refills at
 * Reset.  Sending resumes just after it (a margin for scheduling), not
 * after the 0..2 s jitter of a 429: a worker pacing a whole window
 * evenly reaches Remaining 0 at every window's end, and a jittered wait
 * there cost a tenth of the budget (0.90 of 1,000/min instead of 0.99).
 */
#define LIMITER_EDGE_MS		50
/*
 * The build date (unix seconds), from the Makefile: SOURCE_DATE_EPOCH, else
 * the last commit's date, else the time of the build.  This default serves
 * builds outside the Makefile.  The floor is a year before it: a backlog
 * carried across an upgrade, a call imported from another box, or a
 * yesterday's call (started_at) keep their times, while what a clock
 * never set reads (1970, an RTC's 2000, systemd's own build date) is
 * still years before.
 */
#ifndef CALLSYNC_BUILD_EPOCH
#define CALLSYNC_BUILD_EPOCH	1796083200	/* 2026-12-01 */
#endif
#define CLOCK_FLOOR		((int64_t)CALLSYNC_BUILD_EPOCH - 365 * 86400)

enum verdict
retry_classify(CURLcode cc, long status)
{
	switch (cc) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	/* An unreadable or empty ca_file: the handshake never started. */
	case CURLE_SSL_CACERT_BADFILE:
		return V_OUTAGE;	/* nothing reached Intercom */
	case CURLE_WRITE_ERROR:
		return V_MALFORMED;	/* answer over our size cap */
	default:
		return V_NETFAIL;	/* it may have reached Intercom */
	}
	if (status >= 200 && status < 300)
		return V_OK;
	if (status == 429)
		return V_THROTTLED;
	if (status == 401 || status == 403)
		return V_AUTH;
	if (status == 404 || status == 410)
		return V_GONE;
	if (status == 409)
		return V_CONFLICT;
	if (status == 408 || status >= 500 || status == 0)
		return V_TRANSIENT;
	return V_PERMANENT;
}

const char *
retry_verdict_name(enum verdict v)
{
	static const char *names[] = { "ok", "rate_limited", "outage",
	    "network", "transient", "auth", "gone", "conflict", "permanent",
	    "malformed" };

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ?
	    names[v] : "unknown";
}

int
retry_uncertain(enum verdict v)
{
	return v == V_NETFAIL || v == V_TRANSIENT || v == V_MALFORMED;
}

int64_t
retry_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, double rnd)
{
	double	 ceil_ms;
	int64_t	 d;

	if (attempt < 1)
		attempt = 1;
	if (attempt > 30)
		attempt = 30;
	ceil_ms = (double)base_ms * pow(2.0, attempt - 1);
	if (ceil_ms > (double)cap_ms)
		ceil_ms = (double)cap_ms;
	d = (int64_t)(rnd * ceil_ms);
	if (d < base_ms / 4)
		d = base_ms / 4;
	return d;
}

void
limiter_init(struct limiter *l, int rate_per_min)
{
	l->limit = 0;
	l->cap = rate_per_min > 0 ? (rate_per_min + 5) / 6 : 0;
	l->remaining = -1;
	l->reset_ms = 0;
	l->next_us = 0;
	l->blocked_until = 0;
	l->slack_us = LIMITER_SLACK_MS * 1000;
}

/*
 * A loop held by a commit (an fsync: 5-50 ms on an SD card) cannot send
 * meanwhile; with a fixed 5-ms slack every slot that passed during the
 * commit was lost, and a worker on a 20-ms-fsync disk sent about one
 * request per commit (0.33 of 10,000/min, bench section 8).  Catching up
 * what the loop could not send keeps the average at the budget: the
 * burst is the slots of one held loop, a few requests, not a new rate.
 */
void
limiter_slack(struct limiter *l, int64_t held_ms)
{
	if (held_ms < LIMITER_SLACK_MS)
		held_ms = LIMITER_SLACK_MS;
	if (held_ms > LIMITER_SLACK_MAX_MS)
		held_ms = LIMITER_SLACK_MAX_MS;
	l->slack_us = held_ms * 1000;
}

long
limiter_budget(const struct limiter *l)
{
	if (l->limit > 0 && l->cap > 0)
		return l->limit < l->cap ? l->limit : l->cap;
	return l->limit > 0 ? l->limit : l->cap;
}

double
limiter_rate(const struct limiter *l)
{
	return (double)limiter_budget(l) / 10.0;
}

int64_t
limiter_when(const struct limiter *l, int64_t now)
{
	int64_t	 t = now;

	if (l->blocked_until > t)
		t = l->blocked_until;
	if ((l->next_us + 999) / 1000 > t)
		t = (l->next_us + 999) / 1000;
	return t;
}

void
limiter_sent(struct limiter *l, int64_t now)
{
	long	 b = limiter_budget(l);
	int64_t	 base;

	/*
	 * Round the gap up to the microsecond (10000/167 ms would fit 168
	 * in a window).  The loop wakes on whole milliseconds and a commit
	 * can hold it for a few more, so a send up to slack_us (5 ms, or
	 * what commits hold the loop: limiter_slack) behind its slot keeps
	 * the schedule instead of restarting it from
	 * now: else every send would lose its lateness, and at 2.4 ms apart
	 * (25,000/min) that is a third of the budget.  The slack bounds the
	 * catch-up burst to a few requests, well inside Remaining.
	 */
	if (b > 0) {
		base = now * 1000;
		if (l->next_us > base - l->slack_us)
			base = l->next_us;
		l->next_us = base + (10000000 + b - 1) / b;
	}
	if (l->remaining > 0)
		l->remaining--;
	if (l->remaining == 0 && l->reset_ms > now)
		l->blocked_until = l->reset_ms;
}

void
limiter_update(struct limiter *l, int64_t now, long limit, long remaining,
    long long reset_s, int throttled, double jitter_ms)
{
	int64_t	 reset_ms = reset_s > 0 ? reset_s * 1000 : 0;

	if (limit > 0)
		l->limit = limit;
	if (remaining >= 0) {
		/* A newer window refills; within one, trust the lower count. */
		if (reset_ms > l->reset_ms || l->remaining < 0)
			l->remaining = remaining;
		else if (remaining < l->remaining)
			l->remaining = remaining;
	}
	if (reset_ms > 0 && reset_ms > l->reset_ms)
		l->reset_ms = reset_ms;
	if (throttled || l->remaining == 0) {
		/* Wait for the refill; after a 429, plus jitter so several
		 * workers do not stampede the new window together. */
		int64_t until = (reset_ms > now ? reset_ms : now + 1000) +
		    (throttled ? (int64_t)jitter_ms : LIMITER_EDGE_MS);
		if (until > l->blocked_until)
			l->blocked_until = until;
	}
}

int64_t
clock_floor(void)
{
	return CLOCK_FLOOR;
}

int
clock_known(int64_t t)
{
	return t >= CLOCK_FLOOR;
}

int64_t
clock_mono_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;	/* cannot fail with a valid clock id */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
