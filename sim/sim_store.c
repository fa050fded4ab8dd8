/*
 * sim_store.c: the simulator's data model.  Contacts and conversations are
 * heap objects kept in growable pointer arrays (pointers stay valid while
 * the arrays grow); tags, data attributes and merges are plain arrays.
 * Lookups are linear: test workspaces hold hundreds of objects, not
 * millions, and a scan keeps creation order for free.  Identifiers come
 * from counters with fixed seeds so a run is reproducible: contacts get 24
 * lower-case hex digits like Intercom's, everything else numeric strings.
 * Companies, tickets and articles (the caller's context) follow the same
 * pattern; ticket types and states are static seed data like admins.
 * sim_store_state() renders the store for GET /_sim/state.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sim.h"

const char *sim_app_id = "simapp01";

const struct sim_admin sim_admins[] = {
	{ "1001", "Voice AI", "voice-ai@callsync-sim.example" },
	{ "1002", "Ada", "ada@callsync-sim.example" },
	{ NULL, NULL, NULL }
};
const struct sim_team sim_teams[] = {
	{ "2001", "Support" },
	{ "2002", "Billing" },
	{ NULL, NULL }
};

/* Intercom's default states, one per category, and three ticket types. */
const struct sim_ticket_state sim_ticket_states[] = {
	{ "4001", "submitted", "Submitted", "Submitted" },
	{ "4002", "in_progress", "In progress", "In progress" },
	{ "4003", "waiting_on_customer", "Waiting on customer",
	    "Waiting on you" },
	{ "4004", "resolved", "Resolved", "Resolved" },
	{ NULL, NULL, NULL, NULL }
};
const struct sim_ticket_type sim_ticket_types[] = {
	{ "3001", "Bug report", "Customer", "\xf0\x9f\x90\x9e" },
	{ "3002", "Billing question", "Customer", "\xf0\x9f\x92\xb3" },
	{ "3003", "Follow-up", "Back-office", "\xf0\x9f\x93\x8b" },
	{ NULL, NULL, NULL, NULL }
};

/* Counter seeds: distinct ranges make a misplaced id obvious in a log. */
#define SEED_CONTACT	0x1000ULL
#define SEED_CONV	100000001ULL
#define SEED_MSG	400000001ULL
#define SEED_PART	900000001ULL
#define SEED_TAG	500001ULL
#define SEED_ATTR	7001ULL
#define SEED_COMPANY	0x2000ULL
#define SEED_TICKET	700001ULL
#define SEED_ARTICLE	600001ULL

/*
 * Make room for n + 1 elements of size sz in *arrp (capacity *cap).
 * The old pointer dies when the array moves.
 */
int
sim_grow(void *arrp, size_t *cap, size_t n, size_t sz)
{
	void	**pp = arrp;
	void	 *p;
	size_t	  ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((p = reallocarray(*pp, ncap, sz)) == NULL)
		return -1;
	*pp = p;
	*cap = ncap;
	return 0;
}

double
sim_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* New copy of s; NULL stays NULL (and so does a failed allocation). */
char *
sim_strdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

const struct sim_admin *
sim_admin_find(const char *id)
{
	size_t	i;

	for (i = 0; sim_admins[i].id != NULL; i++)
		if (strcmp(sim_admins[i].id, id) == 0)
			return &sim_admins[i];
	return NULL;
}

bool
sim_admin_exists(const char *id)
{
	return sim_admin_find(id) != NULL;
}

bool
sim_team_exists(const struct sim_store *st, const char *id)
{
	size_t	i;

	for (i = 0; sim_teams[i].id != NULL; i++)
		if (strcmp(sim_teams[i].id, id) == 0)
			return true;
	for (i = 0; i < st->nteams_added; i++)
		if (strcmp(st->teams_added[i].id, id) == 0)
			return true;
	return false;
}

/* A team made after start (POST /_sim/teams): id digits, not taken. */
int
sim_team_add(struct sim_store *st, const char *id, const char *name,
    char *err, size_t errsz)
{
	struct sim_team_added	*t;

	if (id == NULL || *id == '\0' || strlen(id) >= sizeof(t->id) ||
	    strspn(id, "0123456789") != strlen(id) || name == NULL ||
	    *name == '\0' || strlen(name) >= sizeof(t->name)) {
		snprintf(err, errsz, "id (digits) and name are required");
		return -1;
	}
	if (sim_team_exists(st, id)) {
		snprintf(err, errsz, "team %s exists", id);
		return -1;
	}
	if (st->nteams_added == SIM_TEAMS_ADDED) {
		snprintf(err, errsz, "at most %d teams can be added",
		    SIM_TEAMS_ADDED);
		return -1;
	}
	t = &st->teams_added[st->nteams_added++];
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->name, sizeof(t->name), "%s", name);
	return 0;
}

