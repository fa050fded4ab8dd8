/*
 * conf: parse the INI configuration (docs/contract.md section 3) into a struct
 * conf.  One table, keys[] below, names every key with its section, type,
 * default (as text), range and help; it drives parsing, the defaults and
 * validation, and man/callsync.conf.5 and callsync.conf.example follow it.
 *
 * The INI syntax is inih's (libinih, which it used until Debian 12's build
 * turned out to cut lines at 200 bytes with no way to lift that): key =
 * value or key: value, trimmed; ; and # start a comment line, " ;" a
 * comment after a value; no multi-line continuations.  One line reader
 * (read_line) knows the line number of every key and handles section
 * headers itself; lines up to CONF_MAX_LINE bytes.
 *
 * Errors read "file:line: [section] key: message"; the first one wins and
 * parsing stops there.  Token values never reach an error message or log
 * line: messages about tokens name the key, the file and its mode only.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#define CONF_MAX_LINE	65536	/* bytes per line, including the value */
#define CONF_MAX_WS	1024	/* workspaces per file */
#define CONF_MAX_NAME	64	/* workspace name */
#define CONF_MAX_ID	32	/* digits of an Intercom id */
#define TOKEN_MAX	4096	/* bytes of a token */

enum conf_sect {
	SECT_NONE,
	SECT_WORKER,
	SECT_WS
};

enum conf_type {
	CT_PATH,	/* non-empty string; empty = unset when no default */
	CT_SECRET,	/* inline token: checked, never shown */
	CT_HOSTPORT,	/* host:port or [v6]:port; empty = disabled */
	CT_ENUM,	/* one of choices[] */
	CT_INT,		/* int in min..max */
	CT_SIZE,	/* size_t in min..max */
	CT_DUR,		/* time_t seconds via conf_parse_duration */
	CT_BOOL,
	CT_URL,		/* http(s)://host[:port][/path]; http only to loopback */
	CT_PROXY,	/* scheme://[user:password@]host[:port], or none */
	CT_DIGITS,	/* Intercom id */
	CT_REGION,	/* ISO 3166 alpha-2 */
	CT_LIST,	/* comma-separated; off = array, off2 = count */
	CT_ROUTES,	/* category:team:ID, category:admin:ID, ... */
	CT_ESC_TEAM,	/* escalation_team */
	CT_ESC_ADMIN	/* escalation_admin */
};

struct conf_key {
	enum conf_sect		 sect;
	const char		*name;
	enum conf_type		 type;
	const char		*def;		/* as written in a file; NULL = unset */
	long long		 min, max;	/* CT_INT, CT_SIZE, CT_DUR */
	const char *const	*choices;	/* CT_ENUM */
	size_t			 off, off2;	/* into struct conf or conf_ws */
	const char		*help;
};

static const char *const sync_choices[] = { "full", "normal", NULL };
static const char *const logfmt_choices[] = { "text", "json", NULL };
static const char *const version_choices[] = {
	"1.0", "1.1", "1.2", "1.3", "1.4", "2.0", "2.1", "2.2", "2.3", "2.4",
	"2.5", "2.6", "2.7", "2.8", "2.9", "2.10", "2.11", "2.12", "2.13",
	"2.14", "2.15", "2.16", NULL
};

#define W(f)	offsetof(struct conf, f)
#define S(f)	offsetof(struct conf_ws, f)
#define DAY	86400LL

