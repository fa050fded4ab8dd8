/*
 * t_jdump: the fast compact writer (worker/jdump.c) against jansson's
 * json_dumps(v, JSON_COMPACT), which it must equal byte for byte.  Trees
 * come from hand-built cases (every escape, control characters, NUL and
 * invalid UTF-8 inside strings, empty containers, integer limits, reals,
 * non-container tops) and from every text of t_jload's kind that jansson
 * parses, mutated byte by byte.  Each well-formed case without a real
 * must be written by the fast path itself, so the test cannot pass by
 * always handing over to jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jdump.h"

static int nfast;

static void
check(json_t *v)
{
	char	*f, *j, *d;

	j = json_dumps(v, JSON_COMPACT);
	f = jdump_fast(v);
	if (f != NULL) {
		nfast++;
		if (j == NULL)
			fail_msg("fast path wrote what jansson refuses: %s", f);
		assert_string_equal(f, j);
	}
	d = jdump(v);
	if (j == NULL)
		assert_null(d);
	else {
		assert_non_null(d);
		assert_string_equal(d, j);
	}
	free(f);
	free(j);
	free(d);
}

static void
t_cases(void **state)
{
	json_t	*o, *a;
	char	 all[32];
	int	 i;

	(void)state;
	for (i = 0; i < 31; i++)
		all[i] = (char)(i + 1);
	all[31] = '\0';
	o = json_object();
	json_object_set_new(o, "ctl", json_string(all));
	json_object_set_new(o, "esc", json_string("q\" b\\ s/ del\x7f tab\t"));
	json_object_set_new(o, "utf", json_string("caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80"));
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	json_object_set_new(o, "k\"e\ny", json_integer(1));
	json_object_set_new(o, "", json_string(""));
	json_object_set_new(o, "min", json_integer(INT64_MIN));
	json_object_set_new(o, "max", json_integer(INT64_MAX));
	json_object_set_new(o, "neg", json_integer(-42));
	json_object_set_new(o, "t", json_true());
	json_object_set_new(o, "f", json_false());
	json_object_set_new(o, "n", json_null());
	json_object_set_new(o, "eo", json_object());
	json_object_set_new(o, "ea", json_array());
	a = json_pack("[i,s,[[]],{s:{s:[]}}]", 7, "x", "a", "b");
	json_object_set_new(o, "arr", a);
	/* Members come out in insertion order, also after a replacement. */
	json_object_set_new(o, "ctl", json_string("again"));
	nfast = 0;
	check(o);
	assert_int_equal(nfast, 1);
	/* A real anywhere: jansson writes the whole text. */
	json_object_set_new(o, "r", json_real(0.1));
	nfast = 0;
	check(o);
	assert_int_equal(nfast, 0);
	json_decref(o);
	/* Invalid UTF-8 in a value or a key: both refuse. */
	o = json_object();
	json_object_set_new(o, "bad", json_stringn_nocheck("\xc0\xaf", 2));
	check(o);
	json_decref(o);
	o = json_object();
	json_object_set_new_nocheck(o, "\xff", json_true());
	check(o);
	json_decref(o);
	/* Not a container: json_dumps refuses without JSON_ENCODE_ANY. */
	o = json_string("top");
	check(o);
	assert_null(jdump(o));
	json_decref(o);
	o = json_array();
	nfast = 0;
	check(o);
	assert_int_equal(nfast, 1);
	json_decref(o);
}

static const char *seeds[] = {
	"{\"type\":\"contact\",\"id\":\"6650f1a2\",\"role\":\"lead\","
	"\"email\":\"Ann.Lee@Example.com\",\"created_at\":1717000000,"
	"\"unsubscribed\":false,\"bounced\":true,\"x\":null,"
	"\"custom_attributes\":{\"nps\":9,\"score\":-12},\"tags\":{\"data\":"
	"[],\"total\":0},\"location\":{}}",
	"{\"message_type\":\"note\",\"type\":\"admin\",\"admin_id\":\"1\","
	"\"body\":\"<p>Call \\\"x\\\" \\\\ done\\n\\u0001tab\\there \\/s "
	"caf\\u00e9 \\ud83d\\ude00</p>\"}",
	"[1,-1,0,\"\",true,false,null,[[],[{}]],{\"a\":{\"b\":[1,2]}}]",
};

static const unsigned char subst[] = {
	'"', '\\', '{', '}', '[', ']', ',', ':', '0', '-', 'u', 'n', '/',
	0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xe2, 0xf0,
};

static void
t_mutations(void **state)
{
	size_t	 i, k, n, len;
	char	*b;
	json_t	*v;

	(void)state;
	nfast = 0;
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		len = strlen(seeds[i]);
		b = malloc(len + 1);
		assert_non_null(b);
		for (n = 0; n < len; n++) {
			for (k = 0; k < sizeof(subst); k++) {
				memcpy(b, seeds[i], len);
				b[n] = (char)subst[k];
				v = json_loadb(b, len, 0, NULL);
				if (v != NULL)
					check(v);
				json_decref(v);
			}
		}
		free(b);
	}
	assert_true(nfast > 500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_cases),
		cmocka_unit_test(t_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
