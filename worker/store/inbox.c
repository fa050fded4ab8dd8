/*
 * inbox: see inbox.h.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ident.h"
#include "inbox.h"

#define ATTR_REQUESTED	"callback_requested"
#define SECRET_MAX	4096

/* A string member, or an integer one as text in buf; NULL otherwise. */
static const char *
str_or_int(const json_t *o, const char *key, char *buf, size_t bufsz)
{
	const json_t	*v = json_object_get(o, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, bufsz, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return buf;
	}
	return NULL;
}

int
inbox_parse(const char *body, size_t len, struct inbox_note *n, char *why,
    size_t whysz)
{
	json_error_t	 jerr;
	const json_t	*data, *v;
	const char	*type;

	memset(n, 0, sizeof(*n));
	if ((n->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr))
	    == NULL) {
		snprintf(why, whysz, "not JSON: %s", jerr.text);
		return -1;
	}
	type = json_string_value(json_object_get(n->root, "type"));
	n->id = json_string_value(json_object_get(n->root, "id"));
	n->topic = json_string_value(json_object_get(n->root, "topic"));
	n->app_id = json_string_value(json_object_get(n->root, "app_id"));
	data = json_object_get(n->root, "data");
	v = json_object_get(n->root, "created_at");
	if (type == NULL || strcmp(type, "notification_event") != 0) {
		snprintf(why, whysz, "type is not notification_event");
		goto bad;
	}
	if (n->id == NULL || n->id[0] == '\0' || strlen(n->id) > 200 ||
	    n->topic == NULL || n->topic[0] == '\0' || n->app_id == NULL ||
	    n->app_id[0] == '\0' || !json_is_integer(v) ||
	    !json_is_object(data)) {
		snprintf(why, whysz, "a notification has id, topic, app_id, "
		    "created_at and data");
		goto bad;
	}
	n->created_at = json_integer_value(v);
	n->event_at = n->created_at;
	n->item = json_object_get(data, "item");
	if (json_is_object(n->item)) {
		n->item_type = json_string_value(json_object_get(n->item,
		    "type"));
		n->item_id = str_or_int(n->item, "id", n->item_id_buf,
		    sizeof(n->item_id_buf));
		v = json_object_get(n->item, "updated_at");
		if (json_is_integer(v) && json_integer_value(v) > 0)
			n->event_at = json_integer_value(v);
	} else
		n->item = NULL;
	return 0;
bad:
	json_decref(n->root);
	memset(n, 0, sizeof(*n));
	return -1;
}

void
inbox_note_free(struct inbox_note *n)
{
	if (n == NULL)
		return;
	json_decref(n->root);
	memset(n, 0, sizeof(*n));
}

/* ------------------------------------------------------------------ */
/* signatures                                                           */

static void
hmac_sha1(const char *secret, const void *body, size_t len,
    unsigned char md[20])
{
	unsigned int	 mdlen = 20;

	if (HMAC(EVP_sha1(), secret, (int)strlen(secret), body, len, md,
	    &mdlen) == NULL)
		memset(md, 0, 20);
}

