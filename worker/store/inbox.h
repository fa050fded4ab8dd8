/*
 * inbox: Intercom's notifications in, call tasks out (docs/contract.md
 * section 6).  Everything here works on a struct db inside the caller's
 * transaction, so that the webhook receiver (webhook.c) commits a
 * notification and the tasks it makes in one go, and the unit tests
 * (t_inbox.c, t_hmac.c, t_rules.c) drive it without a loop.
 *
 * A notification is stored once per workspace and Intercom id (table
 * inbox); a second copy, however it came, changes nothing.  The rules
 * then read the item's state (not the topic): a conversation whose tags
 * hold callback_tag, a conversation whose team turns to callback_team, an
 * admin note (in the item's conversation_parts) holding callback_note, a
 * conversation or contact whose custom attribute callback_requested is
 * true.  Each object keeps a watermark, the newest
 * event applied (data.item.updated_at, else the notification's
 * created_at): an older event arriving later is "stale" and changes
 * nothing, so a stale event never reopens or remakes a task.  A task's
 * dedupe key names one request: the rule, the object and what triggered
 * it (the tag's applied_at; the event that turned the attribute from
 * not-true to true, or the team to callback_team; the note's part id),
 * unique per workspace.  Notes are looked at even in a stale event: a
 * note is a request of its own, whenever it is reported.
 *
 * Polling (poller.h) stores what it reads through inbox_store too, via
 * "poll", with the object as data.item and a deterministic id, "poll:"
 * and the event key (inbox_event_key: type, id, updated_at and a hash
 * of what the rules read).  The key is stored with every notification
 * about a conversation or contact, so that one event is one entry
 * whichever way it came first: a poll of a key stored before, and a
 * webhook of a key a poll stored, are duplicates.  Tasks never depended
 * on it: their dedupe key names the request, not the notification.
 */
#ifndef CALLSYNC_INBOX_H
#define CALLSYNC_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "conf.h"
#include "db.h"

#define INBOX_MAX_BODY		(1024 * 1024)	/* bytes accepted (413 over) */
#define INBOX_KEEP_S		(8 * 86400)	/* dedupe keys kept this long */
#define INBOX_MAX_SECRETS	2		/* a rotation: old and new */

/* A parsed notification; the strings point into root. */
struct inbox_note {
	json_t		*root;		/* owned */
	const char	*id, *topic, *app_id;
	const char	*item_type, *item_id;	/* NULL when absent */
	char		 item_id_buf[32];	/* a numeric id, as text */
	const json_t	*item;			/* data.item, or NULL */
	int64_t		 created_at, event_at;
};

/* Whether body is a notification (type notification_event, id, topic,
 * app_id, created_at, data object); 0 and n filled, or -1 with why. */
int	 inbox_parse(const char *body, size_t len, struct inbox_note *n,
	    char *why, size_t whysz);
void	 inbox_note_free(struct inbox_note *);

/*
 * Whether hdr ("sha1=<40 hex>") is the HMAC-SHA1 of body keyed with one
 * of the nsec secrets; constant time in the digest (CRYPTO_memcmp).
 */
bool	 inbox_sig_ok(const char *const *secrets, size_t nsec,
	    const char *hdr, const void *body, size_t len);
/* "sha1=<hex>" of body under secret, into out (at least 46 bytes). */
void	 inbox_sign(const char *secret, const void *body, size_t len,
	    char *out, size_t outsz);

/*
 * Read a secret file: one secret a line (at most INBOX_MAX_SECRETS,
 * blank lines skipped, trimmed), mode 0600 or stricter.  Returns the
 * count (>= 1) with out[] malloc'ed, or -1 with why (never a secret).
 */
int	 inbox_read_secrets(const char *path, char **out, size_t outn,
	    char *why, size_t whysz);

enum inbox_result {
	INBOX_NEW,		/* stored (and applied) */
	INBOX_DUP,		/* the id was stored before: nothing changed */
	INBOX_ERR		/* a database error: roll back */
};

#define INBOX_EVENT_KEY_MAX	190	/* "poll:" + key fits notif_id's 200 */

/*
 * The event key of n: "<item type>:<item id>:<event_at>:<hash>", the hash
 * over what the rules read (the tags with their applied_at, in any order,
 * custom_attributes.callback_requested, team_assignee_id and the ids of
 * the conversation parts the item carries), so that two states of one
 * object in the same second differ, and a webhook carrying a note (which
 * a search's items never do) is never a poll's duplicate.  false when n is not about a
 * conversation or contact (or the key does not fit bufsz).
 */
bool	 inbox_event_key(const struct inbox_note *n, char *buf, size_t bufsz);

/*
 * Store n for workspace ws (cw: its rules) and apply the rules, in the
 * caller's transaction.  via is "webhook" or "poll".  *ntasks (may be
 * NULL) gets the number of tasks made.  One event is one entry: besides
 * its id, n is a duplicate when it is a poll of an event key stored
 * before, or a webhook (not contact.merged) of an event key a poll
 * stored (poller.h).
 */
enum inbox_result inbox_store(struct db *, const struct conf_ws *cw,
	    const char *ws, const struct inbox_note *n, const char *via,
	    int64_t now, int *ntasks);

/* The workspace of app_id as stored by inbox_set_app, into ws; 0 or -1. */
int	 inbox_app_ws(struct db *, const char *app_id, char *ws, size_t wssz);
/* Remember that workspace ws is app app_id (GET /me); 0 or -1. */
int	 inbox_set_app(struct db *, const char *ws, const char *app_id);

/*
 * Polling's watermarks (table poll_watermark, 0015_poll.sql): per
 * workspace and kind ("conversation", "contact"), the newest updated_at
 * a round read and committed.  They live here, beside inbox_store,
 * because a round's last page stores its objects and moves its
 * watermark in one transaction, the caller's, as everything here.
 *
 * inbox_poll_marks: ws's watermarks into wm[i] for kinds[i] (i <
 * nkinds); a kind with no row keeps the wm[i] it had (the caller's
 * start).  0, or -1 on a database error (a step that failed is not
 * logged: the caller retries).
 */
int	 inbox_poll_marks(struct db *, const char *ws,
	    const char *const *kinds, int64_t *wm, size_t nkinds);
/* Move ws's watermark of kind to seen, never back; 0, or -1 (logged,
 * db_errmsg() says why). */
int	 inbox_poll_mark_save(struct db *, const char *ws, const char *kind,
	    int64_t seen);

/* Delete inbox rows received before cutoff (unix s), 500 per
 * transaction; the count, or -1. */
int64_t	 inbox_prune(struct db *, int64_t cutoff);

#endif
