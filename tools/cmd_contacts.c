/*
 * cmd_contacts: read the local contact identity map, merge mappings and
 * known duplicates (ls, show, resolve, merges).  Read-only: the worker
 * learns identities; an operator only looks.  resolve normalises input
 * exactly as the worker does (phone_normalize with the workspace's
 * default_region, email_normalize), so it answers what the worker would
 * find for the same caller.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "phone.h"
#include "tool.h"

static const struct tool_cmd contacts_c = { "contacts", NULL,
	"contacts ls | show | resolve | merges ...",
	"The local contact identity map and merge mappings.\n"
	"  callsync contacts ls [--json] [--workspace NAME]\n"
	"  callsync contacts show [--json] [--workspace NAME] ID\n"
	"  callsync contacts resolve [--workspace NAME] PHONE|EMAIL\n"
	"  callsync contacts merges [--json] [--workspace NAME]" };
static const struct tool_cmd contacts_ls_c = { "contacts ls", NULL,
	"contacts ls [--json] [--workspace NAME]",
	"List identity map rows: workspace, kind, value, contact id (and the\n"
	"id it was merged into, if any), role and source." };
static const struct tool_cmd contacts_show_c = { "contacts show", NULL,
	"contacts show [--json] [--workspace NAME] ID",
	"Show the identities pointing at contact ID, merges from and into it,\n"
	"and known duplicates.  Exit 1 when ID is unknown locally." };
static const struct tool_cmd contacts_resolve_c = { "contacts resolve",
	NULL, "contacts resolve [--workspace NAME] PHONE|EMAIL",
	"Normalise PHONE (with the workspace's default_region) or EMAIL as\n"
	"the worker does and print the contact id it maps to, following\n"
	"merges.  Exit 1 when the input is invalid (with the reason) or not\n"
	"in the local map." };
static const struct tool_cmd contacts_merges_c = { "contacts merges", NULL,
	"contacts merges [--json] [--workspace NAME]",
	"List merge mappings: contact from_id now lives on as into_id." };

/*
 * Options shared by the subcommands: --json, --workspace, --help.  -1:
 * go on; otherwise the exit status (0 after --help, 2 on misuse).
 */
static int
contacts_opts(const struct tool_cmd *c, int argc, char **argv, int *json,
    const char **ws, int nargs)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hjw:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(c, true);
		case 'j':
			if (json == NULL)
				return tool_badopt(c, argv, '?');
			*json = 1;
			break;
		case 'w':
			*ws = optarg;
			break;
		default:
			return tool_badopt(c, argv, ch);
		}
	}
	if (argc - optind != nargs) {
		tool_err("%s: %s", c->name, nargs ? "give one argument" :
		    "unexpected argument");
		return tool_usage(c, false);
	}
	return -1;
}

static json_t *
contacts_identity(struct tool *t, sqlite3_stmt *st)
{
	json_t		*o = json_object();
	char		 now[64];
	const char	*ws = (const char *)sqlite3_column_text(st, 0);
	const char	*id = (const char *)sqlite3_column_text(st, 3);

	json_object_set_new(o, "workspace", tool_col_str(st, 0));
	json_object_set_new(o, "kind", tool_col_str(st, 1));
	json_object_set_new(o, "value", tool_col_str(st, 2));
	json_object_set_new(o, "contact_id", tool_col_str(st, 3));
	if (ident_follow(&t->db, ws, id, now, sizeof(now)) == 1)
		json_object_set_new(o, "merged_into", json_string(now));
	else
		json_object_set_new(o, "merged_into", json_null());
	json_object_set_new(o, "role", tool_col_str(st, 4));
	json_object_set_new(o, "source", tool_col_str(st, 5));
	json_object_set_new(o, "learned_at", tool_col_time(st, 6));
	json_object_set_new(o, "updated_at", tool_col_time(st, 7));
	return o;
}

static int
contacts_ls(struct tool *t, int argc, char **argv)
{
	sqlite3_stmt	*st;
	json_t		*a, *o;
	const char	*ws = NULL;
	size_t		 i;
	int		 json = 0, rc;

	if ((rc = contacts_opts(&contacts_ls_c, argc, argv, &json, &ws,
	    0)) != -1)
		return rc;
	if (tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	st = store_prep(&t->db, SQ_IDENT_LIST);
	if (st == NULL)
		return TOOL_EXIT_FAIL;
	db_bind_text(st, 1, ws);
	/* Collect first: ident_follow reuses statements while we step. */
	a = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, contacts_identity(t, st));
	sqlite3_reset(st);
	if (!json)
		printf("%-12s %-6s %-32s %-26s %-6s %s\n", "WORKSPACE", "KIND",
		    "VALUE", "CONTACT", "ROLE", "SOURCE");
	json_array_foreach(a, i, o) {
		if (json) {
			tool_print_json(stdout, json_incref(o));
			continue;
		}
		printf("%-12s %-6s %-32s %-26s %-6s %s", tool_json_s(o,
		    "workspace"), tool_json_s(o, "kind"), tool_json_s(o, "value"),
		    tool_json_s(o, "contact_id"), tool_json_s(o, "role"),
		    tool_json_s(o, "source"));
		if (json_is_string(json_object_get(o, "merged_into")))
			printf(" (merged into %s)", tool_json_s(o,
			    "merged_into"));
		putchar('\n');
	}
	json_decref(a);
	return TOOL_EXIT_OK;
}

