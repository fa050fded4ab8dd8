/*
 * cmd_xfer: export and import records as a JSON Lines bundle, so a site
 * that cannot reach Intercom can have its backlog delivered from
 * elsewhere.
 *
 * A bundle is a header line {"type":"callsync-export","version":1,...},
 * one {"type":"record",...} line per record and a trailer
 * {"type":"checksum","sha256":...,"records":N} whose digest covers every
 * byte before it.  import checks the digest and the counts before it
 * writes anything, then inserts in one transaction, so a damaged or
 * truncated bundle changes nothing.  Records keep their key, marker (the
 * reconciliation token Intercom sees), journal and state; a record that
 * was in flight comes back pending and in doubt, so the worker reconciles
 * before writing.  Existing (workspace, key) pairs are skipped: importing
 * twice inserts nothing the second time.
 *
 * The payload is spliced into the line as SQLite's json() minified text
 * and taken back out with json_extract(), never re-serialised by jansson,
 * so numbers keep their exact spelling.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit.h"
#include "clock.h"
#include "tool.h"

static const struct tool_cmd xfer_export_c = { "export", NULL,
	"export [--handoff] [--state pending|dead|all] [--workspace NAME] [-o FILE]",
	"Write records as a JSON Lines bundle to FILE (mode 0600) or stdout:\n"
	"a header, one line per record with its payload, state, attempts,\n"
	"marker, journal and dead letter, and a SHA-256 trailer.  --state\n"
	"pending takes pending and in-flight records; the default is all.\n"
	"--handoff: the exported pending records are delivered elsewhere, so\n"
	"this outbox stops delivering them: they become handed_off (not dead\n"
	"letters; the bundle, its time and digest are kept with each), 500 at\n"
	"a time, each chunk written and synced to FILE before it is retired,\n"
	"so a running callsyncd is never held up.  Refused while a worker\n"
	"holds any of them in flight.  If it stops half-way (error, crash),\n"
	"the bundle has no checksum and import refuses it; bring back what\n"
	"was retired with callsync dlq replay --reason handed_off --since T\n"
	"--force (T: the time it printed) and run it again.  Records already\n"
	"handed off travel with their state and are not handed off again." };
static const struct tool_cmd xfer_import_c = { "import", NULL,
	"import [--json] FILE|-",
	"Import a bundle written by export.  The checksum and the record\n"
	"count are verified first: a damaged or truncated bundle is refused\n"
	"and nothing is written.  Records whose workspace and key exist are\n"
	"skipped (\"exists\"); the rest are inserted in one transaction with\n"
	"their marker, journal and state (in-flight ones become pending, in\n"
	"doubt).  --json prints one JSON document once the import is\n"
	"committed: {records, new, existing, imported: [{workspace, key,\n"
	"result}]} with result new or exists; a refused bundle prints\n"
	"nothing on stdout." };

struct xfer_out {
	FILE		*f;
	EVP_MD_CTX	*md;
	int		 err;
};

static void
xfer_put(struct xfer_out *o, const char *s)
{
	size_t	 n = strlen(s);

	if (fwrite(s, 1, n, o->f) != n)
		o->err = 1;
	EVP_DigestUpdate(o->md, s, n);
}

/* json_dumps of v with JSON_ENCODE_ANY, written through o. */
static void
xfer_put_json(struct xfer_out *o, json_t *v)
{
	char	*s;

	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_ENSURE_ASCII)) == NULL) {
		o->err = 1;
		return;
	}
	xfer_put(o, s);
	free(s);
}

