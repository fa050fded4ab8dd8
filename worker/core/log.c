/*
 * log: see log.h.  Every line goes through log_vwrite, which formats the
 * message once and then writes it in the chosen form: "prog: message",
 * "<N>message" (sd-daemon(3) priority prefix, for journald and
 * containers), syslog(3), or one JSON object.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define LOG_MAX_WS	64	/* workspace names the JSON form recognises */

static const char	*log_prog = "callsync";
static enum log_dest	 log_dest = LOG_DEST_STDERR;
static int		 log_verbose = 0;
static int		 log_prefix = 0;	/* "<N>" before each line */
static bool		 log_json = false;
static char		*log_ws[LOG_MAX_WS];
static size_t		 log_nws;

void
log_init(const char *progname, enum log_dest dest, int verbosity)
{
	log_prog = progname;
	log_dest = dest;
	log_verbose = verbosity;
	log_prefix = dest == LOG_DEST_AUTO && !isatty(STDERR_FILENO);
	if (dest == LOG_DEST_SYSLOG)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_json(bool on)
{
	log_json = on;
}

int
log_verbosity(void)
{
	return log_verbose;
}

void
log_add_workspace(const char *name)
{
	size_t	 i;

	for (i = 0; i < log_nws; i++)
		if (strcmp(log_ws[i], name) == 0)
			return;
	if (log_nws < LOG_MAX_WS && (log_ws[log_nws] = strdup(name)) != NULL)
		log_nws++;
}

static bool
log_is_ws(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < log_nws; i++)
		if (strlen(log_ws[i]) == n && memcmp(log_ws[i], s, n) == 0)
			return true;
	return false;
}

static const char *
log_level_name(int pri)
{
	switch (pri) {
	case LOG_ERR:
		return "err";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Append s[0..n) to buf as a JSON string (quoted), or null if s is NULL. */
static size_t
log_json_str(char *buf, size_t sz, size_t at, const char *s, size_t n)
{
	size_t		 i;
	unsigned char	 c;
	char		 esc[8];
	const char	*p;

#define PUT(ch) do { if (at + 1 < sz) buf[at] = (ch); at++; } while (0)
	if (s == NULL) {
		for (p = "null"; *p; p++)
			PUT(*p);
		return at;
	}
	PUT('"');
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT((char)c);
		} else if (c == '\n') {
			PUT('\\');
			PUT('n');
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			for (p = esc; *p; p++)
				PUT(*p);
		} else
			PUT((char)c);
	}
	PUT('"');
#undef PUT
	return at;
}

static size_t
log_json_lit(char *buf, size_t sz, size_t at, const char *s)
{
	for (; *s; s++, at++)
		if (at + 1 < sz)
			buf[at] = *s;
	return at;
}

/*
 * {"time":..,"level":..,"workspace":..,"key":..,"step":..,"message":..}
 * from fields given apart (each may be NULL: null; wsn, keyn, stepn
 * their lengths).
 */
static void
log_json_fields(char *buf, size_t sz, time_t t, int pri, const char *ws,
    size_t wsn, const char *key, size_t keyn, const char *step,
    size_t stepn, const char *rest)
{
	struct tm	 tm;
	char		 ts[40];
	size_t		 at = 0;

	if (sz == 0)
		return;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	at = log_json_lit(buf, sz, at, "{\"time\":\"");
	at = log_json_lit(buf, sz, at, ts);
	at = log_json_lit(buf, sz, at, "\",\"level\":\"");
	at = log_json_lit(buf, sz, at, log_level_name(pri));
	at = log_json_lit(buf, sz, at, "\",\"workspace\":");
	at = log_json_str(buf, sz, at, ws, wsn);
	at = log_json_lit(buf, sz, at, ",\"key\":");
	at = log_json_str(buf, sz, at, key, keyn);
	at = log_json_lit(buf, sz, at, ",\"step\":");
	at = log_json_str(buf, sz, at, step, stepn);
	at = log_json_lit(buf, sz, at, ",\"message\":");
	at = log_json_str(buf, sz, at, rest, strlen(rest));
	at = log_json_lit(buf, sz, at, "}");
	if (at >= sz) {
		/* Cut short: keep it one valid object. */
		snprintf(buf, sz, "{\"time\":\"%s\",\"level\":\"%s\","
		    "\"workspace\":null,\"key\":null,\"step\":null,"
		    "\"message\":\"(message too long)\"}", ts,
		    log_level_name(pri));
		return;
	}
	buf[at] = '\0';
}

