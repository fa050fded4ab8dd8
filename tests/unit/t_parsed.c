/*
 * t_parsed: the engine's parsed-record cache (rt_parsed_*): a record
 * parsed when sorted is handed to job_start only for the same id, the
 * same payload text and the same configuration, once; anything else is
 * a miss (parse again), never another record's fields.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* White-box: a unit test of the runtime's own state (rt_impl.h). */
#define CALLSYNC_RUNTIME_PRIVATE
#include "rt_impl.h"

static char		 us[] = "US";
static struct conf_ws	 ws = { .default_region = us };
static struct conf_ws	 ws2 = { .default_region = us };

#define PAY(n)	"{\"type\":\"call\",\"call_id\":\"c-" n "\",\"caller\":" \
		"{\"phone\":\"+1 555 123 4567\"},\"summary\":\"s" n "\"}"

static void
keep(struct rt *e, int64_t id, const char *payload,
    const struct conf_ws *cw)
{
	struct record	 r;
	struct rec_err	 err;

	assert_int_equal(record_parse_row(payload, NULL, cw, &r, &err), 0);
	rt_parsed_keep(e, id, payload, cw, &r);
	assert_null(r.root);		/* taken over */
}

static void
hit_once(void **state)
{
	struct rt	 e;
	struct record	 r;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(rt_parsed_take(&e, 7, PAY("7"), &ws, &r), 0);
	keep(&e, 7, PAY("7"), &ws);
	assert_true(e.parsed_bytes > 0);
	assert_int_equal(rt_parsed_take(&e, 7, PAY("7"), &ws, &r), 1);
	assert_string_equal(r.call_id, "c-7");
	assert_string_equal(r.summary, "s7");
	assert_string_equal(r.phone, "+15551234567");
	record_free(&r);
	/* Handed over once: the next start parses again. */
	assert_int_equal(rt_parsed_take(&e, 7, PAY("7"), &ws, &r), 0);
	assert_int_equal(e.parsed_bytes, 0);
	rt_parsed_flush(&e);
	free(e.parsed);
}

static void
misses(void **state)
{
	struct rt	 e;
	struct record	 r;

	(void)state;
	memset(&e, 0, sizeof(e));
	keep(&e, 7, PAY("7"), &ws);
	/* Another payload (dlq edit), another config (reload), another id
	 * in the same slot: all misses, and the entry stays. */
	assert_int_equal(rt_parsed_take(&e, 7, PAY("8"), &ws, &r), 0);
	assert_int_equal(rt_parsed_take(&e, 7, PAY("7"), &ws2, &r), 0);
	assert_int_equal(rt_parsed_take(&e, 7 + RT_PARSED, PAY("7"),
	    &ws, &r), 0);
	assert_int_equal(rt_parsed_take(&e, 7, NULL, &ws, &r), 0);
	/* A later id in the same slot replaces it. */
	keep(&e, 7 + RT_PARSED, PAY("9"), &ws);
	assert_int_equal(rt_parsed_take(&e, 7, PAY("7"), &ws, &r), 0);
	assert_int_equal(rt_parsed_take(&e, 7 + RT_PARSED, PAY("9"),
	    &ws, &r), 1);
	assert_string_equal(r.call_id, "c-9");
	record_free(&r);
	/* A flush (reload) forgets everything. */
	keep(&e, 3, PAY("3"), &ws);
	rt_parsed_flush(&e);
	assert_int_equal(e.parsed_bytes, 0);
	assert_int_equal(rt_parsed_take(&e, 3, PAY("3"), &ws, &r), 0);
	free(e.parsed);
}

static void
byte_cap(void **state)
{
	struct rt	 e;
	struct record	 r;
	size_t		 n = 0;
	int64_t		 id;

	(void)state;
	memset(&e, 0, sizeof(e));
	/* Pretend the cache is nearly full: the next payload is not kept. */
	keep(&e, 1, PAY("1"), &ws);
	e.parsed_bytes += RT_PARSED_BYTES;
	keep(&e, 2, PAY("2"), &ws);
	assert_int_equal(rt_parsed_take(&e, 2, PAY("2"), &ws, &r), 0);
	e.parsed_bytes -= RT_PARSED_BYTES;
	for (id = 0; id < RT_PARSED; id++)
		if (e.parsed[id].payload != NULL)
			n++;
	assert_int_equal(n, 1);
	rt_parsed_flush(&e);
	assert_int_equal(e.parsed_bytes, 0);
	free(e.parsed);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(hit_once),
		cmocka_unit_test(misses),
		cmocka_unit_test(byte_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
