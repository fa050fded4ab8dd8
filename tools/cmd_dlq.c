/*
 * cmd_dlq: the dead-letter queue: ls, show, replay, purge and edit.
 *
 * Replay puts a dead record back to pending with its attempts reset, but
 * keeps its step journal: the worker resumes at the first step missing
 * there, so what already reached Intercom is not written a second time.
 * Each record is replayed or purged in its own transaction together with
 * its operator audit row, so an interrupted run leaves every record either
 * untouched or fully handled, never half.
 *
 * replay and purge act on many records at once, so they refuse to run
 * without an explicit selection (--all included).
 *
 * Records handed to another machine (export --handoff, state handed_off)
 * are not dead letters: only --key or --reason handed_off selects them,
 * and replay refuses them without --force, since the other machine has
 * delivered or will deliver them (the dry run names the bundle).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "record.h"
#include "tool.h"

static const struct tool_cmd dlq_c = { "dlq", NULL,
	"dlq ls | show | replay | purge | edit ...",
	"Dead letters: records the worker will not retry without an operator.\n"
	"  callsync dlq ls [--all] [--json] [--key KEY] [--reason R] "
	"[--since T] [--workspace NAME]\n"
	"  callsync dlq show [--json] [--workspace NAME] KEY\n"
	"  callsync dlq replay [--all] [--dry-run] [--force] [--json] "
	"[--key KEY] [--note TEXT] [--rate N/s] [--reason R] [--since T] "
	"[--workspace NAME]\n"
	"  callsync dlq purge [--all] [--dry-run] [--json] [--key KEY] "
	"[--note TEXT] [--reason R] [--since T] [--workspace NAME]\n"
	"  callsync dlq edit [--dry-run] [--note TEXT] [--workspace NAME] "
	"[--payload FILE] KEY\n"
	"See callsync dlq COMMAND --help." };
static const struct tool_cmd dlq_ls_c = { "dlq ls", NULL,
	"dlq ls [--all] [--json] [--key KEY] [--reason R] [--since T] "
	"[--workspace NAME]",
	"List dead letters (all of them when nothing is selected).  --key may\n"
	"be repeated; --since takes an RFC 3339 time or a duration (24h, 7d)\n"
	"and keeps letters that died at or after it.  Records handed to\n"
	"another machine (export --handoff) are not dead letters: --key or\n"
	"--reason handed_off lists them too, with their bundle." };
static const struct tool_cmd dlq_show_c = { "dlq show", NULL,
	"dlq show [--json] [--workspace NAME] KEY",
	"Show a dead record with its dead letter, journal and attempts." };
static const struct tool_cmd dlq_replay_c = { "dlq replay", NULL,
	"dlq replay [--all] [--dry-run] [--force] [--json] [--key KEY] "
	"[--note TEXT] [--rate N/s] [--reason R] [--since T] "
	"[--workspace NAME]",
	"Put the selected dead records back to pending, due now, attempts 0,\n"
	"keeping their journal so steps that reached Intercom are not\n"
	"repeated.  Each replay is an operator row in the audit log (--note\n"
	"gives the why).  --rate paces replays, e.g. 50/s.  A selection is\n"
	"required: --key, --reason, --since, --workspace or --all.\n"
	"--dry-run changes nothing and shows per record the steps done\n"
	"(with their Intercom ids), to reconcile and to do, and where the\n"
	"writes go: the contact from the journal, caller.contact_id, the\n"
	"identity map, or resolved at delivery by phone/email search; and\n"
	"whether last_call_* are skipped because the contact has a newer\n"
	"call.  --json prints one JSON document at the end: {action,\n"
	"dry_run, done, skipped, refused, records: [{workspace, key,\n"
	"reason, result}]}, result replayed, skipped, would_replay or\n"
	"refused; with --dry-run each record also has \"plan\": [{action,\n"
	"step, detail}], action done, reconcile, to_do, invalid_payload or\n"
	"writes_go_to.  Records handed to another machine by an export (reason\n"
	"handed_off) are selected only by --key or --reason handed_off, never\n"
	"by --all, and refused (exit 1) without --force: the other machine\n"
	"delivers them, so a replay here writes them twice unless that\n"
	"machine never did.  The dry run names the bundle and when." };
static const struct tool_cmd dlq_purge_c = { "dlq purge", NULL,
	"dlq purge [--all] [--dry-run] [--json] [--key KEY] [--note TEXT] "
	"[--reason R] [--since T] [--workspace NAME]",
	"Delete the selected dead records with their journal, attempts and\n"
	"dead letter (and records handed off to another machine, when --key\n"
	"or --reason handed_off selects them); each deletion is an operator\n"
	"row in the audit log.  A selection is required: --key, --reason,\n"
	"--since, --workspace or --all.  --dry-run only lists them.\n"
	"--json prints one JSON document at the end, as dlq replay --json\n"
	"(result purged, skipped or would_purge)." };
static const struct tool_cmd dlq_edit_c = { "dlq edit", NULL,
	"dlq edit [--dry-run] [--note TEXT] [--workspace NAME] [--payload FILE] "
	"KEY",
	"Replace the payload of dead record KEY by FILE (valid JSON, at most\n"
	"1 MiB).  Without --payload, the payload opens, pretty-printed, in\n"
	"$VISUAL, else $EDITOR, else vi; when the editor exits 0 it is\n"
	"checked (JSON, size, and as the worker will parse it) before it is\n"
	"saved: on a terminal a mistake offers to edit again, otherwise it\n"
	"fails (exit 1) with nothing changed and the edit kept in a file it\n"
	"names; an unchanged payload saves nothing.  The old payload is kept in\n"
	"the payload history; the record\n"
	"stays dead until replayed.  A new caller (phone, email, contact_id)\n"
	"drops the journal's contact and attributes steps and their intents,\n"
	"so the replay goes to the new contact; a conversation already\n"
	"created stays, and notes, tags and assignment continue there.  A new\n"
	"conversation_id drops the steps of the old given conversation.  The\n"
	"dropped steps are printed and audited; --dry-run only prints." };

struct dlq_sel {
	json_t		*keys;		/* array of strings, or NULL */
	const char	*reason;
	const char	*ws;
	int64_t		 since;		/* unix seconds, or -1 */
	bool		 all;
	bool		 any;		/* something was selected */
	bool		 force;		/* replay handed-off records too */
};

