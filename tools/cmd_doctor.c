/*
 * cmd_doctor: check that a deployment can work, one line per check
 * ("ok   ...", "WARN ..." or "FAIL ..."): the config loads, the config
 * and token files are private, the database is sound and migrated,
 * waiting records have a running worker (WARN when not), and per
 * workspace the token, the acting admin, routed teams and the custom
 * attributes exist in Intercom.  --fix creates the four standard
 * contact attributes and the five conversation attributes that are
 * missing, each write in the audit log like any other write to Intercom.
 *
 * Requests use libcurl's easy interface: the tool is synchronous, and
 * each request has a 10 s bound.  TLS verification is never disabled;
 * only http and https are allowed.  The token goes into one header and is
 * never printed.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "audit.h"
#include "clock.h"
#include "ctx_cache.h"
#include "http.h"
#include "tool.h"
#include "wscheck.h"

#define DOC_TIMEOUT	10L
#define DOC_MAX_BODY	(8 * 1024 * 1024)

static const struct tool_cmd doctor_c = { "doctor", NULL,
	"doctor [--fix] [--json]",
	"Check the configuration (needs --config): it loads; it and the\n"
	"token files are not readable by group or other; the database opens,\n"
	"passes integrity_check and is migrated; the SQLite library version\n"
	"and the mitigation of its WAL-reset bug (only callsyncd checkpoints;\n"
	"this tool runs with wal_autocheckpoint=0); per workspace the token is\n"
	"accepted (GET /me), admin_id exists, routed teams exist, and the\n"
	"custom attributes last_call_at, last_call_outcome,\n"
	"last_call_escalated, last_call_nps and every allowed_attributes\n"
	"entry exist, and the conversation attributes call_id,\n"
	"call_direction, call_duration_s, call_outcome, call_recording_url\n"
	"(missing: a warning).  --fix creates missing standard attributes\n"
	"(audited)\n"
	"and applies pending migrations.  A workspace with pending or\n"
	"in-flight records that no running callsyncd serves is a warning\n"
	"(WARN line), not a failure.  Exit 0 when every check passes.\n"
	"Without --fix the database is only read (a read-only one is fine).\n"
	"--json prints one JSON document instead of the lines: {ok,\n"
	"failures, warnings, checks: [{result: ok|warn|fail, message}]}." };

static const struct {
	const char	*name, *type;
} doctor_std[] = {
	{ "last_call_at", "date" },
	{ "last_call_outcome", "string" },
	{ "last_call_escalated", "boolean" },
	{ "last_call_nps", "integer" },
};
#define DOC_NSTD	(sizeof(doctor_std) / sizeof(doctor_std[0]))

/*
 * The conversation attributes the worker sets with PUT /conversations/
 * {id}.  2.16 keeps them apart from contact data: GET and POST
 * /conversations/attributes (POST /data_attributes takes model contact
 * or company only, and GET /data_attributes?model=conversation answers
 * 422).  Missing ones are a warning: the worker then sets the title
 * alone.
 */
static const struct {
	const char	*name, *type;
} doctor_conv[] = {
	{ "call_id", "string" },
	{ "call_direction", "string" },
	{ "call_duration_s", "integer" },
	{ "call_outcome", "string" },
	{ "call_recording_url", "string" },
};
#define DOC_NCONV	(sizeof(doctor_conv) / sizeof(doctor_conv[0]))

struct doctor {
	struct tool	*t;
	int		 fix;
	int		 fails;
	int		 warns;
	json_t		*checks;	/* --json: the outcomes; else NULL */
};

