/*
 * cmd_workers: forget-worker, the operator's end of a stale heartbeat.
 *
 * A worker that exits cleanly deletes its row of the workers table; a
 * killed or crashed one leaves it, and `callsync status` and /metrics
 * (alert CallsyncWorkerStale) keep saying so until someone has looked.
 * This is how that someone says "looked": it deletes the row of a stale
 * worker, with an operator audit row in the same transaction, and
 * refuses a live one (its lock held and a heartbeat in the last 60 s:
 * forgetting it would hide a running worker).  A hung worker forgotten
 * here and later unstuck registers again at its next heartbeat (the
 * heartbeat is an upsert), so nothing is lost by forgetting too early.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "tool.h"

static const struct tool_cmd forget_c = { "forget-worker", NULL,
	"forget-worker [--json] OWNER | --all-stale",
	"Delete the workers-table row of a stale worker (killed, crashed, or\n"
	"running without a heartbeat for over 60 s), as `status --workers`\n"
	"names it by OWNER, so that status and the CallsyncWorkerStale alert\n"
	"stop reporting it once the cause is understood.  --all-stale\n"
	"forgets every stale worker.  A live worker is refused (exit 1): stop\n"
	"it instead.  Each forgotten worker gets an operator audit row.  A\n"
	"hung worker that recovers registers again at its next heartbeat.\n"
	"--json prints {forgotten: [{owner, host, pid, why}], refused:\n"
	"[{owner, why}]} instead of one line per worker." };

/*
 * Delete one stale worker's row and write its operator audit row, in one
 * transaction.  w is a tool_workers() object (borrowed).  0, or -1 on a
 * database error (said on stderr).
 */
static int
forget_one(struct tool *t, json_t *w)
{
	sqlite3_stmt	*st;
	json_t		*det;

	if (db_begin(&t->db) == -1)
		goto fail;
	st = store_prep(&t->db, SQ_WORKER_FORGET);
	if (st == NULL || db_bind_text(st, 1, json_string_value(
	    json_object_get(w, "owner"))) == -1 ||
	    db_step_done(&t->db, st) == -1)
		goto rollback;
	det = json_object();
	json_object_set_new(det, "action", json_string("forget_worker"));
	json_object_set(det, "owner", json_object_get(w, "owner"));
	json_object_set(det, "host", json_object_get(w, "host"));
	json_object_set(det, "pid", json_object_get(w, "pid"));
	json_object_set(det, "why", json_object_get(w, "why"));
	if (tool_operator_audit(t, NULL, NULL, det) == -1 ||
	    db_commit(&t->db) == -1)
		goto rollback;
	return 0;
rollback:
	db_rollback(&t->db);
fail:
	tool_err("forget-worker: %s: %s", tool_db_path(t), db_errmsg(&t->db));
	return -1;
}

int
cmd_forget_worker(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "all-stale", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*ws = NULL, *w, *done, *refused, *o;
	const char	*owner = NULL, *state;
	size_t		 i;
	int		 ch, all = 0, json = 0, found = 0;
	int		 rc = TOOL_EXIT_FAIL;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			all = 1;
			break;
		case 'h':
			return tool_usage(&forget_c, true);
		case 'j':
			json = 1;
			break;
		default:
			return tool_badopt(&forget_c, argv, ch);
		}
	}
	if (optind < argc)
		owner = argv[optind++];
	if ((owner == NULL) == (all == 0) || optind != argc) {
		tool_err("forget-worker: give one OWNER (as status --workers "
		    "shows it) or --all-stale");
		return tool_usage(&forget_c, false);
	}
	if (tool_open(t, 0) == -1)
		return TOOL_EXIT_FAIL;
	if ((ws = tool_workers(t, clock_wall_s())) == NULL) {
		tool_err("forget-worker: %s: %s", tool_db_path(t),
		    db_errmsg(&t->db));
		return TOOL_EXIT_FAIL;
	}
	done = json_array();
	refused = json_array();
	json_array_foreach(ws, i, w) {
		if (owner != NULL && strcmp(owner, json_string_value(
		    json_object_get(w, "owner"))) != 0)
			continue;
		found++;
		state = json_string_value(json_object_get(w, "state"));
		if (state == NULL || strcmp(state, "stale") != 0) {
			if (owner == NULL)
				continue;	/* --all-stale: live ones stay */
			o = json_pack("{s:O,s:s}", "owner",
			    json_object_get(w, "owner"), "why", "live: its lock "
			    "is held and its heartbeat is recent; stop the "
			    "worker instead");
			json_array_append_new(refused, o);
			if (!json)
				tool_err("forget-worker: %s is live (pid %lld "
				    "on %s): stop the worker instead", owner,
				    (long long)json_integer_value(
				    json_object_get(w, "pid")),
				    json_string_value(json_object_get(w,
				    "host")));
			continue;
		}
		if (forget_one(t, w) == -1)
			goto out;
		json_array_append_new(done, json_pack("{s:O,s:O,s:O,s:O}",
		    "owner", json_object_get(w, "owner"), "host",
		    json_object_get(w, "host"), "pid", json_object_get(w,
		    "pid"), "why", json_object_get(w, "why")));
		if (!json)
			printf("forgot worker %s (pid %lld on %s: %s)\n",
			    json_string_value(json_object_get(w, "owner")),
			    (long long)json_integer_value(json_object_get(w,
			    "pid")), json_string_value(json_object_get(w,
			    "host")), json_string_value(json_object_get(w,
			    "why")));
	}
	if (owner != NULL && found == 0) {
		tool_err("forget-worker: no worker %s in %s (callsync status "
		    "--workers lists them)", owner, tool_db_path(t));
		goto out;
	}
	if (!json && owner == NULL && json_array_size(done) == 0)
		printf("no stale worker to forget\n");
	if (json) {
		/* tool_print_json takes o (and its references). */
		o = json_pack("{s:O,s:O}", "forgotten", done, "refused",
		    refused);
		tool_print_json(stdout, o);
	}
	rc = json_array_size(refused) > 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
out:
	json_decref(done);
	json_decref(refused);
	json_decref(ws);
	return rc;
}
