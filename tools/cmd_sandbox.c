/*
 * cmd_sandbox: callsync sandbox-check, the live check against an Intercom
 * development workspace (CONTRACT.md 7).  It makes what the worker makes
 * (a lead with a unique marker, a conversation, a note, a tag, a title and
 * attributes), reads each back and reports how Intercom stored it (body
 * as sent and as stored), measures how long contact and conversation
 * search take to find new objects, reads the rate-limit headers and the
 * clock offset from Date, and removes what it made.  Everything the
 * simulator marks unverified or invented (sim/README.md) is here to be
 * seen on a real workspace: plain-text conversation bodies turned into
 * HTML, note markup re-serialised, formatted_phone, search lag.
 *
 * A workspace that looks like production is refused unless --force: its
 * app name has none of dev, test, sandbox, staging, demo, and contact
 * search counts 100 contacts or more.  Every write is in the audit log
 * (step sandbox_check), like the worker's.  The polls wait 1 s between
 * tries, at most SB_LAG_MAX seconds per search.
 */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "audit.h"
#include "clock.h"
#include "tool.h"

#define SB_TIMEOUT	10L
#define SB_MAX_BODY	(8 * 1024 * 1024)
#define SB_LAG_MAX	180	/* seconds a search is polled */
#define SB_PROD_CONTACTS 100

static const struct tool_cmd sandbox_c = { "sandbox-check", NULL,
	"sandbox-check [--workspace W] [--json] [--force]",
	"Check a workspace's Intercom (a development workspace) live: create\n"
	"a test lead with a unique marker, a conversation, a note, a tag, a\n"
	"title and attributes; read each back and report how Intercom stored\n"
	"it (bodies as sent and as stored); measure contact and conversation\n"
	"search lag, the rate-limit headers and the clock offset from Date;\n"
	"then delete what it made.  Every write is audited.  A workspace that\n"
	"looks like production (no dev, test, sandbox, staging or demo in its\n"
	"app name, and 100 contacts or more) is refused unless --force.\n"
	"--json prints one JSON document.  Exit 0 when every check passed." };

struct sb_resp {
	long		 status;
	json_t		*body;		/* new reference, or NULL */
	long		 ms;
	char		 date[64];
	long		 rl_limit, rl_remaining, rl_reset;	/* -1 absent */
};

struct sb {
	struct tool	*t;
	struct conf_ws	*ws;
	bool		 json;
	int		 fails, warns;
	json_t		*doc;		/* the report */
	json_t		*checks;
	json_t		*rate;		/* last rate-limit headers seen */
};

static void
sb_line(struct sb *s, const char *result, const char *name, json_t *detail,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* One check: a line, or an object of the report; detail is stolen. */
static void
sb_line(struct sb *s, const char *result, const char *name, json_t *detail,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (strcmp(result, "fail") == 0)
		s->fails++;
	else if (strcmp(result, "warn") == 0)
		s->warns++;
	if (!s->json)
		printf("%-4s %s: %s\n", strcmp(result, "ok") == 0 ? "ok" :
		    strcmp(result, "warn") == 0 ? "WARN" :
		    strcmp(result, "skip") == 0 ? "skip" : "FAIL", name,
		    msg ? msg : "?");
	json_array_append_new(s->checks, json_pack("{s:s,s:s,s:s,s:o}",
	    "check", name, "result", result, "message", msg ? msg : "?",
	    "detail", detail ? detail : json_object()));
	free(msg);
}

/* Response headers: Date and the rate-limit ones. */
static size_t
sb_header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct sb_resp	*r = arg;
	size_t		 len = size * n;
	char		 line[256];

	if (len >= sizeof(line))
		return len;
	memcpy(line, buf, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "Date:", 5) == 0)
		snprintf(r->date, sizeof(r->date), "%s", line + 5 +
		    strspn(line + 5, " "));
	else if (strncasecmp(line, "X-RateLimit-Limit:", 18) == 0)
		r->rl_limit = strtol(line + 18, NULL, 10);
	else if (strncasecmp(line, "X-RateLimit-Remaining:", 22) == 0)
		r->rl_remaining = strtol(line + 22, NULL, 10);
	else if (strncasecmp(line, "X-RateLimit-Reset:", 18) == 0)
		r->rl_reset = strtol(line + 18, NULL, 10);
	return len;
}

