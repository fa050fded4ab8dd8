/*
 * ui: GET /ui on the local API, a read-only status page in plain HTML.
 *
 * Server-side HTML, no script, no framework: each workspace's state
 * (delivering, idle, outage, paused and why, with what to do), its
 * records and rate limit; writes in doubt with the time until they
 * reconcile; dead letters grouped by workspace and reason with what to
 * do; records no running worker serves; recent deliveries; workers.  Every
 * value from the database or the configuration goes through ui_esc(), so
 * a payload, key, workspace or reason holding markup shows as text.  The
 * page refreshes itself (meta refresh) every UI_REFRESH_S seconds, and
 * metrics.c serves it with a Content-Security-Policy that forbids scripts
 * as a second line of defence.
 */
#ifndef CALLSYNC_UI_H
#define CALLSYNC_UI_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>

#include "metrics.h"
#include "rt.h"
#include "ops.h"

#define UI_REFRESH_S	5
#define UI_CSP		"default-src 'none'; style-src 'unsafe-inline'; " \
			"img-src 'none'; base-uri 'none'; form-action 'none'; " \
			"frame-ancestors 'none'"

/* s with &, <, >, " and ' as entities, appended to b. */
void	 ui_esc(struct evbuffer *b, const char *s);
/*
 * The page into b: e's workspaces (c[0..nc): the counts of its last
 * refresh, c[i] of e->ws[i]; past nc none),
 * workers w[0..nw) as ops_workers judged them, started (unix s) and
 * dbok (the counts could be read).  Database errors of its own queries
 * show in the page; it never fails.
 */
void	 ui_render(struct rt *e, const struct ws_counts *c, size_t nc,
	    const struct ops_worker *w, size_t nw, int64_t started, bool dbok,
	    struct evbuffer *b);

#endif
