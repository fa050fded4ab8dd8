/*
 * cmd_records: init, migrate, enqueue, status, ls and show.
 *
 * enqueue reads one JSON object (pretty-printed or not) or JSON Lines and
 * hands each record to outbox_enqueue(), which is idempotent on
 * (workspace, key).  A record that is valid JSON but not a valid record is
 * still enqueued, with a warning: the worker dead-letters it with a
 * precise reason, and producers are never blocked by a bad neighbour.
 * Records are written in transactions of ENQ_BATCH, which makes bulk
 * loads fast without holding the write lock for long.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "lag.h"
#include "outbox.h"
#include "bytes.h"
#include "record.h"
#include "retry.h"
#include "tool.h"

#define ENQ_BATCH	500

static const struct tool_cmd cmd_init_c = { "init", NULL, "init",
	"Create the database (mode 0600, WAL) if missing, apply pending\n"
	"migrations and print the schema version." };
static const struct tool_cmd cmd_migrate_c = { "migrate", NULL, "migrate",
	"Apply pending migrations to an existing database and print the\n"
	"schema version.  A database newer than this callsync is refused." };
static const struct tool_cmd cmd_enqueue_c = { "enqueue", NULL,
	"enqueue [--json] [--workspace NAME] FILE|-",
	"Enqueue records from FILE (- for stdin): one JSON object, possibly\n"
	"pretty-printed, or JSON Lines.  The workspace is the record's\n"
	"\"workspace\" field, else --workspace, else the only workspace of the\n"
	"config, else \"default\".  The key is \"key\", else \"call_id\".\n"
	"Prints \"new\", \"exists\" or \"differs\" per record and a summary on\n"
	"stderr.  Exit 1 when a record failed or differs from the stored one\n"
	"(the first payload is kept).  With --config, a workspace that is not\n"
	"in the config gets one warning (a worker delivers only the\n"
	"workspaces it is configured for); its records are enqueued all the\n"
	"same.  --json prints one JSON document instead: {new, exists,\n"
	"differs, errors, records: [{workspace, key, result}]} (errors are\n"
	"still told on stderr)." };
static const struct tool_cmd cmd_status_c = { "status", NULL,
	"status [--json] [--workers]",
	"Per workspace: records by state, in-doubt records, oldest pending\n"
	"age, last delivery, dead letters, breaker, rate limit and pause.\n"
	"HANDED-OFF (--json: handed_off) counts records export --handoff\n"
	"gave to another machine: not dead letters, not delivered here.\n"
	"Below the table, each workspace whose pending or in-flight records\n"
	"no running callsyncd serves (no live worker lists it, and it holds\n"
	"no lock for the workspace's last worker in DATABASE.owners/): no\n"
	"worker configured for it is running.  Then the workers: each\n"
	"callsyncd's owner, pid, host, version, start, last heartbeat and\n"
	"workspaces, \"live\" (its lock held, a heartbeat in the last 60 s)\n"
	"or \"stale\" with why.  --json adds \"waiting\" (pending +\n"
	"inflight), \"served\" and \"workers\" (the registered workers that\n"
	"list it: owner, pid, host, version, state, heartbeat_age_s, why) to\n"
	"each workspace.  Then Intercom's search lag as the worker measured\n"
	"it: per workspace and kind, p50 and p99 of the samples, their\n"
	"number, and how long a write in doubt waits for search before\n"
	"\"not there\" (learned from 50 samples on, else search_lag); --json:\n"
	"\"search_lag\".  --workers shows only\n"
	"the workers (with --json, one object per worker).  Exit 0 even\n"
	"then." };
static const struct tool_cmd cmd_ls_c = { "ls", NULL,
	"ls [--json] [--limit N] [--state STATE] [--workspace NAME]",
	"List records, newest first (default limit 50).  STATE is pending,\n"
	"inflight, done, dead or handed_off.  A record delivered without an attribute\n"
	"(dropped before its first write: Intercom lacks it, or the value\n"
	"does not fit its type), or without its own assign (a team or admin\n"
	"Intercom lacks: the workspace's routing decided), shows\n"
	"\"warning: ...\" where the last error goes; --json has it as\n"
	"\"warning\"." };
static const struct tool_cmd cmd_show_c = { "show", NULL,
	"show [--json] [--workspace NAME] KEY",
	"Show a record: payload, state, journal with Intercom ids (and the\n"
	"warning of an attribute or assign dropped before the first write),\n"
	"attempts, dead letter, payload history and audit rows." };

/* Shared by init and migrate: they differ in creating the file. */
static int
recs_migrate(struct tool *t, const struct tool_cmd *c, int argc,
    char **argv, int flags)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char	 err[512];
	int	 ch, before, after;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		if (ch == 'h')
			return tool_usage(c, true);
		return tool_badopt(c, argv, ch);
	}
	if (optind != argc) {
		tool_err("%s: unexpected argument %s", c->name, argv[optind]);
		return tool_usage(c, false);
	}
	if (tool_open(t, flags | DB_OPEN_NOMIGRATE) == -1)
		return TOOL_EXIT_FAIL;
	before = db_version(&t->db);
	if (db_migrate(&t->db, err, sizeof(err)) == -1) {
		tool_err("%s", err);
		return TOOL_EXIT_FAIL;
	}
	after = db_version(&t->db);
	if (before == after)
		printf("%s: schema version %d (up to date)\n",
		    tool_db_path(t), after);
	else
		printf("%s: schema version %d (migrated from %d)\n",
		    tool_db_path(t), after, before);
	return TOOL_EXIT_OK;
}

int
cmd_init(struct tool *t, int argc, char **argv)
{
	return recs_migrate(t, &cmd_init_c, argc, argv, DB_OPEN_CREATE);
}

int
cmd_migrate(struct tool *t, int argc, char **argv)
{
	return recs_migrate(t, &cmd_migrate_c, argc, argv, 0);
}

struct enq {
	struct tool	*t;
	const char	*src;		/* file name for messages */
	const char	*wsopt;		/* --workspace or NULL */
	json_t		*warned;	/* workspaces said to be unconfigured */
	json_t		*recs;		/* --json: one object per record */
	size_t		 nnew, nsame, ndiff, nerr, nbatch;
};

/* --json: the record ws/key and what became of it, kept for the end. */
static void
enq_note(struct enq *q, const char *ws, const char *key, const char *res)
{
	json_t	*o;

	if (q->recs == NULL || (o = json_object()) == NULL)
		return;
	json_object_set_new(o, "workspace", json_string(ws));
	json_object_set_new(o, "key", json_string(key));
	json_object_set_new(o, "result", json_string(res));
	json_array_append_new(q->recs, o);
}