static const struct conf_key keys[] = {
	{ SECT_WORKER, "database", CT_PATH, "/var/lib/callsync/outbox.db",
	  0, 0, NULL, W(database), 0, "SQLite outbox file" },
	{ SECT_WORKER, "listen", CT_HOSTPORT, "",
	  0, 0, NULL, W(listen), 0, "health/metrics host:port; empty disables" },
	{ SECT_WORKER, "listen_public", CT_BOOL, "false",
	  0, 0, NULL, W(listen_public), 0,
	  "deprecated: no effect; see listen_token_file" },
	{ SECT_WORKER, "listen_token_file", CT_PATH, NULL,
	  0, 0, NULL, W(listen_token_file), 0,
	  "bearer token of the local API, mode 0600" },
	{ SECT_WORKER, "context_deadline_ms", CT_INT, "800",
	  20, 10000, NULL, W(context_deadline_ms), 0,
	  "/v1/context answers within this" },
	{ SECT_WORKER, "context_share", CT_INT, "50",
	  1, 100, NULL, W(context_share), 0,
	  "% of a rate window context reads may jump the drain" },
	{ SECT_WORKER, "context_conversations", CT_INT, "5",
	  1, 50, NULL, W(context_conversations), 0,
	  "conversations in a context" },
	{ SECT_WORKER, "context_ttl", CT_DUR, "5m",
	  0, 7 * DAY, NULL, W(context_ttl), 0,
	  "a cached context is fresh this long" },
	{ SECT_WORKER, "context_max_age", CT_DUR, "30d",
	  60, 3650 * DAY, NULL, W(context_max_age), 0,
	  "cached contexts are deleted past this" },
	{ SECT_WORKER, "context_warm", CT_INT, "0",
	  0, 200, NULL, W(context_warm), 0,
	  "refresh the contexts of the last N calls' callers; 0 = off" },
	{ SECT_WORKER, "context_warm_share", CT_INT, "5",
	  1, 20, NULL, W(context_warm_share), 0,
	  "% of a rate window warm-up reads may use" },
	{ SECT_WORKER, "health_max_age", CT_DUR, "15m",
	  0, 7 * DAY, NULL, W(health_max_age), 0,
	  "/healthz fails past this oldest pending age; 0 = never" },
	{ SECT_WORKER, "synchronous", CT_ENUM, "full",
	  0, 0, sync_choices, W(synchronous), 0, "SQLite durability" },
	{ SECT_WORKER, "log_format", CT_ENUM, "text",
	  0, 0, logfmt_choices, W(log_format), 0,
	  "text, or json: one object a line" },
	{ SECT_WORKER, "lease", CT_INT, "120",
	  5, 3600, NULL, W(lease), 0, "seconds a claim holds a record" },
	{ SECT_WORKER, "poll_interval_ms", CT_INT, "500",
	  10, 60000, NULL, W(poll_interval_ms), 0, "idle outbox poll" },
	{ SECT_WORKER, "wake_on_enqueue", CT_BOOL, "true",
	  0, 0, NULL, W(wake_on_enqueue), 0,
	  "inotify: an insert wakes an idle worker at once" },
	{ SECT_WORKER, "batch", CT_INT, "32",
	  1, 1000, NULL, W(batch), 0, "records claimed per poll" },
	{ SECT_WORKER, "retry_base_ms", CT_INT, "2000",
	  10, 600000, NULL, W(retry_base_ms), 0, "first retry delay ceiling" },
	{ SECT_WORKER, "retry_max", CT_DUR, "5m",
	  1, 7 * DAY, NULL, W(retry_max), 0, "longest retry delay" },
	{ SECT_WORKER, "webhook_listen", CT_HOSTPORT, "",
	  0, 0, NULL, W(webhook_listen), 0,
	  "Intercom webhook receiver host:port; empty disables" },
	{ SECT_WORKER, "task_max_age", CT_DUR, "15m",
	  0, 7 * DAY, NULL, W(task_max_age), 0,
	  "/healthz fails past this oldest due call task age; 0 = never" },

	{ SECT_WS, "api_base", CT_URL, "https://api.intercom.io",
	  0, 0, NULL, S(api_base), 0, "Intercom API root" },
	{ SECT_WS, "token", CT_SECRET, NULL,
	  0, 0, NULL, S(token), 0, "inline access token (discouraged)" },
	{ SECT_WS, "token_file", CT_PATH, NULL,
	  0, 0, NULL, S(token_file), 0, "file holding the token, mode 0600" },
	{ SECT_WS, "intercom_version", CT_ENUM, "2.16",
	  0, 0, version_choices, S(intercom_version), 0,
	  "Intercom-Version header" },
	{ SECT_WS, "admin_id", CT_DIGITS, NULL,
	  0, 0, NULL, S(admin_id), 0, "the Voice AI admin (required)" },
	{ SECT_WS, "default_region", CT_REGION, "US",
	  0, 0, NULL, S(default_region), 0, "region of national numbers" },
	{ SECT_WS, "default_tags", CT_LIST, "",
	  0, 0, NULL, S(default_tags), S(ndefault_tags), "tags on every call" },
	{ SECT_WS, "allowed_attributes", CT_LIST, "",
	  0, 0, NULL, S(allowed_attributes), S(nallowed_attributes),
	  "custom attributes records may set" },
	{ SECT_WS, "route", CT_ROUTES, "",
	  0, 0, NULL, S(routes), S(nroutes), "category:team|admin:ID, ..." },
	{ SECT_WS, "escalation_team", CT_ESC_TEAM, NULL,
	  0, 0, NULL, S(escalation), 0, "team for escalated calls" },
	{ SECT_WS, "escalation_admin", CT_ESC_ADMIN, NULL,
	  0, 0, NULL, S(escalation), 0, "admin for escalated calls" },
	{ SECT_WS, "allow_public_replies", CT_BOOL, "false",
	  0, 0, NULL, S(allow_public_replies), 0, "allow reply records" },
	{ SECT_WS, "audit_bodies", CT_BOOL, "false",
	  0, 0, NULL, S(audit_bodies), 0, "keep request bodies in audit" },
	{ SECT_WS, "merge_duplicates", CT_BOOL, "false",
	  0, 0, NULL, S(merge_duplicates), 0, "merge a lead into its user" },
	{ SECT_WS, "unarchive", CT_BOOL, "true",
	  0, 0, NULL, S(unarchive), 0, "unarchive archived contacts" },
	{ SECT_WS, "max_attempts", CT_INT, "25",
	  1, 1000, NULL, S(max_attempts), 0, "record-caused failures" },
	{ SECT_WS, "max_age", CT_DUR, "7d",
	  60, 3650 * DAY, NULL, S(max_age), 0, "then dead-letter" },
	{ SECT_WS, "max_inflight", CT_INT, "256",
	  1, 1024, NULL, S(max_inflight), 0, "cap on concurrent requests" },
	{ SECT_WS, "rate_limit", CT_INT, "0",
	  0, 100000, NULL, S(rate_limit), 0, "requests/minute; 0 = server's" },
	{ SECT_WS, "request_timeout", CT_INT, "30",
	  1, 600, NULL, S(request_timeout), 0, "seconds per request" },
	{ SECT_WS, "connect_timeout", CT_INT, "10",
	  1, 120, NULL, S(connect_timeout), 0, "seconds to connect" },
	{ SECT_WS, "settle_margin", CT_INT, "5",
	  0, 600, NULL, S(settle_margin), 0, "seconds a write may land late" },
	{ SECT_WS, "search_lag", CT_INT, "300",
	  0, 3600, NULL, S(search_lag), 0, "seconds to keep reconciling" },
	{ SECT_WS, "search_lag_share", CT_INT, "2",
	  0, 20, NULL, S(search_lag_share), 0,
	  "% of the rate budget for measuring search lag; 0 = search_lag alone" },
	{ SECT_WS, "config_recheck", CT_DUR, "1m",
	  1, DAY, NULL, S(config_recheck), 0,
	  "re-read teams/admins: paused, or a record names an unknown one" },
	{ SECT_WS, "max_body", CT_SIZE, "16384",
	  1024, 1048576, NULL, S(max_body), 0, "bytes per body" },
	{ SECT_WS, "ca_file", CT_PATH, NULL,
	  0, 0, NULL, S(ca_file), 0, "CA bundle for api_base" },
	{ SECT_WS, "proxy", CT_PROXY, NULL,
	  0, 0, NULL, S(proxy), 0,
	  "HTTP proxy URL, or none; unset: https_proxy etc." },
	{ SECT_WS, "context_attributes", CT_LIST, "",
	  0, 0, NULL, S(context_attributes), S(ncontext_attributes),
	  "contact attributes shown in /v1/context" },
	{ SECT_WS, "context_company_attributes", CT_LIST, "",
	  0, 0, NULL, S(context_company_attributes),
	  S(ncontext_company_attributes),
	  "company attributes shown in /v1/context" },
	{ SECT_WS, "webhook_secret_file", CT_PATH, NULL,
	  0, 0, NULL, S(webhook_secret_file), 0,
	  "the Intercom app's client secret (two lines in a rotation), 0600" },
	{ SECT_WS, "callback_tag", CT_PATH, NULL,
	  0, 0, NULL, S(callback_tag), 0,
	  "a conversation tagged this asks for a call back" },
	{ SECT_WS, "callback_team", CT_PATH, NULL,
	  0, 0, NULL, S(callback_team), 0,
	  "a conversation assigned to this team id asks for a call" },
	{ SECT_WS, "callback_note", CT_PATH, NULL,
	  0, 0, NULL, S(callback_note), 0,
	  "an admin note holding this phrase asks for a call" },
	/* Named by docs/contract.md section 6; read at each round, so a
	 * reload turns polling on or off (poller.c). */
	{ SECT_WS, "poll_share", CT_INT, "0",
	  0, 100, NULL, S(poll_share), 0,
	  "% of the rate budget for polling (0: off)" },
};

#define NKEYS	nitems(keys)

/* Per-workspace parse state, parallel to conf->ws. */
struct ws_info {
	int	 line;			/* of the [workspace NAME] header */
	int	 keyline[NKEYS];	/* where each key was set, 0 = not */
};

struct parse {
	struct conf	*c;
	const char	*path;
	FILE		*fp;
	mode_t		 mode;		/* of the config file */
	char		*line;
	size_t		 linecap;
	int		 lineno;
	enum conf_sect	 sect;
	size_t		 wsi;		/* current workspace */
	char		 label[160];	/* "worker", "workspace acme" */
	int		 worker_line;
	int		 worker_keyline[NKEYS];
	struct ws_info	*info;
	bool		 failed;
	bool		 skip;		/* in a section whose header was wrong */
	int		 nerr;		/* errors reported so far */
	char		*err;
	size_t		 errsz;
};

/* Errors reported in one pass, one line each; the rest are counted. */
#define CONF_MAX_ERRS	20

