/*
 * cmd_audit: list the audit log (every write made to Intercom and every
 * operator action) as text, CSV or JSON Lines, and verify its hash chain.
 *
 * Filters are fixed SQL with optional bound parameters ("?1 IS NULL OR
 * ..."), so no statement text is ever built from input.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "tool.h"

static const struct tool_cmd aud_c = { "audit", NULL,
	"audit [--contact ID] [--format text|csv|json] [--json] [--key KEY] "
	"[--limit N] [--since T] [--until T] [--workspace NAME]",
	"List audit rows, oldest first: time, workspace, record key, step,\n"
	"method, path, HTTP status, Intercom object id, admin id, duration and\n"
	"body digest.  --contact matches the object id or a path containing\n"
	"ID.  --since and --until take RFC 3339 times or durations (24h = a\n"
	"day ago).  --limit keeps the newest N.  --json is --format json.\n"
	"\n"
	"  callsync audit verify [--json]\n"
	"checks the hash chain: exit 0 when intact, 1 naming the first\n"
	"altered or missing row." };
static const struct tool_cmd aud_verify_c = { "audit verify", NULL,
	"audit verify [--json]",
	"Walk the audit log's SHA-256 chain.  Prints \"audit log intact: N\n"
	"rows\" and exits 0, or names the first altered, inserted or missing\n"
	"row and exits 1.  --json prints {intact, rows, first_bad_id,\n"
	"message} instead (first_bad_id null when intact)." };

enum aud_fmt { AUD_TEXT, AUD_CSV, AUD_JSON };

static const char *aud_cols[] = {
	"id", "time", "kind", "workspace", "record_key", "step", "method",
	"path", "http_status", "object_id", "admin_id", "duration_ms",
	"body_sha256", "detail"
};
#define AUD_NCOLS	(sizeof(aud_cols) / sizeof(aud_cols[0]))

/* RFC 4180: quote when needed, double the quotes inside. */
static void
aud_csv_field(const char *s)
{
	if (s == NULL)
		return;
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static int
aud_verify(struct tool *t, int argc, char **argv)
{
	int64_t	 bad = 0, n = 0;
	char	 msg[512];
	int	 rc, json = 0;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0))
		return tool_usage(&aud_verify_c, true);
	if (argc > 1 && strcmp(argv[1], "--json") == 0) {
		json = 1;
		argc--;
		argv++;
	}
	if (argc > 1) {
		tool_err("audit verify: unexpected argument %s", argv[1]);
		return tool_usage(&aud_verify_c, false);
	}
	if (tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	rc = audit_verify(&t->db, &bad, &n, msg, sizeof(msg));
	if (json && rc != -1)
		return tool_print_json(stdout, json_pack("{s:b, s:I, s:o, s:s}",
		    "intact", rc == 0, "rows", (json_int_t)n, "first_bad_id",
		    rc == 0 ? json_null() : json_integer(bad), "message",
		    msg)) == 0 && rc == 0 ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
	if (rc == 0) {
		printf("%s\n", msg);
		return TOOL_EXIT_OK;
	}
	if (rc == 1)
		printf("%s\n", msg);
	else
		tool_err("audit verify: %s", msg);
	return TOOL_EXIT_FAIL;
}

