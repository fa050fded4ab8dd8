/*
 * ident: see ident.h.  Names are compared case-insensitively for tags
 * (Intercom's tag names are), exactly for identities (already normalised).
 *
 * A lookup tells "not found" from "could not look": an SQLite error or
 * an out-of-memory column is -1, never an empty answer, because an empty
 * answer leads the caller to create a contact or a tag that exists.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ident.h"
#include "intercom.h"
#include "lastcall.h"
#include "log.h"

/*
 * Step st, expecting at most one row: 1 with the text of column 0 copied
 * into out, 0 on no row, -1 on error (logged).  Resets st.
 */
static int
ident_one(struct db *d, sqlite3_stmt *st, char *out, size_t outsz)
{
	const char	*s;
	int		 rc;

	if ((rc = sqlite3_step(st)) == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW)
		goto fail;
	/* Columns read here are NOT NULL: NULL means out of memory. */
	if ((s = (const char *)sqlite3_column_text(st, 0)) == NULL)
		goto fail;
	snprintf(out, outsz, "%s", s);
	return 1;	/* not reset: the caller may read more columns */
fail:
	log_warnx("%s: %s: %s", d->path, db_errmsg(d), sqlite3_sql(st));
	sqlite3_reset(st);
	return -1;
}

int
ident_follow(struct db *d, const char *ws, const char *id, char *out,
    size_t outsz)
{
	sqlite3_stmt	*st;
	char		 cur[64];
	int		 hops, moved = 0, rc;

	snprintf(cur, sizeof(cur), "%s", id);
	for (hops = 0; hops < 8; hops++) {
		st = db_prep(d, "SELECT into_id FROM contact_merge "
		    "WHERE workspace = ? AND from_id = ?");
		if (st == NULL)
			return -1;
		if (db_bind_text(st, 1, ws) == -1 ||
		    db_bind_text(st, 2, cur) == -1)
			return -1;
		rc = ident_one(d, st, cur, sizeof(cur));
		sqlite3_reset(st);
		if (rc == -1)
			return -1;
		if (rc == 0)
			break;
		moved = 1;
	}
	snprintf(out, outsz, "%s", cur);
	return moved;
}

int
ident_lookup(struct db *d, const char *ws, const char *kind,
    const char *value, struct ident_hit *h)
{
	sqlite3_stmt	*st;
	const char	*s;
	struct ident_hit hit;
	int		 rc;

	st = db_prep(d, "SELECT contact_id, role, source FROM contact_identity "
	    "WHERE workspace = ? AND kind = ? AND value = ?");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 || db_bind_text(st, 2, kind) == -1 ||
	    db_bind_text(st, 3, value) == -1)
		return -1;
	memset(&hit, 0, sizeof(hit));
	if ((rc = ident_one(d, st, hit.contact_id,
	    sizeof(hit.contact_id))) != 1)
		return rc;
	/* role and source may be NULL. */
	if ((s = (const char *)sqlite3_column_text(st, 1)) != NULL)
		snprintf(hit.role, sizeof(hit.role), "%s", s);
	if ((s = (const char *)sqlite3_column_text(st, 2)) != NULL)
		snprintf(hit.source, sizeof(hit.source), "%s", s);
	sqlite3_reset(st);
	if (ident_follow(d, ws, hit.contact_id, hit.contact_id,
	    sizeof(hit.contact_id)) == -1)
		return -1;
	*h = hit;	/* h is left untouched unless found */
	return 1;
}

int
ident_learn(struct db *d, const char *ws, const char *kind,
    const char *value, const char *contact_id, const char *role,
    const char *source)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "INSERT INTO contact_identity (workspace, kind, value, "
	    "contact_id, role, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT (workspace, kind, value) DO UPDATE SET "
	    "source = CASE WHEN contact_id = ?4 THEN source ELSE ?6 END, "
	    "contact_id = ?4, role = coalesce(?5, role), "
	    "updated_at = unixepoch()");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 || db_bind_text(st, 2, kind) == -1 ||
	    db_bind_text(st, 3, value) == -1 ||
	    db_bind_text(st, 4, contact_id) == -1 ||
	    db_bind_text(st, 5, role) == -1 ||
	    db_bind_text(st, 6, source) == -1)
		return -1;
	return db_step_done(d, st);
}

