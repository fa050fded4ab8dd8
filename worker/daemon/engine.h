/*
 * engine: the worker's loop.  One libevent loop drives everything: the
 * outbox poll timer (sort, claim), lease renewal, signals (stop,
 * reload), the heartbeat and the watchdog, and the wiring of the local
 * servers (httpd, context, tasks, webhook, poller).  What the layers
 * below share at run time (the workspaces' queues, limiters, breakers;
 * the database; the group commit) is the runtime's (runtime/rt.h,
 * runtime/wsrt.h); the engine fills it and registers its hooks.
 * Data flows one way: outbox -> job (job.c) -> Intercom -> journal
 * and audit.
 */
#ifndef CALLSYNC_ENGINE_H
#define CALLSYNC_ENGINE_H

#include <stdbool.h>

#include "conf.h"

struct engine;

/*
 * A worker for configuration c (stolen, also on failure) read from
 * conf_path; drain: exit when nothing is due.  NULL on failure (logged).
 */
struct engine	*engine_new(const char *conf_path, struct conf *c, bool drain);
/* Run the loop until a signal (or --drain) ends it; the exit code. */
int		 engine_run(struct engine *);
void		 engine_free(struct engine *);

#endif
