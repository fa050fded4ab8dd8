/*
 * job_conv.c: the conversation steps: create the conversation (or use
 * the given one), read it back for reconciling, and add the notes that
 * continue a long transcript, or a note or reply record.
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
/* step: conversation                                                   */

static void
conv_create_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char	 cid[32];

	if (v == V_GONE) {
		/* No write happened: the contact is the problem. */
		job_void_intent(j, "intent:conversation");
		step_contact_gone(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (ic_id(o, "conversation_id", cid, sizeof(cid)) == NULL) {
		job_retry(j, V_MALFORMED, req,
		    "conversation create: no conversation_id in answer");
		return;
	}
	snprintf(j->conv_id, sizeof(j->conv_id), "%s", cid);
	if (job_commit(j, "conversation", cid, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

static void
conv_create(struct job *j)
{
	json_t	*body;

	if (job_intent(j, "conversation", NULL) == -1)
		return;
	body = json_pack("{s:{s:s,s:s},s:O}", "from", "type",
	    strcmp(j->contact_role, "user") == 0 ? "user" : "lead", "id",
	    j->contact_id, "body", json_array_get(j->pieces, 0));
	job_request(j, "POST", "/conversations", body, "conversation", true,
	    conv_create_done);
}

static void
conv_search_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	json_t	*list;
	char	 cid[32];

	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	list = json_object_get(o, "conversations");
	if (json_is_array(list) && json_array_size(list) > 0 &&
	    ic_id(json_array_get(list, 0), "id", cid, sizeof(cid)) != NULL) {
		/* Found: the earlier create did happen.  Audit it now. */
		snprintf(j->conv_id, sizeof(j->conv_id), "%s", cid);
		snprintf(j->path, sizeof(j->path), "/conversations");
		http_req_free(j->link.req);
		j->link.req = NULL;
		if (job_commit(j, "conversation", cid, "{\"reconciled\":true}",
		    true, -1, 0) == -1)
			return;
		log_info("%s/%s: reconciled conversation %s (earlier answer "
		    "was lost)", j->ws->name, j->rec.record_key, cid);
		job_advance(j);
		return;
	}
	/* Settled and searchable, yet not found: it never happened. */
	conv_create(j);
}

int
step_conversation(struct job *j)
{
	const char	*id;
	json_t		*body;

	/* The journal first: a conversation created before a dlq edit
	 * stays the record's conversation. */
	if ((id = jn_id(j, "conversation")) != NULL) {
		snprintf(j->conv_id, sizeof(j->conv_id), "%s", id);
		return 1;
	}
	if (j->r.conversation_id != NULL) {
		snprintf(j->conv_id, sizeof(j->conv_id), "%s",
		    j->r.conversation_id);
		return 1;
	}
	if (jn_doubt_ms(j, "conversation") >= 0) {
		if (!job_settled(j, "conversation", true,
		    "conversation create"))
			return 0;
		/* By the marker alone: it is unique, and a merge may have
		 * moved the conversation to another contact meanwhile. */
		body = json_pack("{s:{s:s,s:s,s:s}}", "query",
		    "field", "source.body", "operator", "=", "value",
		    j->rec.marker);
		job_request(j, "POST", "/conversations/search", body,
		    "conversation", false, conv_search_done);
		return 0;
	}
	conv_create(j);
	return 0;
}

/* ------------------------------------------------------------------ */
/* conversation reads for reconciling notes, tags and assignments       */


static void
conv_read_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	if (v == V_GONE) {
		job_dead(j, "conversation_not_found", "permanent", req->status,
		    "conversation_id: no such conversation in Intercom",
		    req->resp);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	json_decref(j->conv);
	j->conv = json_incref(o);
	job_advance(j);
}

/* 1 when j->conv is fresh enough to reconcile with; else starts a GET. */
int
step_conv_fresh(struct job *j, const char *step)
{
	char	 path[96];

	if (j->conv != NULL)
		return 1;
	snprintf(path, sizeof(path), "/conversations/%s", j->conv_id);
	job_request(j, "GET", path, NULL, step, false, conv_read_done);
	return 0;
}

/* ------------------------------------------------------------------ */
/* step: notes (transcript continued; note and reply records)           */

static void
part_done(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	json_t	*parts, *last;
	char	 pid[32] = "";

	if (v == V_GONE) {
		job_dead(j, "conversation_not_found", "permanent", req->status,
		    "conversation_id: no such conversation in Intercom",
		    req->resp);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	parts = json_object_get(json_object_get(o, "conversation_parts"),
	    "conversation_parts");
	if (json_is_array(parts) && json_array_size(parts) > 0) {
		last = json_array_get(parts, json_array_size(parts) - 1);
		ic_id(last, "id", pid, sizeof(pid));
	}
	if (job_commit(j, j->step, pid[0] ? pid : j->conv_id, NULL, true,
	    req->status, (long)req->duration_ms) == -1)
		return;
	job_advance(j);
}

/*
 * Pieces from first (0 for notes on an existing conversation, 1 after a
 * created one) are added as notes; a reply record adds one comment.
 */
int
step_parts(struct job *j)
{
	size_t	 first, i;
	char	 step[32], tok[64], path[96];
	bool	 reply = j->r.type == REC_REPLY;
	json_t	*body;

	first = (j->r.type == REC_CALL && j->r.conversation_id == NULL) ? 1 : 0;
	for (i = first; i < json_array_size(j->pieces); i++) {
		if (reply)
			snprintf(step, sizeof(step), "reply");
		else
			snprintf(step, sizeof(step), "note:%zu", i + 1);
		if (jn_get(j, step) != NULL)
			continue;
		body_token(j->rec.marker, i, tok, sizeof(tok));
		if (jn_doubt_ms(j, step) >= 0) {
			if (!job_settled(j, step, false, "note") ||
			    !step_conv_fresh(j, step))
				return 0;
			if (ic_conv_has_marker(j->conv, tok)) {
				snprintf(j->path, sizeof(j->path),
				    "/conversations/%s/reply", j->conv_id);
				http_req_free(j->link.req);
				j->link.req = NULL;
				if (job_commit(j, step, j->conv_id,
				    "{\"reconciled\":true}", true, -1, 0) == -1)
					return 0;
				continue;
			}
		}
		if (job_intent(j, step, NULL) == -1)
			return 0;
		body = json_pack("{s:s,s:s,s:s,s:O}", "message_type",
		    reply ? "comment" : "note", "type", "admin", "admin_id",
		    j->ws->cw->admin_id, "body", json_array_get(j->pieces, i));
		snprintf(path, sizeof(path), "/conversations/%s/reply",
		    j->conv_id);
		job_request(j, "POST", path, body, step, true, part_done);
		return 0;
	}
	return 1;
}

