/*
 * tasks: see tasks.h.  The rows and every statement on them are the
 * store's (store/taskdb.c); this module turns them into the task API's
 * JSON and answers its requests.
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
#include "record.h"
#include "taskdb.h"
#include "tasks.h"

static json_t *
str_or_null(const char *s)
{
	return s == NULL ? json_null() : json_string(s);
}

/* r as the task API shows it (docs/contract.md section 6): a new
 * reference. */
static json_t *
row_json(const struct taskdb_row *r, int64_t now)
{
	json_t		*o;
	char		 id[32];
	const char	*state = taskdb_state(r, now);

	snprintf(id, sizeof(id), "%" PRId64, r->id);
	o = json_object();
	json_object_set_new(o, "task_id", json_string(id));
	json_object_set_new(o, "workspace", str_or_null(r->workspace));
	json_object_set_new(o, "contact_id", str_or_null(r->contact_id));
	json_object_set_new(o, "phone", str_or_null(r->phone));
	json_object_set_new(o, "email", str_or_null(r->email));
	json_object_set_new(o, "name", str_or_null(r->name));
	json_object_set_new(o, "reason", str_or_null(r->reason));
	json_object_set_new(o, "conversation_id",
	    str_or_null(r->conversation_id));
	json_object_set_new(o, "due_at", json_integer(r->due_at));
	json_object_set_new(o, "lease_until", strcmp(state, "leased") == 0 ?
	    json_integer(r->lease_until) : json_null());
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "rule", str_or_null(r->rule));
	json_object_set_new(o, "priority", json_integer(r->priority));
	json_object_set_new(o, "outcome", str_or_null(r->outcome));
	json_object_set_new(o, "created_at", json_integer(r->created_at));
	json_object_set_new(o, "updated_at", json_integer(r->updated_at));
	json_object_set_new(o, "record_key", str_or_null(r->record_key));
	return o;
}

/* A row to JSON: tasks_get's (into the json_t * at arg) and tasks_list's
 * (appended to the array at arg). */
struct task_to_json {
	json_t		*out;
	int64_t		 now;
};

static int
get_cb(const struct taskdb_row *r, void *arg)
{
	struct task_to_json	*tj = arg;

	tj->out = row_json(r, tj->now);
	return 0;
}

static int
list_cb(const struct taskdb_row *r, void *arg)
{
	struct task_to_json	*tj = arg;

	json_array_append_new(tj->out, row_json(r, tj->now));
	return 0;
}

json_t *
tasks_get(struct db *d, int64_t id, int64_t now, int *found)
{
	struct task_to_json	 tj = { NULL, now };

	*found = taskdb_get(d, id, get_cb, &tj);
	return tj.out;
}

int
tasks_claim(struct db *d, const char *ws, int lease_s, int64_t now,
    json_t **out)
{
	int64_t		 id;
	int		 rc, found;

	*out = NULL;
	if ((rc = taskdb_claim(d, ws, lease_s, now, &id)) != 1)
		return rc;
	*out = tasks_get(d, id, now, &found);
	return *out != NULL ? 1 : -1;
}

/* taskdb_finish's answer as the task API's status: 200, 404, 409, -1. */
static int
fin_status(enum taskdb_fin f)
{
	switch (f) {
	case TASKDB_FIN_OK:
		return 200;
	case TASKDB_FIN_UNKNOWN:
		return 404;
	case TASKDB_FIN_FINAL:
	case TASKDB_FIN_KEY_TAKEN:
		return 409;
	case TASKDB_FIN_ERR:
		break;
	}
	return -1;
}

int
tasks_finish(struct db *d, int64_t id, const char *state,
    const char *outcome, int64_t now)
{
	char	err[8];

	return fin_status(taskdb_finish(d, id, state, outcome, NULL, NULL, now,
	    err, sizeof(err)));
}

int
tasks_done_record(struct db *d, int64_t id, const char *outcome,
    const char *key, const char *payload, int64_t now, char *err,
    size_t errsz)
{
	return fin_status(taskdb_finish(d, id, "done", outcome, key, payload,
	    now, err, errsz));
}

json_t *
tasks_list(struct db *d, const char *state, int64_t now, int limit)
{
	struct task_to_json	 tj = { json_array(), now };

	if (taskdb_list(d, state, now, limit, list_cb, &tj) == -1) {
		json_decref(tj.out);
		return NULL;
	}
	return tj.out;
}

static int
due_cb(const char *ws, int64_t n, int64_t oldest, void *arg)
{
	json_object_set_new(arg, ws, json_pack("[I,I]", (json_int_t)n,
	    (json_int_t)oldest));
	return 0;
}

json_t *
tasks_due_counts(struct db *d, int64_t now)
{
	json_t	*o = json_object();

	if (taskdb_due_counts(d, now, due_cb, o) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int64_t
tasks_oldest_due(struct db *d, const char *ws, int64_t now)
{
	int64_t	 due;

	if (taskdb_oldest_due(d, ws, now, &due) != 1)
		return 0;
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
