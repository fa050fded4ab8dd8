/*
 * sim_ctx.c: the endpoints a caller's context reads, as Intercom 2.16
 * documents them: companies attached to contacts, tickets and their
 * search, help-center articles and their search.  Like sim_api.c, each
 * handler validates everything, then applies, and leaves a status and a
 * JSON body in the call; the fault layer in sim.c decides what the client
 * sees, so these endpoints meet latency, faults and rate limits like the
 * others.  sim_ctx_seed() is the /_sim/ back door for fixtures (no search
 * lag, timestamps and states set directly).  Choices where Intercom is
 * silent or the description contradicts its own examples are noted at
 * each function; response shapes are checked with Prism by
 * tests/integration/12_sim_contract.sh.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "sim.h"

#define ARTICLE_PAGE	10	/* results per article search answer */
#define PLAN_ID_BASE	9001	/* plan ids: 9001 + index */

static json_t *
str_or_empty(const char *s)
{
	return json_string(s != NULL ? s : "");
}

/* --- companies --- */

/* Contacts (not merged away) that have co attached. */
static long long
company_users(struct sim_store *st, const struct sim_company *co)
{
	const struct sim_contact	*k;
	long long			 n = 0;
	size_t				 i, j;

	for (i = 0; i < st->ncontacts; i++) {
		k = st->contacts[i];
		if (k->merged_into[0] != '\0')
			continue;
		for (j = 0; j < k->ncompanies; j++)
			if (strcmp(k->companies[j], co->id) == 0)
				n++;
	}
	return n;
}

/*
 * New reference: co in the 2.16 company shape.  Fields the description
 * types as non-null strings are "" when unset (plan is {}), as Intercom
 * sends them.
 */
static json_t *
company_json(struct sim_store *st, const struct sim_company *co)
{
	json_t	*o;
	char	 pid[16];

	o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:I,s:I,s:o,s:o,s:I,s:I,"
	    "s:I,s:I,s:O,s:{s:s,s:[]},s:{s:s,s:[]}}",
	    "type", "company", "id", co->id, "app_id", "simapp01",
	    "company_id", str_or_empty(co->company_id),
	    "name", str_or_empty(co->name),
	    "monthly_spend", (json_int_t)co->monthly_spend,
	    "session_count", (json_int_t)co->session_count,
	    "user_count", (json_int_t)company_users(st, co),
	    "size", (json_int_t)co->size,
	    "website", str_or_empty(co->website),
	    "industry", str_or_empty(co->industry),
	    "remote_created_at", (json_int_t)co->remote_created_at,
	    "created_at", (json_int_t)co->created_at,
	    "updated_at", (json_int_t)co->updated_at,
	    "last_request_at", (json_int_t)co->last_request_at,
	    "custom_attributes", co->custom,
	    "tags", "type", "tag.list", "tags",
	    "segments", "type", "segment.list", "segments");
	if (o == NULL)
		return NULL;
	if (co->plan >= 0) {
		snprintf(pid, sizeof(pid), "%d", PLAN_ID_BASE + co->plan);
		json_object_set_new(o, "plan", json_pack("{s:s,s:s,s:s}",
		    "type", "plan", "id", pid, "name", st->plans[co->plan]));
	} else
		json_object_set_new(o, "plan", json_object());
	return o;
}

static const char *const company_strs[] = { "company_id", "name", "plan",
    "industry", "website", NULL };

/*
 * Validate b (borrowed) as a company's fields, then apply them to co; co
 * NULL only validates, so that a create can check before it allocates.
 * monthly_spend truncates floats, as the description says.  Custom
 * attributes take any scalar; Intercom's
 * description types them as strings, and Prism checks the answer, so
 * tests send strings.  seed also takes session_count, created_at,
 * updated_at and last_request_at.
 */