enum dlq_act { DLQ_REPLAY, DLQ_PURGE };

/* Parse one selector option; 1 if ch was one, 0 if not, -1 if bad. */
static int
dlq_sel_opt(struct dlq_sel *s, int ch, const char *arg)
{
	int64_t	 ms;

	switch (ch) {
	case 'a':
		s->all = true;
		break;
	case 'k':
		if (s->keys == NULL)
			s->keys = json_array();
		json_array_append_new(s->keys, json_string(arg));
		break;
	case 'r':
		s->reason = arg;
		break;
	case 'S':
		if (tool_parse_when(arg, &ms) == -1) {
			tool_err("dlq: --since %s: not an RFC 3339 time or a "
			    "duration", arg);
			return -1;
		}
		s->since = ms / 1000;
		break;
	case 'w':
		s->ws = arg;
		break;
	default:
		return 0;
	}
	s->any = true;
	return 1;
}

/*
 * "handed off to another machine in the export bundle of T (FILE,
 * sha256 X), on T2 by OP" for handoff h (borrowed), into buf.
 */
static const char *
dlq_handoff_msg(json_t *h, char *buf, size_t sz)
{
	const char	*b = json_string_value(json_object_get(h, "bundle"));
	const char	*c = json_string_value(json_object_get(h, "created_at"));
	const char	*d = json_string_value(json_object_get(h, "sha256"));
	const char	*w = json_string_value(json_object_get(h, "handed_at"));
	const char	*op = json_string_value(json_object_get(h, "operator"));

	snprintf(buf, sz, "handed off to another machine in the export "
	    "bundle of %s (%s, %s%.12s%s), on %s%s%s", c != NULL ? c :
	    "an unknown time", b != NULL ? b : "file not recorded",
	    d != NULL ? "sha256 " : "", d != NULL ? d : "no checksum: "
	    "the handoff stopped half-way or predates 0008",
	    d != NULL ? "..." : "", w != NULL ? w : "?", op != NULL ?
	    " by " : "", op != NULL ? op : "");
	return buf;
}

/*
 * The selected dead letters, oldest first, as a new array; with them the
 * handed-off records that --key or --reason handed_off selects (marked
 * "handed_off": true, with their "handoff").
 */
