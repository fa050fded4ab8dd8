/*
 * job_tags.c: the tag steps: resolve each tag name to an id (the cache,
 * else create-or-get by name) and apply it to the conversation.
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
#include "ident.h"
#include "intercom.h"
#include "job.h"
#include "lastcall.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* step: tags                                                           */

/*
 * One POST /tags per name at a time in a workspace (ws_flight_*).
 * Records of a backlog share their tags, and every job that missed the
 * cache would otherwise create the same name at once: POST /tags is
 * create-or-get, so the extra ones were harmless but spent the rate
 * budget (121 requests for 8 new tags in a 250-record drain, test 34).
 * A job that finds the name being created waits a moment and looks in
 * the cache again; if the creator failed, the next one to look creates
 * it.
 */
#define TAG_BUSY_HOLD_MS	50

static const char *
tag_flight_key(char *buf, size_t sz, const char *name)
{
	snprintf(buf, sz, "POST /tags %s", name);
	return buf;
}

static void
tag_apply_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	const char	*name = json_string_value(json_array_get(j->tags,
	    (size_t)j->tag_i));

	/*
	 * The cached id answered 404: a teammate deleted the tag.  Nothing
	 * was applied (the intent is void); forget the id and resolve the
	 * name again, once per attempt: POST /tags creates it anew.  A
	 * second 404 is about something else (the conversation).
	 */
	if (v == V_GONE && req->status == 404 && !j->tag_reresolved &&
	    name != NULL) {
		j->tag_reresolved = true;
		job_void_intent(j, j->intent);
		ident_tag_forget(rt_db(j->e), ws_name(j->ws), name);
		log_info("%s/%s: tag %s (id %s) no longer exists; resolving "
		    "it again", ws_name(j->ws), j->rec.record_key, name,
		    j->tag_id);
		job_next(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (job_commit(j, j->step, j->tag_id, NULL, true, req->status,
	    (long)req->duration_ms) == -1)
		return;
	job_next(j);
}

static void
tag_create_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	struct audit_row a;
	char		 tid[32];
	const char	*name = json_string_value(json_array_get(j->tags,
	    (size_t)j->tag_i));

	job_flight(j, NULL);	/* its answer came: others may look */
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (ic_id(o, "id", tid, sizeof(tid)) == NULL) {
		job_retry(j, V_MALFORMED, req, "tag create: no id in answer");
		return;
	}
	memset(&a, 0, sizeof(a));
	a.workspace = ws_name(j->ws);
	a.record_key = j->rec.record_key;
	a.step = "tag_create";
	a.method = "POST";
	a.path = "/tags";
	a.http_status = req->status;
	a.object_id = tid;
	a.admin_id = ws_conf(j->ws)->admin_id;
	a.duration_ms = (long)req->duration_ms;
	a.body = j->body_text;
	a.store_body = ws_conf(j->ws)->audit_bodies;
	/* The tag and its audit row together, or neither: a tag created
	 * without its row would be a write missing from the audit log. */
	if (rt_db_stalled(j->e) || db_begin(rt_db(j->e)) == -1)
		goto stall;
	if (ident_tag_put(rt_db(j->e), ws_name(j->ws), name, tid) == -1 ||
	    audit_append(rt_db(j->e), &a) == -1 ||
	    db_commit(rt_db(j->e)) == -1) {
		db_rollback(rt_db(j->e));
		goto stall;
	}
	job_note_tag(j, name, tid, &a);
	job_next(j);
	return;
stall:
	/* POST /tags is create-or-get by name: doing it again is safe. */
	job_stall(j, STALL_ADVANCE);
}

int
step_tags(struct job *j)
{
	size_t		 i;
	const char	*name;
	char		 step[128], path[96], key[300];
	json_t		*body;

	for (i = 0; i < json_array_size(j->tags); i++) {
		name = json_string_value(json_array_get(j->tags, i));
		body_step_name(step, sizeof(step), "tag:", name);
		if (jn_get(j, step) != NULL)
			continue;
		j->tag_i = (int)i;
		if (ident_tag_get(rt_db(j->e), ws_name(j->ws), name, j->tag_id,
		    sizeof(j->tag_id)) != 1) {
			tag_flight_key(key, sizeof(key), name);
			if (ws_flight_busy(j->ws, key)) {
				job_hold(j, TAG_BUSY_HOLD_MS);
				return 0;
			}
			job_flight(j, key);
			job_request(j, "POST", "/tags", json_pack("{s:s}",
			    "name", name), "tag_create", tag_create_done);
			return 0;
		}
		if (jn_doubt_ms(j, step) >= 0) {
			if (!job_settled(j, step, false, "tag") ||
			    !step_conv_fresh(j, step))
				return 0;
			if (ic_conv_has_tag(j->conv, j->tag_id)) {
				snprintf(j->path, sizeof(j->path),
				    "/conversations/%s/tags", j->conv_id);
				http_req_free(j->link.req);
				j->link.req = NULL;
				if (job_commit(j, step, j->tag_id,
				    "{\"reconciled\":true}", true, -1, 0) == -1)
					return 0;
				continue;
			}
			if (!job_absent(j, step, false, "tag"))
				return 0;
		}
		if (job_intent(j, step, NULL) == -1)
			return 0;
		body = json_pack("{s:s,s:s}", "id", j->tag_id, "admin_id",
		    ws_conf(j->ws)->admin_id);
		snprintf(path, sizeof(path), "/conversations/%s/tags", j->conv_id);
		job_request(j, "POST", path, body, step, tag_apply_done);
		return 0;
	}
	return 1;
}