static void
doctor_line(struct doctor *, const char *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));
static void
doctor_ok(struct doctor *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void
doctor_fail(struct doctor *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void
doctor_warn(struct doctor *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * One check's outcome: a line "ok   ...", "WARN ..." or "FAIL ...", or
 * with --json an object {result, message} kept for the document.
 */
static void
doctor_line(struct doctor *dc, const char *result, const char *fmt,
    va_list ap)
{
	char	*msg = NULL;

	if (dc->checks == NULL) {
		printf("%-4s ", strcmp(result, "ok") == 0 ? "ok" :
		    strcmp(result, "warn") == 0 ? "WARN" : "FAIL");
		vprintf(fmt, ap);
		putchar('\n');
		return;
	}
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	json_array_append_new(dc->checks, json_pack("{s:s, s:s}", "result",
	    result, "message", msg != NULL ? msg : "?"));
	free(msg);
}

static void
doctor_ok(struct doctor *dc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	doctor_line(dc, "ok", fmt, ap);
	va_end(ap);
}

static void
doctor_fail(struct doctor *dc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	doctor_line(dc, "fail", fmt, ap);
	va_end(ap);
	dc->fails++;
}

/* A warning: worth a look, but not a failed check (exit status kept). */
static void
doctor_warn(struct doctor *dc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	doctor_line(dc, "warn", fmt, ap);
	va_end(ap);
	dc->warns++;
}

/*
 * Workspaces with pending or in-flight records that no running worker
 * serves (tool_ws_served): a warning each, since nothing will deliver
 * them until a worker configured for the workspace runs.
 */
static void
doctor_unserved(struct doctor *dc)
{
	struct tool	*t = dc->t;
	sqlite3_stmt	*st;
	char		*ws, why[256];
	long long	 n;
	int		 rc, served, nwarn = 0, nws = 0;
	int64_t		 now = clock_wall_s();

	if (!t->db_ok)
		return;
	st = store_prep(&t->db, SQ_WS_WAITING);
	if (st == NULL) {
		doctor_fail(dc, "database: waiting records: %s",
		    db_errmsg(&t->db));
		return;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ws = db_col_strdup(st, 0)) == NULL)
			continue;
		n = sqlite3_column_int64(st, 1);
		nws++;
		/* tool_ws_served uses its own statement: st stays valid. */
		served = tool_ws_served(t, ws, now, why, sizeof(why));
		if (served == 0) {
			doctor_warn(dc, "%s: %lld record%s waiting, no running "
			    "worker serves this workspace (%s; %s)", ws, n,
			    n == 1 ? "" : "s", why, tool_ws_conf(t, ws) ==
			    NULL ? "not in this configuration either" :
			    "start callsyncd with this configuration");
			nwarn++;
		} else if (served == -1)
			doctor_fail(dc, "database: %s: %s", ws,
			    db_errmsg(&t->db));
		free(ws);
	}
	if (rc != SQLITE_DONE)
		doctor_fail(dc, "database: waiting records: %s",
		    db_errmsg(&t->db));
	sqlite3_reset(st);
	if (nwarn == 0 && rc == SQLITE_DONE)
		doctor_ok(dc, "workers: %s", nws == 0 ? "no records waiting" :
		    "a running worker serves every workspace with records "
		    "waiting");
}

/*
 * One request to ws.  Fills *status, *resp (new reference, or NULL when
 * the body is not JSON) and *ms; -1 with err when no response came.
 */
static int
doctor_call(struct conf_ws *ws, const char *method, const char *path,
    const char *body, long *status, json_t **resp, long *ms, char *err,
    size_t errsz)
{
	CURL			*c = NULL;
	CURLcode		 res;
	struct curl_slist	*h = NULL;
	struct tool_buf		 b = { NULL, 0, DOC_MAX_BODY };
	char			 url[1024], hdr[4096];
	double			 total = 0;
	int			 rc = -1;

	*status = 0;
	*resp = NULL;
	*ms = 0;
	snprintf(url, sizeof(url), "%s%s", ws->api_base, path);
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errsz, "cannot initialise libcurl");
		return -1;
	}
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
	    ws->token != NULL ? ws->token : "");
	h = curl_slist_append(h, hdr);
	/* The slist holds its own copy: do not leave the token around. */
	memset(hdr, 0, sizeof(hdr));
	snprintf(hdr, sizeof(hdr), "Intercom-Version: %s",
	    ws->intercom_version != NULL ? ws->intercom_version : "2.16");
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, DOC_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, DOC_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "callsync-doctor");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tool_buf_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	/* The daemon's trust: ca_file instead of the system's CAs. */
	if ((res = http_tls_setopt(c, ws->ca_file, err, errsz)) != CURLE_OK)
		goto out;
	/* As the worker goes: unset leaves libcurl to the environment. */
	if (conf_ws_proxy(ws) != NULL)
		curl_easy_setopt(c, CURLOPT_PROXY, conf_ws_proxy(ws));
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body :
		    "");
	}
	if ((res = curl_easy_perform(c)) != CURLE_OK) {
		snprintf(err, errsz, "%s %s: %s", method, path,
		    curl_easy_strerror(res));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &total);
	*ms = (long)(total * 1000);
	if (b.p != NULL)
		*resp = json_loads(b.p, 0, NULL);
	rc = 0;