int
cmd_audit(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "contact", required_argument, NULL, 'c' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "key", required_argument, NULL, 'k' },
		{ "limit", required_argument, NULL, 'n' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	sqlite3_stmt	*st;
	enum aud_fmt	 fmt = AUD_TEXT;
	const char	*key = NULL, *contact = NULL, *ws = NULL, *v;
	int64_t		 since = -1, until = -1;
	long long	 limit = -1;
	json_t		*o;
	char		 tm[40], num[32];
	size_t		 i;
	int		 ch, rc;

	if (argc > 1 && strcmp(argv[1], "verify") == 0)
		return aud_verify(t, argc - 1, argv + 1);
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":hj", lopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			contact = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "text") == 0)
				fmt = AUD_TEXT;
			else if (strcmp(optarg, "csv") == 0)
				fmt = AUD_CSV;
			else if (strcmp(optarg, "json") == 0)
				fmt = AUD_JSON;
			else {
				tool_err("audit: --format %s: want text, csv "
				    "or json", optarg);
				return tool_usage(&aud_c, false);
			}
			break;
		case 'h':
			return tool_usage(&aud_c, true);
		case 'j':
			fmt = AUD_JSON;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			if (tool_parse_count(optarg, &limit) == -1) {
				tool_err("audit: --limit %s: not a positive "
				    "number", optarg);
				return tool_usage(&aud_c, false);
			}
			break;
		case 's':
		case 'u':
			if (tool_parse_when(optarg, ch == 's' ? &since :
			    &until) == -1) {
				tool_err("audit: --%s %s: not an RFC 3339 time "
				    "or a duration", ch == 's' ? "since" :
				    "until", optarg);
				return tool_usage(&aud_c, false);
			}
			break;
		case 'w':
			ws = optarg;
			break;
		default:
			return tool_badopt(&aud_c, argv, ch);
		}
	}
	if (optind != argc) {
		tool_err("audit: %s: unknown subcommand", argv[optind]);
		return tool_usage(&aud_c, false);
	}
	if (tool_open(t, DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	st = store_prep(&t->db, SQ_AUDIT_FIND);
	if (st == NULL)
		return TOOL_EXIT_FAIL;
	db_bind_text(st, 1, key);
	db_bind_text(st, 2, contact);
	db_bind_text(st, 3, ws);
	if (since >= 0)
		db_bind_int(st, 4, since);
	if (until >= 0)
		db_bind_int(st, 5, until);
	db_bind_int(st, 6, limit);
	if (fmt == AUD_CSV)
		for (i = 0; i < AUD_NCOLS; i++)
			printf("%s%s", aud_cols[i], i + 1 < AUD_NCOLS ?
			    "," : "\n");
	else if (fmt == AUD_TEXT)
		printf("%-5s %-24s %-8s %-10s %-16s %-14s %-6s %-28s %4s "
		    "%-26s %s\n", "ID", "TIME", "KIND", "WORKSPACE", "KEY",
		    "STEP", "METHOD", "PATH", "HTTP", "OBJECT", "ADMIN");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		tool_fmt_time_ms(sqlite3_column_int64(st, 1), tm, sizeof(tm));
		if (fmt == AUD_JSON) {
			o = json_object();
			json_object_set_new(o, "id", tool_col_int(st, 0));
			json_object_set_new(o, "time", json_string(tm));
			for (i = 2; i < AUD_NCOLS; i++)
				json_object_set_new(o, aud_cols[i],
				    i == 8 || i == 11 ? tool_col_int(st, i) :
				    i == 13 ? tool_col_json(st, i) :
				    tool_col_str(st, i));
			tool_print_json(stdout, o);
		} else if (fmt == AUD_CSV) {
			for (i = 0; i < AUD_NCOLS; i++) {
				v = i == 1 ? tm :
				    (const char *)sqlite3_column_text(st, i);
				aud_csv_field(v);
				fputs(i + 1 < AUD_NCOLS ? "," : "\n",
				    stdout);
			}
		} else {
#define C(i) (sqlite3_column_text(st, (i)) != NULL ? \
	(const char *)sqlite3_column_text(st, (i)) : "-")
			snprintf(num, sizeof(num), "%s", C(8));
			printf("%-5s %-24s %-8s %-10s %-16s %-14s %-6s %-28s "
			    "%4s %-26s %s", C(0), tm, C(2), C(3), C(4), C(5),
			    C(6), C(7), num, C(9), C(10));
			if (sqlite3_column_text(st, 13) != NULL)
				printf(" %s", C(13));
			putchar('\n');
#undef C
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		tool_err("%s: %s", tool_db_path(t), db_errmsg(&t->db));
		return TOOL_EXIT_FAIL;
	}
	return TOOL_EXIT_OK;
}
