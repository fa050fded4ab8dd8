/*
 * webhook: Intercom's notifications in, on [worker] webhook_listen (its
 * own evhttp listener on the engine's event_base; docs/contract.md
 * section 6).  Only POST /v1/intercom/webhook is served there (HEAD on
 * it answers 200, anything else 404); a notification is checked in this
 * order: 413 over INBOX_MAX_BODY, 400 not a notification, 404 an app no
 * workspace is (GET /me's app.id_code, remembered in workspace_app), 401
 * a missing or wrong X-Hub-Signature (HMAC-SHA1 of the raw body with the
 * workspace's webhook_secret_file: one secret, or two during a
 * rotation), 429 when receiving has used its share of the loop in the
 * last second (back-pressure: Intercom delays and retries; the outbound
 * drain keeps the rest), then 200 once the notification and the tasks it
 * makes are committed (a duplicate id: 200, nothing changes).
 */
#ifndef CALLSYNC_WEBHOOK_H
#define CALLSYNC_WEBHOOK_H

#include <stddef.h>

struct rt;
struct evbuffer;
struct webhook;
struct wsrt;

#define WEBHOOK_PATH	"/v1/intercom/webhook"

/* Serve on listen for e; NULL with err saying why.  listen NULL: no
 * receiver, only the phone fill-in (a site that polls, poller.h). */
struct webhook	*webhook_new(struct rt *e, const char *listen, char *err,
		    size_t errsz);
void		 webhook_free(struct webhook *);
/* The process's one, made by webhook_new (the receiver at start, or the
 * fill-in polling starts) until webhook_free; NULL: none. */
struct webhook	*webhook_one(void);
/* Tasks were made elsewhere (polling): look for phones to read. */
void		 webhook_tasks_made(struct rt *);
/* Workspaces a SIGHUP added (appended to e->ws): received from now on,
 * their secrets read.  0, or -1 when out of memory (they stay refused). */
int		 webhook_grow(struct webhook *);
/* GET /me named ws's app: remember it (workspace_app). */
void		 webhook_note_app(struct rt *, struct wsrt *);
/* The callsync_webhook_*, callsync_inbox_* and callsync_tasks_* lines
 * of /metrics; without a webhook_one, zeros (the task gauges still). */
void		 webhook_metrics(struct rt *, struct evbuffer *);

#endif
