/*
 * audit: the append-only log of every write made to Intercom, chained by
 * SHA-256: each row's hash covers the previous row's hash and its own
 * fields, so an altered, inserted or removed row breaks the chain at that
 * point.  Pruning replaces a prefix by a checkpoint row that carries the
 * last pruned hash, so the rest still verifies.
 */
#ifndef CALLSYNC_AUDIT_H
#define CALLSYNC_AUDIT_H

#include <stdint.h>

#include "db.h"

struct audit_row {
	const char	*kind;		/* write, operator, checkpoint */
	const char	*workspace;
	const char	*record_key;
	const char	*step;
	const char	*method;
	const char	*path;		/* no query secrets, no host */
	long		 http_status;
	const char	*object_id;
	const char	*admin_id;
	long		 duration_ms;
	const char	*body;		/* request body: digested; stored if store_body */
	int		 store_body;
	const char	*detail;	/* JSON for operator/checkpoint rows */
	int64_t		 at_ms;		/* 0: now */
};

/* Append r; call inside the transaction of the step it records. */
int	 audit_append(struct db *, const struct audit_row *r);
/*
 * Walk the chain.  0 when intact; 1 when broken, with the first bad row
 * id in *bad_id and a one-line explanation in msg; -1 on error.
 * *nrows receives the number of rows checked.
 */
int	 audit_verify(struct db *, int64_t *bad_id, int64_t *nrows,
	    char *msg, size_t msgsz);
/* Hex SHA-256 of len bytes into out[65]; -1 (out "") if OpenSSL fails. */
int	 audit_sha256_hex(const void *, size_t, char out[65]);
/*
 * Delete rows older than before_ms (never the newest row), keeping the
 * chain verifiable with checkpoint rows: 500 rows per transaction, each
 * with a checkpoint carrying the hash of its last deleted row, so the log
 * verifies after every commit.  Call it outside a transaction (inside
 * one, every chunk joins it).  Returns rows deleted or -1; on -1 the
 * chunks already committed stay pruned.
 */
int64_t	 audit_prune(struct db *, int64_t before_ms, const char *operator_name);

#endif
