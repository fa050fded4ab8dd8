/*
 * ctx_cache: see ctx_cache.h.
 *
 * Parts are stored as the JSON the answer shows (already shaped), one
 * column per part with the time it was read, so a part that missed the
 * deadline is served from its last live read while the others are
 * fresh.  Everything shown is an allow-list: named fields of Intercom's
 * objects and the configured attribute names, never a whole object.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ctx_cache.h"
#include "ident.h"
#include "intercom.h"
#include "log.h"
#include "phone.h"

#define SNIPPET_MAX	200	/* bytes of a conversation's snippet */
#define LINK_FMT	"https://app.intercom.com/a/inbox/%s/inbox/conversation/%s"

const char *const ctx_part_names[CTX_NPARTS] = {
	"contact", "conversations", "tickets", "company"
};

/* The attributes callsync itself writes (docs/contract.md section 1, item 4). */
static const char *const own_attrs[] = {
	"last_call_at", "last_call_outcome", "last_call_escalated",
	"last_call_nps", NULL
};

void
ctx_parts_clear(struct ctx_parts *p)
{
	size_t	 i;

	for (i = 0; i < CTX_NPARTS; i++)
		json_decref(p->v[i]);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------------ */
/* shaping                                                              */

/* A borrowed string-or-null member as a new JSON value. */
static json_t *
str_or_null(json_t *o, const char *k)
{
	const char	*s = ic_str(o, k);

	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* Copy o[k] (scalars only) into dst under k. */
static void
copy_scalar(json_t *dst, json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	if (v != NULL && !json_is_object(v) && !json_is_array(v))
		json_object_set(dst, k, v);
}

json_t *
ctx_shape_contact(json_t *c, const struct conf_ws *cw)
{
	json_t		*o, *attrs, *ca, *tags, *t;
	size_t		 i;
	char		 id[64];

	if (!json_is_object(c) || ic_str(c, "id") == NULL)
		return NULL;
	ca = json_object_get(c, "custom_attributes");
	attrs = json_object();
	for (i = 0; own_attrs[i] != NULL; i++)
		copy_scalar(attrs, ca, own_attrs[i]);
	for (i = 0; cw != NULL && i < cw->nallowed_attributes; i++)
		copy_scalar(attrs, ca, cw->allowed_attributes[i]);
	for (i = 0; cw != NULL && i < cw->ncontext_attributes; i++)
		copy_scalar(attrs, ca, cw->context_attributes[i]);
	tags = json_array();
	json_array_foreach(json_object_get(json_object_get(c, "tags"),
	    "data"), i, t) {
		if (ic_str(t, "name") != NULL)
			json_array_append_new(tags, json_pack("{s:s*,s:s}",
			    "id", ic_id(t, "id", id, sizeof(id)), "name",
			    ic_str(t, "name")));
		else if (ic_id(t, "id", id, sizeof(id)) != NULL)
			json_array_append_new(tags, json_pack("{s:s,s:n}",
			    "id", id, "name"));
	}
	o = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "id", ic_str(c, "id"),
	    "role", str_or_null(c, "role"), "name", str_or_null(c, "name"),
	    "email", str_or_null(c, "email"), "phone", str_or_null(c, "phone"),
	    "tags", tags, "attributes", attrs);
	return o;
}

/*
 * Text into out: with html, tags become word breaks and the usual
 * entities are decoded; always, control characters and runs of blanks
 * become one space, and the cut falls on a UTF-8 boundary.
 */
static size_t
squeeze(const char *html, bool is_html, char *out, size_t outsz)
{
	static const struct { const char *e; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&#39;", '\'' }, { "&#x27;", '\'' },
		{ "&apos;", '\'' }, { "&nbsp;", ' ' }, { NULL, 0 }
	};
	const char	*p = html;
	size_t		 n = 0, k;
	bool		 space = true;	/* no leading blank */
	char		 c;

	if (outsz == 0)
		return 0;
	while (p != NULL && *p != '\0' && n + 1 < outsz) {
		if (!is_html)
			c = *p++;
		else if (*p == '<') {	/* a tag is a word break */
			if ((p = strchr(p, '>')) == NULL)
				break;
			p++;
			c = ' ';
		} else if (*p == '&') {
			for (k = 0; ents[k].e != NULL; k++)
				if (strncmp(p, ents[k].e, strlen(ents[k].e)) == 0)
					break;
			c = ents[k].e != NULL ? ents[k].c : '&';
			p += ents[k].e != NULL ? strlen(ents[k].e) : 1;
		} else
			c = *p++;
		if ((unsigned char)c < 0x20 || c == 0x7f || c == ' ') {
			if (!space)
				out[n++] = ' ';
			space = true;
			continue;
		}
		out[n++] = c;
		space = false;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	/* Never end inside a UTF-8 sequence. */
	if (n > 0 && (unsigned char)out[n - 1] >= 0x80) {
		k = n;
		while (k > 0 && ((unsigned char)out[k - 1] & 0xc0) == 0x80)
			k--;
		if (k > 0 && (unsigned char)out[k - 1] >= 0xc0) {
			unsigned char	 lead = (unsigned char)out[k - 1];
			size_t		 need = lead >= 0xf0 ? 4 : lead >= 0xe0 ?
			    3 : 2;

			if (n - (k - 1) < need)
				n = k - 1;
		}
	}
	out[n] = '\0';
	return n;
}

size_t
ctx_plain_text(const char *html, char *out, size_t outsz)
{
	return squeeze(html, true, out, outsz);
}

const char *
ctx_conv_link(const char *app_id, const char *id, char *buf, size_t bufsz)
{
	if (app_id == NULL || app_id[0] == '\0' || id == NULL)
		buf[0] = '\0';
	else
		snprintf(buf, bufsz, LINK_FMT, app_id, id);
	return buf;
}

/* The body of a conversation's last part with text, else its source. */
static const char *
conv_last_body(json_t *cv)
{
	json_t		*parts, *pt;
	const char	*b;
	size_t		 i;

	parts = json_object_get(json_object_get(cv, "conversation_parts"),
	    "conversation_parts");
	for (i = json_array_size(parts); i > 0; i--) {
		pt = json_array_get(parts, i - 1);
		if ((b = ic_str(pt, "body")) != NULL && b[0] != '\0')
			return b;
	}
	return ic_str(json_object_get(cv, "source"), "body");
}

/*
 * Cut a trailing reference line "[(transcript continued) ]ref KEY
 * csXXXXXXXXXXXXXXXX[nN]" (body.c writes it for reconciliation) off the
 * plain text t: a voice agent reads the snippet aloud.
 */
static void
strip_ref(char *t)
{
	size_t	 n = strlen(t), tok, i;
	char	*r;
	static const char cont[] = "(transcript continued) ";

	while (n > 0 && t[n - 1] == ' ')
		t[--n] = '\0';
	for (tok = n; tok > 0 && t[tok - 1] != ' '; tok--)
		continue;
	if (n - tok < 18 || strncmp(t + tok, "cs", 2) != 0)
		return;
	for (i = tok + 2; i < tok + 18; i++)
		if (!isxdigit((unsigned char)t[i]) ||
		    isupper((unsigned char)t[i]))
			return;
	if (i < n && (t[i] != 'n' || i + 1 == n))
		return;
	for (i++; i < n; i++)
		if (!isdigit((unsigned char)t[i]))
			return;
	/* The last "ref " before the token, at the start or after a blank. */
	for (r = t + tok; r > t; r--)
		if (strncmp(r - 1, "ref ", 4) == 0 && (r - 1 == t ||
		    r[-2] == ' '))
			break;
	if (r == t)
		return;
	r--;
	if ((size_t)(r - t) >= sizeof(cont) - 1 &&
	    strncmp(r - (sizeof(cont) - 1), cont, sizeof(cont) - 1) == 0)
		r -= sizeof(cont) - 1;
	while (r > t && r[-1] == ' ')
		r--;
	*r = '\0';
}

void
ctx_conv_snippet(json_t *conv, char *out, size_t outsz)
{
	const char	*b = conv_last_body(conv);
	char		*all;
	size_t		 n = b != NULL ? strlen(b) + 1 : 1;

	if (outsz > SNIPPET_MAX + 1)
		outsz = SNIPPET_MAX + 1;
	/* The whole text first: the marker is at its end. */
	if ((all = malloc(n)) == NULL) {
		ctx_plain_text(b, out, outsz);
		return;
	}
	ctx_plain_text(b, all, n);
	strip_ref(all);
	squeeze(all, false, out, outsz);
	free(all);
}

static json_t *
conv_shape(json_t *cv, const char *app_id)
{
	char		 id[64], snip[SNIPPET_MAX + 1], link[256], aid[32];
	json_t		*assignee = json_null();
	json_t		*upd = json_object_get(cv, "updated_at");

	if (ic_id(cv, "id", id, sizeof(id)) == NULL)
		return NULL;
	if (ic_id(cv, "admin_assignee_id", aid, sizeof(aid)) != NULL &&
	    strcmp(aid, "0") != 0)
		assignee = json_pack("{s:s,s:s}", "type", "admin", "id", aid);
	else if (ic_id(cv, "team_assignee_id", aid, sizeof(aid)) != NULL &&
	    strcmp(aid, "0") != 0)
		assignee = json_pack("{s:s,s:s}", "type", "team", "id", aid);
	ctx_conv_snippet(cv, snip, sizeof(snip));
	ctx_conv_link(app_id, id, link, sizeof(link));
	return json_pack("{s:s,s:o,s:I,s:o,s:s,s:o}", "id", id,
	    "state", str_or_null(cv, "state"), "updated_at",
	    (json_int_t)(json_is_integer(upd) ? json_integer_value(upd) : 0),
	    "assignee", assignee, "snippet", snip, "link",
	    link[0] ? json_string(link) : json_null());
}

json_t *
ctx_shape_conversations(json_t *answer, const char *app_id, int n)
{
	json_t	*list = json_object_get(answer, "conversations");
	json_t	*out, *cv, *s;
	size_t	 i;
	int	 pass;

	if (!json_is_array(list))
		return NULL;
	out = json_array();
	/* Open ones first, each group in the search's order (most recently
	 * updated first). */
	for (pass = 0; pass < 2; pass++)
		json_array_foreach(list, i, cv) {
			bool open = ic_str(cv, "state") != NULL &&
			    strcmp(ic_str(cv, "state"), "open") == 0;

			if ((int)json_array_size(out) >= n)
				break;
			if (open != (pass == 0))
				continue;
			if ((s = conv_shape(cv, app_id)) != NULL)
				json_array_append_new(out, s);
		}
	return out;
}

json_t *
ctx_shape_tickets(json_t *answer)
{
	json_t		*list = json_object_get(answer, "tickets");
	json_t		*out, *t, *st, *open;
	const char	*cat, *title;
	char		 id[64];
	size_t		 i;

	if (!json_is_array(list))
		return NULL;
	out = json_array();
	json_array_foreach(list, i, t) {
		st = json_object_get(t, "ticket_state");
		cat = ic_str(st, "category");
		open = json_object_get(t, "open");
		/* Open: Intercom's flag where given, else not resolved. */
		if (json_is_boolean(open) ? !json_is_true(open) :
		    (cat != NULL && strcmp(cat, "resolved") == 0))
			continue;
		if (ic_id(t, "id", id, sizeof(id)) == NULL)
			continue;
		title = ic_str(json_object_get(t, "ticket_attributes"),
		    "_default_title_");
		json_array_append_new(out, json_pack("{s:s,s:o,s:o,s:o,s:o}",
		    "id", id, "title", title ? json_string(title) : json_null(),
		    "type", str_or_null(json_object_get(t, "ticket_type"),
		    "name"), "state", cat ? json_string(cat) : json_null(),
		    "state_label", str_or_null(st, "internal_label")));
	}
	return out;
}

json_t *
ctx_shape_company(json_t *answer, const struct conf_ws *cw)
{
	json_t	*list = json_object_get(answer, "companies");
	json_t	*co, *attrs, *ca, *plan, *spend;
	size_t	 i;

	/* 2.16's schema names the array "companies", its example "data". */
	if (!json_is_array(list))
		list = json_object_get(answer, "data");
	if (!json_is_array(list))
		return NULL;
	if ((co = json_array_get(list, 0)) == NULL)
		return json_null();
	ca = json_object_get(co, "custom_attributes");
	attrs = json_object();
	for (i = 0; cw != NULL && i < cw->ncontext_company_attributes; i++)
		copy_scalar(attrs, ca, cw->context_company_attributes[i]);
	plan = json_object_get(co, "plan");
	spend = json_object_get(co, "monthly_spend");
	return json_pack("{s:o,s:o,s:o,s:o,s:o}", "id", str_or_null(co, "id"),
	    "name", str_or_null(co, "name"), "plan", json_is_object(plan) ?
	    str_or_null(plan, "name") : json_is_string(plan) ?
	    json_copy(plan) : json_null(), "monthly_spend",
	    json_is_number(spend) ? json_copy(spend) : json_null(),
	    "attributes", attrs);
}

/* ------------------------------------------------------------------ */
/* the answer                                                           */

static void
iso8601(int64_t t, char *buf, size_t bufsz)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL)
		buf[0] = '\0';
	else
		strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *
ctx_answer(const char *ws, const char *contact_id, const struct ctx_parts *p,
    bool any_live, int64_t now, time_t ttl)
{
	json_t		*o, *src;
	int64_t		 oldest = now;
	size_t		 i, nlive = 0;
	bool		 stale = false;
	char		 asof[32];
	const char	*s;

	src = json_object();
	for (i = 0; i < CTX_NPARTS; i++) {
		if (contact_id == NULL)
			s = any_live ? "live" : "cache";
		else if (p->live[i]) {
			s = "live";
			nlive++;
		} else if (p->v[i] != NULL) {
			s = "cache";
			if (now - p->at[i] > (int64_t)ttl)
				stale = true;
		} else {
			s = "none";
			stale = true;
		}
		if (contact_id != NULL && p->v[i] != NULL && p->at[i] < oldest)
			oldest = p->at[i];
		json_object_set_new(src, ctx_part_names[i], json_string(s));
	}
	if (contact_id == NULL && !any_live)
		stale = true;	/* nobody known offline: may be a new caller */
	iso8601(oldest, asof, sizeof(asof));
	o = json_pack("{s:s,s:o,s:o,s:o,s:o,s:s,s:o,s:s,s:b}",
	    "workspace", ws,
	    "contact", contact_id && p->v[CTX_CONTACT] ?
	    json_incref(p->v[CTX_CONTACT]) : contact_id ?
	    json_pack("{s:s}", "id", contact_id) : json_null(),
	    "conversations", contact_id && p->v[CTX_CONVERSATIONS] ?
	    json_incref(p->v[CTX_CONVERSATIONS]) : json_array(),
	    "tickets", contact_id && p->v[CTX_TICKETS] ?
	    json_incref(p->v[CTX_TICKETS]) : json_array(),
	    "company", contact_id && p->v[CTX_COMPANY] ?
	    json_incref(p->v[CTX_COMPANY]) : json_null(),
	    "source", contact_id == NULL ? (any_live ? "live" : "cache") :
	    nlive == CTX_NPARTS ? "live" : "cache",
	    "sources", src, "as_of", asof, "stale", stale);
	return o;
}

/* ------------------------------------------------------------------ */
/* the cache                                                            */

int
ctx_cache_lookup(struct db *d, const char *ws, const char *kind,
    const char *value, int64_t min_at, char *id, size_t idsz)
{
	sqlite3_stmt	*st;
	int		 rc;

	st = db_prep(d, "SELECT contact_id FROM context_lookup WHERE "
	    "workspace = ?1 AND kind = ?2 AND value = ?3 AND updated_at >= ?4");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, kind) == -1 || db_bind_text(st, 3, value) == -1 ||
	    db_bind_int(st, 4, min_at) == -1)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(id, idsz, "%s", (const char *)sqlite3_column_text(st,
		    0));
		rc = 1;
	} else
		rc = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
	sqlite3_reset(st);
	/* A contact merged since the search: its survivor (ident.c). */
	if (rc == 1 && ident_follow(d, ws, id, id, idsz) == -1)
		rc = -1;
	return rc;
}