static json_t *
dlq_collect(struct tool *t, const struct dlq_sel *s)
{
	sqlite3_stmt	*st;
	json_t		*a, *o, *h;
	char		*keys = NULL, msg[PATH_MAX + 256];
	int		 rc;

	st = store_prep(&t->db, SQ_DLQ_LIST);
	if (st == NULL)
		return NULL;
	if (s->keys != NULL)
		keys = json_dumps(s->keys, JSON_COMPACT);
	db_bind_text(st, 1, keys);
	db_bind_text(st, 2, s->reason);
	if (s->since >= 0)
		db_bind_int(st, 3, s->since);
	db_bind_text(st, 4, s->ws);
	a = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		o = json_object();
		json_object_set_new(o, "id", tool_col_int(st, 0));
		json_object_set_new(o, "workspace", tool_col_str(st, 1));
		json_object_set_new(o, "key", tool_col_str(st, 2));
		json_object_set_new(o, "reason", tool_col_str(st, 3));
		json_object_set_new(o, "class", tool_col_str(st, 4));
		json_object_set_new(o, "message", sqlite3_column_type(st, 5) ==
		    SQLITE_NULL ? tool_col_str(st, 10) : tool_col_str(st, 5));
		json_object_set_new(o, "http_status", tool_col_int(st, 6));
		json_object_set_new(o, "attempts", tool_col_int(st, 7));
		json_object_set_new(o, "dead_at", tool_col_time(st, 8));
		json_object_set_new(o, "note", tool_col_str(st, 9));
		if (sqlite3_column_int(st, 11)) {
			h = json_object();
			json_object_set_new(h, "bundle", tool_col_str(st, 12));
			json_object_set_new(h, "created_at",
			    tool_col_str(st, 13));
			json_object_set_new(h, "sha256", tool_col_str(st, 14));
			json_object_set_new(h, "handed_at",
			    tool_col_time(st, 8));
			json_object_set_new(h, "operator", tool_col_str(st, 15));
			json_object_set_new(o, "message", json_string(
			    dlq_handoff_msg(h, msg, sizeof(msg))));
			json_object_set_new(o, "handed_off", json_true());
			json_object_set_new(o, "handoff", h);
		}
		json_array_append_new(a, o);
	}
	sqlite3_reset(st);
	free(keys);
	if (rc != SQLITE_DONE) {
		tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
		json_decref(a);
		return NULL;
	}
	return a;
}

static int
dlq_ls(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "key", required_argument, NULL, 'k' },
		{ "reason", required_argument, NULL, 'r' },
		{ "since", required_argument, NULL, 'S' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct dlq_sel	 s;
	json_t		*a = NULL, *o;
	size_t		 i;
	int		 ch, r, json = 0, rc = TOOL_EXIT_FAIL;

	memset(&s, 0, sizeof(s));
	s.since = -1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hj", lopts, NULL)) != -1) {
		if (ch == 'h') {
			rc = tool_usage(&dlq_ls_c, true);
			goto out;
		}
		if (ch == 'j') {
			json = 1;
			continue;
		}
		if ((r = dlq_sel_opt(&s, ch, optarg)) == 1)
			continue;
		rc = r == -1 ? tool_usage(&dlq_ls_c, false) :
		    tool_badopt(&dlq_ls_c, argv, ch);
		goto out;
	}
	if (optind != argc) {
		tool_err("dlq ls: unexpected argument %s", argv[optind]);
		rc = tool_usage(&dlq_ls_c, false);
		goto out;
	}
	if (tool_open(t, DB_OPEN_READ) == -1 || (a = dlq_collect(t, &s)) == NULL)
		goto out;
	if (!json)
		printf("%-6s %-12s %-24s %-22s %3s %-20s %s\n", "ID",
		    "WORKSPACE", "KEY", "REASON", "TRY", "DEAD AT", "MESSAGE");
	json_array_foreach(a, i, o) {
		if (json) {
			tool_print_json(stdout, json_incref(o));
			continue;
		}
		printf("%-6lld %-12s %-24s %-22s %3lld %-20s %s\n",
		    (long long)json_integer_value(json_object_get(o, "id")),
		    tool_json_s(o, "workspace"), tool_json_s(o, "key"),
		    tool_json_s(o, "reason"), (long long)json_integer_value(
		    json_object_get(o, "attempts")), tool_json_s(o, "dead_at"),
		    tool_json_s(o, "message"));
	}
	rc = TOOL_EXIT_OK;
out:
	json_decref(a);
	json_decref(s.keys);
	return rc;
}

static int
dlq_show(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*ws = NULL;
	int		 ch, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hjw:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&dlq_show_c, true);
		case 'j':
			json = 1;
			break;
		case 'w':
			ws = optarg;
			break;
		default:
			return tool_badopt(&dlq_show_c, argv, ch);
		}
	}
	if (argc - optind != 1) {
		tool_err("dlq show: give one KEY");
		return tool_usage(&dlq_show_c, false);
	}
	if (tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	return cmd_show_record(t, ws, argv[optind], json, true);
}

/* "50/s", "50" or "0.5/s" -> records per second; -1 when malformed. */
static double
dlq_parse_rate(const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || v <= 0 || v > 1e6)
		return -1;
	if (*end != '\0' && strcmp(end, "/s") != 0)
		return -1;
	return v;
}

