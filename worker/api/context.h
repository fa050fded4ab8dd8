/*
 * context: GET /v1/context on the worker's local API (httpd.c routes it
 * here): who is calling, their conversations, open tickets and company,
 * answered within a deadline, live where Intercom answers in time and
 * from the cache (ctx_cache.c) for the rest.
 *
 * A request resolves the caller as the drain does (the same phone and
 * email normalisation, the identity map with its merge mappings, then
 * Intercom's contact search with the drain's multi-match rule), then
 * reads the four parts in parallel as interactive reads of the
 * workspace (ws_read: ahead of the drain, never an intent, never a
 * write to Intercom).  At the deadline whatever is missing comes from the
 * cache, marked; answers that land later still refresh the cache.  A
 * workspace whose breaker is open, or which is paused or still booting,
 * answers from the cache at once.  A contact that answers 410 or 404
 * (merged, deleted) is handled as the drain handles it: the merge is
 * recorded (contact_merge, the identity map) and the survivor read.
 *
 * With [worker] context_warm, the contexts of recent callers are read
 * in the background (warm-up, the engine's warm class: last, paced), so
 * that cached answers are fresh.
 */
#ifndef CALLSYNC_CONTEXT_H
#define CALLSYNC_CONTEXT_H

#include <event2/http.h>

struct rt;
struct ctx;

/* New context server for e (borrowed); NULL on ENOMEM. */
struct ctx	*ctx_new(struct rt *);
/* GET /v1/context: answers req now or by its deadline. */
void		 ctx_handle(struct ctx *, struct evhttp_request *);
/* GET /v1/articles: help-center search, cached for offline use. */
void		 ctx_articles(struct ctx *, struct evhttp_request *);
struct httpd;
/* Route GET /v1/context and GET /v1/articles of h to c; 0 or -1. */
int		 ctx_routes(struct ctx *, struct httpd *);
/*
 * The loop ended and the transfers were cancelled (http_free): answer
 * every waiting client from the cache and drop the requests.
 */
void		 ctx_shutdown(struct ctx *);
/* NULL-safe; after ctx_shutdown when the loop ran. */
void		 ctx_free(struct ctx *);

#endif