/*
 * buf as JSON after the worker's repair of its bytes (bytes.h: a
 * "\u0000" dropped, invalid UTF-8 as U+FFFD), so that the tool takes
 * what the producer SQL takes; the payload is stored as it was given.
 */
static json_t *
enq_load(const char *buf, size_t len, json_error_t *jerr)
{
	struct bytes_fix	 fix;
	json_t			*j;
	char			*fixed;
	size_t			 flen;

	if (bytes_repair(buf, len, &fixed, &flen, &fix) != 1)
		return json_loadb(buf, len, 0, jerr);
	j = json_loadb(fixed, flen, 0, jerr);
	free(fixed);
	return j;
}

/*
 * Enqueue one record whose text is buf (NUL-terminated, len bytes); line
 * is its line number in JSON Lines, 0 for a single document.
 */
static void
enq_one(struct enq *q, const char *buf, size_t len, size_t line)
{
	json_t		*root = NULL, *wsv;
	json_error_t	 jerr;
	struct record	 r;
	struct rec_err	 e;
	enum ob_enq	 res;
	char		 where[512], err[512], fixnote[300];
	const char	*ws, *key;
	int		 valid;

	if (line > 0)
		snprintf(where, sizeof(where), "%s: line %zu", q->src, line);
	else
		snprintf(where, sizeof(where), "%s", q->src);
	if (len > TOOL_PAYLOAD_MAX) {
		tool_err("%s: payload is %zu bytes, over the 1 MiB limit",
		    where, len);
		goto fail;
	}
	if ((root = enq_load(buf, len, &jerr)) == NULL) {
		tool_err("%s: invalid JSON: %s (column %d)", where, jerr.text,
		    jerr.column);
		goto fail;
	}
	if (!json_is_object(root)) {
		tool_err("%s: not a JSON object", where);
		goto fail;
	}
	wsv = json_object_get(root, "workspace");
	if (wsv != NULL && (!json_is_string(wsv) ||
	    json_string_length(wsv) == 0)) {
		tool_err("%s: workspace: not a non-empty string", where);
		goto fail;
	}
	if (wsv != NULL)
		ws = json_string_value(wsv);
	else if (q->wsopt != NULL)
		ws = q->wsopt;
	else if (q->t->conf != NULL && q->t->conf->nws > 1) {
		tool_err("%s: no workspace: the record has none and the "
		    "config has %zu (use --workspace)", where, q->t->conf->nws);
		goto fail;
	} else
		ws = tool_default_ws(q->t);
	if ((key = record_key_of(root)) == NULL || *key == '\0') {
		tool_err("%s: no key: a record needs \"key\" (or \"call_id\" "
		    "for a call)", where);
		goto fail;
	}
	valid = 1;
	memset(&r, 0, sizeof(r));
	memset(&e, 0, sizeof(e));
	fixnote[0] = '\0';
	if (record_parse(buf, tool_ws_conf(q->t, ws), &r, &e) == -1)
		valid = 0;
	else {
		bytes_describe(&r.fix, fixnote, sizeof(fixnote));
		record_free(&r);
	}
	if (outbox_enqueue(&q->t->db, ws, key, buf, &res, err,
	    sizeof(err)) == -1) {
		tool_err("%s: %s/%s: %s", where, ws, key, err);
		goto fail;
	}
	/*
	 * A worker leaves alone the records of workspaces it does not
	 * serve: say so once per workspace, and enqueue all the same (a
	 * worker elsewhere may be configured for it).
	 */
	if (q->t->conf != NULL && tool_ws_conf(q->t, ws) == NULL &&
	    json_object_get(q->warned, ws) == NULL) {
		json_object_set_new(q->warned, ws, json_true());
		fflush(stdout);
		fprintf(stderr, "callsync: warning: workspace '%s' is not in "
		    "%s; no worker configured like this one will deliver "
		    "it\n", ws, q->t->conf_path);
	}
	switch (res) {
	case OB_ENQ_NEW:
		enq_note(q, ws, key, "new");
		if (q->recs == NULL)
			printf("new %s/%s\n", ws, key);
		q->nnew++;
		if (!valid)
			tool_warn("%s/%s: %s (the worker will dead-letter it)",
			    ws, key, e.message);
		else if (fixnote[0] != '\0')
			tool_warn("%s/%s: %s (the worker delivers the repaired "
			    "text)", ws, key, fixnote);
		break;
	case OB_ENQ_SAME:
		enq_note(q, ws, key, "exists");
		if (q->recs == NULL)
			printf("exists %s/%s (same payload)\n", ws, key);
		q->nsame++;
		break;
	case OB_ENQ_DIFFERS:
		enq_note(q, ws, key, "differs");
		if (q->recs == NULL)
			printf("differs %s/%s: payload differs from the stored "
			    "one; kept the first\n", ws, key);
		q->ndiff++;
		break;
	}
	json_decref(root);
	return;
fail:
	json_decref(root);
	q->nerr++;
}

/* Commit every ENQ_BATCH records so a bulk load is fast. */
static int
enq_batch(struct enq *q)
{
	if (++q->nbatch < ENQ_BATCH)
		return 0;
	q->nbatch = 0;
	if (db_commit(&q->t->db) == -1 || db_begin(&q->t->db) == -1) {
		tool_err("%s: %s", tool_db_path(q->t), db_errmsg(&q->t->db));
		return -1;
	}
	return 0;
}

/*
 * JSON Lines or one document?  One document (0) if the whole input
 * parses; else JSON Lines (1) if any line parses as JSON on its own; else
 * one broken document (-1, whole says where: jansson's line is useful).
 */
static int
enq_kind(const char *buf, size_t len, json_error_t *whole)
{
	json_t		*j;
	json_error_t	 e;
	const char	*p, *nl;

	if ((j = enq_load(buf, len, whole)) != NULL) {
		json_decref(j);
		return 0;
	}
	for (p = buf; p < buf + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', buf + len - p)) == NULL)
			nl = buf + len;
		if ((j = enq_load(p, nl - p, &e)) != NULL) {
			json_decref(j);
			return 1;
		}
	}
	return -1;
}