int
ident_merge(struct db *d, const char *ws, const char *from_id,
    const char *into_id, const char *how)
{
	sqlite3_stmt	*st;

	if (strcmp(from_id, into_id) == 0)
		return 0;
	if (db_begin(d) == -1)
		return -1;
	st = db_prep(d, "INSERT INTO contact_merge (workspace, from_id, "
	    "into_id, how) VALUES (?, ?, ?, ?) ON CONFLICT (workspace, from_id) "
	    "DO UPDATE SET into_id = excluded.into_id, how = excluded.how");
	if (st == NULL)
		goto fail;
	if (db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, from_id) == -1 ||
	    db_bind_text(st, 3, into_id) == -1 ||
	    db_bind_text(st, 4, how) == -1 || db_step_done(d, st) == -1)
		goto fail;
	/* The survivor of a merge is a user (2.16 merges a lead into a
	 * user): a cached "lead" would now be a from.type Intercom may
	 * refuse.  A contact re-resolved after a 404 (search_404) is not a
	 * merge survivor: its role is not known from this. */
	st = db_prep(d, "UPDATE contact_identity SET contact_id = ?1, "
	    "source = 'merge', updated_at = unixepoch(), "
	    "role = CASE WHEN ?4 THEN 'user' ELSE role END "
	    "WHERE workspace = ?2 AND contact_id = ?3");
	if (st == NULL)
		goto fail;
	if (db_bind_text(st, 1, into_id) == -1 ||
	    db_bind_text(st, 2, ws) == -1 ||
	    db_bind_text(st, 3, from_id) == -1 ||
	    sqlite3_bind_int(st, 4, strcmp(how, "search_404") != 0) !=
	    SQLITE_OK || db_step_done(d, st) == -1)
		goto fail;
	/* The survivor keeps the newest call written to either contact. */
	if (lastcall_follow_merge(d, ws, from_id, into_id) == -1)
		goto fail;
	return db_commit(d);
fail:
	db_rollback(d);
	return -1;
}

int
ident_gone_link(struct db *d, const char *ws, const char *from,
    const char *link, char into[25])
{
	if (ic_link_contact(link, into) == -1) {
		into[0] = '\0';
		return 0;
	}
	return ident_merge(d, ws, from, into, "link_410") == -1 ? -1 : 1;
}

int
ident_duplicate(struct db *d, const char *ws, const char *contact_id,
    const char *winner_id, const char *identity)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "INSERT OR IGNORE INTO contact_duplicate (workspace, "
	    "contact_id, winner_id, identity) VALUES (?, ?, ?, ?)");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, contact_id) == -1 ||
	    db_bind_text(st, 3, winner_id) == -1 ||
	    db_bind_text(st, 4, identity) == -1)
		return -1;
	return db_step_done(d, st);
}

static void
lower_copy(const char *in, char *out, size_t sz)
{
	size_t	 i;

	for (i = 0; in[i] != '\0' && i + 1 < sz; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

int
ident_tag_get(struct db *d, const char *ws, const char *name, char *tag_id,
    size_t sz)
{
	sqlite3_stmt	*st;
	char		 low[256];
	int		 rc;

	lower_copy(name, low, sizeof(low));
	st = db_prep(d, "SELECT tag_id FROM tag_cache WHERE workspace = ? "
	    "AND name_lower = ?");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 || db_bind_text(st, 2, low) == -1)
		return -1;
	rc = ident_one(d, st, tag_id, sz);
	sqlite3_reset(st);
	return rc;
}

int
ident_tag_put(struct db *d, const char *ws, const char *name,
    const char *tag_id)
{
	sqlite3_stmt	*st;
	char		 low[256];

	lower_copy(name, low, sizeof(low));
	st = db_prep(d, "INSERT OR REPLACE INTO tag_cache (workspace, "
	    "name_lower, tag_id, name) VALUES (?, ?, ?, ?)");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 || db_bind_text(st, 2, low) == -1 ||
	    db_bind_text(st, 3, tag_id) == -1 ||
	    db_bind_text(st, 4, name) == -1)
		return -1;
	return db_step_done(d, st);
}

int
ident_tag_forget(struct db *d, const char *ws, const char *name)
{
	sqlite3_stmt	*st;
	char		 low[256];

	lower_copy(name, low, sizeof(low));
	st = db_prep(d, "DELETE FROM tag_cache WHERE workspace = ? "
	    "AND name_lower = ?");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 || db_bind_text(st, 2, low) == -1)
		return -1;
	return db_step_done(d, st);
}

int
ident_forget(struct db *d, const char *ws, const char *contact_id)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "DELETE FROM contact_identity WHERE workspace = ? "
	    "AND contact_id = ?");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, contact_id) == -1)
		return -1;
	return db_step_done(d, st);
}