/*
 * Intercom allows "alphanumeric characters, currency symbols, and
 * hyphens"; underscores and spaces are accepted in practice.  Bytes >= 0x80
 * pass so that UTF-8 currency symbols do.
 */
bool
sim_attr_name_ok(const char *name)
{
	const unsigned char	*p;

	if (*name == '\0' || strlen(name) > 190)
		return false;
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (!isalnum(*p) && *p != '_' && *p != '-' && *p != ' ' &&
		    *p != '$' && *p < 0x80)
			return false;
	return true;
}

bool
sim_attr_type_ok(const char *t)
{
	static const char	*types[] = { "string", "integer", "float",
	    "boolean", "datetime", "date", NULL };
	size_t			 i;

	for (i = 0; types[i] != NULL; i++)
		if (strcmp(types[i], t) == 0)
			return true;
	return false;
}

/* Apply "a,b:integer,c": contact attributes, string unless typed. */
static int
store_apply_spec(struct sim_store *st, const char *spec, char *err,
    size_t errsz)
{
	char	*copy, *p, *tok, *type;
	int	 rc = -1;

	if (spec == NULL)
		return 0;
	if ((copy = strdup(spec)) == NULL)
		return -1;
	for (p = copy; (tok = strsep(&p, ",")) != NULL;) {
		if (*tok == '\0')
			continue;
		type = "string";
		if (strchr(tok, ':') != NULL) {
			type = strchr(tok, ':') + 1;
			*strchr(tok, ':') = '\0';
		}
		if (!sim_attr_name_ok(tok) || !sim_attr_type_ok(type)) {
			snprintf(err, errsz, "bad attribute '%s:%s'", tok,
			    type);
			goto out;
		}
		if (sim_attr_find(st, "contact", tok) == NULL &&
		    sim_attr_add(st, "contact", tok, type) == NULL)
			goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

static void
store_seed(struct sim_store *st)
{
	st->next_contact = SEED_CONTACT;
	st->next_conv = SEED_CONV;
	st->next_msg = SEED_MSG;
	st->next_part = SEED_PART;
	st->next_tag = SEED_TAG;
	st->next_attr = SEED_ATTR;
	st->next_company = SEED_COMPANY;
	st->next_ticket = SEED_TICKET;
	st->next_ticket_num = 1;
	st->next_article = SEED_ARTICLE;
	st->next_seq = 1;
}

/* spec (borrowed, copied) lists the attributes defined at start. */
int
sim_store_init(struct sim_store *st, const char *spec, char *err,
    size_t errsz)
{
	size_t	i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < SB_NBEH; i++)
		sim_beh[i] = sim_behs[i].on;
	store_seed(st);
	if (spec != NULL && (st->attr_spec = strdup(spec)) == NULL)
		return -1;
	return store_apply_spec(st, spec, err, errsz);
}

static void
contact_free(struct sim_contact *c)
{
	if (c == NULL)
		return;
	free(c->role);
	free(c->email);
	free(c->phone);
	free(c->name);
	free(c->external_id);
	free(c->companies);
	json_decref(c->custom);
	free(c);
}

static void
company_free(struct sim_company *co)
{
	if (co == NULL)
		return;
	free(co->company_id);
	free(co->name);
	free(co->industry);
	free(co->website);
	json_decref(co->custom);
	free(co);
}

static void
ticket_free(struct sim_ticket *t)
{
	if (t == NULL)
		return;
	free(t->contact_ids);
	json_decref(t->attrs);
	free(t);
}

static void
article_free(struct sim_article *a)
{
	if (a == NULL)
		return;
	free(a->title);
	free(a->description);
	free(a->body);
	free(a);
}

static void
conv_free(struct sim_conv *cv)
{
	size_t	i;

	if (cv == NULL)
		return;
	for (i = 0; i < cv->nparts; i++) {
		free(cv->parts[i].part_type);
		free(cv->parts[i].body);
	}
	free(cv->parts);
	free(cv->tags);
	free(cv->contact_ids);
	free(cv->body);
	free(cv->body_sent);
	free(cv->title);
	json_decref(cv->custom);
	free(cv);
}

/* Frees every object but keeps attr_spec. */
static void
store_clear(struct sim_store *st)
{
	size_t	i;

	for (i = 0; i < st->ncontacts; i++)
		contact_free(st->contacts[i]);
	for (i = 0; i < st->nconvs; i++)
		conv_free(st->convs[i]);
	for (i = 0; i < st->ntags; i++)
		free(st->tags[i].name);
	for (i = 0; i < st->nattrs; i++)
		free(st->attrs[i].name);
	for (i = 0; i < st->ncompanies; i++)
		company_free(st->companies[i]);
	for (i = 0; i < st->ntickets; i++)
		ticket_free(st->tickets[i]);
	for (i = 0; i < st->narticles; i++)
		article_free(st->articles[i]);
	for (i = 0; i < st->nplans; i++)
		free(st->plans[i]);
	free(st->companies);
	free(st->tickets);
	free(st->articles);
	free(st->plans);
	st->companies = NULL;
	st->tickets = NULL;
	st->articles = NULL;
	st->plans = NULL;
	st->ncompanies = st->capcompanies = st->ntickets = st->captickets = 0;
	st->narticles = st->caparticles = st->nplans = st->capplans = 0;
	st->nteams_added = 0;
	free(st->contacts);
	free(st->convs);
	free(st->tags);
	free(st->attrs);
	free(st->merges);
	st->contacts = NULL;
	st->convs = NULL;
	st->tags = NULL;
	st->attrs = NULL;
	st->merges = NULL;
	st->ncontacts = st->capcontacts = st->nconvs = st->capconvs = 0;
	st->ntags = st->captags = st->nattrs = st->capattrs = 0;
	st->nmerges = st->capmerges = 0;
}

void
sim_store_free(struct sim_store *st)
{
	store_clear(st);
	free(st->attr_spec);
	st->attr_spec = NULL;
	json_decref(st->searches);
	st->searches = NULL;
}

/* Back to the state at start: no data, counters at their seeds. */
int
sim_store_reset(struct sim_store *st)
{
	char	err[128];

	store_clear(st);
	json_decref(st->searches);
	st->searches = NULL;
	store_seed(st);
	return store_apply_spec(st, st->attr_spec, err, sizeof(err));
}

/* New empty lead, owned by the store; lag: seconds before searchable. */
struct sim_contact *
sim_contact_new(struct sim_store *st, double visible_at)
{
	struct sim_contact	*c;

	if (sim_grow(&st->contacts, &st->capcontacts, st->ncontacts,
	    sizeof(*st->contacts)) == -1)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->custom = json_object()) == NULL ||
	    (c->role = strdup("lead")) == NULL) {
		contact_free(c);
		return NULL;
	}
	/* Fixed prefix plus counter: 24 hex digits, unique, sortable. */
	snprintf(c->id, sizeof(c->id), "665f%020llx", st->next_contact++);
	c->created_at = c->updated_at = (long long)sim_now();
	c->visible_at = visible_at;
	c->seq = st->next_seq++;
	st->contacts[st->ncontacts++] = c;
	return c;
}

