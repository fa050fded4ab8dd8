/*
 * log: one line per event, to stderr (-d, tools) or syslog (daemon).
 * Modelled on OpenBSD ntpd's log.c.  Lower case, identifier first, no
 * trailing period.  Tokens must never be passed to these functions.
 */
#ifndef CALLSYNC_LOG_H
#define CALLSYNC_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void	log_init(const char *progname, int to_stderr, int verbosity);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn, format(printf, 1, 2)))
void	fatalx(const char *, ...);

#endif
