/*
 * cmd_recmove: records move and records cancel, the operator's way out
 * for pending records that no worker will ever deliver as they are: a
 * producer wrote workspace 'Acme' for 'acme' (callsync status, doctor,
 * /healthz and callsync_records_unserved name them).
 *
 * move gives pending records another workspace; cancel makes them dead
 * letters with reason cancelled (dlq replay brings one back, dlq purge
 * deletes it).  Only pending records are touched: an in-flight one is a
 * worker's.  A record with journal steps is never moved: its Intercom
 * ids belong to the workspace that wrote them.  Each record changes in
 * its own transaction with its operator audit row, as dlq replay does,
 * so an interrupted run leaves every record untouched or fully handled.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static const struct tool_cmd rm_c = { "records", NULL,
	"records move | cancel ...",
	"Pending records a person must redirect or stop.\n"
	"  callsync records move [--dry-run] [--key KEY] [--note TEXT] "
	"--to NAME --workspace NAME\n"
	"  callsync records cancel [--all] [--dry-run] [--note TEXT] "
	"[--workspace NAME] [KEY ...]\n"
	"See callsync records COMMAND --help." };
static const struct tool_cmd rm_move_c = { "records move", NULL,
	"records move [--dry-run] [--key KEY] [--note TEXT] --to NAME "
	"--workspace NAME",
	"Give the pending records of workspace --workspace (all of them, or\n"
	"those of --key, repeatable) the workspace --to, e.g. 'Acme' to\n"
	"'acme' after a producer's typo; the worker serving --to delivers\n"
	"them.  With --config, --to must be one of its workspaces.  Refused\n"
	"per record (exit 1, the others go on): a record with journal steps\n"
	"(its Intercom ids belong to the old workspace) and a key --to has\n"
	"already (cancel that one instead).  Each move is an operator row in\n"
	"the audit log (--note gives the why); --dry-run only lists." };
static const struct tool_cmd rm_cancel_c = { "records cancel", NULL,
	"records cancel [--all] [--dry-run] [--note TEXT] [--workspace NAME] "
	"[KEY ...]",
	"Stop pending records: each becomes a dead letter with reason\n"
	"cancelled (callsync dlq replay brings it back, dlq purge deletes\n"
	"it).  Select KEYs (with --workspace when a key is in several), or\n"
	"--all --workspace NAME for every pending record of that workspace.\n"
	"Each cancel is an operator row in the audit log (--note gives the\n"
	"why); --dry-run only lists." };

/* The pending records selected, oldest first: [{id, workspace, key}]. */
static json_t *
rm_collect(struct tool *t, const char *ws, json_t *keys)
{
	sqlite3_stmt	*st;
	json_t		*a;
	char		*k = NULL;
	int		 rc;

	st = store_prep(&t->db, SQ_PENDING_LIST);
	if (st == NULL)
		return NULL;
	if (keys != NULL)
		k = json_dumps(keys, JSON_COMPACT);
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, k);
	a = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(a, json_pack("{s:I, s:o, s:o, s:I}",
		    "id", (json_int_t)sqlite3_column_int64(st, 0),
		    "workspace", tool_col_str(st, 1),
		    "key", tool_col_str(st, 2),
		    "steps", (json_int_t)sqlite3_column_int64(st, 3)));
	sqlite3_reset(st);
	free(k);
	if (rc != SQLITE_DONE) {
		tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
		json_decref(a);
		return NULL;
	}
	return a;
}

/*
 * Move (to != NULL) or cancel record o in one transaction with its audit
 * row.  1 done, 0 no longer pending, -1 error.
 */
static int
rm_apply(struct tool *t, json_t *o, const char *to, const char *note)
{
	sqlite3_stmt	*st;
	json_t		*det;
	int64_t		 id = json_integer_value(json_object_get(o, "id"));
	const char	*ws = tool_json_s(o, "workspace"), *key = tool_json_s(o, "key");

	if (db_begin(&t->db) == -1)
		return -1;
	/* lane NULL: the worker sorts it again, in its new workspace. */
	if (to != NULL)
		st = store_prep(&t->db, SQ_PENDING_MOVE);
	else
		st = store_prep(&t->db, SQ_PENDING_CANCEL);
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, id);
	if (to != NULL)
		db_bind_text(st, 2, to);
	if (db_step_done(&t->db, st) == -1)
		goto fail;
	if (sqlite3_changes(t->db.h) == 0) {
		db_rollback(&t->db);
		return 0;
	}
	if (to == NULL) {
		st = store_prep(&t->db, SQ_CANCEL_LETTER);
		if (st == NULL)
			goto fail;
		db_bind_int(st, 1, id);
		db_bind_text(st, 2, note);
		if (db_step_done(&t->db, st) == -1)
			goto fail;
	}
	det = json_object();
	json_object_set_new(det, "action", json_string(to != NULL ?
	    "records_move" : "records_cancel"));
	json_object_set_new(det, "key", json_string(key));
	json_object_set_new(det, "reason", note != NULL ? json_string(note) :
	    json_null());
	if (to != NULL) {
		json_object_set_new(det, "from", json_string(ws));
		json_object_set_new(det, "to", json_string(to));
	}
	/* Under the record's workspace now, so that show finds the row. */
	if (tool_operator_audit(t, to != NULL ? to : ws, key, det) == -1 ||
	    db_commit(&t->db) == -1)
		goto fail;
	return 1;
fail:
	tool_err("%s: %s/%s: %s", tool_db_path(t), ws, key, db_errmsg(&t->db));
	db_rollback(&t->db);
	return -1;
}

