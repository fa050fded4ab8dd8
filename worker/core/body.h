/*
 * body: what a record says, shaped for Intercom.  Pure functions of the
 * record and the workspace's settings (no I/O), so they are unit-tested
 * on their own (tests/unit/t_body.c).
 */
#ifndef CALLSYNC_BODY_H
#define CALLSYNC_BODY_H

#include <stddef.h>
#include <jansson.h>

#include "conf.h"
#include "record.h"

/*
 * The bodies of a record as the HTML Intercom renders, split to fit
 * max_body (at least 1024; measured on the HTML): a call's summary and
 * transcript, or a note's or reply's body.  Text is escaped (& < > "),
 * blank lines become paragraphs and line breaks <br>; control characters
 * other than newline and tab are dropped.  Each piece of a call or note
 * ends in a paragraph "ref <key> <token>" whose token is unique per piece
 * (body_token); a public reply's pieces carry nothing but the text.
 * Splits prefer a paragraph, a line, a sentence, a space, never cut a
 * UTF-8 sequence, and keep the text's order.  The first piece of a call
 * that opens a conversation is plain text instead (POST /conversations
 * takes no HTML): the same text without markup or escapes, then a blank
 * line and "ref <key> <token>".  New array of strings (caller owns), NULL
 * on ENOMEM.
 */
json_t	*body_pieces(const struct record *, size_t max_body,
	    const char *record_key, const char *marker);
/* The marker token of piece i: the record's marker, then marker "n2"... */
void	 body_token(const char *marker, size_t piece, char *tok, size_t sz);
/*
 * Tag names to apply, in order, without case-insensitive duplicates: the
 * workspace's default tags, the record's, its category.  New array.
 */
json_t	*body_tag_names(const struct conf_ws *, const struct record *);
/* prefix followed by name in lower case ("tag:" "VIP" -> "tag:vip"). */
void	 body_step_name(char *out, size_t sz, const char *prefix,
	    const char *name);

#endif
