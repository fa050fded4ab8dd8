/*
 * log: one line per event, to stderr or syslog.  Modelled on OpenBSD
 * ntpd's log.c.  Lower case, identifier first, no trailing period.
 * Tokens must never be passed to these functions.
 *
 * Levels and verbosity (callsyncd -v):
 *   fatalx, log_warn(x)  always            priority <3> err, <4> warning
 *   log_notice           always            <5> notice: start, stop, reload
 *   log_info             verbosity >= 1    <6> info: each record's story
 *   log_debug            verbosity >= 2    <7> debug: every request
 *
 * Destinations (log_init):
 *   LOG_DEST_STDERR   "prog: message" (the tools; callsyncd -d, --drain, -n
 *                     on a terminal)
 *   LOG_DEST_AUTO     stderr; when stderr is not a terminal (journald, a
 *                     container, a pipe) each line starts with its
 *                     sd-daemon(3) priority, "<6>message"
 *   LOG_DEST_SYSLOG   syslog(3) (callsyncd without -d on a terminal)
 * log_set_json() switches any of them to one JSON object per line on
 * stderr: {"time","level","workspace","key","step","message"}: as
 * log_rec gives them, else parsed from the message's leading
 * "workspace/key: step: " or "workspace: " (the house convention), or null.
 */
#ifndef CALLSYNC_LOG_H
#define CALLSYNC_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_dest { LOG_DEST_STDERR, LOG_DEST_AUTO, LOG_DEST_SYSLOG };

void	log_init(const char *progname, enum log_dest, int verbosity);
void	log_set_json(bool);
/* A workspace name the JSON format may recognise at a message's start. */
void	log_add_workspace(const char *);
int	log_verbosity(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn, format(printf, 1, 2)))
void	fatalx(const char *, ...);
/*
 * A line about one record with its fields given, never parsed back out
 * of the text: ws, key and step (key and step may be NULL).  Text
 * formats show "ws/key: step: message"; JSON puts each in its field, so
 * "acme/c1: dead-lettered: ..." is not read as step "dead-lettered".
 */
void	log_rec(enum log_level, const char *ws, const char *key,
	    const char *step, const char *, ...)
	    __attribute__((format(printf, 5, 6)));

/* The JSON line of a message (pure; for tests): writes into buf. */
void	log_json_line(char *buf, size_t sz, time_t t, int pri,
	    const char *msg);
/* The JSON line of log_rec's fields (pure; for tests). */
void	log_rec_line(char *buf, size_t sz, time_t t, int pri, const char *ws,
	    const char *key, const char *step, const char *msg);

#endif
