/*
 * tasks: see tasks.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "clock.h"
#include "rt.h"
#include "httpd.h"
#include "log.h"
#include "outbox.h"
#include "record.h"
#include "tasks.h"

#define TASK_COLS "id, workspace, contact_id, phone, email, name, reason, " \
	"conversation_id, due_at, lease_until, state, rule, priority, " \
	"outcome, created_at, updated_at, record_key"
/* A lease that ran out reads as due. */
#define EFFECTIVE_STATE "CASE WHEN state = 'leased' AND lease_until <= ?1 " \
	"THEN 'due' ELSE state END"

static json_t *
col_str(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() :
	    json_string((const char *)sqlite3_column_text(st, i));
}

static json_t *
row_json(sqlite3_stmt *st, int64_t now)
{
	json_t		*o;
	char		 id[32];
	const char	*state = (const char *)sqlite3_column_text(st, 10);
	int64_t		 lease = sqlite3_column_int64(st, 9);

	snprintf(id, sizeof(id), "%" PRId64, (int64_t)sqlite3_column_int64(st,
	    0));
	if (strcmp(state, "leased") == 0 && lease <= now)
		state = "due";
	o = json_object();
	json_object_set_new(o, "task_id", json_string(id));
	json_object_set_new(o, "workspace", col_str(st, 1));
	json_object_set_new(o, "contact_id", col_str(st, 2));
	json_object_set_new(o, "phone", col_str(st, 3));
	json_object_set_new(o, "email", col_str(st, 4));
	json_object_set_new(o, "name", col_str(st, 5));
	json_object_set_new(o, "reason", col_str(st, 6));
	json_object_set_new(o, "conversation_id", col_str(st, 7));
	json_object_set_new(o, "due_at", json_integer(sqlite3_column_int64(st,
	    8)));
	json_object_set_new(o, "lease_until", strcmp(state, "leased") == 0 ?
	    json_integer(lease) : json_null());
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "rule", col_str(st, 11));
	json_object_set_new(o, "priority", json_integer(sqlite3_column_int64(
	    st, 12)));
	json_object_set_new(o, "outcome", col_str(st, 13));
	json_object_set_new(o, "created_at", json_integer(
	    sqlite3_column_int64(st, 14)));
	json_object_set_new(o, "updated_at", json_integer(
	    sqlite3_column_int64(st, 15)));
	json_object_set_new(o, "record_key", col_str(st, 16));
	return o;
}

json_t *
tasks_get(struct db *d, int64_t id, int64_t now, int *found)
{
	sqlite3_stmt	*st;
	json_t		*o = NULL;
	int		 rc;

	*found = -1;
	if ((st = db_prep(d, "SELECT " TASK_COLS " FROM tasks WHERE id = ?"))
	    == NULL)
		return NULL;
	db_bind_int(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		o = row_json(st, now);
		*found = 1;
	} else if (rc == SQLITE_DONE)
		*found = 0;
	sqlite3_reset(st);
	return o;
}

int
tasks_claim(struct db *d, const char *ws, int lease_s, int64_t now,
    json_t **out)
{
	sqlite3_stmt	*st;
	int64_t		 id = 0;
	int		 rc, found;

	*out = NULL;
	if (db_begin(d) == -1)
		return -1;
	st = db_prep(d, "SELECT id FROM tasks WHERE state IN ('due', "
	    "'leased') AND (state = 'due' OR lease_until <= ?1) AND "
	    "due_at <= ?1 AND (?2 IS NULL OR workspace = ?2) "
	    "ORDER BY priority DESC, due_at, id LIMIT 1");
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, now);
	db_bind_text(st, 2, ws);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto fail;
	if (id == 0) {
		db_rollback(d);
		return 0;
	}
	if ((st = db_prep(d, "UPDATE tasks SET state = 'leased', "
	    "lease_until = ?, updated_at = ? WHERE id = ?")) == NULL)
		goto fail;
	db_bind_int(st, 1, now + lease_s);
	db_bind_int(st, 2, now);
	db_bind_int(st, 3, id);
	if (db_step_done(d, st) == -1)
		goto fail;
	if (db_commit(d) == -1)
		return -1;
	*out = tasks_get(d, id, now, &found);
	return *out != NULL ? 1 : -1;
fail:
	db_rollback(d);
	return -1;
}

/*
 * tasks_finish and tasks_done_record in one transaction: the state
 * check, the update and (key non-NULL) the record's enqueue.  err gets
 * why a 409 was the record's.
 */