int
ctx_cache_unlearn(struct db *d, const char *ws, const char *id)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "DELETE FROM context_lookup WHERE workspace = ?1 AND "
	    "contact_id = ?2");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, id) == -1)
		return -1;
	return db_step_done(d, st);
}

int
ctx_cache_learn(struct db *d, const char *ws, const char *kind,
    const char *value, const char *id, int64_t now)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "INSERT INTO context_lookup (workspace, kind, value, "
	    "contact_id, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
	    "(workspace, kind, value) DO UPDATE SET contact_id = ?4, "
	    "updated_at = ?5");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, kind) == -1 || db_bind_text(st, 3, value) == -1 ||
	    db_bind_text(st, 4, id) == -1 || db_bind_int(st, 5, now) == -1)
		return -1;
	return db_step_done(d, st);
}

int
ctx_cache_get(struct db *d, const char *ws, const char *id, int64_t min_at,
    struct ctx_parts *p)
{
	sqlite3_stmt	*st;
	const char	*txt;
	size_t		 i;
	int		 rc;

	st = db_prep(d, "SELECT contact, contact_at, conversations, "
	    "conversations_at, tickets, tickets_at, company, company_at "
	    "FROM context_cache WHERE workspace = ?1 AND contact_id = ?2 "
	    "AND updated_at >= ?3");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, id) == -1 || db_bind_int(st, 3, min_at) == -1)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		for (i = 0; i < CTX_NPARTS; i++) {
			if (p->live[i] || (txt = (const char *)
			    sqlite3_column_text(st, (int)i * 2)) == NULL)
				continue;
			json_decref(p->v[i]);
			p->v[i] = json_loads(txt, JSON_DECODE_ANY, NULL);
			p->at[i] = sqlite3_column_int64(st, (int)i * 2 + 1);
		}
		rc = 1;
	} else
		rc = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
	sqlite3_reset(st);
	return rc;
}