static int
company_set(struct sim_store *st, struct sim_company *co, json_t *b,
    bool seed, char *err, size_t errsz)
{
	static const char *const ints[] = { "session_count", "created_at",
	    "updated_at", "last_request_at", "size", "remote_created_at",
	    NULL };
	const char	*k;
	json_t		*v, *custom = json_object_get(b, "custom_attributes");
	char		*copy, **dst;
	int		 plan;
	size_t		 i;

	for (i = 0; company_strs[i] != NULL; i++)
		if ((v = json_object_get(b, company_strs[i])) != NULL &&
		    !json_is_string(v)) {
			snprintf(err, errsz, "%s must be a string",
			    company_strs[i]);
			return -1;
		}
	if (!sim_obj_ints_ok(b, seed ? ints : ints + 4, err, errsz))
		return -1;
	if ((v = json_object_get(b, "monthly_spend")) != NULL &&
	    (!json_is_number(v) || json_number_value(v) < 0 ||
	    json_number_value(v) > 2147483647.0)) {
		snprintf(err, errsz, "monthly_spend must be a number from 0 "
		    "to 2147483647");
		return -1;
	}
	if (custom != NULL && !json_is_object(custom)) {
		snprintf(err, errsz, "custom_attributes must be an object");
		return -1;
	}
	json_object_foreach(custom, k, v)
		if (!json_is_string(v) && !json_is_number(v) &&
		    !json_is_boolean(v) && !json_is_null(v)) {
			snprintf(err, errsz, "Custom attribute '%.100s' has "
			    "an invalid value", k);
			return -1;
		}
	if (co == NULL)
		return 0;
	/* Apply. */
	if ((v = json_object_get(b, "plan")) != NULL) {
		if ((plan = sim_plan_id(st, json_string_value(v))) == -1)
			goto oom;
		co->plan = plan;
	}
	for (i = 0; company_strs[i] != NULL; i++) {
		if (i == 2 || (v = json_object_get(b, company_strs[i])) ==
		    NULL)
			continue;
		dst = i == 0 ? &co->company_id : i == 1 ? &co->name : i == 3 ?
		    &co->industry : &co->website;
		if ((copy = strdup(json_string_value(v))) == NULL)
			goto oom;
		free(*dst);
		*dst = copy;
	}
	if ((v = json_object_get(b, "monthly_spend")) != NULL)
		co->monthly_spend = (long long)json_number_value(v);
	if (json_is_integer(v = json_object_get(b, "size")))
		co->size = json_integer_value(v);
	if (json_is_integer(v = json_object_get(b, "remote_created_at")))
		co->remote_created_at = json_integer_value(v);
	json_object_foreach(custom, k, v)
		json_object_set(co->custom, k, v);
	co->updated_at = (long long)sim_now();
	if (!seed)
		return 0;
	if (json_is_integer(v = json_object_get(b, "session_count")))
		co->session_count = json_integer_value(v);
	if (json_is_integer(v = json_object_get(b, "created_at")))
		co->created_at = json_integer_value(v);
	if (json_is_integer(v = json_object_get(b, "last_request_at")))
		co->last_request_at = json_integer_value(v);
	if (json_is_integer(v = json_object_get(b, "updated_at")))
		co->updated_at = json_integer_value(v);
	return 0;
oom:
	snprintf(err, errsz, "out of memory");
	return -1;
}

/*
 * POST /companies: create, or update the company with that company_id
 * (Intercom's key for this endpoint).  One of company_id and name is
 * needed: a company with neither could never be found again.
 */
static void
sim_ctx_company_create(struct sim_store *st, struct sim_call *c)
{
	struct sim_company	*co = NULL;
	json_t			*b;
	const char		*cid;
	char			 err[256];

	if ((b = sim_api_body(c)) == NULL)
		return;
	cid = json_string_value(json_object_get(b, "company_id"));
	if (cid == NULL && !json_is_string(json_object_get(b, "name"))) {
		sim_api_error(c, 400, "parameter_invalid",
		    "company_id or name is required");
		goto out;
	}
	if (company_set(st, NULL, b, false, err, sizeof(err)) == -1) {
		sim_api_error(c, 400, "parameter_invalid", err);
		goto out;
	}
	if (cid != NULL)
		co = sim_company_find_ext(st, cid);
	if ((co == NULL && (co = sim_company_new(st)) == NULL) ||
	    company_set(st, co, b, false, err, sizeof(err)) == -1) {
		sim_api_oom(c);
		goto out;
	}
	sim_api_ok(c, company_json(st, co));
out:
	json_decref(b);
}

/* The company of Intercom's id, or NULL after answering 404. */
static struct sim_company *
company_or_404(struct sim_store *st, struct sim_call *c, const char *id)
{
	struct sim_company	*co;

	if ((co = sim_company_find(st, id)) == NULL)
		sim_api_error(c, 404, "company_not_found",
		    "Company Not Found");
	return co;
}

/* GET /companies/{id}: by Intercom's id. */
static void
sim_ctx_company_get(struct sim_store *st, struct sim_call *c)
{
	struct sim_company	*co;

	if ((co = company_or_404(st, c, c->segs[1])) != NULL)
		sim_api_ok(c, company_json(st, co));
}

/* POST /contacts/{id}/companies {id}: attach; twice is still once. */
static void
sim_ctx_contact_attach(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k;
	struct sim_company	*co;
	json_t			*b;
	const char		*id;
	char			 buf[32];

	if ((k = sim_api_path_contact(st, c)) == NULL)
		return;
	if ((b = sim_api_body(c)) == NULL)
		return;
	if ((id = sim_obj_id(b, "id", buf, sizeof(buf))) == NULL) {
		sim_api_error(c, 400, "parameter_invalid", "id is required");
		goto out;
	}
	if ((co = company_or_404(st, c, id)) == NULL)
		goto out;
	if (sim_company_attach(k, co->id) == -1) {
		sim_api_oom(c);
		goto out;
	}
	sim_api_ok(c, company_json(st, co));
out:
	json_decref(b);
}

