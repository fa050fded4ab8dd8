/*
 * audit: see audit.h.
 *
 * The hashed text of a row is its fields in a fixed order, separated by
 * 0x1f, NULL written as "\x01"; hash = sha256(prev_hash "\n" text).  The
 * first row's prev_hash is 64 zeros.  A checkpoint row written by prune
 * carries {"pruned_through": id, "anchor": hash} so that verification can
 * start at the first surviving row.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit.h"
#include "clock.h"
#include "log.h"

#define AUDIT_PRUNE_CHUNK	500	/* rows per write transaction */

#define AUDIT_GENESIS \
	"0000000000000000000000000000000000000000000000000000000000000000"

/*
 * The digest and a context, made once per process and reused: EVP_Digest
 * with EVP_sha256() looks the algorithm up in the provider tables and
 * allocates a context on every call, which cost more than hashing a
 * typical row (callgrind, issue 15 item 6).  Both stay reachable until
 * exit; every caller runs on the one thread of its process.
 */
static EVP_MD		*audit_md;
static EVP_MD_CTX	*audit_ctx;

int
audit_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;
	static const char hex[] = "0123456789abcdef";

	/* It allocates a context: a failure must not leave out as garbage. */
	out[0] = '\0';
	if (audit_md == NULL &&
	    (audit_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return -1;
	if (audit_ctx == NULL && (audit_ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex2(audit_ctx, audit_md, NULL) != 1 ||
	    EVP_DigestUpdate(audit_ctx, buf, len) != 1 ||
	    EVP_DigestFinal_ex(audit_ctx, md, &mdlen) != 1 || mdlen != 32)
		return -1;
	/*
	 * By table: a snprintf per byte cost more than the digest itself
	 * (callgrind: 5.6% of all instructions, issue 15 item 6).
	 */
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[64] = '\0';
	return 0;
}

/* Grow-only text buffer for the hashed form of a row. */
struct abuf {
	char	*p;
	size_t	 len, cap;
};

static int
abuf_add(struct abuf *b, const char *s)
{
	size_t	 n = strlen(s);
	char	*np;

	if (b->len + n + 2 > b->cap) {
		b->cap = (b->len + n + 2) * 2;
		if ((np = realloc(b->p, b->cap)) == NULL)
			return -1;
		b->p = np;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len++] = 0x1f;
	b->p[b->len] = '\0';
	return 0;
}

static int
abuf_addn(struct abuf *b, const char *s)
{
	return abuf_add(b, s != NULL ? s : "\x01");
}

static int
abuf_addi(struct abuf *b, int64_t v, int isnull)
{
	char	 num[32];

	if (isnull)
		return abuf_add(b, "\x01");
	snprintf(num, sizeof(num), "%" PRId64, v);
	return abuf_add(b, num);
}

/*
 * The fields, in the order hashed.  Called with the values as written
 * (append) or as read back (verify), so both must agree exactly.
 */
struct audit_fields {
	int64_t		 at;
	const char	*kind, *workspace, *record_key, *step, *method, *path;
	int64_t		 http_status;
	int		 status_null;
	const char	*object_id, *admin_id;
	int64_t		 duration_ms;
	int		 duration_null;
	const char	*body_sha256, *body, *detail;
};

static int
audit_hash(const char *prev, const struct audit_fields *f, char out[65])
{
	struct abuf	 b = { NULL, 0, 0 };
	int		 rc = -1;

	if (abuf_add(&b, prev) == -1 || abuf_addi(&b, f->at, 0) == -1 ||
	    abuf_addn(&b, f->kind) == -1 || abuf_addn(&b, f->workspace) == -1 ||
	    abuf_addn(&b, f->record_key) == -1 || abuf_addn(&b, f->step) == -1 ||
	    abuf_addn(&b, f->method) == -1 || abuf_addn(&b, f->path) == -1 ||
	    abuf_addi(&b, f->http_status, f->status_null) == -1 ||
	    abuf_addn(&b, f->object_id) == -1 ||
	    abuf_addn(&b, f->admin_id) == -1 ||
	    abuf_addi(&b, f->duration_ms, f->duration_null) == -1 ||
	    abuf_addn(&b, f->body_sha256) == -1 ||
	    abuf_addn(&b, f->body) == -1 || abuf_addn(&b, f->detail) == -1)
		goto out;
	if (audit_sha256_hex(b.p, b.len, out) == -1)
		goto out;
	rc = 0;
out:
	free(b.p);
	return rc;
}

/*
 * The hash the next row chains to.  An error must not pass for an empty
 * log: the row would restart the chain from genesis and break it.
 */
static int
audit_last_hash(struct db *d, char out[65])
{
	sqlite3_stmt	*st;
	const char	*h;
	int		 rc;

	st = db_prep(d, "SELECT hash FROM audit ORDER BY id DESC LIMIT 1");
	if (st == NULL)
		return -1;
	snprintf(out, 65, "%s", AUDIT_GENESIS);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* NULL for a row means out of memory (hash is NOT NULL). */
		if ((h = (const char *)sqlite3_column_text(st, 0)) == NULL)
			goto fail;
		snprintf(out, 65, "%s", h);
	} else if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_reset(st);
	return 0;
fail:
	log_warnx("%s: last audit hash: %s", d->path, db_errmsg(d));
	sqlite3_reset(st);
	return -1;
}

int
audit_append(struct db *d, const struct audit_row *r)
{
	struct audit_fields	 f;
	sqlite3_stmt		*st;
	char			 prev[65], hash[65], digest[65];

	memset(&f, 0, sizeof(f));
	f.at = r->at_ms ? r->at_ms : clock_wall_ms();
	f.kind = r->kind ? r->kind : "write";
	f.workspace = r->workspace ? r->workspace : "";
	f.record_key = r->record_key;
	f.step = r->step;
	f.method = r->method;
	f.path = r->path;
	f.http_status = r->http_status;
	f.status_null = r->http_status <= 0;
	f.object_id = r->object_id;
	f.admin_id = r->admin_id;
	f.duration_ms = r->duration_ms;
	f.duration_null = r->method == NULL;
	if (r->body != NULL) {
		if (audit_sha256_hex(r->body, strlen(r->body), digest) == -1)
			return -1;
		f.body_sha256 = digest;
		if (r->store_body)
			f.body = r->body;
	}
	f.detail = r->detail;
	if (audit_last_hash(d, prev) == -1 || audit_hash(prev, &f, hash) == -1)
		return -1;
	st = db_prep(d, "INSERT INTO audit (at, kind, workspace, record_key, "
	    "step, method, path, http_status, object_id, admin_id, duration_ms, "
	    "body_sha256, body, detail, prev_hash, hash) "
	    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (st == NULL)
		return -1;
	/* A failed bind would store NULL where the hash covers a value. */
	if (db_bind_int(st, 1, f.at) == -1 ||
	    db_bind_text(st, 2, f.kind) == -1 ||
	    db_bind_text(st, 3, f.workspace) == -1 ||
	    db_bind_text(st, 4, f.record_key) == -1 ||
	    db_bind_text(st, 5, f.step) == -1 ||
	    db_bind_text(st, 6, f.method) == -1 ||
	    db_bind_text(st, 7, f.path) == -1 ||
	    (!f.status_null && db_bind_int(st, 8, f.http_status) == -1) ||
	    db_bind_text(st, 9, f.object_id) == -1 ||
	    db_bind_text(st, 10, f.admin_id) == -1 ||
	    (!f.duration_null && db_bind_int(st, 11, f.duration_ms) == -1) ||
	    db_bind_text(st, 12, f.body_sha256) == -1 ||
	    db_bind_text(st, 13, f.body) == -1 ||
	    db_bind_text(st, 14, f.detail) == -1 ||
	    db_bind_text(st, 15, prev) == -1 ||
	    db_bind_text(st, 16, hash) == -1) {
		log_warnx("%s: audit row: %s", d->path, db_errmsg(d));
		sqlite3_reset(st);
		return -1;
	}
	return db_step_done(d, st);
}

#define COLT(i) ((const char *)sqlite3_column_text(st, (i)))

/*
 * The anchor a checkpoint gives for the row after pruned_through: 1 found
 * (out filled), 0 none, -1 error (not "none": that would call an intact
 * log broken).
 */
static int
audit_anchor(struct db *d, int64_t first_id, char out[65])
{
	sqlite3_stmt	*st;
	json_t		*j;
	int		 found = 0, rc = SQLITE_DONE;

	st = db_prep(d, "SELECT detail FROM audit WHERE kind = 'checkpoint' "
	    "ORDER BY id DESC");
	if (st == NULL)
		return -1;
	while (!found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (COLT(0) == NULL ||
		    (j = json_loads(COLT(0), 0, NULL)) == NULL)
			continue;
		if (json_integer_value(json_object_get(j,
		    "pruned_through")) == first_id - 1 &&
		    json_is_string(json_object_get(j, "anchor"))) {
			snprintf(out, 65, "%s", json_string_value(
			    json_object_get(j, "anchor")));
			found = 1;
		}
		json_decref(j);
	}
	sqlite3_reset(st);
	if (!found && rc != SQLITE_DONE)
		return -1;
	return found;
}

int
audit_verify(struct db *d, int64_t *bad_id, int64_t *nrows, char *msg,
    size_t msgsz)
{
	sqlite3_stmt		*st;
	struct audit_fields	 f;
	char			 expect[65], hash[65], digest[65];
	int64_t			 id, lastid = 0;
	int			 rc, arc, first = 1;

	*bad_id = 0;
	*nrows = 0;
	snprintf(expect, sizeof(expect), "%s", AUDIT_GENESIS);
	st = db_prep(d, "SELECT id, at, kind, workspace, record_key, step, "
	    "method, path, http_status, object_id, admin_id, duration_ms, "
	    "body_sha256, body, detail, prev_hash, hash FROM audit ORDER BY id");
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		memset(&f, 0, sizeof(f));
		f.at = sqlite3_column_int64(st, 1);
		f.kind = COLT(2);
		f.workspace = COLT(3);
		f.record_key = COLT(4);
		f.step = COLT(5);
		f.method = COLT(6);
		f.path = COLT(7);
		f.status_null = sqlite3_column_type(st, 8) == SQLITE_NULL;
		f.http_status = sqlite3_column_int64(st, 8);
		f.object_id = COLT(9);
		f.admin_id = COLT(10);
		f.duration_null = sqlite3_column_type(st, 11) == SQLITE_NULL;
		f.duration_ms = sqlite3_column_int64(st, 11);
		f.body_sha256 = COLT(12);
		f.body = COLT(13);
		f.detail = COLT(14);
		(*nrows)++;
		if (first && id != 1) {
			/* A pruned log starts after a checkpointed prefix. */
			if ((arc = audit_anchor(d, id, expect)) == -1)
				goto fail;
			if (arc != 1) {
				snprintf(msg, msgsz, "audit row %" PRId64
				    ": rows before it are missing and no "
				    "checkpoint accounts for them", id);
				goto broken;
			}
		} else if (!first && id != lastid + 1) {
			snprintf(msg, msgsz, "audit row %" PRId64 " is missing",
			    lastid + 1);
			id = lastid + 1;
			goto broken;
		}
		first = 0;
		if (COLT(15) == NULL || strcmp(COLT(15), expect) != 0) {
			snprintf(msg, msgsz, "audit row %" PRId64 ": does not "
			    "follow the previous row (chain broken)", id);
			goto broken;
		}
		if (f.body != NULL) {
			if (audit_sha256_hex(f.body, strlen(f.body),
			    digest) == -1)
				goto fail;
			if (f.body_sha256 == NULL ||
			    strcmp(digest, f.body_sha256) != 0) {
				snprintf(msg, msgsz, "audit row %" PRId64
				    ": body does not match its digest", id);
				goto broken;
			}
		}
		if (audit_hash(expect, &f, hash) == -1)
			goto fail;
		if (COLT(16) == NULL || strcmp(COLT(16), hash) != 0) {
			snprintf(msg, msgsz, "audit row %" PRId64 ": altered "
			    "(hash mismatch)", id);
			goto broken;
		}
		snprintf(expect, sizeof(expect), "%s", hash);
		lastid = id;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_reset(st);
	snprintf(msg, msgsz, "audit log intact: %" PRId64 " rows", *nrows);
	return 0;
broken:
	*bad_id = id;
	sqlite3_reset(st);
	return 1;
fail:
	snprintf(msg, msgsz, "%s: %s", d->path, db_errmsg(d));
	sqlite3_reset(st);
	return -1;
}

/*
 * One chunk of a prune, in its own transaction: delete the oldest rows up
 * to AUDIT_PRUNE_CHUNK of them, none past through, and append the
 * checkpoint that accounts for them, so that the log verifies after each
 * commit.  Returns rows deleted (0: nothing left up to through) or -1.
 */
static int64_t
audit_prune_chunk(struct db *d, int64_t through, int64_t total,
    const char *operator_name)
{
	sqlite3_stmt		*st;
	struct audit_row	 r;
	int64_t			 last = 0, n;
	char			 anchor[65] = "", *detail = NULL;
	json_t			*dj;
	const char		*h;
	int			 rc;

	if (db_begin(d) == -1)
		return -1;
	/* The newest row of this chunk: its hash anchors what is left. */
	st = db_prep(d, "SELECT id, hash FROM (SELECT id, hash FROM audit "
	    "WHERE id <= ? ORDER BY id LIMIT ?) ORDER BY id DESC LIMIT 1");
	if (st == NULL)
		goto fail;
	if (db_bind_int(st, 1, through) == -1 ||
	    db_bind_int(st, 2, AUDIT_PRUNE_CHUNK) == -1)
		goto fail_reset;
	/* An error is not "nothing to prune"; a NULL hash is out of memory. */
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		if ((h = (const char *)sqlite3_column_text(st, 1)) == NULL)
			goto fail_reset;
		snprintf(anchor, sizeof(anchor), "%s", h);
	} else if (rc != SQLITE_DONE)
		goto fail_reset;
	sqlite3_reset(st);
	if (last == 0)
		return db_commit(d) == 0 ? 0 : -1;
	st = db_prep(d, "DELETE FROM audit WHERE id <= ?");
	if (st == NULL)
		goto fail;
	if (db_bind_int(st, 1, last) == -1)
		goto fail_reset;
	if (db_step_done(d, st) == -1)
		goto fail;
	n = sqlite3_changes(d->h);
	dj = json_pack("{sIsssIss}", "pruned_through", (json_int_t)last,
	    "anchor", anchor, "rows", (json_int_t)(total + n), "operator",
	    operator_name != NULL ? operator_name : "unknown");
	detail = dj != NULL ? json_dumps(dj, JSON_COMPACT) : NULL;
	json_decref(dj);
	if (detail == NULL) {
		log_warnx("%s: audit checkpoint: out of memory", d->path);
		goto fail;
	}
	memset(&r, 0, sizeof(r));
	r.kind = "checkpoint";
	r.workspace = "";
	r.detail = detail;
	if (audit_append(d, &r) == -1)
		goto fail;
	free(detail);
	if (db_commit(d) == -1)
		return -1;
	return n;
fail_reset:
	log_warnx("%s: audit prune: %s", d->path, db_errmsg(d));
	sqlite3_reset(st);
fail:
	free(detail);
	db_rollback(d);
	return -1;
}

/*
 * The prefix to prune is fixed first (never the newest row: the chain
 * needs its tail), then deleted AUDIT_PRUNE_CHUNK rows per transaction,
 * each chunk with its checkpoint, so that a running worker waits for the
 * write lock no longer than one chunk takes and an interrupted prune
 * leaves a verifiable log (the next prune finishes).  The checkpoints
 * written here come after through, so later chunks never delete them.
 */
int64_t
audit_prune(struct db *d, int64_t before_ms, const char *operator_name)
{
	sqlite3_stmt	*st;
	int64_t		 through = 0, n, total = 0;
	int		 rc;

	st = db_prep(d, "SELECT max(id) FROM audit WHERE at < ? AND "
	    "id < (SELECT max(id) FROM audit)");
	if (st == NULL)
		return -1;
	if (db_bind_int(st, 1, before_ms) == -1) {
		sqlite3_reset(st);
		return -1;
	}
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		through = sqlite3_column_int64(st, 0);	/* NULL: 0 */
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		db_fail(d, rc);
		log_warnx("%s: audit prune: %s", d->path, db_errmsg(d));
		return -1;
	}
	while (through > 0 &&
	    (n = audit_prune_chunk(d, through, total, operator_name)) != 0) {
		if (n == -1)
			return -1;
		total += n;
	}
	return total;
}