static json_t *
xfer_journal(struct tool *t, int64_t id)
{
	sqlite3_stmt	*st;
	json_t		*a = json_array(), *o;
	int		 rc;

	st = store_prep(&t->db, SQ_REC_JOURNAL);
	if (st == NULL) {
		json_decref(a);
		return NULL;
	}
	db_bind_int(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		o = json_object();
		json_object_set_new(o, "step", tool_col_str(st, 0));
		json_object_set_new(o, "intercom_id", tool_col_str(st, 1));
		json_object_set_new(o, "detail", tool_col_str(st, 2));
		json_object_set_new(o, "done_at", tool_col_time(st, 3));
		json_array_append_new(a, o);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		/* A record must never travel with half its journal. */
		db_fail(&t->db, rc);
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *
xfer_dead(struct tool *t, int64_t id)
{
	sqlite3_stmt	*st;
	json_t		*o = json_null();

	st = store_prep(&t->db, SQ_REC_DEAD_LETTER);
	if (st == NULL)
		return o;
	db_bind_int(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		o = json_object();
		json_object_set_new(o, "reason", tool_col_str(st, 0));
		json_object_set_new(o, "class", tool_col_str(st, 1));
		json_object_set_new(o, "message", tool_col_str(st, 2));
		json_object_set_new(o, "http_status", tool_col_int(st, 3));
		json_object_set_new(o, "response", tool_col_str(st, 4));
		json_object_set_new(o, "note", tool_col_str(st, 5));
		json_object_set_new(o, "dead_at", tool_col_time(st, 6));
	}
	sqlite3_reset(st);
	return o;
}

/* Where a handed-off record went (handoff row), or null. */
static json_t *
xfer_handoff_of(struct tool *t, int64_t id)
{
	sqlite3_stmt	*st;
	json_t		*o = json_null();

	st = store_prep(&t->db, SQ_REC_HANDOFF);
	if (st == NULL)
		return o;
	db_bind_int(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		o = json_object();
		json_object_set_new(o, "bundle", tool_col_str(st, 0));
		json_object_set_new(o, "created_at", tool_col_str(st, 1));
		json_object_set_new(o, "sha256", tool_col_str(st, 2));
		json_object_set_new(o, "handed_at", tool_col_time(st, 3));
		json_object_set_new(o, "operator", tool_col_str(st, 4));
	}
	sqlite3_reset(st);
	return o;
}

/*
 * One record line for the row st is on (the export SELECT's columns).
 * -1 if the journal could not be read or memory ran out; nothing of the
 * line is written then.
 */
static int
xfer_put_record(struct tool *t, struct xfer_out *out, sqlite3_stmt *st)
{
	json_t	*o, *jn;
	char	*rest;

	if ((jn = xfer_journal(t, sqlite3_column_int64(st, 0))) == NULL)
		return -1;
	o = json_object();
	json_object_set_new(o, "state", tool_col_str(st, 4));
	json_object_set_new(o, "attempts", tool_col_int(st, 5));
	json_object_set_new(o, "marker", tool_col_str(st, 6));
	json_object_set_new(o, "enqueued_at", tool_col_time(st, 7));
	json_object_set_new(o, "in_doubt", json_boolean(
	    sqlite3_column_int(st, 8)));
	json_object_set_new(o, "last_error", tool_col_str(st, 9));
	json_object_set_new(o, "delivered_at", tool_col_time(st, 10));
	json_object_set_new(o, "journal", jn);
	json_object_set_new(o, "dead_letter", xfer_dead(t,
	    sqlite3_column_int64(st, 0)));
	if (strcmp((const char *)sqlite3_column_text(st, 4), "handed_off") == 0)
		json_object_set_new(o, "handoff", xfer_handoff_of(t,
		    sqlite3_column_int64(st, 0)));
	rest = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (rest == NULL)
		return -1;
	xfer_put(out, "{\"type\":\"record\",\"workspace\":");
	o = tool_col_str(st, 1);
	xfer_put_json(out, o);
	json_decref(o);
	xfer_put(out, ",\"key\":");
	o = tool_col_str(st, 2);
	xfer_put_json(out, o);
	json_decref(o);
	xfer_put(out, ",\"payload\":");
	xfer_put(out, (const char *)sqlite3_column_text(st, 3));
	xfer_put(out, ",");
	xfer_put(out, rest + 1);
	xfer_put(out, "\n");
	free(rest);
	return 0;
}

/*
 * Flush o to the disk (fsync), so that what a chunk retires is in the
 * bundle before the chunk commits.  stdout may be a pipe or a terminal:
 * there fflush is all that can be done.
 */
static int
xfer_sync(struct xfer_out *o)
{
	if (fflush(o->f) == EOF || ferror(o->f) || o->err)
		return -1;
	if (fsync(fileno(o->f)) == -1 && errno != EINVAL && errno != ENOTSUP &&
	    errno != EROFS)
		return -1;
	return 0;
}

/*
 * Retire exported record id if it is pending: state handed_off, journal
 * kept, and a handoff row naming the bundle (file, creation time, who);
 * its digest is added once the trailer is written (xfer_handoff).  Not a
 * dead letter: nothing replays it by accident (dlq replay wants --force).
 */
static int
xfer_retire_id(struct tool *t, int64_t id, const char *bundle,
    const char *created, const char *op)
{
	sqlite3_stmt	*st;

	st = store_prep(&t->db, SQ_HANDOFF_MARK);
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, bundle);
	db_bind_text(st, 3, created);
	db_bind_text(st, 4, op);
	if (db_step_done(&t->db, st) == -1)
		return -1;
	st = store_prep(&t->db, SQ_HANDOFF_STATE);
	if (st == NULL)
		return -1;
	db_bind_int(st, 1, id);
	return db_step_done(&t->db, st);
}

#define XFER_CHUNK	500	/* records per handoff transaction */

/* The handoff of bundle created (its header time) is complete: its digest. */
static int
xfer_handoff_digest(struct tool *t, const char *created, const char *hex)
{
	sqlite3_stmt	*st;

	st = store_prep(&t->db, SQ_HANDOFF_SEAL);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, created);
	db_bind_text(st, 2, hex);
	return db_step_done(&t->db, st);
}

