/*
 * job_conv.c: the conversation steps: create the conversation (or use
 * the given one), read it back for reconciling, and add the notes that
 * continue a long transcript, or a note or reply record.
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
#include "ctx_cache.h"
#include "ident.h"
#include "intercom.h"
#include "job.h"
#include "lag.h"
#include "lastcall.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* step: conversation                                                   */

static const char	*conv_from_type(struct job *);
static void		 conv_create(struct job *);

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
	if (v == V_PERMANENT && req->status == 400 &&
	    strcmp(conv_from_type(j), "contact") != 0) {
		/* Refused, so not written: a role we cached may be stale (a
		 * lead made a user in Intercom).  "contact" fits either. */
		log_warnx("%s/%s: conversation refused with from.type %s; "
		    "sending from.type contact", ws_name(j->ws),
		    j->rec.record_key, conv_from_type(j));
		job_void_intent(j, "intent:conversation");
		j->contact_role[0] = '\0';
		conv_create(j);
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
	lag_offer(j->ws, LAG_CONV, cid);	/* a search-lag sample, maybe */
	if (job_commit(j, "conversation", cid, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	/* The caller's context shows it at once (a cache: best effort). */
	ctx_cache_own_conversation(rt_db(j->e), ws_name(j->ws),
	    ws_app_id(j->ws), j->contact_id, cid, j->r.summary,
	    job_call_time(j));
	job_next(j);
}

/*
 * from.type: "user" or "lead" only when an answer told us the role;
 * otherwise "contact", which 2.16 accepts for either.  A wrong guess is
 * not harmless: Intercom may refuse a type that contradicts the role.
 */
static const char *
conv_from_type(struct job *j)
{
	if (strcmp(j->contact_role, "user") == 0 ||
	    strcmp(j->contact_role, "lead") == 0)
		return j->contact_role;
	return "contact";
}

/*
 * created_at: when the call happened (started_at), else when it was
 * enqueued, never the sync time: a site offline for a day files
 * yesterday's calls under yesterday.  Intercom documents it for
 * importing past conversations; a time ahead of our clock (a producer's
 * skew) is sent as now.  Times before the build date are unknown
 * (job_clock.c): with neither known, 0, and created_at is left out, so
 * that Intercom dates the conversation at delivery by its own clock
 * (ours may read 1970 too).
 */
static json_int_t
conv_created_at(struct job *j)
{
	int64_t	 t = job_call_time(j);

	if (t > 0 && clock_known(clock_wall_s()) && t > clock_wall_s())
		t = clock_wall_s();
	return (json_int_t)t;
}

static void
conv_create(struct job *j)
{
	json_t	*body;

	if (job_intent(j, "conversation", NULL) == -1)
		return;
	body = json_pack("{s:{s:s,s:s},s:O}", "from", "type",
	    conv_from_type(j), "id", j->contact_id, "body",
	    json_array_get(j->pieces, 0));
	if (body != NULL && conv_created_at(j) > 0)
		json_object_set_new(body, "created_at",
		    json_integer(conv_created_at(j)));
	job_request(j, "POST", "/conversations", body, "conversation",
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
		    "was lost)", ws_name(j->ws), j->rec.record_key, cid);
		job_next(j);
		return;
	}
	/* Not found: it never happened, if the window has passed; else
	 * look again later. */
	if (!job_absent(j, "conversation", true, "conversation create"))
		return;
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
		    "conversation", conv_search_done);
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
	job_next(j);
}

/* 1 when j->conv is fresh enough to reconcile with; else starts a GET. */
int
step_conv_fresh(struct job *j, const char *step)
{
	char	 path[96];

	if (j->conv != NULL)
		return 1;
	snprintf(path, sizeof(path), "/conversations/%s", j->conv_id);
	job_request(j, "GET", path, NULL, step, conv_read_done);
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
		/* Refused: not written, so its intent is void (a replay
		 * must not wait out a doubt for it). */
		if (j->intent[0] != '\0')
			job_void_intent(j, j->intent);
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
	job_next(j);
}

/*
 * A public reply carries no marker the customer could see, so an
 * uncertain one is found by what it is: a comment by our admin whose
 * text is the text we sent, created at or after the intent (the wall
 * clock's "at", with slack for the two clocks).  Text, not HTML: an
 * editor may store the same words with other markup or entities
 * (ic_text_norm).  The id of such a part, or NULL.
 */
#define REPLY_SLACK_S	300

