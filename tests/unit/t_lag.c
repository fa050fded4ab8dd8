/*
 * t_lag: the search lag learned from Intercom (lag.c): percentiles over
 * samples with censored ones, the first look and the wait bounds
 * (floors, caps, too few samples), the sampler's schedule and share,
 * and the store (samples kept, the newest LAG_KEEP, status's JSON).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lag.h"

#define TDB_NAME	"t_lag"
#include "tdb.h"

/* n samples of ms each, k of them (the last) censored. */
static void
fill(struct lag_tail *t, size_t n, int64_t ms, size_t k)
{
	int64_t	 a[LAG_KEEP];
	size_t	 i;

	for (i = 0; i < n; i++)
		a[i] = i >= n - k ? LAG_CENSORED : ms;
	lag_tail_of(a, n, t);
}

static void
t_pct(void **state)
{
	int64_t		 a[1000] = { 0 };
	struct lag_tail	 t;
	size_t		 i;

	(void)state;
	assert_int_equal(lag_pct(a, 0, 0.5), -1);
	/* 1..1000 ms, shuffled: nearest rank. */
	for (i = 0; i < 1000; i++)
		a[i] = (int64_t)((i * 7919) % 1000) + 1;
	lag_tail_of(a, 1000, &t);
	assert_int_equal(t.n, 1000);
	assert_int_equal(t.censored, 0);
	assert_int_equal(t.p50, 500);
	assert_int_equal(t.p99, 990);
	assert_int_equal(t.p999, 999);
	assert_int_equal(t.max, 1000);
	/* Fewer than 1000: p99.9 is the largest. */
	for (i = 0; i < 50; i++)
		a[i] = (int64_t)(i + 1) * 100;
	lag_tail_of(a, 50, &t);
	assert_int_equal(t.p50, 2500);
	assert_int_equal(t.p99, 5000);
	assert_int_equal(t.p999, 5000);
	/* A censored sample sorts last: the tail is censored. */
	a[10] = LAG_CENSORED;
	lag_tail_of(a, 50, &t);
	assert_int_equal(t.censored, 1);
	assert_true(t.p999 == LAG_CENSORED);
	assert_true(t.p50 < LAG_CENSORED);
	/* None. */
	lag_tail_of(a, 0, &t);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.p50, -1);
}

static void
t_first(void **state)
{
	struct lag_tail	 t;

	(void)state;
	/* Too few samples: the default first look. */
	fill(&t, LAG_MIN_N - 1, 1500, 0);
	assert_int_equal(lag_first_ms(&t, 2000), 2000);
	assert_int_equal(lag_first_ms(NULL, 2000), 2000);
	/* Enough: the median... */
	fill(&t, LAG_MIN_N, 1500, 0);
	assert_int_equal(lag_first_ms(&t, 2000), 1500);
	/* ...not before the floor... */
	fill(&t, LAG_MIN_N, 200, 0);
	assert_int_equal(lag_first_ms(&t, 2000), LAG_FIRST_FLOOR_MS);
	/* ...never later than the default. */
	fill(&t, LAG_MIN_N, 30000, 0);
	assert_int_equal(lag_first_ms(&t, 2000), 2000);
	fill(&t, LAG_MIN_N, 200, LAG_MIN_N);	/* all censored */
	assert_int_equal(lag_first_ms(&t, 2000), 2000);
}

static void
t_wait(void **state)
{
	struct lag_tail	 t;
	int64_t		 a[200];
	size_t		 i;

	(void)state;
	/* Too few: search_lag itself. */
	fill(&t, LAG_MIN_N - 1, 1000, 0);
	assert_int_equal(lag_wait_ms(&t, 0, 120000), 120000);
	assert_int_equal(lag_wait_ms(NULL, 0, 120000), 120000);
	/* Enough: twice p99.9. */
	for (i = 0; i < 200; i++)
		a[i] = i < 199 ? 3000 : 9000;
	lag_tail_of(a, 200, &t);
	assert_int_equal(t.p999, 9000);
	assert_int_equal(lag_wait_ms(&t, 0, 120000), 18000);
	/* A sample open for longer than that tail raises it. */
	assert_int_equal(lag_wait_ms(&t, 20000, 120000), 40000);
	assert_int_equal(lag_wait_ms(&t, 5000, 120000), 18000);
	/* The floor. */
	fill(&t, LAG_MIN_N, 1000, 0);
	assert_int_equal(lag_wait_ms(&t, 0, 120000), LAG_WAIT_FLOOR_MS);
	/* The cap: never above search_lag, even below the floor. */
	fill(&t, LAG_MIN_N, 100000, 0);
	assert_int_equal(lag_wait_ms(&t, 0, 120000), 120000);
	fill(&t, LAG_MIN_N, 1000, 0);
	assert_int_equal(lag_wait_ms(&t, 0, 4000), 4000);
	assert_int_equal(lag_wait_ms(&t, 0, 0), 0);
	/* A censored sample in the tail: search_lag. */
	fill(&t, LAG_MIN_N, 1000, 1);
	assert_int_equal(lag_wait_ms(&t, 0, 120000), 120000);
	/* ...but 1 in 1000 censored is beyond p99.9 only when it is the
	 * largest: at 1000 samples p99.9 is the 999th. */
	fill(&t, 1000, 1000, 1);
	assert_int_equal(t.p999, 1000);
	assert_int_equal(lag_wait_ms(&t, 0, 120000), LAG_WAIT_FLOOR_MS);
	fill(&t, 1000, 1000, 2);
	assert_int_equal(lag_wait_ms(&t, 0, 120000), 120000);
}

