/*
 * t_bytes: the repair of a producer's bytes (worker/core/bytes.c, issue 20
 * item 5).  Hand-made cases pin the output: each invalid UTF-8 form and
 * how many U+FFFD it becomes (Unicode's maximal subparts), "\u0000"
 * dropped, lone surrogate escapes, what stays untouched (escaped
 * backslashes, pairs, bytes outside strings), the note.  Then a property
 * against two independent judges over mutated payloads: SQLite's
 * json_valid (the outbox CHECK, which accepts these bytes) and jansson
 * (which the worker parses with).  For every text without a NUL byte:
 *   jansson takes the repaired text  =>  json_valid took the original
 * (a repair never turns broken JSON into JSON), and
 *   json_valid took the original  =>  jansson takes the repaired text
 * (everything the CHECK lets in can be delivered), and a text jansson
 * already takes needs no repair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "bytes.h"

#define FFFD	"\xef\xbf\xbd"

/* Repair s; assert the result (want NULL: nothing to repair). */
static void
rep(const char *s, const char *want, unsigned nul, unsigned utf8,
    unsigned sur)
{
	struct bytes_fix	 f;
	char			*out;
	size_t			 outlen;
	int			 rc;

	rc = bytes_repair(s, strlen(s), &out, &outlen, &f);
	if (want == NULL) {
		if (rc != 0)
			fail_msg("repaired: %s -> %s", s, out);
		assert_null(out);
		assert_false(bytes_fixed(&f));
		return;
	}
	assert_int_equal(rc, 1);
	assert_non_null(out);
	assert_int_equal(outlen, strlen(out));
	assert_string_equal(out, want);
	assert_int_equal(f.nul, nul);
	assert_int_equal(f.utf8, utf8);
	assert_int_equal(f.surrogate, sur);
	assert_true(bytes_fixed(&f));
	free(out);
}

static void
t_utf8(void **state)
{
	(void)state;
	rep("{\"s\":\"caf\xff\"}", "{\"s\":\"caf" FFFD "\"}", 0, 1, 0);
	/* overlong '/' (C0 AF): C0 is never a lead byte, AF alone */
	rep("{\"s\":\"\xc0\xaf\"}", "{\"s\":\"" FFFD FFFD "\"}", 0, 2, 0);
	/* overlong 3-byte (E0 80 80): E0 needs A0..BF next */
	rep("[\"\xe0\x80\x80\"]", "[\"" FFFD FFFD FFFD "\"]", 0, 3, 0);
	/* truncated euro sign (E2 82 ..): one maximal subpart */
	rep("[\"\xe2\x82\"]", "[\"" FFFD "\"]", 0, 1, 0);
	rep("[\"\xe2\x82" "A\"]", "[\"" FFFD "A\"]", 0, 1, 0);
	/* an encoded surrogate (ED A0 80): ED needs 80..9F next */
	rep("[\"\xed\xa0\x80\"]", "[\"" FFFD FFFD FFFD "\"]", 0, 3, 0);
	/* past U+10FFFF (F4 90 80 80), and F5 */
	rep("[\"\xf4\x90\x80\x80\"]", "[\"" FFFD FFFD FFFD FFFD "\"]", 0, 4,
	    0);
	rep("[\"\xf5\"]", "[\"" FFFD "\"]", 0, 1, 0);
	/* a lone continuation byte; a 4-byte form cut at 3 */
	rep("[\"a\x80z\"]", "[\"a" FFFD "z\"]", 0, 1, 0);
	rep("[\"\xf0\x9f\x98\"]", "[\"" FFFD "\"]", 0, 1, 0);
	/* a Latin-1 name */
	rep("{\"name\":\"Jos\xe9\"}", "{\"name\":\"Jos" FFFD "\"}", 0, 1, 0);
	/* valid UTF-8 of every length is kept as it is */
	rep("[\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"]",
	    NULL, 0, 0, 0);
	rep("{\"type\":\"call\",\"summary\":\"plain ASCII\"}", NULL, 0, 0, 0);
	/* invalid bytes at the very end of a truncated string */
	rep("[\"abc\xe2", "[\"abc" FFFD, 0, 1, 0);
}