/* Sleep ns nanoseconds, resuming after signals: pacing, not syncing. */
static void
dlq_pace(long long ns)
{
	struct timespec	 ts, rem;

	ts.tv_sec = ns / 1000000000LL;
	ts.tv_nsec = ns % 1000000000LL;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
		ts = rem;
}

/*
 * Replay or purge record o in one transaction with its audit row.  A
 * handed-off record (o's "handed_off") leaves that state and its handoff
 * row; the audit row says so and carries the bundle.  1 done, 0 skipped
 * (no longer dead or handed off), -1 error.
 */
static int
dlq_apply(struct tool *t, enum dlq_act act, json_t *o, const char *note)
{
	sqlite3_stmt	*st;
	json_t		*det;
	int64_t		 id = json_integer_value(json_object_get(o, "id"));
	const char	*ws = tool_json_s(o, "workspace"), *key = tool_json_s(o, "key");
	bool		 ho = json_is_true(json_object_get(o, "handed_off"));

	if (db_begin(&t->db) == -1)
		return -1;
	if (act == DLQ_REPLAY)
		st = store_prep(&t->db, SQ_DLQ_REQUEUE);
	else
		st = store_prep(&t->db, SQ_DLQ_DROP);
	if (st == NULL)
		goto fail;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, ho ? "handed_off" : "dead");
	if (db_step_done(&t->db, st) == -1)
		goto fail;
	if (sqlite3_changes(t->db.h) == 0) {
		db_rollback(&t->db);
		return 0;
	}
	if (act == DLQ_REPLAY) {
		/* The journal stays: the worker resumes from it. */
		if ((st = store_prep(&t->db, ho ? SQ_HANDOFF_FORGET :
		    SQ_DEAD_LETTER_FORGET)) == NULL)
			goto fail;
		db_bind_int(st, 1, id);
		if (db_step_done(&t->db, st) == -1)
			goto fail;
	}
	det = json_object();
	json_object_set_new(det, "action", json_string(act == DLQ_REPLAY ?
	    "dlq_replay" : "dlq_purge"));
	json_object_set_new(det, "key", json_string(key));
	json_object_set_new(det, "reason", note != NULL ? json_string(note) :
	    json_null());
	json_object_set(det, "dead_reason", json_object_get(o, "reason"));
	if (ho) {
		json_object_set_new(det, "forced", json_boolean(act ==
		    DLQ_REPLAY));
		json_object_set(det, "handoff", json_object_get(o, "handoff"));
	}
	if (tool_operator_audit(t, ws, key, det) == -1)
		goto fail;
	if (db_commit(&t->db) == -1)
		goto fail;
	return 1;
fail:
	tool_err("%s: %s/%s: %s", tool_db_path(t), ws, key,
	    db_errmsg(&t->db));
	db_rollback(&t->db);
	return -1;
}

/* --json: dead letter o (borrowed) and what became of it, into res. */
static void
dlq_result(json_t *res, json_t *o, const char *result)
{
	json_array_append_new(res, json_pack("{s:s?, s:s?, s:s?, s:s}",
	    "workspace", tool_json_s(o, "workspace"), "key", tool_json_s(o, "key"),
	    "reason", tool_json_s(o, "reason"), "result", result));
}

/* --dry-run --json: the replay plan of o on res's last record. */
static int
dlq_plan_attach(struct tool *t, json_t *res, json_t *o)
{
	json_t	*plan;

	if ((plan = dlq_plan_json(t, json_integer_value(json_object_get(o,
	    "id")), tool_json_s(o, "workspace"), tool_json_s(o, "key"))) == NULL)
		return -1;
	json_object_set_new(json_array_get(res, json_array_size(res) - 1),
	    "plan", plan);
	return 0;
}

