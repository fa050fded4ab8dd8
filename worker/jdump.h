/*
 * jdump: a jansson tree to compact JSON text without jansson's encoder.
 * jdump(v) is json_dumps(v, JSON_COMPACT), byte for byte, for every v:
 * what it does not write itself (a real, nesting deeper than
 * JDUMP_DEPTH, a string that is not valid UTF-8, a top level that is
 * neither object nor array) goes to json_dumps, whose answer is returned
 * as it is.  The text is malloc'd; NULL as json_dumps gives it.
 */
#ifndef CALLSYNC_JDUMP_H
#define CALLSYNC_JDUMP_H

#include <jansson.h>

#define JDUMP_DEPTH	64	/* deeper nesting: jansson writes */

char	*jdump(const json_t *v);
/* The fast path alone (for tests): NULL when it gives up. */
char	*jdump_fast(const json_t *v);

#endif