/*
 * GET /contacts/{id}/companies.  The 2.16 schema names the array
 * "companies", its example "data"; Intercom sends "companies" here unless
 * the control companies_key says "data", so that a client can be tested
 * against both.  All on one page: a contact has few companies.
 */
static void
sim_ctx_contact_companies(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k;
	struct sim_company	*co;
	json_t			*a;
	size_t			 i;

	if ((k = sim_api_path_contact(st, c)) == NULL)
		return;
	a = json_array();
	for (i = 0; i < k->ncompanies; i++)
		if ((co = sim_company_find(st, k->companies[i])) != NULL)
			json_array_append_new(a, company_json(st, co));
	sim_api_ok(c, json_pack("{s:s,s:o,s:I,s:{s:s,s:n,s:i,s:i,s:i}}",
	    "type", "list", st->companies_as_data ? "data" : "companies", a,
	    "total_count", (json_int_t)json_array_size(a),
	    "pages", "type", "pages", "next", "page", 1, "per_page", 50,
	    "total_pages", 1));
}

/* --- tickets --- */

static json_t *
ticket_state_json(const struct sim_ticket_state *s)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "ticket_state",
	    "id", s->id, "category", s->category,
	    "internal_label", s->internal_label,
	    "external_label", s->external_label);
}

static json_t *
ticket_type_json(const struct sim_ticket_type *t)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i,s:i,s:s}",
	    "type", "ticket_type", "id", t->id, "name", t->name,
	    "description", "", "icon", t->icon, "workspace_id", "simapp01",
	    "archived", 0, "created_at", 1700000000, "updated_at", 1700000000,
	    "category", t->category);
}

/*
 * New reference: t in the 2.16 ticket shape.  Parts are not kept: the
 * list is always empty (no client of ours reads them).
 */
static json_t *
ticket_json(struct sim_store *st, const struct sim_ticket *t)
{
	json_t	*o;

	o = json_pack("{s:s,s:s,s:s,s:s,s:O,s:o,s:o,s:{s:s,s:o},s:I,s:I,s:I,"
	    "s:I,s:b,s:{s:s,s:[],s:i},s:{s:s,s:[],s:i,s:b},s:b,s:o}",
	    "type", "ticket", "id", t->id, "ticket_id", t->ticket_id,
	    "category", t->type->category, "ticket_attributes", t->attrs,
	    "ticket_state", ticket_state_json(t->state),
	    "ticket_type", ticket_type_json(t->type),
	    "contacts", "type", "contact.list", "contacts",
	    sim_obj_contact_refs(st, t->contact_ids, t->ncontacts),
	    "admin_assignee_id", (json_int_t)t->admin_assignee,
	    "team_assignee_id", (json_int_t)t->team_assignee,
	    "created_at", (json_int_t)t->created_at,
	    "updated_at", (json_int_t)t->updated_at, "open", t->open,
	    "ticket_parts", "type", "ticket_part.list", "ticket_parts",
	    "total_count", 0,
	    "linked_objects", "type", "list", "data", "total_count", 0,
	    "has_more", 0,
	    "is_shared", strcmp(t->type->category, "Customer") == 0,
	    "previous_ticket_state_id", t->prev_state != NULL ?
	    json_string(t->prev_state->id) : json_null());
	/* snoozed_until is a non-null integer in the description. */
	if (o != NULL && t->snoozed_until != 0)
		json_object_set_new(o, "snoozed_until",
		    json_integer(t->snoozed_until));
	return o;
}

static const struct sim_ticket_state *
state_by_category(const char *cat)
{
	size_t	i;

	for (i = 0; sim_ticket_states[i].id != NULL; i++)
		if (strcmp(sim_ticket_states[i].category, cat) == 0)
			return &sim_ticket_states[i];
	return NULL;
}

static bool
ticket_attrs_ok(json_t *a, char *err, size_t errsz)
{
	const char	*k;
	json_t		*v;

	if (a == NULL)
		return true;
	if (!json_is_object(a)) {
		snprintf(err, errsz, "ticket_attributes must be an object");
		return false;
	}
	json_object_foreach(a, k, v)
		if (!json_is_string(v) && !json_is_number(v) &&
		    !json_is_boolean(v) && !json_is_null(v)) {
			snprintf(err, errsz, "ticket attribute '%.100s' has "
			    "an invalid value", k);
			return false;
		}
	return true;
}

/* A state change keeps the previous state; resolved closes the ticket. */
static void
ticket_set_state(struct sim_ticket *t, const struct sim_ticket_state *s)
{
	if (s == t->state)
		return;
	t->prev_state = t->state;
	t->state = s;
	t->open = strcmp(s->category, "resolved") != 0;
}

