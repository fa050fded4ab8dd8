/*
 * sim_api.c: the Intercom endpoints.  sim_api_handle() routes one call
 * (method, path, body) through a template table to a handler; a handler
 * validates like Intercom 2.16, changes the store and leaves a status and a
 * JSON body (new reference) in the call.  Nothing here touches HTTP: the
 * fault layer in sim.c decides whether the answer is sent, lost, truncated
 * or replaced, which is why handlers must be all-or-nothing (validate
 * everything, then apply).  Response shapes follow the 2.16 OpenAPI
 * description (see tests/integration/12_sim_contract.sh), choices where
 * Intercom is undocumented are noted at each handler; the objects
 * themselves (a contact, a conversation) are sim_obj.c's, and a change
 * the webhooks tell of goes to sim_hooks.c.
 */
#include <sys/queue.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#include "sim.h"
#include "sim_hooks.h"

void
sim_api_error(struct sim_call *c, int status, const char *code,
    const char *msg)
{
	json_decref(c->resp);
	c->status = status;
	c->resp = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "type", "error.list",
	    "request_id", c->request_id, "errors", "code", code,
	    "message", msg);
}

void
sim_api_ok(struct sim_call *c, json_t *body)
{
	json_decref(c->resp);
	c->status = 200;
	c->resp = body;
	if (body == NULL)
		sim_api_error(c, 500, "server_error", "out of memory");
}

void
sim_api_oom(struct sim_call *c)
{
	sim_api_error(c, 500, "server_error", "out of memory");
}

/*
 * The request body as a JSON object (new reference), {} when empty, or
 * NULL after answering 400 for invalid JSON or a non-object.
 */
json_t *
sim_api_body(struct sim_call *c)
{
	json_t	*o;

	if (c->bodylen == 0)
		return json_object();
	o = json_loadb(c->body, c->bodylen, 0, NULL);
	if (o == NULL) {
		sim_api_error(c, 400, "parameter_invalid",
		    "There was a problem in the JSON you submitted");
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		sim_api_error(c, 400, "parameter_invalid",
		    "Request body must be a JSON object");
		return NULL;
	}
	return o;
}

/* --- admins and teams --- */

static json_t *
admin_json(const struct sim_admin *a)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:[i]}",
	    "type", "admin", "id", a->id, "name", a->name, "email", a->email,
	    "job_title", "", "away_mode_enabled", 0, "away_mode_reassign", 0,
	    "has_inbox_seat", 1, "team_ids", 2001);
}

static void
api_me(struct sim_store *st, struct sim_call *c)
{
	json_t	*o;

	if ((o = admin_json(&sim_admins[0])) == NULL)
		return sim_api_oom(c);
	json_object_set_new(o, "email_verified", json_true());
	json_object_set_new(o, "avatar", json_pack("{s:s,s:n}", "type",
	    "avatar", "image_url"));
	json_object_set_new(o, "app", json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:i,s:b}", "type", "app",
	    "id_code", sim_app_id, "name", "callsync simulator",
	    "region", st->region[0] ? st->region : "US", "timezone", "UTC",
	    "created_at", 1700000000,
	    "identity_verification", 0));
	sim_api_ok(c, o);
}

static void
api_admins(struct sim_store *st, struct sim_call *c)
{
	json_t	*a;
	size_t	 i;

	(void)st;
	a = json_array();
	for (i = 0; sim_admins[i].id != NULL; i++)
		json_array_append_new(a, admin_json(&sim_admins[i]));
	sim_api_ok(c, json_pack("{s:s,s:o}", "type", "admin.list", "admins", a));
}

/* GET /admins/{id}: 404 admin_not_found as the 2.16 description has it. */
static void
api_admin_get(struct sim_store *st, struct sim_call *c)
{
	const struct sim_admin	*a;

	(void)st;
	if ((a = sim_admin_find(c->segs[1])) == NULL) {
		sim_api_error(c, 404, "admin_not_found", "Admin not found");
		return;
	}
	sim_api_ok(c, admin_json(a));
}

static json_t *
team_json(const char *id, const char *name)
{
	return json_pack("{s:s,s:s,s:s,s:[i,i]}", "type", "team", "id", id,
	    "name", name, "admin_ids", 1001, 1002);
}

json_t *
sim_api_team(const struct sim_store *st, const char *id)
{
	size_t	 i;

	for (i = 0; sim_teams[i].id != NULL; i++)
		if (strcmp(sim_teams[i].id, id) == 0)
			return team_json(id, sim_teams[i].name);
	for (i = 0; i < st->nteams_added; i++)
		if (strcmp(st->teams_added[i].id, id) == 0)
			return team_json(id, st->teams_added[i].name);
	return NULL;
}

static void
api_teams(struct sim_store *st, struct sim_call *c)
{
	json_t	*a;
	size_t	 i;

	a = json_array();
	for (i = 0; sim_teams[i].id != NULL; i++)
		json_array_append_new(a, team_json(sim_teams[i].id,
		    sim_teams[i].name));
	for (i = 0; i < st->nteams_added; i++)
		json_array_append_new(a, team_json(st->teams_added[i].id,
		    st->teams_added[i].name));
	sim_api_ok(c, json_pack("{s:s,s:o}", "type", "team.list", "teams", a));
}

/* GET /teams/{id}: 404 team_not_found as the 2.16 description has it. */
static void
api_team_get(struct sim_store *st, struct sim_call *c)
{
	json_t	*o;

	if ((o = sim_api_team(st, c->segs[1])) != NULL) {
		sim_api_ok(c, o);
		return;
	}
	sim_api_error(c, 404, "team_not_found", "Team not found");
}

/* --- contacts --- */

/* A merged contact answers 410 with a Link to the end of its chain. */
static void
api_gone(struct sim_store *st, struct sim_call *c, struct sim_contact *k)
{
	k = sim_contact_canonical(st, k);
	snprintf(c->link, sizeof(c->link), "</contacts/%s>; rel=\"canonical\"",
	    k->id);
	sim_api_error(c, 410, "contact_merged", "This contact has been "
	    "merged. See the 'Link' header for the canonical contact.");
}

/* The contact named by path segment 1, or NULL after answering 404/410. */
struct sim_contact *
sim_api_path_contact(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k;

	if ((k = sim_contact_find(st, c->segs[1])) == NULL) {
		sim_api_error(c, 404, "not_found", "User Not Found");
		return NULL;
	}
	if (k->merged_into[0] != '\0') {
		api_gone(st, c, k);
		return NULL;
	}
	return k;
}

/*
 * POST /contacts.  Intercom needs one of email, external_id, role; role
 * defaults to "user" as in Intercom's docs.  Duplicates (email without
 * case, or external_id) of any non-merged contact answer 409 with the
 * existing id in the message; the callsync worker parses it.
 */
