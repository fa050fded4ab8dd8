/*
 * sim_obj.c: Intercom's objects as the API renders them (a contact, a
 * conversation with or without its parts, a tag, a participant list),
 * the contact setter the API and the /_sim/ controls share, and the
 * seeds (test fixtures made without the API's rules or lag).  The
 * endpoints (sim_api.c, sim_ctx.c), the webhooks (sim_hooks.c: their
 * items are these objects) and the controls (sim.c) use it; it uses only
 * the store, so whoever renders an object and whoever tells of a change
 * stand apart.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* An id argument given as a string or an integer; NULL if neither. */
const char *
sim_obj_id(json_t *o, const char *key, char *buf, size_t bufsz)
{
	json_t	*v = json_object_get(o, key);

	if (json_is_string(v) && json_string_length(v) > 0)
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, bufsz, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

/* New reference: s, or null for NULL. */
json_t *
sim_obj_str(const char *s)
{
	return s == NULL ? json_null() : json_string(s);
}

/* --- contacts --- */

/*
 * One of the contact's embedded lists; only companies have items here.
 * Intercom embeds at most 10 and says there are more.  company_data.url
 * is format "uri" in 2.16 and Intercom sends a relative path, so the items
 * leave it out rather than break the contract.
 */
static json_t *
addressable(const char *id, const char *what, const struct sim_contact *k)
{
	json_t	*data;
	char	 url[96];
	size_t	 n, total = k != NULL ? k->ncompanies : 0;

	snprintf(url, sizeof(url), "/contacts/%s/%s", id, what);
	data = json_array();
	for (n = 0; n < total && n < 10; n++)
		json_array_append_new(data, json_pack("{s:s,s:s}",
		    "type", "company", "id", k->companies[n]));
	return json_pack("{s:s,s:o,s:s,s:I,s:b}", "type", "list",
	    "data", data, "url", url, "total_count", (json_int_t)total,
	    "has_more", total > n);
}

/* New reference: c in Intercom's contact shape. */
json_t *
sim_obj_contact(struct sim_store *st, const struct sim_contact *c)
{
	const char	*at;
	json_t		*o, *custom;
	size_t		 i;

	/* Defined attributes show as null until set, like Intercom. */
	custom = json_object();
	for (i = 0; i < st->nattrs; i++)
		if (strcmp(st->attrs[i].model, "contact") == 0)
			json_object_set_new(custom, st->attrs[i].name,
			    json_null());
	json_object_update(custom, c->custom);
	at = c->email ? strchr(c->email, '@') : NULL;
	o = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:o,s:o,s:n,"
	    "s:b,s:b,s:b,s:I,s:I,s:n,s:n,s:n,s:n,s:o,s:n,s:o,s:o,s:o,s:b}",
	    "type", "contact", "id", c->id, "workspace_id", sim_app_id,
	    "external_id", sim_obj_str(c->external_id), "role", c->role,
	    /* The schema types email as a plain string: "" when unset. */
	    "email", c->email ? c->email : "",
	    "email_domain", at ? at + 1 : "",
	    "phone", sim_obj_str(c->phone), "name", sim_obj_str(c->name),
	    "owner_id",
	    "has_hard_bounced", 0, "marked_email_as_spam", 0,
	    "unsubscribed_from_emails", 0,
	    "created_at", (json_int_t)c->created_at,
	    "updated_at", (json_int_t)c->updated_at,
	    "signed_up_at", "last_seen_at", "last_replied_at",
	    "last_contacted_at",
	    "custom_attributes", custom, "avatar",
	    "tags", addressable(c->id, "tags", NULL),
	    "notes", addressable(c->id, "notes", NULL),
	    "companies", addressable(c->id, "companies", c),
	    "archived", c->archived);
	return o;
}

