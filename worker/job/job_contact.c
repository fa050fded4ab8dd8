/*
 * job_contact.c: the contact steps: resolve the caller (explicit id, the
 * local map, search by phone and email, create a lead), merge duplicate
 * leads, and re-resolve a contact that was merged away or deleted.
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
#include "lag.h"
#include "lastcall.h"
#include "log.h"
#include "phone.h"

/* ------------------------------------------------------------------ */
/* step: contact                                                        */

static void step_contact_resolve(struct job *);

/* Learn every identity of the record for contact id. */
static void
job_learn(struct job *j, const char *id, const char *role, const char *how)
{
	if (j->r.phone[0] != '\0')
		ident_learn(rt_db(j->e), ws_name(j->ws), "phone", j->r.phone,
		    id, role, how);
	if (j->r.email[0] != '\0')
		ident_learn(rt_db(j->e), ws_name(j->ws), "email", j->r.email,
		    id, role, how);
}

static int
job_set_contact(struct job *j, const char *id, const char *role,
    const char *how, bool write, long status, long dur)
{
	char	 det[96], cid[64], crole[16];

	/* id and role may point into j->contact_id / j->contact_role. */
	snprintf(cid, sizeof(cid), "%s", id);
	snprintf(crole, sizeof(crole), "%s", role ? role : "");
	id = cid;
	role = crole[0] ? crole : NULL;
	snprintf(j->contact_id, sizeof(j->contact_id), "%s", id);
	snprintf(j->contact_role, sizeof(j->contact_role), "%s", crole);
	snprintf(det, sizeof(det), "{\"source\":\"%s\",\"role\":\"%s\"}", how,
	    crole);
	/* A contact that vanished without a Link was replaced by this one:
	 * keep the mapping (how: re-resolved after a 404). */
	if (j->gone_id[0] != '\0' && strcmp(j->gone_id, id) != 0) {
		ident_merge(rt_db(j->e), ws_name(j->ws), j->gone_id, id,
		    "search_404");
		j->gone_id[0] = '\0';
	}
	/* The map is a cache: learning before the journal commit is safe.
	 * Identities already mapped to this contact keep how they were
	 * learned; a new one found beside a map hit is "linked". */
	job_learn(j, id, role, strcmp(how, "map") == 0 ? "linked" : how);
	return job_commit(j, "contact", id, det, write, status, dur);
}

static void contact_merge_next(struct job *);

/* Whether two contacts store the same phone or email (Intercom's 2.16
 * duplicate rule for merges compares these as stored). */
static int
same_identity(json_t *a, json_t *b)
{
	const char	*pa = ic_str(a, "phone"), *pb = ic_str(b, "phone");
	const char	*ea = ic_str(a, "email"), *eb = ic_str(b, "email");

	if (pa != NULL && pb != NULL && pa[0] != '\0' && strcmp(pa, pb) == 0)
		return 1;
	return ea != NULL && eb != NULL && ea[0] != '\0' &&
	    strcasecmp(ea, eb) == 0;
}

/* A duplicate lead was merged into the winner: journal, mapping and audit
 * in one transaction (job_commit, step "merge:<from>"). */
static void
contact_merge_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char		 step[96], from[64];
	char		 code[64], msg[256];

	snprintf(from, sizeof(from), "%s",
	    ic_str(json_array_get(j->merges, 0), "id"));
	snprintf(step, sizeof(step), "merge:%s", from);
	if (v == V_OK) {
		if (job_commit(j, step, j->contact_id,
		    "{\"merged_by_callsync\":true}", true, req->status,
		    (long)req->duration_ms) == -1)
			return;
		log_info("%s/%s: merged lead %s into user %s", ws_name(j->ws),
		    j->rec.record_key, from, j->contact_id);
	} else if (v == V_OUTAGE || v == V_NETFAIL || v == V_AUTH ||
	    v == V_TRANSIENT || v == V_MALFORMED || v == V_THROTTLED ||
	    v == V_FOREIGN) {
		job_fail(j, req, v, o);		/* in doubt: reconciled later */
		return;
	} else {
		/* Not mergeable (422 for some sources, 400 invalid_merge):
		 * nothing happened; the call still goes to the winner. */
		job_void_intent(j, j->intent);
		ic_error(o, code, sizeof(code), msg, sizeof(msg));
		log_warnx("%s/%s: cannot merge lead %s into %s: HTTP %ld %s %s",
		    ws_name(j->ws), j->rec.record_key, from, j->contact_id,
		    req->status, code, msg);
	}
	json_array_remove(j->merges, 0);
	contact_merge_next(j);
}

