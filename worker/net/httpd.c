/*
 * httpd: see httpd.h.
 *
 * libevent 2.1 has no connection limit for evhttp: each connection that
 * asks something is entered in a table of HTTPD_MAXCONN slots and leaves
 * it through its close callback; a connection that finds the table full
 * is answered 503 and closed.  Connections that never ask are closed by
 * the idle timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "clock.h"
#include "conf.h"
#include "fdlimit.h"
#include "httpd.h"
#include "log.h"

#define HTTPD_MAXCONN	16	/* concurrent client connections */
#define HTTPD_MAXROUTES	16	/* httpd_route: the local API's paths */
#define HTTPD_IDLE_S	10	/* a silent connection is closed */
#define HTTPD_MAXHDR	8192	/* request line and headers, bytes */
#define HTTPD_MAXBODY	1024	/* GETs have none; refuse big ones early */

struct route {
	const char		*path;
	bool			 prefix, get_only;
	httpd_fn		*fn;
	void			*arg;
};

struct httpd {
	struct conf *const	*conf;		/* borrowed: see httpd_new */
	struct route		 routes[HTTPD_MAXROUTES];
	size_t			 nroutes;
	struct evhttp		*http;
	struct evhttp_connection *conns[HTTPD_MAXCONN];
	/* accept() refused (EMFILE): the listener pauses, see accept_error_cb */
	struct evconnlistener	*lev;		/* evhttp's */
	struct event		*accept_ev;	/* resumes it */
	int64_t			 accept_err_ms;	/* last refusal, monotonic */
	char			 listen[64];
};

/*
 * The listener's error callback is given evhttp's argument (the struct
 * evhttp), not ours: the one httpd of the process is found here.
 */
static struct httpd	*accept_httpd;

/* ------------------------------------------------------------------ */
/* answers                                                              */

void
httpd_reply(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq	*oh = evhttp_request_get_output_headers(req);

	evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "Cache-Control", "no-store");
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, code, reason, body);
}

