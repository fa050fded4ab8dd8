/*
 * tool: helpers shared by the commands of callsync(8); see tool.h.
 *
 * Errors go to stderr as one line, "callsync: <what>: <why>".  Times are
 * printed in RFC 3339 UTC.  Progress is drawn with \r on stderr when it is
 * a terminal, at most every 100 ms, and erased at the end; otherwise the
 * helpers print nothing, so a log or a pipe stays clean.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "clock.h"
#include "ops.h"
#include "outbox.h"
#include "tool.h"

void
tool_err(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("callsync: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
tool_warn(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * --help prints the synopsis and the description to stdout (exit 0); a
 * usage error prints the synopsis alone to stderr (exit 2).
 */
int
tool_usage(const struct tool_cmd *c, bool to_stdout)
{
	FILE	*f = to_stdout ? stdout : stderr;

	fprintf(f, "usage: callsync %s\n", c->synopsis);
	if (to_stdout && c->help != NULL)
		fprintf(f, "\n%s\n", c->help);
	return to_stdout ? TOOL_EXIT_OK : TOOL_EXIT_USAGE;
}

/* A getopt error (ch '?' or ':') as one line and the synopsis: exit 2. */
int
tool_badopt(const struct tool_cmd *c, char **argv, int ch)
{
	if (ch == ':')
		tool_err("%s: %s: missing argument", c->name, argv[optind - 1]);
	else
		tool_err("%s: %s: unknown option", c->name, argv[optind - 1]);
	return tool_usage(c, false);
}

/*
 * Load --config once.  need: a config is required (error when none was
 * given).  Tokens are not read here: only doctor needs them.
 */
int
tool_conf(struct tool *t, bool need)
{
	char	 err[4096], *line, *save = NULL;

	if (t->conf != NULL)
		return 0;
	if (t->conf_path == NULL) {
		if (need) {
			tool_err("this command needs --config FILE");
			return -1;
		}
		return 0;
	}
	if ((t->conf = conf_load(t->conf_path, false, err,
	    sizeof(err))) == NULL) {
		/* Every mistake of the file, one line each. */
		for (line = strtok_r(err, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			tool_err("%s", line);
		return -1;
	}
	return 0;
}

/*
 * For read-only views (status, top): when the configuration does not
 * load, say so and go on with the database alone: its [worker] database
 * as the file says it (read leniently), else TOOL_DEFAULT_DB.  A running
 * callsyncd keeps its old configuration meanwhile, so its outbox is worth
 * seeing.  0, or -1 when there is nothing to fall back to.
 */
int
tool_conf_lenient(struct tool *t, const char *cmd)
{
	static char	 db[4096];
	FILE		*f;
	char		*line = NULL, *s, *e;
	size_t		 cap = 0;
	bool		 worker = false;

	if (tool_conf(t, false) == 0)
		return 0;
	if (t->conf_path == NULL || t->db_path != NULL)
		return -1;
	/* No file at all is a mistake to fix first, not a broken file. */
	if ((f = fopen(t->conf_path, "re")) == NULL)
		return -1;
	snprintf(db, sizeof(db), "%s", TOOL_DEFAULT_DB);
	{
		while (getline(&line, &cap, f) != -1) {
			for (s = line; *s == ' ' || *s == '\t'; s++)
				continue;
			if (*s == '[') {
				worker = strncmp(s, "[worker]", 8) == 0;
				continue;
			}
			if (!worker || strncmp(s, "database", 8) != 0)
				continue;
			for (s += 8; *s == ' ' || *s == '\t'; s++)
				continue;
			if (*s != '=' && *s != ':')
				continue;
			for (s++; *s == ' ' || *s == '\t'; s++)
				continue;
			/* The value ends at a " ;" comment or the line's end. */
			for (e = s; *e != '\0' && *e != '\n' && !(*e == ';' &&
			    e > s && (e[-1] == ' ' || e[-1] == '\t')); e++)
				continue;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (e > s)
				snprintf(db, sizeof(db), "%.*s", (int)(e - s), s);
		}
		free(line);
		fclose(f);
	}
	tool_warn("%s: %s has errors (above): showing the database %s "
	    "without it; a running callsyncd keeps its old configuration "
	    "until the file is fixed", cmd, t->conf_path, db);
	t->db_path = db;
	return 0;
}

const char *
tool_db_path(struct tool *t)
{
	if (t->db_path != NULL)
		return t->db_path;
	if (t->conf != NULL && t->conf->database != NULL)
		return t->conf->database;
	return TOOL_DEFAULT_DB;
}

/* Open the database with db_open flags (DB_OPEN_*); -1 after saying why. */
int
tool_open(struct tool *t, int flags)
{
	char	 err[512];

	if (t->db_ok)
		return 0;
	if (t->db_path == NULL && tool_conf(t, false) == -1)
		return -1;
	if (db_open(&t->db, tool_db_path(t), flags, err, sizeof(err)) == -1) {
		tool_err("%s", err);
		return -1;
	}
	t->db_ok = true;
	return 0;
}

void
tool_close(struct tool *t)
{
	if (t->db_ok)
		db_close(&t->db);
	t->db_ok = false;
	conf_free(t->conf);
	t->conf = NULL;
}

/* Borrowed config of workspace name, or NULL (no config, or not in it). */
struct conf_ws *
tool_ws_conf(struct tool *t, const char *name)
{
	if (t->conf == NULL || name == NULL)
		return NULL;
	return conf_ws_find(t->conf, name);
}

/* The only workspace of the config, else "default" (docs/contract.md section 1). */
const char *
tool_default_ws(struct tool *t)
{
	if (t->conf != NULL && t->conf->nws == 1)
		return t->conf->ws[0].name;
	return "default";
}

/* Who runs the tool, for audit rows: the sudoer, the user, or the uid. */
const char *
tool_operator(char *buf, size_t sz)
{
	const char	*s;

	if ((s = getenv("SUDO_USER")) != NULL && *s != '\0')
		snprintf(buf, sz, "%s", s);
	else if ((s = getenv("USER")) != NULL && *s != '\0')
		snprintf(buf, sz, "%s", s);
	else
		snprintf(buf, sz, "uid %u", (unsigned)getuid());
	return buf;
}

char *
tool_fmt_time(int64_t t, char *buf, size_t sz)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sz, "%" PRId64, t);
	return buf;
}

