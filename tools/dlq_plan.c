/*
 * dlq_plan: what a replay of a dead record will write, and where; and
 * which journal steps a `dlq edit` of its caller or conversation makes
 * stale.
 *
 * Replay resumes from the step journal (worker/job/job.c): a step with a
 * row is done and never written again; an "intent:<step>" row without its
 * step means the write may have reached Intercom unseen, so the worker
 * reconciles before writing.  dlq_plan_print() reads the journal and the
 * identity map and says, per step, done (with its Intercom id), to be
 * reconciled, or to do, and which contact the writes go to.  It only reads.
 *
 * An edit that changes the caller (phone, email, caller.contact_id) would
 * otherwise be replayed onto the old contact, whose id the journal's
 * "contact" row holds.  dlq_plan_invalidate() drops what can be redone for
 * the new caller: the contact step, the attributes step (a PUT to the
 * contact, repeatable) and the intents of contact-scoped steps.  A
 * conversation the record already created exists in Intercom: its row is
 * kept, with the intents of its notes, tags and assignment, which still
 * guard against writing them twice there.  Without a created conversation
 * a changed conversation_id drops the steps written on the old one, so
 * they are written to the new one (what reached the old one stays).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "lastcall.h"
#include "outbox.h"
#include "record.h"
#include "tool.h"

/* Who and where a payload writes to, as the worker will see it. */
struct plan_who {
	char	 phone[64];
	char	 email[256];
	char	 contact_id[64];
	char	 conv[64];
};

/* One journal row. */
struct plan_step {
	char	*step;
	char	*id;
};

struct plan_journal {
	struct plan_step	*s;
	size_t			 n;
};

static void
who_str(char *dst, size_t sz, json_t *v)
{
	const char	*s = json_string_value(v);

	snprintf(dst, sz, "%s", s != NULL ? s : "");
}

/* Fill w from payload: normalised when it parses, else the raw fields. */
static void
plan_who_of(struct tool *t, const char *ws, const char *payload,
    struct plan_who *w)
{
	struct record	 r;
	struct rec_err	 e;
	json_t		*root, *c;

	memset(w, 0, sizeof(*w));
	memset(&r, 0, sizeof(r));
	if (record_parse(payload, tool_ws_conf(t, ws), &r, &e) == 0) {
		snprintf(w->phone, sizeof(w->phone), "%s", r.phone);
		snprintf(w->email, sizeof(w->email), "%s", r.email);
		snprintf(w->contact_id, sizeof(w->contact_id), "%s",
		    r.contact_id != NULL ? r.contact_id : "");
		snprintf(w->conv, sizeof(w->conv), "%s",
		    r.conversation_id != NULL ? r.conversation_id : "");
		record_free(&r);
		return;
	}
	if ((root = json_loads(payload, 0, NULL)) == NULL)
		return;
	c = json_object_get(root, "caller");
	who_str(w->phone, sizeof(w->phone), json_object_get(c, "phone"));
	who_str(w->email, sizeof(w->email), json_object_get(c, "email"));
	who_str(w->contact_id, sizeof(w->contact_id),
	    json_object_get(c, "contact_id"));
	who_str(w->conv, sizeof(w->conv), json_object_get(root,
	    "conversation_id"));
	json_decref(root);
}

static void
plan_journal_free(struct plan_journal *jn)
{
	size_t	 i;

	for (i = 0; i < jn->n; i++) {
		free(jn->s[i].step);
		free(jn->s[i].id);
	}
	free(jn->s);
	jn->s = NULL;
	jn->n = 0;
}

static int
plan_journal_load(struct tool *t, int64_t id, struct plan_journal *jn)
{
	sqlite3_stmt		*st;
	struct plan_step	*ns;
	int			 rc;

	memset(jn, 0, sizeof(*jn));
	st = store_prep(&t->db, SQ_JOURNAL_STEPS);
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((ns = reallocarray(jn->s, jn->n + 1, sizeof(*ns))) == NULL)
			break;
		jn->s = ns;
		jn->s[jn->n].step = db_col_strdup(st, 0);
		jn->s[jn->n].id = db_col_strdup(st, 1);
		jn->n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
		plan_journal_free(jn);
		return -1;
	}
	return 0;
}

/* The row of step, or NULL. */
static struct plan_step *
plan_get(struct plan_journal *jn, const char *step)
{
	size_t	 i;

	for (i = 0; i < jn->n; i++)
		if (jn->s[i].step != NULL && strcmp(jn->s[i].step, step) == 0)
			return &jn->s[i];
	return NULL;
}

