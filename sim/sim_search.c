/*
 * sim_search.c: Intercom's search query grammar for /contacts/search,
 * /conversations/search and /tickets/search.  A query is a filter
 * {field, operator, value} or
 * a group {operator: AND|OR, value: [query...]}; groups nest at most two
 * levels and hold at most 15 members.  sim_search_check() validates a
 * query once (fields, operators, value types) so that matching can assume
 * a well-formed tree; sim_search_match() evaluates it against one object.
 * Fields are described by a table per model: a field's kind decides which
 * operators it accepts and how values compare, as in Intercom's docs.
 * Strings compare case-insensitively; source.body "=" matches one whole
 * word (split on non-alphanumerics) and "~" a substring, both on the body
 * as stored, markup included: in "<p>cs01</p>" the tags split words, so a
 * marker is found by "=" and "~" alike once the body turns HTML.
 * sim_search_cmp() orders results on one field (sort {field, order}),
 * through the same field values, with creation order breaking ties.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim.h"

enum kind { K_STR, K_NUM, K_DATE, K_BOOL, K_TEXT, K_IDS, K_TDATE };

struct field {
	const char	*name;
	enum kind	 kind;
};

static const struct field contact_fields[] = {
	{ "id", K_STR }, { "role", K_STR }, { "name", K_STR },
	{ "email", K_STR }, { "phone", K_STR }, { "formatted_phone", K_STR },
	{ "external_id", K_STR },
	{ "created_at", K_DATE }, { "updated_at", K_DATE },
	{ NULL, K_STR }
};
static const struct field conv_fields[] = {
	{ "id", K_STR }, { "state", K_STR }, { "open", K_BOOL },
	{ "contact_ids", K_IDS }, { "source.body", K_TEXT },
	{ "created_at", K_DATE }, { "updated_at", K_DATE },
	{ "admin_assignee_id", K_NUM }, { "team_assignee_id", K_NUM },
	{ "tag_ids", K_IDS },
	{ NULL, K_STR }
};
/* The 2.16 ticket search table; "state" is the state's category. */
static const struct field ticket_fields[] = {
	{ "id", K_STR }, { "created_at", K_TDATE }, { "updated_at", K_DATE },
	{ "title", K_STR }, { "description", K_STR }, { "category", K_STR },
	{ "ticket_type_id", K_STR }, { "contact_ids", K_IDS },
	{ "admin_assignee_id", K_NUM }, { "team_assignee_id", K_NUM },
	{ "open", K_BOOL }, { "state", K_STR }, { "snoozed_until", K_DATE },
	{ NULL, K_STR }
};

/* Operators per kind, space separated. */
static const char *
kind_ops(enum kind k)
{
	switch (k) {
	case K_STR:
	case K_TEXT:
		return " = != ~ !~ ^ $ IN NIN ";
	case K_NUM:
		return " = != IN NIN < > <= >= ";
	case K_DATE:
		return " = < > ";
	case K_TDATE:	/* tickets' created_at also takes <= and >= */
		return " = < > <= >= ";
	case K_BOOL:
		return " = != IN NIN ";
	case K_IDS:
		return " = != IN NIN ";
	}
	return "";
}

static const struct field *
field_find(enum sim_model m, const char *name)
{
	const struct field	*f;

	f = m == SIM_CONTACT ? contact_fields : m == SIM_TICKET ?
	    ticket_fields : conv_fields;
	for (; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	/* Contacts also search their custom attributes, as strings. */
	if (m == SIM_CONTACT && strncmp(name, "custom_attributes.", 18) == 0 &&
	    name[18] != '\0')
		return &contact_fields[0];
	return NULL;
}

static bool
scalar(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v) ||
	    json_is_null(v);
}