/* Merge the next pending duplicate, or commit the contact step. */
static void
contact_merge_next(struct job *j)
{
	const char	*from;
	char		 step[96];
	json_t		*m, *body;

	while (j->merges != NULL && json_array_size(j->merges) > 0) {
		m = json_array_get(j->merges, 0);
		from = ic_str(m, "id");
		snprintf(step, sizeof(step), "merge:%s", from);
		if (jn_get(j, step) != NULL) {
			json_array_remove(j->merges, 0);	/* done before */
			continue;
		}
		if (job_intent(j, step, j->contact_id) == -1)
			return;
		body = json_pack("{s:s,s:s}", "from", from, "into",
		    j->contact_id);
		/* They matched one normalised phone or email, but Intercom's
		 * duplicate rule compares the stored strings: say we know. */
		if (json_is_true(json_object_get(m, "skip")))
			json_object_set_new(body, "skip_duplicate_validation",
			    json_true());
		job_request(j, "POST", "/contacts/merge", body, step,
		    contact_merge_done);
		return;
	}
	/* Found by search after our own create was in doubt: that create
	 * happened (the search found nobody before it); audit it now. */
	if (jn_doubt_ms(j, "contact") >= 0) {
		snprintf(j->path, sizeof(j->path), "/contacts");
		http_req_free(j->link.req);
		j->link.req = NULL;
		free(j->body_text);
		j->body_text = NULL;
		if (job_set_contact(j, j->contact_id, j->contact_role[0] ?
		    j->contact_role : NULL, "created", true, -1, 0) == -1)
			return;
	} else if (job_set_contact(j, j->contact_id, j->contact_role[0] ?
	    j->contact_role : NULL, "search", false, 0, 0) == -1)
		return;
	job_next(j);
}

/*
 * A merge whose answer never came: once it can no longer land, ask for
 * the lead.  Gone (410 naming the survivor, or 404) means it was merged:
 * journal, mapping and audit row (reconciled).  Still there means it was
 * not: the intent is void and the next search merges it again.
 */
static void
merge_probe_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char		 into[25], k[128];
	const char	*from = j->step + 6, *target;
	json_t		*det;

	snprintf(k, sizeof(k), "intent:%s", j->step);
	det = json_object_get(jn_get(j, k), "detail");
	target = ic_str(det, "into");
	if (req->status == 410 && ic_link_contact(req->link, into) == 0)
		target = into;
	if (req->status == 410 || v == V_GONE) {
		snprintf(j->path, sizeof(j->path), "/contacts/merge");
		http_req_free(j->link.req);
		j->link.req = NULL;
		free(j->body_text);
		j->body_text = NULL;
		if (target == NULL)
			target = "";
		log_info("%s/%s: reconciled merge of %s into %s (earlier "
		    "answer was lost)", ws_name(j->ws), j->rec.record_key, from,
		    target);
		if (job_commit(j, j->step, target, NULL, true, -1, 0) == -1)
			return;
		job_next(j);
		return;
	}
	if (v == V_OK) {
		/* Still there: not merged, or not yet. */
		if (!job_absent(j, k + 7, false, "contact merge"))
			return;
		job_void_intent(j, k);
		job_next(j);
		return;
	}
	job_fail(j, req, v, o);
}

