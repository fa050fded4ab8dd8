/*
 * sim.h: shared declarations of intercom-sim, the in-memory Intercom REST
 * API 2.16 simulator used by callsync's tests.  The simulator is one
 * process with one libevent loop: sim.c owns flags, listeners, the fault
 * layer, rate limits and the request log; sim_store.c owns the data model
 * (contacts, conversations, tags, data attributes, merges, companies,
 * tickets, articles); sim_obj.c renders contacts and conversations as
 * Intercom's objects and seeds them; sim_api.c turns HTTP calls into
 * store operations and Intercom-shaped JSON, with sim_ctx.c holding the
 * endpoints a caller's context reads (companies, tickets, articles);
 * sim_hooks.c sends webhooks of the API's changes; sim_search.c validates
 * and evaluates the search query grammar and sorts search results.
 * Nothing is persisted: GET /_sim/state (and --dump) expose everything
 * for assertions.
 */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SIM_CID_LEN	25	/* 24 hex digits + NUL */
#define SIM_NID_LEN	24	/* numeric ids as strings */
#define SIM_TEAMS_ADDED	16	/* POST /_sim/teams */

struct sim_contact {
	char		 id[SIM_CID_LEN];
	char		*role;		/* "user" or "lead" */
	char		*email;		/* NULL when unset */
	char		*phone;
	char		*name;
	char		*external_id;
	json_t		*custom;	/* object, owned */
	bool		 archived;
	char		 merged_into[SIM_CID_LEN];	/* "" unless merged */
	char		(*companies)[SIM_CID_LEN];	/* attached, in order */
	size_t		 ncompanies;
	long long	 created_at;
	long long	 updated_at;
	double		 visible_at;	/* wall clock: search lag ends */
	unsigned long long seq;		/* creation order, sort tie-break */
};

struct sim_part {
	char		 id[SIM_NID_LEN];
	char		*part_type;
	char		*body;		/* NULL for bodyless parts */
	char		 author_type[8];	/* admin, user, lead, team */
	char		 author_id[SIM_CID_LEN];
	char		 assigned_type[8];	/* "" when not an assignment */
	char		 assigned_id[SIM_NID_LEN];
	long long	 created_at;
};

struct sim_ctag {
	char		 tag_id[SIM_NID_LEN];
	long long	 applied_at;
	char		 applied_by[SIM_NID_LEN];
	unsigned	 applications;	/* every POST counts, one tag kept */
};

struct sim_conv {
	char		 id[SIM_NID_LEN];
	char		 msg_id[SIM_NID_LEN];
	char		(*contact_ids)[SIM_CID_LEN];
	size_t		 ncontacts;
	char		 author_id[SIM_CID_LEN];	/* source author */
	char		*body;		/* as Intercom stores it */
	char		*body_sent;	/* as POST /conversations had it */
	char		*title;		/* PUT /conversations/{id}; NULL unset */
	json_t		*custom;	/* conversation attributes set, owned */
	long long	 created_at;
	long long	 updated_at;
	char		 state[8];	/* open, closed, snoozed */
	long long	 snoozed_until;
	long long	 admin_assignee;	/* 0: unassigned */
	long long	 team_assignee;
	struct sim_part	*parts;
	size_t		 nparts, capparts;
	struct sim_ctag	*tags;
	size_t		 ntags, captags;
	double		 visible_at;
	unsigned long long seq;
};

struct sim_tag {
	char		 id[SIM_NID_LEN];
	char		*name;
};

struct sim_attr {
	long long	 id;
	char		*name;
	char		 model[16];	/* contact, company, conversation */
	char		 data_type[16];
	long long	 created_at;
};

struct sim_merge {
	char		 from[SIM_CID_LEN];
	char		 into[SIM_CID_LEN];
	long long	 at;
	bool		 by_sim;
};

struct sim_company {
	char		 id[SIM_CID_LEN];	/* Intercom's: 24 hex digits */
	char		*company_id;	/* the workspace's own; NULL if unset */
	char		*name, *industry, *website;
	int		 plan;		/* index in sim_store.plans, -1: none */
	long long	 monthly_spend, size, session_count;
	json_t		*custom;	/* object, owned */
	long long	 created_at, updated_at, remote_created_at;
	long long	 last_request_at;
	unsigned long long seq;
};

