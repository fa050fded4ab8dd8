/*
 * callsync: the operator tool of callsync(8).  It reads the global
 * options (--config, --db, -v), then hands the rest of the command line
 * to one command of the table below; every command parses its own options
 * and returns the exit status (0 success, 1 failure, 2 usage).
 *
 * The tool shares the store with callsyncd through libcallsync (db.c,
 * outbox.c, audit.c, ident.c): every change it makes goes through the same
 * transactions and audit chain as the worker's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <unistd.h>

#include "log.h"
#include "tool.h"
#include "version.h"

#define DEFAULT_CONF	"/etc/callsync/callsync.conf"

static const struct tool_cmd main_cmds[] = {
	{ "init", cmd_init, "init",
	  "Create the database (mode 0600, WAL) or bring it to the latest\n"
	  "schema, and print the schema version." },
	{ "migrate", cmd_migrate, "migrate",
	  "Apply pending schema migrations and print the schema version.\n"
	  "A database newer than this callsync is refused." },
	{ "enqueue", cmd_enqueue, "enqueue [--json] [--workspace NAME] FILE|-", NULL },
	{ "status", cmd_status, "status [--json] [--workers]", NULL },
	{ "top", cmd_top, "top [--once] [--interval SECONDS]", NULL },
	{ "forget-worker", cmd_forget_worker,
	  "forget-worker [--json] OWNER | --all-stale", NULL },
	{ "ls", cmd_ls,
	  "ls [--json] [--limit N] [--state STATE] [--workspace NAME]", NULL },
	{ "show", cmd_show, "show [--json] [--workspace NAME] KEY", NULL },
	{ "dlq", cmd_dlq, "dlq ls | show | replay | purge | edit ...", NULL },
	{ "records", cmd_records, "records move | cancel ...", NULL },
	{ "audit", cmd_audit, "audit [verify] [--json] [options]", NULL },
	{ "export", cmd_export,
	  "export [--handoff] [--state pending|dead|all] [--workspace NAME]\n"
	  "                  [-o FILE]",
	  NULL },
	{ "import", cmd_import, "import [--json] FILE|-", NULL },
	{ "prune", cmd_prune, "prune [--dry-run] [--json] --older-than DURATION", NULL },
	{ "contacts", cmd_contacts, "contacts ls | show | resolve | merges ...",
	  NULL },
	{ "doctor", cmd_doctor, "doctor [--fix] [--json]", NULL },
	{ "sandbox-check", cmd_sandbox,
	  "sandbox-check [--workspace W] [--json] [--force]", NULL },
	{ "tasks", cmd_tasks,
	  "tasks ls [--json] [--state S] [--limit N] | show [--json] ID | "
	  "cancel [--json] ID", NULL },
	{ "context", cmd_context,
	  "context [--json] [--workspace NAME] --phone PHONE | --email EMAIL",
	  NULL },
};
#define NCMDS	(sizeof(main_cmds) / sizeof(main_cmds[0]))

/* Exactly the SYNOPSIS of callsync(8). */
static int
usage(bool to_stdout)
{
	FILE	*f = to_stdout ? stdout : stderr;
	size_t	 i;

	fprintf(f, "usage: callsync [-v] [--config FILE | --db FILE] "
	    "COMMAND [ARGS]\n       callsync --help | --version\n");
	if (!to_stdout)
		return TOOL_EXIT_USAGE;
	fprintf(f, "\ncommands:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  callsync %s\n", main_cmds[i].synopsis);
	fprintf(f, "\nEvery command takes --help.  Exit status: 0 success, "
	    "1 failure, 2 usage error.\n");
	return TOOL_EXIT_OK;
}

int
main(int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "config",	required_argument, NULL, 'c' },
		{ "db",		required_argument, NULL, 'D' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct tool	 t;
	size_t		 i;
	int		 c, rc;

	memset(&t, 0, sizeof(t));
	opterr = 0;
	/* "+": stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+:hv", lopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			t.conf_path = optarg;
			break;
		case 'D':
			t.db_path = optarg;
			break;
		case 'h':
			return usage(true);
		case 'v':
			t.verbose++;
			break;
		case 'V':
			printf("callsync %s (schema %d)\n", CALLSYNC_VERSION,
			    db_latest_version());
			return TOOL_EXIT_OK;
		case ':':
			tool_err("%s: missing argument", argv[optind - 1]);
			return usage(false);
		default:
			tool_err("%s: unknown option", argv[optind - 1]);
			return usage(false);
		}
	}
	argc -= optind;
	argv += optind;
	/* Neither --config nor --db: $CALLSYNC_CONFIG, else the default
	 * file when there is one, else the default database alone. */
	if (t.conf_path == NULL && t.db_path == NULL) {
		if (getenv("CALLSYNC_CONFIG") != NULL &&
		    getenv("CALLSYNC_CONFIG")[0] != '\0')
			t.conf_path = getenv("CALLSYNC_CONFIG");
		else if (access(DEFAULT_CONF, F_OK) == 0)
			t.conf_path = DEFAULT_CONF;
	}
	if (argc == 0) {
		tool_err("missing command");
		return usage(false);
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[0], main_cmds[i].name) == 0)
			break;
	if (i == NCMDS) {
		tool_err("%s: unknown command", argv[0]);
		return usage(false);
	}
	log_init("callsync", LOG_DEST_STDERR, t.verbose + 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = main_cmds[i].fn(&t, argc, argv);
	tool_close(&t);
	curl_global_cleanup();
	fflush(stdout);
	if (ferror(stdout) && rc == TOOL_EXIT_OK) {
		tool_err("stdout: write error");
		rc = TOOL_EXIT_FAIL;
	}
	return rc;
}