/* 1 when no merge of this record is in doubt; else reconciles one. */
int
step_merges(struct job *j)
{
	const char	*k;
	json_t		*in;
	char		 path[96], step[96];

	json_object_foreach(j->journal, k, in) {
		if (strncmp(k, "intent:merge:", 13) != 0)
			continue;
		snprintf(step, sizeof(step), "%s", k + 7);
		if (!job_settled(j, step, false, "contact merge"))
			return 0;
		snprintf(path, sizeof(path), "/contacts/%s", k + 13);
		job_request(j, "GET", path, NULL, step, merge_probe_done);
		return 0;
	}
	return 1;
}

static void	contact_search_done(struct job *, struct http_req *,
		    enum verdict, json_t *);

/*
 * Search by phone (search_phase 0) or email (1), from the page after
 * cursor after (NULL: the first).  Every match matters (the winner and
 * the duplicates), so the pages are followed: the cursor goes in the
 * body's pagination.starting_after (2.16 starting_after_paging).
 */
#define SEARCH_MAX_PAGES	20	/* 1000 contacts of one caller */

static void
contact_search_send(struct job *j, const char *after)
{
	json_t	*body, *pg;

	pg = json_pack("{s:i}", "per_page", 50);
	if (after != NULL)
		json_object_set_new(pg, "starting_after", json_string(after));
	if (j->search_phase == 0)
		body = json_pack("{s:o,s:o}", "query", j->phone_plain ?
		    ic_phone_query_plain(j->r.phone,
		    ws_conf(j->ws)->default_region) :
		    ic_phone_query(j->r.phone, ws_conf(j->ws)->default_region),
		    "pagination", pg);
	else
		body = json_pack("{s:{s:s,s:s,s:s},s:o}", "query", "field",
		    "email", "operator", "=", "value", j->r.email,
		    "pagination", pg);
	job_request(j, "POST", "/contacts/search", body, "contact",
	    contact_search_done);
}

