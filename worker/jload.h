/*
 * jload: JSON text to a jansson tree without jansson's byte-at-a-time
 * decoder.  Same answer as json_loadb(buf, len, flags, err) for every
 * input: the tree it builds is the one jansson would build, and any text
 * it does not take on itself (an error, \u0000, nesting deeper than
 * JLOAD_DEPTH, a number of 64 characters or more, flags other than
 * JSON_REJECT_DUPLICATES) goes to
 * json_loadb, whose result and error message are then returned as they
 * are.  err (may be NULL) is filled only when the answer is NULL.
 */
#ifndef CALLSYNC_JLOAD_H
#define CALLSYNC_JLOAD_H

#include <stddef.h>
#include <jansson.h>

#define JLOAD_DEPTH	64	/* deeper nesting: jansson parses */

json_t	*jload(const char *buf, size_t len, size_t flags, json_error_t *err);
/*
 * Length of the valid UTF-8 sequence at p (p[0] >= 0x80, p < end) by
 * jansson's rules (no overlong form, no surrogate, nothing past
 * U+10FFFF), or 0.
 */
size_t	 jload_utf8(const unsigned char *p, const unsigned char *end);
/* The fast path alone (for tests): NULL when it gives up. */
json_t	*jload_fast(const char *buf, size_t len, size_t flags);

#endif