/*
 * export --handoff, in chunks of XFER_CHUNK records.  The invariant: a
 * record is retired here exactly when it is in the bundle.  Each chunk
 * is one write transaction: its lines are written and fsync'd, then its
 * pending records are retired and it commits.  Between chunks the write
 * lock is free, so a running worker is held up for one chunk at most.
 *
 * The selection is fixed by the first transaction: the records matching
 * the filters up to the highest id then (later inserts are not part of
 * it), and their number goes into the header.  A record of the selection
 * found in flight by a later chunk (a worker claimed it in between), or
 * a selection that shrank, stops the handoff: no trailer is written.
 *
 * Crash or error half-way: the bundle has no checksum trailer, so import
 * refuses it and nothing is delivered from it.  The chunks committed
 * before are retired here (handed_off, their handoff rows without a
 * digest): `callsync dlq replay --reason handed_off --since T --force`
 * brings them back, then run the handoff again.  A crash after a chunk's fsync but before its commit leaves
 * lines in the (unusable) bundle that were not retired: no harm, for the
 * same reason.  Only a bundle with its trailer is complete, and the
 * trailer is written after the last chunk committed.
 */
static int
xfer_handoff(struct tool *t, struct xfer_out *out, const char *state,
    const char *states, const char *ws, const char *path)
{
	sqlite3_stmt		*st;
	struct tool_progress	 pr;
	json_t			*o, *det;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;
	char			 hex[65], tm[40], op[128], bundle[PATH_MAX];
	int64_t			 n = 0, written = 0, maxid = 0, last = 0;
	int64_t			 id, chunk, *ids = NULL;
	int64_t			 k, nids;

	if ((ids = calloc(XFER_CHUNK, sizeof(*ids))) == NULL) {
		tool_err("export: out of memory");
		return -1;
	}
	if (db_begin(&t->db) == -1)
		goto fail_db;
	st = store_prep(&t->db, SQ_XFER_INFLIGHT);
	if (st == NULL)
		goto fail_db;
	db_bind_text(st, 1, ws);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail_step;
	if (sqlite3_column_int64(st, 0) > 0) {
		sqlite3_reset(st);
		tool_err("export --handoff: records are in flight: stop "
		    "callsyncd first");
		goto fail;
	}
	sqlite3_reset(st);
	st = store_prep(&t->db, SQ_XFER_MAXID);
	if (st == NULL)
		goto fail_db;
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail_step;
	maxid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = store_prep(&t->db, SQ_XFER_COUNT_UPTO);
	if (st == NULL)
		goto fail_db;
	db_bind_text(st, 1, states);
	db_bind_text(st, 2, ws);
	db_bind_int(st, 3, maxid);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail_step;
	n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (db_commit(&t->db) == -1)
		goto fail_db;

	tool_fmt_time(clock_wall_s(), tm, sizeof(tm));
	tool_operator(op, sizeof(op));
	/* The bundle by a name that means something later, elsewhere too. */
	if (path != NULL && realpath(path, bundle) == NULL)
		snprintf(bundle, sizeof(bundle), "%s", path);
	o = json_object();
	json_object_set_new(o, "type", json_string("callsync-export"));
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "created_at", json_string(tm));
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "workspace", ws != NULL ? json_string(ws) :
	    json_null());
	json_object_set_new(o, "records", json_integer(n));
	xfer_put_json(out, o);
	xfer_put(out, "\n");
	json_decref(o);

	tool_progress_init(&pr, "export", (size_t)n);
	do {
		if (db_begin(&t->db) == -1)
			goto fail_db;
		st = store_prep(&t->db, SQ_XFER_PAGE);
		if (st == NULL)
			goto fail_db;
		db_bind_text(st, 1, states);
		db_bind_text(st, 2, ws);
		db_bind_int(st, 3, last);
		db_bind_int(st, 4, maxid);
		db_bind_int(st, 5, XFER_CHUNK);
		chunk = nids = 0;
		while ((k = sqlite3_step(st)) == SQLITE_ROW) {
			id = sqlite3_column_int64(st, 0);
			if (strcmp((const char *)sqlite3_column_text(st, 4),
			    "inflight") == 0) {
				sqlite3_reset(st);
				tool_err("export --handoff: a worker claimed "
				    "records during the handoff: stop "
				    "callsyncd first");
				goto fail;
			}
			if (xfer_put_record(t, out, st) == -1)
				goto fail_db;
			if (strcmp((const char *)sqlite3_column_text(st, 4),
			    "pending") == 0)
				ids[nids++] = id;
			last = id;
			chunk++;
		}
		if (k != SQLITE_DONE)
			goto fail_step;
		sqlite3_reset(st);
		/* In the bundle, on disk, before it is retired. */
		if (xfer_sync(out) == -1) {
			tool_err("%s: write error", path != NULL ? path :
			    "stdout");
			goto fail;
		}
		for (k = 0; k < nids; k++)
			if (xfer_retire_id(t, ids[k], path != NULL ? bundle :
			    NULL, tm, op) == -1)
				goto fail_db;
		if (db_commit(&t->db) == -1)
			goto fail_db;
		written += chunk;
		tool_progress_step(&pr, (size_t)chunk);
	} while (chunk == XFER_CHUNK);
	tool_progress_end(&pr);
	if (written != n) {
		tool_err("export --handoff: %lld records selected, but %lld "
		    "found: records changed during the handoff",
		    (long long)n, (long long)written);
		goto fail;
	}
	EVP_DigestFinal_ex(out->md, md, &mdlen);
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = '\0';
	fprintf(out->f, "{\"type\":\"checksum\",\"sha256\":\"%s\","
	    "\"records\":%lld}\n", hex, (long long)n);
	if (xfer_sync(out) == -1) {
		tool_err("%s: write error", path != NULL ? path : "stdout");
		goto fail;
	}
	det = json_object();
	json_object_set_new(det, "action", json_string("export_handoff"));
	json_object_set_new(det, "records", json_integer(n));
	json_object_set_new(det, "state", json_string(state));
	json_object_set_new(det, "sha256", json_string(hex));
	if (t->db.readonly) {
		/* Who can only read the file can read it all with sqlite3:
		 * refusing would protect nothing; say what is missing. */
		json_decref(det);
		tool_warn("%s is read-only here: this export is not in its "
		    "audit log", tool_db_path(t));
	} else if (db_begin(&t->db) == -1 ||
	    xfer_handoff_digest(t, tm, hex) == -1 ||
	    tool_operator_audit(t, ws, NULL, det) == -1 ||
	    db_commit(&t->db) == -1) {
		db_rollback(&t->db);
		tool_err("%s: audit: %s (the handoff itself is complete)",
		    tool_db_path(t), db_errmsg(&t->db));
		free(ids);
		return -1;
	}
	free(ids);
	fprintf(stderr, "exported %lld records; pending ones handed off "
	    "(state handed_off: see callsync status)\n", (long long)n);
	return 0;
