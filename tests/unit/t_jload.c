/*
 * t_jload: the fast JSON loader (worker/jload.c) against jansson's own
 * json_loadb, which it must equal on every input.  Seeds are answers and
 * payloads of the shapes the worker reads; every seed is also cut short
 * at each length and has each byte replaced by each of a set of bytes
 * that change the grammar (quotes, escapes, digits, broken UTF-8...).
 * For each text: whenever the fast path takes it, jansson must take it
 * too and build the same tree (compared by its compact dump, which shows
 * member order and number types); jload() must always agree with
 * json_loadb; and every well-formed seed must be taken by the fast path
 * itself, so the test cannot pass by always falling back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jload.h"

static const char *seeds[] = {
	"{\"type\":\"contact\",\"id\":\"6650f1a2b3c4d5e6f7a8b9c0\","
	"\"workspace_id\":\"abc123\",\"external_id\":null,\"role\":\"lead\","
	"\"email\":\"Ann.Lee@Example.com\",\"phone\":\"+15551234567\","
	"\"name\":\"Ann Lee\",\"created_at\":1717000000,\"updated_at\":1717000001,"
	"\"unsubscribed_from_emails\":false,\"has_hard_bounced\":true,"
	"\"custom_attributes\":{\"last_call_nps\":9,\"score\":-12,"
	"\"ratio\":0.25,\"big\":1e300,\"tiny\":-2.5E-3,\"zero\":-0},"
	"\"tags\":{\"type\":\"list\",\"data\":[],\"url\":\"/contacts/x/tags\","
	"\"total_count\":0,\"has_more\":false},\"location\":{}}",
	"{\"type\":\"error.list\",\"request_id\":\"r-1\",\"errors\":[{\"code\":"
	"\"conflict\",\"message\":\"A contact matching those details already "
	"exists with id=6650f1a2b3c4d5e6f7a8b9c0\"}]}",
	"{\"type\":\"list\",\"data\":[{\"type\":\"contact\",\"id\":\"1\","
	"\"role\":\"user\"},{\"type\":\"contact\",\"id\":2,\"role\":\"lead\"}],"
	"\"total_count\":2,\"pages\":{\"type\":\"pages\",\"page\":1,"
	"\"per_page\":50,\"total_pages\":1}}",
	"{\"type\":\"conversation\",\"id\":\"123\",\"conversation_parts\":{"
	"\"conversation_parts\":[{\"body\":\"<p>Call \\\"x\\\" \\\\ done\\n"
	"tab\\there \\/slash\\b\\f\\r</p>\",\"author\":{\"type\":\"admin\"}}]}}",
	"{\"unicode\":\"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\u001f end\","
	"\"raw\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\","
	"\"esc key\\u0041\":1,\"k\\n\":2}",
	"[1,-1,0,9223372036854775807,-9223372036854775808,1.5,[[],[{}]],"
	"\"\",true,false,null]",
	"  \n\t{ \"a\" : [ 1 , 2 ] , \"b\" : { \"c\" : \"d\" } }\r\n ",
	"{\"type\":\"call\",\"call_id\":\"c-1\",\"caller\":{\"phone\":"
	"\"+1 (555) 123-4567\",\"email\":\" X@Y.org \",\"name\":\"Bo\"},"
	"\"started_at\":\"2026-01-02T03:04:05Z\",\"duration_s\":61,"
	"\"tags\":[\"vip\",\"billing\"],\"transcript\":\"A: hello\\nB: hi\","
	"\"attributes\":{\"last_call_nps\":7,\"last_call_escalated\":true}}",
};

/* Replacement bytes: each one is meaningful to some rule of the grammar. */
static const unsigned char subst[] = {
	'"', '\\', '{', '}', '[', ']', ',', ':', ' ', '0', '1', '-', '+',
	'.', 'e', 'u', 'n', 'x', '/', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf,
	0xc0, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff,
};