/*
 * Validate b (borrowed) as changes to t, then apply them; t NULL only
 * validates (a new ticket's seed checks before it allocates).  The API (PUT
 * /tickets/{id}) takes ticket_state_id, open (false resolves the ticket,
 * true reopens it as submitted), ticket_attributes (merged) and
 * snoozed_until.  seed also takes ticket_type_id, state (a category),
 * contact_ids, the assignees, created_at and updated_at (applied last).
 */
static int
ticket_set(struct sim_store *st, struct sim_ticket *t, json_t *b, bool seed,
    char *err, size_t errsz)
{
	static const char *const ints[] = { "created_at", "updated_at",
	    "admin_assignee_id", "team_assignee_id", "snoozed_until", NULL };
	const struct sim_ticket_state	*ns = NULL;
	const struct sim_ticket_type	*nt = NULL;
	const char			*k;
	json_t				*v, *open = json_object_get(b, "open");
	json_t				*attrs = json_object_get(b,
					    "ticket_attributes");
	char				(*ids)[SIM_CID_LEN] = NULL;
	size_t				 nids = 0;

	if (!sim_obj_ints_ok(b, seed ? ints : ints + 4, err, errsz) ||
	    !ticket_attrs_ok(attrs, err, errsz))
		return -1;
	if (open != NULL && !json_is_boolean(open)) {
		snprintf(err, errsz, "open must be a boolean");
		return -1;
	}
	if ((v = json_object_get(b, "ticket_state_id")) != NULL &&
	    (!json_is_string(v) ||
	    (ns = sim_ticket_state_find(json_string_value(v))) == NULL)) {
		snprintf(err, errsz, "Ticket state not found");
		return -1;
	}
	if (seed && (v = json_object_get(b, "state")) != NULL &&
	    (!json_is_string(v) ||
	    (ns = state_by_category(json_string_value(v))) == NULL)) {
		snprintf(err, errsz, "state must be submitted, in_progress, "
		    "waiting_on_customer or resolved");
		return -1;
	}
	if (seed && (v = json_object_get(b, "ticket_type_id")) != NULL &&
	    (!json_is_string(v) ||
	    (nt = sim_ticket_type_find(json_string_value(v))) == NULL)) {
		snprintf(err, errsz, "Ticket type not found");
		return -1;
	}
	if (seed && (json_object_get(b, "contact_ids") != NULL || t == NULL ||
	    t->ncontacts == 0) && sim_obj_contact_list(st,
	    json_object_get(b, "contact_ids"), &ids, &nids, err, errsz) == -1)
		return -1;
	if (t == NULL) {
		free(ids);
		return 0;
	}
	/* Apply. */
	if (ids != NULL) {
		free(t->contact_ids);
		t->contact_ids = ids;
		t->ncontacts = nids;
	}
	if (nt != NULL)
		t->type = nt;
	if (ns != NULL)
		ticket_set_state(t, ns);
	else if (json_is_false(open) && t->open)
		ticket_set_state(t, state_by_category("resolved"));
	else if (json_is_true(open) && !t->open)
		ticket_set_state(t, state_by_category("submitted"));
	json_object_foreach(attrs, k, v)
		json_object_set(t->attrs, k, v);
	if ((v = json_object_get(b, "snoozed_until")) != NULL)
		t->snoozed_until = json_is_integer(v) ?
		    json_integer_value(v) : 0;
	t->updated_at = (long long)sim_now();
	if (!seed)
		return 0;
	if (json_is_integer(v = json_object_get(b, "admin_assignee_id")))
		t->admin_assignee = json_integer_value(v);
	if (json_is_integer(v = json_object_get(b, "team_assignee_id")))
		t->team_assignee = json_integer_value(v);
	if (json_is_integer(v = json_object_get(b, "created_at")))
		t->created_at = json_integer_value(v);
	if (json_is_integer(v = json_object_get(b, "updated_at")))
		t->updated_at = json_integer_value(v);
	return 0;
}

/*
 * The contact of a create_ticket_request's contacts[0]: {id},
 * {external_id} or {email}; an unknown email creates a lead, as the
 * description says.  NULL after answering.
 */
