/*
 * http: libcurl's multi interface driven by libevent (the shape of curl's
 * docs/examples/hiperfifo.c): one EV_PERSIST event per socket through
 * CURLMOPT_SOCKETFUNCTION, one timer through CURLMOPT_TIMERFUNCTION, no
 * polling.  Connections are reused across requests by the multi handle.
 */
#ifndef CALLSYNC_HTTP_H
#define CALLSYNC_HTTP_H

#include <stdint.h>
#include <curl/curl.h>
#include <event2/event.h>

#define HTTP_RESP_MAX	(4 * 1024 * 1024)	/* bigger answers are refused */

struct http;

struct http_req {
	/* request: set by the caller */
	char		 method[8];
	char		*url;		/* owned */
	char		*body;		/* owned, may be NULL */
	struct curl_slist *headers;	/* owned; holds the token: never log */
	long		 timeout_s;
	long		 connect_timeout_s;
	const char	*ca_file;	/* borrowed */
	int		 fresh;		/* own connection: see http_submit */
	void		(*done)(struct http_req *, void *);
	void		*arg;
	/* response: set before done() is called */
	CURLcode	 cc;
	long		 status;
	char		*resp;		/* NUL-terminated, owned */
	size_t		 resplen;
	int		 too_big;
	char		 errbuf[CURL_ERROR_SIZE];
	long		 rl_limit, rl_remaining;	/* -1 when absent */
	long long	 rl_reset;
	double		 retry_after;			/* -1 when absent */
	char		 link[256];	/* Link header, "" when absent */
	int64_t		 started_ms, duration_ms;
	/* internal */
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
/* Start r; done(r, arg) runs from the loop when it ends, whatever the
 * outcome.  Returns -1 if it could not be started (then no callback). */
int		 http_submit(struct http *, struct http_req *);
int		 http_active(const struct http *);
int64_t		 http_now_ms(void);

#endif