static void
api_contact_create(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k, *dup;
	json_t			*b;
	const char		*email, *extid, *role;
	char			 err[256], num[32];

	if ((b = sim_api_body(c)) == NULL)
		return;
	email = json_string_value(json_object_get(b, "email"));
	extid = sim_obj_id(b, "external_id", num, sizeof(num));
	if (email == NULL && extid == NULL &&
	    json_object_get(b, "role") == NULL) {
		sim_api_error(c, 400, "parameter_invalid", "Contact must have "
		    "an email, external_id or role");
		goto out;
	}
	/* A lead with a user's email: 409 here is invented (Intercom
	 * documents 409 for duplicate users only); switchable. */
	role = json_string_value(json_object_get(b, "role"));
	if ((dup = sim_contact_dup(st, role != NULL && strcmp(role, "lead") ==
	    0 && !sim_beh[SB_LEAD_EMAIL_409] ? NULL : email, extid)) != NULL) {
		snprintf(err, sizeof(err), "%s contact matching those details "
		    "already exists with id=%s", dup->archived ? "An archived" :
		    "A", dup->id);
		sim_api_error(c, 409, "conflict", err);
		goto out;
	}
	if ((k = sim_contact_new(st, c->now + c->search_lag)) == NULL) {
		sim_api_oom(c);
		goto out;
	}
	free(k->role);
	if ((k->role = strdup("user")) == NULL) {
		sim_api_oom(c);
		goto out;
	}
	if (sim_obj_set_contact(st, k, b, false, err, sizeof(err)) == -1) {
		/* Validation failed: the new contact must not exist. */
		st->ncontacts--;
		st->next_contact--;
		st->next_seq--;
		free(k->role);
		free(k->email);
		free(k->phone);
		free(k->name);
		free(k->external_id);
		json_decref(k->custom);
		free(k);
		sim_api_error(c, 400, "parameter_invalid", err);
		goto out;
	}
	sim_api_ok(c, sim_obj_contact(st, k));
out:
	json_decref(b);
}

static void
api_contact_get(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k;

	if ((k = sim_api_path_contact(st, c)) != NULL)
		sim_api_ok(c, sim_obj_contact(st, k));
}

static void
api_contact_put(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k;
	json_t			*b;
	char			 err[256];

	if ((k = sim_api_path_contact(st, c)) == NULL)
		return;
	if ((b = sim_api_body(c)) == NULL)
		return;
	if (sim_obj_set_contact(st, k, b, false, err, sizeof(err)) == -1)
		sim_api_error(c, 400, "parameter_invalid", err);
	else
		sim_api_ok(c, sim_obj_contact(st, k));
	json_decref(b);
}

/*
 * DELETE /contacts/{id} (2.16 DeleteContact): contact_deleted {type, id,
 * external_id, deleted}.  The contact is gone: GET answers 404 after,
 * and a conversation from it 404 "User Not Found".
 */
static void
api_contact_delete(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k;
	json_t			*o;

	if ((k = sim_api_path_contact(st, c)) == NULL)
		return;
	o = json_pack("{s:s,s:s,s:o,s:b}", "type", "contact", "id", k->id,
	    "external_id", sim_obj_str(k->external_id), "deleted", 1);
	sim_contact_delete(st, k);
	sim_api_ok(c, o);
}

static void
api_contact_archive(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k;

	if ((k = sim_api_path_contact(st, c)) == NULL)
		return;
	k->archived = strcmp(c->segs[2], "archive") == 0;
	k->updated_at = (long long)c->now;
	sim_api_ok(c, json_pack("{s:s,s:s,s:o,s:b}", "type", "contact", "id",
	    k->id, "external_id", sim_obj_str(k->external_id),
	    "archived", k->archived));
}

/*
 * POST /contacts/merge, 2.16 rules: from is a lead, into a user, and they
 * share an email or a phone unless skip_duplicate_validation is true.
 */
static void
api_contact_merge(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*from, *into;
	json_t			*b;
	const char		*fid, *iid;
	bool			 dup;

	if ((b = sim_api_body(c)) == NULL)
		return;
	fid = json_string_value(json_object_get(b, "from"));
	iid = json_string_value(json_object_get(b, "into"));
	if (fid == NULL || iid == NULL) {
		sim_api_error(c, 400, "parameter_invalid",
		    "from and into are required");
		goto out;
	}
	from = sim_contact_find(st, fid);
	into = sim_contact_find(st, iid);
	if (from == NULL || into == NULL || from->merged_into[0] != '\0' ||
	    into->merged_into[0] != '\0') {
		sim_api_error(c, 404, "not_found", "User Not Found");
		goto out;
	}
	if (from == into || strcmp(from->role, "lead") != 0 ||
	    strcmp(into->role, "user") != 0) {
		sim_api_error(c, 400, "invalid_merge", "Only a lead can be "
		    "merged, and only into a user");
		goto out;
	}
	dup = (from->email && into->email &&
	    strcasecmp(from->email, into->email) == 0) ||
	    (from->phone && into->phone &&
	    strcmp(from->phone, into->phone) == 0);
	if (!dup && !json_is_true(json_object_get(b,
	    "skip_duplicate_validation"))) {
		sim_api_error(c, 400, "invalid_merge", "Contacts can only be "
		    "merged when they are duplicates (matching email or "
		    "phone). Pass skip_duplicate_validation=true to override "
		    "this check.");
		goto out;
	}
	if (sim_merge(st, from, into, false) == -1)
		sim_api_oom(c);
	else
		sim_api_ok(c, sim_obj_contact(st, into));
out:
	json_decref(b);
}

/* --- search and pagination --- */

static void
cursor_make(size_t off, char *out, size_t outsz)
{
	unsigned char	raw[32];
	int		n;

	n = snprintf((char *)raw, sizeof(raw), "[\"sim\",%zu]", off);
	if (outsz >= 4 * ((size_t)n + 2) / 3 + 1)
		EVP_EncodeBlock((unsigned char *)out, raw, n);
	else
		out[0] = '\0';
}

static bool
cursor_parse(const char *s, size_t *off)
{
	unsigned char	raw[64];
	size_t		len = strlen(s);
	int		n;
	char		*end;

	if (len == 0 || len > 40 || len % 4 != 0)
		return false;
	n = EVP_DecodeBlock(raw, (const unsigned char *)s, (int)len);
	if (n < 8)
		return false;
	raw[n] = '\0';
	if (strncmp((char *)raw, "[\"sim\",", 7) != 0 ||
	    !isdigit(raw[7]))
		return false;
	*off = strtoul((char *)raw + 7, &end, 10);
	return *end == ']';
}

/* Paging arguments from body.pagination; -1 after answering 400. */
int
sim_api_paging(struct sim_call *c, json_t *b, size_t defpp, size_t *pp,
    size_t *off)
{
	json_t		*p, *v;
	const char	*sa;

	*pp = defpp;
	*off = 0;
	if ((p = json_object_get(b, "pagination")) == NULL || json_is_null(p))
		return 0;
	if (!json_is_object(p))
		goto bad;
	if ((v = json_object_get(p, "per_page")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 150) {
			sim_api_error(c, 400, "parameter_invalid",
			    "per_page must be between 1 and 150");
			return -1;
		}
		*pp = (size_t)json_integer_value(v);
	}
	if ((v = json_object_get(p, "starting_after")) != NULL &&
	    !json_is_null(v)) {
		if ((sa = json_string_value(v)) == NULL ||
		    !cursor_parse(sa, off))
			goto bad;
	}
	return 0;
bad:
	sim_api_error(c, 400, "parameter_invalid",
	    "Invalid pagination parameters");
	return -1;
}

