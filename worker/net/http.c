/*
 * http: see http.h.  Ownership: a submitted http_req belongs to the
 * transfer until its done callback runs; the callback owns it after and
 * frees it with http_req_free.  The easy handle rides on CURLOPT_PRIVATE.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "clock.h"
#include "http.h"
#include "retry.h"
#include "log.h"
#include "tlsr.h"

#define HTTP_MIB	((size_t)1024 * 1024)
#define HTTP_BUF_MIN	((size_t)16 * 1024)	/* first allocation */

struct http_sock {
	struct event	*ev;
	curl_socket_t	 fd;
};

#define HTTP_SPARE	64	/* idle easy handles kept */

struct http {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	int			 running;
	int			 active;
	struct http_req		*head;	/* in-flight transfers, for http_free */
	CURLSH			*share;	/* TLS sessions, DNS: NULL if refused */
	/*
	 * Easy handles of finished transfers, reset and used again: making
	 * and destroying one per request (a large zeroed allocation and its
	 * teardown) cost 3% of the worker's instructions (callgrind, issue
	 * 15 item 6).  curl_easy_reset puts every option back to its
	 * default when the transfer ends; http_setup then sets each one the
	 * next request uses.
	 */
	CURL			*spare[HTTP_SPARE];
	int			 nspare;
	struct tlsr		*tlsr;	/* one ticket per connection, or NULL */
};

static void http_check_done(struct http *);

static void
http_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http	*h = arg;
	int		 action = 0;
	CURLMcode	 mc;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	mc = curl_multi_socket_action(h->multi, fd, action, &h->running);
	if (mc != CURLM_OK)
		log_warnx("http: socket %d: %s", (int)fd,
		    curl_multi_strerror(mc));
	/* Whatever happened, reap what finished. */
	http_check_done(h);
}

static void
http_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http	*h = arg;
	CURLMcode	 mc;

	(void)fd;
	(void)what;
	mc = curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0,
	    &h->running);
	if (mc != CURLM_OK)
		log_warnx("http: timeout: %s", curl_multi_strerror(mc));
	http_check_done(h);
}

/* CURLMOPT_TIMERFUNCTION: -1 deletes, anything else (0 too) re-arms. */
static int
http_multi_timer_cb(CURLM *multi, long ms, void *arg)
{
	struct http	*h = arg;
	struct timeval	 tv;

	(void)multi;
	if (ms < 0)
		return evtimer_del(h->timer);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(h->timer, &tv);
}

/* Returns -1 when the socket cannot be watched: curl fails the transfer. */
static int
http_sock_cb(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct http		*h = arg;
	struct http_sock	*hs = sockp;
	struct event		*ev;
	short			 kind;
	CURLMcode		 mc;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_free(hs->ev);
			free(hs);
			/* Only fails for an unknown socket: nothing to undo. */
			if ((mc = curl_multi_assign(h->multi, s, NULL)) !=
			    CURLM_OK)
				log_debug("http: socket %d: %s", (int)s,
				    curl_multi_strerror(mc));
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if ((ev = event_new(h->base, s, kind, http_event_cb, h)) == NULL)
		return -1;
	if (event_add(ev, NULL) == -1) {
		event_free(ev);
		return -1;
	}
	if (hs == NULL) {
		if ((hs = calloc(1, sizeof(*hs))) == NULL) {
			event_free(ev);
			return -1;
		}
		hs->fd = s;
		if ((mc = curl_multi_assign(h->multi, s, hs)) != CURLM_OK) {
			log_warnx("http: socket %d: %s", (int)s,
			    curl_multi_strerror(mc));
			event_free(ev);
			free(hs);
			return -1;
		}
	} else
		event_free(hs->ev);
	hs->ev = ev;
	return 0;
}