static const char *
plan_id(struct plan_journal *jn, const char *step)
{
	struct plan_step	*s = plan_get(jn, step);

	return s != NULL && s->id != NULL ? s->id : NULL;
}

static bool
plan_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/*
 * Where a call's writes go when its contact step is not done, as the
 * worker resolves it: caller.contact_id (followed through merges), else
 * the identity map, else a search at delivery.
 */
static void
plan_contact(struct tool *t, const char *ws, const struct plan_who *w,
    char *out, size_t sz)
{
	struct ident_hit	 h;
	char			 into[64];

	if (w->contact_id[0] != '\0') {
		if (ident_follow(&t->db, ws, w->contact_id, into,
		    sizeof(into)) == 1)
			snprintf(out, sz, "contact %s (explicit "
			    "caller.contact_id %s, merged into %s)", into,
			    w->contact_id, into);
		else
			snprintf(out, sz, "contact %s (explicit "
			    "caller.contact_id)", w->contact_id);
		return;
	}
	if (w->phone[0] != '\0' &&
	    ident_lookup(&t->db, ws, "phone", w->phone, &h) == 1) {
		snprintf(out, sz, "contact %s (identity map: phone %s)",
		    h.contact_id, w->phone);
		return;
	}
	if (w->email[0] != '\0' &&
	    ident_lookup(&t->db, ws, "email", w->email, &h) == 1) {
		snprintf(out, sz, "contact %s (identity map: email %s)",
		    h.contact_id, w->email);
		return;
	}
	snprintf(out, sz, "the contact resolved at delivery by phone/email "
	    "search (phone %s, email %s; a new lead if none matches)",
	    w->phone[0] ? w->phone : "-", w->email[0] ? w->email : "-");
}

/*
 * Where the plan goes: NULL prints it (text), else each line is an object
 * {action, step, detail} appended to this array (dlq_plan_json).
 */
static json_t *plan_out;

/* One line of the plan: "  ACTION  STEP  detail", or its object. */
static void
plan_line(const char *action, const char *step, const char *detail)
{
	if (plan_out != NULL) {
		json_array_append_new(plan_out, json_pack("{s:s, s:s?, s:s?}",
		    "action", action, "step", step, "detail", detail));
		return;
	}
	if (step == NULL)
		printf("  %s %s\n", action, detail != NULL ? detail : "");
	else if (detail != NULL)
		printf("  %-10s %-20s %s\n", action, step, detail);
	else
		printf("  %-10s %s\n", action, step);
}

/* "  to do    STEP  detail" unless the journal has STEP. */
static void
plan_todo(struct plan_journal *jn, const char *step, const char *detail)
{
	if (plan_get(jn, step) != NULL)
		return;
	plan_line(plan_out != NULL ? "to_do" : "to do", step, detail);
}