static void
t_schedule(void **state)
{
	int64_t	 at = 0;
	int	 n = 0;

	(void)state;
	assert_int_equal(lag_next_look_ms(0), LAG_LOOK0_MS);
	assert_int_equal(lag_next_look_ms(500), 1000);
	assert_int_equal(lag_next_look_ms(2000), 2500);
	assert_int_equal(lag_next_look_ms(8000), 10000);
	/* Looks until a 3-s lag shows: few, and within 25 % of it. */
	while (at < 3000) {
		at = lag_next_look_ms(at);
		n++;
	}
	assert_true(n <= 7);
	assert_true(at <= 3000 * 5 / 4);
	/* Up to the give-up of search_lag = 300 s: bounded. */
	for (at = 0, n = 0; at <= lag_giveup_ms(300); n++)
		at = lag_next_look_ms(at);
	assert_true(n < 40);
	assert_int_equal(lag_giveup_ms(300), 600000);
	assert_int_equal(lag_giveup_ms(0), LAG_GIVEUP_MIN_MS);
	/* The share of a window. */
	assert_int_equal(lag_room(1666, 2), 33);
	assert_int_equal(lag_room(100, 5), 5);
	assert_int_equal(lag_room(10, 2), 1);
	assert_int_equal(lag_room(0, 2), LAG_UNKNOWN_ROOM);
	assert_int_equal(lag_room(1666, 0), 0);
}

static void
t_store(void **state)
{
	struct db	*d = *state;
	int64_t		*ms;
	size_t		 n;
	json_t		*o;
	int		 i;

	assert_non_null(ms = calloc(LAG_KEEP, sizeof(*ms)));
	assert_int_equal(lag_store_load(d, "acme", LAG_CONTACT, ms, &n), 0);
	assert_int_equal(n, 0);
	for (i = 0; i < LAG_KEEP + 20; i++)
		assert_int_equal(lag_store_add(d, "acme", LAG_CONTACT, "c1",
		    i < 20 ? 99000 : 1000 + i, 500, 3), 0);
	assert_int_equal(lag_store_add(d, "acme", LAG_CONV, "v1", LAG_CENSORED,
	    600000, 30), 0);
	assert_int_equal(lag_store_add(d, "other", LAG_CONTACT, "c2", 5, 0, 1),
	    0);
	/* The newest LAG_KEEP: the 20 first (99 s) are gone. */
	assert_int_equal(lag_store_load(d, "acme", LAG_CONTACT, ms, &n), 0);
	assert_int_equal(n, LAG_KEEP);
	for (i = 0; i < (int)n; i++)
		assert_true(ms[i] < 99000);
	assert_int_equal(lag_store_load(d, "acme", LAG_CONV, ms, &n), 0);
	assert_int_equal(n, 1);
	assert_true(ms[0] == LAG_CENSORED);
	o = lag_store_json(d, "acme", 120, 2);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o,
	    "contact"), "n")), LAG_KEEP);
	assert_true(json_is_true(json_object_get(json_object_get(o,
	    "contact"), "in_use")));
	/* p99.9 of 1020..2019 is 2018: the wait is 4.036 s, floored. */
	assert_true(json_real_value(json_object_get(json_object_get(o,
	    "contact"), "wait_s")) == LAG_WAIT_FLOOR_MS / 1000.0);
	assert_true(json_is_null(json_object_get(json_object_get(o,
	    "conversation"), "p50_s")));
	assert_false(json_is_true(json_object_get(json_object_get(o,
	    "conversation"), "in_use")));
	assert_true(json_real_value(json_object_get(json_object_get(o,
	    "conversation"), "wait_s")) == 120.0);
	json_decref(o);
	free(ms);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_pct),
		cmocka_unit_test(t_first),
		cmocka_unit_test(t_wait),
		cmocka_unit_test(t_schedule),
		TDB_TEST(t_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