struct http *
http_new(struct event_base *base)
{
	struct http	*h;
	CURLMcode	 mc;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->base = base;
	if ((h->multi = curl_multi_init()) == NULL)
		goto fail;
	if ((h->timer = evtimer_new(base, http_timer_cb, h)) == NULL)
		goto fail;
	if ((mc = curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION,
	    http_sock_cb)) != CURLM_OK ||
	    (mc = curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA,
	    h)) != CURLM_OK ||
	    (mc = curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION,
	    http_multi_timer_cb)) != CURLM_OK ||
	    (mc = curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA,
	    h)) != CURLM_OK ||
	    /* No limit of libcurl's own: the engine sizes each workspace's
	     * in flight (ws_size), and a transfer waiting in libcurl for a
	     * connection would count as sent (its doubt clock running, its
	     * round trip inflated) while it is not. */
	    (mc = curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    0L)) != CURLM_OK) {
		log_warnx("http: curl_multi_setopt: %s",
		    curl_multi_strerror(mc));
		goto fail;
	}
	/*
	 * Writes that are not repeatable get a fresh connection each
	 * (http_setup); sharing TLS sessions lets that connection resume
	 * one (an abbreviated handshake) instead of a full handshake per
	 * write.  Only the session and DNS caches are shared, never a
	 * connection.  Without the share everything still works, slower.
	 */
	if ((h->share = curl_share_init()) != NULL &&
	    (curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_DNS) != CURLSHE_OK)) {
		curl_share_cleanup(h->share);
		h->share = NULL;
	}
	/* Without it libcurl's one session per host serves (tlsr.h). */
	h->tlsr = tlsr_new();
	return h;
fail:
	http_free(h);
	return NULL;
}

