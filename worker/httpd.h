/*
 * httpd: the worker's operations endpoint on [worker] listen (libevent's
 * evhttp on the engine's event_base, so it runs in the one loop and
 * reads the engine's state without locks).  It answers GET /livez,
 * GET /healthz and GET /metrics (Prometheus text format 0.0.4), nothing
 * else: 404 for any other path, 405 for any other method.
 *
 * Answers carry counts, states and names of workspaces, never a token,
 * a payload or a record key.  Requests are bounded (headers, no body),
 * as are concurrent client connections and their idle time.
 */
#ifndef CALLSYNC_HTTPD_H
#define CALLSYNC_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

struct engine;
struct httpd;

/*
 * Serve on listen ("host:port" or "[v6]:port") for e (borrowed: it must
 * outlive the server).  A non-loopback address is refused unless public
 * is true.  New server, or NULL with err saying why.
 */
struct httpd	*httpd_new(struct engine *e, const char *listen, bool public,
		    char *err, size_t errsz);
/* Close the listener and every client connection; NULL-safe. */
void		 httpd_free(struct httpd *);

#endif