static bool
attr_value_ok(const struct sim_attr *a, const json_t *v)
{
	if (json_is_null(v))
		return true;
	if (strcmp(a->data_type, "string") == 0)
		return json_is_string(v);
	if (strcmp(a->data_type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(a->data_type, "float") == 0)
		return json_is_number(v);
	if (strcmp(a->data_type, "boolean") == 0)
		return json_is_boolean(v);
	return json_is_integer(v) || json_is_string(v);	/* dates */
}

static const char *contact_strs[] = { "email", "phone", "name",
    "external_id", NULL };

/*
 * Validate body (borrowed) against c's model, then apply it, so a 400
 * changes nothing.  sim (the /_sim/contacts back door) skips attribute
 * definitions and accepts created_at/updated_at and archived.
 */
int
sim_obj_set_contact(struct sim_store *st, struct sim_contact *c,
    json_t *body, bool sim, char *err, size_t errsz)
{
	const struct sim_attr	*a;
	const char		*k, *role = NULL;
	json_t			*v, *custom;
	char			**dst, *copy, num[32];
	size_t			 i;

	v = json_object_get(body, "role");
	if (v != NULL) {
		role = json_string_value(v);
		if (role == NULL || (strcmp(role, "user") != 0 &&
		    strcmp(role, "lead") != 0)) {
			snprintf(err, errsz, "role must be one of user, lead");
			return -1;
		}
	}
	for (i = 0; contact_strs[i] != NULL; i++) {
		v = json_object_get(body, contact_strs[i]);
		if (v != NULL && !json_is_string(v) && !json_is_null(v) &&
		    !(i == 3 && json_is_integer(v))) {
			snprintf(err, errsz, "%s must be a string",
			    contact_strs[i]);
			return -1;
		}
	}
	custom = json_object_get(body, "custom_attributes");
	if (custom != NULL && !json_is_object(custom) && !json_is_null(custom)) {
		snprintf(err, errsz, "custom_attributes must be an object");
		return -1;
	}
	json_object_foreach(custom, k, v) {
		a = sim_attr_find(st, "contact", k);
		if (a == NULL && !sim) {
			snprintf(err, errsz, "Custom attribute '%.100s' does "
			    "not exist", k);
			return -1;
		}
		if (a != NULL && !attr_value_ok(a, v)) {
			snprintf(err, errsz, "Custom attribute '%.100s' must "
			    "be of type %s", k, a->data_type);
			return -1;
		}
		if (!json_is_null(v) && !json_is_string(v) &&
		    !json_is_number(v) && !json_is_boolean(v)) {
			snprintf(err, errsz, "Custom attribute '%.100s' has "
			    "an invalid value", k);
			return -1;
		}
	}
	/* Apply. */
	if (role != NULL) {
		if ((copy = strdup(role)) == NULL)
			goto oom;
		free(c->role);
		c->role = copy;
	}
	for (i = 0; contact_strs[i] != NULL; i++) {
		if ((v = json_object_get(body, contact_strs[i])) == NULL)
			continue;
		dst = i == 0 ? &c->email : i == 1 ? &c->phone :
		    i == 2 ? &c->name : &c->external_id;
		copy = NULL;
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)json_integer_value(v));
			if ((copy = strdup(num)) == NULL)
				goto oom;
		} else if (json_is_string(v) &&
		    (copy = strdup(json_string_value(v))) == NULL)
			goto oom;
		free(*dst);
		*dst = copy;
	}
	json_object_foreach(custom, k, v)
		json_object_set(c->custom, k, v);
	if (sim) {
		if (json_is_integer(v = json_object_get(body, "created_at")))
			c->created_at = json_integer_value(v);
		if (json_is_boolean(v = json_object_get(body, "archived")))
			c->archived = json_is_true(v);
	}
	c->updated_at = (long long)sim_now();
	if (sim && json_is_integer(v = json_object_get(body, "updated_at")))
		c->updated_at = json_integer_value(v);
	return 0;
oom:
	snprintf(err, errsz, "out of memory");
	return -1;
}

/* --- conversations --- */

static json_t *
author_json(struct sim_store *st, const char *type, const char *id)
{
	const struct sim_admin		*a;
	const struct sim_contact	*k;
	json_t				*o;

	o = json_pack("{s:s,s:s}", "type", type, "id", id);
	if (strcmp(type, "admin") == 0 && (a = sim_admin_find(id)) != NULL) {
		json_object_set_new(o, "name", json_string(a->name));
		json_object_set_new(o, "email", json_string(a->email));
	} else if ((k = sim_contact_find(st, id)) != NULL) {
		json_object_set_new(o, "name", sim_obj_str(k->name));
		/* Format "email" in the schema: leave it out when unset. */
		if (k->email != NULL && strchr(k->email, '@') != NULL &&
		    strpbrk(k->email, " \t\r\n\"<>,;") == NULL)
			json_object_set_new(o, "email", json_string(k->email));
	}
	return o;
}