out:
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(b.p);
	return rc;
}

/* An Intercom id (string or number) of o as text into buf. */
static const char *
doctor_id(json_t *o, char *buf, size_t sz)
{
	json_t	*v = json_object_get(o, "id");

	if (json_is_string(v))
		snprintf(buf, sz, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, sz, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, sz, "?");
	return buf;
}

/* The error message Intercom put in resp, or "". */
static const char *
doctor_msg(json_t *resp)
{
	json_t		*e;
	const char	*s;

	e = json_array_get(json_object_get(resp, "errors"), 0);
	if ((s = json_string_value(json_object_get(e, "message"))) != NULL)
		return s;
	return "";
}

/* Is there an element of list whose id is id? */
static json_t *
doctor_find_id(json_t *list, const char *id)
{
	json_t	*v;
	size_t	 i;
	char	 b[64];

	json_array_foreach(list, i, v)
		if (strcmp(doctor_id(v, b, sizeof(b)), id) == 0)
			return v;
	return NULL;
}

/* The attribute called name ("name" or "custom_attributes.name"). */
static json_t *
doctor_find_attr(json_t *list, const char *name)
{
	json_t		*v;
	const char	*n;
	size_t		 i;

	json_array_foreach(list, i, v) {
		if ((n = json_string_value(json_object_get(v, "name"))) != NULL &&
		    strcmp(n, name) == 0)
			return v;
		if ((n = json_string_value(json_object_get(v,
		    "full_name"))) != NULL && strncmp(n,
		    "custom_attributes.", 18) == 0 && strcmp(n + 18, name) == 0)
			return v;
	}
	return NULL;
}

/* GET path and return its list under key (new reference) or NULL. */
static json_t *
doctor_list(struct doctor *dc, struct conf_ws *ws, const char *path,
    const char *key)
{
	json_t	*resp, *l;
	long	 status, ms;
	char	 err[512];

	if (doctor_call(ws, "GET", path, NULL, &status, &resp, &ms, err,
	    sizeof(err)) == -1) {
		doctor_fail(dc, "%s: %s", ws->name, err);
		return NULL;
	}
	if (status != 200 || !json_is_array(l = json_object_get(resp, key))) {
		doctor_fail(dc, "%s: GET %s: HTTP %ld %s", ws->name, path,
		    status, doctor_msg(resp));
		json_decref(resp);
		return NULL;
	}
	json_incref(l);
	json_decref(resp);
	return l;
}

/*
 * Create a standard attribute, audited like every write to Intercom: a
 * contact one with POST /data_attributes, a conversation one (conv)
 * with POST /conversations/attributes.
 */
