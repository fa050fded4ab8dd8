/*
 * http: see http.h.  Ownership: a submitted http_req belongs to the
 * transfer until its done callback runs; the callback owns it after and
 * frees it with http_req_free.  The easy handle rides on CURLOPT_PRIVATE.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <event2/event.h>

#include "http.h"
#include "log.h"

struct http_sock {
	struct event	*ev;
	curl_socket_t	 fd;
};

struct http {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	int			 running;
	int			 active;
	struct http_req		*head;	/* in-flight transfers, for http_free */
};

static void http_check_done(struct http *);

int64_t
http_now_ms(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
http_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http	*h = arg;
	int		 action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, fd, action, &h->running);
	http_check_done(h);
}

static void
http_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http	*h = arg;

	(void)fd;
	(void)what;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &h->running);
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

static int
http_sock_cb(CURL *e, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct http		*h = arg;
	struct http_sock	*hs = sockp;
	short			 kind;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_free(hs->ev);
			free(hs);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (hs == NULL) {
		if ((hs = calloc(1, sizeof(*hs))) == NULL)
			return -1;
		hs->fd = s;
		curl_multi_assign(h->multi, s, hs);
	} else
		event_free(hs->ev);
	hs->ev = event_new(h->base, s, kind, http_event_cb, h);
	if (hs->ev == NULL)
		return -1;
	event_add(hs->ev, NULL);
	return 0;
}

struct http *
http_new(struct event_base *base)
{
	struct http	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->base = base;
	if ((h->multi = curl_multi_init()) == NULL)
		goto fail;
	if ((h->timer = evtimer_new(base, http_timer_cb, h)) == NULL)
		goto fail;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_multi_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
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
	curl_slist_free_all(r->headers);
	free(r);
}

static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_req	*r = arg;
	size_t		 n = size * nmemb;
	char		*np;

	if (r->resplen + n > HTTP_RESP_MAX) {
		r->too_big = 1;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if ((np = realloc(r->resp, r->resplen + n + 1)) == NULL)
		return 0;
	r->resp = np;
	memcpy(r->resp + r->resplen, ptr, n);
	r->resplen += n;
	r->resp[r->resplen] = '\0';
	return n;
}

/* Header lines: only the ones the limiter and merge logic need. */
static size_t
http_header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct http_req	*r = arg;
	size_t		 n = size * nitems, klen;
	char		 line[512], *v, *end;

	if (n >= sizeof(line))
		return n;
	memcpy(line, buf, n);
	line[n] = '\0';
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
	else if (klen == 17 && strncasecmp(line, "X-RateLimit-Reset", klen) == 0)
		r->rl_reset = strtoll(v, NULL, 10);
	else if (klen == 11 && strncasecmp(line, "Retry-After", klen) == 0)
		r->retry_after = strtod(v, NULL);
	else if (klen == 4 && strncasecmp(line, "Link", klen) == 0)
		snprintf(r->link, sizeof(r->link), "%s", v);
	return n;
}

int
http_submit(struct http *h, struct http_req *r)
{
	CURL	*e;

	if ((e = curl_easy_init()) == NULL)
		return -1;
	r->easy = e;
	r->h = h;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, r->timeout_s);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, r->connect_timeout_s);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* TLS verification stays on: there is no option to turn it off. */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (r->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
	/*
	 * On a reused connection that dies before any answer byte, libcurl
	 * silently sends the request again on a fresh one (Curl_retry_request,
	 * any method).  If the server had applied the first copy and then
	 * lost the connection, a POST lands twice.  Writes that are not
	 * naturally repeatable therefore get a connection of their own, so
	 * every resend is ours and goes through reconciliation.
	 */
	if (r->fresh) {
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		/* ...and closes it after, not to crowd the reusable ones. */
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "callsync/0.1");
	if (strcmp(r->method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	}
	r->started_ms = http_now_ms();
	if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		r->easy = NULL;
		return -1;
	}
	h->active++;
	r->prev = NULL;
	r->next = h->head;
	if (h->head != NULL)
		h->head->prev = r;
	h->head = r;
	return 0;
}

int
http_active(const struct http *h)
{
	return h->active;
}

/* Reap finished transfers; never reuse a CURLMsg after removing it. */
static void
http_check_done(struct http *h)
{
	CURLMsg		*m;
	int		 left;
	struct http_req	*r;
	CURL		*e;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		e = m->easy_handle;
		r = NULL;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
		r->cc = m->data.result;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
		curl_multi_remove_handle(h->multi, e);
		curl_easy_cleanup(e);
		r->easy = NULL;
		r->duration_ms = http_now_ms() - r->started_ms;
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
