/*
 * conf: the INI configuration of docs/contract.md section 3, parsed into
 * struct conf.  One table in conf.c (section, key, type, default,
 * range, help) drives parsing, validation and the documentation.
 *
 * Precedence: built-in defaults, then the file, then the environment
 * (CALLSYNC_TOKEN_<WORKSPACE>, upper-cased, '-' -> '_'), then flags.
 */
#ifndef CALLSYNC_CONF_H
#define CALLSYNC_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define CONF_MAX_LIST	32		/* tags, attributes, routes per workspace */

/* Where a routed conversation goes. */
struct conf_route {
	char	*category;		/* lower-case category, or NULL = escalation */
	char	 kind;			/* 't' team, 'a' admin */
	char	*id;			/* Intercom team or admin id */
};

struct conf_ws {
	char	*name;			/* section name: [workspace NAME] */
	char	*api_base;		/* https://api.intercom.io (no trailing /) */
	char	*token;			/* secret: never log; NULL until loaded */
	char	*token_file;		/* mode must not allow group/other read */
	char	*intercom_version;	/* "2.16" */
	char	*admin_id;		/* acting "Voice AI" admin */
	char	*default_region;	/* ISO 3166 alpha-2, e.g. "US" */
	char	*default_tags[CONF_MAX_LIST];
	size_t	 ndefault_tags;
	char	*allowed_attributes[CONF_MAX_LIST];
	size_t	 nallowed_attributes;
	struct conf_route routes[CONF_MAX_LIST];	/* route = cat:team:ID, ... */
	size_t	 nroutes;
	struct conf_route escalation;	/* escalation_team / escalation_admin */
	bool	 has_escalation;
	bool	 allow_public_replies;	/* default false */
	bool	 audit_bodies;		/* store request bodies in audit rows */
	bool	 merge_duplicates;	/* merge a lead into the matching user */
	bool	 unarchive;		/* unarchive an archived contact on 409 */
	int	 max_attempts;		/* record-caused failures; default 25 */
	time_t	 max_age;		/* seconds; default 7d */
	int	 max_inflight;		/* concurrent requests; default 8 */
	int	 rate_limit;		/* requests/minute we allow ourselves; 0 = server's */
	int	 request_timeout;	/* seconds per request; default 30 */
	int	 connect_timeout;	/* seconds; default 10 */
	int	 settle_margin;	/* seconds past request_timeout a write may still land; default 5 */
	int	 search_lag;		/* seconds to keep reconciling; default 300 */
	int	 search_lag_share;	/* % of the rate budget for lag samples (lag.c) */
	time_t	 config_recheck;	/* seconds between re-reads of GET /teams,
					 * /admins (paused for configuration; a
					 * record's unknown team/admin); 60 */
	size_t	 max_body;		/* bytes per conversation/note body; default 16384 */
	char	*ca_file;		/* optional CA bundle (tests with TLS) */
	char	*proxy;			/* proxy URL (may hold a password: never
					 * log it, conf_proxy_show), "none", or
					 * NULL: libcurl reads the environment */
	char	*context_attributes[CONF_MAX_LIST];	/* shown in context */
	size_t	 ncontext_attributes;
	char	*context_company_attributes[CONF_MAX_LIST];
	size_t	 ncontext_company_attributes;
	char	*webhook_secret_file;	/* Intercom app client secret(s), 0600 */
	char	*callback_tag;		/* tag asking for a call back; NULL = off */
	char	*callback_team;		/* team id: assigned there asks for a call; NULL = off */
	char	*callback_note;		/* phrase in an admin note asking for a call; NULL = off */
	int	 poll_share;		/* % of the rate budget for polling (poller.c) */
};

struct conf {
	char	*path;			/* file it was read from, or NULL */
	char	*database;		/* default /var/lib/callsync/outbox.db */
	char	*listen;		/* health/metrics; "" disables */
	bool	 listen_public;		/* deprecated, no effect (listen_token_file) */
	char	*listen_token_file;	/* bearer token of the local API, 0600 */
	char	*listen_token;		/* secret: never log; NULL = no auth */
	int	 context_deadline_ms;	/* /v1/context answer deadline; 800 */
	int	 context_share;		/* % of a window reads may jump; 50 */
	int	 context_conversations;	/* conversations per context; 5 */
	time_t	 context_ttl;		/* cached context fresh this long; 5m */
	time_t	 context_max_age;	/* deleted past this; 30d */
	int	 context_warm;		/* warm the last N calls' callers; 0 */
	int	 context_warm_share;	/* % of a window warm-up may use; 5 */
	time_t	 health_max_age;	/* /healthz: oldest pending; 0 = off */
	char	*synchronous;		/* "full" (default) or "normal" */
	char	*log_format;		/* "text" (default) or "json" */
	int	 lease;			/* seconds a claim holds; default 120 */
	int	 poll_interval_ms;	/* idle outbox poll; default 500 */
	bool	 wake_on_enqueue;	/* inotify wake-up (wake.h); default true */
	int	 batch;			/* records claimed per poll; default 32 */
	int	 retry_base_ms;		/* backoff: first ceiling; default 2000 */
	time_t	 retry_max;		/* backoff cap, seconds; default 300 */
	char	*webhook_listen;	/* webhook receiver; "" disables */
	time_t	 task_max_age;		/* /healthz: oldest due task; 0 = off */
	struct conf_ws	*ws;
	size_t		 nws;
};

/*
 * Parse path into a new struct conf (free with conf_free).  On error,
 * returns NULL and writes "file:line: [section] key: message" into err.
 * Token files are read and checked (mode 0600 or stricter) unless
 * load_tokens is false (the tool's offline commands do not need them).
 */
struct conf	*conf_load(const char *path, bool load_tokens, char *err, size_t errsz);
/* Defaults only: used with --db and no config. */
struct conf	*conf_default(void);
void		 conf_free(struct conf *);
/* Borrowed pointer to the workspace called name, or NULL. */
struct conf_ws	*conf_ws_find(const struct conf *, const char *name);
/* (Re)read [worker] listen_token_file into c->listen_token; 0 when
 * unset or read, -1 with err ("[worker] listen_token_file: why"). */
int		 conf_load_listen_token(struct conf *, char *err, size_t errsz);
/* Re-read the token (file or env) of ws; 0 on success, -1 with err set. */
int		 conf_ws_load_token(struct conf_ws *, char *err, size_t errsz);
/* Where ws's token comes from, for people: "environment
 * (CALLSYNC_TOKEN_ACME)", "file (token_file = PATH)", "inline (...)" or
 * "none (...)"; written into buf, which is returned.  Never the token. */
const char	*conf_ws_token_source(const struct conf_ws *, char *buf,
		    size_t bufsz);
/* "7d", "12h", "30m", "45s", "90" -> seconds; -1 when malformed. */
long long	 conf_parse_duration(const char *);

/* The proxy libcurl is to use for ws: NULL (the environment's), ""
 * (none), or the URL (borrowed). */
const char	*conf_ws_proxy(const struct conf_ws *);
/* A proxy URL as people may see it: without user and password. */
void		 conf_proxy_show(const char *url, char *buf, size_t bufsz);
/* The proxy ws goes through, for messages: the proxy key, else the
 * environment's variable (named), without credentials. */
void		 conf_ws_proxy_show(const struct conf_ws *, char *buf,
		    size_t bufsz);

/* Whether host (no port, no brackets) is a loopback address or name. */
bool	 conf_is_loopback(const char *host);

#endif