static void
doctor_create(struct doctor *dc, struct conf_ws *ws, const char *name,
    const char *type, bool conv)
{
	struct audit_row	 r;
	json_t			*body, *resp = NULL;
	char			*text = NULL, err[512], id[64] = "";
	const char		*path = conv ? "/conversations/attributes" :
	    "/data_attributes", *what = conv ? "conversation" : "custom";
	long			 status, ms;

	if (!dc->t->db_ok) {
		doctor_fail(dc, "%s: not creating attribute %s: the database "
		    "is needed for the audit log", ws->name, name);
		return;
	}
	if (conv)
		body = json_pack("{ssssss}", "name", name, "data_type", type,
		    "description", "Set by callsync for voice calls");
	else
		body = json_pack("{ssssss}", "name", name, "model", "contact",
		    "data_type", type);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return;
	if (doctor_call(ws, "POST", path, text, &status, &resp,
	    &ms, err, sizeof(err)) == -1) {
		doctor_fail(dc, "%s: creating attribute %s: %s", ws->name,
		    name, err);
		goto out;
	}
	if (status >= 200 && status < 300)
		doctor_id(resp, id, sizeof(id));
	memset(&r, 0, sizeof(r));
	r.kind = "write";
	r.workspace = ws->name;
	r.step = "doctor_fix";
	r.method = "POST";
	r.path = path;
	r.http_status = status;
	r.object_id = id[0] != '\0' ? id : NULL;
	r.admin_id = ws->admin_id;
	r.duration_ms = ms;
	r.body = text;
	r.store_body = ws->audit_bodies;
	if (db_begin(&dc->t->db) == -1 || audit_append(&dc->t->db, &r) == -1 ||
	    db_commit(&dc->t->db) == -1) {
		db_rollback(&dc->t->db);
		doctor_fail(dc, "%s: attribute %s: audit row not written: %s",
		    ws->name, name, db_errmsg(&dc->t->db));
		goto out;
	}
	if (status >= 200 && status < 300)
		doctor_ok(dc, "%s: created %s attribute %s (%s), id %s",
		    ws->name, what, name, type, id);
	else if (status == 400 && strstr(doctor_msg(resp), "already") != NULL)
		doctor_ok(dc, "%s: %s attribute %s (%s) already exists",
		    ws->name, what, name, type);
	else
		doctor_fail(dc, "%s: creating attribute %s: HTTP %ld %s",
		    ws->name, name, status, doctor_msg(resp));
out:
	json_decref(resp);
	free(text);
}

/* A file holding secrets must not be readable by group or other. */
static bool
doctor_private(struct doctor *dc, const char *what, const char *path)
{
	struct stat	 sb;

	if (stat(path, &sb) == -1) {
		doctor_fail(dc, "%s: %s: %s", what, path, strerror(errno));
		return false;
	}
	if (sb.st_mode & 077) {
		doctor_fail(dc, "%s: %s is mode %04o, readable by group or "
		    "other: chmod 600 %s", what, path,
		    (unsigned)(sb.st_mode & 07777), path);
		return false;
	}
	doctor_ok(dc, "%s: %s is mode %04o", what, path,
	    (unsigned)(sb.st_mode & 07777));
	return true;
}

static void
doctor_db(struct doctor *dc)
{
	struct tool	*t = dc->t;
	char		 err[512];
	int64_t		 rows, bytes;
	int		 v;

	if (tool_open(t, DB_OPEN_NOMIGRATE | (dc->fix ? 0 : DB_OPEN_READ)) == -1) {
		doctor_fail(dc, "database: %s does not open", tool_db_path(t));
		return;
	}
	doctor_ok(dc, "database: %s opens", tool_db_path(t));
	if (store_integrity_ok(&t->db))
		doctor_ok(dc, "database: integrity_check ok");
	else
		doctor_fail(dc, "database: integrity_check: %s", db_errmsg(&t->db));
	v = db_version(&t->db);
	if (v == db_latest_version())
		doctor_ok(dc, "database: schema version %d (latest)", v);
	else if (v > db_latest_version())
		doctor_fail(dc, "database: schema version %d is newer than this "
		    "callsync (%d): upgrade callsync", v, db_latest_version());
	else if (dc->fix && db_migrate(&t->db, err, sizeof(err)) == 0)
		doctor_ok(dc, "database: migrated from schema version %d to %d", v,
		    db_version(&t->db));
	else
		doctor_fail(dc, "database: schema version %d, latest is %d: run "
		    "callsync migrate", v, db_latest_version());
	if (db_version(&t->db) >= 6 && ctx_cache_size(&t->db, &rows,
	    &bytes) == 0)
		doctor_ok(dc, "database: caller context cache holds %" PRId64
		    " entries, %" PRId64 " bytes (callsync prune deletes "
		    "those past context_max_age)", rows, bytes);
}