int
cmd_enqueue(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct enq		 q;
	json_t			*doc;
	struct tool_progress	 pr;
	json_error_t		 whole;
	char			 err[512], *buf = NULL, *p, *nl, *end;
	size_t			 len, line, total = 0;
	int			 ch, kind, rc = TOOL_EXIT_FAIL;

	memset(&q, 0, sizeof(q));
	q.t = t;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hw:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			json_decref(q.recs);
			return tool_usage(&cmd_enqueue_c, true);
		case 'j':
			if (q.recs == NULL)
				q.recs = json_array();
			break;
		case 'w':
			q.wsopt = optarg;
			break;
		default:
			json_decref(q.recs);
			return tool_badopt(&cmd_enqueue_c, argv, ch);
		}
	}
	if (argc - optind != 1) {
		json_decref(q.recs);
		tool_err("enqueue: give one FILE, or - for stdin");
		return tool_usage(&cmd_enqueue_c, false);
	}
	q.src = strcmp(argv[optind], "-") == 0 ? "stdin" : argv[optind];
	if (tool_conf(t, false) == -1)
		goto out;
	if ((buf = tool_read_all(argv[optind], &len, err,
	    sizeof(err))) == NULL) {
		tool_err("%s", err);
		goto out;
	}
	if ((q.warned = json_object()) == NULL) {
		tool_err("out of memory");
		goto out;
	}
	if (tool_open(t, 0) == -1 || db_begin(&t->db) == -1)
		goto out;
	end = buf + len;
	kind = enq_kind(buf, len, &whole);
	if (kind == 0)
		enq_one(&q, buf, len, 0);
	else if (kind == -1) {
		if (buf[strspn(buf, " \t\r\n")] == '\0')
			tool_err("%s: no record in the input", q.src);
		else
			tool_err("%s: line %d: invalid JSON: %s", q.src,
			    whole.line, whole.text);
		q.nerr++;
	} else {
		for (p = buf; p < end; p = nl + 1) {
			if ((nl = memchr(p, '\n', end - p)) == NULL)
				nl = end;
			total++;
		}
		tool_progress_init(&pr, "enqueue", total);
		for (p = buf, line = 1; p < end; p = nl + 1, line++) {
			if ((nl = memchr(p, '\n', end - p)) == NULL)
				nl = end;
			*nl = '\0';
			if (nl > p && nl[-1] == '\r')
				nl[-1] = '\0';
			if (p[strspn(p, " \t\r")] != '\0') {
				enq_one(&q, p, strlen(p), line);
				if (enq_batch(&q) == -1) {
					tool_progress_end(&pr);
					goto out;
				}
			}
			tool_progress_step(&pr, 1);
		}
		tool_progress_end(&pr);
	}
	if (db_commit(&t->db) == -1) {
		tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
		goto out;
	}
	if (q.nerr == 0 && q.ndiff == 0)
		rc = TOOL_EXIT_OK;
out:
	if (t->db_ok)
		db_rollback(&t->db);
	/* --json: one document, once the database was reached. */
	if (q.recs != NULL && t->db_ok) {
		doc = json_pack("{s:I, s:I, s:I, s:I, s:O}",
		    "new", (json_int_t)q.nnew, "exists", (json_int_t)q.nsame,
		    "differs", (json_int_t)q.ndiff, "errors",
		    (json_int_t)q.nerr, "records", q.recs);
		if (tool_print_json(stdout, doc) == -1)
			rc = TOOL_EXIT_FAIL;
	}
	fflush(stdout);
	if (buf != NULL)
		fprintf(stderr, "enqueued %zu new, %zu existing, %zu differ, "
		    "%zu errors\n", q.nnew, q.nsame, q.ndiff, q.nerr);
	json_decref(q.recs);
	json_decref(q.warned);
	free(buf);
	return rc;
}

/* Workspaces known anywhere: records, worker state, the config. */
static json_t *
recs_workspaces(struct tool *t)
{
	sqlite3_stmt	*st;
	json_t		*a, *seen;
	size_t		 i;

	a = json_array();
	seen = json_object();
	st = store_prep(&t->db, SQ_WS_KNOWN);
	while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
		json_object_set_new(seen,
		    (const char *)sqlite3_column_text(st, 0), json_true());
		json_array_append_new(a, tool_col_str(st, 0));
	}
	if (st != NULL)
		sqlite3_reset(st);
	for (i = 0; t->conf != NULL && i < t->conf->nws; i++)
		if (json_object_get(seen, t->conf->ws[i].name) == NULL)
			json_array_append_new(a,
			    json_string(t->conf->ws[i].name));
	json_decref(seen);
	return a;
}

/* outbox_ws_counts: keep the one workspace's counts. */
static int
recs_counts(const struct ob_counts *c, void *arg)
{
	*(struct ob_counts *)arg = *c;
	((struct ob_counts *)arg)->workspace = NULL;
	return 0;
}

/*
 * The search lag of workspace ws (lag.c) into o's "search_lag", and as
 * one line into line (empty when there is no sample).
 */
/* Seconds as status shows them; a censored value is "over". */
static const char *
recs_lag_s(json_t *v)
{
	static char	 b[4][32];
	static int	 n;
	char		*p = b[n++ % 4];

	if (!json_is_number(v))
		return "over";
	snprintf(p, sizeof(b[0]), "%.*f s", json_number_value(v) < 10 ? 1 : 0,
	    json_number_value(v));
	return p;
}

static void
recs_lag(struct tool *t, json_t *o, const char *ws, char *line, size_t sz)
{
	const struct conf_ws *cw = tool_ws_conf(t, ws);
	json_t		*l, *k;
	char		 part[256];
	int		 i, any = 0;

	line[0] = '\0';
	if ((l = lag_store_json(&t->db, ws, cw != NULL ? cw->search_lag : -1,
	    cw != NULL ? cw->search_lag_share : 0)) == NULL)
		return;
	snprintf(line, sz, "%s: search lag:", ws);
	for (i = 0; i < LAG_NKIND; i++) {
		k = json_object_get(l, lag_kind_names[i]);
		if (json_integer_value(json_object_get(k, "n")) == 0)
			continue;
		snprintf(part, sizeof(part), "%s %ss p50 %s p99 %s (n=%lld%s)",
		    any++ ? ";" : "", lag_kind_names[i],
		    recs_lag_s(json_object_get(k, "p50_s")),
		    recs_lag_s(json_object_get(k, "p99_s")),
		    (long long)json_integer_value(json_object_get(k, "n")), "");
		snprintf(line + strlen(line), sz - strlen(line), "%s", part);
		if (json_is_real(json_object_get(k, "wait_s")))
			snprintf(line + strlen(line), sz - strlen(line),
			    ", 'not there' after %.0f s of search%s",
			    json_real_value(json_object_get(k, "wait_s")),
			    json_is_true(json_object_get(k, "in_use")) ? "" :
			    " (search_lag until 50 samples)");
	}
	if (!any)
		line[0] = '\0';
	json_object_set_new(o, "search_lag", l);
}

