/*
 * ident: the local contact identity map, merge mappings, known duplicates
 * and the tag cache (all SQL; no network).
 *
 * The map answers "who is +15551234567 in workspace acme" without asking
 * Intercom, which matters because Intercom's search lags creates by
 * minutes: a contact the worker created is known here at once.
 */
#ifndef CALLSYNC_IDENT_H
#define CALLSYNC_IDENT_H

#include "db.h"

/* kind: "phone", "email" or "external_id". */
struct ident_hit {
	char	 contact_id[64];
	char	 role[16];
	char	 source[32];
};

/* 1 found (filled), 0 not found, -1 error.  Follows merge mappings. */
int	 ident_lookup(struct db *, const char *ws, const char *kind,
	    const char *value, struct ident_hit *);
/* Insert or update (kind, value) -> contact_id. */
int	 ident_learn(struct db *, const char *ws, const char *kind,
	    const char *value, const char *contact_id, const char *role,
	    const char *source);
/*
 * Record that from_id was merged into into_id (how: link_410, search_404,
 * merged_by_callsync, ...), and rewrite the identity map to into_id.
 */
int	 ident_merge(struct db *, const char *ws, const char *from_id,
	    const char *into_id, const char *how);
/*
 * Contact from answered 410 with link (its Link header, may be NULL).
 * When the link names the survivor: into[25] gets it, the merge is
 * recorded (ident_merge, how "link_410"), and 1 is returned, or -1 when
 * recording failed (into is still the survivor).  0 when the link names
 * none (deleted, or 2.15's merge without a Link): resolve again.  Every
 * reader that meets a merged contact (the drain, a context read) records
 * it this way, so the next one goes to the survivor.
 */
int	 ident_gone_link(struct db *, const char *ws, const char *from,
	    const char *link, char into[25]);
/* Follow merge mappings from id (up to 8 hops) into out; 1 if moved. */
int	 ident_follow(struct db *, const char *ws, const char *id, char *out,
	    size_t outsz);
/* Record contact_id as a known duplicate of winner_id for identity. */
int	 ident_duplicate(struct db *, const char *ws, const char *contact_id,
	    const char *winner_id, const char *identity);
/* Forget every identity pointing at a contact Intercom no longer has. */
int	 ident_forget(struct db *, const char *ws, const char *contact_id);
/* Tag cache: 1 found (tag_id filled), 0 not, -1 error. */
int	 ident_tag_get(struct db *, const char *ws, const char *name,
	    char *tag_id, size_t sz);
int	 ident_tag_put(struct db *, const char *ws, const char *name,
	    const char *tag_id);
/* Drop name from the tag cache (its id answered 404: the tag was deleted). */
int	 ident_tag_forget(struct db *, const char *ws, const char *name);

#endif