json_t *
sim_api_pages(size_t total, size_t pp, size_t off)
{
	json_t	*o;
	char	 cur[64];

	o = json_pack("{s:s,s:I,s:I,s:I}", "type", "pages",
	    "page", (json_int_t)(off / pp + 1), "per_page", (json_int_t)pp,
	    "total_pages", (json_int_t)((total + pp - 1) / pp));
	if (off + pp < total) {
		cursor_make(off + pp, cur, sizeof(cur));
		json_object_set_new(o, "next", json_pack("{s:I,s:s}",
		    "per_page", (json_int_t)pp, "starting_after", cur));
	}
	return o;
}

/*
 * body.sort into key (the caller sets key->model): order is ascending or
 * descending (the default), anything else answers 400 invalid_sort_order.
 * strict: the field must be a sortable field of the model (conversations,
 * tickets); contacts sort any other field by id, as they always have
 * here.  -1 after answering 400.
 */
int
sim_api_sort(struct sim_call *c, json_t *b, bool strict,
    struct sim_sortkey *key)
{
	json_t		*s;
	const char	*order;
	char		 err[160];

	key->field = NULL;
	key->desc = false;
	if ((s = json_object_get(b, "sort")) == NULL || json_is_null(s))
		return 0;
	if (!json_is_object(s)) {
		sim_api_error(c, 400, "parameter_invalid",
		    "sort must be an object");
		return -1;
	}
	order = json_string_value(json_object_get(s, "order"));
	if ((json_object_get(s, "order") != NULL && order == NULL) ||
	    (order != NULL && strcmp(order, "ascending") != 0 &&
	    strcmp(order, "descending") != 0)) {
		snprintf(err, sizeof(err), "Invalid sort order '%.40s'. Must "
		    "be one of: ascending, descending", order ? order : "");
		sim_api_error(c, 400, "invalid_sort_order", err);
		return -1;
	}
	key->field = json_string_value(json_object_get(s, "field"));
	if (strict && (key->field == NULL ||
	    !sim_search_sortable(key->model, key->field))) {
		snprintf(err, sizeof(err), "'%.64s' is not a sortable field",
		    key->field ? key->field : "");
		sim_api_error(c, 400, "parameter_invalid", err);
		return -1;
	}
	key->desc = order == NULL || strcmp(order, "descending") == 0;
	return 0;
}

static int
contact_cmp(const void *x, const void *y, void *arg)
{
	const struct sim_contact *a = *(struct sim_contact *const *)x;
	const struct sim_contact *b = *(struct sim_contact *const *)y;
	const struct sim_sortkey *k = arg;
	const char		*sa = NULL, *sb = NULL;
	long long		 na = 0, nb = 0;
	int			 r = 0;

	if (k->field == NULL)
		return a->seq < b->seq ? -1 : 1;
	if (strcmp(k->field, "created_at") == 0) {
		na = a->created_at;
		nb = b->created_at;
	} else if (strcmp(k->field, "updated_at") == 0) {
		na = a->updated_at;
		nb = b->updated_at;
	} else if (strcmp(k->field, "name") == 0) {
		sa = a->name;
		sb = b->name;
	} else if (strcmp(k->field, "email") == 0) {
		sa = a->email;
		sb = b->email;
	} else {
		sa = a->id;
		sb = b->id;
	}
	if (sa != NULL || sb != NULL)
		r = strcmp(sa ? sa : "", sb ? sb : "");
	else
		r = na < nb ? -1 : na > nb;
	if (r == 0)
		r = a->seq < b->seq ? -1 : 1;
	return k->desc ? -r : r;
}

/* Count one into searches[ep][key] (the simulator's own figures). */
static void
search_count(struct sim_store *st, const char *ep, const char *key)
{
	json_t	*m, *v;

	if (st->searches == NULL && (st->searches = json_object()) == NULL)
		return;
	if ((m = json_object_get(st->searches, ep)) == NULL) {
		json_object_set_new(st->searches, ep, json_object());
		if ((m = json_object_get(st->searches, ep)) == NULL)
			return;
	}
	v = json_object_get(m, key);
	json_object_set_new(m, key, json_integer(v ? json_integer_value(v) +
	    1 : 1));
}

/* Count the fields a (checked) query filters on, once each. */
static void
search_fields(struct sim_store *st, const char *ep, json_t *q, json_t *seen)
{
	const char	*f;
	json_t		*v, *e;
	size_t		 i;

	v = json_object_get(q, "value");
	if ((f = json_string_value(json_object_get(q, "field"))) != NULL) {
		if (json_object_get(seen, f) == NULL) {
			json_object_set_new(seen, f, json_true());
			search_count(st, ep, f);
		}
		return;
	}
	if (json_is_array(v))
		json_array_foreach(v, i, e)
			search_fields(st, ep, e, seen);
}

/*
 * One search endpoint: validate the body (query for f->model, sort,
 * pagination), collect the objects f->nth() yields that f->visible()
 * allows and the query matches, sort them (f->cmp, else the generic
 * field sort when sort names a field), and answer one page of them
 * rendered by f->render under f->key with total_count and pages.
 */
void
sim_api_find(struct sim_store *st, struct sim_call *c,
    const struct sim_find *f)
{
	struct sim_sortkey	  key = { f->model, NULL, false };
	const void		**hits = NULL, *o;
	json_t			 *b, *q, *list;
	size_t			  n = 0, i, pp, off;
	char			  err[256];

	if ((b = sim_api_body(c)) == NULL)
		return;
	q = json_object_get(b, "query");
	if (sim_search_check(f->model, q, err, sizeof(err)) == -1) {
		sim_api_error(c, 400, "parameter_invalid", err);
		goto out;
	}
	if (sim_api_sort(c, b, f->cmp == NULL, &key) == -1 ||
	    sim_api_paging(c, b, f->per_page, &pp, &off) == -1)
		goto out;
	{
		char	 ep[600];
		json_t	*seen = json_object();

		snprintf(ep, sizeof(ep), "%s %s", c->method, c->path);
		search_fields(st, ep, q, seen);
		json_decref(seen);
		if (off > 0)
			search_count(st, ep, "starting_after");
	}
	if ((hits = calloc(f->count + 1, sizeof(*hits))) == NULL) {
		sim_api_oom(c);
		goto out;
	}
	for (i = 0; i < f->count; i++) {
		o = f->nth(st, i);
		if (f->visible(o, c->now) && sim_search_match(f->model, q, o))
			hits[n++] = o;
	}
	if (f->cmp != NULL)
		qsort_r(hits, n, sizeof(*hits), f->cmp, &key);
	else if (key.field != NULL && (f->model != SIM_CONVERSATION ||
	    sim_beh[SB_CONV_SORT]))	/* off: creation order, sort ignored */
		qsort_r(hits, n, sizeof(*hits), sim_search_cmp, &key);
	list = json_array();
	for (i = off; i < n && i < off + pp; i++)
		json_array_append_new(list, f->render(st, hits[i]));
	sim_api_ok(c, json_pack("{s:s,s:o,s:I,s:o}", "type", f->type,
	    f->key, list, "total_count", (json_int_t)n,
	    "pages", sim_api_pages(n, pp, off)));
out:
	free(hits);
	json_decref(b);
}