/*
 * The SQLite library and the mitigation of its WAL-reset bug (db.h):
 * only callsyncd checkpoints; this tool's own connection is read back
 * (wal_autocheckpoint must be 0), so "in force" is observed, not
 * assumed.  Producers cannot be checked from here: the line says what
 * they must do.
 */
static void
doctor_sqlite(struct doctor *dc)
{
	struct tool	*t = dc->t;
	bool		 bug = db_walreset_affected(sqlite3_libversion_number());
	char		 lib[200];
	int		 ac;

	snprintf(lib, sizeof(lib), "sqlite: library %s %s",
	    sqlite3_libversion(), bug ? "is in the range of the WAL-reset bug "
	    "(sqlite.org/wal.html#walresetbug; fixed in 3.51.3, 3.50.7, "
	    "3.44.6)" : "has the WAL-reset fix");
	if (t->db.h == NULL) {
		doctor_warn(dc, "%s; mitigation not checked: the database "
		    "did not open", lib);
		return;
	}
	if ((ac = db_autocheckpoint(&t->db)) != 0) {
		doctor_fail(dc, "%s; mitigation NOT in force: this tool's "
		    "connection has wal_autocheckpoint=%d, want 0", lib, ac);
		return;
	}
	doctor_ok(dc, "%s; mitigation in force: only callsyncd checkpoints "
	    "(from its one connection), this tool runs with "
	    "wal_autocheckpoint=0, and producers must set "
	    "wal_autocheckpoint=0 too (README, Producer contract)", lib);
}

/*
 * The token's region (GET /me app.region) against the host of api_base:
 * a token is only accepted by its own region's host, so a mismatch reads
 * as "token rejected" to the worker; here it is named.  Hosts that are
 * not Intercom's (a proxy, a simulator) are not judged.
 */
static void
doctor_region(struct doctor *dc, struct conf_ws *ws, json_t *me)
{
	const char	*tok, *api;
	char		 host[256];

	tok = json_string_value(json_object_get(json_object_get(me, "app"),
	    "region"));
	api = wscheck_api_region(ws->api_base, host, sizeof(host));
	if (tok == NULL)
		doctor_warn(dc, "%s: GET /me has no app.region: region not checked",
		    ws->name);
	else if (api == NULL)
		doctor_ok(dc, "%s: token region %s; api_base host %s is not an "
		    "Intercom API host (unknown host, not checked)", ws->name,
		    tok, host);
	else if (strcasecmp(tok, api) == 0)
		doctor_ok(dc, "%s: token region %s matches api_base host %s",
		    ws->name, tok, host);
	else
		doctor_fail(dc, "%s: token region %s (GET /me app.region) but "
		    "api_base host %s is Intercom's %s host: use %s", ws->name,
		    tok, host, api, strcasecmp(tok, "EU") == 0 ?
		    "https://api.eu.intercom.io" : strcasecmp(tok, "AU") == 0 ?
		    "https://api.au.intercom.io" : strcasecmp(tok, "US") == 0 ?
		    "https://api.intercom.io" : "the host of that region");
}

