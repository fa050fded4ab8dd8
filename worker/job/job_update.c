/*
 * job_update.c: the steps that update what exists: the contact's custom
 * attributes (last_call_* from the newest call only) and the
 * conversation's assignment; and the checks of a record's attributes
 * and of its own assignment against Intercom's lists, made before the
 * record's first write.
 * The rules they follow are rows of the step table (steps.c); why, in
 * the essay at the top of job.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "body.h"
#include "clock.h"
#include "ident.h"
#include "intercom.h"
#include "job.h"
#include "lastcall.h"
#include "log.h"
#include "wscheck.h"

/* ------------------------------------------------------------------ */
/* step: text repair note (before any write)                            */

/*
 * The payload's bytes were repaired before parsing (record.h, bytes.h:
 * a "\u0000" dropped, invalid UTF-8 replaced with U+FFFD) and the record
 * is delivered with the repaired text.  What was done is a journal row
 * ("text_repair", detail {"warning", "nul_dropped", "utf8_replaced",
 * "surrogates_replaced"}) committed before the first write, shown by
 * `callsync ls` and `show`, and one warning line in the log; a clean
 * record gets no row.
 */
int
step_text_repair(struct job *j)
{
	const struct bytes_fix	*f = &j->r.fix;
	json_t			*det;
	char			*text, warn[300];
	int			 rc;

	if (!bytes_fixed(f) || jn_get(j, "text_repair") != NULL)
		return 1;
	bytes_describe(f, warn, sizeof(warn));
	log_warnx("%s/%s: %s; delivered with the repaired text", ws_name(j->ws),
	    j->rec.record_key, warn);
	det = json_pack("{s:s,s:i,s:i,s:i}", "warning", warn, "nul_dropped",
	    (int)f->nul, "utf8_replaced", (int)f->utf8,
	    "surrogates_replaced", (int)f->surrogate);
	text = det != NULL ? json_dumps(det, JSON_COMPACT) : NULL;
	json_decref(det);
	if (text == NULL) {
		job_give_back(j, "internal", "out of memory noting a repair");
		return 0;
	}
	rc = job_commit(j, "text_repair", NULL, text, false, 0, 0);
	free(text);
	return rc == 0;
}

/* ------------------------------------------------------------------ */
/* step: attribute check (before any write)                             */

/*
 * A record attribute that Intercom does not have, or whose value does not
 * fit the attribute's data_type (GET /data_attributes at start and on
 * SIGHUP), would be refused by PUT /contacts after the contact and the
 * conversation exist.  It is dropped instead, and the call is delivered:
 * a summary and transcript matter more than one attribute, and the
 * producer cannot know Intercom's types.  The warning is a journal row
 * ("attr_check", detail {"warning", "dropped": {name: why}}) committed
 * before the first write, which `callsync ls` and `show` print; a
 * record with nothing to drop gets no row.
 */
/*
 * The same attribute dropped for the same reason from record after record
 * (a producer sending an attribute the workspace lacks) is logged in full
 * the 1st, 10th, 100th, 1000th... time, with the count, not once per
 * record: each record's journal still says it (callsync ls, show).
 */
#define DROP_SLOTS	64
static struct drop_seen {
	char		 key[420];	/* "workspace\tattribute\twhy" */
	uint64_t	 n;
} drop_seen[DROP_SLOTS];

static void
drop_warn(struct job *j, const char *name, const char *why)
{
	struct drop_seen	*d = NULL;
	char			 key[sizeof(drop_seen[0].key)];
	uint64_t		 n, p;
	size_t			 i;

	snprintf(key, sizeof(key), "%.64s\t%.80s\t%.260s", ws_name(j->ws), name,
	    why);
	for (i = 0; i < DROP_SLOTS; i++) {
		if (strcmp(drop_seen[i].key, key) == 0 ||
		    drop_seen[i].key[0] == '\0') {
			d = &drop_seen[i];
			break;
		}
	}
	if (d == NULL) {	/* table full: every line, as before */
		log_warnx("%s/%s: attribute %s dropped, the call is delivered "
		    "without it: %s", ws_name(j->ws), j->rec.record_key, name,
		    why);
		return;
	}
	if (d->key[0] == '\0')
		snprintf(d->key, sizeof(d->key), "%s", key);
	n = ++d->n;
	for (p = 1; p < n && p <= UINT64_MAX / 10; p *= 10)
		continue;
	if (p != n)
		return;
	if (n == 1)
		log_warnx("%s/%s: attribute %s dropped, the call is delivered "
		    "without it: %s (the same again is logged at the 10th, "
		    "100th... record)", ws_name(j->ws), j->rec.record_key, name,
		    why);
	else
		log_warnx("%s/%s: attribute %s dropped, the call is delivered "
		    "without it: %s (%" PRIu64 " records so far)",
		    ws_name(j->ws), j->rec.record_key, name, why, n);
}