/* Static seed data: every workspace has these ticket types and states. */
struct sim_ticket_type {
	const char	*id, *name, *category, *icon;
};
struct sim_ticket_state {
	const char	*id, *category, *internal_label, *external_label;
};
extern const struct sim_ticket_type	sim_ticket_types[];
extern const struct sim_ticket_state	sim_ticket_states[];

struct sim_ticket {
	char		 id[SIM_NID_LEN];
	char		 ticket_id[SIM_NID_LEN];	/* the Inbox's number */
	const struct sim_ticket_type *type;
	const struct sim_ticket_state *state, *prev_state;	/* prev NULL */
	char		(*contact_ids)[SIM_CID_LEN];
	size_t		 ncontacts;
	json_t		*attrs;		/* ticket_attributes, owned */
	long long	 admin_assignee, team_assignee;	/* 0: none */
	long long	 created_at, updated_at, snoozed_until;
	bool		 open;
	double		 visible_at;
	unsigned long long seq;
};

struct sim_article {
	char		 id[SIM_NID_LEN];
	char		*title, *description, *body;
	char		 state[10];	/* published, draft */
	long long	 author_id, created_at, updated_at;
	unsigned long long seq;
};

/*
 * Behaviours the worker depends on that no source fixes exactly: each
 * can be turned off (POST /_sim/control {"behaviours": {name: bool}}),
 * so a test can show the worker does not rely on it.  sim/README.md
 * says where each comes from; sim_behs[] holds names and defaults.
 */
enum sim_beh {
	SB_FROM_TYPE_ROLE,	/* invented: 400 for from.type != role */
	SB_FUTURE_CREATED_AT,	/* invented: 400 for a future created_at */
	SB_LEAD_EMAIL_409,	/* invented: 409 for a lead with a user's email */
	SB_PLAIN_BODY_HTML,	/* unverified: plain text stored as HTML */
	SB_FORMATTED_PHONE,	/* unverified: formatted_phone is E.164 */
	SB_PART_BODY_NORMALISE,	/* invented: part bodies re-serialised */
	SB_CONV_ATTR_400,
	SB_FORMATTED_PHONE_400,	/* invented: formatted_phone not searchable */	/* invented: 400 for an undefined conversation attribute */
	SB_CONV_SORT,		/* unverified: conversation search honours sort */
	SB_NBEH
};
struct sim_beh_info {
	const char	*name;
	bool		 on;		/* default */
};
extern const struct sim_beh_info sim_behs[SB_NBEH];
extern bool	 sim_beh[SB_NBEH];	/* in force; kept across a reset */

struct sim_store {
	struct sim_contact **contacts;
	size_t		 ncontacts, capcontacts;
	struct sim_conv	**convs;
	size_t		 nconvs, capconvs;
	struct sim_tag	*tags;
	size_t		 ntags, captags;
	struct sim_attr	*attrs;
	size_t		 nattrs, capattrs;
	struct sim_merge *merges;
	size_t		 nmerges, capmerges;
	struct sim_company **companies;
	size_t		 ncompanies, capcompanies;
	struct sim_ticket **tickets;
	size_t		 ntickets, captickets;
	struct sim_article **articles;
	size_t		 narticles, caparticles;
	char		**plans;	/* company plan names; id 9001 + index */
	size_t		 nplans, capplans;
	unsigned long long next_contact, next_conv, next_msg, next_part;
	unsigned long long next_tag, next_attr, next_seq;
	unsigned long long next_company, next_ticket, next_ticket_num;
	unsigned long long next_article;
	char		*attr_spec;	/* --attributes, re-applied on reset */
	bool		 companies_as_data;	/* attached list key: data */
	char		 region[8];	/* GET /me app.region (--region); "" = US */
	/* Teams made by POST /_sim/teams (a teammate creating one in the
	 * Intercom UI), after the seeded sim_teams; emptied by a reset. */
	struct sim_team_added {
		char	 id[16];
		char	 name[64];
	}		 teams_added[SIM_TEAMS_ADDED];
	size_t		 nteams_added;
	/* The simulator's own observability (invented): per search
	 * endpoint, how many requests filtered on each field and how many
	 * asked for a later page (starting_after); GET /_sim/state
	 * requests.searches.  Emptied by a reset. */
	json_t		*searches;
};