static void
contact_search_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	json_t		*data, *c;
	int		 w;
	size_t		 i;
	const char	*id, *kind, *next;
	char		 ident[300], after[256];

	if (v != V_OK) {
		json_decref(j->search_acc);
		j->search_acc = NULL;
		j->search_pages = 0;
		/* formatted_phone is in 2.16's list of searchable fields but
		 * was taken out of earlier versions' docs: a workspace that
		 * refuses it is searched by the phone forms alone. */
		if (v == V_PERMANENT && req->status == 400 &&
		    j->search_phase == 0 && !j->phone_plain) {
			log_warnx("%s/%s: contact search with formatted_phone "
			    "refused (HTTP 400); searching by phone alone",
			    ws_name(j->ws), j->rec.record_key);
			j->phone_plain = true;
			contact_search_send(j, NULL);
			return;
		}
		job_fail(j, req, v, o);
		return;
	}
	data = json_object_get(o, "data");
	if (!json_is_array(data)) {
		json_decref(j->search_acc);
		j->search_acc = NULL;
		j->search_pages = 0;
		job_retry(j, V_MALFORMED, req, "contact search: no data array");
		return;
	}
	if (j->search_acc == NULL && (j->search_acc = json_array()) == NULL) {
		job_retry(j, V_TRANSIENT, req, "out of memory");
		return;
	}
	json_array_extend(j->search_acc, data);
	next = ic_str(json_object_get(json_object_get(o, "pages"), "next"),
	    "starting_after");
	if (next != NULL && next[0] != '\0' && strlen(next) < sizeof(after) &&
	    json_array_size(data) > 0 && ++j->search_pages < SEARCH_MAX_PAGES) {
		snprintf(after, sizeof(after), "%s", next);	/* o dies */
		contact_search_send(j, after);
		return;
	}
	/* All pages read: this function owns what they held. */
	data = j->search_acc;
	j->search_acc = NULL;
	j->search_pages = 0;
	if ((w = ic_pick_contact(data)) < 0) {
		json_decref(data);
		j->search_phase++;
		step_contact_resolve(j);
		return;
	}
	c = json_array_get(data, (size_t)w);
	id = ic_str(c, "id");
	kind = j->search_phase == 0 ? "phone" : "email";
	snprintf(ident, sizeof(ident), "%s:%s", kind,
	    j->search_phase == 0 ? j->r.phone : j->r.email);
	json_decref(j->merges);
	j->merges = json_array();
	/* The others are known duplicates of the winner: keep a record.
	 * With merge_duplicates, leads beside a winning user are merged
	 * into it (they share this phone or email: 2.16's duplicate rule). */
	json_array_foreach(data, i, c) {
		if ((int)i == w || !ic_is_contact_id(ic_str(c, "id")))
			continue;
		ident_duplicate(rt_db(j->e), ws_name(j->ws), ic_str(c, "id"),
		    id, ident);
		if (ws_conf(j->ws)->merge_duplicates &&
		    ic_str(c, "role") != NULL &&
		    strcmp(ic_str(c, "role"), "lead") == 0 &&
		    strcmp(ic_str(json_array_get(data, (size_t)w), "role") ?
		    ic_str(json_array_get(data, (size_t)w), "role") : "",
		    "user") == 0)
			json_array_append_new(j->merges, json_pack("{s:s,s:b}",
			    "id", ic_str(c, "id"), "skip",
			    !same_identity(c, json_array_get(data, (size_t)w))));
	}
	snprintf(j->contact_id, sizeof(j->contact_id), "%s", id);
	/* Kept for the attributes step: which of name, email are empty. */
	json_decref(j->contact_obj);
	j->contact_obj = json_incref(json_array_get(data, (size_t)w));
	snprintf(j->contact_role, sizeof(j->contact_role), "%s",
	    ic_str(json_array_get(data, (size_t)w), "role") ?
	    ic_str(json_array_get(data, (size_t)w), "role") : "");
	contact_merge_next(j);
	json_decref(data);
}

static void
contact_unarchive_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	/* The contact the 409 named was deleted or merged since: resolve
	 * it again (404/410 is "resolve identity", INTERCOM-API.md 12),
	 * not a dead letter; step_contact_gone bounds the loop. */
	if (v == V_GONE) {
		step_contact_gone(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if (job_set_contact(j, j->contact_id, ic_str(o, "role"),
	    "conflict_409", true, req->status, (long)req->duration_ms) == -1)
		return;
	job_next(j);
}

static void
contact_create_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char		 code[64], msg[512], id[25], path[96];
	const char	*cid;

	if (v == V_CONFLICT) {
		/* It exists (search lag, or a race with another worker). */
		ic_error(o, code, sizeof(code), msg, sizeof(msg));
		if (ic_conflict_id(msg, id) == -1) {
			job_retry(j, V_TRANSIENT, req,
			    "409 without a contact id; searching again");
			return;
		}
		job_void_intent(j, "intent:contact");
		if (strstr(msg, "archived") != NULL &&
		    ws_conf(j->ws)->unarchive) {
			snprintf(j->contact_id, sizeof(j->contact_id), "%s", id);
			snprintf(path, sizeof(path), "/contacts/%s/unarchive", id);
			job_request(j, "POST", path, NULL, "contact",
			    contact_unarchive_done);
			return;
		}
		if (job_set_contact(j, id, NULL, "conflict_409", false, 0, 0) == -1)
			return;
		job_next(j);
		return;
	}
	if (v != V_OK) {
		job_fail(j, req, v, o);
		return;
	}
	if ((cid = ic_str(o, "id")) == NULL || !ic_is_contact_id(cid)) {
		job_retry(j, V_MALFORMED, req, "contact create: no id in answer");
		return;
	}
	json_decref(j->contact_obj);
	j->contact_obj = json_incref(o);
	lag_offer(j->ws, LAG_CONTACT, cid);	/* a search-lag sample, maybe */
	if (job_set_contact(j, cid, ic_str(o, "role"), "created", true,
	    req->status, (long)req->duration_ms) == -1)
		return;
	job_next(j);
}