/* Borrowed; merged contacts are found too (callers check merged_into). */
struct sim_contact *
sim_contact_find(struct sim_store *st, const char *id)
{
	size_t	i;

	for (i = 0; i < st->ncontacts; i++)
		if (strcmp(st->contacts[i]->id, id) == 0)
			return st->contacts[i];
	return NULL;
}

/* Follows merge chains; the hop cap only guards against a corrupt store. */
struct sim_contact *
sim_contact_canonical(struct sim_store *st, struct sim_contact *c)
{
	struct sim_contact	*n;
	int			 hops;

	for (hops = 0; c != NULL && c->merged_into[0] != '\0' && hops < 64;
	    hops++) {
		if ((n = sim_contact_find(st, c->merged_into)) == NULL)
			break;
		c = n;
	}
	return c;
}

/*
 * First non-merged contact whose email (case-insensitive) or external_id
 * equals the given ones: the POST /contacts 409 rule.
 */
struct sim_contact *
sim_contact_dup(struct sim_store *st, const char *email, const char *extid)
{
	struct sim_contact	*c;
	size_t			 i;

	for (i = 0; i < st->ncontacts; i++) {
		c = st->contacts[i];
		if (c->merged_into[0] != '\0')
			continue;
		/* Only users are unique by email: leads may share one. */
		if (email != NULL && c->email != NULL &&
		    strcmp(c->role, "user") == 0 &&
		    strcasecmp(email, c->email) == 0)
			return c;
		if (extid != NULL && c->external_id != NULL &&
		    strcmp(extid, c->external_id) == 0)
			return c;
	}
	return NULL;
}

struct sim_conv *
sim_conv_new(struct sim_store *st, double visible_at)
{
	struct sim_conv	*cv;

	if (sim_grow(&st->convs, &st->capconvs, st->nconvs,
	    sizeof(*st->convs)) == -1)
		return NULL;
	if ((cv = calloc(1, sizeof(*cv))) == NULL)
		return NULL;
	snprintf(cv->id, sizeof(cv->id), "%llu", st->next_conv++);
	snprintf(cv->msg_id, sizeof(cv->msg_id), "%llu", st->next_msg++);
	strcpy(cv->state, "open");
	cv->created_at = cv->updated_at = (long long)sim_now();
	cv->visible_at = visible_at;
	cv->seq = st->next_seq++;
	st->convs[st->nconvs++] = cv;
	return cv;
}

struct sim_conv *
sim_conv_find(struct sim_store *st, const char *id)
{
	size_t	i;

	for (i = 0; i < st->nconvs; i++)
		if (strcmp(st->convs[i]->id, id) == 0)
			return st->convs[i];
	return NULL;
}

