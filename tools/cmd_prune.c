/*
 * cmd_prune: drop delivered records and audit rows older than a retention
 * period.  Records go with their journal and attempts (ON DELETE
 * CASCADE); audit rows go through audit_prune(), which leaves a
 * checkpoint row carrying the last pruned hash, so `audit verify` still
 * passes.  Pending, in-flight and dead records are never pruned: they
 * are work, not history.
 *
 * Records go PRUNE_CHUNK per transaction: a running worker waits at most
 * ~250 ms for the write lock, and one DELETE of a year of records would
 * hold it for seconds.  Each chunk is whole by itself, so an interrupted
 * prune has deleted some old delivered records and the next run deletes
 * the rest.  The audit rows go last, once every record chunk is
 * committed, 500 per transaction too (audit_prune: each chunk with its
 * checkpoint, so the log verifies between chunks), then the operator
 * audit row in a transaction of its own.
 */
#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "clock.h"
#include "ctx_cache.h"
#include "inbox.h"
#include "tool.h"

#define PRUNE_CHUNK	500	/* records per write transaction */

static const struct tool_cmd prune_c = { "prune", NULL,
	"prune [--dry-run] [--json] --older-than DURATION",
	"Delete delivered records delivered more than DURATION ago (30d, 12h,\n"
	"2w, or seconds) and audit rows older than that; a checkpoint row\n"
	"keeps the audit log verifiable.  --dry-run counts without deleting.\n"
	"Records and audit rows are deleted 500 per transaction so that a\n"
	"running callsyncd is never held up; if prune is interrupted, the\n"
	"audit log still verifies and the next run finishes.  A DURATION of\n"
	"0 is refused (exit 2).  --json prints {dry_run, older_than,\n"
	"records, audit_rows, contexts} instead of the sentence.  Cached\n"
	"caller contexts (personal data) older than [worker] context_max_age\n"
	"go too, whatever DURATION, and inbox notifications (Intercom's ids,\n"
	"kept for deduplication) older than 8 days." };

/* The result: a sentence, or with json one JSON document.  Exit code. */
static int
prune_print(bool json, bool dry, const char *older, int64_t nrec,
    int64_t naud, int64_t nctx)
{
	if (json)
		return tool_print_json(stdout, json_pack(
		    "{s:b, s:s, s:I, s:I, s:I}", "dry_run", dry, "older_than",
		    older, "records", (json_int_t)nrec, "audit_rows",
		    (json_int_t)naud, "contexts", (json_int_t)nctx)) == 0 ?
		    TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	if (dry)
		printf("would prune %" PRId64 " delivered records and %" PRId64
		    " audit rows (dry run: nothing changed)\n", nrec, naud);
	else
		printf("pruned %" PRId64 " delivered records and %" PRId64
		    " audit rows\n", nrec, naud);
	if (!dry && nctx > 0)	/* a line only when there were some: scripts parse */
		printf("pruned %" PRId64 " cached caller contexts older than "
		    "context_max_age\n", nctx);
	return TOOL_EXIT_OK;
}

int
cmd_prune(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "older-than", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	sqlite3_stmt	*st;
	json_t		*det;
	const char	*older = NULL;
	long long	 dur = -1;
	int64_t		 cutoff, nrec = 0, naud = 0, n, ninb;
	char		 op[128];
	int		 ch, dry = 0, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hn", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&prune_c, true);
		case 'j':
			json = 1;
			break;
		case 'n':
			dry = 1;
			break;
		case 'o':
			older = optarg;
			if ((dur = tool_parse_duration(optarg)) < 0) {
				tool_err("prune: --older-than %s: not a "
				    "duration (30d, 12h, 2w)", optarg);
				return tool_usage(&prune_c, false);
			}
			/* 0 would delete every delivered record and the
			 * whole audit log: never what a retention means. */
			if (dur == 0) {
				tool_err("prune: --older-than %s: a retention of "
				    "0 would delete every delivered record and "
				    "the whole audit log; give a period such as "
				    "30d", optarg);
				return tool_usage(&prune_c, false);
			}
			break;
		default:
			return tool_badopt(&prune_c, argv, ch);
		}
	}
	if (older == NULL || optind != argc) {
		tool_err("prune: --older-than DURATION is required");
		return tool_usage(&prune_c, false);
	}
	if (tool_open(t, 0) == -1)
		return TOOL_EXIT_FAIL;
	cutoff = clock_wall_ms() - (int64_t)dur * 1000;
	if (dry) {
		st = store_prep(&t->db, SQ_PRUNE_COUNT);
		if (st == NULL)
			return TOOL_EXIT_FAIL;
		db_bind_int(st, 1, cutoff);
		if (sqlite3_step(st) == SQLITE_ROW) {
			nrec = sqlite3_column_int64(st, 0);
			naud = sqlite3_column_int64(st, 1);
		}
		sqlite3_reset(st);
		return prune_print(json, true, older, nrec, naud, 0);
	}
	do {
		if (db_begin(&t->db) == -1)
			goto fail;
		st = store_prep(&t->db, SQ_PRUNE_DONE);
		if (st == NULL)
			goto fail;
		db_bind_int(st, 1, cutoff / 1000);
		db_bind_int(st, 2, PRUNE_CHUNK);
		if (db_step_done(&t->db, st) == -1)
			goto fail;
		n = sqlite3_changes(t->db.h);
		if (db_commit(&t->db) == -1)
			goto fail;
		nrec += n;
	} while (n == PRUNE_CHUNK);
	/* Its own chunks, each with its checkpoint: see audit.h. */
	if ((naud = audit_prune(&t->db, cutoff, tool_operator(op,
	    sizeof(op)))) == -1)
		goto fail;
	if (db_begin(&t->db) == -1)
		goto fail;
	det = json_object();
	json_object_set_new(det, "action", json_string("prune"));
	json_object_set_new(det, "older_than", json_string(older));
	json_object_set_new(det, "records", json_integer(nrec));
	json_object_set_new(det, "audit_rows", json_integer(naud));
	if (tool_operator_audit(t, NULL, NULL, det) == -1 ||
	    db_commit(&t->db) == -1)
		goto fail;
	/* Their own retention: docs/contract.md is silent, [worker] context_max_age. */
	if ((n = ctx_cache_prune(&t->db, clock_wall_s() -
	    (int64_t)(t->conf ? t->conf->context_max_age : 30 * 86400))) == -1)
		goto fail;
	/* Their own retention too: Intercom's notification ids, kept 8
	 * days (inbox.h), so a late retry is still known as a duplicate. */
	if ((ninb = inbox_prune(&t->db, clock_wall_s() - INBOX_KEEP_S))
	    == -1)
		goto fail;
	if (!json && ninb > 0)
		printf("pruned %" PRId64 " inbox notifications older than 8 "
		    "days\n", ninb);
	return prune_print(json, false, older, nrec, naud, n);
fail:
	tool_err("prune: %s: %s", tool_db_path(t), db_errmsg(&t->db));
	db_rollback(&t->db);
	if (nrec > 0 || naud != 0)
		tool_err("prune: some delivered records or audit rows may "
		    "have been pruned before the error (%" PRId64 " records); "
		    "run prune again to finish", nrec);
	return TOOL_EXIT_FAIL;
}