static int
dlq_act(struct tool *t, enum dlq_act act, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "key", required_argument, NULL, 'k' },
		{ "note", required_argument, NULL, 'N' },
		{ "rate", required_argument, NULL, 'R' },
		{ "reason", required_argument, NULL, 'r' },
		{ "since", required_argument, NULL, 'S' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	const struct tool_cmd	*c = act == DLQ_REPLAY ? &dlq_replay_c :
				    &dlq_purge_c;
	const char		*verb = act == DLQ_REPLAY ? "replay" : "purge";
	struct dlq_sel		 s;
	struct tool_progress	 pr;
	json_t			*a = NULL, *o, *res = NULL;
	const char		*note = NULL;
	double			 rate = 0;
	size_t			 i, ndone = 0, nskip = 0, nrefused = 0;
	int			 ch, r, dry = 0, json = 0, rc = TOOL_EXIT_FAIL;
	bool			 ho;

	memset(&s, 0, sizeof(s));
	s.since = -1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hn", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			rc = tool_usage(c, true);
			goto out;
		case 'n':
			dry = 1;
			continue;
		case 'j':
			json = 1;
			continue;
		case 'N':
			note = optarg;
			continue;
		case 'F':
			if (act != DLQ_REPLAY)
				break;
			s.force = true;
			continue;
		case 'R':
			if (act == DLQ_REPLAY &&
			    (rate = dlq_parse_rate(optarg)) > 0)
				continue;
			if (act == DLQ_REPLAY) {
				tool_err("dlq replay: --rate %s: want a rate "
				    "such as 50/s", optarg);
				rc = tool_usage(c, false);
				goto out;
			}
			break;
		}
		if ((r = dlq_sel_opt(&s, ch, optarg)) == 1)
			continue;
		rc = r == -1 ? tool_usage(c, false) : tool_badopt(c, argv, ch);
		goto out;
	}
	if (optind != argc) {
		tool_err("dlq %s: unexpected argument %s", verb, argv[optind]);
		rc = tool_usage(c, false);
		goto out;
	}
	if (!s.any) {
		tool_err("dlq %s: select records with --key, --reason, "
		    "--since, --workspace or --all", verb);
		rc = tool_usage(c, false);
		goto out;
	}
	if (tool_conf(t, false) == -1 || tool_open(t, 0) == -1 ||
	    (a = dlq_collect(t, &s)) == NULL)
		goto out;
	if (json && (res = json_array()) == NULL)
		goto out;
	tool_progress_init(&pr, act == DLQ_REPLAY ? "replay" : "purge",
	    json_array_size(a));
	json_array_foreach(a, i, o) {
		ho = json_is_true(json_object_get(o, "handed_off"));
		if (act == DLQ_REPLAY && ho && !s.force) {
			/* Another machine took it: not without --force. */
			if (res != NULL)
				dlq_result(res, o, "refused");
			else
				printf("%s %s/%s: %s: another machine took it; "
				    "replay it here only if that machine never "
				    "delivered it: add --force\n", dry ?
				    "would refuse" : "refused",
				    tool_json_s(o, "workspace"), tool_json_s(o, "key"),
				    tool_json_s(o, "message"));
			nrefused++;
			continue;
		}
		if (dry && res != NULL) {
			dlq_result(res, o, act == DLQ_REPLAY ? "would_replay" :
			    "would_purge");
			if (act == DLQ_REPLAY && dlq_plan_attach(t, res, o) == -1)
				goto summary;
			ndone++;
			continue;
		}
		if (dry) {
			printf("would %s %s/%s (%s)\n", verb,
			    tool_json_s(o, "workspace"), tool_json_s(o, "key"),
			    tool_json_s(o, "reason"));
			if (ho)
				printf("  %s: another machine took it; "
				    "--force: it is delivered here as well\n",
				    tool_json_s(o, "message"));
			if (act == DLQ_REPLAY && dlq_plan_print(t,
			    json_integer_value(json_object_get(o, "id")),
			    tool_json_s(o, "workspace"), tool_json_s(o, "key")) == -1)
				goto summary;
			ndone++;
			continue;
		}
		if (i > 0 && rate > 0)
			dlq_pace((long long)(1e9 / rate));
		if ((r = dlq_apply(t, act, o, note)) == -1) {
			tool_progress_end(&pr);
			goto summary;
		}
		if (r == 0) {
			tool_progress_end(&pr);
			if (res != NULL)
				dlq_result(res, o, "skipped");
			else
				printf("skipped %s/%s: no longer dead\n",
				    tool_json_s(o, "workspace"), tool_json_s(o, "key"));
			nskip++;
		} else if (res != NULL) {
			dlq_result(res, o, act == DLQ_REPLAY ? "replayed" :
			    "purged");
			ndone++;
		} else {
			if (!pr.tty || json_array_size(a) <= 100)
				printf("%s %s/%s\n", act == DLQ_REPLAY ?
				    "replayed" : "purged",
				    tool_json_s(o, "workspace"), tool_json_s(o, "key"));
			ndone++;
		}
		tool_progress_step(&pr, 1);
	}
	tool_progress_end(&pr);
	/* A refusal is a failure, but not of a dry run: it only says. */
	rc = nrefused > 0 && !dry ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