static void	 perr(struct parse *, int, const char *, const char *,
		    const char *, ...) __attribute__((format(printf, 5, 6)));

/* Index of key name in sect, or NKEYS. */
static size_t
key_index(enum conf_sect sect, const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].sect == sect && strcmp(keys[i].name, name) == 0)
			break;
	return i;
}

/* Overwrite a secret, then free it. */
static void
secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* A short printable rendering of v for messages, in buf. */
static const char *
show(const char *v, char *buf, size_t bufsz)
{
	size_t	 i, n = 0;

	for (i = 0; v[i] != '\0' && n + 4 < bufsz; i++)
		buf[n++] = isprint((unsigned char)v[i]) ? v[i] : '?';
	if (v[i] != '\0' && n >= 3)
		memcpy(buf + n - 3, "...", 3);
	buf[n] = '\0';
	return buf;
}

static bool
has_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool
all_digits(const char *s, size_t max)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isdigit((unsigned char)s[n]))
			return false;
	return n > 0 && n <= max;
}

/* Copy of s[0..n) with blanks trimmed at both ends, or NULL. */
static char *
trimdup(const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

long long
conf_parse_duration(const char *s)
{
	long long	 v = 0, mult = 1;
	const char	*p;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (p = s; isdigit((unsigned char)*p); p++) {
		if (v > (LLONG_MAX - (*p - '0')) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	switch (*p) {
	case '\0':
		return v;
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = DAY;
		break;
	case 'w':
		mult = 7 * DAY;
		break;
	default:
		return -1;
	}
	if (p[1] != '\0' || v > LLONG_MAX / mult)
		return -1;
	return v * mult;
}

/* "90s", "30m", "7d": the largest unit that divides s exactly. */
static const char *
fmt_dur(long long s, char *buf, size_t bufsz)
{
	if (s != 0 && s % (7 * DAY) == 0 && s / (7 * DAY) < 52)
		snprintf(buf, bufsz, "%lldw", s / (7 * DAY));
	else if (s != 0 && s % DAY == 0)
		snprintf(buf, bufsz, "%lldd", s / DAY);
	else if (s != 0 && s % 3600 == 0)
		snprintf(buf, bufsz, "%lldh", s / 3600);
	else if (s != 0 && s % 60 == 0)
		snprintf(buf, bufsz, "%lldm", s / 60);
	else
		snprintf(buf, bufsz, "%llds", s);
	return buf;
}

static int
parse_int(const char *v, long long min, long long max, long long *out)
{
	long long	 n;
	char		*end;

	if (!isdigit((unsigned char)*v) && !(*v == '-' &&
	    isdigit((unsigned char)v[1])))
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

bool
conf_is_loopback(const char *host)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

static bool
valid_hostname(const char *h)
{
	size_t	 n;

	for (n = 0; h[n] != '\0'; n++)
		if (!isalnum((unsigned char)h[n]) && h[n] != '-' &&
		    h[n] != '.' && h[n] != '_')
			return false;
	return n > 0 && n <= 253;
}

/*
 * Split "host:port" or "[v6]:port" (s[0..n)) into host (at most hostsz)
 * and check the port; port optional when needport is false.  0 or -1.
 */
static int
split_hostport(const char *s, size_t n, bool needport, char *host,
    size_t hostsz)
{
	const char	*colon = NULL, *h = s, *he;
	long long	 port;
	char		 pbuf[8];
	struct in6_addr	 a6;

	if (n > 0 && s[0] == '[') {
		if ((he = memchr(s, ']', n)) == NULL)
			return -1;
		h = s + 1;
		if (he + 1 < s + n) {
			if (he[1] != ':')
				return -1;
			colon = he + 1;
		}
	} else {
		colon = memchr(s, ':', n);
		he = colon != NULL ? colon : s + n;
		if (colon != NULL && memchr(colon + 1, ':', s + n - colon - 1))
			return -1;
	}
	if ((size_t)(he - h) >= hostsz || he == h)
		return -1;
	memcpy(host, h, he - h);
	host[he - h] = '\0';
	if (s[0] == '[' ? inet_pton(AF_INET6, host, &a6) != 1 :
	    !valid_hostname(host))
		return -1;
	if (colon == NULL)
		return needport ? -1 : 0;
	if ((size_t)(s + n - colon - 1) >= sizeof(pbuf))
		return -1;
	memcpy(pbuf, colon + 1, s + n - colon - 1);
	pbuf[s + n - colon - 1] = '\0';
	return parse_int(pbuf, 1, 65535, &port) == 0 && isdigit(
	    (unsigned char)pbuf[0]) ? 0 : -1;
}

/* Check api_base; msg says why not. */
static int
check_url(const char *v, char *msg, size_t msgsz)
{
	char		 host[256], sbuf[80];
	const char	*h, *end;
	bool		 tls;

	if (strncmp(v, "https://", 8) == 0) {
		tls = true;
		h = v + 8;
	} else if (strncmp(v, "http://", 7) == 0) {
		tls = false;
		h = v + 7;
	} else {
		snprintf(msg, msgsz, "expected an https:// URL, got '%s'",
		    show(v, sbuf, sizeof(sbuf)));
		return -1;
	}
	end = h + strcspn(h, "/");
	if (strpbrk(v, "?#@ \t") != NULL || has_ctrl(v) ||
	    split_hostport(h, end - h, false, host, sizeof(host)) == -1) {
		snprintf(msg, msgsz, "expected a URL like https://host[:port]"
		    "[/path], got '%s'", show(v, sbuf, sizeof(sbuf)));
		return -1;
	}
	/* NAME.localhost too: libcurl resolves it to loopback itself, never
	 * through DNS (RFC 6761), so a simulator can stand in for an
	 * Intercom host by name (doctor's region check reads the name). */
	if (!tls && !conf_is_loopback(host) && !(strlen(host) > 10 &&
	    strcasecmp(host + strlen(host) - 10, ".localhost") == 0)) {
		snprintf(msg, msgsz, "http:// is only allowed to a loopback "
		    "host (127.0.0.0/8, ::1, localhost, *.localhost); use "
		    "https:// for "
		    "'%s'", show(host, sbuf, sizeof(sbuf)));
		return -1;
	}
	return 0;
}

/*
 * Check a proxy URL: http://, https://, socks4://, socks4a://, socks5://
 * or socks5h://, then [user:password@]host[:port] and nothing after.  The
 * message shows it without its credentials.
 */
static int
check_proxy(const char *v, char *msg, size_t msgsz)
{
	static const char *const schemes[] = { "http://", "https://",
	    "socks4://", "socks4a://", "socks5://", "socks5h://" };
	char		 host[256], sbuf[160];
	const char	*h = NULL, *at;
	size_t		 i, n;

	if (strcmp(v, "none") == 0)
		return 0;
	for (i = 0; i < nitems(schemes) && h == NULL; i++)
		if (strncasecmp(v, schemes[i], strlen(schemes[i])) == 0)
			h = v + strlen(schemes[i]);
	conf_proxy_show(v, sbuf, sizeof(sbuf));
	if (h == NULL) {
		snprintf(msg, msgsz, "expected a proxy URL like "
		    "http://host:port, or none, got '%s'", sbuf);
		return -1;
	}
	n = strcspn(h, "/");
	if ((at = memchr(h, '@', n)) != NULL) {
		n -= (size_t)(at + 1 - h);
		h = at + 1;
	}
	if (has_ctrl(v) || strpbrk(h, " \t?#@") != NULL ||
	    (h[n] != '\0' && strcmp(h + n, "/") != 0) ||
	    split_hostport(h, n, false, host, sizeof(host)) == -1) {
		snprintf(msg, msgsz, "expected a proxy URL like "
		    "http://[user:password@]host[:port], got '%s'", sbuf);
		return -1;
	}
	return 0;
}

void
conf_proxy_show(const char *url, char *buf, size_t bufsz)
{
	const char	*h = strstr(url, "://"), *at;
	size_t		 n, i;

	if (bufsz == 0)
		return;
	h = h != NULL ? h + 3 : url;
	n = strcspn(h, "/");
	if ((at = memchr(h, '@', n)) != NULL)
		snprintf(buf, bufsz, "%.*s%s", (int)(h - url), url, at + 1);
	else
		snprintf(buf, bufsz, "%s", url);
	for (i = 0; buf[i] != '\0'; i++)
		if (!isprint((unsigned char)buf[i]))
			buf[i] = '?';
}

const char *
conf_ws_proxy(const struct conf_ws *ws)
{
	if (ws->proxy == NULL)
		return NULL;
	return strcmp(ws->proxy, "none") == 0 ? "" : ws->proxy;
}

void
conf_ws_proxy_show(const struct conf_ws *ws, char *buf, size_t bufsz)
{
	static const char *const https_env[] = { "https_proxy", "HTTPS_PROXY",
	    "all_proxy", "ALL_PROXY", NULL };
	static const char *const http_env[] = { "http_proxy", "all_proxy",
	    "ALL_PROXY", NULL };
	const char *const	*e;
	const char		*v;
	char			 u[256];

	if (ws->proxy != NULL) {
		conf_proxy_show(ws->proxy, buf, bufsz);
		return;
	}
	e = ws->api_base != NULL && strncmp(ws->api_base, "https:", 6) == 0 ?
	    https_env : http_env;
	for (; *e != NULL; e++)
		if ((v = getenv(*e)) != NULL && *v != '\0') {
			conf_proxy_show(v, u, sizeof(u));
			snprintf(buf, bufsz, "%s (from %s)", u, *e);
			return;
		}
	snprintf(buf, bufsz, "on the way to %s", ws->api_base != NULL ?
	    ws->api_base : "Intercom");
}

static void
list_clear(char **a, size_t *n)
{
	while (*n > 0)
		free(a[--*n]);
}

static void
routes_clear(struct conf_route *r, size_t *n)
{
	while (*n > 0) {
		--*n;
		free(r[*n].category);
		free(r[*n].id);
		r[*n].category = r[*n].id = NULL;
	}
}

/* Comma-separated, trimmed, empty items dropped, duplicates folded. */
static int
set_list(char **a, size_t *n, const char *v, char *msg, size_t msgsz)
{
	const char	*p = v, *comma;
	char		*item, sbuf[80];
	size_t		 i;

	list_clear(a, n);
	if (has_ctrl(v)) {
		snprintf(msg, msgsz, "control character in list");
		return -1;
	}
	for (; *p != '\0'; p = comma + 1) {
		comma = p + strcspn(p, ",");
		if ((item = trimdup(p, comma - p)) == NULL)
			goto out_nomem;
		for (i = 0; i < *n && strcmp(a[i], item) != 0; i++)
			continue;
		if (item[0] == '\0' || i < *n)
			free(item);
		else if (*n == CONF_MAX_LIST) {
			snprintf(msg, msgsz, "more than %d items, at '%s'",
			    CONF_MAX_LIST, show(item, sbuf, sizeof(sbuf)));
			free(item);
			return -1;
		} else
			a[(*n)++] = item;
		if (*comma == '\0')
			break;
	}
	return 0;
out_nomem:
	snprintf(msg, msgsz, "out of memory");
	return -1;
}

/* One "category:team:ID" (p[0..len)) into r; category may be absent. */
static int
parse_route(const char *p, size_t len, bool withcat, struct conf_route *r)
{
	const char	*c1, *c2, *kind;
	size_t		 klen, i;

	c1 = memchr(p, ':', len);
	if (withcat) {
		if (c1 == NULL)
			return -1;
		if ((r->category = trimdup(p, c1 - p)) == NULL)
			return -1;
		for (i = 0; r->category[i] != '\0'; i++)
			r->category[i] = tolower((unsigned char)r->category[i]);
		if (i == 0)
			return -1;
		len -= c1 + 1 - p;
		p = c1 + 1;
	}
	if ((c2 = memchr(p, ':', len)) == NULL)
		return -1;
	kind = p;
	klen = c2 - p;
	while (klen > 0 && isspace((unsigned char)*kind)) {
		kind++;
		klen--;
	}
	while (klen > 0 && isspace((unsigned char)kind[klen - 1]))
		klen--;
	if (klen == 4 && strncasecmp(kind, "team", 4) == 0)
		r->kind = 't';
	else if (klen == 5 && strncasecmp(kind, "admin", 5) == 0)
		r->kind = 'a';
	else
		return -1;
	if ((r->id = trimdup(c2 + 1, p + len - c2 - 1)) == NULL)
		return -1;
	return all_digits(r->id, CONF_MAX_ID) ? 0 : -1;
}

static int
set_routes(struct conf_route *a, size_t *n, const char *v, char *msg,
    size_t msgsz)
{
	const char	*p, *comma;
	char		 sbuf[80], *item;
	size_t		 i;
	int		 rc;

	routes_clear(a, n);
	for (p = v; *p != '\0'; p = comma + 1) {
		comma = p + strcspn(p, ",");
		if ((item = trimdup(p, comma - p)) == NULL) {
			snprintf(msg, msgsz, "out of memory");
			return -1;
		}
		if (item[0] == '\0') {
			free(item);
			if (*comma == '\0')
				break;
			continue;
		}
		if (*n == CONF_MAX_LIST) {
			snprintf(msg, msgsz, "more than %d routes",
			    CONF_MAX_LIST);
			free(item);
			return -1;
		}
		memset(&a[*n], 0, sizeof(a[*n]));
		rc = parse_route(item, strlen(item), true, &a[*n]);
		(*n)++;		/* so that routes_clear frees it */
		if (rc == -1 || has_ctrl(item)) {
			snprintf(msg, msgsz, "expected category:team:ID or "
			    "category:admin:ID, got '%s'",
			    show(item, sbuf, sizeof(sbuf)));
			free(item);
			return -1;
		}
		for (i = 0; i + 1 < *n; i++)
			if (strcmp(a[i].category, a[*n - 1].category) == 0) {
				snprintf(msg, msgsz, "category '%s' routed "
				    "twice", show(a[i].category, sbuf,
				    sizeof(sbuf)));
				free(item);
				return -1;
			}
		free(item);
		if (*comma == '\0')
			break;
	}
	return 0;
}

static int
set_string(char **dst, const char *v, bool secret, char *msg, size_t msgsz)
{
	char	*s;

	if ((s = strdup(v)) == NULL) {
		snprintf(msg, msgsz, "out of memory");
		return -1;
	}
	if (secret)
		secret_free(*dst);
	else
		free(*dst);
	*dst = s;
	return 0;
}

/*
 * Set key k of base (struct conf or struct conf_ws) from v.  Used for the
 * defaults and the file alike.  0, or -1 with the reason in msg (without
 * the "file:line: [section] key: " prefix).
 */
static int
set_value(const struct conf_key *k, void *base, const char *v, char *msg,
    size_t msgsz)
{
	char			*field = (char *)base + k->off;
	char			 sbuf[80], b1[32], b2[32];
	const char *const	*ch;
	long long		 n;
	struct conf_route	*r;
	size_t			 i;

	switch (k->type) {
	case CT_PATH:
		if (*v == '\0' && k->def == NULL) {
			free(*(char **)field);
			*(char **)field = NULL;
			return 0;
		}
		if (*v == '\0' || has_ctrl(v)) {
			snprintf(msg, msgsz, "expected a path, got '%s'",
			    show(v, sbuf, sizeof(sbuf)));
			return -1;
		}
		return set_string((char **)field, v, false, msg, msgsz);
	case CT_SECRET:
		if (*v == '\0') {
			secret_free(*(char **)field);
			*(char **)field = NULL;
			return 0;
		}
		if (strlen(v) > TOKEN_MAX || has_ctrl(v)) {
			snprintf(msg, msgsz, "token longer than %d bytes or "
			    "with control characters", TOKEN_MAX);
			return -1;
		}
		return set_string((char **)field, v, true, msg, msgsz);
	case CT_HOSTPORT:
		if (*v != '\0' && split_hostport(v, strlen(v), true, sbuf,
		    sizeof(sbuf)) == -1) {
			snprintf(msg, msgsz, "expected host:port (e.g. "
			    "127.0.0.1:8787) or nothing, got '%s'",
			    show(v, sbuf, sizeof(sbuf)));
			return -1;
		}
		return set_string((char **)field, v, false, msg, msgsz);
	case CT_ENUM:
		for (ch = k->choices; *ch != NULL; ch++)
			if (strcmp(*ch, v) == 0)
				return set_string((char **)field, v, false,
				    msg, msgsz);
		if (k->choices == version_choices)
			snprintf(msg, msgsz, "expected an Intercom API "
			    "version 1.0..1.4 or 2.0..2.16, got '%s'",
			    show(v, sbuf, sizeof(sbuf)));
		else
			snprintf(msg, msgsz, "expected %s or %s, got '%s'",
			    k->choices[0], k->choices[1],
			    show(v, sbuf, sizeof(sbuf)));
		return -1;
	case CT_INT:
	case CT_SIZE:
		if (parse_int(v, k->min, k->max, &n) == -1) {
			snprintf(msg, msgsz, "expected an integer %lld..%lld, "
			    "got '%s'", k->min, k->max,
			    show(v, sbuf, sizeof(sbuf)));
			return -1;
		}
		if (k->type == CT_INT)
			*(int *)field = (int)n;
		else
			*(size_t *)field = (size_t)n;
		return 0;
	case CT_DUR:
		n = conf_parse_duration(v);
		if (n < k->min || n > k->max) {
			snprintf(msg, msgsz, "expected a duration %s..%s "
			    "(90, 45s, 30m, 12h, 7d, 1w), got '%s'",
			    fmt_dur(k->min, b1, sizeof(b1)),
			    fmt_dur(k->max, b2, sizeof(b2)),
			    show(v, sbuf, sizeof(sbuf)));
			return -1;
		}
		*(time_t *)field = (time_t)n;
		return 0;
	case CT_BOOL:
		if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
		    strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0)
			*(bool *)field = true;
		else if (strcasecmp(v, "false") == 0 ||
		    strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0 ||
		    strcmp(v, "0") == 0)
			*(bool *)field = false;
		else {
			snprintf(msg, msgsz, "expected a boolean (true/false, "
			    "yes/no, on/off, 1/0), got '%s'",
			    show(v, sbuf, sizeof(sbuf)));
			return -1;
		}
		return 0;
	case CT_URL:
		if (check_url(v, msg, msgsz) == -1)
			return -1;
		if (set_string((char **)field, v, false, msg, msgsz) == -1)
			return -1;
		for (i = strlen(*(char **)field); i > 0 &&
		    (*(char **)field)[i - 1] == '/'; i--)
			(*(char **)field)[i - 1] = '\0';
		return 0;
	case CT_PROXY:
		if (*v == '\0') {
			secret_free(*(char **)field);
			*(char **)field = NULL;
			return 0;
		}
		if (check_proxy(v, msg, msgsz) == -1)
			return -1;
		return set_string((char **)field, v, true, msg, msgsz);
	case CT_DIGITS:
		if (!all_digits(v, CONF_MAX_ID)) {
			snprintf(msg, msgsz, "expected a numeric Intercom id, "
			    "got '%s'", show(v, sbuf, sizeof(sbuf)));
			return -1;
		}
		return set_string((char **)field, v, false, msg, msgsz);
	case CT_REGION:
		if (strlen(v) != 2 || !isupper((unsigned char)v[0]) ||
		    !isupper((unsigned char)v[1]) || !isascii(v[0]) ||
		    !isascii(v[1])) {
			snprintf(msg, msgsz, "expected a 2-letter upper-case "
			    "country code (ISO 3166), got '%s'",
			    show(v, sbuf, sizeof(sbuf)));
			return -1;
		}
		return set_string((char **)field, v, false, msg, msgsz);
	case CT_LIST:
		return set_list((char **)field,
		    (size_t *)((char *)base + k->off2), v, msg, msgsz);
	case CT_ROUTES:
		return set_routes((struct conf_route *)field,
		    (size_t *)((char *)base + k->off2), v, msg, msgsz);
	case CT_ESC_TEAM:
	case CT_ESC_ADMIN:
		r = (struct conf_route *)field;
		if (((struct conf_ws *)base)->has_escalation) {
			snprintf(msg, msgsz, "set at most one of "
			    "escalation_team and escalation_admin");
			return -1;
		}
		if (!all_digits(v, CONF_MAX_ID)) {
			snprintf(msg, msgsz, "expected a numeric Intercom %s "
			    "id, got '%s'", k->type == CT_ESC_TEAM ?
			    "team" : "admin", show(v, sbuf, sizeof(sbuf)));
			return -1;
		}
		if (set_string(&r->id, v, false, msg, msgsz) == -1)
			return -1;
		r->category = NULL;
		r->kind = k->type == CT_ESC_TEAM ? 't' : 'a';
		((struct conf_ws *)base)->has_escalation = true;
		return 0;
	}
	snprintf(msg, msgsz, "unknown key type");
	return -1;
}

/* Every default of sect into base; -1 only when out of memory. */
static int
set_defaults(enum conf_sect sect, void *base)
{
	char	 msg[256];
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].sect == sect && keys[i].def != NULL &&
		    set_value(&keys[i], base, keys[i].def, msg,
		    sizeof(msg)) == -1)
			return -1;
	return 0;
}

static void
ws_clear(struct conf_ws *ws)
{
	free(ws->name);
	free(ws->api_base);
	secret_free(ws->token);
	free(ws->token_file);
	free(ws->intercom_version);
	free(ws->admin_id);
	free(ws->default_region);
	list_clear(ws->default_tags, &ws->ndefault_tags);
	list_clear(ws->allowed_attributes, &ws->nallowed_attributes);
	list_clear(ws->context_attributes, &ws->ncontext_attributes);
	list_clear(ws->context_company_attributes,
	    &ws->ncontext_company_attributes);
	routes_clear(ws->routes, &ws->nroutes);
	free(ws->escalation.category);
	free(ws->escalation.id);
	free(ws->ca_file);
	secret_free(ws->proxy);		/* may hold the proxy's password */
	free(ws->webhook_secret_file);
	free(ws->callback_tag);
	free(ws->callback_team);
	free(ws->callback_note);
	memset(ws, 0, sizeof(*ws));
}

void
conf_free(struct conf *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nws; i++)
		ws_clear(&c->ws[i]);
	free(c->ws);
	free(c->path);
	free(c->database);
	free(c->listen);
	free(c->listen_token_file);
	free(c->webhook_listen);
	secret_free(c->listen_token);
	free(c->synchronous);
	free(c->log_format);
	free(c);
}