int
ctx_cache_put(struct db *d, const char *ws, const char *id,
    const struct ctx_parts *p)
{
	sqlite3_stmt	*st;
	char		*txt[CTX_NPARTS] = { NULL };
	int64_t		 now = clock_wall_s();
	size_t		 i;
	int		 rc = -1;

	/* A NULL column binding keeps the cached value (COALESCE). */
	st = db_prep(d, "INSERT INTO context_cache (workspace, contact_id, "
	    "contact, contact_at, conversations, conversations_at, tickets, "
	    "tickets_at, company, company_at, updated_at) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (workspace, "
	    "contact_id) DO UPDATE SET "
	    "contact = coalesce(?3, contact), "
	    "contact_at = coalesce(?4, contact_at), "
	    "conversations = coalesce(?5, conversations), "
	    "conversations_at = coalesce(?6, conversations_at), "
	    "tickets = coalesce(?7, tickets), "
	    "tickets_at = coalesce(?8, tickets_at), "
	    "company = coalesce(?9, company), "
	    "company_at = coalesce(?10, company_at), updated_at = ?11");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, id) == -1)
		goto out;
	for (i = 0; i < CTX_NPARTS; i++) {
		if (p->live[i] && p->v[i] != NULL && (txt[i] = json_dumps(
		    p->v[i], JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
			goto out;
		if (db_bind_text(st, (int)i * 2 + 3, txt[i]) == -1)
			goto out;
		if ((txt[i] != NULL ? db_bind_int(st, (int)i * 2 + 4, now) :
		    db_bind_text(st, (int)i * 2 + 4, NULL)) == -1)
			goto out;
	}
	if (db_bind_int(st, 11, now) == -1)
		goto out;
	rc = db_step_done(d, st);
out:
	for (i = 0; i < CTX_NPARTS; i++)
		free(txt[i]);
	return rc;
}

int
ctx_cache_own_conversation(struct db *d, const char *ws, const char *app_id,
    const char *contact_id, const char *conv_id, const char *summary,
    int64_t created)
{
	struct ctx_parts p;
	json_t		*list, *cv;
	char		 snip[SNIPPET_MAX + 1], link[256];
	size_t		 i;
	int		 rc;

	memset(&p, 0, sizeof(p));
	if (contact_id == NULL || contact_id[0] == '\0' || conv_id == NULL)
		return 0;
	if (ctx_cache_get(d, ws, contact_id, 0, &p) == -1)
		return -1;
	list = json_is_array(p.v[CTX_CONVERSATIONS]) ?
	    json_incref(p.v[CTX_CONVERSATIONS]) : json_array();
	/* A replay of the same create: once only. */
	for (i = json_array_size(list); i > 0; i--)
		if (ic_str(json_array_get(list, i - 1), "id") != NULL &&
		    strcmp(ic_str(json_array_get(list, i - 1), "id"),
		    conv_id) == 0)
			json_array_remove(list, i - 1);
	squeeze(summary, false, snip, sizeof(snip));	/* text, not HTML */
	ctx_conv_link(app_id, conv_id, link, sizeof(link));
	cv = json_pack("{s:s,s:s,s:I,s:n,s:s,s:o}", "id", conv_id, "state",
	    "open", "updated_at", (json_int_t)(created > 0 ? created :
	    clock_wall_s()), "assignee", "snippet", snip, "link", link[0] ?
	    json_string(link) : json_null());
	json_array_insert_new(list, 0, cv);
	ctx_parts_clear(&p);
	/* Stored as a read of the conversations part, dated now. */
	p.v[CTX_CONVERSATIONS] = list;
	p.live[CTX_CONVERSATIONS] = true;
	rc = ctx_cache_put(d, ws, contact_id, &p);
	ctx_parts_clear(&p);
	return rc;
}

int64_t
ctx_cache_prune(struct db *d, int64_t before)
{
	static const char *const q[] = {
		"DELETE FROM context_cache WHERE updated_at < ?1",
		"DELETE FROM context_lookup WHERE updated_at < ?1",
		"DELETE FROM article_cache WHERE updated_at < ?1"
	};
	sqlite3_stmt	*st;
	int64_t		 n = 0;
	size_t		 i;

	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		if ((st = db_prep(d, q[i])) == NULL ||
		    db_bind_int(st, 1, before) == -1 || db_step_done(d, st) == -1)
			return -1;
		n += sqlite3_changes(d->h);
	}
	return n;
}

int
ctx_cache_size(struct db *d, int64_t *rows, int64_t *bytes)
{
	sqlite3_stmt	*st;
	int		 rc;

	st = db_prep(d, "SELECT (SELECT count(*) FROM context_cache) + "
	    "(SELECT count(*) FROM article_cache), "
	    "(SELECT coalesce(sum(coalesce(length(contact), 0) + "
	    "coalesce(length(conversations), 0) + coalesce(length(tickets), 0) "
	    "+ coalesce(length(company), 0)), 0) FROM context_cache) + "
	    "(SELECT coalesce(sum(length(articles)), 0) FROM article_cache)");
	if (st == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return db_fail(d, rc);
	}
	*rows = sqlite3_column_int64(st, 0);
	*bytes = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return 0;
}

int
ctx_cache_recent(struct db *d, const char *ws, int ncalls, char (*ids)[64],
    int max)
{
	sqlite3_stmt	*st;
	int		 rc, n = 0;

	/* outbox_state (state, workspace) walks the newest first: no sort
	 * of the whole outbox. */
	st = db_prep(d, "SELECT j.intercom_id, max(r.id) AS last FROM "
	    "(SELECT id FROM outbox WHERE state = 'done' AND workspace = ?1 "
	    "ORDER BY id DESC LIMIT ?2) r JOIN journal j ON j.outbox_id = r.id "
	    "AND j.step = 'contact' WHERE j.intercom_id IS NOT NULL "
	    "GROUP BY j.intercom_id ORDER BY last DESC");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_int(st, 2, ncalls) == -1)
		return -1;
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(ids[n++], sizeof(ids[0]), "%s",
		    (const char *)sqlite3_column_text(st, 0));
	if (n < max && rc != SQLITE_DONE)
		n = db_fail(d, rc);
	sqlite3_reset(st);
	return n;
}