static void
t_escapes(void **state)
{
	(void)state;
	rep("{\"s\":\"a\\u0000b\"}", "{\"s\":\"ab\"}", 1, 0, 0);
	rep("{\"s\":\"\\u0000\\u0000\"}", "{\"s\":\"\"}", 2, 0, 0);
	/* an escaped backslash, then "u0000": text, not an escape */
	rep("{\"s\":\"\\\\u0000\"}", NULL, 0, 0, 0);
	/* an escaped quote does not end the string */
	rep("{\"s\":\"\\\"\\u0000\\\"\"}", "{\"s\":\"\\\"\\\"\"}", 1, 0, 0);
	/* a pair is kept; a high or low half alone becomes \ufffd */
	rep("[\"\\ud83d\\ude00\"]", NULL, 0, 0, 0);
	rep("[\"\\uD83D\\uDE00\"]", NULL, 0, 0, 0);
	rep("[\"\\ud800\"]", "[\"\\ufffd\"]", 0, 0, 1);
	rep("[\"\\udc00x\"]", "[\"\\ufffdx\"]", 0, 0, 1);
	rep("[\"\\ud800\\u0041\"]", "[\"\\ufffd\\u0041\"]", 0, 0, 1);
	rep("[\"\\ud800\\ud800\\udc00\"]", "[\"\\ufffd\\ud800\\udc00\"]", 0,
	    0, 1);
	rep("[\"\\ud800\\u0000\"]", "[\"\\ufffd\"]", 1, 0, 1);
	/* short or broken escapes are jansson's to refuse; after a short
	 * \u nothing more in the string is repaired (a drop would complete
	 * it), but the string still ends at its quote */
	rep("[\"\\u00\\u0000e9\"]", NULL, 0, 0, 0);
	rep("[\"\\u0\\\"\xff\",\"\xff\"]", "[\"\\u0\\\"\xff\",\"" FFFD "\"]",
	    0, 1, 0);
	rep("[\"\\u00\"]", NULL, 0, 0, 0);
	rep("[\"\\u00zz\"]", NULL, 0, 0, 0);
	rep("[\"\\x\"]", NULL, 0, 0, 0);
	rep("[\"\\", NULL, 0, 0, 0);
	/* other escapes untouched */
	rep("[\"\\n\\t\\/\\u00e9\\u0001\"]", NULL, 0, 0, 0);
}

static void
t_outside(void **state)
{
	(void)state;
	/* Bytes outside strings are never touched: still broken. */
	rep("{\xff\"a\":1}", NULL, 0, 0, 0);
	rep("[1,\xc0\xaf]", NULL, 0, 0, 0);
	rep("\\u0000", NULL, 0, 0, 0);
	rep("{\"a\":1}\\u0000", NULL, 0, 0, 0);
	/* after a string closes, the next bytes are outside again */
	rep("[\"x\"\xff,\"\xff\"]", "[\"x\"\xff,\"" FFFD "\"]", 0, 1, 0);
	rep("", NULL, 0, 0, 0);
}

static void
t_fields(void **state)
{
	struct bytes_fix	 f;
	char			*out, d[300];
	size_t			 outlen;
	const char		*s;

	(void)state;
	s = "{\"type\":\"call\",\"summary\":\"a\\u0000\",\"transcript\":[{"
	    "\"speaker\":\"x\xff\",\"text\":\"\\u0000\\ud800\"}],\"summary2\":"
	    "\"\xff\",\"caller\":{\"name\":\"\xe9\"},\"n\xe9\":\"\xff\","
	    "\"\xff\":1}";
	assert_int_equal(bytes_repair(s, strlen(s), &out, &outlen, &f), 1);
	free(out);
	assert_int_equal(f.nul, 2);
	assert_int_equal(f.utf8, 6);
	assert_int_equal(f.surrogate, 1);
	assert_string_equal(f.fields, "summary, transcript, summary2, caller, "
	    "a member name, another field");
	bytes_describe(&f, d, sizeof(d));
	assert_string_equal(d, "2 NUL characters (\\u0000) dropped, 6 invalid "
	    "UTF-8 sequences replaced with U+FFFD, 1 lone surrogate escape "
	    "replaced with U+FFFD (summary, transcript, summary2, caller, "
	    "a member name, another field)");
	/* a top-level array or string: "payload" */
	s = "[\"\xff\"]";
	assert_int_equal(bytes_repair(s, strlen(s), &out, &outlen, &f), 1);
	free(out);
	assert_string_equal(f.fields, "payload");
	/* many fields: the list is cut with "...", never overflows */
	s = "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1\":\"\xff\","
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2\":\"\xff\","
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3\":\"\xff\","
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4\":\"\xff\"}";
	assert_int_equal(bytes_repair(s, strlen(s), &out, &outlen, &f), 1);
	free(out);
	assert_int_equal(f.utf8, 4);
	assert_non_null(strstr(f.fields, "..."));
	assert_true(strlen(f.fields) < sizeof(f.fields));
	/* nothing to say for a clean record */
	memset(&f, 0, sizeof(f));
	bytes_describe(&f, d, sizeof(d));
	assert_string_equal(d, "");
	/* growth bound: every byte invalid */
	memset(d, 0xff, 100);
	d[0] = '"';
	d[100] = '\0';
	assert_int_equal(bytes_repair(d, 100, &out, &outlen, &f), 1);
	assert_int_equal(outlen, 1 + 99 * 3);
	free(out);
}