struct conf *
conf_default(void)
{
	struct conf	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (set_defaults(SECT_WORKER, c) == -1) {
		conf_free(c);
		return NULL;
	}
	return c;
}

struct conf_ws *
conf_ws_find(const struct conf *c, const char *name)
{
	size_t	 i;

	if (c == NULL || name == NULL)
		return NULL;
	for (i = 0; i < c->nws; i++)
		if (strcmp(c->ws[i].name, name) == 0)
			return &c->ws[i];
	return NULL;
}

/* "CALLSYNC_TOKEN_" + name upper-cased, other than [A-Z0-9] -> '_'. */
static void
token_env_name(const char *ws, char *buf, size_t bufsz)
{
	size_t	 n;

	n = snprintf(buf, bufsz, "CALLSYNC_TOKEN_");
	for (; *ws != '\0' && n + 1 < bufsz; ws++)
		buf[n++] = isalnum((unsigned char)*ws) ?
		    toupper((unsigned char)*ws) : '_';
	buf[n] = '\0';
}

/* Trailing blanks off, then: non-empty, at most TOKEN_MAX, no control. */
static const char *
token_check(char *t, size_t len)
{
	while (len > 0 && isspace((unsigned char)t[len - 1]))
		t[--len] = '\0';
	if (len == 0)
		return "is empty";
	if (len > TOKEN_MAX)
		return "is longer than 4096 bytes";
	if (memchr(t, '\0', len) != NULL || has_ctrl(t))
		return "contains control characters";
	return NULL;
}