int
ctx_cache_warm_due(struct db *d, const char *ws, const char *id,
    int64_t min_at)
{
	sqlite3_stmt	*st;
	int		 rc;

	st = db_prep(d, "SELECT EXISTS (SELECT 1 FROM contact_identity WHERE "
	    "workspace = ?1 AND contact_id = ?2) AND NOT EXISTS (SELECT 1 "
	    "FROM context_cache WHERE workspace = ?1 AND contact_id = ?2 AND "
	    "min(coalesce(contact_at, 0), coalesce(conversations_at, 0), "
	    "coalesce(tickets_at, 0), coalesce(company_at, 0)) >= ?3)");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, id) == -1 || db_bind_int(st, 3, min_at) == -1)
		return -1;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return db_fail(d, rc);
	}
	rc = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return rc;
}

int
ctx_resolve_local(struct db *d, const char *ws, const char *phone,
    const char *email, char *id, size_t idsz, const char **how)
{
	struct ident_hit h;
	int		 rc = 0;

	*how = "map";
	if ((phone[0] != '\0' && (rc = ident_lookup(d, ws, "phone", phone,
	    &h)) != 0) || (email[0] != '\0' && (rc = ident_lookup(d, ws,
	    "email", email, &h)) != 0)) {
		if (rc == 1)
			snprintf(id, idsz, "%s", h.contact_id);
		return rc;
	}
	*how = "cache";
	if ((phone[0] != '\0' && (rc = ctx_cache_lookup(d, ws, "phone", phone,
	    0, id, idsz)) != 0) || (email[0] != '\0' && (rc = ctx_cache_lookup(d,
	    ws, "email", email, 0, id, idsz)) != 0))
		return rc;
	return 0;
}

