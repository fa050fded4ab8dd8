/*
 * httpd: the worker's local HTTP API on [worker] listen (libevent's
 * evhttp on the engine's event_base, so it runs in the one loop and
 * reads the engine's state without locks).  It answers GET /livez,
 * GET /healthz, GET /metrics (Prometheus text format 0.0.4) and GET /ui
 * itself, and what other modules route to it (httpd_route: the caller
 * context GET /v1/context and GET /v1/articles, context.c; the task
 * API /v1/tasks, tasks.c); nothing else: 404 for any other path, 405
 * for a method a route does not take.
 *
 * Authentication (docs/contract.md section 5): a loopback listen needs none; any
 * other address is refused unless [worker] listen_token_file names a
 * 0600 file.  With a token configured, every path but /livez wants
 * "Authorization: Bearer <token>", compared in constant time; anything
 * else is a 401 that echoes nothing.  The token is never logged.
 *
 * Answers carry counts, states and names of workspaces, and the caller
 * context of the one workspace asked for; never a token, a payload or a
 * record key.  Requests are bounded (headers, no body), as are
 * concurrent client connections and their idle time.
 */
#ifndef CALLSYNC_HTTPD_H
#define CALLSYNC_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct rt;
struct httpd;
struct evhttp_request;

/*
 * Serve on listen ("host:port" or "[v6]:port") for e (borrowed: it must
 * outlive the server).  A non-loopback address is refused unless e's
 * configuration holds a listen token.  New server, or NULL with err
 * saying why.
 */
struct httpd	*httpd_new(struct rt *e, const char *listen, char *err,
		    size_t errsz);
/*
 * The route table.  A handler answers req itself; path is the request's
 * (under a prefix route, what follows the prefix is the handler's to
 * judge).  The modules of the local API register here (context.c,
 * tasks.c) and the server knows none of them: it checks the token,
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
/* Answer req with o (stolen) as JSON. */
void		 httpd_reply_json(struct evhttp_request *, int code,
		    const char *reason, json_t *o);
/* Close the listener and every client connection; NULL-safe. */
void		 httpd_free(struct httpd *);

#endif
