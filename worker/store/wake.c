/*
 * wake: see wake.h.
 *
 * Why a recheck schedule: inotify reports a producer's write(2) to the
 * WAL, but its commit becomes visible to readers only after the WAL's
 * fsync and the wal-index update that follow the last write.  So an
 * event is a hint, and PRAGMA data_version the truth: it is read at
 * once, and while it has not moved, again after 1, 2, 4 ... ms, up to
 * WAKE_MAX_STEP_MS between reads (a 50 ms fsync is seen within about
 * 60 ms).  Every new event brings the next read forward to at most
 * WAKE_MIN_GAP_MS after the last one, so a producer's commit that lands
 * during a long step is not left waiting for it.  The worker's own
 * writes raise the same events; they never move its own data_version, so
 * they cost a read every WAKE_MIN_GAP_MS at most while it is busy, and no
 * poll.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "retry.h"
#include "wake.h"

#define WAKE_MAX_STEP_MS 256	/* slowest recheck while a write is in doubt */
#define FILE_MASK	(IN_MODIFY | IN_CLOSE_WRITE)
#define DIR_MASK	(IN_CREATE | IN_MOVED_TO)

struct wake {
	struct db	*d;		/* borrowed */
	int		 fd;		/* inotify */
	struct event	*ev;		/* fd readable */
	struct event	*tmr;		/* next data_version read */
	void		(*fn)(void *);
	void		*arg;
	char		*dir;		/* directory of the database */
	char		*name, *wal;	/* base names: "outbox.db", "outbox.db-wal" */
	char		*path, *walpath;
	int		 wd_db, wd_wal;
	long long	 version;	/* last data_version seen */
	int		 step_ms;	/* current recheck delay; 0 = none */
	int64_t		 checked_ms;	/* monotonic: last data_version read */
	int64_t		 next_ms;	/* when the armed read is due; 0 = none */
	long		 n;
};

static void
arm(struct wake *w, int ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	w->next_ms = clock_mono_ms() + ms;
	evtimer_add(w->tmr, &tv);
}

/* data_version of the worker's connection; -1 when it cannot be read. */
static long long
data_version(struct wake *w)
{
	sqlite3_stmt	*st;
	long long	 v = -1;

	if ((st = db_prep(w->d, "PRAGMA data_version")) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/* Watch one file for writes; it may not exist (yet): -1 then. */
static int
watch_file(struct wake *w, const char *path)
{
	int	 wd;

	if ((wd = inotify_add_watch(w->fd, path, FILE_MASK)) == -1 &&
	    errno != ENOENT)
		log_debug("inotify on %s: %s", path, strerror(errno));
	return wd;
}

static void
wake_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wake	*w = arg;
	long long	 v;

	(void)fd;
	(void)what;
	w->checked_ms = clock_mono_ms();
	w->next_ms = 0;
	v = data_version(w);
	if (v != w->version) {	/* another connection committed (or -1) */
		w->version = v;
		w->step_ms = 0;
		w->n++;
		w->fn(w->arg);
		return;
	}
	/* Not visible yet (a commit on its way), or only our own write:
	 * look again after 1, 2, 4 ... ms, then rest until the next event. */
	w->step_ms = w->step_ms == 0 ? 1 : w->step_ms * 2;
	if (w->step_ms > WAKE_MAX_STEP_MS) {
		w->step_ms = 0;
		return;
	}
	arm(w, w->step_ms);
}

/* Drain the inotify queue; start reading data_version if anything moved. */
static void
wake_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wake	*w = arg;
	char		 buf[4096]
			    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ie;
	ssize_t		 n;
	char		*p;
	bool		 moved = false;
	int64_t		 now, at;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)p;
			if (ie->mask & IN_IGNORED) {	/* file removed */
				if (ie->wd == w->wd_wal)
					w->wd_wal = -1;
				if (ie->wd == w->wd_db)
					w->wd_db = -1;
				continue;
			}
			if (ie->mask & IN_Q_OVERFLOW) {
				moved = true;
				continue;
			}
			if (ie->len > 0 && (ie->mask & DIR_MASK)) {
				/* The WAL (or a replaced database) appeared. */
				if (strcmp(ie->name, w->wal) == 0)
					w->wd_wal = watch_file(w, w->walpath);
				else if (strcmp(ie->name, w->name) == 0)
					w->wd_db = watch_file(w, w->path);
				else
					continue;
			}
			moved = true;
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_debug("inotify read: %s", strerror(errno));
	if (!moved)
		return;
	/* Read data_version at once, but at most every WAKE_MIN_GAP_MS: the
	 * worker's own commits raise events all the time while it is busy.
	 * A read already due sooner stands. */
	now = clock_mono_ms();
	at = w->checked_ms + WAKE_MIN_GAP_MS > now ?
	    w->checked_ms + WAKE_MIN_GAP_MS : now;
	if (evtimer_pending(w->tmr, NULL) && w->next_ms <= at)
		return;
	w->step_ms = 0;
	arm(w, (int)(at - now));
}

static int
split_path(struct wake *w, const char *dbpath)
{
	const char	*slash = strrchr(dbpath, '/');

	if (slash == NULL)
		w->dir = strdup(".");
	else if (slash == dbpath)
		w->dir = strdup("/");
	else
		w->dir = strndup(dbpath, (size_t)(slash - dbpath));
	w->name = strdup(slash ? slash + 1 : dbpath);
	w->path = strdup(dbpath);
	if (w->dir == NULL || w->name == NULL || w->path == NULL ||
	    asprintf(&w->wal, "%s-wal", w->name) == -1 ||
	    asprintf(&w->walpath, "%s-wal", dbpath) == -1) {
		w->wal = w->walpath = NULL;
		return -1;
	}
	return 0;
}

struct wake *
wake_new(struct event_base *base, struct db *d, const char *dbpath,
    void (*fn)(void *), void *arg)
{
	struct wake	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->d = d;
	w->fn = fn;
	w->arg = arg;
	w->fd = w->wd_db = w->wd_wal = -1;
	if (split_path(w, dbpath) == -1)
		goto fail;
	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_notice("inotify unavailable (%s): new records are picked "
		    "up at the next poll (poll_interval_ms)", strerror(errno));
		goto fail;
	}
	/* The directory: for a WAL (or database) created later. */
	if (inotify_add_watch(w->fd, w->dir, DIR_MASK | IN_ONLYDIR) == -1 ||
	    (w->wd_db = watch_file(w, w->path)) == -1) {
		log_notice("cannot watch %s (%s): new records are picked up "
		    "at the next poll (poll_interval_ms)", w->path,
		    strerror(errno));
		goto fail;
	}
	w->wd_wal = watch_file(w, w->walpath);
	w->version = data_version(w);
	if ((w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST,
	    wake_read_cb, w)) == NULL ||
	    (w->tmr = evtimer_new(base, wake_timer_cb, w)) == NULL ||
	    event_add(w->ev, NULL) == -1)
		goto fail;
	return w;
fail:
	wake_free(w);
	return NULL;
}

void
wake_free(struct wake *w)
{
	if (w == NULL)
		return;
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->tmr != NULL)
		event_free(w->tmr);
	if (w->fd != -1)
		close(w->fd);
	free(w->dir);
	free(w->name);
	free(w->wal);
	free(w->path);
	free(w->walpath);
	free(w);
}

long
wake_count(const struct wake *w)
{
	return w == NULL ? 0 : w->n;
}
