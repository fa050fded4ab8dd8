/*
 * http: libcurl's multi interface driven by libevent (the shape of curl's
 * docs/examples/hiperfifo.c): one EV_PERSIST event per socket through
 * CURLMOPT_SOCKETFUNCTION, one timer through CURLMOPT_TIMERFUNCTION, no
 * polling.  Connections are reused across requests by the multi handle.
 *
 * Answers are kept in memory, up to resp_max bytes (HTTP_RESP_MAX unless
 * the caller lowers or raises it): the buffer grows geometrically, a
 * Content-Length above the bound refuses the answer before its body, and
 * a body that outgrows it aborts the transfer with too_big set.
 */
#ifndef CALLSYNC_HTTP_H
#define CALLSYNC_HTTP_H

#include <stdint.h>
#include <curl/curl.h>
#include <event2/event.h>

/* A long conversation's GET (note reconciliation) must fit. */
#define HTTP_RESP_MAX	((size_t)64 * 1024 * 1024)
/*
 * The longest rate-limit wait an answer can impose: Intercom's window is
 * 10 s (INTERCOM-API.md section 2), so a Reset further ahead is a broken
 * clock or a hostile answer, not a limit; the limiter adds its jitter.
 */
#define HTTP_RL_WAIT_MAX_MS	10000

struct http;

struct http_req {
	/* request: set by the caller */
	char		 method[8];
	char		*url;		/* owned */
	char		*body;		/* owned, may be NULL */
	struct curl_slist *headers;	/* owned; holds the token: never log */
	long		 timeout_s;
	long		 connect_timeout_s;
	/*
	 * CA bundle, or NULL for the system's.  Set it with http_req_set_ca,
	 * which points ca_file at ca_own, a copy the request owns: a queued
	 * request must not borrow from a configuration SIGHUP may free.
	 * Assigning ca_file directly (borrowed) is kept only until callers
	 * switch to http_req_set_ca.
	 */
	const char	*ca_file;
	char		*ca_own;	/* owned */
	/*
	 * The proxy: NULL leaves libcurl to the environment (https_proxy,
	 * http_proxy, all_proxy, no_proxy), "" goes direct, else that proxy
	 * URL (credentials in it never reach a message).  Owned: set with
	 * http_req_set_proxy.
	 */
	char		*proxy;
	size_t		 resp_max;	/* answer bound; HTTP_RESP_MAX */
	int		 fresh;		/* own connection: see http_submit */
	void		(*done)(struct http_req *, void *);
	void		*arg;
	/* response: set before done() is called */
	CURLcode	 cc;
	long		 status;
	char		*resp;		/* NUL-terminated, owned */
	size_t		 resplen;
	int		 too_big;	/* answer over resp_max: see errbuf */
	/*
	 * 1 when the request provably never left the box: a fresh
	 * connection (r->fresh) that libcurl never finished setting up, so
	 * no byte of the request was written (http_unsent).  0 when any
	 * byte may have reached the server, and for every answer.
	 */
	int		 unsent;
	char		 errbuf[CURL_ERROR_SIZE];	/* why, when it failed */
	long		 rl_limit, rl_remaining;	/* -1 when absent */
	long		 os_errno;	/* CURLINFO_OS_ERRNO of a failure, or 0 */
	/*
	 * X-RateLimit-Reset is an instant on Intercom's clock (unix
	 * seconds); the limiter runs on clock_mono_ms().  rl_reset_epoch is
	 * the header as sent, date_epoch the answer's Date header (0 when
	 * absent or unparsable); rl_wait_ms the wait they advertise, judged
	 * on Intercom's clock (http_rl_wait_ms); rl_reset_ms the end of that
	 * wait on the monotonic clock, bounded by HTTP_RL_WAIT_MAX_MS, and
	 * rl_reset that in seconds rounded up (what limiter_update takes).
	 * All 0 when absent.
	 */
	long long	 rl_reset;
	long long	 rl_reset_epoch;
	long long	 date_epoch;
	int64_t		 rl_wait_ms;
	int64_t		 rl_reset_ms;
	double		 retry_after;			/* -1 when absent */
	char		 link[256];	/* Link header, "" when absent */
	/*
	 * Who answered: the final answer's Content-Type and Location ("" when
	 * absent), and a proxy's answer to CONNECT (0 without a tunnel).
	 * retry_foreign judges from them whether it was Intercom.
	 */
	char		 ctype[128];
	char		 location[256];
	long		 connect_status;
	/*
	 * CLOCK_MONOTONIC, ms (clock_mono_ms): started_ms when http_submit was
	 * called, sent_ms when the request was handed to libcurl (the
	 * earliest moment it may reach the server; 0 if it never was),
	 * duration_ms from started_ms to the end of the transfer.
	 */
	int64_t		 started_ms, sent_ms, duration_ms;
	/* internal */
	size_t		 respcap;	/* bytes allocated at resp */
	curl_off_t	 over;		/* too_big: bytes received/announced */
	int		 over_announced; /* over is a Content-Length */
	int		 nomem;		/* the answer did not fit in memory */
	CURL		*easy;
	struct http	*h;
	struct http_req	*prev, *next;
};

struct http	*http_new(struct event_base *);
/* Cancels every transfer (no callbacks; the requests stay owned by
 * whoever submitted them), frees h. */
void		 http_free(struct http *);
/* New request; free with http_req_free.  url is copied. */
struct http_req	*http_req_new(const char *method, const char *url);
void		 http_req_free(struct http_req *);
/*
 * Use the CA bundle at path (NULL: the system's).  path is copied into
 * r->ca_own (freed with r, or by the next call); -1 on ENOMEM, r unchanged.
 */
int		 http_req_set_ca(struct http_req *, const char *path);
/*
 * The daemon's TLS trust on any easy handle (its requests use it, and so
 * does callsync doctor): verification on, the one CA file ca_file (NULL:
 * libcurl's built-in bundle) and no CA directory besides.  Not CURLE_OK:
 * err says which part failed.
 */
CURLcode	 http_tls_setopt(CURL *, const char *ca_file, char *err,
		    size_t errsz);
/* Use proxy (see http_req.proxy; NULL: the environment's), copied; -1 on
 * ENOMEM, r unchanged. */
int		 http_req_set_proxy(struct http_req *, const char *proxy);
/*
 * Start r; done(r, arg) runs from the loop when it ends, whatever the
 * outcome.  Returns -1 if it could not be started, with the reason in
 * r->errbuf (then no callback, and nothing was sent).  Every option is
 * checked: a request whose fresh flag cannot be honoured is not sent.
 */
int		 http_submit(struct http *, struct http_req *);
int		 http_active(const struct http *);
/* Idle connections kept open at most (CURLMOPT_MAXCONNECTS): a short
 * file-descriptor budget (fdlimit.h).  0 or -1. */
int		 http_set_maxconnects(struct http *, long);
/*
 * Milliseconds from now until the rate-limit reset reset_s, judged on the
 * server's clock: date_s is the answer's Date (0: none, then the local
 * wall clock wall_ms alone), sent_ago_ms how long ago the request left.
 * Negative when the reset is past.  Unbounded (callers cap it).
 */
int64_t		 http_rl_wait_ms(long long reset_s, long long date_s,
		    int64_t wall_ms, int64_t sent_ago_ms);

#endif