json_t *
ctx_from_cache(struct db *d, const char *ws, const char *phone,
    const char *email, int64_t now, time_t ttl, time_t max_age)
{
	struct ctx_parts p;
	char		 id[64];
	const char	*how;
	json_t		*o;
	int		 rc;

	memset(&p, 0, sizeof(p));
	if ((rc = ctx_resolve_local(d, ws, phone, email, id, sizeof(id),
	    &how)) == -1)
		return NULL;
	if (rc == 1 && ctx_cache_get(d, ws, id, now - (int64_t)max_age,
	    &p) == -1)
		return NULL;
	o = ctx_answer(ws, rc == 1 ? id : NULL, &p, false, now, ttl);
	ctx_parts_clear(&p);
	return o;
}

json_t *
ctx_shape_articles(json_t *answer)
{
	json_t	*list = json_object_get(json_object_get(answer, "data"),
	    "articles");
	json_t	*out, *a;
	char	 id[64], snip[SNIPPET_MAX + 1];
	size_t	 i;

	if (!json_is_array(list))
		return NULL;
	out = json_array();
	json_array_foreach(list, i, a) {
		if (ic_id(a, "id", id, sizeof(id)) == NULL)
			continue;
		ctx_plain_text(ic_str(a, "body"), snip, sizeof(snip));
		json_array_append_new(out, json_pack("{s:s,s:o,s:o,s:o,s:s}",
		    "id", id, "title", str_or_null(a, "title"), "description",
		    str_or_null(a, "description"), "url", str_or_null(a, "url"),
		    "snippet", snip));
	}
	return out;
}

