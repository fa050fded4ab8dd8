/*
 * callsyncd: drain the callsync outbox into Intercom, exactly once.
 *
 * usage: callsyncd [-dhnv] [--drain] [--config file]
 *
 * Runs until SIGTERM/SIGINT (stop claiming, finish or release in-flight
 * work, exit 0); SIGHUP reloads the configuration and tokens.  With
 * --drain it exits when nothing is due: 0 when every record is delivered
 * or dead-lettered, 3 when records are still waiting, 1 on a fatal error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "conf.h"
#include "engine.h"
#include "log.h"

#define DEFAULT_CONF	"/etc/callsync/callsync.conf"

static void
usage(FILE *f)
{
	fprintf(f, "usage: callsyncd [-dhnv] [--drain] [-f | --config file]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "Drain the callsync outbox (SQLite) into Intercom exactly once.\n\n"
	    "  -f, --config FILE  configuration file (default %s)\n"
	    "      --drain        exit when nothing is due: 0 all delivered or\n"
	    "                     dead-lettered, 3 records still waiting, 1 fatal\n"
	    "  -d, --debug        stay in the foreground, log to stderr\n"
	    "  -n, --check        check the configuration, print \"configuration OK\"\n"
	    "  -v, --verbose      debug logging: every request and its verdict\n"
	    "  -h, --help         this help\n\n"
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
		{ NULL, 0, NULL, 0 }
	};
	struct engine	 e;
	struct conf	*c;
	const char	*path = DEFAULT_CONF;
	char		 err[1024];
	int		 ch, drain = 0, fg = 0, check = 0, verbose = 0, rc;

	while ((ch = getopt_long(argc, argv, "f:dnvh", longopts, NULL)) != -1) {
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
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* --drain is for scripts and tests: keep its output on stderr. */
	log_init("callsyncd", fg || drain || check, verbose);
	if ((c = conf_load(path, true, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return 1;
	}
	if (check) {
		printf("configuration OK\n");
		conf_free(c);
		return 0;
	}
	umask(077);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("cannot initialise libcurl");
		conf_free(c);
		return 1;
	}
	if (engine_init(&e, path, c) == -1) {
		engine_free(&e);
		curl_global_cleanup();
		return 1;
	}
	e.drain = drain;
	rc = engine_run(&e);
	engine_free(&e);
	curl_global_cleanup();
	return rc;
}