/* The status of workspace ws as a new JSON object. */
static json_t *
recs_ws_status(struct tool *t, const char *ws, int64_t now)
{
	sqlite3_stmt	*st;
	json_t		*o;
	struct ob_counts c;
	struct store_ws_state wst;
	int64_t		 oldest, last = 0;
	char		 buf[40], tm[40], why[256];
	int		 rc, served;

	o = json_object();
	json_object_set_new(o, "workspace", json_string(ws));
	/* The counts /metrics shows, from its query (outbox_ws_counts). */
	memset(&c, 0, sizeof(c));
	if (outbox_ws_counts(&t->db, clock_floor(), ws, recs_counts, &c) == -1)
		goto fail;
	json_object_set_new(o, "pending", json_integer(c.pending));
	json_object_set_new(o, "inflight", json_integer(c.inflight));
	st = store_prep(&t->db, SQ_WS_DONE);
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, ws);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		goto fail;
	}
	json_object_set_new(o, "done", tool_col_int(st, 0));
	json_object_set_new(o, "dead", json_integer(c.dead));
	json_object_set_new(o, "in_doubt", json_integer(c.in_doubt));
	if (c.oldest != 0) {
		oldest = c.oldest;
		json_object_set_new(o, "oldest_pending_at",
		    json_string(tool_fmt_time(oldest, tm, sizeof(tm))));
		json_object_set_new(o, "oldest_pending_age_s",
		    json_integer(now - oldest > 0 ? now - oldest : 0));
		json_object_set_new(o, "oldest_pending_age",
		    json_string(tool_fmt_age(now - oldest, buf, sizeof(buf))));
	} else {
		json_object_set_new(o, "oldest_pending_at", json_null());
		json_object_set_new(o, "oldest_pending_age_s", json_null());
		json_object_set_new(o, "oldest_pending_age", json_null());
	}
	if (sqlite3_column_type(st, 1) != SQLITE_NULL)
		last = sqlite3_column_int64(st, 1);
	json_object_set_new(o, "dead_letters", tool_col_int(st, 2));
	/* Given to another machine (export --handoff): not dead here. */
	json_object_set_new(o, "handed_off", json_integer(c.handed_off));
	sqlite3_reset(st);

	/* The row /ui and tool_ws_served read (store_ws_state). */
	if ((rc = store_ws_state(&t->db, ws, &wst)) == -1) {
		store_ws_state_free(&wst);
		goto fail;
	}
	if (rc == 1) {
		json_object_set_new(o, "breaker", tool_str_json(wst.breaker));
		json_object_set_new(o, "breaker_since",
		    tool_time_json(wst.breaker_since));
		json_object_set_new(o, "rate_limited_until",
		    wst.rate_limited_until > now ?
		    tool_time_json(wst.rate_limited_until) : json_null());
		json_object_set_new(o, "paused", json_boolean(wst.paused));
		json_object_set_new(o, "pause_reason",
		    tool_str_json(wst.pause_reason));
		if (wst.last_delivery_at > last)
			last = wst.last_delivery_at;
	} else {
		json_object_set_new(o, "breaker", json_string("closed"));
		json_object_set_new(o, "breaker_since", json_null());
		json_object_set_new(o, "rate_limited_until", json_null());
		json_object_set_new(o, "paused", json_false());
		json_object_set_new(o, "pause_reason", json_null());
	}
	store_ws_state_free(&wst);
	json_object_set_new(o, "last_delivery_at", last > 0 ?
	    json_string(tool_fmt_time(last, buf, sizeof(buf))) : json_null());
	/* Records only a running worker configured for ws will deliver. */
	json_object_set_new(o, "waiting", json_integer(
	    json_integer_value(json_object_get(o, "pending")) +
	    json_integer_value(json_object_get(o, "inflight"))));
	if ((served = tool_ws_served(t, ws, now, why, sizeof(why))) == -1)
		goto fail;
	json_object_set_new(o, "served", json_boolean(served));
	return o;
fail:
	tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
	json_decref(o);
	return NULL;
}