static const void *
contact_nth(struct sim_store *st, size_t i)
{
	return st->contacts[i];
}

/* Merged-away and archived contacts and those in lag are hidden. */
static bool
contact_visible(const void *o, double now)
{
	const struct sim_contact	*k = o;

	return k->merged_into[0] == '\0' && !k->archived &&
	    now >= k->visible_at;
}

static json_t *
contact_render(struct sim_store *st, const void *o)
{
	return sim_obj_contact(st, o);
}

/* POST /contacts/search: 50 per page; any sort field (else by id). */
static void
api_contact_search(struct sim_store *st, struct sim_call *c)
{
	const struct sim_find	f = { SIM_CONTACT, 50, "list", "data",
	    st->ncontacts, contact_nth, contact_visible, contact_render,
	    contact_cmp };

	sim_api_find(st, c, &f);
}

/* --- conversations --- */

#define SIM_SKEW_S	300	/* created_at may be this far ahead of now */

/*
 * POST /conversations.  created_at (import of a past conversation) is
 * stored and answered as given.  An unknown or merged-away contact answers 404
 * "User Not Found" as Intercom does for unknown ids (no 410 documented
 * here).  The answer is the message, not the conversation; it echoes
 * the body as sent (the 2.16 example: "Hello there"), while the
 * conversation's source.body is that text as HTML (sim_text_html: markup
 * sent here shows literally).
 */
static void
api_conv_create(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k;
	struct sim_conv		*cv;
	json_t			*b, *from, *ca;
	const char		*type, *id, *body;
	char			 err[128];

	if ((b = sim_api_body(c)) == NULL)
		return;
	from = json_object_get(b, "from");
	type = json_string_value(json_object_get(from, "type"));
	id = json_string_value(json_object_get(from, "id"));
	body = json_string_value(json_object_get(b, "body"));
	ca = json_object_get(b, "created_at");
	if (!json_is_object(from) || type == NULL || id == NULL) {
		sim_api_error(c, 400, "parameter_invalid",
		    "from must have a type and an id");
		goto out;
	}
	if (strcmp(type, "user") != 0 && strcmp(type, "lead") != 0 &&
	    strcmp(type, "contact") != 0) {
		sim_api_error(c, 400, "parameter_invalid",
		    "from.type must be one of user, lead, contact");
		goto out;
	}
	if (body == NULL || *body == '\0') {
		sim_api_error(c, 400, "parameter_invalid", "body is required");
		goto out;
	}
	if (ca != NULL && !json_is_integer(ca) && !json_is_null(ca)) {
		sim_api_error(c, 400, "parameter_invalid",
		    "created_at must be a unix timestamp");
		goto out;
	}
	/* An import of a past conversation, not one from the future:
	 * a few minutes of clock skew are tolerated. */
	if (json_is_integer(ca) && (json_integer_value(ca) < 0 ||
	    (sim_beh[SB_FUTURE_CREATED_AT] &&
	    json_integer_value(ca) > (json_int_t)c->now + SIM_SKEW_S))) {
		sim_api_error(c, 400, "parameter_invalid",
		    "created_at cannot be in the future");
		goto out;
	}
	if ((k = sim_contact_find(st, id)) == NULL ||
	    k->merged_into[0] != '\0') {
		sim_api_error(c, 404, "not_found", "User Not Found");
		goto out;
	}
	/* "contact" stands for either role; "user" and "lead" name one,
	 * and Intercom may refuse the one the contact does not have. */
	if (sim_beh[SB_FROM_TYPE_ROLE] && strcmp(type, "contact") != 0 &&
	    strcmp(type, k->role) != 0) {
		snprintf(err, sizeof(err), "from.type %s does not match the "
		    "contact's role %s", type, k->role);
		sim_api_error(c, 400, "parameter_invalid", err);
		goto out;
	}
	if ((cv = sim_conv_new(st, c->now + c->conv_search_lag)) == NULL ||
	    (cv->contact_ids = calloc(1, sizeof(*cv->contact_ids))) == NULL ||
	    (cv->body_sent = strdup(body)) == NULL ||
	    (cv->body = sim_beh[SB_PLAIN_BODY_HTML] ? sim_text_html(body) :
	    strdup(body)) == NULL) {
		sim_api_oom(c);
		goto out;
	}
	cv->ncontacts = 1;
	strcpy(cv->contact_ids[0], k->id);
	strcpy(cv->author_id, k->id);
	if (json_is_integer(ca))
		cv->created_at = json_integer_value(ca);
	sim_api_ok(c, json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "type",
	    "user_message", "id", cv->msg_id,
	    "created_at", (json_int_t)cv->created_at, "body", cv->body_sent,
	    "message_type", "inapp", "conversation_id", cv->id));
out:
	json_decref(b);
}

static struct sim_conv *
api_path_conv(struct sim_store *st, struct sim_call *c, const char *msg)
{
	struct sim_conv	*cv;

	if ((cv = sim_conv_find(st, c->segs[1])) == NULL)
		sim_api_error(c, 404, "not_found", msg);
	return cv;
}

static void
api_conv_get(struct sim_store *st, struct sim_call *c)
{
	struct sim_conv	*cv;

	if ((cv = api_path_conv(st, c, "Resource Not Found")) != NULL)
		sim_api_ok(c, sim_obj_conv(st, cv, true));
}

/* Checks admin_id in b; NULL after answering 400. */
static const char *
api_admin_arg(struct sim_call *c, json_t *b, char *buf, size_t bufsz)
{
	const char	*id;

	if ((id = sim_obj_id(b, "admin_id", buf, bufsz)) == NULL) {
		sim_api_error(c, 400, "parameter_invalid",
		    "admin_id is required");
		return NULL;
	}
	if (!sim_admin_exists(id)) {
		sim_api_error(c, 400, "admin_not_found", "Admin not found");
		return NULL;
	}
	return id;
}

static struct sim_contact *
reply_contact(struct sim_store *st, json_t *b, struct sim_call *c)
{
	struct sim_contact	*k;
	const char		*uid, *email, *xid;
	size_t			 i;
	int			 n;

	uid = json_string_value(json_object_get(b, "intercom_user_id"));
	email = json_string_value(json_object_get(b, "email"));
	xid = json_string_value(json_object_get(b, "user_id"));
	n = (uid != NULL) + (email != NULL) + (xid != NULL);
	if (n != 1) {
		sim_api_error(c, 400, "parameter_invalid", "Exactly one of "
		    "intercom_user_id, email, user_id is required");
		return NULL;
	}
	if (uid != NULL)
		return sim_contact_canonical(st, sim_contact_find(st, uid));
	for (i = 0; i < st->ncontacts; i++) {
		k = st->contacts[i];
		if (k->merged_into[0] != '\0')
			continue;
		if (email != NULL && k->email != NULL &&
		    strcasecmp(k->email, email) == 0)
			return k;
		if (xid != NULL && k->external_id != NULL &&
		    strcmp(k->external_id, xid) == 0)
			return k;
	}
	return NULL;
}