/*
 * Append a part; body (may be NULL) and ids are copied.  Part ids come
 * from one workspace-wide counter, as Intercom's do.  Borrowed result, valid until
 * the next part is added.
 */
struct sim_part *
sim_conv_add_part(struct sim_store *st, struct sim_conv *cv, const char *type,
    const char *body,
    const char *author_type, const char *author_id, long long now)
{
	struct sim_part	*p;

	if (sim_grow(&cv->parts, &cv->capparts, cv->nparts,
	    sizeof(*cv->parts)) == -1)
		return NULL;
	p = &cv->parts[cv->nparts];
	memset(p, 0, sizeof(*p));
	if ((p->part_type = strdup(type)) == NULL)
		return NULL;
	if (body != NULL && (p->body = strdup(body)) == NULL) {
		free(p->part_type);
		return NULL;
	}
	snprintf(p->id, sizeof(p->id), "%llu", st->next_part++);
	snprintf(p->author_type, sizeof(p->author_type), "%s", author_type);
	snprintf(p->author_id, sizeof(p->author_id), "%s", author_id);
	p->created_at = now;
	cv->nparts++;
	cv->updated_at = now;
	return p;
}

struct sim_tag *
sim_tag_find(struct sim_store *st, const char *id)
{
	size_t	i;

	for (i = 0; i < st->ntags; i++)
		if (strcmp(st->tags[i].id, id) == 0)
			return &st->tags[i];
	return NULL;
}

/* Tag names are case-insensitive in Intercom. */
struct sim_tag *
sim_tag_find_name(struct sim_store *st, const char *name)
{
	size_t	i;

	for (i = 0; i < st->ntags; i++)
		if (strcasecmp(st->tags[i].name, name) == 0)
			return &st->tags[i];
	return NULL;
}

struct sim_tag *
sim_tag_new(struct sim_store *st, const char *name)
{
	struct sim_tag	*t;

	if (sim_grow(&st->tags, &st->captags, st->ntags,
	    sizeof(*st->tags)) == -1)
		return NULL;
	t = &st->tags[st->ntags];
	if ((t->name = strdup(name)) == NULL)
		return NULL;
	snprintf(t->id, sizeof(t->id), "%llu", st->next_tag++);
	st->ntags++;
	return t;
}

/* Attribute names are unique per model, case-insensitively. */
struct sim_attr *
sim_attr_find(struct sim_store *st, const char *model, const char *name)
{
	size_t	i;

	for (i = 0; i < st->nattrs; i++)
		if (strcmp(st->attrs[i].model, model) == 0 &&
		    strcasecmp(st->attrs[i].name, name) == 0)
			return &st->attrs[i];
	return NULL;
}

struct sim_attr *
sim_attr_add(struct sim_store *st, const char *model, const char *name,
    const char *type)
{
	struct sim_attr	*a;

	if (sim_grow(&st->attrs, &st->capattrs, st->nattrs,
	    sizeof(*st->attrs)) == -1)
		return NULL;
	a = &st->attrs[st->nattrs];
	if ((a->name = strdup(name)) == NULL)
		return NULL;
	a->id = (long long)st->next_attr++;
	snprintf(a->model, sizeof(a->model), "%s", model);
	snprintf(a->data_type, sizeof(a->data_type), "%s", type);
	a->created_at = (long long)sim_now();
	st->nattrs++;
	return a;
}

/* In a participant list, from becomes into, and into is listed once. */
static void
merge_ids(char (*ids)[SIM_CID_LEN], size_t *n, const char *from,
    const char *into)
{
	size_t	j, w;
	bool	has = false;

	for (j = 0; j < *n; j++)
		if (strcmp(ids[j], into) == 0)
			has = true;
	for (j = w = 0; j < *n; j++) {
		if (strcmp(ids[j], from) == 0) {
			if (has)
				continue;
			strcpy(ids[j], into);
			has = true;
		}
		memmove(ids[w++], ids[j], SIM_CID_LEN);
	}
	*n = w;
}

/*
 * Merge from into into: the source disappears from search, its reads
 * answer 410, its conversations and tickets move to the target, its
 * companies are attached to the target too, and the target gains
 * the fields it lacked (Intercom keeps the user's values on conflict).
 */
int
sim_merge(struct sim_store *st, struct sim_contact *from,
    struct sim_contact *into, bool by_sim)
{
	struct sim_conv		*cv;
	struct sim_merge	*m;
	const char		*k;
	json_t			*v;
	size_t			 i, j;
	char			**fields[3][2] = {
		{ &from->email, &into->email },
		{ &from->phone, &into->phone },
		{ &from->name, &into->name },
	};

