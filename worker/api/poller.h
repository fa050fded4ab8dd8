/*
 * poller: Intercom's changes read by the worker itself (functions poll_*;
 * the file is not poll.h, which would shadow the system's <poll.h> under
 * -Iworker), into the same inbox as the webhooks (inbox.h; issue 22
 * item 3).  For a site Intercom
 * cannot reach (behind NAT: no webhook_listen), and to heal what webhooks
 * missed (a receiver down, an endpoint Intercom paused), both ways at
 * once.
 *
 * What is read.  Per workspace with poll_share > 0, a round reads the
 * conversations (POST /conversations/search) and then the contacts
 * (POST /contacts/search) updated since the kind's watermark, newest
 * first (sort updated_at descending), 150 a page, the next page by
 * pagination.starting_after in the body (INTERCOM-API.md 3.1, 4.6,
 * 11.6).  Reading newest first lets the round stop at the first object
 * older than it needs, whatever the query's lower bound matched: the
 * query asks for updated_at > (watermark - search_lag - 1 day), because
 * Intercom truncates a contact's dates to the day in the workspace's
 * timezone ("> means from the start of the next day"), and describes a
 * conversation's ">" as "greater (or equal)"; the day costs nothing, the
 * round stops at watermark - search_lag.  The contacts' search documents
 * sort (contact_search_request, "sorting uses the full value"); the 2.16
 * search_request of conversations has no sort, so the order is checked:
 * a kind stops early only once its answers were seen newest first (an
 * object older than the one before it in one answer, none newer: across
 * pages, writes made meanwhile shift the cursor); until then, and for
 * good once an object newer than the one before it shows the sort
 * ignored (said once), every page of the range is read.  A round
 * starts at most every POLL_ROUND_MS.
 *
 * The overlap.  Intercom's search lags writes by up to minutes (contacts:
 * "a few minutes"): an object updated before the watermark may become
 * searchable after the round that moved it.  Each round therefore reads
 * again search_lag seconds behind the watermark; what it read before is
 * a duplicate (below) and changes nothing.
 *
 * One event, one entry.  Each object read becomes a notification with
 * the object as data.item, topic "poll.conversation" or "poll.contact"
 * (ours: Intercom sends no such topic), via "poll", and a deterministic id
 * "poll:" + its event key (inbox_event_key: type, id, updated_at and a
 * hash of what the rules read, so that two states of one object in one
 * second are two events).  A search's items carry no conversation parts:
 * an admin note asking for a call (callback_note) comes by webhook only.  It goes through inbox_store
 * like a webhook, so the rules read the item's state the same way.  A
 * re-read is a duplicate by id; a webhook of a state polling stored, and
 * a poll of a state a webhook stored, are duplicates by event key; the
 * task's dedupe key (rule, object, the tag's applied_at or the event that
 * turned the attribute on) never names the notification, so a request
 * reported both ways is one task even where the states differ (the
 * webhook's item and a later read of the object).
 *
 * The watermark (table poll_watermark, per workspace and kind) is the
 * newest updated_at read, moved in the transaction of the kind's last
 * page, after the entries of every page are committed (each page is one
 * transaction, like a webhook's).  A round cut short (a failure, a
 * restart) leaves it where it was, and the next round reads the same
 * range again: the duplicates are harmless.  A workspace polled for the
 * first time starts from now: history is not turned into tasks.
 *
 * The budget.  Polling sends at most poll_share percent of the window's
 * budget the limiter knows (Intercom's X-RateLimit-Limit per 10 s, or
 * rate_limit), evenly: one request every 10 s / (budget x share / 100).
 * Its requests go through the engine's read queue (ws_read with poll
 * set): ahead of the drain's queue but charged to the same limiter, so
 * the drain yields exactly what polling takes and no more, and they wait
 * out a 429 like every request.  A failed request (outage, 429, 5xx, a
 * malformed answer, a database that will not commit) abandons the round
 * and tries again after a backoff (1 s doubling to 60 s): there is no
 * attempt count and no dead letter here, the next round simply reads the
 * range again.  One line says polling fails, one that it works again.
 *
 * Phones: a conversation's task names its contact; the webhook module's
 * phone fill-in (webhook.c) reads the phone, and runs without a
 * webhook_listen when a workspace polls.
 */
#ifndef CALLSYNC_POLLER_H
#define CALLSYNC_POLLER_H

struct rt;
struct evbuffer;
struct poll;

#define POLL_ROUND_MS	2000	/* a round starts at most this often */
#define POLL_PER_PAGE	150	/* Intercom's largest page */

/* Polling for e's workspaces (each one's poll_share, as reloaded); NULL
 * on ENOMEM.  Also starts the phone fill-in (webhook_new without a
 * listener) when a workspace polls and no receiver runs. */
struct poll	*poll_new(struct rt *e);
void		 poll_free(struct poll *);
/* The callsync_poll_* lines of /metrics (zeros when poll_new made none). */
void		 poll_metrics(struct rt *e, struct evbuffer *b);

#endif