/* POST /conversations/{id}/reply: admin note/comment or contact comment. */
static void
api_conv_reply(struct sim_store *st, struct sim_call *c)
{
	struct sim_contact	*k;
	struct sim_conv		*cv;
	struct sim_part		*p;
	json_t			*b;
	const char		*mt, *type, *body, *admin;
	char			 buf[32], *norm;

	if ((cv = api_path_conv(st, c, "Resource Not Found")) == NULL)
		return;
	if ((b = sim_api_body(c)) == NULL)
		return;
	mt = json_string_value(json_object_get(b, "message_type"));
	type = json_string_value(json_object_get(b, "type"));
	body = json_string_value(json_object_get(b, "body"));
	if (mt == NULL || type == NULL) {
		sim_api_error(c, 400, "parameter_invalid",
		    "message_type and type are required");
		goto out;
	}
	if (strcmp(type, "admin") == 0) {
		if (strcmp(mt, "comment") != 0 && strcmp(mt, "note") != 0) {
			sim_api_error(c, 400, "parameter_invalid",
			    "message_type must be one of comment, note");
			goto out;
		}
		if ((admin = api_admin_arg(c, b, buf, sizeof(buf))) == NULL)
			goto out;
		if (body == NULL || *body == '\0') {
			sim_api_error(c, 400, "parameter_invalid",
			    "body is required");
			goto out;
		}
		norm = sim_beh[SB_PART_BODY_NORMALISE] ?
		    sim_html_reserialise(body) : NULL;
		p = sim_conv_add_part(st, cv, mt, norm ? norm : body, "admin",
		    admin, (long long)c->now);
		free(norm);
		if (p == NULL) {
			sim_api_oom(c);
			goto out;
		}
		sim_hooks_conv_part(cv, p, strcmp(mt, "note") == 0 ?
		    "conversation.admin.noted" : "conversation.admin.replied");
	} else if (strcmp(type, "user") == 0 || strcmp(type, "contact") == 0 ||
	    strcmp(type, "lead") == 0) {
		if (strcmp(mt, "comment") != 0) {
			sim_api_error(c, 400, "parameter_invalid",
			    "message_type must be comment");
			goto out;
		}
		if ((k = reply_contact(st, b, c)) == NULL) {
			if (c->status == 0)
				sim_api_error(c, 404, "not_found",
				    "User Not Found");
			goto out;
		}
		if (body == NULL || *body == '\0') {
			sim_api_error(c, 400, "parameter_invalid",
			    "body is required");
			goto out;
		}
		if (sim_conv_add_part(st, cv, "comment", body, k->role, k->id,
		    (long long)c->now) == NULL) {
			sim_api_oom(c);
			goto out;
		}
		/* A customer reply reopens the conversation. */
		strcpy(cv->state, "open");
		cv->snoozed_until = 0;
	} else {
		sim_api_error(c, 400, "parameter_invalid",
		    "type must be one of admin, user");
		goto out;
	}
	sim_api_ok(c, sim_obj_conv(st, cv, true));
out:
	json_decref(b);
}

/* POST /conversations/{id}/parts: assignment, close, open, snoozed. */
static void
api_conv_parts(struct sim_store *st, struct sim_call *c)
{
	struct sim_conv		*cv;
	struct sim_part		*p;
	json_t			*b, *su;
	const char		*mt, *type, *admin, *asg = NULL, *body;
	char			 buf[32], abuf[32];
	long long		 id;

	if ((cv = api_path_conv(st, c, "Resource Not Found")) == NULL)
		return;
	if ((b = sim_api_body(c)) == NULL)
		return;
	mt = json_string_value(json_object_get(b, "message_type"));
	type = json_string_value(json_object_get(b, "type"));
	body = json_string_value(json_object_get(b, "body"));
	su = json_object_get(b, "snoozed_until");
	if (mt == NULL || (strcmp(mt, "assignment") != 0 &&
	    strcmp(mt, "close") != 0 && strcmp(mt, "open") != 0 &&
	    strcmp(mt, "snoozed") != 0)) {
		sim_api_error(c, 400, "parameter_invalid", "message_type must "
		    "be one of assignment, close, open, snoozed");
		goto out;
	}
	if (strcmp(mt, "assignment") == 0 && (type == NULL ||
	    (strcmp(type, "admin") != 0 && strcmp(type, "team") != 0))) {
		sim_api_error(c, 400, "parameter_invalid",
		    "type must be one of admin, team");
		goto out;
	}
	if (strcmp(mt, "close") == 0 && (type == NULL ||
	    strcmp(type, "admin") != 0)) {
		sim_api_error(c, 400, "parameter_invalid",
		    "type must be admin");
		goto out;
	}
	if ((admin = api_admin_arg(c, b, buf, sizeof(buf))) == NULL)
		goto out;
	if (strcmp(mt, "assignment") == 0) {
		if ((asg = sim_obj_id(b, "assignee_id", abuf, sizeof(abuf))) ==
		    NULL) {
			sim_api_error(c, 400, "parameter_invalid",
			    "assignee_id is required");
			goto out;
		}
		if (strcmp(asg, "0") != 0 && strcmp(type, "admin") == 0 &&
		    !sim_admin_exists(asg)) {
			sim_api_error(c, 400, "admin_not_found",
			    "Assignee admin not found");
			goto out;
		}
		if (strcmp(asg, "0") != 0 && strcmp(type, "team") == 0 &&
		    !sim_team_exists(st, asg)) {
			sim_api_error(c, 400, "team_not_found",
			    "Team not found");
			goto out;
		}
	}
	if (strcmp(mt, "snoozed") == 0 && !json_is_integer(su)) {
		sim_api_error(c, 400, "parameter_invalid",
		    "snoozed_until is required");
		goto out;
	}
	if ((p = sim_conv_add_part(st, cv, mt, body, "admin", admin,
	    (long long)c->now)) == NULL) {
		sim_api_oom(c);
		goto out;
	}
	if (asg != NULL) {
		id = strtoll(asg, NULL, 10);
		if (strcmp(type, "admin") == 0)
			cv->admin_assignee = id;
		else
			cv->team_assignee = id;
		if (id != 0) {
			snprintf(p->assigned_type, sizeof(p->assigned_type),
			    "%s", type);
			snprintf(p->assigned_id, sizeof(p->assigned_id), "%s",
			    asg);
		}
	} else if (strcmp(mt, "snoozed") == 0) {
		strcpy(cv->state, "snoozed");
		cv->snoozed_until = json_integer_value(su);
	} else {
		strcpy(cv->state, strcmp(mt, "close") == 0 ? "closed" :
		    "open");
		cv->snoozed_until = 0;
	}
	sim_hooks_conv_part(cv, p, asg != NULL ? "conversation.admin.assigned" :
	    strcmp(mt, "close") == 0 ? "conversation.admin.closed" :
	    strcmp(mt, "open") == 0 ? "conversation.admin.opened" :
	    "conversation.admin.snoozed");
	sim_api_ok(c, sim_obj_conv(st, cv, true));
out:
	json_decref(b);
}

