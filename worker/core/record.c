/*
 * record: see record.h.  record_parse loads the payload with jansson and
 * walks it once, field by field, filling struct record with pointers
 * borrowed from the parsed tree (which the record owns), so a parse costs
 * one allocation per JSON value plus the flattened transcript.
 *
 * Rules, in the words of docs/contract.md section 1:
 * - Every failure has a stable reason (REC_ERR_*) and a one-line, lower-
 *   case message that starts with the field path ("caller.phone: ...").
 *   Messages never quote values from the payload: they may hold personal
 *   data and be large.  The one exception is a refused attribute name
 *   (at most 64 bytes), which the operator needs to decide whether to
 *   allow it.
 * - An absent optional field and a JSON null are the same thing:
 *   producers written in languages with nullable fields send null for
 *   "unknown", and refusing a call for that would help no one.
 * - Unknown fields, at any level, are ignored: producers may be newer
 *   than the worker (forward compatibility), and a field we do not read
 *   cannot hurt.  Fields of another type (a "body" on a call) likewise.
 * - Free text (summary, body, transcript) may span lines and may carry
 *   stray control characters (a speech engine's BEL or ESC): body.c drops
 *   them from the HTML it sends, so they are no reason to refuse a call.
 *   Every other string is one line: no C0/C1 control characters, no DEL.
 * - Bytes jansson refuses but SQLite's json_valid (the outbox CHECK)
 *   accepts are repaired before parsing, inside strings only (bytes.h):
 *   a "\u0000" is dropped, invalid UTF-8 and lone surrogate escapes
 *   become U+FFFD; r->fix says what was done, for the journal.  JSON
 *   that is still broken is invalid_json with our own words: a library's
 *   message never reaches a dead letter.
 * - Checks run in document order of the contract, and policy checks
 *   (public replies) after the record is known to be well formed, so a
 *   record that would still be broken after a config change says so.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "phone.h"
#include "record.h"

#define REC_MAX_PAYLOAD	(1024 * 1024)	/* as the outbox CHECK constraint */
#define REC_MAX_KEY	200
#define REC_MAX_TAG	100
#define REC_MAX_ID	32		/* digits of an Intercom numeric id */

/* What a string field may contain. */
enum text { TEXT_LINE, TEXT_MULTI };

struct parse {
	json_t			*root;
	struct record		*r;
	struct rec_err		*e;
	const struct conf_ws	*ws;
};

