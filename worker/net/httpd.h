/*
 * httpd: the worker's local HTTP server on [worker] listen (libevent's
 * evhttp on the engine's event_base, so its handlers run in the one loop
 * and read the engine's state without locks).  It answers GET /livez
 * itself and serves a route table the local API's modules register into
 * (httpd_route: /healthz, /metrics and /ui, metrics.c; the caller
 * context GET /v1/context and GET /v1/articles, context.c; the task API
 * /v1/tasks, tasks.c); it knows none of them: 404 for any other path,
 * 405 for a method a route does not take.
 *
 * Authentication (docs/contract.md section 5): a loopback listen needs none; any
 * other address is refused unless [worker] listen_token_file names a
 * 0600 file.  With a token configured, every path but /livez wants
 * "Authorization: Bearer <token>", compared in constant time; anything
 * else is a 401 that echoes nothing.  The token is never logged.
 *
 * Requests are bounded (headers, no body), as are concurrent client
 * connections and their idle time.
 */
#ifndef CALLSYNC_HTTPD_H
#define CALLSYNC_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct conf;
struct event_base;
struct evbuffer;
struct httpd;
struct evhttp_request;

/*
 * Serve on listen ("host:port" or "[v6]:port") in base.  conf (borrowed:
 * it must outlive the server) is where the configuration in force is:
 * a reload replaces *conf, and each request is checked against the
 * listen token *conf holds then.  A non-loopback address is refused
 * unless it holds one.  New server, or NULL with err saying why.
 */
struct httpd	*httpd_new(struct event_base *base, struct conf *const *conf,
		    const char *listen, char *err, size_t errsz);
/*
 * The route table.  A handler answers req itself; path is the request's
 * (under a prefix route, what follows the prefix is the handler's to
 * judge).  The modules of the local API register here (metrics.c,
 * context.c, tasks.c) and the server knows none of them: it checks the token,
 * finds the route, refuses a method the route does not take (405), and
 * lists the routes in its 404.
 */
typedef void	 httpd_fn(void *arg, struct evhttp_request *req,
		    const char *path);
/*
 * Route path to fn with arg (borrowed: it must outlive the server):
 * the path alone, or with prefix true every path under it too (path
 * "/v1/tasks" serves "/v1/tasks/..." as well).  get_only: other methods
 * than GET and HEAD answer 405 before fn is called.  0, or -1 when the
 * table is full (HTTPD_MAXROUTES).
 */
int		 httpd_route(struct httpd *, const char *path, bool prefix,
		    bool get_only, httpd_fn *fn, void *arg);
/*
 * Answer req with body (borrowed; drained) as ctype, never cached, never
 * sniffed.
 */
void		 httpd_reply(struct evhttp_request *, int code,
		    const char *reason, const char *ctype, struct evbuffer *body);
/* Answer req with o (stolen) as JSON. */
void		 httpd_reply_json(struct evhttp_request *, int code,
		    const char *reason, json_t *o);
/* Close the listener and every client connection; NULL-safe. */
void		 httpd_free(struct httpd *);

#endif