/* New reference: a tag applied to a conversation (t). */
json_t *
sim_obj_tag(struct sim_store *st, const struct sim_ctag *t)
{
	const struct sim_tag	*tag = sim_tag_find(st, t->tag_id);

	return json_pack("{s:s,s:s,s:s,s:I,s:{s:s,s:s}}", "type", "tag",
	    "id", t->tag_id, "name", tag ? tag->name : "",
	    "applied_at", (json_int_t)t->applied_at,
	    "applied_by", "type", "admin", "id", t->applied_by);
}

static json_t *
part_json(struct sim_store *st, const struct sim_part *p)
{
	json_t	*assigned;

	assigned = p->assigned_type[0] ? json_pack("{s:s,s:s}", "type",
	    p->assigned_type, "id", p->assigned_id) : json_null();
	return json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:o,s:o,s:[],s:n,"
	    "s:b}", "type", "conversation_part", "id", p->id,
	    "part_type", p->part_type, "body", sim_obj_str(p->body),
	    "created_at", (json_int_t)p->created_at,
	    "updated_at", (json_int_t)p->created_at,
	    "notified_at", (json_int_t)p->created_at,
	    "assigned_to", assigned,
	    "author", author_json(st, p->author_type, p->author_id),
	    "attachments", "external_id", "redacted", 0);
}

/* New reference: the contact_reference array of a participant list. */
json_t *
sim_obj_contact_refs(struct sim_store *st, char (*ids)[SIM_CID_LEN],
    size_t n)
{
	const struct sim_contact	*k;
	json_t				*a;
	size_t				 i;

	a = json_array();
	for (i = 0; i < n; i++) {
		k = sim_contact_find(st, ids[i]);
		json_array_append_new(a, json_pack("{s:s,s:s,s:o}",
		    "type", "contact", "id", ids[i],
		    "external_id", sim_obj_str(k ? k->external_id : NULL)));
	}
	return a;
}

/*
 * New reference: cv as a conversation with its parts (GET
 * /conversations/{id}), or without them (a list item, a webhook's item).
 */
json_t *
sim_obj_conv(struct sim_store *st, const struct sim_conv *cv, bool parts)
{
	const struct sim_contact	*k;
	json_t				*o, *tags, *contacts, *pl;
	const char			*atype;
	size_t				 i;

	tags = json_array();
	for (i = 0; i < cv->ntags; i++)
		json_array_append_new(tags, sim_obj_tag(st, &cv->tags[i]));
	contacts = sim_obj_contact_refs(st, cv->contact_ids, cv->ncontacts);
	k = sim_contact_find(st, cv->author_id);
	atype = k != NULL ? k->role : "user";
	o = json_pack("{s:s,s:s,s:o,s:I,s:I,s:n,s:o,s:b,s:s,s:b,s:s,s:I,s:I,"
	    "s:{s:s,s:o},s:{s:s,s:s,s:s,s:s,s:s,s:o,s:[],s:n,s:b},"
	    "s:{s:s,s:o},s:{s:s,s:[]},s:o}",
	    "type", "conversation", "id", cv->id,
	    "title", sim_obj_str(cv->title),
	    "created_at", (json_int_t)cv->created_at,
	    "updated_at", (json_int_t)cv->updated_at,
	    "waiting_since",
	    "snoozed_until", cv->snoozed_until ?
	    json_integer(cv->snoozed_until) : json_null(),
	    "open", strcmp(cv->state, "open") == 0,
	    "state", cv->state, "read", 0, "priority", "none",
	    "admin_assignee_id", (json_int_t)cv->admin_assignee,
	    "team_assignee_id", (json_int_t)cv->team_assignee,
	    "tags", "type", "tag.list", "tags", tags,
	    "source", "type", "conversation", "id", cv->msg_id,
	    "delivered_as", "customer_initiated", "subject", "",
	    "body", cv->body ? cv->body : "",
	    "author", author_json(st, atype, cv->author_id),
	    "attachments", "url", "redacted", 0,
	    "contacts", "type", "contact.list", "contacts", contacts,
	    "teammates", "type", "admin.list", "teammates",
	    "custom_attributes", cv->custom ? json_incref(cv->custom) :
	    json_object());
	if (o == NULL || !parts)
		return o;
	pl = json_array();
	for (i = 0; i < cv->nparts; i++)
		json_array_append_new(pl, part_json(st, &cv->parts[i]));
	json_object_set_new(o, "conversation_parts", json_pack("{s:s,s:o,s:I}",
	    "type", "conversation_part.list", "conversation_parts", pl,
	    "total_count", (json_int_t)cv->nparts));
	return o;
}