	if (sim_grow(&st->merges, &st->capmerges, st->nmerges,
	    sizeof(*st->merges)) == -1)
		return -1;
	for (i = 0; i < 3; i++)
		if (*fields[i][1] == NULL && *fields[i][0] != NULL &&
		    (*fields[i][1] = strdup(*fields[i][0])) == NULL)
			return -1;
	/* The target keeps its companies and gains the source's. */
	for (i = 0; i < from->ncompanies; i++)
		if (sim_company_attach(into, from->companies[i]) == -1)
			return -1;
	json_object_foreach(from->custom, k, v)
		if (json_object_get(into->custom, k) == NULL ||
		    json_is_null(json_object_get(into->custom, k)))
			json_object_set(into->custom, k, v);
	for (i = 0; i < st->ntickets; i++)
		merge_ids(st->tickets[i]->contact_ids,
		    &st->tickets[i]->ncontacts, from->id, into->id);
	for (i = 0; i < st->nconvs; i++) {
		cv = st->convs[i];
		merge_ids(cv->contact_ids, &cv->ncontacts, from->id, into->id);
		if (strcmp(cv->author_id, from->id) == 0)
			strcpy(cv->author_id, into->id);
		for (j = 0; j < cv->nparts; j++)
			if (strcmp(cv->parts[j].author_id, from->id) == 0)
				strcpy(cv->parts[j].author_id, into->id);
	}
	strcpy(from->merged_into, into->id);
	into->updated_at = (long long)sim_now();
	m = &st->merges[st->nmerges++];
	strcpy(m->from, from->id);
	strcpy(m->into, into->id);
	m->at = into->updated_at;
	m->by_sim = by_sim;
	return 0;
}

/* New company, owned by the store, searchable at once (no lag). */
struct sim_company *
sim_company_new(struct sim_store *st)
{
	struct sim_company	*co;

	if (sim_grow(&st->companies, &st->capcompanies, st->ncompanies,
	    sizeof(*st->companies)) == -1)
		return NULL;
	if ((co = calloc(1, sizeof(*co))) == NULL)
		return NULL;
	if ((co->custom = json_object()) == NULL) {
		free(co);
		return NULL;
	}
	snprintf(co->id, sizeof(co->id), "6a5c%020llx", st->next_company++);
	co->plan = -1;
	co->created_at = co->updated_at = (long long)sim_now();
	co->seq = st->next_seq++;
	st->companies[st->ncompanies++] = co;
	return co;
}

/* By Intercom's id; borrowed. */
struct sim_company *
sim_company_find(struct sim_store *st, const char *id)
{
	size_t	i;

	for (i = 0; i < st->ncompanies; i++)
		if (strcmp(st->companies[i]->id, id) == 0)
			return st->companies[i];
	return NULL;
}

/* By the workspace's own company_id; borrowed. */
struct sim_company *
sim_company_find_ext(struct sim_store *st, const char *company_id)
{
	size_t	i;

	for (i = 0; i < st->ncompanies; i++)
		if (st->companies[i]->company_id != NULL &&
		    strcmp(st->companies[i]->company_id, company_id) == 0)
			return st->companies[i];
	return NULL;
}

/* Attach company id to c once; attaching twice changes nothing. */
int
sim_company_attach(struct sim_contact *c, const char *id)
{
	char	(*p)[SIM_CID_LEN];
	size_t	 i;

	for (i = 0; i < c->ncompanies; i++)
		if (strcmp(c->companies[i], id) == 0)
			return 0;
	if ((p = reallocarray(c->companies, c->ncompanies + 1,
	    sizeof(*c->companies))) == NULL)
		return -1;
	c->companies = p;
	snprintf(c->companies[c->ncompanies++], SIM_CID_LEN, "%s", id);
	return 0;
}

/* Index of plan name, added on first use; -1: out of memory. */
int
sim_plan_id(struct sim_store *st, const char *name)
{
	size_t	i;

	for (i = 0; i < st->nplans; i++)
		if (strcmp(st->plans[i], name) == 0)
			return (int)i;
	if (sim_grow(&st->plans, &st->capplans, st->nplans,
	    sizeof(*st->plans)) == -1 ||
	    (st->plans[st->nplans] = strdup(name)) == NULL)
		return -1;
	return (int)st->nplans++;
}

/* New ticket (type and state left to the caller), owned by the store. */
struct sim_ticket *
sim_ticket_new(struct sim_store *st, double visible_at)
{
	struct sim_ticket	*t;

	if (sim_grow(&st->tickets, &st->captickets, st->ntickets,
	    sizeof(*st->tickets)) == -1)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->attrs = json_object()) == NULL) {
		free(t);
		return NULL;
	}
	snprintf(t->id, sizeof(t->id), "%llu", st->next_ticket++);
	snprintf(t->ticket_id, sizeof(t->ticket_id), "%llu",
	    st->next_ticket_num++);
	t->type = &sim_ticket_types[0];
	t->state = &sim_ticket_states[0];
	t->open = true;
	t->created_at = t->updated_at = (long long)sim_now();
	t->visible_at = visible_at;
	t->seq = st->next_seq++;
	st->tickets[st->ntickets++] = t;
	return t;
}