/* Static seed data: the token's admin first. */
struct sim_admin {
	const char	*id, *name, *email;
};
struct sim_team {
	const char	*id, *name;
};
extern const struct sim_admin	sim_admins[];
/* The app (workspace) id GET /me names, --app-id; "simapp01". */
extern const char	*sim_app_id;
extern const struct sim_team	sim_teams[];

/* A call as the API handlers see it; the fault layer owns the HTTP side. */
struct sim_call {
	const char	*method;
	char		 path[512];	/* path only, no query */
	const char	*query;		/* may be NULL */
	const char	*segs[8];	/* path segments, point into segbuf */
	size_t		 nsegs;
	char		 segbuf[512];
	const char	*body;
	size_t		 bodylen;
	double		 now;		/* wall clock seconds */
	double		 search_lag;	/* contacts, tickets */
	double		 conv_search_lag;	/* conversations */
	/* response */
	int		 status;
	json_t		*resp;		/* new reference */
	char		 link[96];	/* Link header, "" if none */
	char		 request_id[40];
};

/* sim_store.c */
int		 sim_grow(void *, size_t *, size_t, size_t);
double		 sim_now(void);
char		*sim_strdup(const char *);
int		 sim_store_init(struct sim_store *, const char *, char *, size_t);
void		 sim_store_free(struct sim_store *);
int		 sim_store_reset(struct sim_store *);
struct sim_contact *sim_contact_new(struct sim_store *, double);
struct sim_contact *sim_contact_find(struct sim_store *, const char *);
struct sim_contact *sim_contact_canonical(struct sim_store *,
		    struct sim_contact *);
struct sim_contact *sim_contact_dup(struct sim_store *, const char *,
		    const char *);
void		 sim_contact_delete(struct sim_store *, struct sim_contact *);
void		 sim_conv_delete(struct sim_store *, struct sim_conv *);
struct sim_conv	*sim_conv_new(struct sim_store *, double);
struct sim_conv	*sim_conv_find(struct sim_store *, const char *);
struct sim_part	*sim_conv_add_part(struct sim_store *, struct sim_conv *,
		    const char *,
		    const char *, const char *, const char *, long long);
struct sim_tag	*sim_tag_find(struct sim_store *, const char *);
struct sim_tag	*sim_tag_find_name(struct sim_store *, const char *);
struct sim_tag	*sim_tag_new(struct sim_store *, const char *);
struct sim_attr	*sim_attr_find(struct sim_store *, const char *,
		    const char *);
struct sim_attr	*sim_attr_add(struct sim_store *, const char *, const char *,
		    const char *);
bool		 sim_attr_name_ok(const char *);
bool		 sim_attr_type_ok(const char *);
int		 sim_merge(struct sim_store *, struct sim_contact *,
		    struct sim_contact *, bool);
const struct sim_admin *sim_admin_find(const char *);
bool		 sim_admin_exists(const char *);
bool		 sim_team_exists(const struct sim_store *, const char *);
int		 sim_team_add(struct sim_store *, const char *id,
		    const char *name, char *err, size_t errsz);
struct sim_company *sim_company_new(struct sim_store *);
struct sim_company *sim_company_find(struct sim_store *, const char *);
struct sim_company *sim_company_find_ext(struct sim_store *, const char *);
int		 sim_company_attach(struct sim_contact *, const char *);
int		 sim_plan_id(struct sim_store *, const char *);
struct sim_ticket *sim_ticket_new(struct sim_store *, double);
struct sim_ticket *sim_ticket_find(struct sim_store *, const char *);
const struct sim_ticket_type *sim_ticket_type_find(const char *);
const struct sim_ticket_state *sim_ticket_state_find(const char *);
struct sim_article *sim_article_new(struct sim_store *);
struct sim_article *sim_article_find(struct sim_store *, const char *);
json_t		*sim_store_state(struct sim_store *, double);
char		*sim_text_html(const char *);
char		*sim_html_reserialise(const char *);
char		*sim_phone_e164(const char *);
int		 sim_beh_set(json_t *, char *, size_t);
json_t		*sim_beh_json(void);

