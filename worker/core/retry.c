/*
 * retry: see retry.h.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

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
	    "malformed", "foreign" };

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ?
	    names[v] : "unknown";
}

/* Is the media type of a Content-Type value JSON (application/json or
 * any application/...+json)? */
static int
retry_is_json(const char *ct)
{
	size_t	 n;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	if (n == 16 && strncasecmp(ct, "application/json", n) == 0)
		return 1;
	return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	    strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* The host[:port] of a URL (or of a relative Location: "" then). */
static void
retry_url_host(const char *url, char *out, size_t outsz)
{
	const char	*h = strstr(url, "://"), *at;
	size_t		 n;

	out[0] = '\0';
	if (h == NULL)
		return;
	h += 3;
	n = strcspn(h, "/?#");
	/* user:password@host: never the credentials */
	if ((at = memchr(h, '@', n)) != NULL) {
		n -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	snprintf(out, outsz, "%.*s", (int)n, h);
}

/*
 * Could the body be Intercom's?  Every answer of Intercom's is one JSON
 * object with a string "type" (contact, list, admin, error.list, ...).
 * JSON of another shape is someone else's, and so is an HTML page.  A
 * body that does not parse at all stays Intercom's: a truncated or
 * garbled answer is a transport fault (malformed: retried, in doubt),
 * not proof that another party answered.
 */
static int
retry_intercom_body(const char *body, size_t len)
{
	json_t	*o;
	size_t	 i;
	int	 ok;

	for (i = 0; i < len && isspace((unsigned char)body[i]); i++)
		;
	if (i < len && body[i] == '<')
		return 0;
	/* The common case without a second parse (the handler parses it,
	 * and answers may be megabytes): an object naming a "type". */
	if (i < len && body[i] == '{' && memmem(body + i, len - i, "\"type\"",
	    6) != NULL)
		return 1;
	if ((o = json_loadb(body, len, 0, NULL)) == NULL)
		return 1;
	ok = json_is_object(o) && json_is_string(json_object_get(o, "type"));
	json_decref(o);
	return ok;
}

int
retry_foreign(CURLcode cc, long status, long connect_status,
    const char *ctype, const char *location, const char *body, size_t len,
    char *why, size_t whysz)
{
	char		 host[128], what[160];
	const char	*to = "";
	size_t		 n;

	what[0] = '\0';
	if (cc != CURLE_OK) {
		/* A proxy that would not open the tunnel: nothing was sent.
		 * Its answer is judged as one to the request would be. */
		if (connect_status < 300)
			return 0;
		status = connect_status;
		to = " to CONNECT";
	}
	if (status >= 300 && status < 400) {
		retry_url_host(location != NULL ? location : "", host,
		    sizeof(host));
		if (host[0] != '\0')
			snprintf(what, sizeof(what), "HTTP %ld%s to host %s",
			    status, to, host);
		else
			snprintf(what, sizeof(what), "HTTP %ld%s%s", status, to,
			    location != NULL && location[0] != '\0' ?
			    " to a page on the same host" : " without a Location");
	} else if (status == 407)
		snprintf(what, sizeof(what), "HTTP 407%s: a proxy asks for "
		    "credentials", to);
	else if (status == 511)		/* RFC 6585: a captive portal's own */
		snprintf(what, sizeof(what), "HTTP 511%s: the network asks to "
		    "log in", to);
	else if (cc != CURLE_OK)
		snprintf(what, sizeof(what), "the proxy answered CONNECT with "
		    "HTTP %ld", status);
	else if (status >= 200 && status < 300) {
		if (ctype != NULL && ctype[0] != '\0' && !retry_is_json(ctype)) {
			n = strcspn(ctype, "; \t");
			snprintf(what, sizeof(what), "HTTP %ld %.*s", status,
			    (int)(n < 64 ? n : 64), ctype);
		} else if (body != NULL && len > 0 &&
		    !retry_intercom_body(body, len))
			snprintf(what, sizeof(what), "HTTP %ld whose body is not "
			    "an Intercom object", status);
	}
	if (what[0] == '\0')
		return 0;
	/* Header text from the network: printable, no quotes, in a line. */
	for (n = 0; what[n] != '\0'; n++)
		if (!isprint((unsigned char)what[n]) || what[n] == '"' ||
		    what[n] == '\\')
			what[n] = '?';
	snprintf(why, whysz, "the network answered instead of Intercom (%s: "
	    "captive portal or proxy?)", what);
	return 1;
}

int
retry_foreign_unsent(CURLcode cc, long status, long connect_status)
{
	if (cc != CURLE_OK)
		return connect_status >= 300;
	return (status >= 300 && status < 400) || status == 407 ||
	    status == 511;
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

int64_t
retry_next_look_ms(int64_t first, int64_t need, int64_t have, int looks)
{
	double	 r, t;
	int	 k;

	if (first >= need || looks < 2)
		return need;
	r = pow((double)need / (double)first, 1.0 / (looks - 1));
	for (t = (double)first, k = 0; k < looks - 1; k++, t *= r)
		if ((int64_t)t > have)
			return (int64_t)t;
	return need;
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