int
step_attr_check(struct job *j)
{
	json_t		*dropped, *det;
	char		*text, why[300], warn[600];
	size_t		 i;
	int		 rc;

	if (j->r.nattrs == 0 || jn_get(j, "attr_check") != NULL)
		return 1;
	dropped = json_object();
	warn[0] = '\0';
	for (i = 0; i < j->r.nattrs; i++) {
		if (wscheck_attr(ws_attrs(j->ws), j->r.attrs[i].name,
		    j->r.attrs[i].value, why, sizeof(why)) == 0)
			continue;
		json_object_set_new(dropped, j->r.attrs[i].name,
		    json_string(why));
		drop_warn(j, j->r.attrs[i].name, why);
		snprintf(warn + strlen(warn), sizeof(warn) - strlen(warn),
		    "%sattribute %s dropped: %s", warn[0] ? "; " : "",
		    j->r.attrs[i].name, why);
	}
	if (json_object_size(dropped) == 0) {
		json_decref(dropped);
		return 1;
	}
	det = json_pack("{s:s,s:o}", "warning", warn, "dropped", dropped);
	text = det != NULL ? json_dumps(det, JSON_COMPACT) : NULL;
	json_decref(det);
	if (text == NULL) {
		job_give_back(j, "internal", "out of memory checking attributes");
		return 0;
	}
	rc = job_commit(j, "attr_check", NULL, text, false, 0, 0);
	free(text);
	return rc == 0;
}

/* Was the record attribute name dropped (now, or by the check)? */
static bool
attr_dropped(struct job *j, size_t i)
{
	char	 why[300];

	if (json_object_get(json_object_get(json_object_get(jn_get(j,
	    "attr_check"), "detail"), "dropped"), j->r.attrs[i].name) != NULL)
		return true;
	/* The list changed since the check (SIGHUP): never send a value
	 * Intercom will refuse after the conversation exists. */
	if (wscheck_attr(ws_attrs(j->ws), j->r.attrs[i].name,
	    j->r.attrs[i].value, why, sizeof(why)) == 0)
		return false;
	log_warnx("%s/%s: attribute %s dropped: %s", ws_name(j->ws),
	    j->rec.record_key, j->r.attrs[i].name, why);
	return true;
}

/* ------------------------------------------------------------------ */
/* step: contact attributes                                             */