void
http_free(struct http *h)
{
	struct http_req	*r;

	if (h == NULL)
		return;
	/* Abandon what is in flight; each req stays its submitter's. */
	while ((r = h->head) != NULL) {
		h->head = r->next;
		curl_multi_remove_handle(h->multi, r->easy);
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	if (h->timer != NULL)
		event_free(h->timer);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	/* Before the share: a reset handle still holds it, and
	 * curl_share_cleanup refuses a share in use (the share leaks). */
	while (h->nspare > 0)
		curl_easy_cleanup(h->spare[--h->nspare]);
	if (h->share != NULL)
		curl_share_cleanup(h->share);
	/* After the multi: closing a connection may still bring a ticket. */
	tlsr_free(h->tlsr);
	free(h);
}

struct http_req *
http_req_new(const char *method, const char *url)
{
	struct http_req	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	snprintf(r->method, sizeof(r->method), "%s", method);
	if ((r->url = strdup(url)) == NULL) {
		free(r);
		return NULL;
	}
	r->timeout_s = 30;
	r->connect_timeout_s = 10;
	r->resp_max = HTTP_RESP_MAX;
	r->rl_limit = r->rl_remaining = -1;
	r->retry_after = -1;
	return r;
}

void
http_req_free(struct http_req *r)
{
	if (r == NULL)
		return;
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	free(r->url);
	free(r->body);
	free(r->resp);
	free(r->ca_own);
	if (r->proxy != NULL)
		explicit_bzero(r->proxy, strlen(r->proxy));
	free(r->proxy);
	curl_slist_free_all(r->headers);
	free(r);
}

int
http_req_set_ca(struct http_req *r, const char *path)
{
	char	*p = NULL;

	if (path != NULL && (p = strdup(path)) == NULL)
		return -1;
	free(r->ca_own);
	r->ca_own = p;
	r->ca_file = p;
	return 0;
}

int
http_req_set_proxy(struct http_req *r, const char *proxy)
{
	char	*p = NULL;

	if (proxy != NULL && (p = strdup(proxy)) == NULL)
		return -1;
	if (r->proxy != NULL)
		explicit_bzero(r->proxy, strlen(r->proxy));
	free(r->proxy);
	r->proxy = p;
	return 0;
}

/*
 * Make room for need bytes plus the NUL, doubling so that a large
 * answer costs O(log n) reallocations, never more than resp_max + 1.
 */
static int
http_resp_reserve(struct http_req *r, size_t need)
{
	size_t	 cap;
	char	*np;

	if (need + 1 <= r->respcap)
		return 0;
	cap = r->respcap > HTTP_BUF_MIN ? r->respcap : HTTP_BUF_MIN;
	while (cap < need + 1 && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (cap < need + 1 || cap > r->resp_max + 1)
		cap = need + 1 > r->resp_max + 1 ? need + 1 : r->resp_max + 1;
	if ((np = realloc(r->resp, cap)) == NULL)
		return -1;
	r->resp = np;
	r->respcap = cap;
	return 0;
}

static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_req	*r = arg;
	size_t		 n = size * nmemb;

	if (n > r->resp_max - r->resplen) {
		r->too_big = 1;
		r->over = (curl_off_t)(r->resplen + n);
		r->over_announced = 0;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (http_resp_reserve(r, r->resplen + n) == -1) {
		r->nomem = 1;
		return 0;
	}
	memcpy(r->resp + r->resplen, ptr, n);
	r->resplen += n;
	r->resp[r->resplen] = '\0';
	return n;
}

/*
 * A Content-Length over the bound: refuse now rather than after
 * receiving resp_max bytes; one within it sizes the buffer at once.
 * Returns 0 to go on, -1 to abort the transfer.
 */
static int
http_content_length(struct http_req *r, const char *v)
{
	char		*end;
	long long	 cl;

	errno = 0;
	cl = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || cl < 0)
		return 0;	/* unusable: the body's size will tell */
	if ((unsigned long long)cl > r->resp_max) {
		r->too_big = 1;
		r->over = (curl_off_t)cl;
		r->over_announced = 1;
		return -1;
	}
	if (http_resp_reserve(r, (size_t)cl) == -1) {
		r->nomem = 1;
		return -1;
	}
	return 0;
}

/*
 * X-RateLimit-Reset is an instant on Intercom's clock, and the box's
 * clock may be hours off it (no RTC, NTP not yet synchronised): with the
 * box 3 h behind, a reset 5 s ahead read as a 3-hour wait.  The answer's
 * Date header is Intercom's clock too, to the second: its "now" lies in
 * [date, date + 1 s).  When the local clock falls in that second (give
 * or take the time since the request was sent, sent_ago_ms), it agrees
 * with Intercom's and gives the milliseconds; otherwise Intercom's now
 * is taken as date itself, which can make the wait at most a second too
 * long, never too short.  Without a Date (0) the local clock is all
 * there is.  Pure: see http.h.
 */
int64_t
http_rl_wait_ms(long long reset_s, long long date_s, int64_t wall_ms,
    int64_t sent_ago_ms)
{
	int64_t	 srv = wall_ms;

	if (date_s > 0 && date_s <= INT64_MAX / 1000 - 1 &&
	    (wall_ms < date_s * 1000 ||
	    wall_ms >= date_s * 1000 + 1000 + (sent_ago_ms > 0 ?
	    sent_ago_ms : 0)))
		srv = date_s * 1000;
	return reset_s * 1000 - srv;
}

/*
 * At the end of the headers (Date may come after the reset): carry the
 * server's reset instant over to the monotonic clock, now, while both
 * are read together; a later clock step then moves neither the
 * limiter's "now" nor its reset.  The wait is bounded by Intercom's
 * window (rl_wait_ms keeps what was advertised, for the caller to log).
 * A reset already past stays past (>= 1: 0 means absent).
 */
static void
http_rl_reset(struct http_req *r)
{
	int64_t		 mono, wait, ms;

	if (r->rl_reset_epoch <= 0)
		return;
	mono = clock_mono_ms();
	wait = http_rl_wait_ms(r->rl_reset_epoch, r->date_epoch,
	    clock_wall_ms(),
	    mono - (r->sent_ms > 0 ? r->sent_ms : r->started_ms));
	r->rl_wait_ms = wait;
	if (wait > HTTP_RL_WAIT_MAX_MS)
		wait = HTTP_RL_WAIT_MAX_MS;
	ms = mono + wait;
	if (ms < 1000)
		ms = 1000;
	r->rl_reset_ms = ms;
	r->rl_reset = (ms + 999) / 1000;
}

/* Header lines: only the ones the limiter and merge logic need. */
static size_t
http_header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct http_req	*r = arg;
	size_t		 n = size * nitems, klen;
	char		 line[512], *v, *end;
	long long	 ll;
	time_t		 date;

	if (n >= sizeof(line))
		return n;
	if (n <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
		http_rl_reset(r);	/* the blank line: headers complete */
		return n;
	}
	memcpy(line, buf, n);
	line[n] = '\0';
	/* A new answer (after a proxy's CONNECT, a 100 Continue): what the
	 * earlier one said about itself is not the final answer's. */
	if (strncmp(line, "HTTP/", 5) == 0) {
		r->ctype[0] = r->location[0] = '\0';
		return n;
	}
	if ((v = strchr(line, ':')) == NULL)
		return n;
	klen = (size_t)(v - line);
	v++;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strlen(v);
	while (end > v && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (klen == 17 && strncasecmp(line, "X-RateLimit-Limit", klen) == 0)
		r->rl_limit = strtol(v, NULL, 10);
	else if (klen == 21 && strncasecmp(line, "X-RateLimit-Remaining",
	    klen) == 0)
		r->rl_remaining = strtol(v, NULL, 10);
	else if (klen == 17 && strncasecmp(line, "X-RateLimit-Reset",
	    klen) == 0) {
		ll = strtoll(v, NULL, 10);
		r->rl_reset_epoch = ll > 0 && ll <= INT64_MAX / 1000 - 1 ?
		    ll : 0;
	} else if (klen == 4 && strncasecmp(line, "Date", klen) == 0) {
		date = curl_getdate(v, NULL);
		r->date_epoch = date > 0 ? (long long)date : 0;
	}
	else if (klen == 11 && strncasecmp(line, "Retry-After", klen) == 0)
		r->retry_after = strtod(v, NULL);
	else if (klen == 4 && strncasecmp(line, "Link", klen) == 0)
		snprintf(r->link, sizeof(r->link), "%s", v);
	else if (klen == 12 && strncasecmp(line, "Content-Type", klen) == 0)
		snprintf(r->ctype, sizeof(r->ctype), "%s", v);
	else if (klen == 8 && strncasecmp(line, "Location", klen) == 0)
		snprintf(r->location, sizeof(r->location), "%s", v);
	else if (klen == 14 && strncasecmp(line, "Content-Length", klen) == 0 &&
	    http_content_length(r, v) == -1)
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	return n;
}

/* The bound as people read it: "64 MiB", or bytes when not whole MiB. */
static void
http_fmt_max(size_t max, char *buf, size_t sz)
{
	if (max >= HTTP_MIB && max % HTTP_MIB == 0)
		snprintf(buf, sz, "%zu MiB", max / HTTP_MIB);
	else
		snprintf(buf, sz, "%zu bytes", max);
}

/*
 * http_tls_setopt (callsyncd and callsync doctor): the trust anchors are
 * one CA file: ca_file, or libcurl's built-in bundle; never a CA
 * directory besides (ca_file is "instead of the system's",
 * callsync.conf(5)).  That also lets libcurl (7.87+) keep the
 * parsed file in the multi handle: it caches only when no CA directory
 * is set, and Debian's libcurl sets /etc/ssl/certs by default.  Without
 * the cache every new connection parsed the whole file again: with the
 * system's 145 certificates, 23 ms of CPU per request and a drain at a
 * fifth of its plain-HTTP speed (bench/tls.sh).  The parsed file is kept
 * 10 s, so a ca_file replaced in place applies within 10 s (a new path at
 * once) for one parse per 10 s (about 30 ms for 145 certificates).
 * Without a built-in bundle, the directory stays.
 */
#define HTTP_CA_CACHE_S	10L

CURLcode
http_tls_setopt(CURL *e, const char *ca_file, char *err, size_t errsz)
{
	char		*builtin = NULL;
	CURLcode	 cc;

	/* TLS verification stays on: there is no option to turn it off. */
	if ((cc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER,
	    1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST,
	    2L)) != CURLE_OK) {
		snprintf(err, errsz, "TLS verification: %s",
		    curl_easy_strerror(cc));
		return cc;
	}
	if (ca_file != NULL && (cc = curl_easy_setopt(e, CURLOPT_CAINFO,
	    ca_file)) != CURLE_OK) {
		snprintf(err, errsz, "CA file %s: %s", ca_file,
		    curl_easy_strerror(cc));
		return cc;
	}
	if (ca_file == NULL &&
	    (curl_easy_getinfo(e, CURLINFO_CAINFO, &builtin) != CURLE_OK ||
	    builtin == NULL))
		return CURLE_OK;
	if ((cc = curl_easy_setopt(e, CURLOPT_CAPATH, NULL)) != CURLE_OK) {
		snprintf(err, errsz, "CA directory: %s",
		    curl_easy_strerror(cc));
		return cc;
	}
	/* Refused by an older libcurl: it parses the file per connection. */
	(void)curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, HTTP_CA_CACHE_S);
	return CURLE_OK;
}

