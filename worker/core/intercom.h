/*
 * intercom: pure helpers around Intercom 2.16 answers: error envelopes,
 * the id in a 409 message, the canonical Link of a merged contact, the
 * winner among several matching contacts, and marker lookups in a
 * conversation.  No I/O, so each is unit-tested and fuzzed alone.
 */
#ifndef CALLSYNC_INTERCOM_H
#define CALLSYNC_INTERCOM_H

#include <stddef.h>
#include <jansson.h>

/* Parse a body; new reference to an object, or NULL. */
json_t	*ic_parse(const char *body, size_t len);
/* First error's code and message of an error.list ("" when absent). */
void	 ic_error(json_t *o, char *code, size_t codesz, char *msg, size_t msgsz);
/* The 24-hex id after "id=" in a 409 message; 0 on success, -1 if none. */
int	 ic_conflict_id(const char *msg, char out[25]);
/* The id in `</contacts/ID>; rel="canonical"`; 0 on success, -1 if none. */
int	 ic_link_contact(const char *link, char out[25]);
/* True for a 24-char lower-case hex contact id. */
int	 ic_is_contact_id(const char *);
/* Borrowed string member, or NULL when absent or not a string. */
const char *ic_str(json_t *o, const char *key);
/* String or integer member as text into buf; buf or NULL. */
const char *ic_id(json_t *o, const char *key, char *buf, size_t sz);
/*
 * Among the contacts of a search answer's "data" array (borrowed), the
 * index of the winner: users before leads, then the most recently
 * updated, then the smallest id (deterministic).  -1 when empty.
 */
int	 ic_pick_contact(json_t *data);
/* True when token occurs as a whole word in text. */
int	 ic_has_word(const char *text, const char *token);
/* True when token is a word of the conversation's source body or a part. */
int	 ic_conv_has_marker(json_t *conv, const char *token);
int	 ic_conv_has_tag(json_t *conv, const char *tag_id);
/* Assignee id of kind 't' (team) or 'a' (admin) as text into buf. */
const char *ic_conv_assignee(json_t *conv, char kind, char *buf, size_t sz);

/*
 * The contact search query for an E.164 phone: an OR of phone = each
 * form Intercom may hold (phone_variants, phone_formatted) and
 * formatted_phone = the E.164 number.  New reference; the
 * drain and the caller context search with the same query.
 */
json_t	*ic_phone_query(const char *e164, const char *region);
/* The same without formatted_phone (a workspace that refuses it). */
json_t	*ic_phone_query_plain(const char *e164, const char *region);
/*
 * The text of an HTML body, for comparing what was sent with what
 * Intercom stored: tags stripped (each a word break), the common
 * entities decoded, whitespace collapsed to one space, trimmed.  New
 * string, NULL on ENOMEM.
 */
char	*ic_text_norm(const char *html);
/* GET /me's app.id_code into out ("" and -1 when absent or odd). */
int	 ic_me_app_id(const char *body, size_t len, char *out, size_t outsz);
/*
 * Is this Intercom's GET /me?  It names the token's admin ("type":
 * "admin" and an id) and its app (app.id_code): 0 when it does, -1 when
 * it is someone else's answer (a portal's or a middlebox's JSON).
 */
int	 ic_me_check(const char *body, size_t len);

#endif