static int
check(enum sim_model m, json_t *q, int depth, char *err, size_t errsz)
{
	const struct field	*f;
	const char		*op, *field;
	json_t			*v, *e;
	size_t			 i;
	char			 pad[16];

	if (!json_is_object(q)) {
		snprintf(err, errsz, "query must be an object");
		return -1;
	}
	op = json_string_value(json_object_get(q, "operator"));
	v = json_object_get(q, "value");
	if (op == NULL) {
		snprintf(err, errsz, "operator is required");
		return -1;
	}
	if (strcmp(op, "AND") == 0 || strcmp(op, "OR") == 0) {
		if (depth >= 2) {
			snprintf(err, errsz, "Search query exceeds the "
			    "maximum of 2 nesting levels");
			return -1;
		}
		if (!json_is_array(v) || json_array_size(v) == 0) {
			snprintf(err, errsz, "%s value must be a non-empty "
			    "array", op);
			return -1;
		}
		if (json_array_size(v) > 15) {
			snprintf(err, errsz, "Search query exceeds the "
			    "maximum of 15 filters per group");
			return -1;
		}
		json_array_foreach(v, i, e)
			if (check(m, e, depth + 1, err, errsz) == -1)
				return -1;
		return 0;
	}
	if ((field = json_string_value(json_object_get(q, "field"))) == NULL) {
		snprintf(err, errsz, "field is required");
		return -1;
	}
	if ((f = field_find(m, field)) == NULL ||
	    (m == SIM_CONTACT && sim_beh[SB_FORMATTED_PHONE_400] &&
	    strcmp(field, "formatted_phone") == 0)) {
		snprintf(err, errsz, "'%.64s' is not a searchable field",
		    field);
		return -1;
	}
	snprintf(pad, sizeof(pad), " %.10s ", op);
	if (strstr(kind_ops(f->kind), pad) == NULL) {
		snprintf(err, errsz, "Operator '%.10s' is not valid for "
		    "field '%.64s'", op, field);
		return -1;
	}
	if (v == NULL) {
		snprintf(err, errsz, "value is required");
		return -1;
	}
	if (strcmp(op, "IN") == 0 || strcmp(op, "NIN") == 0) {
		if (!json_is_array(v)) {
			snprintf(err, errsz, "%s value must be an array", op);
			return -1;
		}
		json_array_foreach(v, i, e)
			if (!scalar(e) || json_is_null(e)) {
				snprintf(err, errsz, "invalid value in %s",
				    op);
				return -1;
			}
		return 0;
	}
	if (!scalar(v)) {
		snprintf(err, errsz, "value for '%.64s' must be a scalar",
		    field);
		return -1;
	}
	return 0;
}

/* 0 if q is a valid query, else -1 with a message in err. */
int
sim_search_check(enum sim_model m, json_t *q, char *err, size_t errsz)
{
	if (q == NULL) {
		snprintf(err, errsz, "query is required");
		return -1;
	}
	return check(m, q, 0, err, errsz);
}

/* One value of an object's field; s is NULL for numbers. */
struct val {
	const char	*s;
	long long	 n;
};

#define MAXVALS 64

static size_t	ticket_values(const struct sim_ticket *, const char *,
		    struct val *);

static size_t
values(enum sim_model m, const void *obj, const char *field,
    struct val *out)
{
	const struct sim_contact	*c = obj;
	const struct sim_conv		*cv = obj;
	const char			*s = NULL;
	json_t				*a;
	size_t				 i, n = 0;

	if (m == SIM_TICKET)
		return ticket_values(obj, field, out);
	if (m == SIM_CONTACT) {
		if (strcmp(field, "id") == 0)
			s = c->id;
		else if (strcmp(field, "role") == 0)
			s = c->role;
		else if (strcmp(field, "name") == 0)
			s = c->name;
		else if (strcmp(field, "email") == 0)
			s = c->email;
		else if (strcmp(field, "phone") == 0)
			s = c->phone;
		else if (strcmp(field, "formatted_phone") == 0) {
			/* The stored phone as E.164 (unverified: the Preview
			 * description's definition); off, it matches nothing. */
			static char	 e164[64];
			char		*f;

			if (!sim_beh[SB_FORMATTED_PHONE] ||
			    (f = sim_phone_e164(c->phone)) == NULL)
				return 0;
			snprintf(e164, sizeof(e164), "%s", f);
			free(f);
			s = e164;
		}
		else if (strcmp(field, "external_id") == 0)
			s = c->external_id;
		else if (strcmp(field, "created_at") == 0) {
			out[0].s = NULL;
			out[0].n = c->created_at;
			return 1;
		} else if (strcmp(field, "updated_at") == 0) {
			out[0].s = NULL;
			out[0].n = c->updated_at;
			return 1;
		} else if (strncmp(field, "custom_attributes.", 18) == 0) {
			a = json_object_get(c->custom, field + 18);
			if (json_is_string(a))
				s = json_string_value(a);
			else if (json_is_integer(a)) {
				out[0].s = NULL;
				out[0].n = json_integer_value(a);
				return 1;
			} else if (json_is_boolean(a))
				s = json_is_true(a) ? "true" : "false";
		}
		if (s == NULL)
			return 0;
		out[0].s = s;
		return 1;
	}
	if (strcmp(field, "id") == 0)
		s = cv->id;
	else if (strcmp(field, "state") == 0)
		s = cv->state;
	else if (strcmp(field, "open") == 0)
		s = strcmp(cv->state, "open") == 0 ? "true" : "false";
	else if (strcmp(field, "source.body") == 0)
		s = cv->body;
	else if (strcmp(field, "contact_ids") == 0) {
		for (i = 0; i < cv->ncontacts && n < MAXVALS; i++)
			out[n++].s = cv->contact_ids[i];
		return n;
	} else if (strcmp(field, "tag_ids") == 0) {
		for (i = 0; i < cv->ntags && n < MAXVALS; i++)
			out[n++].s = cv->tags[i].tag_id;
		return n;
	} else {
		out[0].s = NULL;
		if (strcmp(field, "created_at") == 0)
			out[0].n = cv->created_at;
		else if (strcmp(field, "updated_at") == 0)
			out[0].n = cv->updated_at;
		else if (strcmp(field, "admin_assignee_id") == 0)
			out[0].n = cv->admin_assignee;
		else
			out[0].n = cv->team_assignee;
		return 1;
	}
	if (s == NULL)
		return 0;
	out[0].s = s;
	return 1;
}