/* Whether part id is already the journal's answer of a reply step. */
static bool
reply_taken(struct job *j, const char *id)
{
	const char	*k, *sid;
	json_t		*row;

	if (id == NULL)
		return false;
	json_object_foreach(j->journal, k, row) {
		if (strcmp(k, "reply") != 0 && strncmp(k, "reply:", 6) != 0)
			continue;
		if ((sid = ic_str(row, "id")) != NULL && strcmp(sid, id) == 0)
			return true;
	}
	return false;
}

static const char *
reply_find(struct job *j, const char *step, const char *sent)
{
	char		 k[128], aid[32], *want, *got;
	json_t		*parts, *p, *au;
	json_int_t	 at;
	size_t		 i;
	const char	*id = NULL;
	bool		 same;

	snprintf(k, sizeof(k), "intent:%s", step);
	at = json_integer_value(json_object_get(json_object_get(jn_get(j, k),
	    "detail"), "at"));
	parts = json_object_get(json_object_get(j->conv, "conversation_parts"),
	    "conversation_parts");
	if ((want = ic_text_norm(sent)) == NULL)
		return NULL;
	json_array_foreach(parts, i, p) {
		/* Two pieces may read alike: one comment answers one step. */
		if (reply_taken(j, ic_str(p, "id")))
			continue;
		au = json_object_get(p, "author");
		if (ic_str(au, "type") == NULL ||
		    strcmp(ic_str(au, "type"), "admin") != 0 ||
		    ic_id(au, "id", aid, sizeof(aid)) == NULL ||
		    strcmp(aid, ws_conf(j->ws)->admin_id) != 0 ||
		    ic_str(p, "body") == NULL ||
		    json_integer_value(json_object_get(p, "created_at")) <
		    at - REPLY_SLACK_S)
			continue;
		got = ic_text_norm(ic_str(p, "body"));
		same = got != NULL && strcmp(got, want) == 0;
		free(got);
		if (same) {
			id = ic_str(p, "id");
			break;
		}
	}
	free(want);
	return id;
}

/*
 * Pieces from first (0 for notes on an existing conversation, 1 after a
 * created one) are added as notes; a reply record's pieces are public
 * comments, each its own step ("reply", "reply:2", ...), in order.
 */
int
step_parts(struct job *j)
{
	size_t		 first, i;
	char		 step[32], tok[64], path[96];
	bool		 reply = j->r.type == REC_REPLY, found;
	const char	*sent, *pid;
	json_t		*body;

	first = (j->r.type == REC_CALL && j->r.conversation_id == NULL) ? 1 : 0;
	for (i = first; i < json_array_size(j->pieces); i++) {
		if (reply && i == 0)
			snprintf(step, sizeof(step), "reply");
		else if (reply)
			snprintf(step, sizeof(step), "reply:%zu", i + 1);
		else
			snprintf(step, sizeof(step), "note:%zu", i + 1);
		if (jn_get(j, step) != NULL)
			continue;
		sent = json_string_value(json_array_get(j->pieces, i));
		body_token(j->rec.marker, i, tok, sizeof(tok));
		if (jn_doubt_ms(j, step) >= 0) {
			if (!job_settled(j, step, false, reply ? "reply" :
			    "note") || !step_conv_fresh(j, step))
				return 0;
			pid = NULL;
			if (reply)
				found = (pid = reply_find(j, step, sent)) != NULL;
			else
				found = ic_conv_has_marker(j->conv, tok);
			if (found) {
				snprintf(j->path, sizeof(j->path),
				    "/conversations/%s/reply", j->conv_id);
				http_req_free(j->link.req);
				j->link.req = NULL;
				if (job_commit(j, step, pid ? pid : j->conv_id,
				    "{\"reconciled\":true}", true, -1, 0) == -1)
					return 0;
				continue;
			}
			if (!job_absent(j, step, false, reply ? "reply" :
			    "note"))
				return 0;
		}
		if (job_intent(j, step, NULL) == -1)
			return 0;
		body = json_pack("{s:s,s:s,s:s,s:s}", "message_type",
		    reply ? "comment" : "note", "type", "admin", "admin_id",
		    ws_conf(j->ws)->admin_id, "body", sent);
		snprintf(path, sizeof(path), "/conversations/%s/reply",
		    j->conv_id);
		job_request(j, "POST", path, body, step, part_done);
		return 0;
	}
	return 1;
}