void
ctx_article_key(const char *q, char *key, size_t keysz)
{
	size_t	 n;

	while (*q == ' ')
		q++;
	snprintf(key, keysz, "%s", q);
	for (n = 0; key[n] != '\0'; n++)
		key[n] = (char)tolower((unsigned char)key[n]);
	while (n > 0 && key[n - 1] == ' ')
		key[--n] = '\0';
}

int
ctx_article_get(struct db *d, const char *ws, const char *key, int64_t min_at,
    json_t **articles, int64_t *at)
{
	sqlite3_stmt	*st;
	int		 rc;

	*articles = NULL;
	st = db_prep(d, "SELECT articles, updated_at FROM article_cache "
	    "WHERE workspace = ?1 AND query = ?2 AND updated_at >= ?3");
	if (st == NULL || db_bind_text(st, 1, ws) == -1 ||
	    db_bind_text(st, 2, key) == -1 || db_bind_int(st, 3, min_at) == -1)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*articles = json_loads((const char *)sqlite3_column_text(st, 0),
		    0, NULL);
		*at = sqlite3_column_int64(st, 1);
		rc = *articles != NULL;
	} else
		rc = rc == SQLITE_DONE ? 0 : db_fail(d, rc);
	sqlite3_reset(st);
	return rc;
}