static long long
ji(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/*
 * The workers table: JSON Lines, or a table (after a blank line and a
 * "workers:" heading when below the workspaces).
 */
static int
recs_workers(struct tool *t, int64_t now, int json, bool below)
{
	json_t		*a, *o, *v;
	size_t		 i, j;
	char		 wss[256], age[48], hb[40];
	int		 n;

	if ((a = tool_workers(t, now)) == NULL) {
		tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
		return TOOL_EXIT_FAIL;
	}
	if (json) {
		json_array_foreach(a, i, o)
			tool_print_json(stdout, o);
		json_decref(a);
		return TOOL_EXIT_OK;
	}
	if (below)
		printf("\nworkers:\n");
	if (json_array_size(a) == 0)
		printf("no worker is running (a worker registers while it "
		    "runs and leaves on a clean stop)\n");
	else
		printf("%-5s %-40s %7s %-20s %-20s %-9s %s\n", "STATE",
		    "OWNER", "PID", "STARTED", "HEARTBEAT", "VERSION",
		    "WORKSPACES");
	json_array_foreach(a, i, o) {
		wss[0] = '\0';
		json_array_foreach(json_object_get(o, "workspaces"), j, v) {
			n = (int)strlen(wss);
			snprintf(wss + n, sizeof(wss) - (size_t)n, "%s%s",
			    j ? "," : "", json_string_value(v));
		}
		snprintf(age, sizeof(age), "%s ago",
		    tool_fmt_age(ji(o, "heartbeat_age_s"), hb,
		    sizeof(hb)));
		printf("%-5s %-40s %7lld %-20s %-20s %-9s %s%s%s\n",
		    tool_json_s(o, "state"), tool_json_s(o, "owner"), ji(o, "pid"),
		    tool_json_s(o, "started_at"), age, tool_json_s(o, "version"),
		    wss[0] ? wss : "-",
		    json_is_string(json_object_get(o, "why")) ? "  " : "",
		    json_is_string(json_object_get(o, "why")) ?
		    tool_json_s(o, "why") : "");
	}
	json_decref(a);
	return TOOL_EXIT_OK;
}

/*
 * status --json: "workers" on workspace object o, the registered workers
 * that list it ({owner, pid, host, version, state, heartbeat_age_s, why},
 * as status --workers --json has them).  The workers table is read once
 * per second at most.
 */
static void
recs_ws_workers(struct tool *t, int64_t now, json_t *o)
{
	static json_t	*all;
	static int64_t	 read_at = -1;
	json_t		*a, *w, *v;
	size_t		 i, j;
	const char	*ws = json_string_value(json_object_get(o,
			    "workspace"));

	if (read_at != now) {
		json_decref(all);
		all = tool_workers(t, now);
		read_at = now;
	}
	a = json_array();
	json_array_foreach(all, i, w) {
		json_array_foreach(json_object_get(w, "workspaces"), j, v) {
			if (ws == NULL || json_string_value(v) == NULL ||
			    strcmp(json_string_value(v), ws) != 0)
				continue;
			json_array_append_new(a, json_pack("{s:O?, s:O?, s:O?, "
			    "s:O?, s:O?, s:O?, s:O?}", "owner",
			    json_object_get(w, "owner"), "pid",
			    json_object_get(w, "pid"), "host",
			    json_object_get(w, "host"), "version",
			    json_object_get(w, "version"), "state",
			    json_object_get(w, "state"), "heartbeat_age_s",
			    json_object_get(w, "heartbeat_age_s"), "why",
			    json_object_get(w, "why")));
			break;
		}
	}
	json_object_set_new(o, "workers", a);
}

int
cmd_status(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "workers", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*wss = NULL, *o, *v, *unserved = NULL, *lags = NULL;
	size_t		 i;
	int64_t		 now = clock_wall_s();
	int		 ch, json = 0, workers = 0, rc = TOOL_EXIT_FAIL;
	char		 notes[512], b[40], lagl[1024];

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hj", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&cmd_status_c, true);
		case 'j':
			json = 1;
			break;
		case 'W':
			workers = 1;
			break;
		default:
			return tool_badopt(&cmd_status_c, argv, ch);
		}
	}
	if (optind != argc) {
		tool_err("status: unexpected argument %s", argv[optind]);
		return tool_usage(&cmd_status_c, false);
	}
	if (tool_conf_lenient(t, "status") == -1 ||
	    tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	if (workers)
		return recs_workers(t, now, json, false);
	wss = recs_workspaces(t);
	unserved = json_array();
	lags = json_array();
	if (!json)
		printf("%-16s %8s %8s %8s %6s %10s %5s %-9s %-20s %s\n",
		    "WORKSPACE", "PENDING", "INFLIGHT", "DONE", "DEAD",
		    "HANDED-OFF", "DOUBT", "OLDEST", "LAST DELIVERY", "BREAKER");
	json_array_foreach(wss, i, v) {
		if ((o = recs_ws_status(t, json_string_value(v), now)) == NULL)
			goto out;
		recs_lag(t, o, json_string_value(v), lagl, sizeof(lagl));
		if (lagl[0] != '\0')
			json_array_append_new(lags, json_string(lagl));
		if (json) {
			recs_ws_workers(t, now, o);
			tool_print_json(stdout, o);
			continue;
		}
		if (ji(o, "waiting") > 0 &&
		    !json_is_true(json_object_get(o, "served")))
			json_array_append(unserved, o);
		notes[0] = '\0';
		if (json_is_true(json_object_get(o, "paused")))
			snprintf(notes, sizeof(notes), "  paused: %s",
			    tool_json_s(o, "pause_reason"));
		if (json_is_string(json_object_get(o, "rate_limited_until")))
			snprintf(notes + strlen(notes),
			    sizeof(notes) - strlen(notes),
			    "  rate limited until %s",
			    tool_json_s(o, "rate_limited_until"));
		snprintf(b, sizeof(b), "%s", tool_json_s(o, "breaker"));
		if (json_is_string(json_object_get(o, "breaker_since")) &&
		    strcmp(b, "closed") != 0)
			snprintf(notes + strlen(notes),
			    sizeof(notes) - strlen(notes), "  (%s since %s)",
			    b, tool_json_s(o, "breaker_since"));
		printf("%-16s %8lld %8lld %8lld %6lld %10lld %5lld %-9s %-20s "
		    "%s%s\n", tool_json_s(o, "workspace"), ji(o, "pending"),
		    ji(o, "inflight"), ji(o, "done"), ji(o, "dead"),
		    ji(o, "handed_off"), ji(o, "in_doubt"),
		    tool_json_s(o, "oldest_pending_age"), tool_json_s(o, "last_delivery_at"),
		    b, notes);
		json_decref(o);
	}
	json_array_foreach(lags, i, o)
		if (!json)
			printf("%s\n", json_string_value(o));
	/* Work that nothing is draining: say so below the table. */
	json_array_foreach(unserved, i, o)
		printf("%s: %lld record%s waiting, no running worker serves "
		    "this workspace (%s)\n", tool_json_s(o, "workspace"),
		    ji(o, "waiting"), ji(o, "waiting") == 1 ? "" : "s",
		    t->conf == NULL ? "not in any running worker's "
		    "configuration?" : tool_ws_conf(t, tool_json_s(o, "workspace")) ==
		    NULL ? "not in this configuration either" :
		    "is callsyncd running with this configuration?");
	rc = json ? TOOL_EXIT_OK : recs_workers(t, now, 0, true);
out:
	json_decref(lags);
	json_decref(unserved);
	json_decref(wss);
	return rc;
}

