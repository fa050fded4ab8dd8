/*
 * record: parse and validate an outbox payload (docs/contract.md section 1).
 * Pure: no I/O, no globals, so it can be unit-tested and fuzzed alone.
 *
 * A payload that is valid JSON but not a valid record yields a precise
 * reason code (rec_err) and a one-line message; the worker dead-letters
 * it without writing anything to Intercom.
 */
#ifndef CALLSYNC_RECORD_H
#define CALLSYNC_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "bytes.h"
#include "conf.h"

enum rec_type { REC_CALL, REC_NOTE, REC_REPLY };

#define REC_MAX_TAGS	32
#define REC_MAX_ATTRS	32

struct rec_attr {
	const char	*name;		/* borrowed from root */
	json_t		*value;		/* borrowed from root */
};

struct record {
	json_t		*root;		/* owned: the parsed payload */
	enum rec_type	 type;
	const char	*key;		/* "key" field, or call_id; may be NULL */
	const char	*workspace;	/* "workspace" field or NULL */
	/* call */
	const char	*call_id;
	char		 phone[32];	/* E.164 after normalisation, or "" */
	char		 email[256];	/* trimmed, lower-case, or "" */
	const char	*name;
	const char	*contact_id;	/* explicit Intercom contact id */
	const char	*started_at;	/* RFC 3339 as given */
	long long	 started_unix;	/* parsed started_at, 0 if absent */
	double		 duration_s;	/* -1 if absent */
	const char	*direction;	/* "inbound"/"outbound" or NULL */
	const char	*agent;
	const char	*recording_url;	/* http(s) link to the call's recording, or NULL */
	const char	*summary;
	char		*transcript;	/* owned: flattened text, or NULL */
	const char	*outcome;
	const char	*category;
	int		 escalate;	/* -1 absent, 0, 1 */
	int		 nps;		/* -1 absent, 0..10 */
	const char	*tags[REC_MAX_TAGS];
	size_t		 ntags;
	char		 assign_kind;	/* 0, 't' team, 'a' admin */
	const char	*assign_id;
	/* call (optional), note, reply */
	const char	*conversation_id;
	const char	*body;		/* note/reply */
	struct rec_attr	 attrs[REC_MAX_ATTRS];
	size_t		 nattrs;
	/* What was repaired in the payload's bytes before parsing (NUL
	 * escapes dropped, invalid UTF-8 replaced): bytes.h. */
	struct bytes_fix fix;
};

/* Reason codes, stable: they appear in dead_letter.reason. */
#define REC_ERR_JSON		"invalid_json"
#define REC_ERR_TYPE		"unknown_type"
#define REC_ERR_FIELD		"invalid_field"
#define REC_ERR_MISSING		"missing_field"
#define REC_ERR_PHONE		"invalid_phone"
#define REC_ERR_EMAIL		"invalid_email"
#define REC_ERR_ATTR		"attribute_not_allowed"
#define REC_ERR_PUBLIC		"public_reply_disabled"
#define REC_ERR_TOO_BIG		"too_large"
#define REC_ERR_KEY		"key_mismatch"

struct rec_err {
	const char	*reason;	/* one of REC_ERR_* */
	char		 message[256];	/* "caller.phone: '12' is not a phone number" */
};

/*
 * Parse payload (NUL-terminated JSON text) and validate it against ws
 * (borrowed; may be NULL, then region "US", no attributes allowed, no
 * public replies).  Fills *r (caller frees with record_free) and returns
 * 0, or returns -1 with *e set and *r left empty.
 */
int	 record_parse(const char *payload, const struct conf_ws *ws,
	    struct record *r, struct rec_err *e);
/*
 * The same for an outbox row: row_key (the row's record_key; NULL or ""
 * for none) is the record's key, so a payload inserted with SQL needs no
 * key of its own; a payload key, or without one a call_id, that differs
 * from it is refused (REC_ERR_KEY).  r->key borrows row_key.
 */
int	 record_parse_row(const char *payload, const char *row_key,
	    const struct conf_ws *ws, struct record *r, struct rec_err *e);
void	 record_free(struct record *);
/*
 * The record's ordering lane: "p:+15551234567", "e:a@b.c", "c:<contact>",
 * or "v:<conversation_id>" for note/reply and calls on a conversation.
 * Written into buf; returns buf.
 */
const char *record_lane(const struct record *, char *buf, size_t bufsz);
/* What kind of JSON value v is, for messages: "a string", "null", ... */
const char *record_json_kind(const json_t *v);
/* The key a payload would be stored under (key, else call_id), or NULL. */
const char *record_key_of(json_t *root);

#endif