static int
finish_tx(struct db *d, int64_t id, const char *state, const char *outcome,
    const char *key, const char *payload, int64_t now, char *err,
    size_t errsz)
{
	sqlite3_stmt	*st;
	char		*cur = NULL, *ws = NULL;
	enum ob_enq	 res;
	int		 rc, code = -1;

	if (db_begin(d) == -1)
		return -1;
	if ((st = db_prep(d, "SELECT state, workspace FROM tasks WHERE id = ?"))
	    == NULL)
		goto cleanup;
	db_bind_int(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cur = db_col_strdup(st, 0);
		ws = db_col_strdup(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto cleanup;
	if (cur == NULL || ws == NULL) {
		code = rc == SQLITE_DONE ? 404 : -1;
		goto cleanup;
	}
	if (strcmp(cur, "done") == 0 || strcmp(cur, "failed") == 0 ||
	    strcmp(cur, "cancelled") == 0) {
		code = 409;
		goto cleanup;
	}
	if ((st = db_prep(d, "UPDATE tasks SET state = ?, lease_until = NULL, "
	    "outcome = coalesce(?, outcome), updated_at = ?, "
	    "record_key = coalesce(?, record_key) WHERE id = ?")) == NULL)
		goto cleanup;
	db_bind_text(st, 1, state);
	db_bind_text(st, 2, outcome);
	db_bind_int(st, 3, now);
	db_bind_text(st, 4, key);
	db_bind_int(st, 5, id);
	if (db_step_done(d, st) == -1)
		goto cleanup;
	if (key != NULL) {
		if (outbox_enqueue(d, ws, key, payload, &res, err, errsz) == -1)
			goto cleanup;
		if (res == OB_ENQ_DIFFERS) {
			snprintf(err, errsz, "another record is in the outbox "
			    "as %s/%s", ws, key);
			code = 409;
			goto cleanup;
		}
	}
	if (db_commit(d) == 0) {
		free(cur);
		free(ws);
		return 200;
	}
cleanup:
	db_rollback(d);
	free(cur);
	free(ws);
	return code;
}

int
tasks_finish(struct db *d, int64_t id, const char *state,
    const char *outcome, int64_t now)
{
	char	err[8];

	return finish_tx(d, id, state, outcome, NULL, NULL, now, err,
	    sizeof(err));
}

int
tasks_done_record(struct db *d, int64_t id, const char *outcome,
    const char *key, const char *payload, int64_t now, char *err,
    size_t errsz)
{
	err[0] = '\0';
	return finish_tx(d, id, "done", outcome, key, payload, now, err,
	    errsz);
}

json_t *
tasks_list(struct db *d, const char *state, int64_t now, int limit)
{
	sqlite3_stmt	*st;
	json_t		*a;
	int		 rc;

	if ((st = db_prep(d, "SELECT " TASK_COLS " FROM tasks WHERE ?2 IS "
	    "NULL OR " EFFECTIVE_STATE " = ?2 ORDER BY id DESC LIMIT ?3")) ==
	    NULL)
		return NULL;
	db_bind_int(st, 1, now);
	db_bind_text(st, 2, state);
	db_bind_int(st, 3, limit);
	a = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(a, row_json(st, now));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return NULL;
	}
	return a;
}

json_t *
tasks_due_counts(struct db *d, int64_t now)
{
	sqlite3_stmt	*st;
	json_t		*o;
	int		 rc;

	if ((st = db_prep(d, "SELECT workspace, count(*), min(due_at) FROM "
	    "tasks WHERE state IN ('due', 'leased') AND (state = 'due' OR "
	    "lease_until <= ?) GROUP BY workspace")) == NULL)
		return NULL;
	db_bind_int(st, 1, now);
	o = json_object();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
		    json_pack("[I,I]", (json_int_t)sqlite3_column_int64(st, 1),
		    (json_int_t)sqlite3_column_int64(st, 2)));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int64_t
tasks_oldest_due(struct db *d, const char *ws, int64_t now)
{
	sqlite3_stmt	*st;
	int64_t		 due = 0;

	if ((st = db_prep(d, "SELECT min(due_at) FROM tasks WHERE workspace "
	    "= ?1 AND state IN ('due', 'leased') AND (state = 'due' OR "
	    "lease_until <= ?2) AND due_at <= ?2")) == NULL)
		return 0;
	db_bind_text(st, 1, ws);
	db_bind_int(st, 2, now);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		due = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return due > 0 ? now - due : 0;
}

/* ------------------------------------------------------------------ */
/* the task API                                                         */


static void
err_reply(struct evhttp_request *req, int code, const char *reason,
    const char *msg)
{
	httpd_reply_json(req, code, reason, json_pack("{s:s}", "error", msg));
}

/* The request's JSON body (an object; {} when empty), or NULL. */
static json_t *
req_body(struct evhttp_request *req)
{
	struct evbuffer	*b = evhttp_request_get_input_buffer(req);
	size_t		 len = evbuffer_get_length(b);
	json_t		*o;

	if (len == 0)
		return json_object();
	o = json_loadb((const char *)evbuffer_pullup(b, -1), len, 0, NULL);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * The call record of a done made whole from the task t: its
 * conversation and its contact (and phone) unless the record names its
 * own, so that the follow-up lands where the request came from; then
 * validated as a producer's record would be, against the task's
 * workspace.  rec is borrowed (and changed).  0 with *key and *payload
 * malloc'ed (the caller frees both), or -1 with why.
 */
static int
task_record(struct rt *e, const json_t *t, json_t *rec, char **key,
    char **payload, char *why, size_t whysz)
{
	const struct conf_ws	*cw = NULL;
	const char		*ws, *k;
	json_t			*caller, *v;
	struct record		 r;
	struct rec_err		 re;
	size_t			 i;

	*key = *payload = NULL;
	ws = json_string_value(json_object_get(t, "workspace"));
	for (i = 0; ws != NULL && i < rt_nws(e); i++)
		if (strcmp(ws_name(rt_ws(e, i)), ws) == 0)
			cw = ws_conf(rt_ws(e, i));
	if (cw == NULL) {
		snprintf(why, whysz, "the task's workspace is not served here");
		return -1;
	}
	v = json_object_get(t, "conversation_id");
	if (json_object_get(rec, "conversation_id") == NULL && json_is_string(v))
		json_object_set(rec, "conversation_id", v);
	if (json_object_get(rec, "caller") == NULL &&
	    json_is_string(json_object_get(t, "contact_id"))) {
		caller = json_pack("{s:O}", "contact_id",
		    json_object_get(t, "contact_id"));
		if (caller != NULL && json_is_string(v = json_object_get(t,
		    "phone")))
			json_object_set(caller, "phone", v);
		json_object_set_new(rec, "caller", caller);
	}
	if ((k = record_key_of(rec)) == NULL || *k == '\0') {
		snprintf(why, whysz, "record: no key (a call needs call_id)");
		return -1;
	}
	if ((*payload = json_dumps(rec, JSON_COMPACT)) == NULL ||
	    (*key = strdup(k)) == NULL) {
		snprintf(why, whysz, "out of memory");
		goto fail;
	}
	memset(&r, 0, sizeof(r));
	memset(&re, 0, sizeof(re));
	if (record_parse(*payload, cw, &r, &re) == -1) {
		snprintf(why, whysz, "record: %s", re.message);
		goto fail;
	}
	record_free(&r);
	return 0;
fail:
	free(*key);
	free(*payload);
	*key = *payload = NULL;
	return -1;
}

/*
 * POST /v1/tasks/ID/done with a "record" (rec, borrowed): the task done
 * and its call record enqueued in one transaction (tasks_done_record),
 * then the worker kicked to deliver it.  Answers every failure itself;
 * returns the status, 200 leaving the answer to the caller.
 */
static int
task_done_with(struct rt *e, struct evhttp_request *req, int64_t id,
    const char *outcome, json_t *rec, int64_t now)
{
	json_t	*t;
	char	*key = NULL, *payload = NULL, why[512];
	int	 found, rc;

	if (!json_is_object(rec)) {
		err_reply(req, 400, "Bad Request", "record: not a JSON object "
		    "(a call record, as producers enqueue)");
		return 400;
	}
	if ((t = tasks_get(rt_db(e), id, now, &found)) == NULL) {
		rc = found == -1 ? 503 : 404;
		err_reply(req, rc, rc == 404 ? "Not Found" :
		    "Service Unavailable", rc == 404 ? "no such task" :
		    "database busy; retry");
		return rc;
	}
	rc = task_record(e, t, rec, &key, &payload, why, sizeof(why));
	json_decref(t);
	if (rc == -1) {
		err_reply(req, 400, "Bad Request", why);
		return 400;
	}
	rc = tasks_done_record(rt_db(e), id, outcome, key, payload, now, why,
	    sizeof(why));
	if (rc == 200) {
		log_info("task %" PRId64 " done with record %s", id, key);
		rt_kick(e);
	} else if (rc == 404)
		err_reply(req, 404, "Not Found", "no such task");
	else if (rc == 409)
		err_reply(req, 409, "Conflict", why[0] ? why : "the task is "
		    "already done, failed or cancelled");
	else {
		rc = 503;
		err_reply(req, 503, "Service Unavailable", why[0] ? why :
		    "database busy; retry");
	}
	free(key);
	free(payload);
	return rc;
}

void
tasks_http(struct rt *e, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	int64_t			 now = clock_wall_s(), id;
	json_t			*body = NULL, *t, *v, *rec;
	const char		*rest, *ws, *what;
	char			*end;
	long long		 lease;
	int			 rc, found;

	/* Our own transactions, durable before the answer (a done task
	 * must never come back after a crash). */
	if (m == EVHTTP_REQ_POST)
		rt_tx_flush(e);
	if (strcmp(path, "/v1/tasks/claim") == 0) {
		if (m != EVHTTP_REQ_POST)
			goto method;
		if ((body = req_body(req)) == NULL) {
			err_reply(req, 400, "Bad Request", "the body is not "
			    "a JSON object");
			return;
		}
		v = json_object_get(body, "lease_s");
		lease = json_is_integer(v) ? json_integer_value(v) : 0;
		ws = json_string_value(json_object_get(body, "workspace"));
		if (lease < 1 || lease > 86400 ||
		    (json_object_get(body, "workspace") != NULL && ws == NULL)) {
			json_decref(body);
			err_reply(req, 400, "Bad Request", "want {\"lease_s\": "
			    "1..86400[, \"workspace\": NAME]}");
			return;
		}
		rc = tasks_claim(rt_db(e), ws, (int)lease, now, &t);
		json_decref(body);
		if (rc == -1)
			goto dberr;
		if (rc == 0) {
			evhttp_send_reply(req, 204, "No Content", NULL);
			return;
		}
		log_info("task %s claimed for %llds",
		    json_string_value(json_object_get(t, "task_id")), lease);
		httpd_reply_json(req, 200, "OK", t);
		return;
	}
	if (strncmp(path, "/v1/tasks/", 10) != 0) {
		err_reply(req, 404, "Not Found", "not found");
		return;
	}
	rest = path + 10;
	errno = 0;
	id = strtoll(rest, &end, 10);
	if (errno != 0 || end == rest || id <= 0 || (*end != '\0' &&
	    *end != '/')) {
		err_reply(req, 404, "Not Found", "no such task");
		return;
	}
	if (*end == '\0') {
		if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD)
			goto method;
		if ((t = tasks_get(rt_db(e), id, now, &found)) == NULL) {
			if (found == -1)
				goto dberr;
			err_reply(req, 404, "Not Found", "no such task");
			return;
		}
		httpd_reply_json(req, 200, "OK", t);
		return;
	}
	what = end + 1;
	if (strcmp(what, "done") != 0 && strcmp(what, "release") != 0 &&
	    strcmp(what, "fail") != 0) {
		err_reply(req, 404, "Not Found", "not found");
		return;
	}
	if (m != EVHTTP_REQ_POST)
		goto method;
	if ((body = req_body(req)) == NULL) {
		err_reply(req, 400, "Bad Request", "the body is not a JSON "
		    "object");
		return;
	}
	v = json_object_get(body, strcmp(what, "fail") == 0 ? "reason" :
	    "outcome");
	if (v != NULL && !json_is_string(v)) {
		json_decref(body);
		err_reply(req, 400, "Bad Request", "outcome and reason are "
		    "strings");
		return;
	}
	rec = strcmp(what, "done") == 0 ? json_object_get(body, "record") :
	    NULL;
	if (rec != NULL) {
		rc = task_done_with(e, req, id, json_string_value(v), rec, now);
		json_decref(body);
		if (rc != 200)
			return;
		goto answer;
	}
	rc = tasks_finish(rt_db(e), id, strcmp(what, "done") == 0 ? "done" :
	    strcmp(what, "fail") == 0 ? "failed" : "due",
	    json_string_value(v), now);
	json_decref(body);
	if (rc == -1)
		goto dberr;
	if (rc == 404) {
		err_reply(req, 404, "Not Found", "no such task");
		return;
	}
	if (rc == 409) {
		err_reply(req, 409, "Conflict", "the task is already done, "
		    "failed or cancelled");
		return;
	}
answer:
	log_info("task %" PRId64 " %s", id, strcmp(what, "done") == 0 ?
	    "done" : strcmp(what, "fail") == 0 ? "failed" : "released");
	if ((t = tasks_get(rt_db(e), id, now, &found)) == NULL)
		goto dberr;
	httpd_reply_json(req, 200, "OK", t);
	return;
method:
	json_decref(body);
	err_reply(req, 405, "Method Not Allowed", "method not allowed");
	return;
dberr:
	err_reply(req, 503, "Service Unavailable", "database busy; retry");
}

static void
route_tasks(void *arg, struct evhttp_request *req, const char *path)
{
	tasks_http(arg, req, path);
}

int
tasks_routes(struct rt *e, struct httpd *h)
{
	return httpd_route(h, "/v1/tasks", true, false, route_tasks, e);
}