static void
sb_audit(struct sb *s, const char *method, const char *path,
    const char *text, const struct sb_resp *r)
{
	struct audit_row	 a;
	json_t			*v = json_object_get(r->body, "id");
	char			 id[64] = "";

	if (json_is_string(v))
		snprintf(id, sizeof(id), "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(id, sizeof(id), "%lld",
		    (long long)json_integer_value(v));
	memset(&a, 0, sizeof(a));
	a.kind = "write";
	a.workspace = s->ws->name;
	a.step = "sandbox_check";
	a.method = method;
	a.path = path;
	a.http_status = r->status;
	a.object_id = id[0] ? id : NULL;
	a.admin_id = s->ws->admin_id;
	a.duration_ms = r->ms;
	a.body = text;
	a.store_body = s->ws->audit_bodies;
	if (db_begin(&s->t->db) == -1 || audit_append(&s->t->db, &a) == -1 ||
	    db_commit(&s->t->db) == -1) {
		db_rollback(&s->t->db);
		tool_warn("audit row for %s %s not written: %s", method, path,
		    db_errmsg(&s->t->db));
	}
}

/*
 * One request; body borrowed (NULL: none).  -1 with err when no answer
 * came.  Writes are audited.
 */
static int
sb_call(struct sb *s, const char *method, const char *path, json_t *body,
    struct sb_resp *r, char *err, size_t errsz)
{
	CURL			*c;
	CURLcode		 res;
	struct curl_slist	*h = NULL;
	struct tool_buf		 b = { NULL, 0, SB_MAX_BODY };
	char			 url[1024], hdr[4096], *text = NULL;
	double			 total = 0;
	int			 rc = -1;

	json_decref(r->body);
	memset(r, 0, sizeof(*r));
	r->rl_limit = r->rl_remaining = r->rl_reset = -1;
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "cannot initialise libcurl");
		free(text);
		return -1;
	}
	snprintf(url, sizeof(url), "%s%s", s->ws->api_base, path);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
	    s->ws->token != NULL ? s->ws->token : "");
	h = curl_slist_append(h, hdr);
	memset(hdr, 0, sizeof(hdr));
	snprintf(hdr, sizeof(hdr), "Intercom-Version: %s",
	    s->ws->intercom_version ? s->ws->intercom_version : "2.16");
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, SB_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, SB_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "callsync-sandbox-check");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tool_buf_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sb_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (s->ws->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ws->ca_file);
	if (text != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	if ((res = curl_easy_perform(c)) != CURLE_OK) {
		snprintf(err, errsz, "%s %s: %s", method, path,
		    curl_easy_strerror(res));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &total);
	r->ms = (long)(total * 1000);
	if (b.p != NULL)
		r->body = json_loads(b.p, 0, NULL);
	if (r->rl_limit >= 0) {
		json_decref(s->rate);
		s->rate = json_pack("{s:I,s:I,s:I}", "limit",
		    (json_int_t)r->rl_limit, "remaining",
		    (json_int_t)r->rl_remaining, "reset",
		    (json_int_t)r->rl_reset);
	}
	if (strcmp(method, "GET") != 0 && strstr(path, "/search") == NULL)
		sb_audit(s, method, path, text, r);
	rc = 0;
out:
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(b.p);
	free(text);
	return rc;
}

static const char *
sb_msg(const struct sb_resp *r)
{
	const char	*m = json_string_value(json_object_get(json_array_get(
	    json_object_get(r->body, "errors"), 0), "message"));

	return m ? m : "";
}