/*
 * Read ws's token file into a new string in *out.  -1 with msg (naming
 * the file, never the content).
 */
static int
token_read_file(const char *path, char **out, char *msg, size_t msgsz)
{
	struct stat	 st;
	char		 buf[TOKEN_MAX + 512];
	const char	*why;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		snprintf(msg, msgsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(msg, msgsz, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, msgsz, "%s: not a regular file", path);
		goto out_close;
	}
	if (st.st_mode & 077) {
		snprintf(msg, msgsz, "%s: mode %04o allows group or other "
		    "access; chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		goto out_close;
	}
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(msg, msgsz, "%s: %s", path, strerror(errno));
			goto out_wipe;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	if (len == sizeof(buf) - 1) {
		snprintf(msg, msgsz, "%s: token is longer than %d bytes",
		    path, TOKEN_MAX);
		goto out_wipe;
	}
	if ((why = token_check(buf, len)) != NULL) {
		snprintf(msg, msgsz, "%s: token %s", path, why);
		goto out_wipe;
	}
	if ((*out = strdup(buf)) == NULL) {
		snprintf(msg, msgsz, "out of memory");
		goto out_wipe;
	}
	rc = 0;
out_wipe:
	explicit_bzero(buf, sizeof(buf));
out_close:
	close(fd);
	return rc;
}

/*
 * The token of ws: env wins, then token_file, then the inline token
 * already in ws->token.  On failure ws->token is kept and *key names the
 * culprit ("token_file", "token" or the variable) for the message.
 */
static int
token_load(struct conf_ws *ws, const char **key, char *keybuf,
    size_t keybufsz, char *msg, size_t msgsz)
{
	const char	*env, *why;
	char		*t = NULL;

	token_env_name(ws->name, keybuf, keybufsz);
	if ((env = getenv(keybuf)) != NULL && *env != '\0') {
		*key = keybuf;
		if ((t = strdup(env)) == NULL) {
			snprintf(msg, msgsz, "out of memory");
			return -1;
		}
		if ((why = token_check(t, strlen(t))) != NULL) {
			snprintf(msg, msgsz, "token from the environment %s",
			    why);
			secret_free(t);
			return -1;
		}
	} else if (ws->token_file != NULL) {
		*key = "token_file";
		if (token_read_file(ws->token_file, &t, msg, msgsz) == -1)
			return -1;
	} else if (ws->token != NULL)
		return 0;		/* inline, checked when parsed */
	else {
		*key = "token";
		snprintf(msg, msgsz, "no token: set token_file, token or %s",
		    keybuf);
		return -1;
	}
	secret_free(ws->token);
	ws->token = t;
	return 0;
}

/* Which source token_load takes, in its order; never the token itself. */
const char *
conf_ws_token_source(const struct conf_ws *ws, char *buf, size_t bufsz)
{
	char		 env[96];
	const char	*v;

	token_env_name(ws->name, env, sizeof(env));
	if ((v = getenv(env)) != NULL && *v != '\0')
		snprintf(buf, bufsz, "environment (%s)", env);
	else if (ws->token_file != NULL)
		snprintf(buf, bufsz, "file (token_file = %s)", ws->token_file);
	else if (ws->token != NULL)
		snprintf(buf, bufsz, "inline (token = in the configuration "
		    "file)");
	else
		snprintf(buf, bufsz, "none (set token_file, token or %s)", env);
	return buf;
}

int
conf_load_listen_token(struct conf *c, char *err, size_t errsz)
{
	char	 msg[512];
	char	*t = NULL;

	if (c->listen_token_file == NULL)
		return 0;
	if (token_read_file(c->listen_token_file, &t, msg, sizeof(msg)) == -1) {
		snprintf(err, errsz, "[worker] listen_token_file: %s", msg);
		return -1;
	}
	secret_free(c->listen_token);
	c->listen_token = t;
	return 0;
}

int
conf_ws_load_token(struct conf_ws *ws, char *err, size_t errsz)
{
	char		 msg[512], keybuf[96];
	const char	*key = "token";

	if (token_load(ws, &key, keybuf, sizeof(keybuf), msg,
	    sizeof(msg)) == 0)
		return 0;
	if (err != NULL && errsz > 0)
		snprintf(err, errsz, "[workspace %s] %s: %s", ws->name, key,
		    msg);
	return -1;
}

/*
 * Every error of the file in one pass, in file order, one line each:
 * "path:line: [label] key: message", joined by newlines (the first line
 * alone when one mistake), at most CONF_MAX_ERRS and as many as fit in
 * err.  A line that does not fit is left out whole.
 */
static void
perr(struct parse *p, int line, const char *label, const char *key,
    const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512], one[1024];
	size_t	 used;

	p->failed = true;
	if (p->err == NULL || p->errsz == 0 || p->nerr++ >= CONF_MAX_ERRS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (label != NULL && key != NULL)
		snprintf(one, sizeof(one), "%s:%d: [%s] %s: %s", p->path, line,
		    label, key, msg);
	else if (label != NULL)
		snprintf(one, sizeof(one), "%s:%d: [%s]: %s", p->path, line,
		    label, msg);
	else if (key != NULL)
		snprintf(one, sizeof(one), "%s:%d: %s: %s", p->path, line, key,
		    msg);
	else
		snprintf(one, sizeof(one), "%s:%d: %s", p->path, line, msg);
	used = p->nerr > 1 ? strlen(p->err) : 0;
	if (used == 0)
		snprintf(p->err, p->errsz, "%s", one);
	else if (used + 1 + strlen(one) < p->errsz)
		snprintf(p->err + used, p->errsz - used, "\n%s", one);
}

static bool
valid_ws_name(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_' &&
		    s[n] != '.' && s[n] != '-')
			return false;
	return n >= 1 && n <= CONF_MAX_NAME;
}