static void
doctor_ws(struct doctor *dc, struct conf_ws *ws)
{
	json_t		*resp = NULL, *admins = NULL, *teams = NULL, *attrs = NULL;
	json_t		*a;
	const char	*dt;
	char		 err[512], id[64], src[600];
	long		 status, ms;
	size_t		 i;
	bool		 need_teams = false;

	/* A token others can read is refused before it is even used. */
	if (ws->token_file != NULL &&
	    !doctor_private(dc, ws->name, ws->token_file))
		return;
	conf_ws_token_source(ws, src, sizeof(src));
	if (conf_ws_load_token(ws, err, sizeof(err)) == -1) {
		doctor_fail(dc, "%s: %s (token from %s)", ws->name, err, src);
		return;
	}
	doctor_ok(dc, "%s: token from %s", ws->name, src);
	if (doctor_call(ws, "GET", "/me", NULL, &status, &resp, &ms, err,
	    sizeof(err)) == -1) {
		doctor_fail(dc, "%s: %s", ws->name, err);
		return;
	}
	if (status == 401) {
		/* Each region's host knows its own tokens only. */
		doctor_fail(dc, "%s: token rejected (HTTP 401 on GET /me; "
		    "token from %s)%s", ws->name, src,
		    wscheck_api_region(ws->api_base, err, sizeof(err)) !=
		    NULL ? "; a workspace hosted in another region needs that "
		    "region's api_base (api.intercom.io, api.eu.intercom.io, "
		    "api.au.intercom.io)" : "");
		goto out;
	}
	if (status != 200) {
		doctor_fail(dc, "%s: GET /me: HTTP %ld %s%s", ws->name, status,
		    doctor_msg(resp), status == 400 ? " (check "
		    "intercom_version)" : "");
		goto out;
	}
	doctor_ok(dc, "%s: token valid (admin %s %s)", ws->name,
	    doctor_id(resp, id, sizeof(id)),
	    json_string_value(json_object_get(resp, "name")) != NULL ?
	    json_string_value(json_object_get(resp, "name")) : "");
	doctor_ok(dc, "%s: Intercom-Version %s accepted", ws->name,
	    ws->intercom_version != NULL ? ws->intercom_version : "2.16");
	doctor_region(dc, ws, resp);

	if ((admins = doctor_list(dc, ws, "/admins", "admins")) != NULL) {
		if (ws->admin_id == NULL)
			doctor_fail(dc, "%s: admin_id is not set", ws->name);
		else if ((a = doctor_find_id(admins, ws->admin_id)) != NULL)
			doctor_ok(dc, "%s: admin_id %s exists (%s)", ws->name,
			    ws->admin_id, json_string_value(json_object_get(a,
			    "name")) != NULL ? json_string_value(
			    json_object_get(a, "name")) : "");
		else
			doctor_fail(dc, "%s: admin_id %s not found in GET "
			    "/admins", ws->name, ws->admin_id);
	}
	for (i = 0; i < ws->nroutes; i++)
		need_teams |= ws->routes[i].kind == 't';
	need_teams |= ws->has_escalation && ws->escalation.kind == 't';
	if (need_teams)
		teams = doctor_list(dc, ws, "/teams", "teams");
	for (i = 0; i <= ws->nroutes; i++) {
		const struct conf_route	*r;
		json_t			*l;

		if (i == ws->nroutes && !ws->has_escalation)
			break;
		r = i < ws->nroutes ? &ws->routes[i] : &ws->escalation;
		l = r->kind == 't' ? teams : admins;
		if (l == NULL)
			continue;
		if (doctor_find_id(l, r->id) != NULL)
			doctor_ok(dc, "%s: %s %s %s exists", ws->name,
			    r->category != NULL ? r->category : "escalation",
			    r->kind == 't' ? "team" : "admin", r->id);
		else
			doctor_fail(dc, "%s: %s routes to %s %s, which does "
			    "not exist", ws->name, r->category != NULL ?
			    r->category : "escalation", r->kind == 't' ?
			    "team" : "admin", r->id);
	}

	if ((attrs = doctor_list(dc, ws, "/data_attributes?model=contact",
	    "data")) == NULL)
		goto out;
	for (i = 0; i < DOC_NSTD; i++) {
		a = doctor_find_attr(attrs, doctor_std[i].name);
		dt = json_string_value(json_object_get(a, "data_type"));
		if (a != NULL && dt != NULL &&
		    strcmp(dt, doctor_std[i].type) != 0)
			doctor_fail(dc, "%s: custom attribute %s is a %s, "
			    "callsync writes a %s", ws->name,
			    doctor_std[i].name, dt, doctor_std[i].type);
		else if (a != NULL)
			doctor_ok(dc, "%s: custom attribute %s (%s)", ws->name,
			    doctor_std[i].name, doctor_std[i].type);
		else if (dc->fix)
			doctor_create(dc, ws, doctor_std[i].name,
			    doctor_std[i].type, false);
		else
			doctor_fail(dc, "%s: custom attribute %s (%s) is "
			    "missing: run callsync doctor --fix", ws->name,
			    doctor_std[i].name, doctor_std[i].type);
	}
	for (i = 0; i < ws->nallowed_attributes; i++) {
		if (doctor_find_attr(attrs, ws->allowed_attributes[i]) != NULL)
			doctor_ok(dc, "%s: allowed attribute %s exists", ws->name,
			    ws->allowed_attributes[i]);
		else
			doctor_fail(dc, "%s: allowed attribute %s does not "
			    "exist in Intercom: create it there or remove it "
			    "from allowed_attributes", ws->name,
			    ws->allowed_attributes[i]);
	}
	json_decref(attrs);
	if ((attrs = doctor_list(dc, ws, "/conversations/attributes",
	    "data")) == NULL)
		goto out;
	for (i = 0; i < DOC_NCONV; i++) {
		a = doctor_find_attr(attrs, doctor_conv[i].name);
		dt = json_string_value(json_object_get(a, "data_type"));
		if (a != NULL && dt != NULL &&
		    strcmp(dt, doctor_conv[i].type) != 0)
			doctor_fail(dc, "%s: conversation attribute %s is a %s, "
			    "callsync writes a %s", ws->name,
			    doctor_conv[i].name, dt, doctor_conv[i].type);
		else if (a != NULL)
			doctor_ok(dc, "%s: conversation attribute %s (%s)",
			    ws->name, doctor_conv[i].name, doctor_conv[i].type);
		else if (dc->fix)
			doctor_create(dc, ws, doctor_conv[i].name,
			    doctor_conv[i].type, true);
		else
			doctor_warn(dc, "%s: conversation attribute %s (%s) is "
			    "missing: conversations get their title only; run "
			    "callsync doctor --fix", ws->name,
			    doctor_conv[i].name, doctor_conv[i].type);
	}
out:
	json_decref(resp);
	json_decref(admins);
	json_decref(teams);
	json_decref(attrs);
}

