/*
 * t_dbperm: the read-only SQLite URI escapes every character SQLite
 * would read as URI syntax ('?', '#', '%', and anything outside the
 * unreserved set), keeps '/' and the unreserved ones, and refuses a
 * buffer too small rather than cutting the path; a write check on a
 * file in a directory this test owns passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbperm.h"

static void
test_uri(void **state)
{
	char	 b[256];

	(void)state;
	assert_int_equal(dbperm_uri_ro("/var/lib/callsync/outbox.db", 0, b,
	    sizeof(b)), 0);
	assert_string_equal(b, "file:/var/lib/callsync/outbox.db?mode=ro");
	assert_int_equal(dbperm_uri_ro("/tmp/r o#%3F?x/a~b_c-d.db", 1, b,
	    sizeof(b)), 0);
	assert_string_equal(b,
	    "file:/tmp/r%20o%23%253F%3Fx/a~b_c-d.db?mode=ro&immutable=1");
	assert_int_equal(dbperm_uri_ro("rel/\xc3\xa9.db", 0, b, sizeof(b)), 0);
	assert_string_equal(b, "file:rel/%C3%A9.db?mode=ro");
}

static void
test_uri_small(void **state)
{
	char	 b[24];

	(void)state;
	assert_int_equal(dbperm_uri_ro("/a/very/long/path/outbox.db", 0, b,
	    sizeof(b)), -1);
	assert_int_equal(dbperm_uri_ro("/a", 1, b, 5), -1);
}

static void
test_writable(void **state)
{
	char	 dir[] = "/tmp/t_dbperm.XXXXXX", path[64], err[512];
	FILE	*f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/outbox.db", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(dbperm_check_write(path, err, sizeof(err)), 0);
	assert_int_equal(dbperm_check_read(path, err, sizeof(err)), 0);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_uri_small),
		cmocka_unit_test(test_writable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
