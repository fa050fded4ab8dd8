/*
 * bytes: repair the bytes of a producer's JSON text before it is parsed
 * (issue 20 item 5).
 *
 * SQLite's json_valid, the outbox's CHECK constraint, accepts text that
 * jansson refuses: raw bytes that are not UTF-8, a "\u0000" escape, a
 * lone surrogate escape ("\ud800").  A voice agent's speech engine or a
 * Latin-1 name produces them, and refusing the call for it would lose
 * the summary over one character.  So inside JSON strings, and only
 * there:
 * - each invalid UTF-8 sequence becomes U+FFFD (the Unicode
 *   "maximal subpart" rule: an overlong C0 AF is two, a truncated E2 82
 *   one, an encoded surrogate ED A0 80 three; valid UTF-8 is jansson's:
 *   no overlong form, no surrogate, nothing past U+10FFFF);
 * - a "\u0000" escape is dropped;
 * - a surrogate escape that is not half of a pair becomes "\ufffd".
 * Bytes outside strings are never touched and no '"' or escaping '\'
 * is added or removed, so every string keeps its bounds and the text's
 * structure is the producer's: JSON that is broken (truncated, not an
 * object, a raw invalid byte between values) stays broken.
 *
 * Pure: no I/O, no globals (unit test tests/unit/t_bytes.c; reached by
 * the record fuzz target).
 */
#ifndef CALLSYNC_BYTES_H
#define CALLSYNC_BYTES_H

#include <stdbool.h>
#include <stddef.h>

/* What bytes_repair did. */
struct bytes_fix {
	unsigned	 nul;		/* "\u0000" escapes dropped */
	unsigned	 utf8;		/* invalid UTF-8 sequences replaced */
	unsigned	 surrogate;	/* lone surrogate escapes replaced */
	/* The top-level members repaired, "summary, transcript"; member
	 * names that are not short printable ASCII are "another field". */
	char		 fields[96];
};

/*
 * Repair the JSON text in[0..len).  Returns 0 when nothing needed
 * repair (*out NULL), 1 with the repaired text in *out (malloc'd,
 * NUL-terminated, *outlen bytes, at most 3 * len), or -1 out of memory.
 * fix is filled in every case.
 */
int	 bytes_repair(const char *in, size_t len, char **out, size_t *outlen,
	    struct bytes_fix *fix);
/* Whether fix records a repair. */
bool	 bytes_fixed(const struct bytes_fix *fix);
/*
 * One line saying what was done: "1 NUL character (\u0000) dropped,
 * 2 invalid UTF-8 sequences replaced with U+FFFD (summary, transcript)".
 */
void	 bytes_describe(const struct bytes_fix *fix, char *buf, size_t bufsz);

#endif