/*
 * The same with conversation_parts holding part p alone, as the
 * conversation.admin.* webhooks carry the part they report.
 */
json_t *
sim_obj_conv_part(struct sim_store *st, const struct sim_conv *cv,
    const struct sim_part *p)
{
	json_t	*o = sim_obj_conv(st, cv, false);

	if (o != NULL)
		json_object_set_new(o, "conversation_parts", json_pack(
		    "{s:s,s:[o],s:i}", "type", "conversation_part.list",
		    "conversation_parts", part_json(st, p), "total_count", 1));
	return o;
}

/* --- seeds: the /_sim/ back doors --- */

/*
 * keys absent or integers in b?  Else a message in err: seeds (the /_sim/
 * back doors) take timestamps and ids as plain integers.
 */
bool
sim_obj_ints_ok(json_t *b, const char *const *keys, char *err, size_t errsz)
{
	json_t	*v;

	for (; *keys != NULL; keys++)
		if ((v = json_object_get(b, *keys)) != NULL &&
		    !json_is_integer(v) && !json_is_null(v)) {
			snprintf(err, errsz, "%s must be an integer", *keys);
			return false;
		}
	return true;
}

/*
 * v (borrowed), an array of existing unmerged contact ids, as a new array
 * in *ids (the caller frees it); -1 with a message in err.
 */