fail_step:
	db_fail(&t->db, sqlite3_errcode(t->db.h));
	sqlite3_reset(st);
fail_db:
	tool_err("%s: handoff: %s", tool_db_path(t), db_errmsg(&t->db));
fail:
	db_rollback(&t->db);
	free(ids);
	if (written > 0)
		tool_err("export --handoff: stopped after %lld records: the "
		    "bundle has no checksum and import refuses it; the records "
		    "retired so far come back with: callsync dlq replay "
		    "--reason handed_off --since %s --force", (long long)written,
		    tm);
	else
		tool_err("export --handoff: nothing was retired");
	return -1;
}

int
cmd_export(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "handoff", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ "state", required_argument, NULL, 's' },
		{ "workspace", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	sqlite3_stmt		*st;
	int			 handoff = 0;
	struct xfer_out		 out;
	struct tool_progress	 pr;
	json_t			*o, *det;
	const char		*state = "all", *states = NULL, *ws = NULL;
	const char		*path = NULL;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;
	char			 hex[65], tm[40];
	int64_t			 n = 0, written = 0;
	int			 ch, fd, rc = TOOL_EXIT_FAIL, intx = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":ho:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return tool_usage(&xfer_export_c, true);
		case 'o':
			path = optarg;
			break;
		case 's':
			state = optarg;
			break;
		case 'w':
			ws = optarg;
			break;
		case 'H':
			handoff = 1;
			break;
		default:
			return tool_badopt(&xfer_export_c, argv, ch);
		}
	}
	if (strcmp(state, "pending") == 0)
		states = "[\"pending\",\"inflight\"]";
	else if (strcmp(state, "dead") == 0)
		states = "[\"dead\"]";
	else if (strcmp(state, "all") != 0) {
		tool_err("export: --state %s: want pending, dead or all",
		    state);
		return tool_usage(&xfer_export_c, false);
	}
	if (optind != argc) {
		tool_err("export: unexpected argument %s", argv[optind]);
		return tool_usage(&xfer_export_c, false);
	}
	memset(&out, 0, sizeof(out));
	if (tool_open(t, handoff ? 0 : DB_OPEN_READ) == -1)
		return TOOL_EXIT_FAIL;
	if (path == NULL || strcmp(path, "-") == 0)
		out.f = stdout;
	else {
		/* The bundle holds callers' personal data: 0600 like the db. */
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600)) == -1 || (out.f = fdopen(fd, "w")) == NULL) {
			tool_err("%s: %s", path, strerror(errno));
			if (fd != -1)
				close(fd);
			return TOOL_EXIT_FAIL;
		}
	}
	if ((out.md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(out.md, EVP_sha256(), NULL) != 1) {
		tool_err("export: cannot initialise SHA-256");
		goto out;
	}
	if (handoff) {
		if (xfer_handoff(t, &out, state, states, ws, path) == 0)
			rc = TOOL_EXIT_OK;
		goto out;
	}
	/* One read transaction: the count and the rows agree. */
	if (store_exec(&t->db, SQ_READ_BEGIN) == -1)
		goto out;
	intx = 1;
	st = store_prep(&t->db, SQ_XFER_COUNT);
	if (st == NULL)
		goto out;
	db_bind_text(st, 1, states);
	db_bind_text(st, 2, ws);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);

	o = json_object();
	json_object_set_new(o, "type", json_string("callsync-export"));
	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "created_at", json_string(tool_fmt_time(
	    clock_wall_s(), tm, sizeof(tm))));
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "workspace", ws != NULL ? json_string(ws) :
	    json_null());
	json_object_set_new(o, "records", json_integer(n));
	xfer_put_json(&out, o);
	xfer_put(&out, "\n");
	json_decref(o);

	tool_progress_init(&pr, "export", (size_t)n);
	st = store_prep(&t->db, SQ_XFER_ALL);
	if (st == NULL)
		goto out;
	db_bind_text(st, 1, states);
	db_bind_text(st, 2, ws);
	while (written < n && sqlite3_step(st) == SQLITE_ROW) {
		if (xfer_put_record(t, &out, st) == -1)
			break;
		written++;
		tool_progress_step(&pr, 1);
	}
	sqlite3_reset(st);
	tool_progress_end(&pr);
	if (intx == 1) {
		store_exec(&t->db, SQ_READ_COMMIT);
		intx = 0;
	}
	if (written != n) {
		tool_err("export: wrote %lld of %lld records: %s",
		    (long long)written, (long long)n, db_errmsg(&t->db));
		goto out;
	}
	EVP_DigestFinal_ex(out.md, md, &mdlen);
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = '\0';
	fprintf(out.f, "{\"type\":\"checksum\",\"sha256\":\"%s\","
	    "\"records\":%lld}\n", hex, (long long)n);
	if (fflush(out.f) == EOF || ferror(out.f) || out.err) {
		tool_err("%s: write error", path != NULL ? path : "stdout");
		goto out;
	}
	det = json_object();
	json_object_set_new(det, "action", json_string("export"));
	json_object_set_new(det, "records", json_integer(n));
	json_object_set_new(det, "state", json_string(state));
	json_object_set_new(det, "sha256", json_string(hex));
	if (t->db.readonly) {
		/* Who can only read the file can read it all with sqlite3:
		 * refusing would protect nothing; say what is missing. */
		json_decref(det);
		tool_warn("%s is read-only here: this export is not in its "
		    "audit log", tool_db_path(t));
	} else if (db_begin(&t->db) == -1 ||
	    tool_operator_audit(t, ws, NULL, det) == -1 ||
	    db_commit(&t->db) == -1) {
		db_rollback(&t->db);
		tool_err("%s: audit: %s", tool_db_path(t), db_errmsg(&t->db));
		goto out;
	}
	fprintf(stderr, "exported %lld records\n", (long long)n);
	rc = TOOL_EXIT_OK;