summary:
	if (res != NULL) {
		/* Also after a failure: what was done before it is done. */
		if (tool_print_json(stdout, json_pack("{s:s, s:b, s:I, s:I, "
		    "s:I, s:O}", "action", verb, "dry_run", dry, "done",
		    (json_int_t)ndone, "skipped", (json_int_t)nskip, "refused",
		    (json_int_t)nrefused, "records", res)) == -1)
			rc = TOOL_EXIT_FAIL;
	} else if (dry)
		printf("would %s %zu records (dry run: nothing changed)%s\n",
		    verb, ndone, nrefused > 0 ? "; records handed off to "
		    "another machine need --force" : "");
	else
		printf("%s %zu records%s%s\n", act == DLQ_REPLAY ? "replayed" :
		    "purged", ndone, nskip > 0 ? " (some skipped)" : "",
		    nrefused > 0 ? "; refused those handed off to another "
		    "machine (--force)" : "");
out:
	json_decref(res);
	json_decref(a);
	json_decref(s.keys);
	return rc;
}

/*
 * dlq edit without --payload: write dead record key's payload,
 * pretty-printed, to a new 0600 file in path, run the editor on it, and
 * check what comes back (JSON object, at most 1 MiB, a record the worker
 * can parse) until it is right or the operator gives up.  The checked
 * payload is left in path, compact.  0 to save it, 1 when unchanged
 * (nothing to do), -1 on failure (said; path removed unless it holds an
 * edit worth keeping).
 */
static int
dlq_edit_editor(struct tool *t, const char *ws, const char *key,
    char *path, size_t pathsz)
{
	sqlite3_stmt	*st;
	json_t		*root = NULL;
	json_error_t	 jerr;
	struct record	 rec;
	struct rec_err	 e;
	FILE		*f;
	char		*orig = NULL, *pretty = NULL, *rws = NULL, *buf = NULL;
	char		 err[512], ans[16], *compact;
	const char	*tmp = getenv("TMPDIR");
	size_t		 len;
	pid_t		 pid;
	int		 n = 0, fd, status, rc = -1;
	bool		 tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);

	path[0] = '\0';
	if (tool_conf(t, false) == -1 || tool_open(t, 0) == -1)
		return -1;
	if ((st = store_prep(&t->db, SQ_DEAD_PAYLOAD)) == NULL) {
		tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
		return -1;
	}
	db_bind_text(st, 1, key);
	db_bind_text(st, 2, ws);
	while (sqlite3_step(st) == SQLITE_ROW) {
		free(rws);
		free(orig);
		rws = db_col_strdup(st, 0);
		orig = db_col_strdup(st, 1);
		n++;
	}
	sqlite3_reset(st);
	if (n == 0 || rws == NULL || orig == NULL) {
		tool_err("%s: no such dead letter", key);
		goto out;
	}
	if (n > 1) {
		tool_err("%s: dead in several workspaces: use --workspace",
		    key);
		goto out;
	}
	root = json_loads(orig, 0, NULL);
	pretty = root != NULL ? json_dumps(root, JSON_INDENT(2)) : NULL;
	json_decref(root);
	root = NULL;
	snprintf(path, pathsz, "%s/callsync-edit-XXXXXX.json",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if ((fd = mkstemps(path, 5)) == -1) {
		tool_err("%s: %s", path, strerror(errno));
		path[0] = '\0';
		goto out;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto io;
	}
	fprintf(f, "%s\n", pretty != NULL ? pretty : orig);
	if (fclose(f) != 0)
		goto io;
	for (;;) {
		/* The shell splits $VISUAL/$EDITOR ("code -w" works). */
		if ((pid = fork()) == -1)
			goto io;
		if (pid == 0) {
			execl("/bin/sh", "sh", "-c", "exec ${VISUAL:-${EDITOR:-vi}} "
			    "\"$1\"", "sh", path, (char *)NULL);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			tool_err("dlq edit: the editor (%s) exited %s%d: nothing "
			    "changed", getenv("VISUAL") ? getenv("VISUAL") :
			    getenv("EDITOR") ? getenv("EDITOR") : "vi",
			    WIFEXITED(status) ? "" : "on signal ",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status));
			unlink(path);
			path[0] = '\0';
			goto out;
		}
		free(buf);
		if ((buf = tool_read_all(path, &len, err, sizeof(err))) ==
		    NULL) {
			tool_err("%s", err);
			goto out;
		}
		json_decref(root);
		root = NULL;
		err[0] = '\0';
		if (len > TOOL_PAYLOAD_MAX)
			snprintf(err, sizeof(err), "the payload is %zu bytes, "
			    "over the 1 MiB limit", len);
		else if ((root = json_loadb(buf, len, 0, &jerr)) == NULL)
			snprintf(err, sizeof(err), "line %d: invalid JSON: %s",
			    jerr.line, jerr.text);
		else if (!json_is_object(root))
			snprintf(err, sizeof(err), "not a JSON object");
		else {
			compact = json_dumps(root, JSON_COMPACT);
			if (compact != NULL && strcmp(compact, orig) == 0) {
				free(compact);
				printf("%s/%s: payload unchanged: nothing "
				    "saved\n", rws, key);
				unlink(path);
				path[0] = '\0';
				rc = 1;
				goto out;
			}
			memset(&rec, 0, sizeof(rec));
			if (compact == NULL)
				snprintf(err, sizeof(err), "out of memory");
			else if (record_parse_row(compact, key,
			    tool_ws_conf(t, rws), &rec, &e) == -1)
				snprintf(err, sizeof(err), "%s (%s): the "
				    "worker would dead-letter it again",
				    e.message, e.reason);
			else {
				record_free(&rec);
				if ((f = fopen(path, "w")) == NULL ||
				    fputs(compact, f) == EOF ||
				    fclose(f) != 0) {
					free(compact);
					goto io;
				}
				free(compact);
				rc = 0;
				goto out;
			}
			free(compact);
		}
		tool_err("dlq edit: %s/%s: %s", rws, key, err);
		if (!tty) {
			tool_err("dlq edit: nothing changed; your edit is kept "
			    "in %s", path);
			path[0] = '\0';
			goto out;
		}
		fprintf(stderr, "edit again? [Y/n] ");
		if (fgets(ans, sizeof(ans), stdin) == NULL ||
		    (ans[0] != '\n' && ans[0] != 'y' && ans[0] != 'Y')) {
			tool_err("dlq edit: nothing changed; your edit is kept "
			    "in %s", path);
			path[0] = '\0';
			goto out;
		}
	}
