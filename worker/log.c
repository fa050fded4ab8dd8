/*
 * log: see log.h.  With to_stderr the line is "prog: message"; otherwise
 * it goes to syslog(3) with the matching priority.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char	*log_prog = "callsync";
static int		 log_stderr = 1;
static int		 log_verbose = 0;

void
log_init(const char *progname, int to_stderr, int verbosity)
{
	log_prog = progname;
	log_stderr = to_stderr;
	log_verbose = verbosity;
	if (!to_stderr)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void
log_vwrite(int pri, const char *errstr, const char *fmt, va_list ap)
{
	char	 buf[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_stderr) {
		if (errstr != NULL)
			fprintf(stderr, "%s: %s: %s\n", log_prog, buf, errstr);
		else
			fprintf(stderr, "%s: %s\n", log_prog, buf);
		fflush(stderr);
	} else if (errstr != NULL)
		syslog(pri, "%s: %s", buf, errstr);
	else
		syslog(pri, "%s", buf);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 0)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
