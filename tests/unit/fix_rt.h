/*
 * fix_rt.h: the runtime of the driver's unit tests (t_driver,
 * t_driver_table), one fixture for both: set up as the loop sets it up
 * (engine.c: rt_new, rt_configure, rt_open, the hooks, rt_events,
 * rt_tx_init, ws_add) on a new database in a directory of its own,
 * without a network, and torn down as the loop tears it down.
 *
 * White-box: the tests look at the runtime's held queue (rt->held: a
 * request waits there while the group is open) and take a request off
 * it as rt_tx_flush would, which no runtime function does for one link;
 * so this includes the runtime's private headers (rt_impl.h,
 * wsrt_impl.h; tests/integration/67_layers.sh part f lists it).
 * Everything else goes through rt.h and wsrt.h.
 */
#ifndef CALLSYNC_FIX_RT_H
#define CALLSYNC_FIX_RT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "job.h"
#define CALLSYNC_RUNTIME_PRIVATE
#include "rt_impl.h"
#include "wsrt_impl.h"

struct fix_rt {
	char		 dir[64];
	char		 path[128];	/* the database */
	struct conf	*c;
	struct event_base *base;
	struct rt	*rt;
	struct wsrt	*ws;		/* the configuration's first workspace */
};

/* The hooks, as the loop registers them (engine.c). */
static void
fix_rt_release(struct job_link *l, const char *class, const char *why)
{
	job_release(job_of(l), class, why);
}

static void
fix_rt_sent(struct job_link *l)
{
	job_on_sent(job_of(l));
}

static void
fix_rt_tx_done(struct job_link *l, bool ok)
{
	job_tx_done(job_of(l), ok);
}

static void
fix_rt_unstall(struct job_link *l)
{
	job_unstall(job_of(l));
}

/*
 * Set fr up in a new directory /tmp/NAME.XXXXXX: the configuration conf
 * (its text; NULL: CALLSYNC_TESTDATA's one.conf), the database, the
 * runtime and its first workspace (booting).  -1 with a line on stderr.
 */
static int
fix_rt_open(struct fix_rt *fr, const char *name, const char *conf)
{
	struct rt_hooks	 h;
	struct http	*http;
	const char	*data = getenv("CALLSYNC_TESTDATA");
	char		 err[512], cpath[256];
	FILE		*fp;

	memset(fr, 0, sizeof(*fr));
	snprintf(fr->dir, sizeof(fr->dir), "/tmp/%s.XXXXXX", name);
	if (mkdtemp(fr->dir) == NULL)
		return -1;
	snprintf(fr->path, sizeof(fr->path), "%s/outbox.db", fr->dir);
	if (conf != NULL) {
		snprintf(cpath, sizeof(cpath), "%s/t.conf", fr->dir);
		if ((fp = fopen(cpath, "w")) == NULL)
			return -1;
		fputs(conf, fp);
		fclose(fp);
	} else
		snprintf(cpath, sizeof(cpath), "%s/one.conf", data != NULL ?
		    data : "tests/data/conf");
	if ((fr->c = conf_load(cpath, false, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if ((fr->rt = rt_new(false)) == NULL)
		return -1;
	rt_configure(fr->rt, fr->c);
	if (rt_open(fr->rt, fr->path, DB_OPEN_CREATE | DB_OPEN_NOSYNC, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	memset(&h, 0, sizeof(h));
	h.release = fix_rt_release;
	h.sent = fix_rt_sent;
	h.tx_done = fix_rt_tx_done;
	h.unstall = fix_rt_unstall;
	rt_set_hooks(fr->rt, &h);
	if ((fr->base = event_base_new()) == NULL ||
	    (http = http_new(fr->base)) == NULL)
		return -1;
	if (rt_events(fr->rt, fr->base, http) == -1 ||
	    rt_tx_init(fr->rt) == -1)
		return -1;
	if ((fr->ws = ws_add(fr->rt, &fr->c->ws[0])) == NULL)
		return -1;
	return 0;
}

/*
 * Give back what still runs (a held request is taken out as the group's
 * flush would, a wait is released as on SIGTERM), then free all and
 * remove the directory; -1 when it cannot be removed.
 */
static int
fix_rt_close(struct fix_rt *fr)
{
	struct job_link	*l;
	char		 cmd[128];

	if (fr->rt != NULL) {
		while ((l = TAILQ_FIRST(&fr->rt->held)) != NULL) {
			TAILQ_REMOVE(&fr->rt->held, l, q);
			l->held = false;
			job_release(job_of(l), "shutdown", "test over");
		}
		job_release_waiting(fr->rt);
		rt_tx_flush(fr->rt);
		if (rt_jobs(fr->rt) != 0)
			fprintf(stderr, "%d jobs left\n", rt_jobs(fr->rt));
		ws_free_all(fr->rt);
		rt_free(fr->rt);
		rt_http_close(fr->rt);
	}
	if (fr->base != NULL)
		event_base_free(fr->base);
	rt_destroy(fr->rt);
	conf_free(fr->c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fr->dir);
	return system(cmd) != 0 ? -1 : 0;
}

#endif