io:
	tool_err("%s: %s", path, strerror(errno));
	if (path[0] != '\0')
		unlink(path);
	path[0] = '\0';
out:
	json_decref(root);
	free(buf);
	free(pretty);
	free(orig);
	free(rws);
	return rc;
}

static int
dlq_edit(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "note", required_argument, NULL, 'N' },
		{ "payload", required_argument, NULL, 'p' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	sqlite3_stmt	*st;
	json_t		*root = NULL, *det, *dropped = NULL;
	json_error_t	 jerr;
	FILE		*msg = NULL;
	char		*msgbuf = NULL, *oldp = NULL;
	size_t		 msglen = 0;
	struct record	 rec;
	struct rec_err	 e;
	const char	*ws = NULL, *note = NULL, *file = NULL, *key, *nk;
	char		 err[512], op[128], h[65], *buf = NULL, *rws = NULL;
	size_t		 len;
	int64_t		 id = 0;
	int		 ch, n = 0, r, dry = 0, rc = TOOL_EXIT_FAIL;
	char		 edited[4096] = "";

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hn", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&dlq_edit_c, true);
		case 'n':
			dry = 1;
			break;
		case 'N':
			note = optarg;
			break;
		case 'p':
			file = optarg;
			break;
		case 'w':
			ws = optarg;
			break;
		default:
			return tool_badopt(&dlq_edit_c, argv, ch);
		}
	}
	if (argc - optind != 1) {
		tool_err("dlq edit: give one KEY (and --payload FILE, or edit "
		    "it in $EDITOR)");
		return tool_usage(&dlq_edit_c, false);
	}
	key = argv[optind];
	if (file == NULL) {
		if ((r = dlq_edit_editor(t, ws, key, edited,
		    sizeof(edited))) != 0)
			return r == 1 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
		file = edited;
	}
	if ((buf = tool_read_all(file, &len, err, sizeof(err))) == NULL) {
		tool_err("%s", err);
		return TOOL_EXIT_FAIL;
	}
	if (len > TOOL_PAYLOAD_MAX) {
		tool_err("%s: payload is %zu bytes, over the 1 MiB limit",
		    file, len);
		goto out;
	}
	if ((root = json_loadb(buf, len, 0, &jerr)) == NULL) {
		tool_err("%s: line %d: invalid JSON: %s", file, jerr.line,
		    jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		tool_err("%s: not a JSON object", file);
		goto out;
	}
	if (tool_conf(t, false) == -1 || tool_open(t, 0) == -1)
		goto out;
	st = store_prep(&t->db, SQ_DEAD_PAYLOAD_ID);
	if (st == NULL)
		goto out;
	db_bind_text(st, 1, key);
	db_bind_text(st, 2, ws);
	while (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		free(rws);
		rws = db_col_strdup(st, 1);
		free(oldp);
		oldp = db_col_strdup(st, 2);
		n++;
	}
	sqlite3_reset(st);
	if (n == 0 || rws == NULL || oldp == NULL) {
		tool_err("%s: no such dead letter", key);
		goto out;
	}
	if (n > 1) {
		tool_err("%s: dead in several workspaces: use --workspace",
		    key);
		goto out;
	}
	if ((nk = record_key_of(root)) != NULL && strcmp(nk, key) != 0)
		tool_warn("%s/%s: the new payload's key is %s; the record "
		    "keeps %s", rws, key, nk, key);
	memset(&rec, 0, sizeof(rec));
	/* As the worker will parse it: under the row's record_key. */
	if (record_parse_row(buf, key, tool_ws_conf(t, rws), &rec, &e) == -1)
		tool_warn("%s/%s: %s (it will be dead-lettered again when "
		    "replayed)", rws, key, e.message);
	else
		record_free(&rec);
	if ((dropped = json_array()) == NULL)
		goto out;
	if (dry) {
		if (dlq_plan_invalidate(t, id, rws, key, oldp, buf, true,
		    dropped, stdout) == -1)
			goto out;
		printf("would replace the payload of %s/%s (dry run: nothing "
		    "changed)\n", rws, key);
		rc = TOOL_EXIT_OK;
		goto out;
	}
	if ((msg = open_memstream(&msgbuf, &msglen)) == NULL) {
		tool_err("out of memory");
		goto out;
	}
	if (db_begin(&t->db) == -1)
		goto out;
	st = store_prep(&t->db, SQ_PAYLOAD_KEEP);
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, tool_operator(op, sizeof(op)));
	db_bind_int(st, 2, id);
	if (db_step_done(&t->db, st) == -1)
		goto fail;
	/* lane NULL: the worker sorts the record again from its new caller. */
	st = store_prep(&t->db, SQ_DEAD_PAYLOAD_SET);
	if (st == NULL)
		goto fail;
	db_bind_text(st, 1, buf);
	db_bind_int(st, 2, id);
	if (db_step_done(&t->db, st) == -1 || sqlite3_changes(t->db.h) != 1)
		goto fail;
	/* A new caller or conversation: drop the journal steps that would
	 * send the replay to the old ones (dlq_plan.c says which). */
	if (dlq_plan_invalidate(t, id, rws, key, oldp, buf, false, dropped,
	    msg) == -1)
		goto fail;
	det = json_object();
	json_object_set_new(det, "action", json_string("dlq_edit"));
	json_object_set(det, "invalidated", dropped);
	json_object_set_new(det, "key", json_string(key));
	json_object_set_new(det, "reason", note != NULL ? json_string(note) :
	    json_null());
	/* The audit row must name the new payload: no digest, no edit. */
	if (audit_sha256_hex(buf, len, h) == -1) {
		json_decref(det);
		db_rollback(&t->db);
		tool_err("%s/%s: cannot compute the SHA-256 of the new payload "
		    "(OpenSSL failed); nothing changed", rws, key);
		goto out;
	}
	json_object_set_new(det, "payload_sha256", json_string(h));
	if (tool_operator_audit(t, rws, key, det) == -1 ||
	    db_commit(&t->db) == -1)
		goto fail;
	fclose(msg);
	msg = NULL;
	fputs(msgbuf, stdout);
	printf("edited %s/%s: the old payload is in its history; it stays "
	    "dead until: callsync dlq replay --key %s\n", rws, key, key);
	rc = TOOL_EXIT_OK;
	goto out;