static json_t *
contacts_merge_row(sqlite3_stmt *st)
{
	json_t	*o = json_object();

	json_object_set_new(o, "workspace", tool_col_str(st, 0));
	json_object_set_new(o, "from_id", tool_col_str(st, 1));
	json_object_set_new(o, "into_id", tool_col_str(st, 2));
	json_object_set_new(o, "how", tool_col_str(st, 3));
	json_object_set_new(o, "merged_at", tool_col_time(st, 4));
	return o;
}

static int
contacts_show(struct tool *t, int argc, char **argv)
{
	sqlite3_stmt	*st;
	json_t		*o, *ids, *merges, *dups, *d, *v;
	const char	*ws = NULL, *id;
	char		 now[64];
	size_t		 i;
	int		 json = 0, rc;

	if ((rc = contacts_opts(&contacts_show_c, argc, argv, &json, &ws,
	    1)) != -1)
		return rc;
	id = argv[optind];
	if (tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	ids = json_array();
	merges = json_array();
	dups = json_array();
	st = store_prep(&t->db, SQ_IDENT_OF_CONTACT);
	if (st != NULL) {
		db_bind_text(st, 1, id);
		db_bind_text(st, 2, ws);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(ids, contacts_identity(t, st));
		sqlite3_reset(st);
	}
	st = store_prep(&t->db, SQ_MERGE_OF_CONTACT);
	if (st != NULL) {
		db_bind_text(st, 1, id);
		db_bind_text(st, 2, ws);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(merges, contacts_merge_row(st));
		sqlite3_reset(st);
	}
	st = store_prep(&t->db, SQ_DUP_OF_CONTACT);
	if (st != NULL) {
		db_bind_text(st, 1, id);
		db_bind_text(st, 2, ws);
		while (sqlite3_step(st) == SQLITE_ROW) {
			d = json_object();
			json_object_set_new(d, "workspace", tool_col_str(st, 0));
			json_object_set_new(d, "contact_id",
			    tool_col_str(st, 1));
			json_object_set_new(d, "winner_id", tool_col_str(st, 2));
			json_object_set_new(d, "identity", tool_col_str(st, 3));
			json_object_set_new(d, "seen_at", tool_col_time(st, 4));
			json_array_append_new(dups, d);
		}
		sqlite3_reset(st);
	}
	if (json_array_size(ids) + json_array_size(merges) +
	    json_array_size(dups) == 0) {
		tool_err("contact %s: not in the local map", id);
		json_decref(ids);
		json_decref(merges);
		json_decref(dups);
		return TOOL_EXIT_FAIL;
	}
	o = json_object();
	json_object_set_new(o, "contact_id", json_string(id));
	v = json_array_size(ids) > 0 ? json_array_get(ids, 0) :
	    json_array_size(merges) > 0 ? json_array_get(merges, 0) : NULL;
	if (v != NULL && ident_follow(&t->db, tool_json_s(v, "workspace"), id,
	    now, sizeof(now)) == 1)
		json_object_set_new(o, "merged_into", json_string(now));
	else
		json_object_set_new(o, "merged_into", json_null());
	json_object_set_new(o, "identities", ids);
	json_object_set_new(o, "merges", merges);
	json_object_set_new(o, "duplicates", dups);
	if (json)
		return tool_print_json(stdout, o) == 0 ? TOOL_EXIT_OK :
		    TOOL_EXIT_FAIL;
	printf("contact %s", id);
	if (json_is_string(json_object_get(o, "merged_into")))
		printf(" (merged into %s)", tool_json_s(o, "merged_into"));
	printf("\nidentities (%zu):\n", json_array_size(ids));
	json_array_foreach(ids, i, v)
		printf("  %s %s %s (role %s, source %s, since %s)\n",
		    tool_json_s(v, "workspace"), tool_json_s(v, "kind"),
		    tool_json_s(v, "value"), tool_json_s(v, "role"),
		    tool_json_s(v, "source"), tool_json_s(v, "learned_at"));
	printf("merges (%zu):\n", json_array_size(merges));
	json_array_foreach(merges, i, v)
		printf("  %s %s -> %s (%s, %s)\n", tool_json_s(v, "workspace"),
		    tool_json_s(v, "from_id"), tool_json_s(v, "into_id"),
		    tool_json_s(v, "how"), tool_json_s(v, "merged_at"));
	printf("duplicates (%zu):\n", json_array_size(dups));
	json_array_foreach(dups, i, v)
		printf("  %s %s duplicate of %s for %s (seen %s)\n",
		    tool_json_s(v, "workspace"), tool_json_s(v, "contact_id"),
		    tool_json_s(v, "winner_id"), tool_json_s(v, "identity"),
		    tool_json_s(v, "seen_at"));
	json_decref(o);
	return TOOL_EXIT_OK;
}

static int
contacts_resolve(struct tool *t, int argc, char **argv)
{
	sqlite3_stmt	*st;
	struct conf_ws	*wc;
	const char	*ws = NULL, *in, *kind, *region;
	char		 norm[320], why[256], now[64], *id = NULL;
	int		 rc;

	if ((rc = contacts_opts(&contacts_resolve_c, argc, argv, NULL, &ws,
	    1)) != -1)
		return rc;
	in = argv[optind];
	if (tool_conf(t, false) == -1)
		return TOOL_EXIT_FAIL;
	if (ws == NULL)
		ws = tool_default_ws(t);
	wc = tool_ws_conf(t, ws);
	region = wc != NULL && wc->default_region != NULL ?
	    wc->default_region : "US";
	if (strchr(in, '@') != NULL) {
		kind = "email";
		rc = email_normalize(in, norm, sizeof(norm), why, sizeof(why));
	} else {
		kind = "phone";
		rc = phone_normalize(in, region, norm, sizeof(norm), why,
		    sizeof(why));
	}
	if (rc == -1) {
		tool_err("contacts resolve: '%s': %s", in, why);
		return TOOL_EXIT_FAIL;
	}
	if (tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	st = store_prep(&t->db, SQ_IDENT_LOOKUP);
	if (st == NULL)
		return TOOL_EXIT_FAIL;
	db_bind_text(st, 1, ws);
	db_bind_text(st, 2, kind);
	db_bind_text(st, 3, norm);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = db_col_strdup(st, 0);
	sqlite3_reset(st);
	if (id == NULL) {
		printf("%s %s (%s): not in the local map\n", ws, norm, kind);
		return TOOL_EXIT_FAIL;
	}
	if (ident_follow(&t->db, ws, id, now, sizeof(now)) == 1)
		printf("%s %s (%s) -> %s (merged from %s)\n", ws, norm, kind,
		    now, id);
	else
		printf("%s %s (%s) -> %s\n", ws, norm, kind, id);
	free(id);
	return TOOL_EXIT_OK;
}

static int
contacts_merges(struct tool *t, int argc, char **argv)
{
	sqlite3_stmt	*st;
	json_t		*o;
	const char	*ws = NULL;
	int		 json = 0, rc;

	if ((rc = contacts_opts(&contacts_merges_c, argc, argv, &json, &ws,
	    0)) != -1)
		return rc;
	if (tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	st = store_prep(&t->db, SQ_MERGE_LIST);
	if (st == NULL)
		return TOOL_EXIT_FAIL;
	db_bind_text(st, 1, ws);
	if (!json)
		printf("%-12s %-26s %-26s %-20s %s\n", "WORKSPACE", "FROM",
		    "INTO", "HOW", "MERGED AT");
	while (sqlite3_step(st) == SQLITE_ROW) {
		o = contacts_merge_row(st);
		if (json) {
			tool_print_json(stdout, o);
			continue;
		}
		printf("%-12s %-26s %-26s %-20s %s\n", tool_json_s(o,
		    "workspace"), tool_json_s(o, "from_id"), tool_json_s(o,
		    "into_id"), tool_json_s(o, "how"), tool_json_s(o,
		    "merged_at"));
		json_decref(o);
	}
	sqlite3_reset(st);
	return TOOL_EXIT_OK;
}

int
cmd_contacts(struct tool *t, int argc, char **argv)
{
	if (argc < 2) {
		tool_err("contacts: missing subcommand");
		return tool_usage(&contacts_c, false);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return tool_usage(&contacts_c, true);
	if (strcmp(argv[1], "ls") == 0)
		return contacts_ls(t, argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return contacts_show(t, argc - 1, argv + 1);
	if (strcmp(argv[1], "resolve") == 0)
		return contacts_resolve(t, argc - 1, argv + 1);
	if (strcmp(argv[1], "merges") == 0)
		return contacts_merges(t, argc - 1, argv + 1);
	tool_err("contacts: %s: unknown subcommand", argv[1]);
	return tool_usage(&contacts_c, false);
}