/*
 * Whether another open record of the workspace is creating a contact for
 * this caller's phone or email (its create is in flight or in doubt):
 * 1 yes, 0 no, -1 error.  Intercom keeps only users unique by email, so
 * two leads created for one email are two contacts, and a lead's 409
 * cannot be relied on.  Records of one phone share a lane and never
 * race; the same email reaches several lanes (two phones, or email
 * alone).  The intent is committed before its request is queued, so
 * within one process the check and the intent cannot interleave.
 */
static int
contact_create_elsewhere(struct job *j)
{
	return outbox_contact_intent_elsewhere(rt_db(j->e), ws_name(j->ws),
	    j->rec.id, j->r.phone, j->r.email);
}

/*
 * Resolution order: explicit contact_id, the local map, search by phone,
 * by email, then create a lead.  search_phase: 0 phone, 1 email, 2 create.
 */
static void
step_contact_resolve(struct job *j)
{
	struct ident_hit h;
	struct db	*d;
	json_t		*body;

	/* An earlier create may still land or be missing from search:
	 * search when it could be found (found: it happened; not found:
	 * looked for again until it can no longer land, see below). */
	if (j->search_phase == 0 && !job_settled(j, "contact", true,
	    "contact create"))
		return;
	if (j->search_phase == 0 && j->r.phone[0] != '\0') {
		contact_search_send(j, NULL);
		return;
	}
	if (j->search_phase == 0)
		j->search_phase = 1;
	if (j->search_phase == 1 && j->r.email[0] != '\0') {
		contact_search_send(j, NULL);
		return;
	}
	/* Nobody found.  An earlier create of ours must have had its full
	 * window to show up before that means it did not happen: else look
	 * again later (job_absent).  Another lane may
	 * have learned the caller meanwhile, or be creating it: then the
	 * map answers, or this record waits for that create.  The check and
	 * our intent are one write transaction, so two workers cannot both
	 * pass it. */
	if (jn_doubt_ms(j, "contact") >= 0 && !job_absent(j, "contact", true,
	    "contact create")) {
		j->search_phase = 0;
		return;
	}
	d = rt_db(j->e);
	if (rt_db_stalled(j->e) || db_begin(d) == -1) {
		job_stall(j, STALL_ADVANCE);
		return;
	}
	if ((j->r.phone[0] != '\0' && ident_lookup(d, ws_name(j->ws),
	    "phone", j->r.phone, &h) == 1) ||
	    (j->r.email[0] != '\0' && ident_lookup(d, ws_name(j->ws),
	    "email", j->r.email, &h) == 1)) {
		db_commit(d);
		if (job_set_contact(j, h.contact_id, h.role[0] ? h.role : NULL,
		    "map", false, 0, 0) == -1)
			return;
		job_next(j);
		return;
	}
	if (jn_doubt_ms(j, "contact") < 0 && contact_create_elsewhere(j) == 1) {
		db_commit(d);
		job_retry(j, V_TRANSIENT, NULL, "another record is creating "
		    "this caller's contact; waiting for it");
		return;
	}
	if (job_intent(j, "contact", NULL) == -1) {
		db_commit(d);		/* j may be gone: d is the runtime's */
		return;
	}
	if (db_commit(d) == -1) {
		/* The intent may not be stored: send nothing now. */
		job_stall(j, STALL_ADVANCE);
		return;
	}
	body = json_pack("{s:s}", "role", "lead");
	if (j->r.phone[0] != '\0')
		json_object_set_new(body, "phone", json_string(j->r.phone));
	if (j->r.email[0] != '\0')
		json_object_set_new(body, "email", json_string(j->r.email));
	if (j->r.name != NULL)
		json_object_set_new(body, "name", json_string(j->r.name));
	job_request(j, "POST", "/contacts", body, "contact",
	    contact_create_done);
}