/* A "[...]" line (s starts at '['): enter that section. */
static int
section_begin(struct parse *p, const char *s)
{
	const char	*end, *rest;
	char		 name[128], sbuf[80], *wsname, env[96], env2[96];
	struct conf_ws	*nws;
	struct ws_info	*ninfo;
	size_t		 i, n;

	p->sect = SECT_NONE;
	if ((end = strchr(s, ']')) == NULL ||
	    (size_t)(end - s) >= sizeof(name)) {
		perr(p, p->lineno, NULL, NULL, "malformed section header; "
		    "expected [worker] or [workspace NAME]");
		return -1;
	}
	for (rest = end + 1; isspace((unsigned char)*rest); rest++)
		continue;
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		perr(p, p->lineno, NULL, NULL, "text after section header");
		return -1;
	}
	s++;
	while (s < end && isspace((unsigned char)*s))
		s++;
	n = end - s;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	memcpy(name, s, n);
	name[n] = '\0';
	snprintf(p->label, sizeof(p->label), "%s", show(name, sbuf,
	    sizeof(sbuf)));

	if (strcmp(name, "worker") == 0) {
		if (p->worker_line != 0) {
			perr(p, p->lineno, p->label, NULL, "duplicate "
			    "section (first at line %d)", p->worker_line);
			return -1;
		}
		p->worker_line = p->lineno;
		p->sect = SECT_WORKER;
		return 0;
	}
	if (strncmp(name, "workspace", 9) != 0 || (name[9] != '\0' &&
	    !isspace((unsigned char)name[9]))) {
		perr(p, p->lineno, p->label, NULL, "unknown section; "
		    "expected [worker] or [workspace NAME]");
		return -1;
	}
	for (wsname = name + 9; isspace((unsigned char)*wsname); wsname++)
		continue;
	if (!valid_ws_name(wsname)) {
		perr(p, p->lineno, p->label, NULL, "workspace name must be "
		    "1-%d characters of A-Z a-z 0-9 _ . -", CONF_MAX_NAME);
		return -1;
	}
	snprintf(p->label, sizeof(p->label), "workspace %s", wsname);
	token_env_name(wsname, env, sizeof(env));
	for (i = 0; i < p->c->nws; i++) {
		if (strcmp(p->c->ws[i].name, wsname) == 0) {
			perr(p, p->lineno, p->label, NULL, "duplicate "
			    "workspace (first at line %d)", p->info[i].line);
			return -1;
		}
		token_env_name(p->c->ws[i].name, env2, sizeof(env2));
		if (strcmp(env, env2) == 0) {
			perr(p, p->lineno, p->label, NULL, "token variable "
			    "%s would also serve [workspace %s] (line %d); "
			    "rename one", env, p->c->ws[i].name,
			    p->info[i].line);
			return -1;
		}
	}
	if (p->c->nws == CONF_MAX_WS) {
		perr(p, p->lineno, p->label, NULL, "more than %d workspaces",
		    CONF_MAX_WS);
		return -1;
	}
	n = p->c->nws + 1;
	if ((nws = reallocarray(p->c->ws, n, sizeof(*nws))) == NULL)
		goto out_nomem;
	p->c->ws = nws;
	if ((ninfo = reallocarray(p->info, n, sizeof(*ninfo))) == NULL)
		goto out_nomem;
	p->info = ninfo;
	memset(&nws[n - 1], 0, sizeof(nws[n - 1]));
	memset(&ninfo[n - 1], 0, sizeof(ninfo[n - 1]));
	p->c->nws = n;		/* from here conf_free cleans it up */
	ninfo[n - 1].line = p->lineno;
	if ((nws[n - 1].name = strdup(wsname)) == NULL ||
	    set_defaults(SECT_WS, &nws[n - 1]) == -1)
		goto out_nomem;
	p->wsi = n - 1;
	p->sect = SECT_WS;
	return 0;
