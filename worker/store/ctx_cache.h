/*
 * ctx_cache: the caller context without the network.  What a context
 * answer is made of (a contact, its conversations, open tickets and
 * company: four "parts"), how Intercom's answers are shaped into parts
 * (pure functions), how parts are kept in SQLite (migration 0006) and
 * how the answer JSON is built from parts, live or cached.
 *
 * The worker (context.c) and the tool (callsync context) share all of
 * it, so an answer from the cache reads the same whoever serves it.
 * Caller resolution without the network is the worker's own: the
 * identity map and its merge mappings (ident.c) first, then the phone
 * and email lookups the last live reads left here.
 */
#ifndef CALLSYNC_CTX_CACHE_H
#define CALLSYNC_CTX_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

#include "conf.h"
#include "db.h"

enum ctx_part {
	CTX_CONTACT,
	CTX_CONVERSATIONS,
	CTX_TICKETS,
	CTX_COMPANY,
	CTX_NPARTS
};
extern const char *const ctx_part_names[CTX_NPARTS];

/* The parts of one caller's context, each live, cached or missing. */
struct ctx_parts {
	json_t	*v[CTX_NPARTS];		/* shaped part (new ref); NULL: none */
	int64_t	 at[CTX_NPARTS];	/* unix s it was read; 0: never */
	bool	 live[CTX_NPARTS];	/* read from Intercom for this answer */
};

/* Drop every part (decref) and zero p. */
void	 ctx_parts_clear(struct ctx_parts *);

/*
 * Shaping Intercom 2.16 answers into parts: pure, new references, NULL
 * when the answer is not usable.  c: GET /contacts/{id}; the answer shows
 * callsync's own attributes (last_call_*), allowed_attributes and
 * context_attributes of cw.  list: POST /conversations/search, open ones
 * first, at most n, each with a teammate link when app_id is known.
 * POST /tickets/search: open tickets only.  GET /contacts/{id}/companies
 * (its array as "companies" or "data"): the first company, or JSON null when the contact has none.
 */
json_t	*ctx_shape_contact(json_t *c, const struct conf_ws *cw);
json_t	*ctx_shape_conversations(json_t *answer, const char *app_id, int n);
json_t	*ctx_shape_tickets(json_t *answer);
json_t	*ctx_shape_company(json_t *answer, const struct conf_ws *cw);
/* The snippet of a conversation (borrowed; GET /conversations/{id}
 * carries its parts): its last part with text, else its first message. */
void	 ctx_conv_snippet(json_t *conv, char *out, size_t outsz);
/* Plain text of an HTML body into out (tags stripped, the usual entities
 * decoded, blanks collapsed), cut at a UTF-8 boundary; its length. */
size_t	 ctx_plain_text(const char *html, char *out, size_t outsz);
/* The teammate's link to conversation id into buf; "" without app_id. */
const char *ctx_conv_link(const char *app_id, const char *id, char *buf,
	    size_t bufsz);

/*
 * The answer of GET /v1/context: {workspace, contact, conversations,
 * tickets, company, source, sources, as_of, stale}.  contact_id NULL: an
 * unknown caller.  stale when a part is cached and older than ttl
 * seconds, or missing.  New reference.
 */
json_t	*ctx_answer(const char *ws, const char *contact_id,
	    const struct ctx_parts *, bool any_live, int64_t now, time_t ttl);

/* The cache (migration 0006).  1 found (learned at or after min_at,
 * merge mappings followed), 0 not, -1 error.  unlearn: forget every
 * lookup that found id (Intercom no longer has it). */
int	 ctx_cache_lookup(struct db *, const char *ws, const char *kind,
	    const char *value, int64_t min_at, char *id, size_t idsz);
int	 ctx_cache_learn(struct db *, const char *ws, const char *kind,
	    const char *value, const char *id, int64_t now);
int	 ctx_cache_unlearn(struct db *, const char *ws, const char *id);
/* Fill the parts cached for id no older than min_at; 1 if a row. */
int	 ctx_cache_get(struct db *, const char *ws, const char *id,
	    int64_t min_at, struct ctx_parts *);
/* Store p's live parts for id (the others keep their cached value). */
int	 ctx_cache_put(struct db *, const char *ws, const char *id,
	    const struct ctx_parts *);
/*
 * The worker's own write: a conversation it created for contact_id is in
 * the caller's context at once (open, first), summary as its snippet.
 */
int	 ctx_cache_own_conversation(struct db *, const char *ws,
	    const char *app_id, const char *contact_id, const char *conv_id,
	    const char *summary, int64_t created);
/*
 * Warm-up (context.c): the distinct contacts of the last ncalls delivered
 * records of ws, newest first, at most max into ids; their number or
 * -1.  warm_due: 1 when id is a caller the identity map still holds
 * (not merged away, not forgotten) whose cached context is missing or
 * has a part read before min_at; 0 or -1.
 */
int	 ctx_cache_recent(struct db *, const char *ws, int ncalls,
	    char (*ids)[64], int max);
int	 ctx_cache_warm_due(struct db *, const char *ws, const char *id,
	    int64_t min_at);
/* Delete entries changed before before (unix s); rows deleted or -1. */
int64_t	 ctx_cache_prune(struct db *, int64_t before);
/* Rows and bytes of JSON held; -1 on error. */
int	 ctx_cache_size(struct db *, int64_t *rows, int64_t *bytes);

/*
 * Resolve a caller without the network: the identity map (following
 * merges), then the cache's lookups; how says which ("map", "cache").
 * phone and email are normalised ("" when absent).  1, 0 or -1.
 */
int	 ctx_resolve_local(struct db *, const char *ws, const char *phone,
	    const char *email, char *id, size_t idsz, const char **how);
/*
 * The whole answer from the cache alone (outage, pause, the tool).
 * New reference, or NULL on a database error.
 */
json_t	*ctx_from_cache(struct db *, const char *ws, const char *phone,
	    const char *email, int64_t now, time_t ttl, time_t max_age);

/*
 * Help-center articles (GET /v1/articles).  shape: GET /articles/search's
 * answer into [{id, title, description, url, snippet}], new reference or
 * NULL.  The cache is keyed by the trimmed, lower-cased phrase (key);
 * get: 1 and *articles (new) and *at when a row no older than min_at.
 */
json_t	*ctx_shape_articles(json_t *answer);
void	 ctx_article_key(const char *q, char *key, size_t keysz);
int	 ctx_article_get(struct db *, const char *ws, const char *key,
	    int64_t min_at, json_t **articles, int64_t *at);
int	 ctx_article_put(struct db *, const char *ws, const char *key,
	    json_t *articles);

/*
 * Normalise a query's phone and email with the workspace's rules (the
 * drain's phone_normalize / email_normalize); -1 with why.
 */
int	 ctx_normalize(const struct conf_ws *, const char *phone,
	    const char *email, char *ophone, size_t ophonesz, char *oemail,
	    size_t oemailsz, char *why, size_t whysz);

#endif