struct sim_ticket *
sim_ticket_find(struct sim_store *st, const char *id)
{
	size_t	i;

	for (i = 0; i < st->ntickets; i++)
		if (strcmp(st->tickets[i]->id, id) == 0)
			return st->tickets[i];
	return NULL;
}

const struct sim_ticket_type *
sim_ticket_type_find(const char *id)
{
	size_t	i;

	for (i = 0; sim_ticket_types[i].id != NULL; i++)
		if (strcmp(sim_ticket_types[i].id, id) == 0)
			return &sim_ticket_types[i];
	return NULL;
}

const struct sim_ticket_state *
sim_ticket_state_find(const char *id)
{
	size_t	i;

	for (i = 0; sim_ticket_states[i].id != NULL; i++)
		if (strcmp(sim_ticket_states[i].id, id) == 0)
			return &sim_ticket_states[i];
	return NULL;
}

/* New draft article with no text, owned by the store. */
struct sim_article *
sim_article_new(struct sim_store *st)
{
	struct sim_article	*a;

	if (sim_grow(&st->articles, &st->caparticles, st->narticles,
	    sizeof(*st->articles)) == -1)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	snprintf(a->id, sizeof(a->id), "%llu", st->next_article++);
	strcpy(a->state, "draft");
	a->author_id = 1001;
	a->created_at = a->updated_at = (long long)sim_now();
	a->seq = st->next_seq++;
	st->articles[st->narticles++] = a;
	return a;
}

struct sim_article *
sim_article_find(struct sim_store *st, const char *id)
{
	size_t	i;

	for (i = 0; i < st->narticles; i++)
		if (strcmp(st->articles[i]->id, id) == 0)
			return st->articles[i];
	return NULL;
}

static json_t *
str_or_null(const char *s)
{
	return s == NULL ? json_null() : json_string(s);
}

static json_t *
id_or_null(long long id)
{
	char	buf[32];

	if (id == 0)
		return json_null();
	snprintf(buf, sizeof(buf), "%lld", id);
	return json_string(buf);
}

static json_t *
state_conv(const struct sim_conv *cv, struct sim_store *st, double now)
{
	const struct sim_part	*p;
	const struct sim_tag	*t;
	json_t			*o, *ids, *tags, *parts;
	size_t			 i;

	ids = json_array();
	for (i = 0; i < cv->ncontacts; i++)
		json_array_append_new(ids, json_string(cv->contact_ids[i]));
	tags = json_array();
	for (i = 0; i < cv->ntags; i++) {
		t = sim_tag_find(st, cv->tags[i].tag_id);
		json_array_append_new(tags, json_pack("{s:s,s:o,s:I}",
		    "id", cv->tags[i].tag_id,
		    "name", str_or_null(t ? t->name : NULL),
		    "applications", (json_int_t)cv->tags[i].applications));
	}
	parts = json_array();
	for (i = 0; i < cv->nparts; i++) {
		p = &cv->parts[i];
		json_array_append_new(parts, json_pack(
		    "{s:s,s:s,s:o,s:s,s:s,s:o,s:I}",
		    "id", p->id, "part_type", p->part_type,
		    "body", str_or_null(p->body),
		    "author_type", p->author_type, "author_id", p->author_id,
		    "assigned_to", p->assigned_type[0] ?
		    json_string(p->assigned_id) : json_null(),
		    "created_at", (json_int_t)p->created_at));
	}
	o = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:s,s:o,s:o,s:o,s:o,"
	    "s:b}",
	    "id", cv->id, "contact_ids", ids, "body", str_or_null(cv->body),
	    "body_sent", str_or_null(cv->body_sent),
	    "title", str_or_null(cv->title),
	    "custom_attributes", cv->custom ? json_incref(cv->custom) :
	    json_object(),
	    "created_at", (json_int_t)cv->created_at,
	    "updated_at", (json_int_t)cv->updated_at,
	    "state", cv->state,
	    "admin_assignee_id", id_or_null(cv->admin_assignee),
	    "team_assignee_id", id_or_null(cv->team_assignee),
	    "tags", tags, "parts", parts,
	    "searchable", now >= cv->visible_at);
	return o;
}

static json_t *
ids_json(char (*ids)[SIM_CID_LEN], size_t n)
{
	json_t	*a;
	size_t	 i;

	a = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(ids[i]));
	return a;
}

static json_t *
state_company(struct sim_store *st, const struct sim_company *co)
{
	return json_pack("{s:s,s:o,s:o,s:o,s:I,s:O,s:I}", "id", co->id,
	    "company_id", str_or_null(co->company_id),
	    "name", str_or_null(co->name),
	    "plan", co->plan >= 0 ? json_string(st->plans[co->plan]) :
	    json_null(), "monthly_spend", (json_int_t)co->monthly_spend,
	    "custom_attributes", co->custom,
	    "updated_at", (json_int_t)co->updated_at);
}