int
cmd_ls(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "state", required_argument, NULL, 's' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	sqlite3_stmt	*st;
	json_t		*o;
	const char	*state = NULL, *ws = NULL;
	long long	 limit = 50;
	int		 ch, json = 0, rc;
	char		 b[40];

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hjn:s:w:", lopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&cmd_ls_c, true);
		case 'j':
			json = 1;
			break;
		case 'n':
			if (tool_parse_count(optarg, &limit) == -1) {
				tool_err("ls: --limit %s: not a positive "
				    "number", optarg);
				return tool_usage(&cmd_ls_c, false);
			}
			break;
		case 's':
			state = optarg;
			if (strcmp(state, "pending") != 0 &&
			    strcmp(state, "inflight") != 0 &&
			    strcmp(state, "done") != 0 &&
			    strcmp(state, "dead") != 0 &&
			    strcmp(state, "handed_off") != 0) {
				tool_err("ls: --state %s: not one of pending, "
				    "inflight, done, dead, handed_off", state);
				return tool_usage(&cmd_ls_c, false);
			}
			break;
		case 'w':
			ws = optarg;
			break;
		default:
			return tool_badopt(&cmd_ls_c, argv, ch);
		}
	}
	if (optind != argc) {
		tool_err("ls: unexpected argument %s", argv[optind]);
		return tool_usage(&cmd_ls_c, false);
	}
	if (tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	/* The journal's warnings (an attribute or the record's own assign
	 * dropped before the first write, a time unknown: clock_check)
	 * show where no error does. */
	st = store_prep(&t->db, SQ_REC_LIST);
	if (st == NULL)
		return TOOL_EXIT_FAIL;
	db_bind_text(st, 1, state);
	db_bind_text(st, 2, ws);
	db_bind_int(st, 3, limit);
	if (!json)
		printf("%-6s %-12s %-28s %-8s %4s %-20s %s\n", "ID",
		    "WORKSPACE", "KEY", "STATE", "TRY", "ENQUEUED",
		    "LAST ERROR");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json) {
			o = json_object();
			json_object_set_new(o, "id", tool_col_int(st, 0));
			json_object_set_new(o, "workspace", tool_col_str(st, 1));
			json_object_set_new(o, "key", tool_col_str(st, 2));
			json_object_set_new(o, "state", tool_col_str(st, 3));
			json_object_set_new(o, "attempts", tool_col_int(st, 4));
			json_object_set_new(o, "in_doubt",
			    json_boolean(sqlite3_column_int(st, 5)));
			json_object_set_new(o, "enqueued_at",
			    tool_col_time(st, 6));
			json_object_set_new(o, "next_at", tool_col_time(st, 7));
			json_object_set_new(o, "delivered_at",
			    tool_col_time(st, 8));
			json_object_set_new(o, "lane", tool_col_str(st, 9));
			json_object_set_new(o, "last_error",
			    tool_col_str(st, 10));
			json_object_set_new(o, "warning", tool_col_str(st, 11));
			tool_print_json(stdout, o);
			continue;
		}
		printf("%-6lld %-12s %-28s %-8s %4d %-20s %s%s\n",
		    (long long)sqlite3_column_int64(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3),
		    sqlite3_column_int(st, 4),
		    tool_fmt_time(sqlite3_column_int64(st, 6), b, sizeof(b)),
		    sqlite3_column_text(st, 10) != NULL ?
		    (const char *)sqlite3_column_text(st, 10) :
		    sqlite3_column_text(st, 11) != NULL ? "warning: " : "",
		    sqlite3_column_text(st, 10) == NULL &&
		    sqlite3_column_text(st, 11) != NULL ?
		    (const char *)sqlite3_column_text(st, 11) : "");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}

/* Every row of st (one bound parameter: id) as objects made by fn. */
static json_t *
recs_rows(sqlite3_stmt *st, int64_t id, json_t *(*fn)(sqlite3_stmt *))
{
	json_t	*a = json_array();

	if (st == NULL)
		return a;
	db_bind_int(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, fn(st));
	sqlite3_reset(st);
	return a;
}

static json_t *
recs_journal_row(sqlite3_stmt *st)
{
	json_t	*o = json_object();

	json_object_set_new(o, "step", tool_col_str(st, 0));
	json_object_set_new(o, "intercom_id", tool_col_str(st, 1));
	json_object_set_new(o, "detail", tool_col_json(st, 2));
	json_object_set_new(o, "done_at", tool_col_time(st, 3));
	return o;
}

static json_t *
recs_attempt_row(sqlite3_stmt *st)
{
	json_t	*o = json_object();

	json_object_set_new(o, "at", tool_col_time(st, 0));
	json_object_set_new(o, "class", tool_col_str(st, 1));
	json_object_set_new(o, "charged", json_boolean(
	    sqlite3_column_int(st, 2)));
	json_object_set_new(o, "http_status", tool_col_int(st, 3));
	json_object_set_new(o, "step", tool_col_str(st, 4));
	json_object_set_new(o, "message", tool_col_str(st, 5));
	json_object_set_new(o, "response", tool_col_str(st, 6));
	return o;
}

static json_t *
recs_dead_row(sqlite3_stmt *st)
{
	json_t	*o = json_object();

	json_object_set_new(o, "reason", tool_col_str(st, 0));
	json_object_set_new(o, "class", tool_col_str(st, 1));
	json_object_set_new(o, "message", tool_col_str(st, 2));
	json_object_set_new(o, "http_status", tool_col_int(st, 3));
	json_object_set_new(o, "response", tool_col_str(st, 4));
	json_object_set_new(o, "note", tool_col_str(st, 5));
	json_object_set_new(o, "dead_at", tool_col_time(st, 6));
	return o;
}

static json_t *
recs_handoff_row(sqlite3_stmt *st)
{
	json_t	*o = json_object();

	json_object_set_new(o, "bundle", tool_col_str(st, 0));
	json_object_set_new(o, "created_at", tool_col_str(st, 1));
	json_object_set_new(o, "sha256", tool_col_str(st, 2));
	json_object_set_new(o, "handed_at", tool_col_time(st, 3));
	json_object_set_new(o, "operator", tool_col_str(st, 4));
	return o;
}

static json_t *
recs_history_row(sqlite3_stmt *st)
{
	json_t	*o = json_object();

	json_object_set_new(o, "replaced_at", tool_col_time(st, 0));
	json_object_set_new(o, "operator", tool_col_str(st, 1));
	json_object_set_new(o, "payload", tool_col_json(st, 2));
	return o;
}

static json_t *
recs_audit_row(sqlite3_stmt *st)
{
	json_t	*o = json_object();
	char	 b[40];

	json_object_set_new(o, "id", tool_col_int(st, 0));
	json_object_set_new(o, "at", json_string(tool_fmt_time_ms(
	    sqlite3_column_int64(st, 1), b, sizeof(b))));
	json_object_set_new(o, "kind", tool_col_str(st, 2));
	json_object_set_new(o, "step", tool_col_str(st, 3));
	json_object_set_new(o, "method", tool_col_str(st, 4));
	json_object_set_new(o, "path", tool_col_str(st, 5));
	json_object_set_new(o, "http_status", tool_col_int(st, 6));
	json_object_set_new(o, "object_id", tool_col_str(st, 7));
	json_object_set_new(o, "admin_id", tool_col_str(st, 8));
	json_object_set_new(o, "duration_ms", tool_col_int(st, 9));
	json_object_set_new(o, "detail", tool_col_json(st, 10));
	return o;
}

/*
 * The write in doubt of record o (its open intent, from its journal), as
 * o's "doubt" object, and in_doubt set true; nothing when there is none.
 * Its doubt clock is detail.waited_ms, saved by the worker at saved_at
 * (at most 5 s ago while it waits); it runs only while a worker holds
 * the record.  The wait lasts need_ms (request_timeout + settle_margin,
 * plus search_lag for a contact or a conversation), as the worker saved
 * it, else as the configuration says.
 */
