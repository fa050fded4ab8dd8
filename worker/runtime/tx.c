/*
 * tx: the group commit (rt_tx_*, GROUP COMMIT below) and the jobs the
 * runtime holds (their links in rt->all, rt->txjobs, rt->held and their
 * workspace's send queue: rt_job_started, rt_job_finished).  Above
 * wsrt.c: a committed group's requests go to their workspace's queue.
 */
#include <stdlib.h>

#include "clock.h"
#include "log.h"
#include "rt_impl.h"
#include "wsrt_impl.h"

static void	rt_tx_cb(evutil_socket_t, short, void *);

int
rt_tx_init(struct rt *rt)
{
	rt->tx_ev = event_new(rt->base, -1, 0, rt_tx_cb, rt);
	return rt->tx_ev == NULL ? -1 : 0;
}

void
rt_job_started(struct rt *rt, struct job_link *l)
{
	l->ws->jobs++;
	rt->jobs++;
	TAILQ_INSERT_TAIL(&rt->all, l, all);
}

void
rt_job_finished(struct rt *rt, struct job_link *l)
{
	if (l->queued) {
		TAILQ_REMOVE(&l->ws->sendq, l, q);
		l->queued = false;
	}
	if (l->held) {
		TAILQ_REMOVE(&rt->held, l, q);
		l->held = false;
	}
	if (l->in_tx) {
		TAILQ_REMOVE(&rt->txjobs, l, tx);
		l->in_tx = false;
	}
	TAILQ_REMOVE(&rt->all, l, all);
	l->ws->jobs--;
	rt->jobs--;
	if (rt->stopping) {
		if (rt->jobs == 0)
			event_base_loopbreak(rt->base);
		return;
	}
	rt_kick(rt);
}

/* ------------------------------------------------------------------ */
/* group commit                                                         */

/*
 * GROUP COMMIT.  With synchronous = full every COMMIT is an fsync, and on
 * an SD card or eMMC an fsync costs 5-50 ms: one transaction per write
 * (an intent, a result, an outcome, a claim: about a dozen per record)
 * would cap a worker at a few records a second whatever Intercom allows.
 * So the worker writes in one transaction per turn of the event loop:
 * the first write of a turn opens it (rt_tx_open; a deferred event
 * then runs last in that turn), every later write of every job joins it,
 * each operation in a SAVEPOINT of its own (db.c: it keeps the
 * all-or-nothing it had as a transaction, and a failed one, say a lost
 * lease, undoes only itself), and rt_tx_flush commits once.  A
 * step's result and the next step's intent, the claims of the poll and
 * every job's outcome of that turn share one fsync.
 *
 * The exactly-once rules are unchanged, only batched:
 *  - an intent is durable before its request is sent: while the group
 *    is open every request queued goes to rt->held instead of its
 *    workspace's send queue, and is queued for sending only after the
 *    COMMIT succeeded;
 *  - a result is durable before the step counts as done: a job that
 *    writes its outcome in the group ends (counters, "delivered") only
 *    when the group is committed (job_tx_done);
 *  - when the COMMIT fails (disk full, I/O error), the group rolled
 *    back, so every job that wrote in it is ahead of the database.  It
 *    keeps what it knows (an answer received is not thrown away: that
 *    would turn a write we saw succeed into one in doubt) and replays
 *    its writes of the group, in order, from the stall timer
 *    (job_tx_done, job_replay); a request it had queued waits until the
 *    replay is committed.
 * A crash loses at most the open turn's writes, none of whose requests
 * had left.
 */
int
rt_tx_open(struct rt *rt)
{
	if (rt->tx_open)
		return 0;
	if (rt->final || rt->db_stalled || rt->db.txdepth > 0 ||
	    clock_mono_ms() < rt->db_busy_until)
		return -1;	/* writes go alone, as they would without */
	if (db_group_begin(&rt->db) == -1) {
		if (db_busy(&rt->db))
			rt->db_busy_until = clock_mono_ms() + 1000;
		return -1;
	}
	rt->tx_open = true;
	event_active(rt->tx_ev, EV_TIMEOUT, 1);
	return 0;
}

int
rt_tx_join(struct rt *rt, struct job_link *l)
{
	if (rt_tx_open(rt) == -1)
		return -1;
	if (!l->in_tx) {
		TAILQ_INSERT_TAIL(&rt->txjobs, l, tx);
		l->in_tx = true;
	}
	return 0;
}

void
rt_tx_flush(struct rt *rt)
{
	struct job_link	*l;
	bool		 ok;
	int		 n;

	int64_t		 t0, held;

	if (!rt->tx_open)
		return;
	rt->tx_open = false;
	event_del(rt->tx_ev);
	t0 = clock_mono_ms();
	if ((ok = db_group_end(&rt->db, 1) == 0))
		rt->n_commits++;
	else
		log_warnx("database commit failed (%s); the records written "
		    "in it restart from their last committed step",
		    db_errmsg(&rt->db));
	/* How long commits hold the loop (decaying peak): the limiter
	 * catches up the sends it could not make meanwhile. */
	held = clock_mono_ms() - t0;
	rt->commit_total_ms += held;
	rt->commit_ms = held > rt->commit_ms ? held : rt->commit_ms * 7 / 8;
	/* Exactly the entries there now: a job may join a new group from
	 * here (a release), which must wait for that group's commit. */
	n = 0;
	TAILQ_FOREACH(l, &rt->txjobs, tx)
		n++;
	while (n-- > 0 && (l = TAILQ_FIRST(&rt->txjobs)) != NULL) {
		TAILQ_REMOVE(&rt->txjobs, l, tx);
		l->in_tx = false;
		if (!ok && l->held) {
			TAILQ_REMOVE(&rt->held, l, q);
			l->held = false;
			l->resend = true;
		}
		rt->hooks.tx_done(l, ok);	/* may end and free it */
	}
	n = 0;
	TAILQ_FOREACH(l, &rt->held, q)
		n++;
	while (n-- > 0 && (l = TAILQ_FIRST(&rt->held)) != NULL) {
		TAILQ_REMOVE(&rt->held, l, q);
		l->held = false;
		if (!ok) {
			l->resend = true;
			rt->hooks.tx_done(l, false);
		}
		else if (rt->stopping)
			rt->hooks.release(l, "shutdown",
			    "worker stopping");
		else
			ws_enqueue(l->ws, l);
	}
}

static void
rt_tx_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	rt_tx_flush(arg);
}