static char *
dump(json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

static int nfast;

/* One text, both ways and with and without duplicate rejection. */
static void
check(const char *buf, size_t len)
{
	size_t		 flags[] = { 0, JSON_REJECT_DUPLICATES };
	json_t		*f, *j, *l;
	json_error_t	 ej, el;
	char		*df, *dj;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		j = json_loadb(buf, len, flags[i], &ej);
		f = jload_fast(buf, len, flags[i]);
		if (f != NULL) {
			nfast++;
			if (j == NULL)
				fail_msg("fast path took what jansson "
				    "rejects (%s): %.*s", ej.text, (int)len,
				    buf);
			df = dump(f);
			dj = dump(j);
			assert_non_null(df);
			assert_non_null(dj);
			assert_string_equal(df, dj);
			free(df);
			free(dj);
		}
		l = jload(buf, len, flags[i], &el);
		assert_int_equal(l == NULL, j == NULL);
		if (l == NULL)
			assert_string_equal(el.text, ej.text);
		json_decref(f);
		json_decref(j);
		json_decref(l);
	}
}

static void
t_seeds_fast(void **state)
{
	size_t	 i;
	json_t	*f;

	(void)state;
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		f = jload_fast(seeds[i], strlen(seeds[i]),
		    JSON_REJECT_DUPLICATES);
		if (f == NULL)
			fail_msg("seed %zu not taken by the fast path", i);
		json_decref(f);
		check(seeds[i], strlen(seeds[i]));
	}
}

static void
t_mutations(void **state)
{
	size_t	 i, k, n, len;
	char	*b;

	(void)state;
	nfast = 0;
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		len = strlen(seeds[i]);
		b = malloc(len + 1);
		assert_non_null(b);
		for (n = 0; n < len; n++)
			check(seeds[i], n);		/* cut short */
		for (n = 0; n < len; n++) {
			for (k = 0; k < sizeof(subst); k++) {
				memcpy(b, seeds[i], len);
				b[n] = (char)subst[k];
				check(b, len);
			}
			/* one byte deleted */
			memcpy(b, seeds[i], n);
			memcpy(b + n, seeds[i] + n + 1, len - n - 1);
			check(b, len - 1);
		}
		free(b);
	}
	/* Most mutants are still well-formed: the fast path saw them. */
	assert_true(nfast > 1000);
}

/* Cases jansson rejects that a loose parser would take. */
static void
t_rejects(void **state)
{
	static const char *bad[] = {
		"", " ", "1", "\"s\"", "true", "null", "{}x", "[]]", "{,}",
		"[1,]", "{\"a\":1,}", "{\"a\"}", "{\"a\":}", "{a:1}", "[01]",
		"[-]", "[1.]", "[.5]", "[1e]", "[1e+]", "[+1]", "[0x10]",
		"[1E400]", "[-1e999]", "[9223372036854775808]",
		"[-9223372036854775809]", "[\"\\u0000\"]", "[\"\\ud800\"]",
		"[\"\\udc00\"]", "[\"\\ud800\\u0041\"]", "[\"\\x\"]",
		"[\"\\u12\"]", "[\"\\u12g4\"]", "[\"a\tb\"]", "[\"\xc0\xaf\"]",
		"[\"\xe0\x80\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]",
		"[\"\xf0\x80\x80\xaf\"]", "[\"\x80\"]", "[\"\xc3\"]", "[tru]",
		"[truee]", "[nul]", "[NaN]", "[Infinity]", "{\"a\":1,\"a\":2}",
		"{\"x\":{\"b\":[],\"b\":{}}}", "[\"unterminated]", "{\"a\":1",
		"{\"\\u0000k\":1}",
	};
	size_t	 i;
	json_t	*f;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = jload_fast(bad[i], strlen(bad[i]), JSON_REJECT_DUPLICATES);
		if (f != NULL)
			fail_msg("fast path took bad text %zu: %s", i, bad[i]);
		check(bad[i], strlen(bad[i]));
	}
}

/* Deep nesting goes to jansson, which applies its own depth limit. */
static void
t_deep(void **state)
{
	char	 b[2 * 3000 + 1];
	size_t	 n;
	json_t	*v;

	(void)state;
	for (n = 0; n < 100; n++)
		b[n] = '[';
	for (; n < 200; n++)
		b[n] = ']';
	assert_null(jload_fast(b, 200, 0));
	v = jload(b, 200, 0, NULL);
	assert_non_null(v);
	json_decref(v);
	for (n = 0; n < 3000; n++)
		b[n] = '[';
	for (; n < 6000; n++)
		b[n] = ']';
	check(b, 6000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_seeds_fast),
		cmocka_unit_test(t_mutations),
		cmocka_unit_test(t_rejects),
		cmocka_unit_test(t_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