static const char *
sb_str(json_t *o, const char *k)
{
	const char	*v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

/* An id (string or number) of o as text into buf ("" when none). */
static const char *
sb_id(json_t *o, const char *k, char *buf, size_t sz)
{
	json_t	*v = json_object_get(o, k);

	buf[0] = '\0';
	if (json_is_string(v))
		snprintf(buf, sz, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, sz, "%lld", (long long)json_integer_value(v));
	return buf;
}

/*
 * Poll path with query (borrowed) until the answer's list under key
 * holds an item: the seconds it took, or -1 (not found within
 * SB_LAG_MAX, or an error in err).
 */
static double
sb_lag(struct sb *s, const char *path, json_t *query, const char *key,
    char *err, size_t errsz)
{
	struct sb_resp	 r = { 0 };
	struct timespec	 one = { 1, 0 };
	double		 t0 = (clock_mono_ms() / 1e3), took = -1;

	err[0] = '\0';
	for (;;) {
		if (sb_call(s, "POST", path, query, &r, err, errsz) == -1)
			break;
		if (r.status != 200) {
			snprintf(err, errsz, "POST %s: HTTP %ld %s", path,
			    r.status, sb_msg(&r));
			break;
		}
		if (json_array_size(json_object_get(r.body, key)) > 0) {
			took = (clock_mono_ms() / 1e3) - t0;
			break;
		}
		if ((clock_mono_ms() / 1e3) - t0 > SB_LAG_MAX) {
			snprintf(err, errsz, "not found after %d s",
			    SB_LAG_MAX);
			break;
		}
		nanosleep(&one, NULL);
	}
	json_decref(r.body);
	return took;
}

/* Does the workspace's app look like a development one? */
static bool
sb_dev_name(const char *name)
{
	static const char *const hints[] = { "dev", "test", "sandbox",
	    "staging", "demo", NULL };
	size_t	 i;

	for (i = 0; hints[i] != NULL; i++)
		if (strcasestr(name, hints[i]) != NULL)
			return true;
	return false;
}

/* The clock offset (Intercom's Date minus ours, seconds) or INT64_MIN. */
static int64_t
sb_offset(const char *date)
{
	struct tm	 tm;
	const char	*end;

	memset(&tm, 0, sizeof(tm));
	if (date[0] == '\0' || (end = strptime(date,
	    "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL)
		return INT64_MIN;
	return (int64_t)timegm(&tm) - clock_wall_s();
}

/* Does GET path list (under data) an attribute called name? */
static bool
sb_has_attr(struct sb *s, const char *path, const char *name)
{
	struct sb_resp	 r = { 0 };
	json_t		*a;
	size_t		 i;
	char		 err[256];
	bool		 has = false;

	if (sb_call(s, "GET", path, NULL, &r, err, sizeof(err)) == 0 &&
	    r.status == 200)
		json_array_foreach(json_object_get(r.body, "data"), i, a)
			if (strcmp(sb_str(a, "name"), name) == 0)
				has = true;
	json_decref(r.body);
	return has;
}

/* The run itself; ids of what it made go into made for cleaning up. */
static void
sb_run(struct sb *s, bool force, json_t *made)
{
	struct sb_resp	 r = { 0 };
	unsigned char	 rnd[8];
	char		 marker[24], phone[40], e164[24], email[96], name[96];
	char		 err[512], cid[64] = "", conv[64] = "", tag[64] = "";
	char		 path[160], tname[64], *sent, app[256];
	const char	*stored;
	json_t		*q, *o, *parts, *p;
	double		 lag;
	int64_t		 off;
	json_int_t	 total;
	size_t		 i;
	bool		 found;

	/* Who and where; the clock. */
	if (sb_call(s, "GET", "/me", NULL, &r, err, sizeof(err)) == -1 ||
	    r.status != 200) {
		sb_line(s, "fail", "token", NULL, "GET /me: %s", r.status ?
		    sb_msg(&r) : err);
		goto out;
	}
	o = json_object_get(r.body, "app");
	/* r.body dies at the next request: keep the name. */
	snprintf(app, sizeof(app), "%s", sb_str(o, "name"));
	json_object_set_new(s->doc, "app", json_pack("{s:s,s:s,s:s}",
	    "name", app, "id_code", sb_str(o, "id_code"), "region",
	    sb_str(o, "region")));
	sb_line(s, "ok", "token", NULL, "admin %s, app %s (%s)",
	    sb_id(r.body, "id", err, sizeof(err)), app, sb_str(o, "id_code"));
	if ((off = sb_offset(r.date)) == INT64_MIN)
		sb_line(s, "warn", "clock", json_pack("{s:s}", "date", r.date),
		    "no usable Date header (%s)", r.date[0] ? r.date : "none");
	else
		sb_line(s, llabs(off) > 5 ? "warn" : "ok", "clock",
		    json_pack("{s:s,s:I}", "date", r.date, "offset_s",
		    (json_int_t)off), "Intercom's Date is %+" PRId64 " s from "
		    "this host's clock", off);

	/* Production guard. */
	q = json_pack("{s:{s:s,s:s,s:i},s:{s:i}}", "query", "field",
	    "created_at", "operator", ">", "value", 0, "pagination",
	    "per_page", 1);
	if (sb_call(s, "POST", "/contacts/search", q, &r, err,
	    sizeof(err)) == -1 || r.status != 200) {
		json_decref(q);
		sb_line(s, "fail", "workspace", NULL, "counting contacts: %s",
		    r.status ? sb_msg(&r) : err);
		goto out;
	}
	json_decref(q);
	total = json_integer_value(json_object_get(r.body, "total_count"));
	if (!sb_dev_name(app) && total >= SB_PROD_CONTACTS && !force) {
		sb_line(s, "fail", "workspace", json_pack("{s:s,s:I}", "app",
		    app, "contacts", total), "app '%s' has %" JSON_INTEGER_FORMAT
		    " contacts and no dev/test/sandbox/staging/demo in its "
		    "name: it looks like production; nothing written (--force "
		    "to check it anyway)", app, total);
		goto out;
	}
	sb_line(s, "ok", "workspace", json_pack("{s:s,s:I,s:b}", "app", app,
	    "contacts", total, "forced", force), "app '%s', %"
	    JSON_INTEGER_FORMAT " contacts%s", app, total, force ?
	    " (--force)" : "");

	/* A lead with a unique marker and a formatted phone. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		sb_line(s, "fail", "contact", NULL, "no random bytes");
		goto out;
	}
	snprintf(marker, sizeof(marker), "cs%02x%02x%02x%02x%02x%02x%02x%02x",
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	json_object_set_new(s->doc, "marker", json_string(marker));
	/* 555-0100..0199: numbers reserved for fiction. */
	snprintf(phone, sizeof(phone), "+1 415-555-01%02u", rnd[0] % 100);
	snprintf(e164, sizeof(e164), "+141555501%02u", rnd[0] % 100);
	snprintf(email, sizeof(email), "sandbox-%s@example.com", marker);
	snprintf(name, sizeof(name), "callsync sandbox check %s", marker);
	q = json_pack("{s:s,s:s,s:s,s:s}", "role", "lead", "name", name,
	    "email", email, "phone", phone);
	if (sb_call(s, "POST", "/contacts", q, &r, err, sizeof(err)) == -1 ||
	    r.status != 200 || sb_id(r.body, "id", cid, sizeof(cid))[0] ==
	    '\0') {
		json_decref(q);
		sb_line(s, "fail", "contact", NULL, "POST /contacts: %s",
		    r.status ? sb_msg(&r) : err);
		goto out;
	}
	json_decref(q);
	json_object_set_new(made, "contact", json_string(cid));
	stored = sb_str(r.body, "phone");
	sb_line(s, strcmp(stored, phone) == 0 ? "ok" : "warn", "contact",
	    json_pack("{s:s,s:s,s:s,s:s}", "id", cid, "role",
	    sb_str(r.body, "role"), "phone_sent", phone, "phone_stored",
	    stored), "lead %s; phone sent '%s', stored '%s'", cid, phone,
	    stored);

	/* Contact search lag, then the phone searches the worker makes. */
	q = json_pack("{s:{s:s,s:s,s:s}}", "query", "field", "email",
	    "operator", "=", "value", email);
	lag = sb_lag(s, "/contacts/search", q, "data", err, sizeof(err));
	json_decref(q);
	if (lag < 0)
		sb_line(s, "fail", "contact_search_lag", NULL, "%s", err);
	else
		sb_line(s, "ok", "contact_search_lag", json_pack("{s:f}",
		    "seconds", lag), "found by email after %.1f s", lag);
	for (i = 0; i < 2 && lag >= 0; i++) {
		q = json_pack("{s:{s:s,s:s,s:s}}", "query", "field", i == 0 ?
		    "phone" : "formatted_phone", "operator", "=", "value",
		    e164);
		found = sb_call(s, "POST", "/contacts/search", q, &r, err,
		    sizeof(err)) == 0 && r.status == 200 &&
		    json_array_size(json_object_get(r.body, "data")) > 0;
		json_decref(q);
		sb_line(s, found || i == 0 ? "ok" : "warn", i == 0 ?
		    "phone_search" :
		    "formatted_phone_search", json_pack("{s:s,s:b,s:I}",
		    "value", e164, "found", found, "status",
		    (json_int_t)r.status), "%s = '%s' %s (HTTP %ld)", i == 0 ?
		    "phone" : "formatted_phone", e164, found ? "finds the lead "
		    "stored as '+1 415-555-01..'" : "does not find it",
		    r.status);
	}

	/* A conversation, as plain text with markup and line breaks. */
	if (asprintf(&sent, "Sandbox check %s\n\nA <b>tag</b> & an entity; "
	    "line one\nline two", marker) == -1)
		goto out;
	q = json_pack("{s:{s:s,s:s},s:s}", "from", "type", "contact", "id",
	    cid, "body", sent);
	if (sb_call(s, "POST", "/conversations", q, &r, err,
	    sizeof(err)) == -1 || r.status != 200 ||
	    sb_id(r.body, "conversation_id", conv, sizeof(conv))[0] == '\0') {
		json_decref(q);
		sb_line(s, "fail", "conversation", NULL, "POST /conversations: "
		    "%s", r.status ? sb_msg(&r) : err);
		free(sent);
		goto out;
	}
	json_decref(q);
	json_object_set_new(made, "conversation", json_string(conv));
	snprintf(path, sizeof(path), "/conversations/%s", conv);
	if (sb_call(s, "GET", path, NULL, &r, err, sizeof(err)) == 0 &&
	    r.status == 200) {
		stored = sb_str(json_object_get(r.body, "source"), "body");
		sb_line(s, "ok", "conversation_body", json_pack("{s:s,s:s,s:s}",
		    "id", conv, "sent", sent, "stored", stored),
		    "sent as plain text, stored as: %s", stored);
	} else
		sb_line(s, "fail", "conversation_body", NULL, "GET %s: %s", path,
		    r.status ? sb_msg(&r) : err);
	free(sent);
	q = json_pack("{s:{s:s,s:s,s:s}}", "query", "field", "source.body",
	    "operator", "=", "value", marker);
	lag = sb_lag(s, "/conversations/search", q, "conversations", err,
	    sizeof(err));
	json_decref(q);
	if (lag < 0)
		sb_line(s, "fail", "conversation_search_lag", NULL, "%s", err);
	else
		sb_line(s, "ok", "conversation_search_lag", json_pack("{s:f}",
		    "seconds", lag), "found by marker after %.1f s", lag);

	/* A note, in HTML. */
	if (asprintf(&sent, "<p>Note %s: <b>bold</b> &amp; &quot;quoted&quot;"
	    "<br>second line</p>", marker) == -1)
		goto out;
	q = json_pack("{s:s,s:s,s:s,s:s}", "message_type", "note", "type",
	    "admin", "admin_id", s->ws->admin_id ? s->ws->admin_id : "",
	    "body", sent);
	snprintf(path, sizeof(path), "/conversations/%s/reply", conv);
	if (sb_call(s, "POST", path, q, &r, err, sizeof(err)) == 0 &&
	    r.status == 200) {
		parts = json_object_get(json_object_get(r.body,
		    "conversation_parts"), "conversation_parts");
		p = json_array_get(parts, json_array_size(parts) - 1);
		stored = sb_str(p, "body");
		sb_line(s, strcmp(stored, sent) == 0 ? "ok" : "warn", "note",
		    json_pack("{s:s,s:s}", "sent", sent, "stored", stored),
		    "%s: sent %s, stored %s", strcmp(stored, sent) == 0 ?
		    "stored as sent" : "stored differently", sent, stored);
	} else
		sb_line(s, "fail", "note", NULL, "POST %s: %s", path, r.status ?
		    sb_msg(&r) : err);
	json_decref(q);
	free(sent);

	/* A tag, applied and read back. */
	snprintf(tname, sizeof(tname), "callsync-check-%s", marker);
	q = json_pack("{s:s}", "name", tname);
	if (sb_call(s, "POST", "/tags", q, &r, err, sizeof(err)) == 0 &&
	    r.status == 200 && sb_id(r.body, "id", tag, sizeof(tag))[0]) {
		json_object_set_new(made, "tag", json_string(tag));
		json_decref(q);
		q = json_pack("{s:s,s:s}", "id", tag, "admin_id",
		    s->ws->admin_id ? s->ws->admin_id : "");
		snprintf(path, sizeof(path), "/conversations/%s/tags", conv);
		found = false;
		if (sb_call(s, "POST", path, q, &r, err, sizeof(err)) == 0 &&
		    r.status == 200) {
			snprintf(path, sizeof(path), "/conversations/%s", conv);
			if (sb_call(s, "GET", path, NULL, &r, err,
			    sizeof(err)) == 0)
				json_array_foreach(json_object_get(
				    json_object_get(r.body, "tags"), "tags"),
				    i, p)
					if (strcmp(sb_str(p, "name"),
					    tname) == 0)
						found = true;
		}
		sb_line(s, found ? "ok" : "fail", "tag", json_pack("{s:s,s:s}",
		    "name", tname, "id", tag), "%s %s", tname, found ?
		    "applied and read back" : "not found on the conversation");
	} else
		sb_line(s, "fail", "tag", NULL, "POST /tags: %s", r.status ?
		    sb_msg(&r) : err);
	json_decref(q);

	/* Title and attributes: the conversation's, then the contact's. */
	q = json_pack("{s:s}", "title", name);
	if (sb_has_attr(s, "/conversations/attributes", "call_id"))
		json_object_set_new(q, "custom_attributes", json_pack("{s:s}",
		    "call_id", marker));
	snprintf(path, sizeof(path), "/conversations/%s", conv);
	if (sb_call(s, "PUT", path, q, &r, err, sizeof(err)) == 0 &&
	    r.status == 200 && sb_call(s, "GET", path, NULL, &r, err,
	    sizeof(err)) == 0) {
		o = json_object_get(json_object_get(r.body,
		    "custom_attributes"), "call_id");
		sb_line(s, strcmp(sb_str(r.body, "title"), name) == 0 ? "ok" :
		    "fail", "conversation_attributes", json_pack("{s:s,s:O}",
		    "title", sb_str(r.body, "title"), "call_id", o ? o :
		    json_null()), "title '%s'; call_id %s",
		    sb_str(r.body, "title"), json_is_string(o) ?
		    json_string_value(o) : "(attribute not defined: run "
		    "callsync doctor --fix)");
	} else
		sb_line(s, "fail", "conversation_attributes", NULL, "PUT %s: %s",
		    path, r.status ? sb_msg(&r) : err);
	json_decref(q);
	if (sb_has_attr(s, "/data_attributes?model=contact",
	    "last_call_outcome")) {
		q = json_pack("{s:{s:s}}", "custom_attributes",
		    "last_call_outcome", "sandbox-check");
		snprintf(path, sizeof(path), "/contacts/%s", cid);
		found = sb_call(s, "PUT", path, q, &r, err, sizeof(err)) == 0 &&
		    r.status == 200 && sb_call(s, "GET", path, NULL, &r, err,
		    sizeof(err)) == 0 && strcmp(sb_str(json_object_get(r.body,
		    "custom_attributes"), "last_call_outcome"),
		    "sandbox-check") == 0;
		json_decref(q);
		sb_line(s, found ? "ok" : "fail", "contact_attribute", NULL,
		    "last_call_outcome %s", found ? "set and read back" :
		    "not read back");
	} else
		sb_line(s, "skip", "contact_attribute", NULL, "last_call_outcome "
		    "not defined (callsync doctor --fix creates it)");
out:
	json_decref(r.body);
}

/* Remove what the run made; a failure is reported, not hidden. */
static void
sb_clean(struct sb *s, json_t *made)
{
	struct sb_resp	 r = { 0 };
	const char	*what[] = { "conversation", "tag", "contact" };
	const char	*fmt[] = { "/conversations/%s", "/tags/%s",
	    "/contacts/%s" };
	const char	*id;
	char		 path[160], err[512];
	size_t		 i;

	for (i = 0; i < 3; i++) {
		if ((id = json_string_value(json_object_get(made,
		    what[i]))) == NULL)
			continue;
		snprintf(path, sizeof(path), fmt[i], id);
		if (sb_call(s, "DELETE", path, NULL, &r, err,
		    sizeof(err)) == 0 && r.status >= 200 && r.status < 300)
			sb_line(s, "ok", "cleanup", NULL, "deleted %s %s",
			    what[i], id);
		else
			sb_line(s, "fail", "cleanup", NULL, "DELETE %s: %s "
			    "(remove it by hand)", path, r.status ?
			    sb_msg(&r) : err);
	}
	json_decref(r.body);
}

int
cmd_sandbox(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct sb	 s;
	const char	*wsname = NULL;
	json_t		*made;
	char		 err[512];
	int		 ch;
	bool		 force = false;

	memset(&s, 0, sizeof(s));
	s.t = t;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			force = true;
			break;
		case 'h':
			return tool_usage(&sandbox_c, true);
		case 'j':
			s.json = true;
			break;
		case 'w':
			wsname = optarg;
			break;
		default:
			return tool_badopt(&sandbox_c, argv, ch);
		}
	}
	if (optind != argc) {
		tool_err("sandbox-check: unexpected argument %s", argv[optind]);
		return tool_usage(&sandbox_c, false);
	}
	if (t->conf_path == NULL) {
		tool_err("sandbox-check: needs --config FILE");
		return tool_usage(&sandbox_c, false);
	}
	if (tool_conf(t, true) == -1)
		return TOOL_EXIT_FAIL;
	if (wsname == NULL)
		wsname = tool_default_ws(t);
	if ((s.ws = tool_ws_conf(t, wsname)) == NULL) {
		tool_err("sandbox-check: no workspace %s in %s", wsname,
		    t->conf_path);
		return TOOL_EXIT_USAGE;
	}
	if (conf_ws_load_token(s.ws, err, sizeof(err)) == -1) {
		tool_err("sandbox-check: %s: %s", s.ws->name, err);
		return TOOL_EXIT_FAIL;
	}
	if (tool_open(t, 0) == -1) {
		tool_err("sandbox-check: the database is needed for the "
		    "audit log of its writes");
		return TOOL_EXIT_FAIL;
	}
	s.doc = json_pack("{s:s,s:s}", "workspace", s.ws->name, "api_base",
	    s.ws->api_base);
	s.checks = json_array();
	made = json_object();
	if (s.doc == NULL || s.checks == NULL || made == NULL) {
		tool_err("out of memory");
		return TOOL_EXIT_FAIL;
	}
	if (!s.json)
		printf("sandbox-check of workspace %s (%s)\n", s.ws->name,
		    s.ws->api_base);
	sb_run(&s, force, made);
	sb_clean(&s, made);
	if (s.rate != NULL && !s.json)
		printf("ok   rate_limit: X-RateLimit-Limit %lld, Remaining "
		    "%lld, Reset %lld\n",
		    (long long)json_integer_value(json_object_get(s.rate,
		    "limit")), (long long)json_integer_value(
		    json_object_get(s.rate, "remaining")),
		    (long long)json_integer_value(json_object_get(s.rate,
		    "reset")));
	else if (!s.json)
		printf("WARN rate_limit: no X-RateLimit-* headers seen\n");
	json_object_set_new(s.doc, "rate_limit", s.rate ? s.rate :
	    json_null());
	s.rate = NULL;
	json_object_set_new(s.doc, "made", made);
	json_object_set_new(s.doc, "ok", json_boolean(s.fails == 0));
	json_object_set_new(s.doc, "failures", json_integer(s.fails));
	json_object_set_new(s.doc, "warnings", json_integer(s.warns));
	json_object_set_new(s.doc, "checks", s.checks);
	if (s.json) {
		if (tool_print_json(stdout, s.doc) == -1)
			s.fails++;
	} else {
		printf("%s: %d failed, %d warnings\n", s.fails ? "FAILED" :
		    "passed", s.fails, s.warns);
		json_decref(s.doc);
	}
	return s.fails == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}