void
inbox_sign(const char *secret, const void *body, size_t len, char *out,
    size_t outsz)
{
	unsigned char	 md[20];
	size_t		 i;
	char		 hex[41];

	hmac_sha1(secret, body, len, md);
	for (i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(out, outsz, "sha1=%s", hex);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool
inbox_sig_ok(const char *const *secrets, size_t nsec, const char *hdr,
    const void *body, size_t len)
{
	unsigned char	 want[20], got[20];
	size_t		 i;
	int		 hi, lo, ok = 0;

	if (hdr == NULL || strncasecmp(hdr, "sha1=", 5) != 0 ||
	    strlen(hdr + 5) != 40)
		return false;
	for (i = 0; i < 20; i++) {
		if ((hi = hexval((unsigned char)hdr[5 + 2 * i])) < 0 ||
		    (lo = hexval((unsigned char)hdr[6 + 2 * i])) < 0)
			return false;
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	/* Every secret is tried: the time does not say which one matched. */
	for (i = 0; i < nsec; i++) {
		if (secrets[i] == NULL || secrets[i][0] == '\0')
			continue;
		hmac_sha1(secrets[i], body, len, want);
		ok |= CRYPTO_memcmp(want, got, sizeof(got)) == 0;
	}
	return ok != 0;
}

int
inbox_read_secrets(const char *path, char **out, size_t outn, char *why,
    size_t whysz)
{
	struct stat	 sb;
	char		 buf[SECRET_MAX + 1], *p, *e, *line;
	ssize_t		 r;
	size_t		 got = 0, i;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(why, whysz, "webhook_secret_file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || (sb.st_mode & 077) != 0) {
		snprintf(why, whysz, "webhook_secret_file %s: mode %03o lets "
		    "others read it; chmod 600 it", path,
		    (unsigned)(sb.st_mode & 0777));
		close(fd);
		return -1;
	}
	r = read(fd, buf, SECRET_MAX);
	close(fd);
	if (r < 0) {
		snprintf(why, whysz, "webhook_secret_file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	buf[r] = '\0';
	for (p = buf; p != NULL && *p != '\0' && got < outn; p = e) {
		if ((e = strchr(p, '\n')) != NULL)
			*e++ = '\0';
		while (isspace((unsigned char)*p))
			p++;
		line = p;
		p += strlen(p);
		while (p > line && isspace((unsigned char)p[-1]))
			*--p = '\0';
		if (*line == '\0')
			continue;
		if ((out[got] = strdup(line)) == NULL)
			break;
		got++;
	}
	explicit_bzero(buf, sizeof(buf));
	if (got == 0) {
		snprintf(why, whysz, "webhook_secret_file %s: no secret in it",
		    path);
		return -1;
	}
	for (i = got; i < outn; i++)
		out[i] = NULL;
	return (int)got;
}

/* ------------------------------------------------------------------ */
/* rules                                                                */

struct task_new {
	const char	*rule, *reason, *contact_id, *conversation_id;
	const char	*phone, *email, *name;
	char		 dedupe[512];
	int		 priority;
};

static bool
truthy(const json_t *v, bool *known)
{
	*known = true;
	if (json_is_true(v))
		return true;
	if (json_is_false(v) || json_is_null(v))
		return false;
	if (json_is_string(v))
		return strcasecmp(json_string_value(v), "true") == 0;
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	*known = false;
	return false;
}

/* A tag list: {type: tag.list, tags: [...]} or an array. */
static const json_t *
tag_array(const json_t *item)
{
	const json_t	*t = json_object_get(item, "tags");

	if (json_is_object(t))
		t = json_object_get(t, "tags");
	return json_is_array(t) ? t : NULL;
}

static int
task_insert(struct db *d, const char *ws, const struct task_new *t,
    int64_t inbox_id, int64_t now)
{
	sqlite3_stmt	*st;
	const char	*phone = t->phone;
	char		*ph = NULL;
	int		 rc;

	/* The phone callsync knows for the contact (contact_identity). */
	if (phone == NULL && t->contact_id != NULL) {
		st = db_prep(d, "SELECT value FROM contact_identity WHERE "
		    "workspace = ? AND kind = 'phone' AND contact_id = ? "
		    "ORDER BY updated_at DESC LIMIT 1");
		if (st == NULL)
			return -1;
		db_bind_text(st, 1, ws);
		db_bind_text(st, 2, t->contact_id);
		if (sqlite3_step(st) == SQLITE_ROW)
			ph = db_col_strdup(st, 0);
		sqlite3_reset(st);
		phone = ph;
	}
	st = db_prep(d, "INSERT INTO tasks (workspace, dedupe, rule, "
	    "contact_id, phone, email, name, reason, conversation_id, "
	    "priority, due_at, inbox_id, created_at, updated_at) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (workspace, dedupe) DO NOTHING");
	if (st == NULL) {
		free(ph);
		return -1;
	}
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, t->dedupe);
	db_bind_text(st, 3, t->rule);
	db_bind_text(st, 4, t->contact_id);
	db_bind_text(st, 5, phone);
	db_bind_text(st, 6, t->email);
	db_bind_text(st, 7, t->name);
	db_bind_text(st, 8, t->reason);
	db_bind_text(st, 9, t->conversation_id);
	db_bind_int(st, 10, t->priority);
	db_bind_int(st, 11, now);
	db_bind_int(st, 12, inbox_id);
	db_bind_int(st, 13, now);
	db_bind_int(st, 14, now);
	rc = db_step_done(d, st);
	free(ph);
	if (rc == -1)
		return -1;
	return sqlite3_changes(d->h) > 0 ? 1 : 0;
}

/* Who the item is about: contact id, email, name, phone. */
static void
item_person(const struct inbox_note *n, struct task_new *t, char *buf,
    size_t bufsz)
{
	const json_t	*it = n->item, *c, *a;

	if (strcmp(n->item_type, "contact") == 0) {
		t->contact_id = n->item_id;
		t->phone = json_string_value(json_object_get(it, "phone"));
		t->email = json_string_value(json_object_get(it, "email"));
		t->name = json_string_value(json_object_get(it, "name"));
		return;
	}
	t->conversation_id = n->item_id;
	c = json_object_get(json_object_get(it, "contacts"), "contacts");
	if (json_is_array(c) && json_array_size(c) > 0)
		t->contact_id = str_or_int(json_array_get(c, 0), "id", buf,
		    bufsz);
	a = json_object_get(json_object_get(it, "source"), "author");
	if (json_is_object(a)) {
		const char *ty = json_string_value(json_object_get(a, "type"));

		if (ty != NULL && strcmp(ty, "admin") != 0 &&
		    strcmp(ty, "bot") != 0) {
			t->email = json_string_value(json_object_get(a,
			    "email"));
			t->name = json_string_value(json_object_get(a,
			    "name"));
			if (t->contact_id == NULL)
				t->contact_id = str_or_int(a, "id", buf,
				    bufsz);
		}
	}
}

static int
item_priority(const json_t *item)
{
	const json_t	*v;

	v = json_object_get(json_object_get(item, "custom_attributes"),
	    "callback_priority");
	if (json_is_integer(v))
		return (int)json_integer_value(v);
	v = json_object_get(item, "priority");	/* conversation priority */
	if (json_is_string(v) && strcmp(json_string_value(v), "priority") == 0)
		return 1;
	return 0;
}

/*
 * Text of html into out (outsz > 0): tags as spaces, the common entities
 * decoded (&nbsp; as a space), runs of white space as one, trimmed.
 * Notes are HTML in Intercom, and an admin writes "please <b>call</b>".
 */
static void
plain_text(const char *html, char *out, size_t outsz)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&nbsp;", ' ' }, { "&amp;", '&' }, { "&lt;", '<' },
		{ "&gt;", '>' }, { "&quot;", '"' }, { "&#39;", '\'' },
	};
	const char	*p = html;
	size_t		 n = 0, i, l;
	char		 c;

	while (*p != '\0' && n + 1 < outsz) {
		c = *p++;
		if (c == '<') {
			while (*p != '\0' && *p != '>')
				p++;
			if (*p == '>')
				p++;
			c = ' ';
		} else if (c == '&') {
			for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				l = strlen(ents[i].ent);
				if (strncasecmp(p - 1, ents[i].ent, l) == 0) {
					c = ents[i].c;
					p += l - 1;
					break;
				}
			}
		}
		if (isspace((unsigned char)c)) {
			if (n == 0 || out[n - 1] == ' ')
				continue;
			c = ' ';
		}
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* Whether the admin note html holds phrase (both as plain_text makes
 * them), without case. */
static bool
note_holds(const char *html, const char *phrase)
{
	char	*text, want[256];
	size_t	 sz = strlen(html) + 1;
	bool	 r;

	plain_text(phrase, want, sizeof(want));
	if (want[0] == '\0' || (text = malloc(sz)) == NULL)
		return false;
	plain_text(html, text, sz);
	r = strcasestr(text, want) != NULL;
	free(text);
	return r;
}

/*
 * callback_note: each admin note of the item's parts that holds the
 * phrase is a request, one task per note (its part id in the dedupe).
 * A note is a request of its own whatever the order of events, so this
 * runs on stale events too; a done task is never made again (the dedupe
 * is unique in every state).  The tasks made, or -1.
 */
static int
note_rule(struct db *d, const struct conf_ws *cw, const char *ws,
    const struct inbox_note *n, const char *object, struct task_new *t,
    int64_t inbox_id, int64_t now)
{
	const json_t	*parts, *part, *author;
	const char	*ptype, *atype, *body, *pid;
	char		 pbuf[32];
	int		 made = 0, r;
	size_t		 i;

	if (cw == NULL || cw->callback_note == NULL ||
	    strcmp(n->item_type, "conversation") != 0)
		return 0;
	parts = json_object_get(json_object_get(n->item,
	    "conversation_parts"), "conversation_parts");
	json_array_foreach(parts, i, part) {
		ptype = json_string_value(json_object_get(part, "part_type"));
		author = json_object_get(part, "author");
		atype = json_string_value(json_object_get(author, "type"));
		body = json_string_value(json_object_get(part, "body"));
		pid = str_or_int(part, "id", pbuf, sizeof(pbuf));
		if (ptype == NULL || strcmp(ptype, "note") != 0 ||
		    atype == NULL || strcmp(atype, "admin") != 0 ||
		    body == NULL || pid == NULL ||
		    !note_holds(body, cw->callback_note))
			continue;
		t->rule = "note";
		t->reason = "admin note asks for a call";
		snprintf(t->dedupe, sizeof(t->dedupe), "note:%s:%s", object,
		    pid);
		if ((r = task_insert(d, ws, t, inbox_id, now)) == -1)
			return -1;
		made += r;
	}
	return made;
}

/* The item's team_assignee_id as text into buf ("0": none), or NULL
 * when the item does not say. */
static const char *
item_team(const json_t *item, char *buf, size_t bufsz)
{
	return str_or_int(item, "team_assignee_id", buf, bufsz);
}

/*
 * Apply the rules to n (stored as inbox row id).  Returns the tasks
 * made, or -1.  *stale: the event is older than the object's watermark.
 */
static int
apply_rules(struct db *d, const struct conf_ws *cw, const char *ws,
    const struct inbox_note *n, int64_t inbox_id, int64_t now, bool *stale)
{
	sqlite3_stmt	*st;
	struct task_new	 t;
	const json_t	*tags, *tag, *attrs;
	char		 object[256], idbuf[32], tagbuf[32], reason[300];
	char		 teambuf[32], wm_team[32] = "";
	const char	*tname, *applied, *team;
	int64_t		 wm_at = 0, turns = 0;
	int		 wm_req = -1, made = 0, r;
	bool		 have_wm = false, known, req;
	size_t		 i;

	*stale = false;
	if (n->item == NULL || n->item_type == NULL || n->item_id == NULL ||
	    (strcmp(n->item_type, "conversation") != 0 &&
	    strcmp(n->item_type, "contact") != 0))
		return 0;
	snprintf(object, sizeof(object), "%s:%s", n->item_type, n->item_id);
	memset(&t, 0, sizeof(t));
	item_person(n, &t, idbuf, sizeof(idbuf));
	t.priority = item_priority(n->item);
	if ((made = note_rule(d, cw, ws, n, object, &t, inbox_id, now)) == -1)
		return -1;
	if ((st = db_prep(d, "SELECT event_at, requested, team, team_turns "
	    "FROM inbox_watermark WHERE workspace = ? AND object = ?")) == NULL)
		return -1;
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, object);
	if (sqlite3_step(st) == SQLITE_ROW) {
		have_wm = true;
		wm_at = sqlite3_column_int64(st, 0);
		wm_req = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 :
		    sqlite3_column_int(st, 1);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			snprintf(wm_team, sizeof(wm_team), "%s",
			    (const char *)sqlite3_column_text(st, 2));
		turns = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	if (have_wm && n->event_at < wm_at) {
		*stale = true;
		return made;
	}
	team = strcmp(n->item_type, "conversation") == 0 ?
	    item_team(n->item, teambuf, sizeof(teambuf)) : NULL;

	/*
	 * callback_team: a task when the team turns to it (like the
	 * attribute below: events while it stays assigned say the same).
	 * The turn is counted: away and back within one second (updated_at
	 * is in seconds) is a new request all the same, and a webhook and a
	 * poll of one assignment are one turn (the second sees it done).
	 */
	if (cw != NULL && cw->callback_team != NULL && team != NULL &&
	    strcmp(team, cw->callback_team) == 0 &&
	    strcmp(wm_team, team) != 0) {
		turns++;
		t.rule = "team";
		snprintf(reason, sizeof(reason), "conversation assigned to "
		    "team %s", team);
		t.reason = reason;
		snprintf(t.dedupe, sizeof(t.dedupe), "team:%s:%s:%" PRId64,
		    team, object, turns);
		if ((r = task_insert(d, ws, &t, inbox_id, now)) == -1)
			return -1;
		made += r;
	}

	/* callback_tag on a conversation: one task per application. */
	if (cw != NULL && cw->callback_tag != NULL &&
	    strcmp(n->item_type, "conversation") == 0 &&
	    (tags = tag_array(n->item)) != NULL) {
		json_array_foreach(tags, i, tag) {
			tname = json_string_value(json_object_get(tag, "name"));
			if (tname == NULL ||
			    strcasecmp(tname, cw->callback_tag) != 0)
				continue;
			applied = str_or_int(tag, "applied_at", tagbuf,
			    sizeof(tagbuf));
			t.rule = "tag";
			snprintf(reason, sizeof(reason), "conversation tagged "
			    "%s", cw->callback_tag);
			t.reason = reason;
			snprintf(t.dedupe, sizeof(t.dedupe), "tag:%s:%s:%s",
			    cw->callback_tag, object, applied ? applied : "");
			if ((r = task_insert(d, ws, &t, inbox_id, now)) == -1)
				return -1;
			made += r;
			break;
		}
	}

	/* callback_requested: a task when it turns true. */
	attrs = json_object_get(n->item, "custom_attributes");
	req = truthy(json_object_get(attrs, ATTR_REQUESTED), &known);
	if (!json_is_object(attrs) ||
	    json_object_get(attrs, ATTR_REQUESTED) == NULL)
		known = false;
	if (known && req && wm_req != 1) {
		t.rule = "attribute";
		snprintf(reason, sizeof(reason), "%s %s set to true",
		    n->item_type, ATTR_REQUESTED);
		t.reason = reason;
		snprintf(t.dedupe, sizeof(t.dedupe), "attribute:%s:%s:%" PRId64,
		    ATTR_REQUESTED, object, n->event_at);
		if ((r = task_insert(d, ws, &t, inbox_id, now)) == -1)
			return -1;
		made += r;
	}
	if ((st = db_prep(d, "INSERT INTO inbox_watermark (workspace, object, "
	    "event_at, requested, team, team_turns) VALUES (?1, ?2, ?3, ?4, "
	    "?5, ?6) ON CONFLICT (workspace, object) DO UPDATE SET "
	    "event_at = max(event_at, ?3), requested = coalesce(?4, "
	    "requested), team = coalesce(?5, team), team_turns = ?6")) == NULL)
		return -1;
	db_bind_int(st, 6, turns);
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, object);
	db_bind_int(st, 3, n->event_at);
	if (known)
		db_bind_int(st, 4, req ? 1 : 0);
	else
		sqlite3_bind_null(st, 4);
	db_bind_text(st, 5, team);
	if (db_step_done(d, st) == -1)
		return -1;
	return made;
}

/*
 * contact.merged: data.item is the surviving contact, merged_from the
 * other (docs "Webhook models"; ../shared/INTERCOM-API.md section 9).
 * The outbound side's merge mappings learn it (ident_merge, how
 * "webhook"), and open tasks of the merged contact name the survivor.
 * Merges never undo, so order does not matter here.
 */
static int
merge_seen(struct db *d, const char *ws, const struct inbox_note *n)
{
	sqlite3_stmt	*st;
	const char	*from;
	char		 buf[32];

	if (strcmp(n->topic, "contact.merged") != 0 || n->item == NULL ||
	    n->item_id == NULL || n->item_type == NULL ||
	    strcmp(n->item_type, "contact") != 0)
		return 0;
	from = str_or_int(json_object_get(n->item, "merged_from"), "id", buf,
	    sizeof(buf));
	if (from == NULL || strcmp(from, n->item_id) == 0)
		return 0;
	if (ident_merge(d, ws, from, n->item_id, "webhook") == -1)
		return -1;
	if ((st = db_prep(d, "UPDATE tasks SET contact_id = ? WHERE "
	    "workspace = ? AND contact_id = ? AND state IN ('due', "
	    "'leased')")) == NULL)
		return -1;
	db_bind_text(st, 1, n->item_id);
	db_bind_text(st, 2, ws);
	db_bind_text(st, 3, from);
	return db_step_done(d, st);
}

/* FNV-1a, 64 bits, continuing from h. */
static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

bool
inbox_event_key(const struct inbox_note *n, char *buf, size_t bufsz)
{
	const json_t	*tags, *tag, *v;
	uint64_t	 h = 0, t;
	char		*dump, nb[32];
	const char	*name, *at;
	size_t		 i;
	int		 len;

	if (n->item == NULL || n->item_type == NULL || n->item_id == NULL ||
	    (strcmp(n->item_type, "conversation") != 0 &&
	    strcmp(n->item_type, "contact") != 0))
		return false;
	/* The tags, in any order (a sum of each one's hash). */
	if ((tags = tag_array(n->item)) != NULL)
		json_array_foreach(tags, i, tag) {
			name = json_string_value(json_object_get(tag, "name"));
			at = str_or_int(tag, "applied_at", nb, sizeof(nb));
			t = fnv(0xcbf29ce484222325ULL, name ? name : "");
			t = fnv(fnv(t, "@"), at ? at : "");
			h += t;
		}
	v = json_object_get(json_object_get(n->item, "custom_attributes"),
	    ATTR_REQUESTED);
	dump = v != NULL ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) :
	    NULL;
	h ^= fnv(0xcbf29ce484222325ULL, dump != NULL ? dump : "-");
	free(dump);
	/* The team (callback_team), and the parts the item carries (notes,
	 * callback_note: a search's items carry none, so a webhook with a
	 * note is never a poll's duplicate). */
	at = str_or_int(n->item, "team_assignee_id", nb, sizeof(nb));
	h = fnv(fnv(h, "team="), at ? at : "-");
	tags = json_object_get(json_object_get(n->item, "conversation_parts"),
	    "conversation_parts");
	if (json_is_array(tags))
		json_array_foreach(tags, i, tag) {
			at = str_or_int(tag, "id", nb, sizeof(nb));
			h = fnv(fnv(h, "part="), at ? at : "-");
		}
	len = snprintf(buf, bufsz, "%s:%s:%" PRId64 ":%016" PRIx64,
	    n->item_type, n->item_id, n->event_at, h);
	return len > 0 && (size_t)len < bufsz;
}

enum inbox_result
inbox_store(struct db *d, const struct conf_ws *cw, const char *ws,
    const struct inbox_note *n, const char *via, int64_t now, int *ntasks)
{
	sqlite3_stmt	*st;
	int64_t		 id;
	int		 made, rc;
	bool		 stale, keyed;
	char		 key[INBOX_EVENT_KEY_MAX];

	if (ntasks != NULL)
		*ntasks = 0;
	keyed = inbox_event_key(n, key, sizeof(key));
	/*
	 * One event, one entry: a poll of a state stored before (by poll or
	 * webhook), or a webhook of a state polling stored, is a duplicate.
	 * A merge is always stored: its topic says more than the state.
	 */
	if (keyed && (strcmp(via, "poll") == 0 ||
	    strcmp(n->topic, "contact.merged") != 0)) {
		if ((st = db_prep(d, "SELECT 1 FROM inbox WHERE workspace = ? "
		    "AND event_key = ? AND (via = 'poll' OR ? = 'poll') "
		    "LIMIT 1")) == NULL)
			return INBOX_ERR;
		db_bind_text(st, 1, ws);
		db_bind_text(st, 2, key);
		db_bind_text(st, 3, via);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_ROW)
			return INBOX_DUP;
		if (rc != SQLITE_DONE)
			return INBOX_ERR;
	}
	if ((st = db_prep(d, "INSERT INTO inbox (workspace, notif_id, topic, "
	    "item_type, item_id, created_at, event_at, via, received_at, "
	    "event_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (workspace, notif_id) DO NOTHING")) == NULL)
		return INBOX_ERR;
	if (keyed)
		db_bind_text(st, 10, key);
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, n->id);
	db_bind_text(st, 3, n->topic);
	db_bind_text(st, 4, n->item_type);
	db_bind_text(st, 5, n->item_id);
	db_bind_int(st, 6, n->created_at);
	db_bind_int(st, 7, n->event_at);
	db_bind_text(st, 8, via);
	db_bind_int(st, 9, now);
	if (db_step_done(d, st) == -1)
		return INBOX_ERR;
	if (sqlite3_changes(d->h) == 0)
		return INBOX_DUP;
	id = sqlite3_last_insert_rowid(d->h);
	if (merge_seen(d, ws, n) == -1)
		return INBOX_ERR;
	if ((made = apply_rules(d, cw, ws, n, id, now, &stale)) == -1)
		return INBOX_ERR;
	if ((st = db_prep(d, "UPDATE inbox SET state = ?, applied_at = ? "
	    "WHERE id = ?")) == NULL)
		return INBOX_ERR;
	db_bind_text(st, 1, stale ? "stale" : n->item_type != NULL &&
	    (strcmp(n->item_type, "conversation") == 0 ||
	    strcmp(n->item_type, "contact") == 0) ? "applied" : "ignored");
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, id);
	if (db_step_done(d, st) == -1)
		return INBOX_ERR;
	if (ntasks != NULL)
		*ntasks = made;
	return INBOX_NEW;
}

