/*
 * callsyncd: drain the callsync outbox into Intercom, exactly once.
 *
 * usage: callsyncd [-dhnVv] [--drain] [-f | --config file]
 *
 * Runs until SIGTERM/SIGINT (stop claiming, finish or release in-flight
 * work, exit 0); SIGHUP reloads the configuration and tokens.  With
 * --drain it exits when nothing is due: 0 when every record is delivered
 * or dead-lettered, 3 when records are still waiting, 1 on a fatal error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "conf.h"
#include "dbperm.h"
#include "engine.h"
#include "fdlimit.h"
#include "log.h"
#include "version.h"

#define DEFAULT_CONF	"/etc/callsync/callsync.conf"

static void
usage(FILE *f)
{
	fprintf(f, "usage: callsyncd [-dhnVv] [--drain] [-f | --config file]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "Drain the callsync outbox (SQLite) into Intercom exactly once.\n\n"
	    "  -f, --config FILE  configuration file (default $CALLSYNC_CONFIG,\n"
	    "                     else %s)\n"
	    "      --drain        exit when nothing is due: 0 all delivered or\n"
	    "                     dead-lettered, 3 records still waiting, 1 fatal\n"
	    "  -d, --debug        kept for compatibility: logs go to stderr\n"
	    "  -n, --check        check the configuration, print \"configuration OK\"\n"
	    "  -V, --version      print the version and exit\n"
	    "  -v, --verbose      more logging; twice: even more (see below)\n"
	    "  -h, --help         this help\n\n"
	    "Logging: warnings and the start, reload and stop lines always;\n"
	    "with one -v each record's story (info), with two every request\n"
	    "and its verdict (debug).\n"	    "Logs go to stderr, each line prefixed <N> (its syslog priority, for\n"
	    "journald) when stderr is not a terminal, \"callsyncd: \" on a\n"
	    "terminal; log_format = json makes them one JSON object a line.\n\n"
	    "Signals: SIGTERM/SIGINT stop (in-flight work is finished or\n"
	    "released); SIGHUP reloads the configuration and tokens.\n"
	    "See callsyncd(8), callsync.conf(5).\n", DEFAULT_CONF);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'f' },
		{ "drain",	no_argument,		NULL, 'D' },
		{ "debug",	no_argument,		NULL, 'd' },
		{ "check",	no_argument,		NULL, 'n' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct engine	*e;
	struct conf	*c;
	const char	*path = NULL;
	char		 err[4096], *line, *save = NULL;
	int		 ch, drain = 0, fg = 0, check = 0, verbose = 0, rc;
	long		 was = -1, now = -1;
	size_t		 i;
	enum log_dest	 dest;

	while ((ch = getopt_long(argc, argv, "f:dnVvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		case 'D':
			drain = 1;
			break;
		case 'd':
			fg = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("callsyncd %s\n", CALLSYNC_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (path == NULL)
		path = getenv("CALLSYNC_CONFIG") != NULL &&
		    getenv("CALLSYNC_CONFIG")[0] != '\0' ?
		    getenv("CALLSYNC_CONFIG") : DEFAULT_CONF;
	/*
	 * Always stderr: with <N> priorities when it is not a terminal
	 * (journald, containers, pipes), plain "callsyncd: " lines on a
	 * terminal (a person who started it by hand sees the start-up and
	 * serving lines; -d is kept for compatibility) and for -n.
	 */
	(void)fg;
	if (check)
		dest = LOG_DEST_STDERR;
	else
		dest = LOG_DEST_AUTO;
	log_init("callsyncd", dest, verbose);
	if ((c = conf_load(path, true, err, sizeof(err))) == NULL) {
		/* Every mistake of the file, one line each. */
		for (line = strtok_r(err, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_warnx("%s", line);
		return 1;
	}
	for (i = 0; i < c->nws; i++)
		log_add_workspace(c->ws[i].name);
	if (!check)
		log_set_json(strcmp(c->log_format, "json") == 0);
	if (check) {
		printf("configuration OK\n");
		/* Not the file's fault, but the worker would not start. */
		if (dbperm_dir_missing(c->database, err, sizeof(err)))
			log_warnx("warning: %s", err);
		conf_free(c);
		return 0;
	}
	umask(077);
	/* Every request in flight holds a socket: take what the hard limit
	 * allows before anything is opened (fdlimit.h). */
	switch (fdlimit_raise(&was, &now)) {
	case 1:
		log_notice("raised the open-file limit from %ld to %ld (the "
		    "hard limit)", was, now);
		break;
	case -1:
		log_warnx("cannot raise the open-file limit from %ld: %s",
		    was, strerror(errno));
		break;
	default:
		break;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("cannot initialise libcurl");
		conf_free(c);
		return 1;
	}
	if ((e = engine_new(path, c, drain)) == NULL) {
		curl_global_cleanup();
		return 1;
	}
	rc = engine_run(e);
	engine_free(e);
	curl_global_cleanup();
	return rc;
}