int
dlq_plan_print(struct tool *t, int64_t id, const char *ws, const char *key)
{
	sqlite3_stmt		*st;
	struct plan_journal	 jn;
	struct plan_who		 w;
	struct record		 r;
	struct rec_err		 e;
	const struct conf_ws	*cw;
	char			*payload = NULL, where[512], step[300], *p;
	const char		*cid, *conv;
	size_t			 i;
	int			 parsed, newer;

	st = store_prep(&t->db, SQ_REC_PAYLOAD);
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		payload = db_col_strdup(st, 0);
	sqlite3_reset(st);
	if (payload == NULL || plan_journal_load(t, id, &jn) == -1) {
		free(payload);
		return -1;
	}
	cw = tool_ws_conf(t, ws);
	memset(&r, 0, sizeof(r));
	parsed = record_parse_row(payload, key, cw, &r, &e) == 0;
	plan_who_of(t, ws, payload, &w);
	for (i = 0; i < jn.n; i++) {
		if (plan_prefix(jn.s[i].step, "intent:")) {
			p = jn.s[i].step + strlen("intent:");
			if (plan_get(&jn, p) == NULL)
				plan_line("reconcile", p, "may have reached "
				    "Intercom unseen: looked for before it is "
				    "written again");
			continue;
		}
		plan_line("done", jn.s[i].step, jn.s[i].id != NULL ?
		    jn.s[i].id : "-");
	}
	if (!parsed) {
		snprintf(where, sizeof(where), "%s (%s): it will be "
		    "dead-lettered again; fix it with callsync dlq edit",
		    e.message, e.reason);
		plan_line(plan_out != NULL ? "invalid_payload" :
		    "invalid payload:", NULL, where);
		goto out;
	}
	if (r.type == REC_CALL) {
		if ((cid = plan_id(&jn, "contact")) != NULL)
			snprintf(where, sizeof(where), "contact %s (journal: "
			    "resolved before, kept)", cid);
		else
			plan_contact(t, ws, &w, where, sizeof(where));
		plan_todo(&jn, "contact", where);
		conv = r.conversation_id;
		if (conv == NULL) {
			plan_todo(&jn, "conversation", "new conversation "
			    "from the contact");
			conv = plan_id(&jn, "conversation");
			plan_line(plan_out != NULL ? "to_do" : "to do",
			    "note:2...", "transcript continued, as needed");
		} else
			plan_todo(&jn, "note:1",
			    "the call as an internal note");
		if (cw != NULL)
			for (i = 0; i < cw->ndefault_tags; i++) {
				snprintf(step, sizeof(step), "tag:%s",
				    cw->default_tags[i]);
				for (p = step; *p != '\0'; p++)
					*p = (char)tolower((unsigned char)*p);
				plan_todo(&jn, step, NULL);
			}
		for (i = 0; i < r.ntags + (r.category != NULL ? 1 : 0); i++) {
			snprintf(step, sizeof(step), "tag:%s", i < r.ntags ?
			    r.tags[i] : r.category);
			for (p = step; *p != '\0'; p++)
				*p = (char)tolower((unsigned char)*p);
			plan_todo(&jn, step, NULL);
		}
		newer = cid != NULL ? lastcall_newer(&t->db, ws, cid,
		    r.started_unix) : 1;
		plan_todo(&jn, "attributes", newer == 0 ? "custom attributes; "
		    "last_call_* skipped: the contact has a newer call" :
		    "custom attributes, last_call_*");
		plan_todo(&jn, "assign", r.assign_kind != 0 ? "as the record "
		    "asks" : "only if the workspace routes this call");
		snprintf(step, sizeof(step), "%s%s", conv != NULL ?
		    ", conversation " : "", conv != NULL ? conv : "");
		if (strlen(where) + strlen(step) < sizeof(where))
			strcat(where, step);
		plan_line(plan_out != NULL ? "writes_go_to" : "writes go to",
		    NULL, where);
	} else {
		plan_todo(&jn, r.type == REC_NOTE ? "note:1" : "reply",
		    r.type == REC_NOTE ? "internal note" : "public reply");
		snprintf(where, sizeof(where), "conversation %s",
		    r.conversation_id);
		plan_line(plan_out != NULL ? "writes_go_to" : "writes go to",
		    NULL, where);
	}
out:
	(void)key;
	if (parsed)
		record_free(&r);
	plan_journal_free(&jn);
	free(payload);
	return 0;
}

/* Delete journal row step of record id (unless dry); add it to dropped. */
static int
plan_drop(struct tool *t, int64_t id, const char *step, bool dry,
    json_t *dropped)
{
	if (!dry && outbox_unstep(&t->db, id, step) == -1)
		return -1;
	json_array_append_new(dropped, json_string(step));
	return 0;
}

static bool
plan_conv_scoped(const char *step)
{
	return plan_prefix(step, "note:") || plan_prefix(step, "tag:") ||
	    strcmp(step, "assign") == 0;
}

static void
plan_cat(char *buf, size_t sz, const char *s)
{
	size_t	 len = strlen(buf);

	snprintf(buf + len, sz - len, "%s", s);
}

/* Append "name a -> b" to buf when a and b differ ("-" for empty). */
static void
plan_chg(char *buf, size_t sz, const char *name, const char *a,
    const char *b)
{
	size_t	 len = strlen(buf);

	if (strcmp(a, b) == 0)
		return;
	snprintf(buf + len, sz - len, "%s%s %s -> %s",
	    len > 0 && buf[len - 1] != '(' && buf[len - 1] != ' ' ? ", " : "",
	    name, a[0] ? a : "-", b[0] ? b : "-");
}