int
ctx_article_put(struct db *d, const char *ws, const char *key,
    json_t *articles)
{
	sqlite3_stmt	*st;
	char		*txt;
	int		 rc = -1;

	if ((txt = json_dumps(articles, JSON_COMPACT)) == NULL)
		return -1;
	st = db_prep(d, "INSERT INTO article_cache (workspace, query, "
	    "articles, updated_at) VALUES (?1, ?2, ?3, unixepoch()) ON "
	    "CONFLICT (workspace, query) DO UPDATE SET articles = ?3, "
	    "updated_at = unixepoch()");
	if (st != NULL && db_bind_text(st, 1, ws) == 0 &&
	    db_bind_text(st, 2, key) == 0 && db_bind_text(st, 3, txt) == 0)
		rc = db_step_done(d, st);
	free(txt);
	return rc;
}

int
ctx_normalize(const struct conf_ws *cw, const char *phone, const char *email,
    char *ophone, size_t ophonesz, char *oemail, size_t oemailsz, char *why,
    size_t whysz)
{
	char	 w[160];

	ophone[0] = oemail[0] = '\0';
	if (phone != NULL && phone_normalize(phone, cw->default_region, ophone,
	    ophonesz, w, sizeof(w)) == -1) {
		snprintf(why, whysz, "phone: %s", w);
		return -1;
	}
	if (email != NULL && email_normalize(email, oemail, oemailsz, w,
	    sizeof(w)) == -1) {
		snprintf(why, whysz, "email: %s", w);
		return -1;
	}
	return 0;
}