static void
reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(b, "%s\n", text);
	httpd_reply(req, code, reason, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

void
httpd_reply_json(struct evhttp_request *req, int code, const char *reason,
    json_t *o)
{
	struct evbuffer	*b;
	char		*txt;

	if (o == NULL || (txt = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	json_decref(o);
	if ((b = evbuffer_new()) == NULL) {
		free(txt);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(b, "%s\n", txt);
	free(txt);
	httpd_reply(req, code, reason, "application/json", b);
	evbuffer_free(b);
}

/* ------------------------------------------------------------------ */
/* accept() refused                                                     */

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd	*h = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(h->lev);
}

/*
 * accept() failed with something else than "try again": out of file
 * descriptors (EMFILE, ENFILE) above all, when clients hold more
 * connections than the limit leaves.  libevent would try again at once,
 * and the pending connection makes the listener readable at once: a busy
 * loop logging "Error from accept() call" each turn.  Instead the
 * listener pauses a second (clients wait in the kernel's backlog), and
 * one line a minute at most says why.  Deliveries are not touched: their
 * own sockets are back-pressure (fdlimit.h).
 */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct httpd	*h = accept_httpd;
	struct timeval	 tv = { 1, 0 };
	int		 err = EVUTIL_SOCKET_ERROR();
	int64_t		 now = clock_mono_ms();

	(void)arg;
	if (h == NULL || h->lev != lev)
		return;
	evconnlistener_disable(lev);
	evtimer_add(h->accept_ev, &tv);
	if (h->accept_err_ms != 0 && now - h->accept_err_ms < 60000)
		return;
	h->accept_err_ms = now;
	log_warnx("%s: cannot accept a connection on %s: %s (open-file limit "
	    "%ld); not accepting for a second at a time until it passes",
	    fdlimit_errno(err) ? "out of file descriptors" : "local API",
	    h->listen, strerror(err), fdlimit_soft());
}

/* ------------------------------------------------------------------ */
/* connections and dispatch                                             */

static void
conn_close_cb(struct evhttp_connection *c, void *arg)
{
	struct httpd	*h = arg;
	size_t		 i;

	for (i = 0; i < HTTPD_MAXCONN; i++)
		if (h->conns[i] == c)
			h->conns[i] = NULL;
}

/* Enter c in the table; false when it is full. */
static bool
conn_admit(struct httpd *h, struct evhttp_connection *c)
{
	size_t	 i, free_slot = HTTPD_MAXCONN;

	for (i = 0; i < HTTPD_MAXCONN; i++) {
		if (h->conns[i] == c)
			return true;
		if (h->conns[i] == NULL && free_slot == HTTPD_MAXCONN)
			free_slot = i;
	}
	if (free_slot == HTTPD_MAXCONN)
		return false;
	h->conns[free_slot] = c;
	evhttp_connection_set_closecb(c, conn_close_cb, h);
	return true;
}

/*
 * With a listen token, whether req carries it.  Constant time in the
 * token's length: every byte is compared whatever the first mismatch.
 */
static bool
authorized(struct httpd *h, struct evhttp_request *req)
{
	const char	*tok = (*h->conf)->listen_token;
	const char	*a;
	size_t		 i, n, m;
	unsigned char	 d;

	if (tok == NULL)
		return true;
	a = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return false;
	a += 7;
	n = strlen(tok);
	m = strlen(a);
	d = (unsigned char)(n != m);
	for (i = 0; i < n; i++)
		d |= (unsigned char)(tok[i] ^ (i < m ? a[i] : 0));
	return d == 0;
}

/* The route serving path, or NULL. */
static const struct route *
route_of(const struct httpd *h, const char *path)
{
	const struct route	*r;
	size_t			 i, n;

	if (path == NULL)
		return NULL;
	for (i = 0; i < h->nroutes; i++) {
		r = &h->routes[i];
		n = strlen(r->path);
		if (strcmp(path, r->path) == 0 || (r->prefix &&
		    strncmp(path, r->path, n) == 0 && path[n] == '/'))
			return r;
	}
	return NULL;
}

/* 404, naming what is served (from the route table). */
static void
not_found(const struct httpd *h, struct evhttp_request *req)
{
	char	 msg[512];
	size_t	 i, at;

	at = (size_t)snprintf(msg, sizeof(msg), "not found: this endpoint "
	    "serves");
	for (i = 0; i < h->nroutes && at < sizeof(msg); i++)
		at += (size_t)snprintf(msg + at, sizeof(msg) - at, "%s %s%s",
		    i == 0 ? "" : i + 1 == h->nroutes ? " and" : ",",
		    h->routes[i].path, h->routes[i].prefix ? "/..." : "");
	reply_text(req, HTTP_NOTFOUND, "Not Found", msg);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct httpd			*h = arg;
	struct evhttp_connection	*c = evhttp_request_get_connection(req);
	const struct evhttp_uri		*u = evhttp_request_get_evhttp_uri(req);
	const char			*path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type		 m = evhttp_request_get_command(req);
	const struct route		*r;

	if (c != NULL && !conn_admit(h, c)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		reply_text(req, 503, "Service Unavailable",
		    "too many connections");
		return;
	}
	/* /livez says only "the process runs": no token needed. */
	if ((path == NULL || strcmp(path, "/livez") != 0) &&
	    !authorized(h, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer");
		httpd_reply_json(req, 401, "Unauthorized", json_pack("{s:s,"
		    "s:s}", "error", "unauthorized", "message", "this "
		    "endpoint wants Authorization: Bearer <the token in "
		    "listen_token_file>"));
		return;
	}
	if ((r = route_of(h, path)) == NULL) {
		not_found(h, req);
		return;
	}
	if (r->get_only && m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed",
		    "method not allowed: GET only");
		return;
	}
	r->fn(r->arg, req, path);
}

int
httpd_route(struct httpd *h, const char *path, bool prefix, bool get_only,
    httpd_fn *fn, void *arg)
{
	struct route	*r;

	if (h->nroutes == HTTPD_MAXROUTES)
		return -1;
	r = &h->routes[h->nroutes++];
	r->path = path;
	r->prefix = prefix;
	r->get_only = get_only;
	r->fn = fn;
	r->arg = arg;
	return 0;
}

/* The server's own route: the process runs. */
static void
route_livez(void *arg, struct evhttp_request *req, const char *path)
{
	(void)arg;
	(void)path;
	reply_text(req, HTTP_OK, "OK", "ok");
}

struct httpd *
httpd_new(struct event_base *base, struct conf *const *conf,
    const char *listen, char *err, size_t errsz)
{
	struct httpd	*h;
	char		 host[256];
	const char	*colon, *hs = listen, *he;
	long		 port;
	char		*end;
	struct evhttp_bound_socket *bound;

	if (*listen == '[') {
		hs = listen + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':')
			goto out_syntax;
		colon = he + 1;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			goto out_syntax;
		he = colon;
	}
	if ((size_t)(he - hs) >= sizeof(host) || he == hs)
		goto out_syntax;
	memcpy(host, hs, he - hs);
	host[he - hs] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		goto out_syntax;
	if ((*conf)->listen_token == NULL && !conf_is_loopback(host)) {
		snprintf(err, errsz, "listen = %s: %s is not a loopback "
		    "address: set listen_token_file (a mode 0600 file holding "
		    "the bearer token clients send) to serve other hosts",
		    listen, host);
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	h->conf = conf;
	(void)httpd_route(h, "/livez", false, true, route_livez, h);
	if ((h->http = evhttp_new(base)) == NULL) {
		snprintf(err, errsz, "listen = %s: cannot make the HTTP "
		    "server", listen);
		goto out_free;
	}
	evhttp_set_max_headers_size(h->http, HTTPD_MAXHDR);
	evhttp_set_max_body_size(h->http, HTTPD_MAXBODY);
	evhttp_set_timeout(h->http, HTTPD_IDLE_S);
	/* Every method reaches request_cb, which answers 405 itself. */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(h->http, request_cb, h);
	if ((bound = evhttp_bind_socket_with_handle(h->http, host,
	    (ev_uint16_t)port)) == NULL) {
		snprintf(err, errsz, "listen = %s: cannot listen: %s", listen,
		    strerror(errno));
		goto out_free;
	}
	snprintf(h->listen, sizeof(h->listen), "%s", listen);
	if ((h->lev = evhttp_bound_socket_get_listener(bound)) != NULL &&
	    (h->accept_ev = evtimer_new(base, accept_resume_cb,
	    h)) != NULL) {
		evconnlistener_set_error_cb(h->lev, accept_error_cb);
		accept_httpd = h;
	}
	return h;
out_syntax:
	snprintf(err, errsz, "listen = %s: expected host:port", listen);
	return NULL;
out_free:
	httpd_free(h);
	return NULL;
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	if (accept_httpd == h)
		accept_httpd = NULL;
	if (h->accept_ev != NULL)
		event_free(h->accept_ev);
	if (h->http != NULL)
		evhttp_free(h->http);	/* calls conn_close_cb: h still valid */
	free(h);
}