void
log_rec_line(char *buf, size_t sz, time_t t, int pri, const char *ws,
    const char *key, const char *step, const char *msg)
{
	log_json_fields(buf, sz, t, pri, ws, ws ? strlen(ws) : 0, key,
	    key ? strlen(key) : 0, step, step ? strlen(step) : 0, msg);
}

/*
 * The JSON line of a message whose fields are in its text: workspace,
 * key and step come from the message's "ws/key: step: rest" or "ws:
 * rest" start when ws is a name given to log_add_workspace; the step is
 * the word before the second ": " (no blank in it).  A guess: lines about
 * one record say their fields with log_rec instead.
 */
void
log_json_line(char *buf, size_t sz, time_t t, int pri, const char *msg)
{
	const char	*ws = NULL, *key = NULL, *step = NULL, *rest = msg;
	const char	*colon, *slash, *sp;
	size_t		 wsn = 0, keyn = 0, stepn = 0;

	if ((colon = strstr(msg, ": ")) != NULL &&
	    (sp = strchr(msg, ' ')) != NULL && sp > colon) {
		slash = memchr(msg, '/', (size_t)(colon - msg));
		if (slash != NULL && log_is_ws(msg, (size_t)(slash - msg))) {
			ws = msg;
			wsn = (size_t)(slash - msg);
			key = slash + 1;
			keyn = (size_t)(colon - key);
			rest = colon + 2;
			if ((colon = strstr(rest, ": ")) != NULL &&
			    ((sp = strchr(rest, ' ')) == NULL || sp > colon) &&
			    colon > rest) {
				step = rest;
				stepn = (size_t)(colon - rest);
				rest = colon + 2;
			}
		} else if (slash == NULL &&
		    log_is_ws(msg, (size_t)(colon - msg))) {
			ws = msg;
			wsn = (size_t)(colon - msg);
			rest = colon + 2;
		}
	}
	log_json_fields(buf, sz, t, pri, ws, wsn, key, keyn, step, stepn,
	    rest);
}

/* One line out: JSON, syslog or stderr.  Fields given (ws non-NULL) are
 * used as they are; else JSON guesses them from msg. */
static void
log_emit(int pri, const char *ws, const char *key, const char *step,
    const char *msg)
{
	char	 text[2400], line[6144];

	if (log_json) {
		if (ws != NULL)
			log_rec_line(line, sizeof(line), clock_wall_s(), pri,
			    ws, key, step, msg);
		else
			log_json_line(line, sizeof(line), clock_wall_s(), pri,
			    msg);
		fprintf(stderr, "%s\n", line);
		fflush(stderr);
		return;
	}
	if (ws != NULL) {
		/* The house convention, "ws/key: step: message". */
		snprintf(text, sizeof(text), "%s%s%s: %s%s%s", ws,
		    key ? "/" : "", key ? key : "", step ? step : "",
		    step ? ": " : "", msg);
		msg = text;
	}
	if (log_dest == LOG_DEST_SYSLOG)
		syslog(pri, "%s", msg);
	else {
		if (log_prefix)
			fprintf(stderr, "<%d>%s\n", pri, msg);
		else
			fprintf(stderr, "%s: %s\n", log_prog, msg);
		fflush(stderr);
	}
}

static void
log_vwrite(int pri, const char *errstr, const char *fmt, va_list ap)
{
	char	 msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errstr != NULL) {
		size_t n = strlen(msg);

		snprintf(msg + n, sizeof(msg) - n, ": %s", errstr);
	}
	log_emit(pri, NULL, NULL, NULL, msg);
}

void
log_rec(enum log_level lvl, const char *ws, const char *key,
    const char *step, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[2048];
	int	 pri;

	switch (lvl) {
	case LOG_LVL_ERR:
		pri = LOG_ERR;
		break;
	case LOG_LVL_WARN:
		pri = LOG_WARNING;
		break;
	case LOG_LVL_INFO:
		if (log_verbose < 1)
			return;
		pri = LOG_INFO;
		break;
	default:
		if (log_verbose < 2)
			return;
		pri = LOG_DEBUG;
		break;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_emit(pri, ws != NULL ? ws : "", key, step, msg);
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
log_notice(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_NOTICE, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 2)
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