/* Options common to every request; r->errbuf says which part failed. */
static CURLcode
http_setup(struct http_req *r, CURL *e)
{
	CURLcode	 cc;

	if ((cc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER,
	    r->errbuf)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_URL, r->url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_PRIVATE, r)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION,
	    http_write_cb)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_WRITEDATA, r)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_HEADERFUNCTION,
	    http_header_cb)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_HEADERDATA, r)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_TIMEOUT,
	    r->timeout_s)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
	    r->connect_timeout_s)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
	    "http,https")) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_HTTPHEADER,
	    r->headers)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_USERAGENT,
	    "callsync/0.1")) != CURLE_OK) {
		snprintf(r->errbuf, sizeof(r->errbuf), "setting up the "
		    "transfer: %s", curl_easy_strerror(cc));
		return cc;
	}
	if ((cc = http_tls_setopt(e, r->ca_file, r->errbuf,
	    sizeof(r->errbuf))) != CURLE_OK)
		return cc;
	/* Unset: libcurl reads the environment's proxy variables itself. */
	if (r->proxy != NULL && (cc = curl_easy_setopt(e, CURLOPT_PROXY,
	    r->proxy)) != CURLE_OK) {
		snprintf(r->errbuf, sizeof(r->errbuf), "proxy: %s",
		    curl_easy_strerror(cc));
		return cc;
	}
	/*
	 * On a reused connection that dies before any answer byte, libcurl
	 * silently sends the request again on a fresh one (Curl_retry_request,
	 * any method).  If the server had applied the first copy and then
	 * lost the connection, a POST lands twice.  Writes that are not
	 * naturally repeatable therefore get a connection of their own, so
	 * every resend is ours and goes through reconciliation.  Exactly-once
	 * rests on these two options: if either is refused, nothing is sent.
	 */
	if (r->fresh &&
	    ((cc = curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L)) != CURLE_OK ||
	    /* ...and closes it after, not to crowd the reusable ones. */
	    (cc = curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L)) != CURLE_OK)) {
		snprintf(r->errbuf, sizeof(r->errbuf), "no connection of its "
		    "own (fresh_connect/forbid_reuse): %s",
		    curl_easy_strerror(cc));
		return cc;
	}
	if ((strcmp(r->method, "GET") != 0 &&
	    (cc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
	    r->method)) != CURLE_OK) ||
	    (r->body != NULL &&
	    ((cc = curl_easy_setopt(e, CURLOPT_POSTFIELDS,
	    r->body)) != CURLE_OK ||
	    (cc = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(r->body))) != CURLE_OK))) {
		snprintf(r->errbuf, sizeof(r->errbuf), "%s with a body: %s",
		    r->method, curl_easy_strerror(cc));
		return cc;
	}
	return CURLE_OK;
}