/* POST /conversations/{id}/tags: applying twice keeps one, counts two. */
static void
api_conv_tag(struct sim_store *st, struct sim_call *c)
{
	struct sim_conv	*cv;
	struct sim_ctag	*t = NULL;
	json_t		*b;
	const char	*tid, *admin;
	char		 buf[32], tbuf[32];
	size_t		 i;

	if ((cv = api_path_conv(st, c, "Conversation not found")) == NULL)
		return;
	if ((b = sim_api_body(c)) == NULL)
		return;
	if ((tid = sim_obj_id(b, "id", tbuf, sizeof(tbuf))) == NULL) {
		sim_api_error(c, 400, "parameter_invalid", "id is required");
		goto out;
	}
	if ((admin = api_admin_arg(c, b, buf, sizeof(buf))) == NULL)
		goto out;
	if (sim_tag_find(st, tid) == NULL) {
		sim_api_error(c, 404, "tag_not_found", "Tag not found");
		goto out;
	}
	for (i = 0; i < cv->ntags; i++)
		if (strcmp(cv->tags[i].tag_id, tid) == 0)
			t = &cv->tags[i];
	if (t == NULL) {
		if (sim_grow(&cv->tags, &cv->captags, cv->ntags,
		    sizeof(*cv->tags)) == -1) {
			sim_api_oom(c);
			goto out;
		}
		t = &cv->tags[cv->ntags++];
		memset(t, 0, sizeof(*t));
		snprintf(t->tag_id, sizeof(t->tag_id), "%s", tid);
	}
	t->applications++;
	t->applied_at = (long long)c->now;
	snprintf(t->applied_by, sizeof(t->applied_by), "%s", admin);
	cv->updated_at = (long long)c->now;
	sim_hooks_conv(cv, "conversation_part.tag.created");	/* webhooks */
	sim_api_ok(c, sim_obj_tag(st, t));
out:
	json_decref(b);
}

static void
api_conv_untag(struct sim_store *st, struct sim_call *c)
{
	struct sim_conv	*cv;
	struct sim_ctag	 t;
	json_t		*b;
	char		 buf[32];
	size_t		 i;

	if ((cv = api_path_conv(st, c, "Conversation not found")) == NULL)
		return;
	if ((b = sim_api_body(c)) == NULL)
		return;
	if (api_admin_arg(c, b, buf, sizeof(buf)) == NULL)
		goto out;
	for (i = 0; i < cv->ntags; i++)
		if (strcmp(cv->tags[i].tag_id, c->segs[3]) == 0)
			break;
	if (i == cv->ntags) {
		sim_api_error(c, 404, "tag_not_found", "Tag not found");
		goto out;
	}
	t = cv->tags[i];
	memmove(&cv->tags[i], &cv->tags[i + 1],
	    (cv->ntags - i - 1) * sizeof(*cv->tags));
	cv->ntags--;
	cv->updated_at = (long long)c->now;
	sim_api_ok(c, sim_obj_tag(st, &t));
out:
	json_decref(b);
}

static const void *
conv_nth(struct sim_store *st, size_t i)
{
	return st->convs[i];
}

static bool
conv_visible(const void *o, double now)
{
	return now >= ((const struct sim_conv *)o)->visible_at;
}

static json_t *
conv_render(struct sim_store *st, const void *o)
{
	return sim_obj_conv(st, o, false);
}

/*
 * POST /conversations/search: 20 per page, creation order unless sort
 * {field, order} names a field (updated_at descending: the most recent
 * first).  Items carry no conversation_parts, as in Intercom's list
 * answers.
 */
static void
api_conv_search(struct sim_store *st, struct sim_call *c)
{
	const struct sim_find	f = { SIM_CONVERSATION, 20,
	    "conversation.list", "conversations", st->nconvs, conv_nth,
	    conv_visible, conv_render, NULL };

	sim_api_find(st, c, &f);
}

/* --- tags and data attributes --- */

static void
api_tag_create(struct sim_store *st, struct sim_call *c)
{
	struct sim_tag	*t;
	json_t		*b;
	const char	*name, *id;
	char		 buf[32], *copy;

	if ((b = sim_api_body(c)) == NULL)
		return;
	name = json_string_value(json_object_get(b, "name"));
	if (name == NULL || *name == '\0' || strlen(name) > 255) {
		sim_api_error(c, 400, "parameter_invalid",
		    "invalid tag parameters");
		goto out;
	}
	if ((id = sim_obj_id(b, "id", buf, sizeof(buf))) != NULL) {
		/* With an id: rename. */
		if ((t = sim_tag_find(st, id)) == NULL) {
			sim_api_error(c, 404, "not_found",
			    "Resource Not Found");
			goto out;
		}
		if ((copy = strdup(name)) == NULL) {
			sim_api_oom(c);
			goto out;
		}
		free(t->name);
		t->name = copy;
	} else if ((t = sim_tag_find_name(st, name)) == NULL &&
	    (t = sim_tag_new(st, name)) == NULL) {
		sim_api_oom(c);
		goto out;
	}
	sim_api_ok(c, json_pack("{s:s,s:s,s:s}", "type", "tag", "id", t->id,
	    "name", t->name));
out:
	json_decref(b);
}

/*
 * DELETE /tags/{id}: the tag is gone everywhere, so later applications
 * of its id answer 404 (a teammate cleaning up tags does this).
 */
static void
api_tag_delete(struct sim_store *st, struct sim_call *c)
{
	struct sim_tag	*t;
	struct sim_conv	*cv;
	size_t		 i, k;

	if ((t = sim_tag_find(st, c->segs[1])) == NULL) {
		sim_api_error(c, 404, "not_found", "Resource Not Found");
		return;
	}
	for (i = 0; i < st->nconvs; i++) {
		cv = st->convs[i];
		for (k = 0; k < cv->ntags; k++)
			if (strcmp(cv->tags[k].tag_id, t->id) == 0) {
				memmove(&cv->tags[k], &cv->tags[k + 1],
				    (cv->ntags - k - 1) * sizeof(*cv->tags));
				cv->ntags--;
				break;
			}
	}
	free(t->name);
	i = (size_t)(t - st->tags);
	memmove(&st->tags[i], &st->tags[i + 1],
	    (st->ntags - i - 1) * sizeof(*st->tags));
	st->ntags--;
	sim_api_ok(c, json_object());
}

static void
api_tag_list(struct sim_store *st, struct sim_call *c)
{
	json_t	*a;
	size_t	 i;

	a = json_array();
	for (i = 0; i < st->ntags; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "type",
		    "tag", "id", st->tags[i].id, "name", st->tags[i].name));
	sim_api_ok(c, json_pack("{s:s,s:o}", "type", "list", "data", a));
}

static json_t *
attr_json(const struct sim_attr *a)
{
	char	full[256];

	snprintf(full, sizeof(full), "custom_attributes.%s", a->name);
	/* The 2.16 response enum has no "datetime": Intercom says "date". */
	return json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:b,"
	    "s:b,s:I,s:I,s:s}", "type", "data_attribute",
	    "id", (json_int_t)a->id, "model", a->model, "name", a->name,
	    "full_name", full, "label", a->name, "description", "",
	    "data_type", strcmp(a->data_type, "datetime") == 0 ? "date" :
	    a->data_type, "api_writable", 1, "messenger_writable", 0,
	    "ui_writable", 1, "custom", 1, "archived", 0,
	    "created_at", (json_int_t)a->created_at,
	    "updated_at", (json_int_t)a->created_at, "admin_id", "1001");
}

