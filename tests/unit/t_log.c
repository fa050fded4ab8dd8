/*
 * t_log: the JSON form of a log line (log_json_line): fields, escaping,
 * and the parse of "workspace/key: step: message" and "workspace: message"
 * for configured workspace names only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <syslog.h>
#include <cmocka.h>

#include "log.h"

#define T0	((time_t)1764452388)	/* 2025-11-29T21:39:48Z */

static char	 buf[4096];

static const char *
line(int pri, const char *msg)
{
	log_json_line(buf, sizeof(buf), T0, pri, msg);
	return buf;
}

static void
t_fields(void **state)
{
	(void)state;
	log_add_workspace("acme");
	assert_string_equal(line(LOG_INFO,
	    "acme/c1: delivered to conversation 7 (3 requests)"),
	    "{\"time\":\"2025-11-29T21:39:48Z\",\"level\":\"info\","
	    "\"workspace\":\"acme\",\"key\":\"c1\",\"step\":null,"
	    "\"message\":\"delivered to conversation 7 (3 requests)\"}");
	assert_string_equal(line(LOG_WARNING,
	    "acme/c1: note:2: note outcome unknown; reconciling in 35 s"),
	    "{\"time\":\"2025-11-29T21:39:48Z\",\"level\":\"warning\","
	    "\"workspace\":\"acme\",\"key\":\"c1\",\"step\":\"note:2\","
	    "\"message\":\"note outcome unknown; reconciling in 35 s\"}");
	assert_non_null(strstr(line(LOG_NOTICE, "acme: GET /me answered HTTP "
	    "401"), "\"level\":\"notice\",\"workspace\":\"acme\",\"key\":null,"
	    "\"step\":null,\"message\":\"GET /me answered HTTP 401\"}"));
	assert_non_null(strstr(line(LOG_DEBUG, "x"), "\"level\":\"debug\""));
	assert_non_null(strstr(line(LOG_ERR, "x"), "\"level\":\"err\""));
}

static void
t_not_a_workspace(void **state)
{
	(void)state;
	log_add_workspace("acme");
	/* Unknown names, paths and prefixes stay in the message. */
	assert_non_null(strstr(line(LOG_NOTICE,
	    "SIGHUP: configuration and tokens reloaded"),
	    "\"workspace\":null,\"key\":null,\"step\":null,"
	    "\"message\":\"SIGHUP: configuration and tokens reloaded\"}"));
	assert_non_null(strstr(line(LOG_WARNING,
	    "/var/lib/callsync/outbox.db: disk I/O error"),
	    "\"workspace\":null,\"key\":null,\"step\":null,"
	    "\"message\":\"/var/lib/callsync/outbox.db: disk I/O error\"}"));
	assert_non_null(strstr(line(LOG_INFO, "globex/k1: delivered"),
	    "\"workspace\":null"));
	assert_non_null(strstr(line(LOG_INFO, "signal 15: stopping"),
	    "\"workspace\":null"));
}

static void
t_escape(void **state)
{
	(void)state;
	assert_non_null(strstr(line(LOG_WARNING,
	    "acme/k\"1: contact: HTTP 422 \"bad\\phone\"\n\x01"),
	    "\"key\":\"k\\\"1\",\"step\":\"contact\",\"message\":"
	    "\"HTTP 422 \\\"bad\\\\phone\\\"\\n\\u0001\"}"));
}

static void
t_truncated(void **state)
{
	char	 small[150];

	(void)state;
	log_json_line(small, sizeof(small), T0, LOG_INFO,
	    "acme/c1: a message much too long for the buffer it is given, "
	    "which must still come out as one valid JSON object");
	assert_non_null(strstr(small, "(message too long)\"}"));
	assert_true(strlen(small) < sizeof(small));
}

/*
 * log_rec's fields are what it is given, never read back from the text:
 * a dead letter's "dead-lettered:" is not a step, a key may hold ": ",
 * a workspace need not be registered.
 */
static void
t_explicit(void **state)
{
	(void)state;
	log_add_workspace("acme");
	/* The guess from text takes "dead-lettered" for a step. */
	assert_non_null(strstr(line(LOG_WARNING, "acme/c1: dead-lettered: "
	    "http_400: bad tag"), "\"step\":\"dead-lettered\""));
	log_rec_line(buf, sizeof(buf), T0, LOG_WARNING, "acme", "c1",
	    "conversation", "dead-lettered: http_400: bad tag");
	assert_string_equal(buf, "{\"time\":\"2025-11-29T21:39:48Z\","
	    "\"level\":\"warning\",\"workspace\":\"acme\",\"key\":\"c1\","
	    "\"step\":\"conversation\",\"message\":\"dead-lettered: "
	    "http_400: bad tag\"}");
	log_rec_line(buf, sizeof(buf), T0, LOG_WARNING, "acme", "c1", NULL,
	    "dead-lettered: invalid: summary");
	assert_non_null(strstr(buf, "\"key\":\"c1\",\"step\":null,"
	    "\"message\":\"dead-lettered: invalid: summary\"}"));
	log_rec_line(buf, sizeof(buf), T0, LOG_INFO, "globex", "k: 1", NULL,
	    "delivered");
	assert_non_null(strstr(buf, "\"workspace\":\"globex\",\"key\":"
	    "\"k: 1\",\"step\":null,\"message\":\"delivered\"}"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_fields),
		cmocka_unit_test(t_not_a_workspace),
		cmocka_unit_test(t_escape),
		cmocka_unit_test(t_truncated),
		cmocka_unit_test(t_explicit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