/*
 * CURLOPT_OPENSOCKETFUNCTION: libcurl's own socket(), keeping its errno.
 * libcurl reports a socket() that failed with EMFILE as "couldn't
 * connect" and leaves CURLINFO_OS_ERRNO at 0: without this, running out
 * of file descriptors looks like Intercom refusing connections.
 */
static curl_socket_t
http_open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct http_req	*r = arg;
	curl_socket_t	 s;

	(void)purpose;
	if ((s = socket(a->family, a->socktype | SOCK_CLOEXEC,
	    a->protocol)) == -1)
		r->os_errno = errno;
	return s == -1 ? CURL_SOCKET_BAD : s;
}

int
http_submit(struct http *h, struct http_req *r)
{
	CURL		*e;
	CURLMcode	 mc;

	r->started_ms = clock_mono_ms();
	r->sent_ms = 0;
	r->unsent = 0;
	r->os_errno = 0;
	r->errbuf[0] = '\0';
	r->ctype[0] = r->location[0] = '\0';
	r->connect_status = 0;
	if (h->nspare > 0)
		e = h->spare[--h->nspare];
	else if ((e = curl_easy_init()) == NULL) {
		snprintf(r->errbuf, sizeof(r->errbuf), "curl_easy_init failed");
		return -1;
	}
	if (http_setup(r, e) != CURLE_OK)
		goto fail;
	if (curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION,
	    http_open_cb) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r) != CURLE_OK) {
		snprintf(r->errbuf, sizeof(r->errbuf), "socket callback "
		    "refused");
		goto fail;
	}
	if (h->share != NULL && curl_easy_setopt(e, CURLOPT_SHARE,
	    h->share) != CURLE_OK) {
		snprintf(r->errbuf, sizeof(r->errbuf), "sharing TLS sessions "
		    "refused");
		goto fail;
	}
	/* Refused (not OpenSSL): libcurl's own session cache stays on. */
	if (h->tlsr != NULL && strncasecmp(r->url, "https://", 8) == 0 &&
	    tlsr_attach(h->tlsr, e, r->url, r->ca_file) == -1)
		log_debug("http: TLS ticket pool not used for %s", r->url);
	r->easy = e;
	r->h = h;
	/* From here libcurl may connect and send at any moment. */
	r->sent_ms = clock_mono_ms();
	if ((mc = curl_multi_add_handle(h->multi, e)) != CURLM_OK) {
		snprintf(r->errbuf, sizeof(r->errbuf), "curl_multi_add_handle: "
		    "%s", curl_multi_strerror(mc));
		r->sent_ms = 0;
		goto fail;
	}
	h->active++;
	r->prev = NULL;
	r->next = h->head;
	if (h->head != NULL)
		h->head->prev = r;
	h->head = r;
	return 0;
