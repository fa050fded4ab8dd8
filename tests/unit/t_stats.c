/*
 * t_stats: the /metrics counters.  Endpoint templates never carry an id
 * or a query string, the label tables stay bounded ("other" past the
 * last slot), status classes and histogram buckets land where
 * Prometheus expects them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static void
test_endpoint(void **state)
{
	char	 b[48];
	static const struct {
		const char	*url, *want;
	} c[] = {
		{ "http://127.0.0.1:9/contacts/search", "/contacts/search" },
		{ "https://api.intercom.io/conversations/123456/parts",
		  "/conversations/{id}/parts" },
		{ "https://api.intercom.io/contacts/65ab3f0c9e/tags?x=+15551234",
		  "/contacts/{id}/tags" },
		{ "https://api.intercom.io/me", "/me" },
		{ "https://api.intercom.io/", "/" },
		{ "https://api.intercom.io", "/" },
		{ "http://h/a/b/c/d/e/f", "/{id}/{id}/{id}/{id}" },
		{ "http://h/conversations/search#frag", "/conversations/search" },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		stats_endpoint(c[i].url, b, sizeof(b));
		assert_string_equal(b, c[i].want);
	}
	stats_endpoint("http://h/contacts/1/tags", b, 10);	/* truncation */
	assert_true(strlen(b) < 10);
}

static void
test_classes(void **state)
{
	(void)state;
	assert_string_equal(stats_class_names[stats_status_class(204)], "2xx");
	assert_string_equal(stats_class_names[stats_status_class(429)], "4xx");
	assert_string_equal(stats_class_names[stats_status_class(503)], "5xx");
	assert_string_equal(stats_class_names[stats_status_class(0)], "error");
	assert_string_equal(stats_class_names[stats_status_class(999)],
	    "error");
}

static void
test_request_table(void **state)
{
	static struct stats_ws	 s;
	char			 url[64], m[16];
	int			 i;

	(void)state;
	stats_request(&s, "POST", "http://h/conversations", 200, 0.02);
	stats_request(&s, "POST", "http://h/conversations", 429, 0.02);
	stats_request(&s, "GET", "http://h/conversations/9", 0, 30);
	assert_string_equal(s.req[0].path, "/conversations");
	assert_int_equal(s.req[0].n[1], 1);
	assert_int_equal(s.req[0].n[3], 1);
	assert_int_equal(s.throttled, 1);
	assert_string_equal(s.req[1].path, "/conversations/{id}");
	assert_int_equal(s.req[1].n[STATS_NSC - 1], 1);
	assert_int_equal(s.req_lat.count, 3);
	assert_int_equal(s.req_lat.le[STATS_NB - 1], 1);	/* 30 s */
	/* Many distinct templates: bounded, the last slot is "other". */
	for (i = 0; i < 100; i++) {
		snprintf(url, sizeof(url), "http://h/%s/x",
		    i % 2 ? "tags" : "teams");
		stats_request(&s, i % 3 ? "PUT" : "DELETE", url, 200, 0.1);
	}
	for (i = 0; i < 40; i++) {
		snprintf(m, sizeof(m), "M%d", i);
		stats_request(&s, m, "http://h/me", 200, 0.1);
	}
	assert_string_equal(s.req[STATS_NEP - 1].path, "other");
	assert_string_equal(s.req[STATS_NEP - 1].method, "other");
}

static void
test_labels(void **state)
{
	static struct stats_lab	 t[STATS_NLAB];
	char			 n[32];
	int			 i;

	(void)state;
	stats_label(t, "max_attempts");
	stats_label(t, "max_attempts");
	stats_label(t, NULL);
	assert_string_equal(t[0].name, "max_attempts");
	assert_int_equal(t[0].n, 2);
	assert_string_equal(t[1].name, "unknown");
	for (i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "reason_%d", i);
		stats_label(t, n);
	}
	assert_string_equal(t[STATS_NLAB - 1].name, "other");
	assert_int_equal(t[STATS_NLAB - 1].n, 100 - (STATS_NLAB - 3));
}

static void
test_histogram(void **state)
{
	static struct stats_hist	 h;

	(void)state;
	stats_observe(&h, stats_e2e_bounds, 0.2);
	stats_observe(&h, stats_e2e_bounds, 1);	/* le is inclusive */
	stats_observe(&h, stats_e2e_bounds, 1e9);	/* +Inf only */
	stats_observe(&h, stats_e2e_bounds, -5);	/* clock skew: 0 */
	assert_int_equal(h.le[0], 2);
	assert_int_equal(h.le[1], 1);
	assert_int_equal(h.count, 4);
	assert_true(h.sum > 1e9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_request_table),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_histogram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