out_nomem:
	perr(p, p->lineno, p->label, NULL, "out of memory");
	return -1;
}

/* Blank, or has '=' or ':' before any " ;" comment. */
static bool
kv_line_ok(const char *s)
{
	const char	*t;
	bool		 was_space = false;

	for (t = s; isspace((unsigned char)*t); t++)
		continue;
	if (*t == '\0')
		return true;
	for (; *s != '\0'; s++) {
		if (*s == '=' || *s == ':')
			return true;
		if (*s == ';' && was_space)
			return false;
		was_space = isspace((unsigned char)*s);
	}
	return false;
}

/* s without its leading and trailing blanks, in place. */
static char *
trim(char *s)
{
	size_t	 n;

	while (isspace((unsigned char)*s))
		s++;
	for (n = strlen(s); n > 0 && isspace((unsigned char)s[n - 1]); n--)
		s[n - 1] = '\0';
	return s;
}

/*
 * Read the next line: 1 when it is key = value (*name and *value point
 * into p->line, trimmed, the " ;" comment cut), 0 when it was blank, a
 * comment, a section header (handled here) or wrong (reported), -1 at
 * the end of the file.  Leading blanks are only blanks: there are no
 * multi-line continuations.
 */
static int
read_line(struct parse *p, char **name, char **value)
{
	ssize_t		 n;
	char		*s, *sep, *semi;

	if ((n = getline(&p->line, &p->linecap, p->fp)) == -1) {
		if (ferror(p->fp))
			perr(p, p->lineno + 1, NULL, NULL, "read error: %s",
			    strerror(errno));
		return -1;
	}
	p->lineno++;
	/* A wrong line is reported and skipped: the next ones are checked. */
	if (memchr(p->line, '\0', n) != NULL) {
		perr(p, p->lineno, NULL, NULL, "NUL byte in line");
		return 0;
	}
	if (n > CONF_MAX_LINE) {
		perr(p, p->lineno, NULL, NULL, "line longer than %d bytes",
		    CONF_MAX_LINE);
		return 0;
	}
	s = p->line;
	if (p->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	s = trim(s);
	if (*s == '[') {
		/* The keys of a section whose header is wrong are skipped. */
		p->skip = section_begin(p, s) == -1;
		return 0;
	}
	if (*s == '\0' || *s == ';' || *s == '#')
		return 0;
	if (!kv_line_ok(s)) {
		perr(p, p->lineno, NULL, NULL, "syntax error: expected "
		    "key = value");
		return 0;
	}
	/* kv_line_ok: the first '=' or ':' comes before any " ;" comment. */
	sep = strpbrk(s, "=:");
	*sep = '\0';
	for (semi = sep + 1; (semi = strchr(semi, ';')) != NULL; semi++)
		if (isspace((unsigned char)semi[-1])) {
			*semi = '\0';
			break;
		}
	*name = trim(s);
	*value = trim(sep + 1);
	return 1;
}

/* One key = value of the current section: 0 when it was refused. */
static int
key_set(struct parse *p, const char *name, const char *value)
{
	const struct conf_key *k = NULL;
	char		 msg[512], sbuf[80];
	void		*base;
	int		*keyline;
	size_t		 i;

	if (p->skip)
		return 1;
	if (p->sect == SECT_NONE) {
		perr(p, p->lineno, NULL, show(name, sbuf, sizeof(sbuf)),
		    "key outside any section; put it under [worker] or "
		    "[workspace NAME]");
		return 0;
	}
	if ((i = key_index(p->sect, name)) < NKEYS)
		k = &keys[i];
	if (k == NULL) {
		perr(p, p->lineno, p->label, show(name, sbuf, sizeof(sbuf)),
		    "unknown key");
		return 0;
	}
	if (p->sect == SECT_WORKER) {
		base = p->c;
		keyline = p->worker_keyline;
	} else {
		base = &p->c->ws[p->wsi];
		keyline = p->info[p->wsi].keyline;
	}
	if (keyline[i] != 0) {
		perr(p, p->lineno, p->label, k->name, "set twice (first at "
		    "line %d)", keyline[i]);
		return 0;
	}
	keyline[i] = p->lineno;
	if (set_value(k, base, value, msg, sizeof(msg)) == -1) {
		perr(p, p->lineno, p->label, k->name, "%s", msg);
		return 0;
	}
	if (k->type == CT_SECRET && *value != '\0' && (p->mode & 077)) {
		perr(p, p->lineno, p->label, k->name, "%s holds an inline "
		    "token but its mode %04o allows group or other access; "
		    "chmod 600 it or use token_file", p->path,
		    (unsigned)(p->mode & 07777));
		return 0;
	}
	if (k->type == CT_PROXY && strchr(value, '@') != NULL &&
	    (p->mode & 077)) {
		perr(p, p->lineno, p->label, k->name, "the proxy URL holds a "
		    "password but %s's mode %04o allows group or other "
		    "access; chmod 600 it or use https_proxy in the "
		    "environment", p->path, (unsigned)(p->mode & 07777));
		return 0;
	}
	return 1;
}

/* Checks once the whole file is read. */
static void
validate(struct parse *p, bool load_tokens)
{
	struct conf_ws	*ws;
	char		 msg[512], keybuf[96], label[160];
	const char	*key;
	size_t		 i;
	int		 line;
	char		 host[256];

	/*
	 * docs/contract.md section 5: loopback by default; any other address needs
	 * a bearer token from a 0600 file.  listen_public alone (before
	 * the API carried caller data) no longer opens the endpoint.
	 */
	if (p->c->listen != NULL && p->c->listen[0] != '\0' &&
	    p->c->listen_token_file == NULL && split_hostport(p->c->listen,
	    strlen(p->c->listen), true, host, sizeof(host)) == 0 &&
	    !conf_is_loopback(host))
		perr(p, p->worker_keyline[key_index(SECT_WORKER, "listen")],
		    "worker", "listen", "%s is not a loopback address: "
		    "set listen_token_file (a mode 0600 file holding the "
		    "bearer token clients send) to serve other hosts%s", host,
		    p->c->listen_public ? " (listen_public no longer suffices)"
		    : "");
	if (p->c->listen_token_file != NULL && load_tokens && !p->failed &&
	    token_read_file(p->c->listen_token_file, &p->c->listen_token,
	    msg, sizeof(msg)) == -1)
		perr(p, p->worker_keyline[key_index(SECT_WORKER,
		    "listen_token_file")], "worker", "listen_token_file", "%s",
		    msg);
	for (i = 0; i < p->c->nws && !p->failed; i++) {
		ws = &p->c->ws[i];
		snprintf(label, sizeof(label), "workspace %s", ws->name);
		if (ws->admin_id == NULL)
			perr(p, p->info[i].line, label, "admin_id", "required: "
			    "the numeric id of the Voice AI admin this "
			    "workspace acts as");
	}
	for (i = 0; i < p->c->nws && load_tokens && !p->failed; i++) {
		ws = &p->c->ws[i];
		snprintf(label, sizeof(label), "workspace %s", ws->name);
		key = "token";
		if (token_load(ws, &key, keybuf, sizeof(keybuf), msg,
		    sizeof(msg)) == 0)
			continue;
		line = p->info[i].line;
		if (strcmp(key, "token_file") == 0)
			line = p->info[i].keyline[key_index(SECT_WS,
			    "token_file")];
		perr(p, line, label, key, "%s", msg);
	}
}

struct conf *
conf_load(const char *path, bool load_tokens, char *err, size_t errsz)
{
	struct parse	 p;
	struct stat	 st;
	char		*name, *value;
	int		 rc;

	memset(&p, 0, sizeof(p));
	p.path = path;
	p.err = err;
	p.errsz = errsz;
	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if ((p.fp = fopen(path, "re")) == NULL) {
		if (err != NULL && errsz > 0)
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(p.fp), &st) == -1 || S_ISDIR(st.st_mode)) {
		if (err != NULL && errsz > 0)
			snprintf(err, errsz, "%s: %s", path, S_ISDIR(st.st_mode)
			    ? "is a directory" : strerror(errno));
		fclose(p.fp);
		return NULL;
	}
	p.mode = st.st_mode;
	if ((p.c = conf_default()) == NULL ||
	    (p.c->path = strdup(path)) == NULL) {
		perr(&p, 0, NULL, NULL, "out of memory");
		goto out;
	}
	/* A refused key is reported: the next lines are checked still. */
	while ((rc = read_line(&p, &name, &value)) != -1)
		if (rc == 1)
			(void)key_set(&p, name, value);
	if (!p.failed)
		validate(&p, load_tokens);
out:
	fclose(p.fp);
	free(p.line);
	free(p.info);
	if (p.failed) {
		conf_free(p.c);
		return NULL;
	}
	return p.c;
}