/* 1: the step is done (or the job ended); 0: a request is on its way. */
int
step_contact(struct job *j)
{
	struct ident_hit h;
	const char	*id;
	char		 follow[64];
	int		 rc;

	if ((id = jn_id(j, "contact")) != NULL) {
		snprintf(j->contact_id, sizeof(j->contact_id), "%s", id);
		ident_follow(rt_db(j->e), ws_name(j->ws), j->contact_id,
		    j->contact_id, sizeof(j->contact_id));
		return 1;
	}
	if (j->r.contact_id != NULL) {
		rc = ident_follow(rt_db(j->e), ws_name(j->ws), j->r.contact_id,
		    follow, sizeof(follow));
		if (job_set_contact(j, follow, NULL, rc == 1 ? "explicit_merged" :
		    "explicit", false, 0, 0) == -1)
			return 0;
		return 1;
	}
	if ((j->r.phone[0] != '\0' && ident_lookup(rt_db(j->e), ws_name(j->ws),
	    "phone", j->r.phone, &h) == 1) ||
	    (j->r.email[0] != '\0' && ident_lookup(rt_db(j->e), ws_name(j->ws),
	    "email", j->r.email, &h) == 1)) {
		if (job_set_contact(j, h.contact_id, h.role[0] ? h.role : NULL,
		    "map", false, 0, 0) == -1)
			return 0;
		return 1;
	}
	step_contact_resolve(j);
	return 0;
}

/*
 * The contact we used answered 404 or 410: merged away or deleted.  Ask
 * for it: a 410 names the survivor in its Link header.
 */
static void
contact_probe_done(struct job *j, struct http_req *req, enum verdict v,
    json_t *o)
{
	char	 into[25];
	int	 lost;

	if (req->status == 410 && ident_gone_link(rt_db(j->e), ws_name(j->ws),
	    j->contact_id, req->link, into) != 0) {
		log_info("%s/%s: contact %s was merged into %s", ws_name(j->ws),
		    j->rec.record_key, j->contact_id, into);
		if (job_set_contact(j, into, NULL, "merge", false, 0, 0) == -1)
			return;
		job_next(j);
		return;
	}
	if (v == V_OK) {
		/* It exists after all: the failure was about something else. */
		job_retry(j, V_TRANSIENT, req, "contact exists but the write "
		    "answered 404");
		return;
	}
	if (v == V_GONE) {
		if (j->r.contact_id != NULL && strcmp(j->r.contact_id,
		    j->contact_id) == 0) {
			job_dead(j, "contact_not_found", "permanent", req->status,
			    "caller.contact_id: no such contact in Intercom",
			    req->resp);
			return;
		}
		/* Deleted, or merged with no Link (2.15 behaviour): resolve
		 * again from scratch. */
		ident_forget(rt_db(j->e), ws_name(j->ws), j->contact_id);
		snprintf(j->gone_id, sizeof(j->gone_id), "%s", j->contact_id);
		outbox_unstep_owned(rt_db(j->e), j->rec.id, rt_owner(j->e),
		    "contact", &lost);
		json_object_del(j->journal, "contact");
		j->contact_id[0] = '\0';
		j->search_phase = 0;
		job_next(j);
		return;
	}
	job_fail(j, req, v, o);
}

void
step_contact_gone(struct job *j)
{
	char	 path[96];

	/* A contact that keeps vanishing must not loop within one attempt. */
	if (++j->resolves > 3) {
		job_retry(j, V_TRANSIENT, NULL, "contact keeps disappearing "
		    "(merged or deleted repeatedly); resolving again later");
		return;
	}

	snprintf(path, sizeof(path), "/contacts/%s", j->contact_id);
	job_request(j, "GET", path, NULL, "contact", contact_probe_done);
}

