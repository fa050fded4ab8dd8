/*
 * steps: the step table, one row per request a job sends (and per journal
 * row it writes without one), and the pure decisions that follow from a
 * row.  See steps.h for how the driver uses it, and the essay at the top
 * of job.c for why each rule is what it is.  The order matters in one
 * way: a step's own write comes first among its rows (step_def_of).
 *
 * S = request_timeout + settle_margin, L = search_lag (job.c).  A write
 * found by reconciliation is committed with {"reconciled":true} in the
 * journal and the audit log.
 */
#include <stdio.h>
#include <string.h>

#include "steps.h"

#define W	true		/* write */
#define R	false		/* read, or a journal row */

const struct step_def steps[] = {
	/* Journal rows committed before any write, only when there is
	 * something to say (a warning); none is audited. */
	{ "clock_check", NULL, NULL, R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false,
	    "times stamped by a clock not yet set (job_clock.c)" },
	{ "text_repair", NULL, NULL, R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false,
	    "the payload's bytes were repaired (NUL dropped, U+FFFD)" },
	{ "attr_check", NULL, NULL, R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false,
	    "attributes checked against GET /data_attributes" },
	/* The record's own assign checked before any write; the lists read
	 * again at most once per config_recheck.  Its row, if the assign
	 * is dropped, carries the warning (the routing decides). */
	{ "assign_check", "GET", "/teams", R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false, "read the teams" },
	{ "assign_check", "GET", "/admins", R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false, "read the admins" },

	/* Create a lead; not while another open record holds
	 * intent:contact for this phone or email.  In doubt: searched
	 * again by phone and email; a 409 names it (a user's email only). */
	{ "contact", "POST", "/contacts", W, false, true, STEP_SETTLE_SEARCH,
	    STEP_REC_CONTACT_SEARCH, true, true, "create a lead" },
	{ "contact", "POST", "/contacts/search", R, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, false, false,
	    "search by phone, then email (every page)" },
	/* After a 409 naming an archived contact (unarchive = true). */
	{ "contact", "POST", "/contacts/{id}/unarchive", W, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, true, true,
	    "unarchive the contact a 409 named" },
	{ "contact", "GET", "/contacts/{id}", R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false,
	    "a contact that answered 404/410: merged away or deleted" },
	/* merge_duplicates: a lead beside the winning user merged into it;
	 * committed with the merge mapping. */
	{ "merge", "POST", "/contacts/merge", W, false, true, STEP_SETTLE_READ,
	    STEP_REC_MERGE_PROBE, true, true, "merge a duplicate lead" },
	{ "merge", "GET", "/contacts/{id}", R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false, "the lead of a merge in doubt" },
	/* In doubt: searched by source.body = marker, never by contact
	 * (merges move conversations). */
	{ "conversation", "POST", "/conversations", W, false, true,
	    STEP_SETTLE_SEARCH, STEP_REC_CONV_SEARCH, true, true,
	    "open the conversation" },
	{ "conversation", "POST", "/conversations/search", R, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, false, false,
	    "look for a conversation in doubt by its marker" },
	/* "note:N": the notes that continue a long transcript; a note
	 * record's notes.  In doubt: the part's token in the conversation. */
	{ "note", "POST", "/conversations/{id}/reply", W, false, true,
	    STEP_SETTLE_READ, STEP_REC_PART_TOKEN, true, true, "add a note" },
	/* "reply", "reply:N": public, so no marker in it.  In doubt: a part
	 * by admin_id, the same text as sent, created_at >= the intent's
	 * "at" - 300 s. */
	{ "reply", "POST", "/conversations/{id}/reply", W, false, true,
	    STEP_SETTLE_READ, STEP_REC_PART_REPLY, true, true,
	    "add a public reply" },
	/* Create-or-get by name: one per name at a time in a workspace (the
	 * others wait for the tag cache); audited with the cache entry. */
	{ "tag_create", "POST", "/tags", W, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, true, false, "create-or-get a tag by name" },
	/* "tag:<name>".  In doubt: the tag present on the conversation. */
	{ "tag", "POST", "/conversations/{id}/tags", W, false, true,
	    STEP_SETTLE_READ, STEP_REC_CONV_TAG, true, true,
	    "tag the conversation" },
	/* Custom attributes (last_call_* only from the newest call), and the
	 * contact's empty name and email: an idempotent PUT. */
	{ "attributes", "PUT", "/contacts/{id}", W, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, true, false,
	    "set the contact's attributes" },
	{ "attributes", "GET", "/contacts/{id}", R, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, false, false,
	    "read the contact when no answer showed it" },
	/* Title and call_* attributes, only on the record's own new
	 * conversation: an idempotent PUT. */
	{ "details", "PUT", "/conversations/{id}", W, true, false,
	    STEP_SETTLE_NONE, STEP_REC_NONE, true, false,
	    "set the conversation's title and attributes" },
	/* The record's own assign unless assign_check dropped it, else the
	 * routing; a 400/404 team_not_found or admin_not_found on the own
	 * assign drops it then and sends the routing's.  In doubt: the
	 * conversation's assignee. */
	{ "assign", "POST", "/conversations/{id}/parts", W, false, true,
	    STEP_SETTLE_READ, STEP_REC_CONV_ASSIGNEE, true, true,
	    "assign the conversation" },
	/* The conversation read back to reconcile a note, reply, tag or
	 * assignment in doubt (step_conv_fresh). */
	{ "*", "GET", "/conversations/{id}", R, true, false, STEP_SETTLE_NONE,
	    STEP_REC_NONE, false, false, "read the conversation back" },
};