out:
	if (intx == 1)
		store_exec(&t->db, SQ_READ_ROLLBACK);
	EVP_MD_CTX_free(out.md);
	if (out.f != NULL && out.f != stdout && fclose(out.f) == EOF &&
	    rc == TOOL_EXIT_OK) {
		tool_err("%s: %s", path, strerror(errno));
		rc = TOOL_EXIT_FAIL;
	}
	return rc;
}

/* A record line, checked and parsed (new reference in root). */
struct xfer_rec {
	const char	*line;		/* NUL-terminated, in the buffer */
	json_t		*root;
};

static const char *
xfer_s(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* RFC 3339 field k of o in unix seconds, or -1 (absent or null). */
static int64_t
xfer_time(json_t *o, const char *k)
{
	const char	*s = xfer_s(o, k);
	int64_t		 ms;

	if (s == NULL || tool_parse_when(s, &ms) == -1)
		return -1;
	return ms / 1000;
}

/*
 * Check the bundle in buf (len bytes; lines are cut in place) and fill
 * recs.  -1 with why when it is damaged, truncated or not a bundle.
 */
static int
xfer_check(char *buf, size_t len, struct xfer_rec **recs, size_t *nrecs,
    char *why, size_t whysz)
{
	json_t		*hdr = NULL, *trl = NULL, *j;
	char		*p, *nl, *last = NULL, *end = buf + len, hex[65];
	size_t		 nlines = 0, i, lineno;
	const char	*st;
	int		 rc = -1;

	*recs = NULL;
	*nrecs = 0;
	/* The trailer is the last non-empty line. */
	while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (end == buf) {
		snprintf(why, whysz, "empty input");
		return -1;
	}
	for (p = end; p > buf && p[-1] != '\n'; p--)
		;
	last = p;
	/* An empty digest would read as "checksum mismatch": say why. */
	if (audit_sha256_hex(buf, (size_t)(last - buf), hex) == -1) {
		snprintf(why, whysz, "cannot compute the SHA-256 of the "
		    "bundle (OpenSSL failed)");
		return -1;
	}
	*end = '\0';
	if ((trl = json_loads(last, 0, NULL)) == NULL ||
	    strcmp(xfer_s(trl, "type") ? xfer_s(trl, "type") : "",
	    "checksum") != 0) {
		snprintf(why, whysz, "no checksum trailer (truncated?)");
		goto out;
	}
	if (xfer_s(trl, "sha256") == NULL ||
	    strcmp(xfer_s(trl, "sha256"), hex) != 0) {
		snprintf(why, whysz, "checksum mismatch (the bundle was "
		    "altered or damaged)");
		goto out;
	}
	for (p = buf; p < last; p = nl + 1) {
		nl = memchr(p, '\n', last - p);
		nlines++;
	}
	if (nlines < 1 || (*recs = calloc(nlines, sizeof(**recs))) == NULL) {
		snprintf(why, whysz, "no header line");
		goto out;
	}
	for (p = buf, lineno = 1; p < last; p = nl + 1, lineno++) {
		nl = memchr(p, '\n', last - p);
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if ((j = json_loads(p, 0, NULL)) == NULL) {
			snprintf(why, whysz, "line %zu: invalid JSON", lineno);
			goto out;
		}
		if (lineno == 1) {
			hdr = j;
			if (xfer_s(hdr, "type") == NULL || strcmp(xfer_s(hdr,
			    "type"), "callsync-export") != 0) {
				snprintf(why, whysz, "not a callsync export");
				goto out;
			}
			if (json_integer_value(json_object_get(hdr,
			    "version")) != 1) {
				snprintf(why, whysz, "unsupported version");
				goto out;
			}
			continue;
		}
		(*recs)[*nrecs].line = p;
		(*recs)[(*nrecs)++].root = j;
		st = xfer_s(j, "state");
		if (xfer_s(j, "type") == NULL ||
		    strcmp(xfer_s(j, "type"), "record") != 0 ||
		    xfer_s(j, "workspace") == NULL || xfer_s(j, "key") == NULL ||
		    !json_is_object(json_object_get(j, "payload")) ||
		    st == NULL || (strcmp(st, "pending") != 0 &&
		    strcmp(st, "inflight") != 0 && strcmp(st, "done") != 0 &&
		    strcmp(st, "dead") != 0 && strcmp(st, "handed_off") != 0)) {
			snprintf(why, whysz, "line %zu: not a valid record",
			    lineno);
			goto out;
		}
	}
	if ((json_int_t)*nrecs != json_integer_value(json_object_get(hdr,
	    "records")) || (json_int_t)*nrecs !=
	    json_integer_value(json_object_get(trl, "records"))) {
		snprintf(why, whysz, "%zu records, but the header says %lld "
		    "and the trailer %lld", *nrecs, (long long)
		    json_integer_value(json_object_get(hdr, "records")),
		    (long long)json_integer_value(json_object_get(trl,
		    "records")));
		goto out;
	}
	rc = 0;
out:
	json_decref(hdr);
	json_decref(trl);
	if (rc == -1) {
		for (i = 0; i < *nrecs; i++)
			json_decref((*recs)[i].root);
		free(*recs);
		*recs = NULL;
		*nrecs = 0;
	}
	return rc;
}

/* Insert one checked record; 1 inserted, 0 existed, -1 error. */
static int
xfer_insert(struct tool *t, const struct xfer_rec *r)
{
	sqlite3_stmt	*st;
	json_t		*j = r->root, *a, *v, *dl;
	const char	*state = xfer_s(j, "state"), *det;
	char		*dets;
	int64_t		 id, tv;
	size_t		 i;
	int		 inflight;

	st = store_prep(&t->db, SQ_REC_EXISTS);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, xfer_s(j, "workspace"));
	db_bind_text(st, 2, xfer_s(j, "key"));
	if (sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	inflight = strcmp(state, "inflight") == 0;
	st = store_prep(&t->db, SQ_IMPORT_RECORD);
	if (st == NULL)
		return -1;
	db_bind_text(st, 1, xfer_s(j, "workspace"));
	db_bind_text(st, 2, xfer_s(j, "key"));
	db_bind_text(st, 3, r->line);
	db_bind_text(st, 4, inflight ? "pending" : state);
	db_bind_int(st, 5, json_integer_value(json_object_get(j,
	    "attempts")));
	db_bind_text(st, 6, xfer_s(j, "marker"));
	if ((tv = xfer_time(j, "enqueued_at")) >= 0)
		db_bind_int(st, 7, tv);
	db_bind_int(st, 8, inflight ||
	    json_is_true(json_object_get(j, "in_doubt")));
	db_bind_text(st, 9, xfer_s(j, "last_error"));
	if ((tv = xfer_time(j, "delivered_at")) >= 0)
		db_bind_int(st, 10, tv);
	if (db_step_done(&t->db, st) == -1)
		return -1;
	id = sqlite3_last_insert_rowid(t->db.h);

	a = json_object_get(j, "journal");
	json_array_foreach(a, i, v) {
		st = store_prep(&t->db, SQ_IMPORT_JOURNAL);
		if (st == NULL || xfer_s(v, "step") == NULL)
			return -1;
		db_bind_int(st, 1, id);
		db_bind_text(st, 2, xfer_s(v, "step"));
		db_bind_text(st, 3, xfer_s(v, "intercom_id"));
		/* detail is exported as the stored text; other JSON dumped. */
		dets = NULL;
		det = xfer_s(v, "detail");
		if (det == NULL && json_object_get(v, "detail") != NULL &&
		    !json_is_null(json_object_get(v, "detail")))
			det = dets = json_dumps(json_object_get(v, "detail"),
			    JSON_COMPACT | JSON_ENCODE_ANY);
		db_bind_text(st, 4, det);
		free(dets);
		if ((tv = xfer_time(v, "done_at")) >= 0)
			db_bind_int(st, 5, tv);
		if (db_step_done(&t->db, st) == -1)
			return -1;
	}
	/* Handed off from the exporting machine: another machine took it,
	 * so this one must not deliver it either. */
	if (strcmp(state, "handed_off") == 0) {
		dl = json_object_get(j, "handoff");
		st = store_prep(&t->db, SQ_IMPORT_HANDOFF);
		if (st == NULL)
			return -1;
		db_bind_int(st, 1, id);
		db_bind_text(st, 2, xfer_s(dl, "bundle"));
		db_bind_text(st, 3, xfer_s(dl, "created_at"));
		db_bind_text(st, 4, xfer_s(dl, "sha256"));
		if ((tv = xfer_time(dl, "handed_at")) >= 0)
			db_bind_int(st, 5, tv);
		db_bind_text(st, 6, xfer_s(dl, "operator"));
		if (db_step_done(&t->db, st) == -1)
			return -1;
	}
	dl = json_object_get(j, "dead_letter");
	if (json_is_object(dl) && strcmp(state, "dead") == 0) {
		st = store_prep(&t->db, SQ_IMPORT_DEAD_LETTER);
		if (st == NULL)
			return -1;
		db_bind_int(st, 1, id);
		db_bind_text(st, 2, xfer_s(dl, "reason") ? xfer_s(dl,
		    "reason") : "imported");
		db_bind_text(st, 3, xfer_s(dl, "class") ? xfer_s(dl, "class") :
		    "permanent");
		db_bind_text(st, 4, xfer_s(dl, "message") ? xfer_s(dl,
		    "message") : "");
		if (json_is_integer(json_object_get(dl, "http_status")))
			db_bind_int(st, 5, json_integer_value(
			    json_object_get(dl, "http_status")));
		db_bind_text(st, 6, xfer_s(dl, "response"));
		db_bind_text(st, 7, xfer_s(dl, "note"));
		if ((tv = xfer_time(dl, "dead_at")) >= 0)
			db_bind_int(st, 8, tv);
		if (db_step_done(&t->db, st) == -1)
			return -1;
	}
	return 1;
}

int
cmd_import(struct tool *t, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct xfer_rec		*recs = NULL;
	struct tool_progress	 pr;
	json_t			*det, *done = NULL;
	const char		*src;
	char			*buf = NULL, err[512];
	size_t			 len, nrecs = 0, i, nnew = 0, nold = 0;
	int			 ch, r, json = 0, rc = TOOL_EXIT_FAIL;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		if (ch == 'j') {
			json = 1;
			continue;
		}
		if (ch == 'h')
			return tool_usage(&xfer_import_c, true);
		return tool_badopt(&xfer_import_c, argv, ch);
	}
	if (argc - optind != 1) {
		tool_err("import: give one FILE, or - for stdin");
		return tool_usage(&xfer_import_c, false);
	}
	src = strcmp(argv[optind], "-") == 0 ? "stdin" : argv[optind];
	if ((buf = tool_read_all(argv[optind], &len, err,
	    sizeof(err))) == NULL) {
		tool_err("%s", err);
		return TOOL_EXIT_FAIL;
	}
	if (xfer_check(buf, len, &recs, &nrecs, err, sizeof(err)) == -1) {
		tool_err("%s: %s; nothing imported", src, err);
		goto out;
	}
	if (tool_open(t, 0) == -1 || db_begin(&t->db) == -1)
		goto out;
	if (json && (done = json_array()) == NULL)
		goto out;
	tool_progress_init(&pr, "import", nrecs);
	for (i = 0; i < nrecs; i++) {
		if ((r = xfer_insert(t, &recs[i])) == -1) {
			tool_progress_end(&pr);
			tool_err("%s: %s/%s: %s; nothing imported", src,
			    xfer_s(recs[i].root, "workspace"),
			    xfer_s(recs[i].root, "key"), db_errmsg(&t->db));
			db_rollback(&t->db);
			goto out;
		}
		if (done != NULL)
			json_array_append_new(done, json_pack("{s:s, s:s, s:s}",
			    "workspace", xfer_s(recs[i].root, "workspace"),
			    "key", xfer_s(recs[i].root, "key"),
			    "result", r == 1 ? "new" : "exists"));
		else if (!pr.tty || nrecs <= 100)
			printf("%s %s/%s\n", r == 1 ? "new" : "exists",
			    xfer_s(recs[i].root, "workspace"),
			    xfer_s(recs[i].root, "key"));
		if (r == 1)
			nnew++;
		else
			nold++;
		tool_progress_step(&pr, 1);
	}
	tool_progress_end(&pr);
	det = json_object();
	json_object_set_new(det, "action", json_string("import"));
	json_object_set_new(det, "records", json_integer((json_int_t)nrecs));
	json_object_set_new(det, "new", json_integer((json_int_t)nnew));
	json_object_set_new(det, "existing", json_integer((json_int_t)nold));
	if (tool_operator_audit(t, NULL, NULL, det) == -1 ||
	    db_commit(&t->db) == -1) {
		tool_err("%s: %s; nothing imported", tool_db_path(t),
		    db_errmsg(&t->db));
		db_rollback(&t->db);
		goto out;
	}
	fprintf(stderr, "imported %zu new, %zu existing\n", nnew, nold);
	rc = TOOL_EXIT_OK;
	if (done != NULL && tool_print_json(stdout, json_pack("{s:I, s:I, "
	    "s:I, s:O}", "records", (json_int_t)nrecs, "new",
	    (json_int_t)nnew, "existing", (json_int_t)nold, "imported",
	    done)) == -1)
		rc = TOOL_EXIT_FAIL;
out:
	json_decref(done);
	for (i = 0; i < nrecs; i++)
		json_decref(recs[i].root);
	free(recs);
	free(buf);
	return rc;
}