char *
tool_fmt_time_ms(int64_t ms, char *buf, size_t sz)
{
	struct tm	 tm;
	time_t		 tt = (time_t)(ms / 1000);
	char		 s[32];

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, sz, "%" PRId64, ms);
	else
		snprintf(buf, sz, "%s.%03dZ", s, (int)(ms % 1000));
	return buf;
}

/* "3d4h", "12m", "45s": the two largest units, for humans. */
char *
tool_fmt_age(int64_t s, char *buf, size_t sz)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, sz, "%" PRId64 "d%" PRId64 "h", s / 86400,
		    s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, sz, "%" PRId64 "h%" PRId64 "m", s / 3600,
		    s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, sz, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, sz, "%" PRId64 "s", s);
	return buf;
}

/*
 * "30d", "12h", "15m", "45s", "2w" or plain seconds -> seconds; -1 when
 * malformed.  Kept here rather than borrowing conf's parser so that the
 * tool accepts weeks, which retention periods are usually given in.
 */
long long
tool_parse_duration(const char *s)
{
	char		*end;
	long long	 v, mul = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || v < 0)
		return -1;
	if (*end != '\0') {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > INT64_MAX / 1000 / mul)
		return -1;
	return v * mul;
}

/*
 * A point in time: an RFC 3339 timestamp ("2024-05-01T10:00:00Z",
 * offsets and fractions accepted) or a duration meaning that long ago.
 * Result in unix milliseconds.
 */