static struct sim_contact *
ticket_contact(struct sim_store *st, struct sim_call *c, json_t *ref)
{
	struct sim_contact	*k;
	const char		*id, *xid, *email;
	size_t			 i;

	id = json_string_value(json_object_get(ref, "id"));
	xid = json_string_value(json_object_get(ref, "external_id"));
	email = json_string_value(json_object_get(ref, "email"));
	if (id != NULL) {
		k = sim_contact_canonical(st, sim_contact_find(st, id));
		if (k == NULL)
			sim_api_error(c, 404, "not_found", "User Not Found");
		return k;
	}
	for (i = 0; i < st->ncontacts; i++) {
		k = st->contacts[i];
		if (k->merged_into[0] != '\0')
			continue;
		if ((xid != NULL && k->external_id != NULL &&
		    strcmp(k->external_id, xid) == 0) || (email != NULL &&
		    k->email != NULL && strcasecmp(k->email, email) == 0))
			return k;
	}
	if (email == NULL) {
		sim_api_error(c, 404, "not_found", "User Not Found");
		return NULL;
	}
	if ((k = sim_contact_new(st, c->now + c->search_lag)) == NULL ||
	    (k->email = strdup(email)) == NULL) {
		sim_api_oom(c);
		return NULL;
	}
	return k;
}

/*
 * POST /tickets: ticket_type_id and contacts (exactly one, as 2.16 says)
 * are required; the ticket starts submitted and open, unsearchable for
 * the search lag like conversations.
 */
static void
sim_ctx_ticket_create(struct sim_store *st, struct sim_call *c)
{
	const struct sim_ticket_type	*tt;
	struct sim_contact		*k;
	struct sim_ticket		*t;
	json_t				*b, *contacts, *attrs, *ca, *as, *v;
	char				 err[256];

	if ((b = sim_api_body(c)) == NULL)
		return;
	contacts = json_object_get(b, "contacts");
	attrs = json_object_get(b, "ticket_attributes");
	ca = json_object_get(b, "created_at");
	as = json_object_get(b, "assignment");
	if ((tt = sim_ticket_type_find(json_string_value(json_object_get(b,
	    "ticket_type_id")) ?: "")) == NULL) {
		sim_api_error(c, 400, "parameter_invalid",
		    json_object_get(b, "ticket_type_id") == NULL ?
		    "ticket_type_id is required" : "Ticket type not found");
		goto out;
	}
	if (!json_is_array(contacts) || json_array_size(contacts) != 1 ||
	    !json_is_object(json_array_get(contacts, 0))) {
		sim_api_error(c, 400, "parameter_invalid", "contacts must "
		    "list exactly one contact");
		goto out;
	}
	if (!ticket_attrs_ok(attrs, err, sizeof(err))) {
		sim_api_error(c, 400, "parameter_invalid", err);
		goto out;
	}
	if ((ca != NULL && !json_is_integer(ca)) ||
	    (as != NULL && !json_is_object(as))) {
		sim_api_error(c, 400, "parameter_invalid",
		    "created_at must be an integer, assignment an object");
		goto out;
	}
	if ((k = ticket_contact(st, c, json_array_get(contacts, 0))) == NULL)
		goto out;
	if ((t = sim_ticket_new(st, c->now + c->search_lag)) == NULL ||
	    (t->contact_ids = calloc(1, sizeof(*t->contact_ids))) == NULL) {
		sim_api_oom(c);
		goto out;
	}
	t->type = tt;
	t->ncontacts = 1;
	strcpy(t->contact_ids[0], k->id);
	if (attrs != NULL)
		json_object_update(t->attrs, attrs);
	if (json_is_integer(ca))
		t->created_at = json_integer_value(ca);
	if ((v = json_object_get(as, "admin_assignee_id")) != NULL)
		t->admin_assignee = strtoll(json_string_value(v) ?: "0",
		    NULL, 10);
	if ((v = json_object_get(as, "team_assignee_id")) != NULL)
		t->team_assignee = strtoll(json_string_value(v) ?: "0",
		    NULL, 10);
	sim_api_ok(c, ticket_json(st, t));
out:
	json_decref(b);
}

/* The ticket named by path segment 1, or NULL after answering 404. */
static struct sim_ticket *
path_ticket(struct sim_store *st, struct sim_call *c)
{
	struct sim_ticket	*t;

	if ((t = sim_ticket_find(st, c->segs[1])) == NULL)
		sim_api_error(c, 404, "ticket_not_found", "Ticket not found");
	return t;
}

static void
sim_ctx_ticket_get(struct sim_store *st, struct sim_call *c)
{
	struct sim_ticket	*t;

	if ((t = path_ticket(st, c)) != NULL)
		sim_api_ok(c, ticket_json(st, t));
}

/* PUT /tickets/{id}: state, open, attributes, snooze (see ticket_set). */
static void
sim_ctx_ticket_put(struct sim_store *st, struct sim_call *c)
{
	struct sim_ticket	*t;
	json_t			*b;
	char			 err[256];

	if ((t = path_ticket(st, c)) == NULL)
		return;
	if ((b = sim_api_body(c)) == NULL)
		return;
	if (ticket_set(st, t, b, false, err, sizeof(err)) == -1)
		sim_api_error(c, 400, "parameter_invalid", err);
	else
		sim_api_ok(c, ticket_json(st, t));
	json_decref(b);
}