fail:
	curl_easy_cleanup(e);
	r->easy = NULL;
	r->h = NULL;
	return -1;
}

int
http_active(const struct http *h)
{
	return h->active;
}

int
http_set_maxconnects(struct http *h, long n)
{
	return curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, n) ==
	    CURLM_OK ? 0 : -1;
}

/*
 * A transfer we aborted ends in CURLE_WRITE_ERROR, whose text ("failure
 * writing output") says nothing; replace it by what happened.
 */
static void
http_explain(struct http_req *r)
{
	char	 max[32], why[CURL_ERROR_SIZE];

	/*
	 * libcurl's "SSL certificate problem: unable to get local issuer
	 * certificate" does not say that the fix is the trust anchor: name
	 * it and where it came from (the token is never part of it).
	 */
	if (r->cc == CURLE_PEER_FAILED_VERIFICATION ||
	    r->cc == CURLE_SSL_CACERT_BADFILE) {
		snprintf(why, sizeof(why), "%s", r->errbuf[0] ? r->errbuf :
		    curl_easy_strerror(r->cc));
		/* A long path may cut curl's reason: the start is what counts. */
		if (snprintf(r->errbuf, sizeof(r->errbuf), "TLS certificate "
		    "verification failed against %s%s: %s",
		    r->ca_file != NULL ? "ca_file " : "the system CA store",
		    r->ca_file != NULL ? r->ca_file : "", why) < 0)
			snprintf(r->errbuf, sizeof(r->errbuf), "TLS certificate "
			    "verification failed");
		return;
	}
	if (r->too_big) {
		http_fmt_max(r->resp_max, max, sizeof(max));
		snprintf(r->errbuf, sizeof(r->errbuf),
		    "answer larger than %s (%" CURL_FORMAT_CURL_OFF_T
		    " bytes %s)", max, r->over,
		    r->over_announced ? "announced" : "received");
	} else if (r->nomem)
		snprintf(r->errbuf, sizeof(r->errbuf), "out of memory for "
		    "the answer (%zu bytes)", r->resplen);
}