/* Lists custom attributes only; 2.16 refuses model=conversation (422). */
static void
api_attr_list(struct sim_store *st, struct sim_call *c)
{
	struct evkeyvalq	 q;
	const char		*model = NULL;
	json_t			*a;
	size_t			 i;

	TAILQ_INIT(&q);
	if (c->query != NULL && evhttp_parse_query_str(c->query, &q) == 0)
		model = evhttp_find_header(&q, "model");
	if (model != NULL && strcmp(model, "conversation") == 0) {
		sim_api_error(c, 422, "parameter_invalid", "model=conversation "
		    "is not supported, use /conversations/attributes");
		goto out;
	}
	if (model != NULL && strcmp(model, "contact") != 0 &&
	    strcmp(model, "company") != 0) {
		sim_api_error(c, 400, "parameter_invalid",
		    "model must be one of contact, company");
		goto out;
	}
	a = json_array();
	for (i = 0; i < st->nattrs; i++)
		if ((model == NULL && strcmp(st->attrs[i].model,
		    "conversation") != 0) || (model != NULL &&
		    strcmp(model, st->attrs[i].model) == 0))
			json_array_append_new(a, attr_json(&st->attrs[i]));
	sim_api_ok(c, json_pack("{s:s,s:o}", "type", "list", "data", a));
out:
	evhttp_clear_headers(&q);
}

static void
api_attr_create(struct sim_store *st, struct sim_call *c)
{
	const struct sim_attr	*a;
	json_t			*b;
	const char		*name, *model, *type;
	char			 msg[400];

	if ((b = sim_api_body(c)) == NULL)
		return;
	name = json_string_value(json_object_get(b, "name"));
	model = json_string_value(json_object_get(b, "model"));
	type = json_string_value(json_object_get(b, "data_type"));
	if (name == NULL || !sim_attr_name_ok(name)) {
		sim_api_error(c, 400, "parameter_invalid", "Name must contain "
		    "only alphanumeric characters, currency symbols, and "
		    "hyphens");
		goto out;
	}
	if (model == NULL || (strcmp(model, "contact") != 0 &&
	    strcmp(model, "company") != 0)) {
		sim_api_error(c, 400, "parameter_invalid",
		    "model must be one of contact, company");
		goto out;
	}
	if (type == NULL || !sim_attr_type_ok(type)) {
		sim_api_error(c, 400, "parameter_invalid",
		    "Data Type isn't an option");
		goto out;
	}
	if (sim_attr_find(st, model, name) != NULL) {
		snprintf(msg, sizeof(msg), "You already have '%s' in your %s "
		    "data. To save this as new %s data, use a different name.",
		    name, model, strcmp(model, "contact") == 0 ? "people" :
		    "company");
		sim_api_error(c, 400, "parameter_invalid", msg);
		goto out;
	}
	if ((a = sim_attr_add(st, model, name, type)) == NULL)
		sim_api_oom(c);
	else
		sim_api_ok(c, attr_json(a));
out:
	json_decref(b);
}

/* DELETE /conversations/{id} (2.16 deleteConversation). */
static void
api_conv_delete(struct sim_store *st, struct sim_call *c)
{
	struct sim_conv	*cv;
	json_t		*o;

	if ((cv = api_path_conv(st, c, "Conversation not found")) == NULL)
		return;
	o = json_pack("{s:s,s:s,s:b}", "id", cv->id, "object", "conversation",
	    "deleted", 1);
	sim_conv_delete(st, cv);
	sim_api_ok(c, o);
}

/* --- conversation attributes and updates --- */

/* 2.16 conversation_attribute. */
static json_t *
conv_attr_json(const struct sim_attr *a)
{
	return json_pack("{s:s,s:I,s:s,s:s,s:s,s:b,s:[],s:b,s:I,s:I,s:s,"
	    "s:b}", "type", "conversation_attribute", "id", (json_int_t)a->id,
	    "name", a->name, "description", "", "data_type", a->data_type,
	    "required", 0, "visible_to_team_ids", "archived", 0,
	    "created_at", (json_int_t)a->created_at,
	    "updated_at", (json_int_t)a->created_at, "admin_id", "1001",
	    "multiline", 0);
}

/* GET /conversations/attributes (2.16 listConversationAttributes). */
static void
api_conv_attr_list(struct sim_store *st, struct sim_call *c)
{
	json_t	*a;
	size_t	 i;

	a = json_array();
	for (i = 0; i < st->nattrs; i++)
		if (strcmp(st->attrs[i].model, "conversation") == 0)
			json_array_append_new(a, conv_attr_json(&st->attrs[i]));
	sim_api_ok(c, json_pack("{s:s,s:o}", "type", "list", "data", a));
}

/*
 * POST /conversations/attributes (2.16 createConversationAttribute):
 * 422 parameter_invalid for a data_type outside the documented list.  A
 * name that exists answers 400 "already" as POST /data_attributes does
 * (invented: not in the description).
 */
static void
api_conv_attr_create(struct sim_store *st, struct sim_call *c)
{
	static const char	*types[] = { "string", "integer", "list",
	    "decimal", "boolean", "datetime", "relationship", "files", NULL };
	const struct sim_attr	*a;
	json_t			*b;
	const char		*name, *type;
	char			 msg[300];
	size_t			 i;

	if ((b = sim_api_body(c)) == NULL)
		return;
	name = json_string_value(json_object_get(b, "name"));
	type = json_string_value(json_object_get(b, "data_type"));
	if (name == NULL || *name == '\0' || strlen(name) > 190) {
		sim_api_error(c, 400, "parameter_invalid", "name is required");
		goto out;
	}
	for (i = 0; types[i] != NULL && type != NULL; i++)
		if (strcmp(types[i], type) == 0)
			break;
	if (type == NULL || types[i] == NULL) {
		snprintf(msg, sizeof(msg), "data_type '%.40s' is not valid. "
		    "Allowed types: string, integer, list, decimal, boolean, "
		    "datetime, relationship, files", type ? type : "");
		sim_api_error(c, 422, "parameter_invalid", msg);
		goto out;
	}
	if (sim_attr_find(st, "conversation", name) != NULL) {
		snprintf(msg, sizeof(msg), "You already have '%.100s' in your "
		    "conversation data.", name);
		sim_api_error(c, 400, "parameter_invalid", msg);
		goto out;
	}
	if ((a = sim_attr_add(st, "conversation", name, type)) == NULL)
		sim_api_oom(c);
	else
		sim_api_ok(c, conv_attr_json(a));
out:
	json_decref(b);
}