static const void *
ticket_nth(struct sim_store *st, size_t i)
{
	return st->tickets[i];
}

static bool
ticket_visible(const void *o, double now)
{
	return now >= ((const struct sim_ticket *)o)->visible_at;
}

static json_t *
ticket_render(struct sim_store *st, const void *o)
{
	return ticket_json(st, o);
}

/*
 * POST /tickets/search: the 2.16 field table (sim_search.c), 20 per page
 * by default, creation order unless sort {field, order} names a field.
 */
static void
sim_ctx_ticket_search(struct sim_store *st, struct sim_call *c)
{
	const struct sim_find	f = { SIM_TICKET, 20, "ticket.list",
	    "tickets", st->ntickets, ticket_nth, ticket_visible,
	    ticket_render, NULL };

	sim_api_find(st, c, &f);
}

/* --- articles --- */

static json_t *
article_json(const struct sim_article *a)
{
	json_t	*o;

	o = json_pack("{s:s,s:s,s:s,s:[],s:{s:s,s:[]},s:o,s:o,s:o,s:I,s:s,"
	    "s:I,s:I}", "type", "article", "id", a->id,
	    "workspace_id", "simapp01", "parent_ids",
	    "tags", "type", "tag.list", "tags",
	    "title", str_or_empty(a->title),
	    "description", str_or_empty(a->description),
	    "body", str_or_empty(a->body),
	    "author_id", (json_int_t)a->author_id, "state", a->state,
	    "created_at", (json_int_t)a->created_at,
	    "updated_at", (json_int_t)a->updated_at);
	if (o != NULL)
		json_object_set_new(o, "url", strcmp(a->state, "published") ==
		    0 ? json_sprintf("https://help.callsync-sim.example/en/"
		    "articles/%s", a->id) : json_null());
	return o;
}

static const char *const article_strs[] = { "title", "description", "body",
    NULL };

/*
 * Validate b as an article's fields, then apply them to a; a NULL only
 * validates (create checks before it allocates).  The API needs title
 * and author_id (an admin) on create; seed also takes created_at and
 * updated_at.
 */