/*
 * 1 when the failed transfer e of r provably wrote no byte of its
 * request (r->unsent; read before the handle is reset).  libcurl writes
 * a request only once its connection is set up: TCP connected, a
 * proxy's tunnel and the TLS handshake done (multi.c: the DO state comes
 * after CONNECTING and PROTOCONNECT).  It records that moment as
 * CURLINFO_CONNECT_TIME_T, when the whole chain is up on 7.88
 * (cfilters.c, Curl_conn_connect), when TCP is on later versions: either
 * way before any request byte.  But a transfer on a reused connection
 * gets no connect time at all, and libcurl resends silently on a new
 * connection a request whose reused one died (Curl_retry_request): the
 * rule holds only for a connection of the request's own (r->fresh,
 * FRESH_CONNECT, never reused and never resent).  So a fresh transfer
 * that failed with connect time 0 sent nothing: name not resolved,
 * connection refused, connect timed out, on 7.88 a failed handshake too.
 * A handshake failure (SSL_CONNECT_ERROR, PEER_FAILED_VERIFICATION,
 * SSL_CACERT_BADFILE) with CURLINFO_APPCONNECT_TIME_T 0 (the origin's
 * handshake never finished; a proxy's is not counted) is the same on
 * any version: the request goes only over a finished handshake, and TLS
 * early data is off (CURLSSLOPT_EARLYDATA, 8.11+, is never set).
 * CURLINFO_REQUEST_SIZE must be 0 too, as a cross-check.
 *
 * Not used, because they prove nothing: "connected, zero bytes written"
 * (REQUEST_SIZE counts only the first send of the request; when it
 * writes 0 bytes, the whole request goes later, uncounted: 7.88 http.c
 * Curl_buffer_send), and PRETRANSFER_TIME (set after the request was
 * sent, in the DID state).  Such requests stay in doubt.
 */
static int
http_unsent(const struct http_req *r, CURL *e, CURLcode cc)
{
	curl_off_t	 conn_us = -1, app_us = -1;
	long		 reqsize = -1;

	if (cc == CURLE_OK || !r->fresh)
		return 0;
	if (curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &conn_us) !=
	    CURLE_OK || curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T,
	    &app_us) != CURLE_OK || curl_easy_getinfo(e,
	    CURLINFO_REQUEST_SIZE, &reqsize) != CURLE_OK || reqsize != 0)
		return 0;
	if (conn_us == 0)
		return 1;
	return (cc == CURLE_SSL_CONNECT_ERROR ||
	    cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CACERT_BADFILE) && app_us == 0;
}

/* Reap finished transfers; never reuse a CURLMsg after removing it. */
static void
http_check_done(struct http *h)
{
	CURLMsg		*m;
	int		 left;
	struct http_req	*r;
	CURL		*e;
	CURLcode	 cc;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		e = m->easy_handle;
		r = NULL;
		cc = m->data.result;
		if (curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r) !=
		    CURLE_OK || r == NULL) {
			/* Cannot happen: every handle gets one in http_submit. */
			log_warnx("http: finished transfer without its request");
			curl_multi_remove_handle(h->multi, e);
			continue;
		}
		r->cc = cc;
		if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status) !=
		    CURLE_OK)
			r->status = 0;
		r->unsent = http_unsent(r, e, cc);
		if (curl_easy_getinfo(e, CURLINFO_HTTP_CONNECTCODE,
		    &r->connect_status) != CURLE_OK)
			r->connect_status = 0;
		/* EMFILE from socket() (http_open_cb) or a later open: the
		 * box's, not the server's (fdlimit.h). */
		if (cc == CURLE_OK)
			r->os_errno = 0;
		else if (r->os_errno == 0 && curl_easy_getinfo(e,
		    CURLINFO_OS_ERRNO, &r->os_errno) != CURLE_OK)
			r->os_errno = 0;
		curl_multi_remove_handle(h->multi, e);
		if (h->nspare < HTTP_SPARE) {
			/* Now: an idle handle keeps no pointer into r. */
			curl_easy_reset(e);
			h->spare[h->nspare++] = e;
		} else
			curl_easy_cleanup(e);
		r->easy = NULL;
		r->duration_ms = clock_mono_ms() - r->started_ms;
		/* After the transfer: libcurl writes errbuf when it ends. */
		http_explain(r);
		h->active--;
		if (r->prev != NULL)
			r->prev->next = r->next;
		else
			h->head = r->next;
		if (r->next != NULL)
			r->next->prev = r->prev;
		if (r->done != NULL)
			r->done(r, r->arg);
		else
			http_req_free(r);
	}
}