int
inbox_app_ws(struct db *d, const char *app_id, char *ws, size_t wssz)
{
	sqlite3_stmt	*st;
	int		 rc = -1;

	if ((st = db_prep(d, "SELECT workspace FROM workspace_app WHERE "
	    "app_id = ? ORDER BY seen_at DESC LIMIT 1")) == NULL)
		return -1;
	db_bind_text(st, 1, app_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(ws, wssz, "%s", (const char *)sqlite3_column_text(st,
		    0));
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

int
inbox_set_app(struct db *d, const char *ws, const char *app_id)
{
	sqlite3_stmt	*st;

	if ((st = db_prep(d, "INSERT INTO workspace_app (workspace, app_id, "
	    "seen_at) VALUES (?1, ?2, unixepoch()) ON CONFLICT (workspace) "
	    "DO UPDATE SET app_id = ?2, seen_at = unixepoch() "
	    "WHERE app_id <> ?2")) == NULL)
		return -1;
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, app_id);
	return db_step_done(d, st);
}

int64_t
inbox_prune(struct db *d, int64_t cutoff)
{
	sqlite3_stmt	*st;
	int64_t		 total = 0;
	int		 n;

	do {
		if (db_begin(d) == -1)
			return -1;
		if ((st = db_prep(d, "DELETE FROM inbox WHERE id IN (SELECT id "
		    "FROM inbox WHERE received_at < ? ORDER BY id LIMIT 500)"))
		    == NULL) {
			db_rollback(d);
			return -1;
		}
		db_bind_int(st, 1, cutoff);
		if (db_step_done(d, st) == -1) {
			db_rollback(d);
			return -1;
		}
		n = sqlite3_changes(d->h);
		if (db_commit(d) == -1)
			return -1;
		total += n;
	} while (n == 500);
	return total;
}

int
inbox_poll_marks(struct db *d, const char *ws, const char *const *kinds,
    int64_t *wm, size_t nkinds)
{
	sqlite3_stmt	*st;
	const char	*k;
	size_t		 i;
	int		 rc;

	if ((st = db_prep(d, "SELECT kind, watermark FROM poll_watermark "
	    "WHERE workspace = ?")) == NULL)
		return -1;
	db_bind_text(st, 1, ws);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* k dies at the next step: compared here, never kept. */
		k = (const char *)sqlite3_column_text(st, 0);
		for (i = 0; i < nkinds; i++)
			if (k != NULL && strcmp(k, kinds[i]) == 0)
				wm[i] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
inbox_poll_mark_save(struct db *d, const char *ws, const char *kind,
    int64_t seen)
{
	sqlite3_stmt	*st;

	/* max(): a round that read less (a restart's overlap, a retried
	 * page) never moves the watermark back. */
	if ((st = db_prep(d, "INSERT INTO poll_watermark "
	    "(workspace, kind, watermark, updated_at) VALUES "
	    "(?1, ?2, ?3, unixepoch()) ON CONFLICT (workspace, kind) "
	    "DO UPDATE SET watermark = max(watermark, ?3), "
	    "updated_at = unixepoch()")) == NULL)
		return -1;
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, kind);
	db_bind_int(st, 3, seen);
	return db_step_done(d, st);
}