static json_t *
state_ticket(const struct sim_ticket *t, double now)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:O,s:b,s:I,s:I,s:b}",
	    "id", t->id, "ticket_id", t->ticket_id,
	    "ticket_type_id", t->type->id, "state", t->state->category,
	    "contact_ids", ids_json(t->contact_ids, t->ncontacts),
	    "ticket_attributes", t->attrs, "open", t->open,
	    "created_at", (json_int_t)t->created_at,
	    "updated_at", (json_int_t)t->updated_at,
	    "searchable", now >= t->visible_at);
}

/* New reference: the data half of GET /_sim/state. */
json_t *
sim_store_state(struct sim_store *st, double now)
{
	const struct sim_contact	*c;
	json_t				*o, *a;
	size_t				 i;

	o = json_object();
	a = json_array();
	for (i = 0; i < st->ncontacts; i++) {
		c = st->contacts[i];
		json_array_append_new(a, json_pack(
		    "{s:s,s:s,s:o,s:o,s:o,s:o,s:O,s:b,s:o,s:I,s:I,s:b}",
		    "id", c->id, "role", c->role,
		    "email", str_or_null(c->email),
		    "phone", str_or_null(c->phone),
		    "name", str_or_null(c->name),
		    "external_id", str_or_null(c->external_id),
		    "custom_attributes", c->custom,
		    "archived", c->archived,
		    "merged_into", c->merged_into[0] ?
		    json_string(c->merged_into) : json_null(),
		    "created_at", (json_int_t)c->created_at,
		    "updated_at", (json_int_t)c->updated_at,
		    "searchable", c->merged_into[0] == '\0' &&
		    now >= c->visible_at));
	}
	json_object_set_new(o, "contacts", a);
	for (i = 0; i < st->ncontacts; i++)
		json_object_set_new(json_array_get(a, i), "companies",
		    ids_json(st->contacts[i]->companies,
		    st->contacts[i]->ncompanies));
	a = json_array();
	for (i = 0; i < st->nconvs; i++)
		json_array_append_new(a, state_conv(st->convs[i], st, now));
	json_object_set_new(o, "conversations", a);
	a = json_array();
	for (i = 0; i < st->ntags; i++)
		json_array_append_new(a, json_pack("{s:s,s:s}",
		    "id", st->tags[i].id, "name", st->tags[i].name));
	json_object_set_new(o, "tags", a);
	a = json_array();
	for (i = 0; i < st->nattrs; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}",
		    "name", st->attrs[i].name, "model", st->attrs[i].model,
		    "data_type", st->attrs[i].data_type));
	json_object_set_new(o, "data_attributes", a);
	a = json_array();
	for (i = 0; i < st->nmerges; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:s}",
		    "from", st->merges[i].from, "into", st->merges[i].into,
		    "at", (json_int_t)st->merges[i].at,
		    "by", st->merges[i].by_sim ? "sim" : "api"));
	json_object_set_new(o, "merges", a);
	a = json_array();
	for (i = 0; i < st->ncompanies; i++)
		json_array_append_new(a, state_company(st, st->companies[i]));
	json_object_set_new(o, "companies", a);
	a = json_array();
	for (i = 0; i < st->ntickets; i++)
		json_array_append_new(a, state_ticket(st->tickets[i], now));
	json_object_set_new(o, "tickets", a);
	a = json_array();
	for (i = 0; i < st->narticles; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:I}",
		    "id", st->articles[i]->id, "title", st->articles[i]->title ?
		    st->articles[i]->title : "", "state", st->articles[i]->state,
		    "updated_at", (json_int_t)st->articles[i]->updated_at));
	json_object_set_new(o, "articles", a);
	return o;
}

const struct sim_beh_info sim_behs[SB_NBEH] = {
	{ "from_type_role", true },
	{ "future_created_at", true },
	{ "lead_email_409", true },
	{ "plain_body_html", true },
	{ "formatted_phone", true },
	{ "part_body_normalise", false },
	{ "conv_attr_400", false },
	{ "formatted_phone_400", false },
	{ "conv_sort", true },
};

/* {"name": bool, ...}: all checked, then applied; -1 with err. */
bool	sim_beh[SB_NBEH];

int
sim_beh_set(json_t *o, char *err, size_t errsz)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	if (!json_is_object(o)) {
		snprintf(err, errsz, "behaviours must be an object");
		return -1;
	}
	json_object_foreach(o, k, v) {
		for (i = 0; i < SB_NBEH; i++)
			if (strcmp(sim_behs[i].name, k) == 0)
				break;
		if (i == SB_NBEH || !json_is_boolean(v)) {
			snprintf(err, errsz, "behaviours: unknown name or not "
			    "a boolean: '%.64s'", k);
			return -1;
		}
	}
	json_object_foreach(o, k, v)
		for (i = 0; i < SB_NBEH; i++)
			if (strcmp(sim_behs[i].name, k) == 0)
				sim_beh[i] = json_is_true(v);
	return 0;
}

