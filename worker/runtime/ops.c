/*
 * ops: see ops.h.  The heartbeat is one UPDATE of one row every 10 s; a
 * busy database makes it skip a beat (no warning: the next one comes),
 * and the engine does not call it while its own writes are stalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "intercom.h"
#include "log.h"
#include "ops.h"
#include "outbox.h"
#include "store.h"
#include "version.h"

void
ops_notify(const char *state)
{
	int	 rc;

	if ((rc = sd_notify(0, state)) < 0)
		log_debug("sd_notify %s: %s", state, strerror(-rc));
}

uint64_t
ops_watchdog_half_usec(void)
{
	uint64_t	 usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	return usec / 2;
}

void
ops_ws_list(const struct conf *c, char *buf, size_t sz)
{
	size_t	 i, n = 0;
	int	 w;

	buf[0] = '\0';
	for (i = 0; i < c->nws && n < sz; i++) {
		w = snprintf(buf + n, sz - n, "%s%s", i ? "," : "",
		    c->ws[i].name);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

void
ops_log_start(const char *conf_path, const struct conf *c, int schema)
{
	char	 wss[1024];

	ops_ws_list(c, wss, sizeof(wss));
	log_notice("callsyncd %s starting: config %s, database %s, schema "
	    "version %d, %zu workspace%s%s%s", CALLSYNC_VERSION,
	    conf_path != NULL ? conf_path : "(none)", c->database, schema,
	    c->nws, c->nws == 1 ? "" : "s", c->nws ? ": " : "",
	    c->nws ? wss : "");
}

void
ops_log_me(const char *ws, const struct http_req *r, bool foreign,
    bool *logged)
{
	json_t		*o, *app;
	const char	*name, *appname;
	char		 id[32];

	/* The breaker's line says who answered; the first answer that is
	 * Intercom's is the one to log. */
	if (*logged || foreign)
		return;
	*logged = true;
	if (r->cc != CURLE_OK) {
		log_notice("%s: GET /me failed: %s", ws, r->errbuf[0] ?
		    r->errbuf : curl_easy_strerror(r->cc));
		return;
	}
	if (r->status != 200) {
		log_notice("%s: GET /me answered HTTP %ld", ws, r->status);
		return;
	}
	o = ic_parse(r->resp, r->resplen);
	name = ic_str(o, "name");
	app = json_object_get(o, "app");
	appname = ic_str(app, "name");
	log_notice("%s: GET /me ok: admin %s (id %s), app %s", ws,
	    name != NULL ? name : "?",
	    ic_id(o, "id", id, sizeof(id)) != NULL ? id : "?",
	    appname != NULL ? appname : "?");
	json_decref(o);
}

/* A heartbeat write's outcome (store_worker_beat) as 0 or -1, with no
 * warning when busy: the next beat comes. */
static int
ops_beat_said(int rc, const char *why)
{
	if (rc == 1)
		log_debug("heartbeat: database busy; skipping a beat");
	else if (rc == -1 && why[0] != '\0')
		log_warnx("heartbeat: %s", why);
	return rc == 0 ? 0 : -1;
}

int
ops_hb_register(struct db *d, const char *owner, const char *host,
    const char *workspaces, int64_t now)
{
	struct store_worker	 w;
	char			 why[512];

	memset(&w, 0, sizeof(w));
	w.owner = owner;
	w.pid = (int64_t)getpid();
	w.host = host;
	w.version = CALLSYNC_VERSION;
	w.workspaces = workspaces;
	w.started_at = w.heartbeat_at = now;
	return ops_beat_said(store_worker_beat(d, &w, why, sizeof(why)), why);
}

int
ops_hb_unregister(struct db *d, const char *owner)
{
	char	 why[512];

	return ops_beat_said(store_worker_forget(d, owner, why, sizeof(why)),
	    why);
}

int
ops_owner_alive(const char *dbpath, const char *owner, char *why,
    size_t whysz)
{
	char	 path[PATH_MAX];
	int	 fd, alive;

	if (outbox_owner_path(dbpath, owner, path, sizeof(path)) == -1) {
		snprintf(why, whysz, "no lock file name for it");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY)) == -1) {
		snprintf(why, whysz, errno == ENOENT ? "no lock file" : "%s: %s",
		    path, strerror(errno));
		return errno == ENOENT ? 0 : -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		alive = errno == EWOULDBLOCK || errno == EAGAIN ||
		    errno == EINTR ? 1 : -1;
		if (alive == -1)
			snprintf(why, whysz, "%s: %s", path, strerror(errno));
	} else {
		flock(fd, LOCK_UN);
		alive = 0;
		snprintf(why, whysz, "not running (its lock is free)");
	}
	close(fd);
	return alive;
}

/* What ops_workers fills, for its store_workers callback. */
struct ops_workers_arg {
	const char		*dbpath;
	int64_t			 now;
	struct ops_worker	*w;
	size_t			 max, *n, *total, *nlive;
};

static int
ops_worker_cb(const struct store_worker *sw, void *arg)
{
	struct ops_workers_arg	*a = arg;
	struct ops_worker	 one;
	char			 why[PATH_MAX + 64];

	snprintf(one.owner, sizeof(one.owner), "%s",
	    sw->owner != NULL ? sw->owner : "");
	snprintf(one.host, sizeof(one.host), "%s",
	    sw->host != NULL ? sw->host : "");
	snprintf(one.workspaces, sizeof(one.workspaces), "%s",
	    sw->workspaces != NULL ? sw->workspaces : "");
	one.age_s = a->now > sw->heartbeat_at ? a->now - sw->heartbeat_at : 0;
	one.live = one.age_s <= OPS_HEARTBEAT_STALE_S &&
	    ops_owner_alive(a->dbpath, one.owner, why, sizeof(why)) == 1;
	(*a->total)++;
	*a->nlive += one.live;
	if (*a->n < a->max)
		a->w[(*a->n)++] = one;
	return 0;
}

/* The rows callsync status lists too (tool_workers): store_workers. */
int
ops_workers(struct db *d, const char *dbpath, int64_t now,
    struct ops_worker *w, size_t max, size_t *n, size_t *total,
    size_t *nlive)
{
	struct ops_workers_arg	 a = { dbpath, now, w, max, n, total, nlive };

	*n = *total = *nlive = 0;
	return store_workers(d, ops_worker_cb, &a);
}
