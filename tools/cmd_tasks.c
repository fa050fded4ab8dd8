/*
 * cmd_tasks: `callsync tasks ls | show | cancel`, the call tasks the
 * inbox's rules made (worker/api/tasks.h, docs/contract.md section 6), read
 * and cancelled straight in the database (a running callsyncd sees the
 * change at the agent's next claim).  A cancel gets an operator audit
 * row in its transaction.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "tasks.h"
#include "tool.h"

static const struct tool_cmd tasks_c = { "tasks", NULL,
	"tasks ls [--json] [--state S] [--limit N] | show [--json] ID | "
	"cancel [--json] ID",
	"Call tasks made from Intercom's notifications (callback_tag, the\n"
	"callback_requested attribute), newest first.  --state is one of due,\n"
	"leased, done, failed, cancelled (a lease that ran out reads due).\n"
	"show prints one task; cancel makes a due or leased task cancelled so\n"
	"that it is never handed out (a done, failed or cancelled one is\n"
	"refused: exit 1).  --json prints the tasks' JSON as the task API\n"
	"does: {task_id, workspace, contact_id, phone, email, name, reason,\n"
	"conversation_id, due_at, lease_until, state, ...}." };

static const char *const states[] = { "due", "leased", "done", "failed",
	"cancelled", NULL };

static int64_t
parse_id(const char *s)
{
	char		*end;
	long long	 v = strtoll(s, &end, 10);

	return *s != '\0' && *end == '\0' && v > 0 ? (int64_t)v : -1;
}

static void
print_line(const json_t *o)
{
	printf("%-8s %-9s %-12s %-16s %-14s %s\n", tool_json_s(o, "task_id"),
	    tool_json_s(o, "state"), tool_json_s(o, "workspace"), tool_json_s(o, "phone"),
	    tool_json_s(o, "conversation_id"), tool_json_s(o, "reason"));
}

static void
print_long(const json_t *o)
{
	const char	*k;
	json_t		*v;

	json_object_foreach((json_t *)o, k, v) {
		if (json_is_string(v))
			printf("%-16s %s\n", k, json_string_value(v));
		else if (json_is_integer(v))
			printf("%-16s %" JSON_INTEGER_FORMAT "\n", k,
			    json_integer_value(v));
		else
			printf("%-16s -\n", k);
	}
}

int
cmd_tasks(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*sub, *state = NULL;
	json_t		*a, *o, *det;
	int64_t		 id, now = clock_wall_s();
	long long	 limit = 100;
	size_t		 i;
	int		 ch, json = 0, found, rc;

	if (argc < 2) {
		tool_err("tasks: ls, show or cancel?");
		return tool_usage(&tasks_c, false);
	}
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
		return tool_usage(&tasks_c, true);
	optind = 0;
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, ":hj", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&tasks_c, true);
		case 'j':
			json = 1;
			break;
		case 'l':
			if (tool_parse_count(optarg, &limit) == -1 ||
			    limit < 1) {
				tool_err("tasks: --limit %s: a positive "
				    "count", optarg);
				return tool_usage(&tasks_c, false);
			}
			break;
		case 's':
			for (i = 0; states[i] != NULL; i++)
				if (strcmp(states[i], optarg) == 0)
					break;
			if (states[i] == NULL) {
				tool_err("tasks: --state %s: one of due, "
				    "leased, done, failed, cancelled", optarg);
				return tool_usage(&tasks_c, false);
			}
			state = optarg;
			break;
		default:
			return tool_badopt(&tasks_c, argv, ch);
		}
	}
	if (strcmp(sub, "ls") == 0) {
		if (optind != argc)
			return tool_usage(&tasks_c, false);
		if (tool_open(t, 0) == -1)
			return TOOL_EXIT_FAIL;
		if ((a = tasks_list(&t->db, state, now, (int)limit)) == NULL)
			goto dberr;
		if (json)
			return tool_print_json(stdout, a) == 0 ?
			    TOOL_EXIT_OK : TOOL_EXIT_FAIL;
		printf("%-8s %-9s %-12s %-16s %-14s %s\n", "TASK", "STATE",
		    "WORKSPACE", "PHONE", "CONVERSATION", "REASON");
		json_array_foreach(a, i, o)
			print_line(o);
		json_decref(a);
		return TOOL_EXIT_OK;
	}
	if (strcmp(sub, "show") != 0 && strcmp(sub, "cancel") != 0) {
		tool_err("tasks: %s: ls, show or cancel", sub);
		return tool_usage(&tasks_c, false);
	}
	if (optind + 1 != argc || (id = parse_id(argv[optind])) == -1) {
		tool_err("tasks %s: one task id (a number), please", sub);
		return tool_usage(&tasks_c, false);
	}
	if (tool_open(t, 0) == -1)
		return TOOL_EXIT_FAIL;
	if (strcmp(sub, "cancel") == 0) {
		rc = tasks_finish(&t->db, id, "cancelled", NULL, now);
		if (rc == -1)
			goto dberr;
		if (rc == 404) {
			tool_err("tasks cancel: no task %" PRId64, id);
			return TOOL_EXIT_FAIL;
		}
		if (rc == 409) {
			tool_err("tasks cancel: task %" PRId64 " is already "
			    "done, failed or cancelled", id);
			return TOOL_EXIT_FAIL;
		}
		det = json_pack("{s:s,s:I}", "action", "task_cancel", "task_id",
		    (json_int_t)id);
		if (db_begin(&t->db) == -1 ||
		    tool_operator_audit(t, NULL, NULL, det) == -1 ||
		    db_commit(&t->db) == -1) {
			db_rollback(&t->db);
			tool_warn("tasks cancel: the task is cancelled but its "
			    "audit row could not be written: %s",
			    db_errmsg(&t->db));
		}
	}
	if ((o = tasks_get(&t->db, id, now, &found)) == NULL) {
		if (found == -1)
			goto dberr;
		tool_err("tasks show: no task %" PRId64, id);
		return TOOL_EXIT_FAIL;
	}
	if (json)
		return tool_print_json(stdout, o) == 0 ? TOOL_EXIT_OK :
		    TOOL_EXIT_FAIL;
	if (strcmp(sub, "cancel") == 0)
		printf("task %" PRId64 " cancelled\n", id);
	else
		print_long(o);
	json_decref(o);
	return TOOL_EXIT_OK;
dberr:
	tool_err("tasks: %s: %s", tool_db_path(t), db_errmsg(&t->db));
	return TOOL_EXIT_FAIL;
}