int
cmd_doctor(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "fix", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct doctor	 dc;
	char		 err[1024];
	size_t		 i;
	int		 ch, json = 0;

	memset(&dc, 0, sizeof(dc));
	dc.t = t;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			dc.fix = 1;
			break;
		case 'h':
			return tool_usage(&doctor_c, true);
		case 'j':
			json = 1;
			break;
		default:
			return tool_badopt(&doctor_c, argv, ch);
		}
	}
	if (optind != argc) {
		tool_err("doctor: unexpected argument %s", argv[optind]);
		return tool_usage(&doctor_c, false);
	}
	if (t->conf_path == NULL) {
		tool_err("doctor: needs --config FILE");
		return tool_usage(&doctor_c, false);
	}
	if (json && (dc.checks = json_array()) == NULL) {
		tool_err("out of memory");
		return TOOL_EXIT_FAIL;
	}
	if ((t->conf = conf_load(t->conf_path, false, err,
	    sizeof(err))) == NULL)
		doctor_fail(&dc, "config: %s", err);
	else {
		doctor_ok(&dc, "config: %s loads (%zu workspace%s)",
		    t->conf_path, t->conf->nws, t->conf->nws == 1 ? "" : "s");
		doctor_private(&dc, "config", t->conf_path);
		doctor_db(&dc);
		doctor_sqlite(&dc);
		doctor_unserved(&dc);
		for (i = 0; i < t->conf->nws; i++)
			doctor_ws(&dc, &t->conf->ws[i]);
	}
	if (json && tool_print_json(stdout, json_pack("{s:b, s:i, s:i, s:O}",
	    "ok", dc.fails == 0, "failures", dc.fails, "warnings", dc.warns,
	    "checks", dc.checks)) == -1)
		dc.fails++;
	json_decref(dc.checks);
	return dc.fails == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
}