int
sim_obj_contact_list(struct sim_store *st, json_t *v,
    char (**ids)[SIM_CID_LEN], size_t *n, char *err, size_t errsz)
{
	const struct sim_contact	*k;
	json_t				*e;
	size_t				 i;

	*ids = NULL;
	*n = 0;
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > 16) {
		snprintf(err, errsz, "contact_ids must be an array of 1 to 16 "
		    "contact ids");
		return -1;
	}
	json_array_foreach(v, i, e) {
		k = json_is_string(e) ? sim_contact_find(st,
		    json_string_value(e)) : NULL;
		if (k == NULL || k->merged_into[0] != '\0') {
			snprintf(err, errsz, "contact_ids[%zu]: no such contact",
			    i);
			return -1;
		}
	}
	if ((*ids = calloc(json_array_size(v), sizeof(**ids))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	json_array_foreach(v, i, e)
		snprintf((*ids)[i], SIM_CID_LEN, "%s", json_string_value(e));
	*n = json_array_size(v);
	return 0;
}

static bool
conv_state_ok(const char *s)
{
	return strcmp(s, "open") == 0 || strcmp(s, "closed") == 0 ||
	    strcmp(s, "snoozed") == 0;
}

/* The parts of a seed: [{part_type, body, author_type, author_id,
 * created_at}]; authors default to admin 1001. */
static int
seed_parts_check(json_t *parts, char *err, size_t errsz)
{
	static const char *const ints[] = { "created_at", NULL };
	json_t			*p;
	const char		*at;
	size_t			 i;

	if (parts == NULL)
		return 0;
	if (!json_is_array(parts) || json_array_size(parts) > 500) {
		snprintf(err, errsz, "parts must be an array of at most 500");
		return -1;
	}
	json_array_foreach(parts, i, p) {
		at = json_string_value(json_object_get(p, "author_type"));
		if (!json_is_object(p) || !json_is_string(json_object_get(p,
		    "body")) || !sim_obj_ints_ok(p, ints, err, errsz) ||
		    (at != NULL && strcmp(at, "admin") != 0 &&
		    strcmp(at, "user") != 0 && strcmp(at, "lead") != 0) ||
		    (json_object_get(p, "author_id") != NULL &&
		    !json_is_string(json_object_get(p, "author_id")))) {
			snprintf(err, errsz, "parts[%zu] needs a body string; "
			    "author_type admin|user|lead, author_id a string, "
			    "created_at an integer", i);
			return -1;
		}
	}
	return 0;
}

static int
seed_parts_add(struct sim_store *st, struct sim_conv *cv, json_t *parts,
    long long now)
{
	json_t		*p, *v;
	const char	*pt, *at, *aid;
	size_t		 i;

	json_array_foreach(parts, i, p) {
		pt = json_string_value(json_object_get(p, "part_type"));
		at = json_string_value(json_object_get(p, "author_type"));
		aid = json_string_value(json_object_get(p, "author_id"));
		v = json_object_get(p, "created_at");
		if (sim_conv_add_part(st, cv, pt ? pt : "comment",
		    json_string_value(json_object_get(p, "body")),
		    at ? at : "admin", aid ? aid : at && strcmp(at, "admin") ?
		    cv->author_id : "1001",
		    json_is_integer(v) ? json_integer_value(v) : now) == NULL)
			return -1;
	}
	return 0;
}

/*
 * POST /_sim/conversations: test fixtures without the API's rules or
 * lag.  Without "id", a new conversation of contact_ids (the first is
 * the source's author) with body; with "id", changes that conversation.
 * Optional: state, created_at, updated_at (applied last, so it wins over
 * the parts' times), admin_assignee_id, team_assignee_id, snoozed_until,
 * parts.  New reference to the conversation with its parts, or NULL with
 * a message in err.
 */
json_t *
sim_obj_seed_conv(struct sim_store *st, json_t *b, char *err, size_t errsz)
{
	static const char *const ints[] = { "created_at", "updated_at",
	    "admin_assignee_id", "team_assignee_id", "snoozed_until", NULL };
	struct sim_conv	*cv = NULL;
	char		(*ids)[SIM_CID_LEN] = NULL, idbuf[SIM_NID_LEN], *body;
	const char	*id, *state;
	json_t		*v, *jbody = json_object_get(b, "body");
	size_t		 nids = 0;
	long long	 now = (long long)sim_now();

	id = sim_obj_id(b, "id", idbuf, sizeof(idbuf));
	state = json_string_value(json_object_get(b, "state"));
	if (id != NULL && (cv = sim_conv_find(st, id)) == NULL) {
		snprintf(err, errsz, "no conversation '%.32s'", id);
		return NULL;
	}
	if (!sim_obj_ints_ok(b, ints, err, errsz) ||
	    seed_parts_check(json_object_get(b, "parts"), err, errsz) == -1)
		return NULL;
	if ((json_object_get(b, "state") != NULL && (state == NULL ||
	    !conv_state_ok(state))) || (jbody != NULL &&
	    !json_is_string(jbody))) {
		snprintf(err, errsz, "state must be open, closed or snoozed; "
		    "body a string");
		return NULL;
	}
	if ((cv == NULL || json_object_get(b, "contact_ids") != NULL) &&
	    sim_obj_contact_list(st, json_object_get(b, "contact_ids"), &ids,
	    &nids, err, errsz) == -1)
		return NULL;
	/* Apply. */
	body = sim_strdup(json_string_value(jbody));
	if ((jbody != NULL && body == NULL) ||
	    (cv == NULL && (cv = sim_conv_new(st, 0)) == NULL))
		goto oom;
	if (ids != NULL) {
		free(cv->contact_ids);
		cv->contact_ids = ids;
		cv->ncontacts = nids;
		ids = NULL;
		if (cv->author_id[0] == '\0')
			strcpy(cv->author_id, cv->contact_ids[0]);
	}
	if (body != NULL || cv->body == NULL) {
		free(cv->body);
		cv->body = body ? body : strdup("");
		body = NULL;
	}
	if (state != NULL)
		snprintf(cv->state, sizeof(cv->state), "%s", state);
	if (json_is_integer(v = json_object_get(b, "created_at")))
		cv->created_at = json_integer_value(v);
	if (json_is_integer(v = json_object_get(b, "admin_assignee_id")))
		cv->admin_assignee = json_integer_value(v);
	if (json_is_integer(v = json_object_get(b, "team_assignee_id")))
		cv->team_assignee = json_integer_value(v);
	if ((v = json_object_get(b, "snoozed_until")) != NULL)
		cv->snoozed_until = json_is_integer(v) ?
		    json_integer_value(v) : 0;
	if (seed_parts_add(st, cv, json_object_get(b, "parts"), now) == -1)
		goto oom;
	if (json_is_integer(v = json_object_get(b, "updated_at")))
		cv->updated_at = json_integer_value(v);
	return sim_obj_conv(st, cv, true);
oom:
	free(ids);
	free(body);
	snprintf(err, errsz, "out of memory");
	return NULL;
}