static void
attrs_done(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	char	 code[64], msg[256];

	if (v == V_GONE) {
		step_contact_gone(j);
		return;
	}
	if ((v == V_PERMANENT || v == V_CONFLICT) && j->body_text != NULL &&
	    !j->fill_off && (strstr(j->body_text, "\"name\"") != NULL ||
	    strstr(j->body_text, "\"email\"") != NULL)) {
		/* Refused, so nothing changed: the fill (an email another
		 * contact holds, say) must not cost the call its
		 * attributes.  Again without it. */
		ic_error(o, code, sizeof(code), msg, sizeof(msg));
		log_warnx("%s/%s: contact %s: filling its empty name or email "
		    "refused (HTTP %ld %s %s); setting the attributes alone",
		    ws_name(j->ws), j->rec.record_key, j->contact_id,
		    req->status, code, msg);
		j->fill_off = true;
		job_next(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (job_commit(j, "attributes", j->contact_id, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_next(j);
}

/* Set a standard attribute only if the workspace defines it. */
static void
attr_std(struct job *j, json_t *ca, const char *name, json_t *val)
{
	char	 why[300];

	if (val == NULL)
		return;
	if (wscheck_attr(ws_attrs(j->ws), name, val, why, sizeof(why)) == -1) {
		if (ws_attr_misfit(j->ws))
			log_warnx("%s: skipping contact attribute %s: %s "
			    "(run: callsync doctor)", ws_name(j->ws), name,
			    why);
		json_decref(val);
		return;
	}
	json_object_set_new(ca, name, val);
}

/*
 * What the call learned that the contact lacks: the record's name and
 * email where the contact (as last read) has none; never an overwrite.
 * Adds them to body; 0, or 1 when the contact must be read first.
 */
static int
attr_fill(struct job *j, json_t *body)
{
	const char	*cur;

	if (j->fill_off || ((j->r.name == NULL || j->r.name[0] == '\0') &&
	    j->r.email[0] == '\0'))
		return 0;
	if (j->contact_obj == NULL || strcmp(ic_str(j->contact_obj, "id") ?
	    ic_str(j->contact_obj, "id") : "", j->contact_id) != 0)
		return 1;
	cur = ic_str(j->contact_obj, "name");
	if (j->r.name != NULL && j->r.name[0] != '\0' &&
	    (cur == NULL || cur[0] == '\0'))
		json_object_set_new(body, "name", json_string(j->r.name));
	cur = ic_str(j->contact_obj, "email");
	if (j->r.email[0] != '\0' && (cur == NULL || cur[0] == '\0'))
		json_object_set_new(body, "email", json_string(j->r.email));
	return 0;
}

static void
attr_read_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	if (v == V_GONE) {
		step_contact_gone(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	json_decref(j->contact_obj);
	j->contact_obj = json_incref(o);
	job_next(j);
}

int
step_attributes(struct job *j)
{
	json_t	*ca, *body;
	size_t	 i;
	char	 path[96];
	int64_t	 at;
	int	 newer;

	if (jn_get(j, "attributes") != NULL)
		return 1;
	/* A contact found by the map or given by id: read it once to know
	 * whether its name or email is empty. */
	body = json_object();
	if (attr_fill(j, body) == 1) {
		json_decref(body);
		snprintf(path, sizeof(path), "/contacts/%s", j->contact_id);
		job_request(j, "GET", path, NULL, "attributes", attr_read_done);
		return 0;
	}
	ca = json_object();
	/* Unknown (a clock not yet set, job_clock.c): the call is this
	 * delivery's. */
	if ((at = job_call_time(j)) == 0)
		at = clock_wall_s();
	/* A replayed older call must not overwrite a newer call's view. */
	if ((newer = lastcall_newer(rt_db(j->e), ws_name(j->ws), j->contact_id,
	    at)) == -1) {
		json_decref(ca);
		job_stall(j, STALL_ADVANCE);
		return 0;
	}
	j->lastcall_at = newer ? at : 0;
	if (!newer)
		log_info("%s/%s: contact %s has a newer call; last_call_* left "
		    "as they are", ws_name(j->ws), j->rec.record_key,
		    j->contact_id);
	else {
		attr_std(j, ca, "last_call_at", json_integer(at));
		if (j->r.outcome != NULL)
			attr_std(j, ca, "last_call_outcome",
			    json_string(j->r.outcome));
		if (j->r.escalate >= 0)
			attr_std(j, ca, "last_call_escalated",
			    json_boolean(j->r.escalate));
		if (j->r.nps >= 0)
			attr_std(j, ca, "last_call_nps",
			    json_integer(j->r.nps));
	}
	for (i = 0; i < j->r.nattrs; i++)
		if (!attr_dropped(j, i))
			json_object_set(ca, j->r.attrs[i].name,
			    j->r.attrs[i].value);
	if (json_object_size(ca) == 0 && json_object_size(body) == 0) {
		json_decref(ca);
		json_decref(body);
		if (job_commit(j, "attributes", NULL, "{\"skipped\":true}",
		    false, 0, 0) == -1)
			return 0;
		return 1;
	}
	if (json_object_size(ca) > 0)
		json_object_set_new(body, "custom_attributes", ca);
	else
		json_decref(ca);
	snprintf(path, sizeof(path), "/contacts/%s", j->contact_id);
	job_request(j, "PUT", path, body, "attributes", attrs_done);
	return 0;
}

/* ------------------------------------------------------------------ */
/* step: conversation details (title, call attributes)                  */

/*
 * A call reads as a call in the inbox: PUT /conversations/{id} (2.16
 * update_conversation_request) with a title and the conversation
 * attributes call_id, call_direction, call_duration_s, call_outcome,
 * call_recording_url (created by callsync doctor --fix with POST
 * /conversations/attributes).  Only on a conversation this record
 * opened: a conversation_id given by the producer is someone's
 * conversation, left as it is.  Repeatable: a PUT sets the same values.
 * Attributes Intercom refuses (not defined) cost the call nothing: the
 * title goes alone, and for 10 minutes the workspace's calls send the
 * title alone (one refused PUT and one warning, not one per call).
 */
static void	details_send(struct job *);

/* After a refusal, attributes are tried again this much later. */
#define DETAILS_RETRY_MS	(10 * 60 * 1000)

static void
details_done(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	char	 code[64], msg[256];

	if (v == V_GONE) {
		job_dead(j, "conversation_not_found", "permanent", req->status,
		    "conversation vanished before its details were set",
		    req->resp);
		return;
	}
	if ((v == V_PERMANENT || v == V_CONFLICT) && !j->details_plain) {
		ic_error(o, code, sizeof(code), msg, sizeof(msg));
		log_warnx("%s: conversation attributes refused (HTTP %ld %s "
		    "%s); conversations get their title alone for %d min "
		    "(run: callsync doctor --fix)", ws_name(j->ws), req->status,
		    code, msg, DETAILS_RETRY_MS / 60000);
		ws_conv_attrs_refused(j->ws);
		j->details_plain = true;
		details_send(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (job_commit(j, "details", j->conv_id, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_next(j);
}

/* "Inbound call from Ann (3:05)": direction, who, duration. */
static void
details_title(struct job *j, char *buf, size_t sz)
{
	const char	*who = NULL;
	char		 dur[32] = "";
	long		 s;

	if (j->r.name != NULL && j->r.name[0] != '\0')
		who = j->r.name;
	else if (j->r.phone[0] != '\0')
		who = j->r.phone;
	else if (j->r.email[0] != '\0')
		who = j->r.email;
	if (j->r.duration_s >= 0) {
		s = (long)(j->r.duration_s + 0.5);
		snprintf(dur, sizeof(dur), " (%ld:%02ld)", s / 60, s % 60);
	}
	snprintf(buf, sz, "%s call%s%s%s",
	    j->r.direction == NULL ? "Voice" :
	    strcmp(j->r.direction, "outbound") == 0 ? "Outbound" : "Inbound",
	    who != NULL ? (j->r.direction != NULL &&
	    strcmp(j->r.direction, "outbound") == 0 ? " to " : " from ") : "",
	    who != NULL ? who : "", dur);
}

static void
details_send(struct job *j)
{
	json_t	*body, *ca;
	char	 title[512], path[96];

	details_title(j, title, sizeof(title));
	body = json_pack("{s:s}", "title", title);
	/* Refused lately: one refusal per workspace, not one per call. */
	if (ws_conv_attrs_refused_within(j->ws, DETAILS_RETRY_MS))
		j->details_plain = true;
	if (!j->details_plain) {
		ca = json_object();
		json_object_set_new(ca, "call_id", json_string(
		    j->r.call_id != NULL ? j->r.call_id : j->rec.record_key));
		if (j->r.direction != NULL)
			json_object_set_new(ca, "call_direction",
			    json_string(j->r.direction));
		if (j->r.duration_s >= 0)
			json_object_set_new(ca, "call_duration_s",
			    json_integer((json_int_t)(j->r.duration_s + 0.5)));
		if (j->r.outcome != NULL)
			json_object_set_new(ca, "call_outcome",
			    json_string(j->r.outcome));
		if (j->r.recording_url != NULL)
			json_object_set_new(ca, "call_recording_url",
			    json_string(j->r.recording_url));
		json_object_set_new(body, "custom_attributes", ca);
	}
	snprintf(path, sizeof(path), "/conversations/%s", j->conv_id);
	job_request(j, "PUT", path, body, "details", details_done);
}

int
step_details(struct job *j)
{
	if (j->r.conversation_id != NULL || jn_get(j, "details") != NULL)
		return 1;
	details_send(j);
	return 0;
}

/* ------------------------------------------------------------------ */
/* step: assignment                                                     */

/* Where the workspace sends the conversation without the record's own
 * assign: route by category, else the escalation target when
 * escalated.  0 when nowhere. */
static char
job_route(struct job *j, const char **id)
{
	const struct conf_ws *cw = ws_conf(j->ws);
	size_t		 i;

	if (j->r.category != NULL)
		for (i = 0; i < cw->nroutes; i++)
			if (cw->routes[i].category != NULL &&
			    strcasecmp(cw->routes[i].category,
			    j->r.category) == 0) {
				*id = cw->routes[i].id;
				return cw->routes[i].kind;
			}
	if (j->r.escalate == 1 && cw->has_escalation) {
		*id = cw->escalation.id;
		return cw->escalation.kind;
	}
	return 0;
}

/* Where the conversation goes: the record's own assign, unless the
 * check dropped it (assign_check), else the workspace's routing. */
static char
job_assignee(struct job *j, const char **id)
{
	if (j->r.assign_kind != 0 && jn_get(j, "assign_check") == NULL) {
		*id = j->r.assign_id;
		return j->r.assign_kind;
	}
	return job_route(j, id);
}

/* ------------------------------------------------------------------ */
/* step: assignment check (before any write)                            */

/*
 * Drop the record's own assign for why (the routing decides instead):
 * one log line and the assign_check journal row.  -1 when j was parked
 * or ended.
 */
static int
assign_drop(struct job *j, const char *why)
{
	const char	*id = NULL, *what;
	char		 warn[400], fb[96];
	char		*text;
	json_t		*det;
	int		 rc;

	what = job_route(j, &id) == 't' ? "team" : "admin";
	if (id != NULL)
		snprintf(fb, sizeof(fb), "%s %s", what, id);
	else
		snprintf(fb, sizeof(fb), "no route applies: left unassigned");
	snprintf(warn, sizeof(warn), "%s; assigned by the workspace's "
	    "routing instead (%s)", why, fb);
	log_warnx("%s/%s: %s", ws_name(j->ws), j->rec.record_key, warn);
	det = json_pack("{s:s,s:{s:s}}", "warning", warn, "unknown",
	    j->r.assign_kind == 't' ? "team_id" : "admin_id", j->r.assign_id);
	text = det != NULL ? json_dumps(det, JSON_COMPACT) : NULL;
	json_decref(det);
	if (text == NULL) {
		job_give_back(j, "internal", "out of memory checking assign");
		return -1;
	}
	rc = job_commit(j, "assign_check", NULL, text, false, 0, 0);
	free(text);
	return rc;
}

static void
assign_list_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	ws_ids_learn(j->ws, j->r.assign_kind, req, o);
	job_flight(j, NULL);	/* its answer came (ws_ids_learn's too) */
	/* The link, a rejected token: the usual treatment (release). */
	if (v == V_OUTAGE || v == V_NETFAIL || v == V_FOREIGN ||
	    (v == V_AUTH && req->status == 401)) {
		job_fail(j, req, v, o);
		return;
	}
	/* Else the list as now known decides (a 403 or 5xx leaves it as it
	 * was, or not known): no attempt is charged for a check. */
	job_next(j);
}

/*
 * A record's own assign names a team or admin Intercom does not have
 * (GET /teams, /admins: read by the configuration checks, and read again
 * here at most once per config_recheck in case it was created since).
 * Sent, it would be refused after the contact and the conversation
 * exist, and the record dead-lettered halfway.  The assignment falls
 * back to what the workspace would do without it (its route or
 * escalation, else none) and the call is delivered: the producer's
 * guess of an id is the record's mistake, not a reason to lose the
 * call, nor to pause the workspace.  The warning is a journal row
 * ("assign_check", detail {"warning", "unknown": {"team_id": ID}})
 * committed before the first write, which `callsync ls` and `show`
 * print.  Lists not known (a token without the scope to read them) judge
 * nothing: the assignment is sent as given, and Intercom's refusal of it
 * falls back at the assign step instead (assign_refused).
 */
int
step_assign_check(struct job *j)
{
	char		 kind = j->r.assign_kind, why[200];

	if (kind == 0 || jn_get(j, "assign_check") != NULL ||
	    jn_get(j, "assign") != NULL || jn_get(j, "intent:assign") != NULL)
		return 1;
	if (wscheck_assign(kind, j->r.assign_id, ws_ids(j->ws, 'a'),
	    ws_ids(j->ws, 't'), why, sizeof(why)) == 0 &&
	    ws_ids(j->ws, kind) != NULL)
		return 1;	/* listed */
	/* Not listed, or the list is not known yet: read it again? */
	switch (ws_ids_reread(j->ws, kind)) {
	case 1:
		/* ws_ids_reread marked the read: the job owns the mark. */
		snprintf(j->flight, sizeof(j->flight), "%s", ws_ids_key(kind));
		job_request(j, "GET", kind == 't' ? "/teams" : "/admins", NULL,
		    "assign_check", assign_list_done);
		return 0;
	case -1:
		job_hold(j, 200);	/* another job's read answers soon */
		return 0;
	default:
		break;
	}
	if (why[0] == '\0')
		return 1;	/* not known: not judged */
	return assign_drop(j, why) == 0;
}

/*
 * Intercom refused the record's own assign as naming no such team or
 * admin: the lists could not be read before (a token without the scope
 * to read them), or it was deleted since.  A refusal means it was not
 * applied: the same fallback as assign_check (the routing decides), late
 * but without losing the call.  1 when handled.
 */
static int
assign_refused(struct job *j, struct http_req *req, json_t *o)
{
	char	 code[64], msg[256], why[400];

	if (j->r.assign_kind == 0 || jn_get(j, "assign_check") != NULL ||
	    (req->status != 400 && req->status != 404))
		return 0;
	ic_error(o, code, sizeof(code), msg, sizeof(msg));
	if (strcmp(code, j->r.assign_kind == 't' ? "team_not_found" :
	    "admin_not_found") != 0)
		return 0;
	job_void_intent(j, "intent:assign");
	snprintf(why, sizeof(why), "assign.%s_id %s: Intercom refused it "
	    "(HTTP %ld %s)", j->r.assign_kind == 't' ? "team" : "admin",
	    j->r.assign_id, req->status, code);
	if (assign_drop(j, why) == 0)
		job_next(j);
	return 1;
}

static void
assign_done(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	const char	*id = NULL;

	if (v != V_OK) {
		if (!assign_refused(j, req, o))
			job_fail(j, req, v, o);
		return;
	}
	job_assignee(j, &id);
	if (job_commit(j, "assign", id, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_next(j);
}

int
step_assign(struct job *j)
{
	const char	*id = NULL;
	char		 kind, cur[32], path[96];
	json_t		*body;

	if (jn_get(j, "assign") != NULL)
		return 1;
	if ((kind = job_assignee(j, &id)) == 0 || id == NULL)
		return 1;
	if (jn_doubt_ms(j, "assign") >= 0) {
		if (!job_settled(j, "assign", false, "assignment") ||
		    !step_conv_fresh(j, "assign"))
			return 0;
		if (ic_conv_assignee(j->conv, kind, cur, sizeof(cur)) != NULL &&
		    strcmp(cur, id) == 0) {
			snprintf(j->path, sizeof(j->path),
			    "/conversations/%s/parts", j->conv_id);
			http_req_free(j->link.req);
			j->link.req = NULL;
			if (job_commit(j, "assign", id, "{\"reconciled\":true}",
			    true, -1, 0) == -1)
				return 0;
			return 1;
		}
		if (!job_absent(j, "assign", false, "assignment"))
			return 0;
	}
	if (job_intent(j, "assign", NULL) == -1)
		return 0;
	body = json_pack("{s:s,s:s,s:s,s:s}", "message_type", "assignment",
	    "type", kind == 't' ? "team" : "admin", "admin_id",
	    ws_conf(j->ws)->admin_id, "assignee_id", id);
	snprintf(path, sizeof(path), "/conversations/%s/parts", j->conv_id);
	job_request(j, "POST", path, body, "assign", assign_done);
	return 0;
}