json_t *
sim_beh_json(void)
{
	json_t	*o = json_object();
	size_t	 i;

	for (i = 0; i < SB_NBEH; i++)
		json_object_set_new(o, sim_behs[i].name,
		    json_boolean(sim_beh[i]));
	return o;
}

/*
 * Plain text (POST /conversations: "HTML is not supported") as the HTML
 * Intercom shows in source.body (the 2.16 examples show "<p>...</p>"):
 * markup escaped, so a tag sent appears literally; blank lines as
 * paragraphs, line breaks as <br>.  How Intercom turns line breaks into
 * markup is unverified (sandbox-check reports it).  New string.
 */
char *
sim_text_html(const char *t)
{
	size_t	 n = strlen(t), i, nl;
	char	*out, *o;

	if ((out = malloc(n * 6 + 8)) == NULL)
		return NULL;
	o = out;
	o += sprintf(o, "<p>");
	for (i = 0; i < n; ) {
		if (t[i] == '\n' || t[i] == '\r') {
			for (nl = 0; i < n && (t[i] == '\n' || t[i] == '\r');
			    i++)
				nl += t[i] == '\n';
			o += sprintf(o, "%s", nl >= 2 ? "</p><p>" : "<br>");
			continue;
		}
		switch (t[i]) {
		case '&':
			o += sprintf(o, "&amp;");
			break;
		case '<':
			o += sprintf(o, "&lt;");
			break;
		case '>':
			o += sprintf(o, "&gt;");
			break;
		case '"':
			o += sprintf(o, "&quot;");
			break;
		default:
			*o++ = t[i];
		}
		i++;
	}
	sprintf(o, "</p>");
	return out;
}

/*
 * formatted_phone: the stored phone "normalized to the E164 format" (the
 * Preview description's words; 2.16 lists the field as searchable and
 * does not describe it).  Digits of phone with a leading '+'; a number
 * without one is taken as it is (+ prepended), since the workspace's
 * region is unknown here.  New string, NULL for no phone.
 */
char *
sim_phone_e164(const char *phone)
{
	char	*out, *o;
	size_t	 i;

	if (phone == NULL || (out = malloc(strlen(phone) + 2)) == NULL)
		return NULL;
	o = out;
	*o++ = '+';
	for (i = 0; phone[i] != '\0'; i++)
		if (phone[i] >= '0' && phone[i] <= '9')
			*o++ = phone[i];
	*o = '\0';
	if (o - out < 2) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * An admin part's body re-serialised, as a rich-text editor would store
 * it (invented: Intercom's normalisation of HTML bodies is unknown, and
 * sandbox-check reports what it does): <p> gains a class, <br> becomes
 * <br/>, &quot; and &#39; are written as the characters.  New string.
 */
char *
sim_html_reserialise(const char *h)
{
	static const struct { const char *from, *to; } rw[] = {
		{ "<p>", "<p class=\"no-margin\">" }, { "<br>", "<br/>" },
		{ "&quot;", "\"" }, { "&#39;", "'" }, { NULL, NULL } };
	char	*out, *o;
	size_t	 i;

	if ((out = malloc(strlen(h) * 3 + 1)) == NULL)
		return NULL;
	for (o = out; *h != '\0'; ) {
		for (i = 0; rw[i].from != NULL; i++)
			if (strncmp(h, rw[i].from, strlen(rw[i].from)) == 0)
				break;
		if (rw[i].from != NULL) {
			o += sprintf(o, "%s", rw[i].to);
			h += strlen(rw[i].from);
		} else
			*o++ = *h++;
	}
	*o = '\0';
	return out;
}

/* DELETE: c leaves the store (freed); ids pointing at it find nothing. */
void
sim_contact_delete(struct sim_store *st, struct sim_contact *c)
{
	size_t	i;

	for (i = 0; i < st->ncontacts; i++)
		if (st->contacts[i] == c) {
			memmove(&st->contacts[i], &st->contacts[i + 1],
			    (st->ncontacts - i - 1) * sizeof(*st->contacts));
			st->ncontacts--;
			contact_free(c);
			return;
		}
}

void
sim_conv_delete(struct sim_store *st, struct sim_conv *cv)
{
	size_t	i;

	for (i = 0; i < st->nconvs; i++)
		if (st->convs[i] == cv) {
			memmove(&st->convs[i], &st->convs[i + 1],
			    (st->nconvs - i - 1) * sizeof(*st->convs));
			st->nconvs--;
			conv_free(cv);
			return;
		}
}