/* sim_search.c */
enum sim_model { SIM_CONTACT, SIM_CONVERSATION, SIM_TICKET };
/* A search's sort: field NULL keeps creation order. */
struct sim_sortkey {
	enum sim_model	 model;
	const char	*field;
	bool		 desc;
};
int		 sim_search_check(enum sim_model, json_t *, char *, size_t);
bool		 sim_search_match(enum sim_model, json_t *, const void *);
bool		 sim_search_sortable(enum sim_model, const char *);
int		 sim_search_cmp(const void *, const void *, void *);

/* sim_obj.c: Intercom's objects as the API renders them, and the seeds */
const char	*sim_obj_id(json_t *, const char *, char *, size_t);
json_t		*sim_obj_str(const char *);
json_t		*sim_obj_contact(struct sim_store *, const struct sim_contact *);
int		 sim_obj_set_contact(struct sim_store *, struct sim_contact *,
		    json_t *, bool, char *, size_t);
json_t		*sim_obj_contact_refs(struct sim_store *,
		    char (*)[SIM_CID_LEN], size_t);
json_t		*sim_obj_tag(struct sim_store *, const struct sim_ctag *);
/* Parts: with conversation_parts (GET /conversations/{id}) or not. */
json_t		*sim_obj_conv(struct sim_store *, const struct sim_conv *,
		    bool parts);
/* The same with conversation_parts holding part p alone, as the
 * conversation.admin.* webhooks carry the part they report. */
json_t		*sim_obj_conv_part(struct sim_store *,
		    const struct sim_conv *, const struct sim_part *);
bool		 sim_obj_ints_ok(json_t *, const char *const *, char *,
		    size_t);
int		 sim_obj_contact_list(struct sim_store *, json_t *,
		    char (**)[SIM_CID_LEN], size_t *, char *, size_t);
json_t		*sim_obj_seed_conv(struct sim_store *, json_t *, char *,
		    size_t);

/* sim_api.c */
/* An endpoint: method and path template ("{id}" any one segment). */
struct sim_route {
	const char	*method;
	const char	*tmpl;
	void		(*fn)(struct sim_store *, struct sim_call *);
};
/*
 * A search endpoint for sim_api_find(): what it lists and how.  cmp NULL
 * sorts only when the body's sort names a sortable field of the model.
 */
struct sim_find {
	enum sim_model	 model;
	size_t		 per_page;	/* default page size */
	const char	*type, *key;	/* list type, the array's key */
	size_t		 count;		/* objects nth() yields */
	const void	*(*nth)(struct sim_store *, size_t);
	bool		 (*visible)(const void *, double);
	json_t		*(*render)(struct sim_store *, const void *);
	int		 (*cmp)(const void *, const void *, void *);
};
void		 sim_api_handle(struct sim_store *, struct sim_call *);
/* Routes (ending { NULL }) of endpoints another file holds. */
void		 sim_api_add_routes(const struct sim_route *);
void		 sim_api_find(struct sim_store *, struct sim_call *,
		    const struct sim_find *);
json_t		*sim_api_body(struct sim_call *);
void		 sim_api_ok(struct sim_call *, json_t *);
void		 sim_api_oom(struct sim_call *);
int		 sim_api_paging(struct sim_call *, json_t *, size_t, size_t *,
		    size_t *);
json_t		*sim_api_pages(size_t, size_t, size_t);
int		 sim_api_sort(struct sim_call *, json_t *, bool,
		    struct sim_sortkey *);
struct sim_contact *sim_api_path_contact(struct sim_store *,
		    struct sim_call *);
const char	*sim_api_endpoint(const char *, const char *, char *, size_t);
void		 sim_api_error(struct sim_call *, int, const char *,
		    const char *);
/* GET /teams/{id}'s answer for team id (seeded or added), or NULL. */
json_t		*sim_api_team(const struct sim_store *, const char *id);

/* sim_ctx.c */
extern const struct sim_route sim_ctx_routes[];
bool		 sim_ctx_seedable(const char *);
json_t		*sim_ctx_seed(struct sim_store *, const char *, json_t *,
		    char *, size_t);

#endif /* SIM_H */