int
dlq_plan_invalidate(struct tool *t, int64_t id, const char *ws,
    const char *key, const char *oldp, const char *newp, bool dry,
    json_t *dropped, FILE *out)
{
	struct plan_journal	 jn;
	struct plan_who		 o, n;
	const char		*s, *base, *cid, *conv;
	char			 chg[1400], where[512];
	size_t			 i;
	bool			 caller, convchg, drop;
	int			 rc = -1;

	plan_who_of(t, ws, oldp, &o);
	plan_who_of(t, ws, newp, &n);
	caller = strcmp(o.phone, n.phone) != 0 ||
	    strcmp(o.email, n.email) != 0 ||
	    strcmp(o.contact_id, n.contact_id) != 0;
	convchg = strcmp(o.conv, n.conv) != 0;
	if (!caller && !convchg)
		return 0;
	if (plan_journal_load(t, id, &jn) == -1)
		return -1;
	if (jn.n == 0) {
		plan_journal_free(&jn);
		return 0;
	}
	cid = plan_id(&jn, "contact");
	conv = plan_id(&jn, "conversation");
	for (i = 0; i < jn.n; i++) {
		s = jn.s[i].step;
		base = plan_prefix(s, "intent:") ? s + strlen("intent:") : s;
		drop = false;
		/* Contact-scoped: redone for the new caller. */
		if (caller && (strcmp(base, "contact") == 0 ||
		    strcmp(base, "attributes") == 0))
			drop = true;
		/* An unconfirmed conversation of the old contact: a search
		 * by the new contact would not find it; create anew. */
		if (caller && conv == NULL && strcmp(s,
		    "intent:conversation") == 0)
			drop = true;
		/* Steps on a given conversation that is replaced. */
		if (convchg && conv == NULL && (plan_conv_scoped(base) ||
		    strcmp(s, "intent:conversation") == 0))
			drop = true;
		if (drop && plan_drop(t, id, s, dry, dropped) == -1)
			goto fail;
	}
	snprintf(chg, sizeof(chg), "%s", caller ? "caller changed (" : "");
	plan_chg(chg, sizeof(chg), "phone", o.phone, n.phone);
	plan_chg(chg, sizeof(chg), "email", o.email, n.email);
	plan_chg(chg, sizeof(chg), "contact_id", o.contact_id, n.contact_id);
	if (caller)
		plan_cat(chg, sizeof(chg), ")");
	if (convchg) {
		plan_cat(chg, sizeof(chg), caller ? "; " : "");
		plan_chg(chg, sizeof(chg), "conversation_id", o.conv, n.conv);
	}
	if (json_array_size(dropped) > 0) {
		fprintf(out, "%s/%s: %s: %s journal steps:", ws, key, chg,
		    dry ? "would invalidate" : "invalidated");
		for (i = 0; i < json_array_size(dropped); i++)
			fprintf(out, " %s", json_string_value(
			    json_array_get(dropped, i)));
		fprintf(out, "\n");
	} else
		fprintf(out, "%s/%s: %s: no journal step to invalidate\n",
		    ws, key, chg);
	if (caller && cid != NULL) {
		plan_contact(t, ws, &n, where, sizeof(where));
		fprintf(out, "contact %s was the old caller's; the replay "
		    "resolves the new one: %s\n", cid, where);
	}
	if (caller && plan_get(&jn, "attributes") != NULL && cid != NULL)
		fprintf(out, "attributes were written to contact %s; they stay "
		    "there and are written again to the new contact\n", cid);
	if (caller && conv == NULL && plan_get(&jn, "intent:conversation"))
		fprintf(out, "warning: an earlier attempt may have created a "
		    "conversation for contact %s unseen; the replay creates "
		    "one for the new contact (check: callsync audit --key "
		    "%s)\n", cid != NULL ? cid : "-", key);
	if (conv != NULL)
		fprintf(out, "conversation %s already exists in Intercom for "
		    "contact %s; it stays; notes/tags/assignment continue "
		    "there\n",
		    conv, cid != NULL ? cid : "-");
	else if (convchg && o.conv[0] != '\0')
		fprintf(out, "what was written to conversation %s stays "
		    "there; the note, tags and assignment go to %s\n", o.conv,
		    n.conv[0] ? n.conv : "a new conversation");
	rc = 0;
fail:
	plan_journal_free(&jn);
	return rc;
}

/*
 * The plan of dlq_plan_print() as a new JSON array of {action (done,
 * reconcile, to_do, invalid_payload, writes_go_to), step, detail}, or
 * NULL on a database error.
 */
json_t *
dlq_plan_json(struct tool *t, int64_t id, const char *ws, const char *key)
{
	json_t	*a = json_array();
	int	 rc;

	plan_out = a;
	rc = dlq_plan_print(t, id, ws, key);
	plan_out = NULL;
	if (rc == -1) {
		json_decref(a);
		return NULL;
	}
	return a;
}