static int
fail(struct rec_err *e, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Set *e and return -1.  The message is forced onto one printable ASCII
 * line: it ends up in dead_letter rows, logs and JSON output.
 */
static int
fail(struct rec_err *e, const char *reason, const char *fmt, ...)
{
	va_list	 ap;
	char	*c;

	e->reason = reason;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	for (c = e->message; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	return -1;
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

const char *
record_json_kind(const json_t *v)
{
	return type_name(v);
}

/* True if s has a control character that kind does not allow. */
static bool
has_control(const char *s, size_t len, enum text kind)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i;

	for (i = 0; i < len; i++) {
		if (u[i] == '\0')
			return true;
		if (kind == TEXT_MULTI)
			continue;
		if (u[i] == 0x7f)
			return true;
		if (u[i] < 0x20)
			return true;
		/* U+0080..U+009F (C1) are 0xc2 0x80..0x9f in UTF-8 */
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 &&
		    u[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

/*
 * The member name of obj as a string field: *out borrowed, NULL when
 * absent or null.  path names the field in messages.
 */
static int
get_string(json_t *obj, const char *name, const char *path, enum text kind,
    bool required, const char **out, struct rec_err *e)
{
	json_t	*v;

	*out = NULL;
	v = json_object_get(obj, name);
	if (v == NULL || json_is_null(v)) {
		if (required)
			return fail(e, REC_ERR_MISSING, "%s: required", path);
		return 0;
	}
	if (!json_is_string(v))
		return fail(e, REC_ERR_FIELD, "%s: expected a string, got %s",
		    path, type_name(v));
	if (has_control(json_string_value(v), json_string_length(v), kind))
		return fail(e, REC_ERR_FIELD, "%s: control character", path);
	if (required && json_string_length(v) == 0)
		return fail(e, REC_ERR_MISSING, "%s: empty", path);
	*out = json_string_value(v);
	return 0;
}

static int
get_key(json_t *obj, const char *name, const char **out, struct rec_err *e)
{
	if (get_string(obj, name, name, TEXT_LINE, false, out, e) == -1)
		return -1;
	if (*out == NULL)
		return 0;
	if (**out == '\0')
		return fail(e, REC_ERR_FIELD, "%s: empty", name);
	if (strlen(*out) > REC_MAX_KEY)
		return fail(e, REC_ERR_FIELD, "%s: longer than %d bytes",
		    name, REC_MAX_KEY);
	return 0;
}

/*
 * An Intercom id given as digits, either a string or a non-negative
 * integer.  An integer is turned into a string stored in the record's
 * root under stash (so the record owns it) and *out borrows that.
 */
static int
get_id(struct parse *p, json_t *obj, const char *name, const char *path,
    const char *stash, const char **out)
{
	json_t		*v, *s;
	const char	*c;
	char		 buf[32];

	*out = NULL;
	v = json_object_get(obj, name);
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return fail(p->e, REC_ERR_FIELD, "%s: negative id",
			    path);
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		if ((s = json_string(buf)) == NULL ||
		    json_object_set_new(p->root, stash, s) == -1)
			return fail(p->e, REC_ERR_TOO_BIG, "%s: out of memory",
			    path);
		*out = json_string_value(s);	/* borrowed from root */
		return 0;
	}
	if (!json_is_string(v))
		return fail(p->e, REC_ERR_FIELD,
		    "%s: expected a string of digits, got %s", path,
		    type_name(v));
	c = json_string_value(v);
	if (*c == '\0')
		return fail(p->e, REC_ERR_FIELD, "%s: empty", path);
	if (json_string_length(v) > REC_MAX_ID)
		return fail(p->e, REC_ERR_FIELD, "%s: longer than %d digits",
		    path, REC_MAX_ID);
	for (; *c != '\0'; c++)
		if (!isdigit((unsigned char)*c))
			return fail(p->e, REC_ERR_FIELD,
			    "%s: expected digits only", path);
	*out = json_string_value(v);
	return 0;
}

/* v is a JSON object, or absent/null (*out NULL); else an error. */
static int
get_object(json_t *obj, const char *name, const char *path, json_t **out,
    struct rec_err *e)
{
	json_t	*v;

	*out = NULL;
	v = json_object_get(obj, name);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(e, REC_ERR_FIELD, "%s: expected an object, got %s",
		    path, type_name(v));
	*out = v;
	return 0;
}

static bool
leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Hinnant). */
static long long
days_from_civil(long long y, int m, int d)
{
	long long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n digits at s as a number, or -1. */
static int
digits(const char *s, int n)
{
	int	 v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * RFC 3339 date-time ("2026-11-25T08:30:00Z", "...00.250+01:00") to
 * Unix seconds.  A leap second (:60) counts as the next second.
 */
static int
parse_rfc3339(const char *s, long long *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	 y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, dim;

	if (strlen(s) < 20)
		return -1;
	if ((y = digits(s, 4)) < 0 || s[4] != '-' ||
	    (mo = digits(s + 5, 2)) < 0 || s[7] != '-' ||
	    (d = digits(s + 8, 2)) < 0 ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    (h = digits(s + 11, 2)) < 0 || s[13] != ':' ||
	    (mi = digits(s + 14, 2)) < 0 || s[16] != ':' ||
	    (sec = digits(s + 17, 2)) < 0)
		return -1;
	s += 19;
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return -1;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s == '+' ? 1 : -1;
		if ((oh = digits(s + 1, 2)) < 0 || s[3] != ':' ||
		    (om = digits(s + 4, 2)) < 0)
			return -1;
		s += 6;
	} else
		return -1;
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		return -1;
	dim = mdays[mo - 1] + (mo == 2 && leap(y));
	if (d > dim)
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    sign * (oh * 3600 + om * 60);
	return 0;
}

/* A growing, capped text buffer for the flattened transcript. */
struct text_buf {
	char	*s;
	size_t	 len, cap;
};

static int
text_append(struct text_buf *b, const char *s, size_t n)
{
	char	*ns;
	size_t	 ncap;

	if (n > REC_MAX_PAYLOAD || b->len + n + 1 > 2 * REC_MAX_PAYLOAD)
		return -1;	/* cannot happen from a capped payload */
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((ns = realloc(b->s, ncap)) == NULL)
			return -1;
		b->s = ns;
		b->cap = ncap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

/*
 * transcript: a string (copied), or turns [{speaker, text, at}] into
 * "speaker: text\n" lines.  at is optional and not rendered: the body
 * shows the conversation, the timestamps stay in the payload.
 */
static int
parse_transcript(struct parse *p, json_t *v)
{
	struct text_buf	 b = { NULL, 0, 0 };
	const char	*speaker, *text;
	char		 path[64];
	json_t		*turn, *at;
	size_t		 i;

	if (json_is_string(v)) {
		if (has_control(json_string_value(v), json_string_length(v),
		    TEXT_MULTI))
			return fail(p->e, REC_ERR_FIELD,
			    "transcript: control character");
		if ((p->r->transcript = strdup(json_string_value(v))) == NULL)
			return fail(p->e, REC_ERR_TOO_BIG,
			    "transcript: out of memory");
		return 0;
	}
	if (!json_is_array(v))
		return fail(p->e, REC_ERR_FIELD,
		    "transcript: expected a string or an array, got %s",
		    type_name(v));
	json_array_foreach(v, i, turn) {
		if (!json_is_object(turn)) {
			fail(p->e, REC_ERR_FIELD,
			    "transcript[%zu]: expected an object, got %s", i,
			    type_name(turn));
			goto out_free;
		}
		snprintf(path, sizeof(path), "transcript[%zu].speaker", i);
		if (get_string(turn, "speaker", path, TEXT_LINE, true,
		    &speaker, p->e) == -1)
			goto out_free;
		snprintf(path, sizeof(path), "transcript[%zu].text", i);
		if (get_string(turn, "text", path, TEXT_MULTI, false, &text,
		    p->e) == -1)
			goto out_free;
		if (text == NULL) {
			fail(p->e, REC_ERR_MISSING, "%s: required", path);
			goto out_free;
		}
		at = json_object_get(turn, "at");
		if (at != NULL && !json_is_null(at) && !json_is_string(at) &&
		    !json_is_number(at)) {
			fail(p->e, REC_ERR_FIELD,
			    "transcript[%zu].at: expected a string or a "
			    "number, got %s", i, type_name(at));
			goto out_free;
		}
		if (text_append(&b, speaker, strlen(speaker)) == -1 ||
		    text_append(&b, ": ", 2) == -1 ||
		    text_append(&b, text, strlen(text)) == -1 ||
		    text_append(&b, "\n", 1) == -1) {
			fail(p->e, REC_ERR_TOO_BIG, "transcript: too large");
			goto out_free;
		}
	}
	p->r->transcript = b.s;		/* NULL for an empty array */
	return 0;
out_free:
	free(b.s);
	return -1;
}

static int
parse_caller(struct parse *p)
{
	struct record	*r = p->r;
	json_t		*caller;
	const char	*phone, *email, *c, *region;
	char		 why[128];

	if (get_object(p->root, "caller", "caller", &caller, p->e) == -1)
		return -1;
	if (caller == NULL)
		return fail(p->e, REC_ERR_MISSING, "caller: required");
	if (get_string(caller, "phone", "caller.phone", TEXT_LINE, false,
	    &phone, p->e) == -1 ||
	    get_string(caller, "email", "caller.email", TEXT_LINE, false,
	    &email, p->e) == -1 ||
	    get_string(caller, "contact_id", "caller.contact_id", TEXT_LINE,
	    false, &r->contact_id, p->e) == -1 ||
	    get_string(caller, "name", "caller.name", TEXT_LINE, false,
	    &r->name, p->e) == -1)
		return -1;
	if (phone == NULL && email == NULL && r->contact_id == NULL)
		return fail(p->e, REC_ERR_MISSING,
		    "caller: needs phone, email or contact_id");
	region = p->ws != NULL && p->ws->default_region != NULL ?
	    p->ws->default_region : "US";
	if (phone != NULL && phone_normalize(phone, region, r->phone,
	    sizeof(r->phone), why, sizeof(why)) == -1)
		return fail(p->e, REC_ERR_PHONE, "caller.phone: %s", why);
	if (email != NULL && email_normalize(email, r->email,
	    sizeof(r->email), why, sizeof(why)) == -1)
		return fail(p->e, REC_ERR_EMAIL, "caller.email: %s", why);
	if ((c = r->contact_id) != NULL) {
		if (strlen(c) != 24)
			return fail(p->e, REC_ERR_FIELD,
			    "caller.contact_id: expected 24 lower-case hex "
			    "digits");
		for (; *c != '\0'; c++)
			if (!isdigit((unsigned char)*c) &&
			    !(*c >= 'a' && *c <= 'f'))
				return fail(p->e, REC_ERR_FIELD,
				    "caller.contact_id: expected 24 "
				    "lower-case hex digits");
	}
	return 0;
}

static int
parse_tags(struct parse *p)
{
	json_t	*tags, *t;
	size_t	 i;

	if ((tags = json_object_get(p->root, "tags")) == NULL ||
	    json_is_null(tags))
		return 0;
	if (!json_is_array(tags))
		return fail(p->e, REC_ERR_FIELD,
		    "tags: expected an array, got %s", type_name(tags));
	if (json_array_size(tags) > REC_MAX_TAGS)
		return fail(p->e, REC_ERR_FIELD, "tags: more than %d tags",
		    REC_MAX_TAGS);
	json_array_foreach(tags, i, t) {
		if (!json_is_string(t))
			return fail(p->e, REC_ERR_FIELD,
			    "tags[%zu]: expected a string, got %s", i,
			    type_name(t));
		if (json_string_length(t) == 0)
			return fail(p->e, REC_ERR_FIELD, "tags[%zu]: empty", i);
		if (json_string_length(t) > REC_MAX_TAG)
			return fail(p->e, REC_ERR_FIELD,
			    "tags[%zu]: longer than %d bytes", i, REC_MAX_TAG);
		if (has_control(json_string_value(t), json_string_length(t),
		    TEXT_LINE))
			return fail(p->e, REC_ERR_FIELD,
			    "tags[%zu]: control character", i);
		p->r->tags[p->r->ntags++] = json_string_value(t);
	}
	return 0;
}

static int
parse_assign(struct parse *p)
{
	json_t		*assign;
	const char	*team, *admin;

	if (get_object(p->root, "assign", "assign", &assign, p->e) == -1)
		return -1;
	if (assign == NULL)
		return 0;
	if (get_id(p, assign, "team_id", "assign.team_id", "_assign_team_id",
	    &team) == -1 ||
	    get_id(p, assign, "admin_id", "assign.admin_id",
	    "_assign_admin_id", &admin) == -1)
		return -1;
	if ((team == NULL) == (admin == NULL))
		return fail(p->e, REC_ERR_FIELD,
		    "assign: expected exactly one of team_id, admin_id");
	p->r->assign_kind = team != NULL ? 't' : 'a';
	p->r->assign_id = team != NULL ? team : admin;
	return 0;
}

static bool
attribute_allowed(const struct conf_ws *ws, const char *name)
{
	size_t	 i;

	if (ws == NULL)
		return false;
	for (i = 0; i < ws->nallowed_attributes && i < CONF_MAX_LIST; i++)
		if (ws->allowed_attributes[i] != NULL &&
		    strcmp(ws->allowed_attributes[i], name) == 0)
			return true;
	return false;
}

static int
parse_attributes(struct parse *p)
{
	json_t		*attrs, *v;
	const char	*name;

	if (get_object(p->root, "attributes", "attributes", &attrs,
	    p->e) == -1)
		return -1;
	if (attrs == NULL)
		return 0;
	if (json_object_size(attrs) > REC_MAX_ATTRS)
		return fail(p->e, REC_ERR_FIELD,
		    "attributes: more than %d attributes", REC_MAX_ATTRS);
	json_object_foreach(attrs, name, v) {
		if (!attribute_allowed(p->ws, name))
			return fail(p->e, REC_ERR_ATTR,
			    "attributes.%.64s: not in allowed_attributes",
			    name);
		if (!json_is_string(v) && !json_is_number(v) &&
		    !json_is_boolean(v) && !json_is_null(v))
			return fail(p->e, REC_ERR_FIELD,
			    "attributes.%.64s: expected a string, number, "
			    "boolean or null, got %s", name, type_name(v));
		if (json_is_string(v) && has_control(json_string_value(v),
		    json_string_length(v), TEXT_LINE))
			return fail(p->e, REC_ERR_FIELD,
			    "attributes.%.64s: control character", name);
		p->r->attrs[p->r->nattrs].name = name;
		p->r->attrs[p->r->nattrs].value = v;
		p->r->nattrs++;
	}
	return 0;
}

static int
parse_call(struct parse *p)
{
	struct record	*r = p->r;
	json_t		*v;

	if (get_string(p->root, "summary", "summary", TEXT_MULTI, true,
	    &r->summary, p->e) == -1 ||
	    parse_caller(p) == -1 ||
	    get_key(p->root, "call_id", &r->call_id, p->e) == -1)
		return -1;
	if (r->key == NULL)
		r->key = r->call_id;
	if (r->key == NULL)
		return fail(p->e, REC_ERR_MISSING,
		    "key: a call needs key or call_id");

	if (get_string(p->root, "started_at", "started_at", TEXT_LINE, false,
	    &r->started_at, p->e) == -1)
		return -1;
	if (r->started_at != NULL &&
	    parse_rfc3339(r->started_at, &r->started_unix) == -1)
		return fail(p->e, REC_ERR_FIELD,
		    "started_at: expected an RFC 3339 date-time");

	if ((v = json_object_get(p->root, "duration_s")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_number(v))
			return fail(p->e, REC_ERR_FIELD,
			    "duration_s: expected a number, got %s",
			    type_name(v));
		if (json_number_value(v) < 0)
			return fail(p->e, REC_ERR_FIELD,
			    "duration_s: negative");
		r->duration_s = json_number_value(v);
	}

	if (get_string(p->root, "direction", "direction", TEXT_LINE, false,
	    &r->direction, p->e) == -1)
		return -1;
	if (r->direction != NULL && strcmp(r->direction, "inbound") != 0 &&
	    strcmp(r->direction, "outbound") != 0)
		return fail(p->e, REC_ERR_FIELD,
		    "direction: expected inbound or outbound");

	if (get_string(p->root, "agent", "agent", TEXT_LINE, false,
	    &r->agent, p->e) == -1 ||
	    get_string(p->root, "recording_url", "recording_url", TEXT_LINE,
	    false, &r->recording_url, p->e) == -1)
		return -1;
	if (r->recording_url != NULL && strncmp(r->recording_url, "https://",
	    8) != 0 && strncmp(r->recording_url, "http://", 7) != 0)
		return fail(p->e, REC_ERR_FIELD,
		    "recording_url: expected an http or https URL");
	if ((v = json_object_get(p->root, "transcript")) != NULL &&
	    !json_is_null(v) && parse_transcript(p, v) == -1)
		return -1;
	if (get_string(p->root, "outcome", "outcome", TEXT_LINE, false,
	    &r->outcome, p->e) == -1 ||
	    get_string(p->root, "category", "category", TEXT_LINE, false,
	    &r->category, p->e) == -1)
		return -1;

	if ((v = json_object_get(p->root, "escalate")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_boolean(v))
			return fail(p->e, REC_ERR_FIELD,
			    "escalate: expected a boolean, got %s",
			    type_name(v));
		r->escalate = json_is_true(v);
	}
	if ((v = json_object_get(p->root, "nps")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_integer(v))
			return fail(p->e, REC_ERR_FIELD,
			    "nps: expected an integer, got %s", type_name(v));
		if (json_integer_value(v) < 0 || json_integer_value(v) > 10)
			return fail(p->e, REC_ERR_FIELD,
			    "nps: expected 0 to 10");
		r->nps = (int)json_integer_value(v);
	}

	if (parse_tags(p) == -1 || parse_assign(p) == -1 ||
	    get_id(p, p->root, "conversation_id", "conversation_id",
	    "_conversation_id", &r->conversation_id) == -1 ||
	    parse_attributes(p) == -1)
		return -1;
	return 0;
}

/* note and reply: {key, conversation_id, body}. */
static int
parse_message(struct parse *p, const char *type)
{
	struct record	*r = p->r;

	if (r->key == NULL)
		return fail(p->e, REC_ERR_MISSING, "key: required for a %s",
		    type);
	if (get_id(p, p->root, "conversation_id", "conversation_id",
	    "_conversation_id", &r->conversation_id) == -1)
		return -1;
	if (r->conversation_id == NULL)
		return fail(p->e, REC_ERR_MISSING, "conversation_id: required");
	if (get_string(p->root, "body", "body", TEXT_MULTI, true, &r->body,
	    p->e) == -1)
		return -1;
	if (r->type == REC_REPLY &&
	    (p->ws == NULL || !p->ws->allow_public_replies))
		return fail(p->e, REC_ERR_PUBLIC,
		    "type: public replies are disabled for this workspace");
	return 0;
}

/*
 * A payload jansson refused, in our words: its messages quote the text
 * ("near '...'") and speak its own terms (JSON_ALLOW_NUL).  The line is
 * the payload's (repairs never add or remove a line break); the column
 * only when nothing was repaired, since a repair moves the bytes.
 */
static void
json_fail(struct rec_err *e, const json_error_t *jerr, const char *payload,
    bool repaired)
{
	const char	*what, *s;
	char		 where[64];

	for (s = payload; *s == ' ' || *s == '\t' || *s == '\n' ||
	    *s == '\r'; s++)
		;
	switch (json_error_code(jerr)) {
	case json_error_premature_end_of_input:
		what = "the JSON text ends early (truncated?)";
		break;
	case json_error_end_of_input_expected:
		what = "more text after the JSON value";
		break;
	case json_error_invalid_utf8:
		what = "a byte that is not UTF-8 outside a string";
		break;
	case json_error_stack_overflow:
		what = "nested too deeply";
		break;
	case json_error_duplicate_key:
		what = "duplicate member name";
		break;
	case json_error_numeric_overflow:
		what = "a number out of range";
		break;
	case json_error_out_of_memory:
		fail(e, REC_ERR_TOO_BIG, "payload: out of memory");
		return;
	default:
		what = *s != '{' && *s != '[' && *s != '\0' ?
		    "not a JSON object" : "not valid JSON";
		break;
	}
	if (*s == '\0') {
		what = "empty";
		where[0] = '\0';
	} else if (repaired)
		snprintf(where, sizeof(where), " (line %d)", jerr->line);
	else
		snprintf(where, sizeof(where), " (line %d, column %d)",
		    jerr->line, jerr->column);
	fail(e, REC_ERR_JSON, "payload: %s%s", what, where);
}

int
record_parse(const char *payload, const struct conf_ws *ws,
    struct record *r, struct rec_err *e)
{
	return record_parse_row(payload, NULL, ws, r, e);
}

/*
 * The row's record_key is the record's key (docs/contract.md section 1): a
 * producer inserting with SQL names the record there, and needs no key
 * in the payload.  A payload that names itself otherwise is ambiguous
 * (which key would a replay or a dlq edit use?): it is refused, once the
 * payload is known to be well formed, so a broken key or call_id keeps
 * its own precise reason.  The key named in the payload, or NULL.
 */
static const char *
payload_key(struct parse *p)
{
	json_t	*v;

	if (p->r->key != NULL)
		return p->r->key;
	v = json_object_get(p->root, "call_id");
	if (p->r->type == REC_CALL && v != NULL && !json_is_null(v))
		return json_is_string(v) ? json_string_value(v) : "";
	return NULL;
}

static int
check_row_key(struct parse *p, const char *row_key)
{
	bool	 haskey = json_is_string(json_object_get(p->root, "key"));

	if (strcmp(p->r->key, row_key) != 0)
		return fail(p->e, REC_ERR_KEY, haskey ? "key: differs from "
		    "the row's record_key" : "call_id: differs from the "
		    "row's record_key, and the payload has no key");
	p->r->key = row_key;
	return 0;
}

int
record_parse_row(const char *payload, const char *row_key,
    const struct conf_ws *ws, struct record *r, struct rec_err *e)
{
	struct parse	 p = { NULL, r, e, ws };
	json_error_t	 jerr;
	const char	*type;
	char		*fixed = NULL;
	size_t		 len, fixedlen;
	int		 rc;

	memset(r, 0, sizeof(*r));
	r->duration_s = -1;
	r->escalate = -1;
	r->nps = -1;
	e->reason = NULL;
	e->message[0] = '\0';

	if (payload == NULL)
		return fail(e, REC_ERR_JSON, "payload: none");
	if ((len = strnlen(payload, REC_MAX_PAYLOAD + 1)) > REC_MAX_PAYLOAD)
		return fail(e, REC_ERR_TOO_BIG, "payload: larger than %d bytes",
		    REC_MAX_PAYLOAD);
	if ((rc = bytes_repair(payload, len, &fixed, &fixedlen,
	    &r->fix)) == -1)
		return fail(e, REC_ERR_TOO_BIG, "payload: out of memory");
	/* Duplicate names would let two readers see two different records. */
	r->root = rc == 1 ? json_loadb(fixed, fixedlen, JSON_REJECT_DUPLICATES,
	    &jerr) : json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
	free(fixed);
	if (r->root == NULL) {
		json_fail(e, &jerr, payload, bytes_fixed(&r->fix));
		goto out_free;
	}
	p.root = r->root;
	if (!json_is_object(r->root)) {
		fail(e, REC_ERR_FIELD, "payload: expected an object, got %s",
		    type_name(r->root));
		goto out_free;
	}
	if (get_string(r->root, "type", "type", TEXT_LINE, true, &type,
	    e) == -1)
		goto out_free;
	if (strcmp(type, "call") == 0)
		r->type = REC_CALL;
	else if (strcmp(type, "note") == 0)
		r->type = REC_NOTE;
	else if (strcmp(type, "reply") == 0)
		r->type = REC_REPLY;
	else {
		fail(e, REC_ERR_TYPE,
		    "type: expected call, note or reply");
		goto out_free;
	}
	if (get_key(r->root, "key", &r->key, e) == -1 ||
	    get_string(r->root, "workspace", "workspace", TEXT_LINE, false,
	    &r->workspace, e) == -1)
		goto out_free;
	if (r->workspace != NULL && *r->workspace == '\0') {
		fail(e, REC_ERR_FIELD, "workspace: empty");
		goto out_free;
	}
	if (row_key != NULL && *row_key == '\0')
		row_key = NULL;
	if (row_key != NULL && payload_key(&p) == NULL)
		r->key = row_key;
	if ((r->type == REC_CALL ? parse_call(&p) :
	    parse_message(&p, type)) == -1)
		goto out_free;
	if (row_key != NULL && check_row_key(&p, row_key) == -1)
		goto out_free;
	return 0;
out_free:
	record_free(r);
	return -1;
}

void
record_free(struct record *r)
{
	if (r == NULL)
		return;
	json_decref(r->root);		/* NULL-safe */
	free(r->transcript);
	memset(r, 0, sizeof(*r));
}

const char *
record_lane(const struct record *r, char *buf, size_t bufsz)
{
	if (bufsz == 0)
		return buf;
	/* One conversation is one lane, whoever writes to it. */
	if (r->type != REC_CALL || r->conversation_id != NULL)
		snprintf(buf, bufsz, "v:%s",
		    r->conversation_id ? r->conversation_id : "");
	else if (r->phone[0] != '\0')
		snprintf(buf, bufsz, "p:%s", r->phone);
	else if (r->email[0] != '\0')
		snprintf(buf, bufsz, "e:%s", r->email);
	else if (r->contact_id != NULL)
		snprintf(buf, bufsz, "c:%s", r->contact_id);
	else	/* not from record_parse: give it a lane of its own */
		snprintf(buf, bufsz, "k:%s", r->key ? r->key : "");
	return buf;
}

const char *
record_key_of(json_t *root)
{
	json_t	*v;

	if (!json_is_object(root))
		return NULL;
	if (json_is_string(v = json_object_get(root, "key")))
		return json_string_value(v);
	if (json_is_string(v = json_object_get(root, "call_id")))
		return json_string_value(v);
	return NULL;
}