static int
article_set(struct sim_article *a, json_t *b, bool create, bool seed,
    char *err, size_t errsz)
{
	static const char *const ints[] = { "created_at", "updated_at", NULL };
	const char	*state;
	json_t		*v, *au = json_object_get(b, "author_id");
	char		 num[32], *copy, **dst;
	size_t		 i;

	for (i = 0; article_strs[i] != NULL; i++)
		if ((v = json_object_get(b, article_strs[i])) != NULL &&
		    !json_is_string(v)) {
			snprintf(err, errsz, "%s must be a string",
			    article_strs[i]);
			return -1;
		}
	if (create && !seed && (!json_is_string(json_object_get(b, "title")) ||
	    au == NULL)) {
		snprintf(err, errsz, "title and author_id are required");
		return -1;
	}
	snprintf(num, sizeof(num), "%lld", json_is_integer(au) ?
	    (long long)json_integer_value(au) : -1LL);
	if (au != NULL && !sim_admin_exists(num)) {
		snprintf(err, errsz, "author_id must be an admin's id");
		return -1;
	}
	state = json_string_value(json_object_get(b, "state"));
	if ((json_object_get(b, "state") != NULL && state == NULL) ||
	    (state != NULL && strcmp(state, "published") != 0 &&
	    strcmp(state, "draft") != 0)) {
		snprintf(err, errsz, "state must be published or draft");
		return -1;
	}
	if (seed && !sim_obj_ints_ok(b, ints, err, errsz))
		return -1;
	if (a == NULL)
		return 0;
	/* Apply. */
	for (i = 0; article_strs[i] != NULL; i++) {
		if ((v = json_object_get(b, article_strs[i])) == NULL)
			continue;
		dst = i == 0 ? &a->title : i == 1 ? &a->description : &a->body;
		if ((copy = strdup(json_string_value(v))) == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		free(*dst);
		*dst = copy;
	}
	if (au != NULL)
		a->author_id = json_integer_value(au);
	if (state != NULL)
		snprintf(a->state, sizeof(a->state), "%s", state);
	a->updated_at = (long long)sim_now();
	if (seed && json_is_integer(v = json_object_get(b, "created_at")))
		a->created_at = json_integer_value(v);
	if (seed && json_is_integer(v = json_object_get(b, "updated_at")))
		a->updated_at = json_integer_value(v);
	return 0;
}

/* POST /articles: a new article (draft unless state says published). */
static void
sim_ctx_article_create(struct sim_store *st, struct sim_call *c)
{
	struct sim_article	*a;
	json_t			*b;
	char			 err[256];

	if ((b = sim_api_body(c)) == NULL)
		return;
	if (article_set(NULL, b, true, false, err, sizeof(err)) == -1) {
		sim_api_error(c, 400, "parameter_invalid", err);
		goto out;
	}
	if ((a = sim_article_new(st)) == NULL ||
	    article_set(a, b, true, false, err, sizeof(err)) == -1) {
		sim_api_oom(c);
		goto out;
	}
	sim_api_ok(c, article_json(a));
out:
	json_decref(b);
}

/* Does html, its tags skipped, contain word (case-insensitively)? */
static bool
text_has(const char *html, const char *word, size_t wl)
{
	const char	*p;
	size_t		 i;
	bool		 tag = false;

	if (html == NULL)
		return false;
	for (p = html; *p != '\0'; p++) {
		if (*p == '<')
			tag = true;
		if (tag) {
			tag = *p != '>';
			continue;
		}
		for (i = 0; i < wl && p[i] != '\0' && p[i] != '<' &&
		    tolower((unsigned char)p[i]) ==
		    tolower((unsigned char)word[i]); i++)
			;
		if (i == wl)
			return true;
	}
	return false;
}

/*
 * 0: phrase misses a; 1: every word of it is in the description or body;
 * 2: every word is in the title.  Words are runs of letters and digits
 * (bytes >= 0x80 count as letters, so UTF-8 words stay whole).
 */
static int
article_rank(const struct sim_article *a, const char *phrase)
{
	const char	*p = phrase;
	size_t		 wl;
	int		 rank = 2;

	for (;;) {
		while (*p != '\0' && !isalnum((unsigned char)*p) &&
		    (unsigned char)*p < 0x80)
			p++;
		if (*p == '\0')
			return rank;
		for (wl = 0; p[wl] != '\0' && (isalnum((unsigned char)p[wl]) ||
		    (unsigned char)p[wl] >= 0x80); wl++)
			;
		if (!text_has(a->title, p, wl)) {
			if (!text_has(a->description, p, wl) &&
			    !text_has(a->body, p, wl))
				return 0;
			rank = 1;
		}
		p += wl;
	}
}

/*
 * GET /articles/search?phrase=&state=&help_center_id=&highlight=.  state
 * is published, draft or all (the default: 2.16 does not name one).
 * Title matches come first, then body matches, each in creation order;
 * one page of ARTICLE_PAGE (the description has no paging parameters).
 * highlight is accepted; highlights are always [].
 */
static void
sim_ctx_article_search(struct sim_store *st, struct sim_call *c)
{
	struct evkeyvalq	 q;
	const struct sim_article *a;
	const char		*phrase = NULL, *state = NULL, *hc;
	json_t			*list;
	size_t			 i, n = 0;
	char			*end;
	int			 pass;

	TAILQ_INIT(&q);
	if (c->query != NULL && evhttp_parse_query_str(c->query, &q) == -1) {
		sim_api_error(c, 400, "parameter_invalid",
		    "Invalid query string");
		goto out;
	}
	phrase = evhttp_find_header(&q, "phrase");
	state = evhttp_find_header(&q, "state");
	hc = evhttp_find_header(&q, "help_center_id");
	if (state != NULL && strcmp(state, "published") != 0 &&
	    strcmp(state, "draft") != 0 && strcmp(state, "all") != 0) {
		sim_api_error(c, 400, "parameter_invalid",
		    "state must be one of published, draft, all");
		goto out;
	}
	if (hc != NULL && (*hc == '\0' || (strtoll(hc, &end, 10), *end))) {
		sim_api_error(c, 400, "parameter_invalid",
		    "help_center_id must be an integer");
		goto out;
	}
	list = json_array();
	for (pass = 2; pass >= 1; pass--)
		for (i = 0; i < st->narticles; i++) {
			a = st->articles[i];
			if ((state != NULL && strcmp(state, "all") != 0 &&
			    strcmp(state, a->state) != 0) ||
			    article_rank(a, phrase ? phrase : "") != pass)
				continue;
			if (n++ < ARTICLE_PAGE)
				json_array_append_new(list, article_json(a));
		}
	sim_api_ok(c, json_pack("{s:s,s:I,s:{s:o,s:[]},s:{s:s,s:i,s:i,s:I}}",
	    "type", "list", "total_count", (json_int_t)n,
	    "data", "articles", list, "highlights",
	    "pages", "type", "pages", "page", 1, "per_page", ARTICLE_PAGE,
	    "total_pages", (json_int_t)(n == 0 ? 1 :
	    (n + ARTICLE_PAGE - 1) / ARTICLE_PAGE)));
out:
	evhttp_clear_headers(&q);
}

/* --- fixtures --- */

static json_t *
seed_company(struct sim_store *st, json_t *b, char *err, size_t errsz)
{
	struct sim_company	*co = NULL;
	struct sim_contact	*k;
	json_t			*ids = json_object_get(b, "contact_ids"), *e;
	const char		*id;
	char			 buf[SIM_NID_LEN];
	size_t			 i;

	if ((id = sim_obj_id(b, "id", buf, sizeof(buf))) != NULL &&
	    (co = sim_company_find(st, id)) == NULL) {
		snprintf(err, errsz, "no company '%.32s'", id);
		return NULL;
	}
	json_array_foreach(ids, i, e)
		if (!json_is_string(e) || (k = sim_contact_find(st,
		    json_string_value(e))) == NULL || k->merged_into[0]) {
			snprintf(err, errsz, "contact_ids[%zu]: no such "
			    "contact", i);
			return NULL;
		}
	if (ids != NULL && !json_is_array(ids)) {
		snprintf(err, errsz, "contact_ids must be an array");
		return NULL;
	}
	if (company_set(st, NULL, b, true, err, errsz) == -1)
		return NULL;
	if ((co == NULL && (co = sim_company_new(st)) == NULL) ||
	    company_set(st, co, b, true, err, errsz) == -1)
		goto oom;
	json_array_foreach(ids, i, e)
		if (sim_company_attach(sim_contact_find(st,
		    json_string_value(e)), co->id) == -1)
			goto oom;
	return company_json(st, co);
oom:
	snprintf(err, errsz, "out of memory");
	return NULL;
}

static json_t *
seed_ticket(struct sim_store *st, json_t *b, char *err, size_t errsz)
{
	struct sim_ticket	*t = NULL;
	const char		*id;
	char			 buf[SIM_NID_LEN];

	if ((id = sim_obj_id(b, "id", buf, sizeof(buf))) != NULL) {
		if ((t = sim_ticket_find(st, id)) == NULL) {
			snprintf(err, errsz, "no ticket '%.32s'", id);
			return NULL;
		}
		return ticket_set(st, t, b, true, err, errsz) == -1 ? NULL :
		    ticket_json(st, t);
	}
	if (ticket_set(st, NULL, b, true, err, errsz) == -1)
		return NULL;
	if ((t = sim_ticket_new(st, 0)) == NULL ||
	    ticket_set(st, t, b, true, err, errsz) == -1) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	return ticket_json(st, t);
}

static json_t *
seed_article(struct sim_store *st, json_t *b, char *err, size_t errsz)
{
	struct sim_article	*a;
	const char		*id;
	char			 buf[SIM_NID_LEN];

	if ((id = sim_obj_id(b, "id", buf, sizeof(buf))) != NULL) {
		if ((a = sim_article_find(st, id)) == NULL) {
			snprintf(err, errsz, "no article '%.32s'", id);
			return NULL;
		}
		return article_set(a, b, false, true, err, errsz) == -1 ?
		    NULL : article_json(a);
	}
	if (article_set(NULL, b, true, true, err, errsz) == -1)
		return NULL;
	if ((a = sim_article_new(st)) == NULL ||
	    article_set(a, b, true, true, err, errsz) == -1) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	return article_json(a);
}

/* Is /_sim/<what> a fixture endpoint? */
bool
sim_ctx_seedable(const char *what)
{
	return strcmp(what, "conversations") == 0 ||
	    strcmp(what, "companies") == 0 || strcmp(what, "tickets") == 0 ||
	    strcmp(what, "articles") == 0;
}

/* Routed by sim_api.c (sim.c hands it this table at start). */
const struct sim_route sim_ctx_routes[] = {
	{ "POST", "/contacts/{id}/companies", sim_ctx_contact_attach },
	{ "GET", "/contacts/{id}/companies", sim_ctx_contact_companies },
	{ "POST", "/companies", sim_ctx_company_create },
	{ "GET", "/companies/{id}", sim_ctx_company_get },
	{ "POST", "/tickets", sim_ctx_ticket_create },
	{ "POST", "/tickets/search", sim_ctx_ticket_search },
	{ "GET", "/tickets/{id}", sim_ctx_ticket_get },
	{ "PUT", "/tickets/{id}", sim_ctx_ticket_put },
	{ "POST", "/articles", sim_ctx_article_create },
	{ "GET", "/articles/search", sim_ctx_article_search },
	{ NULL, NULL, NULL }
};

/*
 * POST /_sim/<what> with b (borrowed): create a fixture, or change the
 * one named by "id".  New reference to its API shape, or NULL with a
 * message in err ("out of memory" for a 500).
 */
json_t *
sim_ctx_seed(struct sim_store *st, const char *what, json_t *b, char *err,
    size_t errsz)
{
	if (strcmp(what, "conversations") == 0)
		return sim_obj_seed_conv(st, b, err, errsz);
	if (strcmp(what, "companies") == 0)
		return seed_company(st, b, err, errsz);
	if (strcmp(what, "tickets") == 0)
		return seed_ticket(st, b, err, errsz);
	return seed_article(st, b, err, errsz);
}
