/*
 * job_update.c: the steps that update what exists: the contact's custom
 * attributes (last_call_* from the newest call only) and the
 * conversation's assignment.
 * The rules they follow are in the step table at the top of job.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "body.h"
#include "ident.h"
#include "intercom.h"
#include "job.h"
#include "lastcall.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* step: contact attributes                                             */

static void
attrs_done(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	if (v == V_GONE) {
		step_contact_gone(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (job_commit(j, "attributes", j->contact_id, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

/* Set a standard attribute only if the workspace defines it. */
static void
attr_std(struct job *j, json_t *ca, const char *name, json_t *val)
{
	if (val == NULL)
		return;
	if (j->ws->attrs != NULL && json_object_get(j->ws->attrs, name) == NULL) {
		if (!j->ws->warned_attrs)
			log_warnx("%s: contact attribute %s does not exist; "
			    "skipping it (run: callsync doctor --fix)",
			    j->ws->name, name);
		j->ws->warned_attrs = 1;
		json_decref(val);
		return;
	}
	json_object_set_new(ca, name, val);
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
	ca = json_object();
	at = j->r.started_unix > 0 ? j->r.started_unix : j->rec.enqueued_at;
	/* A replayed older call must not overwrite a newer call's view. */
	if ((newer = lastcall_newer(&j->e->db, j->ws->name, j->contact_id,
	    at)) == -1) {
		json_decref(ca);
		job_stall(j, STALL_ADVANCE);
		return 0;
	}
	j->lastcall_at = newer ? at : 0;
	if (!newer)
		log_info("%s/%s: contact %s has a newer call; last_call_* left "
		    "as they are", j->ws->name, j->rec.record_key,
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
		json_object_set(ca, j->r.attrs[i].name, j->r.attrs[i].value);
	if (json_object_size(ca) == 0) {
		json_decref(ca);
		if (job_commit(j, "attributes", NULL, "{\"skipped\":true}",
		    false, 0, 0) == -1)
			return 0;
		return 1;
	}
	body = json_pack("{s:o}", "custom_attributes", ca);
	snprintf(path, sizeof(path), "/contacts/%s", j->contact_id);
	job_request(j, "PUT", path, body, "attributes", true, attrs_done);
	return 0;
}

/* ------------------------------------------------------------------ */
/* step: assignment                                                     */

/* Where the conversation goes: assign, else route by category, else
 * the escalation target when escalated.  0 when nowhere. */
static char
job_assignee(struct job *j, const char **id)
{
	struct conf_ws	*cw = j->ws->cw;
	size_t		 i;

	if (j->r.assign_kind != 0) {
		*id = j->r.assign_id;
		return j->r.assign_kind;
	}
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

static void
assign_done(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	const char	*id = NULL;

	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	job_assignee(j, &id);
	if (job_commit(j, "assign", id, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_advance(j);
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
	}
	if (job_intent(j, "assign", NULL) == -1)
		return 0;
	body = json_pack("{s:s,s:s,s:s,s:s}", "message_type", "assignment",
	    "type", kind == 't' ? "team" : "admin", "admin_id",
	    j->ws->cw->admin_id, "assignee_id", id);
	snprintf(path, sizeof(path), "/conversations/%s/parts", j->conv_id);
	job_request(j, "POST", path, body, "assign", true, assign_done);
	return 0;
}