int
tool_parse_when(const char *s, int64_t *ms)
{
	struct tm	 tm;
	const char	*p;
	long long	 d;
	int64_t		 frac = 0, scale = 100, off = 0;
	time_t		 t;
	int		 oh, om;

	if ((d = tool_parse_duration(s)) >= 0) {
		*ms = clock_wall_ms() - d * 1000;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL &&
	    (p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm)) == NULL) {
		memset(&tm, 0, sizeof(tm));
		if ((p = strptime(s, "%Y-%m-%d", &tm)) == NULL || *p != '\0')
			return -1;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') &&
	    sscanf(p + 1, "%2d:%2d", &oh, &om) == 2) {
		off = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	}
	if (*p != '\0')
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = ((int64_t)t - off) * 1000 + frac;
	return 0;
}

/* A positive decimal count; -1 when malformed. */
int
tool_parse_count(const char *s, long long *v)
{
	char	*end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *v <= 0)
		return -1;
	return 0;
}

/*
 * Read all of path ("-": stdin) into a new NUL-terminated buffer.  NULL
 * with err set on failure.  Callers limit what they accept afterwards.
 */
char *
tool_read_all(const char *path, size_t *len, char *err, size_t errsz)
{
	FILE	*f;
	char	*buf = NULL, *nb;
	size_t	 cap = 0, n = 0, r;

	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 131072;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				snprintf(err, errsz, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

/* One JSON Lines row; steals o (may be NULL: then -1). */
/* CURLOPT_WRITEFUNCTION into a struct tool_buf (arg), up to its max. */
size_t
tool_buf_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct tool_buf	*b = arg;
	size_t		 n = size * nmemb;
	char		*np;

	if (b->len + n > b->max)
		return 0;	/* curl fails the transfer: CURLE_WRITE_ERROR */
	if ((np = realloc(b->p, b->len + n + 1)) == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

int
tool_print_json(FILE *f, json_t *o)
{
	int	 rc = -1;

	if (o == NULL)
		return -1;
	if (json_dumpf(o, f, JSON_COMPACT | JSON_ENSURE_ASCII) == 0 &&
	    fputc('\n', f) != EOF)
		rc = 0;
	json_decref(o);
	return rc;
}

/* Column i as a new JSON value: its parsed JSON, else its text, or null. */
json_t *
tool_col_json(sqlite3_stmt *st, int i)
{
	const char	*s;
	json_t		*j;

	if ((s = (const char *)sqlite3_column_text(st, i)) == NULL)
		return json_null();
	if ((j = json_loads(s, JSON_DECODE_ANY, NULL)) != NULL)
		return j;
	return json_string(s);
}

json_t *
tool_col_str(sqlite3_stmt *st, int i)
{
	return tool_str_json((const char *)sqlite3_column_text(st, i));
}

json_t *
tool_col_int(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(st, i));
}

/* o's string member k for a text column, "-" when absent or not a
 * string; the pointer is o's (valid while o is). */
const char *
tool_json_s(const json_t *o, const char *k)
{
	const char	*s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : "-";
}

/* A string as tool_col_str shows a column: new, null for NULL. */
json_t *
tool_str_json(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/*
 * Unix seconds as an RFC 3339 string (new), or null for 0 or less: 0 is
 * how the schema says "not set" (next_at, ...), not 1970.
 */
json_t *
tool_time_json(int64_t v)
{
	char	 buf[40];

	return v > 0 ? json_string(tool_fmt_time(v, buf, sizeof(buf))) :
	    json_null();
}

/* Unix seconds column as an RFC 3339 string, or null. */
json_t *
tool_col_time(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return tool_time_json(sqlite3_column_int64(st, i));
}

/*
 * Append an operator audit row for action on ws/key; detail (stolen, may
 * be NULL) gets "action" and "operator" added.  Call inside the
 * transaction of the change it records.
 */
int
tool_operator_audit(struct tool *t, const char *ws, const char *key,
    json_t *detail)
{
	struct audit_row	 r;
	char			 op[128], *text;
	int			 rc;

	if (detail == NULL && (detail = json_object()) == NULL)
		return -1;
	json_object_set_new(detail, "operator",
	    json_string(tool_operator(op, sizeof(op))));
	text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(detail);
	if (text == NULL)
		return -1;
	memset(&r, 0, sizeof(r));
	r.kind = "operator";
	r.workspace = ws != NULL ? ws : "";
	r.record_key = key;
	r.step = "operator";
	r.detail = text;
	rc = audit_append(&t->db, &r);
	free(text);
	return rc;
}

void
tool_progress_init(struct tool_progress *p, const char *what, size_t total)
{
	memset(p, 0, sizeof(*p));
	p->what = what;
	p->total = total;
	p->tty = isatty(STDERR_FILENO) == 1;
}

void
tool_progress_step(struct tool_progress *p, size_t n)
{
	int64_t	 now;

	p->done += n;
	if (!p->tty)
		return;
	now = clock_wall_ms();
	if (now - p->last_ms < 100 && p->done != p->total)
		return;
	p->last_ms = now;
	p->drawn = true;
	if (p->total > 0)
		fprintf(stderr, "\r%s: %zu/%zu (%zu%%)", p->what, p->done,
		    p->total, p->done * 100 / p->total);
	else
		fprintf(stderr, "\r%s: %zu", p->what, p->done);
	fflush(stderr);
}

/* Erase the progress line so the summary that follows starts clean. */
void
tool_progress_end(struct tool_progress *p)
{
	if (p->tty && p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}

/*
 * The lock file of owner under <dbpath>.owners/, named as
 * outbox_owner_lock() names it (outbox.c ob_owner_path): the owner with
 * anything but [A-Za-z0-9._-] as '_', and a leading '.' as '_'.
 */
static int
tool_owner_path(const char *dbpath, const char *owner, char *buf, size_t sz)
{
	return outbox_owner_path(dbpath, owner, buf, sz);
}

/* 1 if a live worker of the workers table lists ws, 0 if not, -1. */
static int
tool_ws_live_worker(struct tool *t, const char *ws, int64_t now)
{
	json_t		*a, *o, *v;
	size_t		 i, j;
	int		 found = 0;

	if ((a = tool_workers(t, now)) == NULL)
		return -1;
	json_array_foreach(a, i, o) {
		if (strcmp(json_string_value(json_object_get(o, "state")),
		    "live") != 0)
			continue;
		json_array_foreach(json_object_get(o, "workspaces"), j, v)
			if (strcmp(json_string_value(v), ws) == 0)
				found = 1;
	}
	json_decref(a);
	return found;
}

/*
 * Does a running worker serve ws?  The worker that last saved ws's row
 * of workspace_state must hold the flock on its lock file: we try
 * LOCK_EX|LOCK_NB and, should we get it (the owner is dead), let go at
 * once; nothing is ever created or deleted.  Without a lock directory
 * (a worker older than the lock files) a row saved in the last
 * TOOL_SERVED_FRESH seconds counts as served.  1 served, 0 not (why says
 * why), -1 database error.
 */
int
tool_ws_served(struct tool *t, const char *ws, int64_t now, char *why,
    size_t whysz)
{
	struct store_ws_state wst;
	struct stat	 sb;
	char		 dir[PATH_MAX], path[PATH_MAX], *owner = NULL;
	int64_t		 updated = 0;
	int		 rc, fd, served = 0, ws_live;

	snprintf(why, whysz, "no worker has recorded serving it");
	/* A live worker whose heartbeat row lists ws serves it. */
	if ((ws_live = tool_ws_live_worker(t, ws, now)) == 1)
		return 1;
	if (ws_live == -1)
		return -1;
	/* The row status and /ui read too (store_ws_state). */
	if ((rc = store_ws_state(&t->db, ws, &wst)) != 1) {
		store_ws_state_free(&wst);
		return rc;
	}
	owner = wst.worker;
	wst.worker = NULL;
	updated = wst.updated_at;
	store_ws_state_free(&wst);
	if (snprintf(dir, sizeof(dir), "%s.owners", tool_db_path(t)) >=
	    (int)sizeof(dir))
		goto out;
	if (stat(dir, &sb) == -1 && errno == ENOENT) {
		/* An older worker: no lock files; go by the row's age. */
		served = updated >= now - TOOL_SERVED_FRESH;
		if (!served)
			snprintf(why, whysz, "its worker %s last reported "
			    "%lld s ago", owner != NULL ? owner : "?",
			    (long long)(now - updated));
		goto out;
	}
	if (owner == NULL || tool_owner_path(tool_db_path(t), owner, path,
	    sizeof(path)) == -1) {
		snprintf(why, whysz, "no worker is named for it");
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY)) == -1) {
		snprintf(why, whysz, "its worker %s is gone (no lock file)",
		    owner);
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		/* Held: alive.  Another error says nothing either way. */
		served = errno == EWOULDBLOCK || errno == EAGAIN ||
		    errno == EINTR;
		if (!served)
			snprintf(why, whysz, "%s: %s", path, strerror(errno));
	} else {
		flock(fd, LOCK_UN);
		snprintf(why, whysz, "its worker %s is not running", owner);
	}
	close(fd);
out:
	free(owner);
	return served;
}

/* See ops_owner_alive (ops.h): shared with callsyncd's /metrics. */
int
tool_owner_alive(struct tool *t, const char *owner, char *why, size_t whysz)
{
	return ops_owner_alive(tool_db_path(t), owner, why, whysz);
}

/* What tool_workers builds, for its store_workers callback. */
struct tool_workers_arg {
	struct tool	*t;
	int64_t		 now;
	json_t		*a;
};

static int
tool_worker_cb(const struct store_worker *w, void *arg)
{
	struct tool_workers_arg	*wa = arg;
	json_t			*o, *wss;
	const char		*p, *c;
	char			 why[PATH_MAX + 64], b[40];
	int64_t			 now = wa->now, hb = w->heartbeat_at;
	int			 alive;

	o = json_object();
	json_object_set_new(o, "owner", tool_str_json(w->owner));
	json_object_set_new(o, "pid", json_integer(w->pid));
	json_object_set_new(o, "host", tool_str_json(w->host));
	json_object_set_new(o, "version", tool_str_json(w->version));
	json_object_set_new(o, "started_at", tool_time_json(w->started_at));
	json_object_set_new(o, "heartbeat_at", tool_time_json(hb));
	json_object_set_new(o, "heartbeat_age_s",
	    json_integer(now > hb ? now - hb : 0));
	wss = json_array();
	for (p = w->workspaces != NULL ? w->workspaces : ""; *p != '\0';
	    p = c) {
		if ((c = strchr(p, ',')) == NULL)
			c = p + strlen(p);
		if (c > p)
			json_array_append_new(wss,
			    json_stringn(p, (size_t)(c - p)));
		if (*c == ',')
			c++;
	}
	json_object_set_new(o, "workspaces", wss);
	alive = tool_owner_alive(wa->t, w->owner != NULL ? w->owner : "", why,
	    sizeof(why));
	if (alive == 1 && now - hb > TOOL_HEARTBEAT_STALE) {
		alive = 0;
		snprintf(why, sizeof(why), "running but no heartbeat "
		    "for %s (hung? database stuck?)",
		    tool_fmt_age(now - hb, b, sizeof(b)));
	}
	json_object_set_new(o, "state",
	    json_string(alive == 1 ? "live" : "stale"));
	json_object_set_new(o, "why", alive == 1 ? json_null() :
	    json_string(why));
	json_array_append_new(wa->a, o);
	return 0;
}

/*
 * The workers table (migration 0004) as a new JSON array, one object per
 * row: owner, pid, host, version, started_at, heartbeat_at,
 * heartbeat_age_s, workspaces (array), state ("live" or "stale") and,
 * when stale, why.  Live: its lock is held and its heartbeat is newer
 * than TOOL_HEARTBEAT_STALE seconds.  An empty array before 0004; NULL on
 * a database error.
 */
json_t *
tool_workers(struct tool *t, int64_t now)
{
	struct tool_workers_arg	 wa = { t, now, NULL };

	if ((wa.a = json_array()) == NULL)
		return NULL;
	/* The rows /metrics reads too (ops_workers). */
	if (store_workers(&t->db, tool_worker_cb, &wa) == -1) {
		json_decref(wa.a);
		return NULL;
	}
	return wa.a;
}