fail:
	tool_err("%s: %s/%s: %s", tool_db_path(t), rws, key,
	    db_errmsg(&t->db));
	db_rollback(&t->db);
out:
	if (edited[0] != '\0') {
		if (rc == TOOL_EXIT_OK && !dry)
			unlink(edited);
		else
			tool_warn("dlq edit: your edit is kept in %s (use it "
			    "with --payload)", edited);
	}
	if (msg != NULL)
		fclose(msg);
	free(msgbuf);
	json_decref(dropped);
	json_decref(root);
	free(buf);
	free(rws);
	free(oldp);
	return rc;
}

int
cmd_dlq(struct tool *t, int argc, char **argv)
{
	if (argc < 2) {
		tool_err("dlq: missing subcommand");
		return tool_usage(&dlq_c, false);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return tool_usage(&dlq_c, true);
	if (strcmp(argv[1], "ls") == 0)
		return dlq_ls(t, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return dlq_show(t, argc - 1, argv + 1);
	if (strcmp(argv[1], "replay") == 0)
		return dlq_act(t, DLQ_REPLAY, argc - 1, argv + 1);
	if (strcmp(argv[1], "purge") == 0)
		return dlq_act(t, DLQ_PURGE, argc - 1, argv + 1);
	if (strcmp(argv[1], "edit") == 0)
		return dlq_edit(t, argc - 1, argv + 1);
	tool_err("dlq: %s: unknown subcommand", argv[1]);
	return tool_usage(&dlq_c, false);
}