/* ---- the property, against SQLite's json_valid and jansson ---------- */

static sqlite3		*db;
static sqlite3_stmt	*st;

static bool
sqlite_valid(const char *s, size_t n)
{
	int	 v;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, s, (int)n, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	return v == 1;
}

static bool
jansson_ok(const char *s, size_t n)
{
	json_t	*j = json_loadb(s, n, JSON_DECODE_ANY, NULL);

	json_decref(j);
	return j != NULL;
}

static uint32_t	 rnd = 20;

static uint32_t
next(void)
{
	rnd = rnd * 1103515245u + 12345u;
	return (rnd >> 8) & 0xffffff;
}

static const char *seeds[] = {
	"{\"type\":\"call\",\"caller\":{\"phone\":\"+15551234567\"},"
	"\"summary\":\"caf\xc3\xa9 \\\"ok\\\" \\\\ \\u00e9\",\"nps\":7,"
	"\"transcript\":[{\"speaker\":\"a\",\"text\":\"hi\\n\"}],"
	"\"tags\":[\"x\",\"y\"],\"escalate\":true,\"x\":null}",
	"[\"\\ud83d\\ude00\",1.5e3,-0,{}]",
	"{\"a\":{\"b\":[\"c\",{\"d\":\"e\\/\"}]}}",
};

/* Bytes and pieces that change the grammar or the encoding. */
static const char *pieces[] = {
	"\xff", "\xc0", "\xaf", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90",
	"\x80", "\xe9", "\"", "\\", "\\u0000", "\\ud800", "\\udc00",
	"\\u00", "u", "{", "}", "[", "]", ",", ":", " ", "a", "0", "\\\"",
	"\\\\",
};

static void
t_property(void **state)
{
	char		 buf[1024], *out;
	size_t		 n, len, outlen, i, pl;
	struct bytes_fix f;
	int		 rc, iter, k, taken = 0, fixed_taken = 0;
	bool		 sv, jo, jr;

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT json_valid(?)", -1,
	    &st, NULL), SQLITE_OK);
	for (iter = 0; iter < 40000; iter++) {
		len = strlen(seeds[iter % 3]);
		memcpy(buf, seeds[iter % 3], len);
		for (k = 1 + (int)(next() % 3); k > 0; k--) {
			n = len > 0 ? next() % (len + 1) : 0;
			switch (next() % 4) {
			case 0:		/* delete a byte */
				if (n < len) {
					memmove(buf + n, buf + n + 1,
					    len - n - 1);
					len--;
				}
				break;
			case 1:		/* cut short */
				if (next() % 4 == 0)
					len = n;
				break;
			default:	/* insert a piece */
				i = next() % (sizeof(pieces) /
				    sizeof(pieces[0]));
				pl = strlen(pieces[i]);
				if (len + pl >= sizeof(buf) / 3)
					break;
				memmove(buf + n + pl, buf + n, len - n);
				memcpy(buf + n, pieces[i], pl);
				len += pl;
				break;
			}
		}
		buf[len] = '\0';
		rc = bytes_repair(buf, len, &out, &outlen, &f);
		assert_int_not_equal(rc, -1);
		sv = sqlite_valid(buf, len);
		jo = jansson_ok(buf, len);
		jr = rc == 1 ? jansson_ok(out, outlen) : jo;
		if (jo && rc != 0)
			fail_msg("repaired a text jansson takes: %s", buf);
		if (jr && !sv)
			fail_msg("repair made broken JSON whole: %s", buf);
		if (sv && !jr)
			fail_msg("json_valid takes it, the repair does not "
			    "make it parse: %s", buf);
		taken += sv;
		fixed_taken += sv && rc == 1;
		free(out);
	}
	/* the mutations reach both sides */
	assert_true(taken > 2000);
	assert_true(fixed_taken > 1000);
	print_message("# %d of 40000 mutated texts json_valid, %d of them "
	    "repaired\n", taken, fixed_taken);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_utf8),
		cmocka_unit_test(t_escapes),
		cmocka_unit_test(t_outside),
		cmocka_unit_test(t_fields),
		cmocka_unit_test(t_property),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