static void
recs_doubt(struct tool *t, json_t *o, int64_t now)
{
	const struct conf_ws *cw;
	json_t		*a, *v, *det, *d;
	const char	*step = NULL;
	int64_t		 waited, need = -1, saved;
	size_t		 i;
	bool		 held;

	a = json_object_get(o, "journal");
	json_array_foreach(a, i, v) {
		if (strncmp(tool_json_s(v, "step"), "intent:", 7) == 0) {
			step = tool_json_s(v, "step") + 7;
			break;
		}
	}
	if (step == NULL)
		return;
	det = json_object_get(v, "detail");
	waited = json_integer_value(json_object_get(det, "waited_ms"));
	saved = json_integer_value(json_object_get(det, "saved_at"));
	held = strcmp(tool_json_s(o, "state"), "inflight") == 0 &&
	    json_is_string(json_object_get(o, "lease_owner"));
	if (held && saved > 0 && now > saved)
		waited += (now - saved) * 1000;
	if (json_is_integer(json_object_get(det, "need_ms")))
		need = json_integer_value(json_object_get(det, "need_ms"));
	else if ((cw = tool_ws_conf(t, tool_json_s(o, "workspace"))) != NULL)
		need = ((int64_t)cw->request_timeout + cw->settle_margin +
		    (strcmp(step, "contact") == 0 ||
		    strcmp(step, "conversation") == 0 ? cw->search_lag : 0)) *
		    1000;
	d = json_pack("{s:s,s:I,s:b}", "step", step, "waited_s",
	    (json_int_t)(waited / 1000), "clock_running", held);
	json_object_set_new(d, "reconcile_in_s", need < 0 ? json_null() :
	    json_integer(need > waited ? (need - waited + 999) / 1000 : 0));
	json_object_set_new(o, "doubt", d);
	json_object_set_new(o, "in_doubt", json_true());
}

/* Everything known about record id, as a new object. */
static json_t *
recs_build(struct tool *t, int64_t id)
{
	sqlite3_stmt	*st;
	json_t		*o, *dl, *a;
	const char	*ws, *key;

	st = store_prep(&t->db, SQ_REC_ROW);
	if (st == NULL)
		return NULL;
	db_bind_int(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return NULL;
	}
	o = json_object();
	json_object_set_new(o, "id", tool_col_int(st, 0));
	json_object_set_new(o, "workspace", tool_col_str(st, 1));
	json_object_set_new(o, "key", tool_col_str(st, 2));
	json_object_set_new(o, "state", tool_col_str(st, 3));
	json_object_set_new(o, "attempts", tool_col_int(st, 4));
	json_object_set_new(o, "in_doubt", json_boolean(
	    sqlite3_column_int(st, 5)));
	json_object_set_new(o, "marker", tool_col_str(st, 6));
	json_object_set_new(o, "lane", tool_col_str(st, 7));
	json_object_set_new(o, "enqueued_at", tool_col_time(st, 8));
	/* next_at 0 means "due at once", not 1970. */
	json_object_set_new(o, "next_at", sqlite3_column_int64(st, 9) > 0 ?
	    tool_col_time(st, 9) : json_null());
	json_object_set_new(o, "lease_owner", tool_col_str(st, 10));
	json_object_set_new(o, "lease_until", tool_col_time(st, 11));
	json_object_set_new(o, "last_error", tool_col_str(st, 12));
	json_object_set_new(o, "delivered_at", tool_col_time(st, 13));
	json_object_set_new(o, "updated_at", tool_col_time(st, 14));
	json_object_set_new(o, "payload", tool_col_json(st, 15));
	sqlite3_reset(st);

	json_object_set_new(o, "journal", recs_rows(store_prep(&t->db,
	    SQ_REC_JOURNAL), id, recs_journal_row));
	json_object_set_new(o, "attempt_log", recs_rows(store_prep(&t->db,
	    SQ_REC_ATTEMPTS), id, recs_attempt_row));
	dl = recs_rows(store_prep(&t->db, SQ_REC_DEAD_LETTER), id, recs_dead_row);
	json_object_set(o, "dead_letter", json_array_size(dl) > 0 ?
	    json_array_get(dl, 0) : json_null());
	json_decref(dl);
	dl = recs_rows(store_prep(&t->db, SQ_REC_HANDOFF), id,
	    recs_handoff_row);
	json_object_set(o, "handoff", json_array_size(dl) > 0 ?
	    json_array_get(dl, 0) : json_null());
	json_decref(dl);
	json_object_set_new(o, "payload_history", recs_rows(store_prep(&t->db,
	    SQ_REC_PAYLOADS), id, recs_history_row));

	ws = json_string_value(json_object_get(o, "workspace"));
	key = json_string_value(json_object_get(o, "key"));
	st = store_prep(&t->db, SQ_REC_AUDIT);
	a = json_array();
	if (st != NULL) {
		db_bind_text(st, 1, key);
		db_bind_text(st, 2, ws);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(a, recs_audit_row(st));
		sqlite3_reset(st);
	}
	json_object_set_new(o, "audit", a);
	recs_doubt(t, o, clock_wall_s());
	return o;
}