/* Does workspace ws have a record with key already?  1, 0, -1. */
static int
rm_key_taken(struct tool *t, const char *ws, const char *key)
{
	sqlite3_stmt	*st;
	int		 rc;

	st = store_prep(&t->db, SQ_REC_EXISTS);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, key);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int
rm_run(struct tool *t, int argc, char **argv, bool move)
{
	static const struct option lopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "key", required_argument, NULL, 'k' },
		{ "note", required_argument, NULL, 'N' },
		{ "to", required_argument, NULL, 't' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	const struct tool_cmd	*c = move ? &rm_move_c : &rm_cancel_c;
	const char		*verb = move ? "move" : "cancel";
	const char		*ws = NULL, *to = NULL, *note = NULL, *why;
	json_t			*keys = NULL, *a = NULL, *o;
	size_t			 i, ndone = 0, nrefused = 0;
	int			 ch, r, all = 0, dry = 0, rc = TOOL_EXIT_FAIL;
	char			 names[512];

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hn", lopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (move)
				goto badopt;
			all = 1;
			break;
		case 'h':
			rc = tool_usage(c, true);
			goto out;
		case 'k':
			if (!move)
				goto badopt;
			if (keys == NULL)
				keys = json_array();
			json_array_append_new(keys, json_string(optarg));
			break;
		case 'n':
			dry = 1;
			break;
		case 'N':
			note = optarg;
			break;
		case 't':
			if (!move)
				goto badopt;
			to = optarg;
			break;
		case 'w':
			ws = optarg;
			break;
		default:
		badopt:
			rc = tool_badopt(c, argv, ch);
			goto out;
		}
	}
	if (!move) {
		for (; optind < argc; optind++) {
			if (keys == NULL)
				keys = json_array();
			json_array_append_new(keys, json_string(argv[optind]));
		}
		if ((keys == NULL) == !all || (all && ws == NULL)) {
			tool_err("records cancel: give KEYs, or --all with "
			    "--workspace NAME");
			rc = tool_usage(c, false);
			goto out;
		}
	} else if (optind != argc || ws == NULL || to == NULL) {
		tool_err("records move: give --workspace NAME and --to NAME%s",
		    optind != argc ? " (keys go with --key)" : "");
		rc = tool_usage(c, false);
		goto out;
	}
	if (tool_conf(t, false) == -1 || tool_open(t, 0) == -1)
		goto out;
	if (move && t->conf != NULL && tool_ws_conf(t, to) == NULL) {
		names[0] = '\0';
		for (i = 0; i < t->conf->nws; i++)
			snprintf(names + strlen(names), sizeof(names) -
			    strlen(names), "%s%s", i ? ", " : "",
			    t->conf->ws[i].name);
		tool_err("records move: --to %s: not in %s (its workspaces: "
		    "%s); nothing moved", to, t->conf_path, names);
		goto out;
	}
	if (move && strcmp(ws, to) == 0) {
		tool_err("records move: --workspace and --to are both %s", ws);
		rc = tool_usage(c, false);
		goto out;
	}
	if ((a = rm_collect(t, ws, keys)) == NULL)
		goto out;
	if (json_array_size(a) == 0)
		fprintf(stderr, "no pending record matches\n");
	json_array_foreach(a, i, o) {
		why = NULL;
		if (move && json_integer_value(json_object_get(o,
		    "steps")) > 0)
			why = "it has journal steps (their Intercom ids belong "
			    "to its workspace): cancel it and enqueue it again "
			    "instead";
		else if (move && (r = rm_key_taken(t, to, tool_json_s(o,
		    "key"))) != 0) {
			if (r == -1) {
				tool_err("%s: %s", tool_db_path(t),
				    db_errmsg(&t->db));
				goto out;
			}
			why = "has this key already (the producer wrote it "
			    "twice?): cancel this one instead";
		}
		if (why != NULL) {
			printf("refused %s/%s: %s%s%s\n", tool_json_s(o, "workspace"),
			    tool_json_s(o, "key"), why[0] == 'h' ? to : "",
			    why[0] == 'h' ? " " : "", why);
			nrefused++;
			continue;
		}
		if (dry) {
			printf("would %s %s/%s%s%s\n", verb, tool_json_s(o,
			    "workspace"), tool_json_s(o, "key"), move ? " to " : "",
			    move ? to : "");
			ndone++;
			continue;
		}
		if ((r = rm_apply(t, o, move ? to : NULL, note)) == -1)
			goto out;
		if (r == 0) {
			printf("skipped %s/%s: no longer pending\n",
			    tool_json_s(o, "workspace"), tool_json_s(o, "key"));
			continue;
		}
		printf("%s %s/%s%s%s\n", move ? "moved" : "cancelled",
		    tool_json_s(o, "workspace"), tool_json_s(o, "key"), move ? " to " : "",
		    move ? to : "");
		ndone++;
	}
	if (dry)
		printf("would %s %zu records (dry run: nothing changed)\n",
		    verb, ndone);
	else
		printf("%s %zu records%s\n", move ? "moved" : "cancelled",
		    ndone, nrefused > 0 ? "; some refused" : "");
	rc = nrefused > 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
out:
	json_decref(a);
	json_decref(keys);
	return rc;
}

int
cmd_records(struct tool *t, int argc, char **argv)
{
	if (argc < 2) {
		tool_err("records: missing subcommand");
		return tool_usage(&rm_c, false);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return tool_usage(&rm_c, true);
	if (strcmp(argv[1], "move") == 0)
		return rm_run(t, argc - 1, argv + 1, true);
	if (strcmp(argv[1], "cancel") == 0)
		return rm_run(t, argc - 1, argv + 1, false);
	tool_err("records: %s: unknown subcommand", argv[1]);
	return tool_usage(&rm_c, false);
}
