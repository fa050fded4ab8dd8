/*
 * ops: see ops.h.  The heartbeat is one UPDATE of one row every 10 s; a
 * busy database makes it skip a beat (no warning: the next one comes),
 * and the engine does not call it while its own writes are stalled.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>
#include <systemd/sd-daemon.h>

#include "intercom.h"
#include "log.h"
#include "ops.h"
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
ops_log_me(const char *ws, const struct http_req *r, bool *logged)
{
	json_t		*o, *app;
	const char	*name, *appname;
	char		 id[32];

	if (*logged)
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

/* Step st (borrowed, cached); 0 or -1, with no warning when busy. */
static int
ops_step(struct db *d, sqlite3_stmt *st)
{
	int	 rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		log_debug("heartbeat: database busy; skipping a beat");
	else
		log_warnx("heartbeat: %s", sqlite3_errmsg(d->h));
	return -1;
}

int
ops_hb_register(struct db *d, const char *owner, const char *host,
    const char *workspaces, int64_t now)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "INSERT INTO workers (owner, pid, host, version, "
	    "started_at, heartbeat_at, workspaces) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6) "
	    "ON CONFLICT (owner) DO UPDATE SET heartbeat_at = ?5, "
	    "workspaces = ?6");
	if (st == NULL)
		return -1;
	if (db_bind_text(st, 1, owner) == -1 ||
	    db_bind_int(st, 2, (int64_t)getpid()) == -1 ||
	    db_bind_text(st, 3, host) == -1 ||
	    db_bind_text(st, 4, CALLSYNC_VERSION) == -1 ||
	    db_bind_int(st, 5, now) == -1 ||
	    db_bind_text(st, 6, workspaces) == -1)
		return -1;
	return ops_step(d, st);
}

int
ops_hb_unregister(struct db *d, const char *owner)
{
	sqlite3_stmt	*st;

	st = db_prep(d, "DELETE FROM workers WHERE owner = ?1");
	if (st == NULL || db_bind_text(st, 1, owner) == -1)
		return -1;
	return ops_step(d, st);
}