static void
recs_print_human(json_t *o)
{
	json_t		*a, *v, *dl, *d;
	size_t		 i;
	char		*p;

	printf("%s/%s (id %lld)\n", tool_json_s(o, "workspace"), tool_json_s(o, "key"),
	    ji(o, "id"));
	printf("  state        %s, %lld attempts%s\n", tool_json_s(o, "state"),
	    ji(o, "attempts"), json_is_true(json_object_get(o, "in_doubt")) ?
	    ", in doubt" : "");
	if ((d = json_object_get(o, "doubt")) != NULL) {
		if (json_is_integer(json_object_get(d, "reconcile_in_s")))
			printf("  in doubt     %s: reconciled in %lld s%s "
			    "(waited %lld s)\n", tool_json_s(d, "step"),
			    ji(d, "reconcile_in_s"), json_is_true(
			    json_object_get(d, "clock_running")) ? "" :
			    " of a worker's time", ji(d, "waited_s"));
		else
			printf("  in doubt     %s: waited %lld s (give --config "
			    "for the time left)\n", tool_json_s(d, "step"),
			    ji(d, "waited_s"));
	}
	printf("  marker       %s\n", tool_json_s(o, "marker"));
	printf("  lane         %s\n", tool_json_s(o, "lane"));
	printf("  enqueued_at  %s\n", tool_json_s(o, "enqueued_at"));
	printf("  next_at      %s\n", tool_json_s(o, "next_at"));
	if (json_is_string(json_object_get(o, "lease_owner")))
		printf("  lease        %s until %s\n", tool_json_s(o, "lease_owner"),
		    tool_json_s(o, "lease_until"));
	if (json_is_string(json_object_get(o, "delivered_at")))
		printf("  delivered_at %s\n", tool_json_s(o, "delivered_at"));
	printf("  last_error   %s\n", tool_json_s(o, "last_error"));
	p = json_dumps(json_object_get(o, "payload"),
	    JSON_COMPACT | JSON_ENCODE_ANY);
	printf("  payload      %s\n", p != NULL ? p : "-");
	free(p);
	a = json_object_get(o, "journal");
	printf("journal (%zu steps):\n", json_array_size(a));
	json_array_foreach(a, i, v) {
		printf("  %-20s %-26s %s\n", tool_json_s(v, "step"),
		    tool_json_s(v, "intercom_id"), tool_json_s(v, "done_at"));
		if (json_is_string(json_object_get(json_object_get(v,
		    "detail"), "warning")))
			printf("    warning: %s\n", tool_json_s(json_object_get(v,
			    "detail"), "warning"));
	}
	a = json_object_get(o, "attempt_log");
	printf("attempts (%zu):\n", json_array_size(a));
	json_array_foreach(a, i, v)
		printf("  %s %s%s HTTP %lld step %s: %s\n", tool_json_s(v, "at"),
		    tool_json_s(v, "class"), json_is_true(json_object_get(v,
		    "charged")) ? "" : " (refunded)", ji(v, "http_status"),
		    tool_json_s(v, "step"), tool_json_s(v, "message"));
	dl = json_object_get(o, "dead_letter");
	if (json_is_object(dl)) {
		printf("dead letter:\n  %s (%s) at %s: %s\n", tool_json_s(dl, "reason"),
		    tool_json_s(dl, "class"), tool_json_s(dl, "dead_at"), tool_json_s(dl, "message"));
		if (json_is_string(json_object_get(dl, "note")))
			printf("  note: %s\n", tool_json_s(dl, "note"));
	}
	dl = json_object_get(o, "handoff");
	if (json_is_object(dl))
		printf("handed off:\n  to another machine at %s by %s, in the "
		    "export bundle of %s (%s, sha256 %s); not delivered from "
		    "here (dlq replay --key %s --force undoes it)\n",
		    tool_json_s(dl, "handed_at"), tool_json_s(dl, "operator"),
		    tool_json_s(dl, "created_at"), tool_json_s(dl, "bundle"), tool_json_s(dl, "sha256"),
		    tool_json_s(o, "key"));
	a = json_object_get(o, "payload_history");
	if (json_array_size(a) > 0) {
		printf("payload history (%zu):\n", json_array_size(a));
		json_array_foreach(a, i, v) {
			p = json_dumps(json_object_get(v, "payload"),
			    JSON_COMPACT | JSON_ENCODE_ANY);
			printf("  replaced %s by %s: %s\n", tool_json_s(v,
			    "replaced_at"), tool_json_s(v, "operator"),
			    p != NULL ? p : "-");
			free(p);
		}
	}
	a = json_object_get(o, "audit");
	printf("audit (%zu rows):\n", json_array_size(a));
	json_array_foreach(a, i, v) {
		if (strcmp(tool_json_s(v, "kind"), "write") == 0)
			printf("  %lld %s %s %s %s -> %lld %s (admin %s)\n",
			    ji(v, "id"), tool_json_s(v, "at"), tool_json_s(v, "step"),
			    tool_json_s(v, "method"), tool_json_s(v, "path"),
			    ji(v, "http_status"), tool_json_s(v, "object_id"),
			    tool_json_s(v, "admin_id"));
		else {
			p = json_dumps(json_object_get(v, "detail"),
			    JSON_COMPACT | JSON_ENCODE_ANY);
			printf("  %lld %s %s %s\n", ji(v, "id"), tool_json_s(v, "at"),
			    tool_json_s(v, "kind"), p != NULL ? p : "");
			free(p);
		}
	}
}

/*
 * Print record key (in ws, or in the only workspace that has it).
 * dead_only: dlq show, which refuses records that are not dead.
 */
int
cmd_show_record(struct tool *t, const char *ws, const char *key, bool json,
    bool dead_only)
{
	sqlite3_stmt	*st;
	json_t		*o;
	int64_t		 id = 0;
	int		 n = 0;
	char		 wss[256] = "";

	st = store_prep(&t->db, SQ_REC_BY_KEY);
	if (st == NULL)
		return TOOL_EXIT_FAIL;
	db_bind_text(st, 1, key);
	db_bind_text(st, 2, ws);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (dead_only && strcmp((const char *)sqlite3_column_text(st,
		    2), "dead") != 0)
			continue;
		id = sqlite3_column_int64(st, 0);
		snprintf(wss + strlen(wss), sizeof(wss) - strlen(wss), "%s%s",
		    n > 0 ? ", " : "", (const char *)sqlite3_column_text(st,
		    1));
		n++;
	}
	sqlite3_reset(st);
	if (n == 0) {
		tool_err("%s%s%s: no such %s", ws != NULL ? ws : "",
		    ws != NULL ? "/" : "", key, dead_only ? "dead letter" :
		    "record");
		return TOOL_EXIT_FAIL;
	}
	if (n > 1) {
		tool_err("%s: in several workspaces (%s): use --workspace",
		    key, wss);
		return TOOL_EXIT_FAIL;
	}
	if ((o = recs_build(t, id)) == NULL) {
		tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
		return TOOL_EXIT_FAIL;
	}
	if (json)
		tool_print_json(stdout, o);
	else {
		recs_print_human(o);
		json_decref(o);
	}
	return TOOL_EXIT_OK;
}

int
cmd_show(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*ws = NULL;
	int		 ch, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hjw:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&cmd_show_c, true);
		case 'j':
			json = 1;
			break;
		case 'w':
			ws = optarg;
			break;
		default:
			return tool_badopt(&cmd_show_c, argv, ch);
		}
	}
	if (argc - optind != 1) {
		tool_err("show: give one KEY");
		return tool_usage(&cmd_show_c, false);
	}
	if (tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	return cmd_show_record(t, ws, argv[optind], json, false);
}

/*
 * Every workspace's status object (as `status --json` prints them), for
 * `top` and other views: a new array, or NULL on a database error (said).
 */
json_t *
recs_status_all(struct tool *t, int64_t now)
{
	json_t	*wss, *a, *o, *v;
	size_t	 i;

	wss = recs_workspaces(t);
	a = json_array();
	json_array_foreach(wss, i, v) {
		if ((o = recs_ws_status(t, json_string_value(v), now)) == NULL) {
			json_decref(a);
			json_decref(wss);
			return NULL;
		}
		json_array_append_new(a, o);
	}
	json_decref(wss);
	return a;
}