const size_t	 steps_n = sizeof(steps) / sizeof(steps[0]);

/* Whether row name names step: itself, or "name:..." ("merge:<id>"). */
static bool
step_name_match(const char *name, const char *step)
{
	size_t	 n = strlen(name);

	if (strcmp(name, "*") == 0)
		return true;
	return strncmp(step, name, n) == 0 &&
	    (step[n] == '\0' || step[n] == ':');
}

bool
step_path_match(const char *tmpl, const char *path)
{
	while (*tmpl != '\0') {
		if (strncmp(tmpl, "{id}", 4) == 0) {
			tmpl += 4;
			path += strcspn(path, "/");
			continue;
		}
		if (*tmpl++ != *path++)
			return false;
	}
	return *path == '\0';
}

const struct step_def *
step_def_of(const char *step)
{
	size_t	 i;

	for (i = 0; i < steps_n; i++)
		if (strcmp(steps[i].name, "*") != 0 &&
		    step_name_match(steps[i].name, step))
			return &steps[i];
	return NULL;
}

const struct step_def *
step_def_req(const char *step, const char *method, const char *path)
{
	size_t	 i;

	for (i = 0; i < steps_n; i++)
		if (steps[i].method != NULL &&
		    strcmp(steps[i].method, method) == 0 &&
		    step_name_match(steps[i].name, step) &&
		    step_path_match(steps[i].path, path))
			return &steps[i];
	return NULL;
}

int64_t
step_window_ms(const struct step_def *d, int request_timeout,
    int settle_margin, int search_lag)
{
	bool	 search = d != NULL && d->settle == STEP_SETTLE_SEARCH;

	return ((int64_t)request_timeout + settle_margin +
	    (search ? search_lag : 0)) * 1000;
}

bool
step_send_ok(const struct step_def *d, bool intent_open)
{
	if (d == NULL)
		return false;
	if (d->intent)
		return intent_open;
	/* A read may serve a step in doubt (reconciling); a write without
	 * an intent never goes out while one of its step is open. */
	return !d->write || !intent_open;
}

bool
step_in_doubt(const struct step_def *d, enum verdict v)
{
	return d != NULL && d->write && retry_uncertain(v);
}

/*
 * The usual treatment of a failed answer (job_fail carries it out).  The
 * write of a row with an intent did not happen when the request never
 * left the box (refused, not resolved, no handshake), the workspace's
 * token was refused, a 429 came while stopping, the network answered
 * without passing the request on, or Intercom refused it with a 4xx:
 * its intent is dropped.  Else (a timeout, a reset, a 5xx, a malformed
 * or foreign 2xx answer) it is in doubt and the intent stays.
 */
void
step_on_fail(const struct step_def *d, const struct step_answer *a,
    struct step_action *out)
{
	bool	 own = d != NULL && d->intent;

	memset(out, 0, sizeof(*out));
	/* Never left the box (http.c, http_unsent): refused, not resolved,
	 * no handshake.  The record retries as an outage without waiting
	 * out a doubt. */
	out->void_intent = own && a->unsent;
	switch (a->v) {
	case V_OUTAGE:
		out->act = STEP_ACT_RELEASE;
		out->class = "outage";
		break;
	case V_NETFAIL:
		out->act = a->ws_outage ? STEP_ACT_RELEASE : STEP_ACT_RETRY;
		out->class = a->ws_outage ? "outage" : NULL;
		break;
	case V_AUTH:
		/* Refused before it was applied. */
		out->act = STEP_ACT_PAUSE;
		out->class = "auth";
		out->void_intent |= own;
		break;
	case V_THROTTLED:
		/* Only while stopping (else resent, job_http_done): not the
		 * record's fault, and not applied. */
		out->act = STEP_ACT_RELEASE;
		out->class = "rate_limited";
		out->void_intent |= own;
		break;
	case V_TRANSIENT:
	case V_MALFORMED:
		out->act = STEP_ACT_RETRY;
		break;
	case V_FOREIGN:
		/* The network answered instead of Intercom (a captive portal,
		 * a proxy): ws_foreign opened the breaker or paused.  A
		 * redirect or a proxy's 407 passes nothing on; a 2xx page
		 * may have replaced Intercom's answer: still in doubt. */
		out->act = STEP_ACT_RELEASE;
		out->class = a->status == 407 || a->connect_status == 407 ?
		    "config" : "outage";
		out->void_intent |= own && retry_foreign_unsent(a->cc,
		    a->status, a->connect_status);
		break;
	default:
		/* A 4xx refusal: the write did not happen, so a replay will
		 * not wait out search lag for nothing. */
		out->act = STEP_ACT_DEAD;
		out->void_intent |= own && a->status >= 400 && a->status < 500;
		break;
	}
	out->in_doubt = out->act == STEP_ACT_RETRY && step_in_doubt(d, a->v);
}

const char *
step_settle_name(enum step_settle s)
{
	switch (s) {
	case STEP_SETTLE_READ:
		return "read";
	case STEP_SETTLE_SEARCH:
		return "search+lag";
	default:
		return "none";
	}
}

const char *
step_rec_name(enum step_rec r)
{
	static const char *const names[] = { "none", "contact_search",
	    "merge_probe", "conv_search", "part_token", "part_reply",
	    "conv_tag", "conv_assignee" };

	if ((size_t)r >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[r];
}