static bool
conv_attr_value_ok(const struct sim_attr *a, const json_t *v)
{
	if (json_is_null(v))
		return true;
	if (strcmp(a->data_type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(a->data_type, "decimal") == 0)
		return json_is_number(v);
	if (strcmp(a->data_type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(a->data_type, "datetime") == 0)
		return json_is_integer(v) || json_is_string(v);
	return json_is_string(v);
}

/*
 * PUT /conversations/{id} (2.16 update_conversation_request: read,
 * title, custom_attributes, company_id).  A custom attribute the
 * workspace does not define is ignored; with behaviours.conv_attr_400
 * (off by default: the description declares no 400 answer here) it and
 * a value of the wrong type answer 400 parameter_invalid; all checked
 * before anything changes.
 */
static void
api_conv_put(struct sim_store *st, struct sim_call *c)
{
	const struct sim_attr	*a;
	struct sim_conv		*cv;
	json_t			*b, *ca, *v, *t;
	const char		*k;
	char			 msg[300], *title = NULL;

	if ((cv = api_path_conv(st, c, "Conversation not found")) == NULL)
		return;
	if ((b = sim_api_body(c)) == NULL)
		return;
	t = json_object_get(b, "title");
	ca = json_object_get(b, "custom_attributes");
	if ((t != NULL && !json_is_string(t) && !json_is_null(t)) ||
	    (ca != NULL && !json_is_object(ca))) {
		sim_api_error(c, 400, "parameter_invalid", "title must be a "
		    "string, custom_attributes an object");
		goto out;
	}
	json_object_foreach(ca, k, v) {
		a = sim_attr_find(st, "conversation", k);
		if (a == NULL && !sim_beh[SB_CONV_ATTR_400])
			continue;	/* ignored below */
		if (a == NULL || !conv_attr_value_ok(a, v)) {
			snprintf(msg, sizeof(msg), a == NULL ? "Custom attribute "
			    "'%.100s' does not exist" : "Custom attribute "
			    "'%.100s' has the wrong type", k);
			sim_api_error(c, 400, "parameter_invalid", msg);
			goto out;
		}
	}
	if (json_is_string(t) && (title = strdup(json_string_value(t))) ==
	    NULL) {
		sim_api_oom(c);
		goto out;
	}
	if (t != NULL) {
		free(cv->title);
		cv->title = title;
	}
	if (ca != NULL && cv->custom == NULL)
		cv->custom = json_object();
	json_object_foreach(ca, k, v)
		if (sim_attr_find(st, "conversation", k) != NULL)
			json_object_set(cv->custom, k, v);
	cv->updated_at = (long long)c->now;
	sim_api_ok(c, sim_obj_conv(st, cv, true));
out:
	json_decref(b);
}

/* --- routing --- */

static const struct sim_route routes[] = {
	{ "GET", "/me", api_me },
	{ "GET", "/admins", api_admins },
	{ "GET", "/teams", api_teams },
	{ "GET", "/admins/{id}", api_admin_get },
	{ "GET", "/teams/{id}", api_team_get },
	{ "POST", "/contacts", api_contact_create },
	{ "POST", "/contacts/search", api_contact_search },
	{ "POST", "/contacts/merge", api_contact_merge },
	{ "GET", "/contacts/{id}", api_contact_get },
	{ "PUT", "/contacts/{id}", api_contact_put },
	{ "DELETE", "/contacts/{id}", api_contact_delete },
	{ "POST", "/contacts/{id}/archive", api_contact_archive },
	{ "POST", "/contacts/{id}/unarchive", api_contact_archive },
	{ "POST", "/conversations", api_conv_create },
	{ "POST", "/conversations/search", api_conv_search },
	{ "GET", "/conversations/attributes", api_conv_attr_list },
	{ "POST", "/conversations/attributes", api_conv_attr_create },
	{ "GET", "/conversations/{id}", api_conv_get },
	{ "PUT", "/conversations/{id}", api_conv_put },
	{ "DELETE", "/conversations/{id}", api_conv_delete },
	{ "POST", "/conversations/{id}/reply", api_conv_reply },
	{ "POST", "/conversations/{id}/parts", api_conv_parts },
	{ "POST", "/conversations/{id}/tags", api_conv_tag },
	{ "DELETE", "/conversations/{id}/tags/{id}", api_conv_untag },
	{ "POST", "/tags", api_tag_create },
	{ "GET", "/tags", api_tag_list },
	{ "DELETE", "/tags/{id}", api_tag_delete },
	{ "GET", "/data_attributes", api_attr_list },
	{ "POST", "/data_attributes", api_attr_create },
	{ NULL, NULL, NULL }
};

/* The routes of the endpoints other files hold (sim_ctx.c's), tried after
 * these: no template of theirs matches a path of ours. */
static const struct sim_route *more_routes;

void
sim_api_add_routes(const struct sim_route *r)
{
	more_routes = r;
}

/* Does path match tmpl segment by segment ("{id}" matches any segment)? */
static bool
tmpl_match(const char *tmpl, const char *path)
{
	const char	*t = tmpl, *p = path;
	size_t		 tl, pl;

	for (;;) {
		if (*t != '/' || *p != '/')
			return *t == *p;
		t++;
		p++;
		tl = strcspn(t, "/");
		pl = strcspn(p, "/");
		if (pl == 0)
			return false;
		if (!(tl == 4 && strncmp(t, "{id}", 4) == 0) &&
		    (tl != pl || strncmp(t, p, tl) != 0))
			return false;
		t += tl;
		p += pl;
	}
}

/*
 * Route for method and path: fills buf with "METHOD /template" (or
 * "METHOD other") for the request counters.  Exact templates win over
 * "{id}" ones because the table lists them first.
 */
static const struct sim_route *
route_find(const char *method, const char *path, char *buf, size_t bufsz)
{
	const struct sim_route	*r, *any = NULL;
	const struct sim_route	*tables[] = { routes, more_routes };
	size_t			 i;

	for (i = 0; i < 2 && tables[i] != NULL; i++)
		for (r = tables[i]; r->method != NULL; r++) {
			if (!tmpl_match(r->tmpl, path))
				continue;
			if (strcmp(r->method, method) == 0) {
				snprintf(buf, bufsz, "%s %s", method, r->tmpl);
				return r;
			}
			if (any == NULL)
				any = r;
		}
	if (any != NULL)
		snprintf(buf, bufsz, "%s %s", method, any->tmpl);
	else
		snprintf(buf, bufsz, "%s other", method);
	return NULL;
}

const char *
sim_api_endpoint(const char *method, const char *path, char *buf,
    size_t bufsz)
{
	route_find(method, path, buf, bufsz);
	return buf;
}

/* Run c through its handler; unknown path or method answers 404. */
void
sim_api_handle(struct sim_store *st, struct sim_call *c)
{
	const struct sim_route	*r;
	char			 ep[128], *p, *save;

	c->status = 0;
	c->nsegs = 0;
	snprintf(c->segbuf, sizeof(c->segbuf), "%s", c->path);
	for (p = strtok_r(c->segbuf, "/", &save); p != NULL &&
	    c->nsegs < sizeof(c->segs) / sizeof(c->segs[0]);
	    p = strtok_r(NULL, "/", &save))
		c->segs[c->nsegs++] = p;
	if ((r = route_find(c->method, c->path, ep, sizeof(ep))) == NULL) {
		sim_api_error(c, 404, "not_found", "Resource Not Found");
		return;
	}
	r->fn(st, c);
	if (c->resp == NULL)
		sim_api_oom(c);
}