/* Ticket categories search as request, task and tracker. */
static const char *
ticket_category(const struct sim_ticket *t)
{
	if (strcmp(t->type->category, "Customer") == 0)
		return "request";
	if (strcmp(t->type->category, "Back-office") == 0)
		return "task";
	return "tracker";
}

static size_t
ticket_values(const struct sim_ticket *t, const char *field, struct val *out)
{
	const char	*s = NULL;
	size_t		 i, n = 0;

	out[0].s = NULL;
	if (strcmp(field, "id") == 0)
		s = t->id;
	else if (strcmp(field, "title") == 0)
		s = json_string_value(json_object_get(t->attrs,
		    "_default_title_"));
	else if (strcmp(field, "description") == 0)
		s = json_string_value(json_object_get(t->attrs,
		    "_default_description_"));
	else if (strcmp(field, "category") == 0)
		s = ticket_category(t);
	else if (strcmp(field, "ticket_type_id") == 0)
		s = t->type->id;
	else if (strcmp(field, "state") == 0)
		s = t->state->category;
	else if (strcmp(field, "open") == 0)
		s = t->open ? "true" : "false";
	else if (strcmp(field, "contact_ids") == 0) {
		for (i = 0; i < t->ncontacts && n < MAXVALS; i++)
			out[n++].s = t->contact_ids[i];
		return n;
	} else if (strcmp(field, "snoozed_until") == 0) {
		out[0].n = t->snoozed_until;
		return t->snoozed_until != 0;
	} else {
		out[0].n = strcmp(field, "created_at") == 0 ? t->created_at :
		    strcmp(field, "updated_at") == 0 ? t->updated_at :
		    strcmp(field, "admin_assignee_id") == 0 ?
		    t->admin_assignee : t->team_assignee;
		return 1;
	}
	if (s == NULL)
		return 0;
	out[0].s = s;
	return 1;
}

/* A query value as text (numbers and booleans formatted into buf). */
static const char *
qtext(const json_t *v, char *buf, size_t bufsz)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, bufsz, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, bufsz, "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, bufsz, "%s", json_is_true(v) ? "true" : "false");
	else
		return NULL;
	return buf;
}

static bool
qnum(const json_t *v, long long *n)
{
	const char	*s;
	char		*end;

	if (json_is_integer(v)) {
		*n = json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		*n = (long long)json_real_value(v);
		return true;
	}
	if ((s = json_string_value(v)) == NULL || *s == '\0')
		return false;
	*n = strtoll(s, &end, 10);
	return *end == '\0';
}

static bool
has_word(const char *text, const char *word)
{
	size_t	wl = strlen(word), i;
	const char *p;

	if (wl == 0)
		return false;
	for (p = text; *p != '\0'; p++) {
		if (p != text && isalnum((unsigned char)p[-1]))
			continue;
		if (strncasecmp(p, word, wl) != 0)
			continue;
		if (isalnum((unsigned char)p[wl]))
			continue;
		/* The word itself must be one alphanumeric run. */
		for (i = 0; i < wl; i++)
			if (!isalnum((unsigned char)word[i]))
				break;
		if (i == wl)
			return true;
	}
	return false;
}

static bool
eq1(enum kind k, const struct val *x, const json_t *v)
{
	char		 buf[64];
	const char	*t;
	long long	 n;

	if (x->s == NULL)
		return qnum(v, &n) && n == x->n;
	if ((t = qtext(v, buf, sizeof(buf))) == NULL)
		return false;
	if (k == K_TEXT)
		return has_word(x->s, t);
	return strcasecmp(x->s, t) == 0;
}

/* Does any of the object's values equal v? */
static bool
eq_any(enum kind k, const struct val *xs, size_t n, const json_t *v)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (eq1(k, &xs[i], v))
			return true;
	return false;
}

static bool
str_op(const char *op, const char *s, const char *t)
{
	size_t	sl = strlen(s), tl = strlen(t);

	if (strcmp(op, "~") == 0 || strcmp(op, "!~") == 0)
		return strcasestr(s, t) != NULL;
	if (strcmp(op, "^") == 0)
		return strncasecmp(s, t, tl) == 0;
	return sl >= tl && strcasecmp(s + sl - tl, t) == 0;	/* "$" */
}

static bool
match_filter(enum sim_model m, json_t *q, const void *obj)
{
	const struct field	*f;
	const char		*op, *t;
	struct val		 xs[MAXVALS];
	json_t			*v, *e;
	long long		 qn;
	size_t			 n, i;
	char			 buf[64];
	bool			 r;

	f = field_find(m, json_string_value(json_object_get(q, "field")));
	op = json_string_value(json_object_get(q, "operator"));
	v = json_object_get(q, "value");
	n = values(m, obj, json_string_value(json_object_get(q, "field")),
	    xs);
	if (json_is_null(v)) {
		if (strcmp(op, "=") == 0)
			return n == 0;
		if (strcmp(op, "!=") == 0)
			return n != 0;
		return false;
	}
	if (strcmp(op, "=") == 0)
		return eq_any(f->kind, xs, n, v);
	if (strcmp(op, "!=") == 0)
		return !eq_any(f->kind, xs, n, v);
	if (strcmp(op, "IN") == 0 || strcmp(op, "NIN") == 0) {
		r = false;
		json_array_foreach(v, i, e)
			if (eq_any(f->kind, xs, n, e))
				r = true;
		return strcmp(op, "IN") == 0 ? r : !r;
	}
	if (op[0] == '<' || op[0] == '>') {
		if (n == 0 || xs[0].s != NULL || !qnum(v, &qn))
			return false;
		if (strcmp(op, "<") == 0)
			return xs[0].n < qn;
		if (strcmp(op, ">") == 0)
			return xs[0].n > qn;
		if (strcmp(op, "<=") == 0)
			return xs[0].n <= qn;
		return xs[0].n >= qn;
	}
	/* ~ !~ ^ $ on text */
	if ((t = qtext(v, buf, sizeof(buf))) == NULL)
		return false;
	r = n > 0 && xs[0].s != NULL && str_op(op, xs[0].s, t);
	return strcmp(op, "!~") == 0 ? !r : r;
}

/* q must have passed sim_search_check(). */
bool
sim_search_match(enum sim_model m, json_t *q, const void *obj)
{
	const char	*op;
	json_t		*e;
	size_t		 i;
	bool		 and;

	op = json_string_value(json_object_get(q, "operator"));
	if (strcmp(op, "AND") != 0 && strcmp(op, "OR") != 0)
		return match_filter(m, q, obj);
	and = strcmp(op, "AND") == 0;
	json_array_foreach(json_object_get(q, "value"), i, e) {
		if (sim_search_match(m, e, obj) != and)
			return !and;
	}
	return and;
}

/* Results sort on the model's single-valued fields, not on id lists. */
bool
sim_search_sortable(enum sim_model m, const char *field)
{
	const struct field	*f = field_find(m, field);

	return f != NULL && f->kind != K_IDS && f->kind != K_TEXT;
}

static unsigned long long
obj_seq(enum sim_model m, const void *obj)
{
	if (m == SIM_CONTACT)
		return ((const struct sim_contact *)obj)->seq;
	if (m == SIM_TICKET)
		return ((const struct sim_ticket *)obj)->seq;
	return ((const struct sim_conv *)obj)->seq;
}

/*
 * qsort_r comparator over an array of object pointers, arg a struct
 * sim_sortkey.  A missing value sorts lowest; ties keep creation order
 * (reversed when descending, as the contact search does).
 */
int
sim_search_cmp(const void *x, const void *y, void *arg)
{
	const struct sim_sortkey *k = arg;
	const void		*a = *(const void *const *)x;
	const void		*b = *(const void *const *)y;
	struct val		 va[MAXVALS], vb[MAXVALS];
	size_t			 na, nb;
	int			 r = 0;

	if (k->field != NULL) {
		na = values(k->model, a, k->field, va);
		nb = values(k->model, b, k->field, vb);
		if (na == 0 || nb == 0)
			r = (na != 0) - (nb != 0);
		else if (va[0].s != NULL && vb[0].s != NULL)
			r = strcasecmp(va[0].s, vb[0].s);
		else if (va[0].s == NULL && vb[0].s == NULL)
			r = va[0].n < vb[0].n ? -1 : va[0].n > vb[0].n;
	}
	if (r == 0)
		r = obj_seq(k->model, a) < obj_seq(k->model, b) ? -1 : 1;
	return k->desc ? -r : r;
}
