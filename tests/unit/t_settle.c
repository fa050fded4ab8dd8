/*
 * t_settle: when a write in doubt is looked for (retry_next_look_ms, the
 * scale job_settled follows): the first look at 2 s, then a geometric
 * scale to the window's end, at most the given number of looks, the last
 * exactly at the window's end (only that one may conclude "not there").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "retry.h"

/* Walk the scale as job_settled and job_absent do: look when due, a
 * negative look asks for the next one some ms after the look. */
static int
walk(int64_t first, int64_t need, int looks, int64_t answer_ms,
    int64_t *out, int nout)
{
	int64_t	 have = -1, t;
	int	 n = 0;

	for (;;) {
		t = retry_next_look_ms(first, need, have, looks);
		assert_true(t > have);		/* always later */
		assert_true(t <= need);		/* never past the window */
		if (n < nout)
			out[n] = t;
		n++;
		if (t >= need)
			return n;
		have = t + answer_ms;		/* the look's answer came */
	}
}

static void
t_production_window(void **state)
{
	int64_t	 v[16];
	int	 n, i;

	(void)state;
	/* 30 + 5 + 300 s, 8 looks at most, answers in 50 ms. */
	n = walk(2000, 335000, 8, 50, v, 16);
	assert_int_equal(n, 8);
	assert_int_equal(v[0], 2000);
	assert_int_equal(v[n - 1], 335000);
	for (i = 1; i < n; i++) {
		assert_true(v[i] > v[i - 1]);
		/* geometric: each gap grows */
		if (i > 1)
			assert_true(v[i] - v[i - 1] > v[i - 1] - v[i - 2]);
	}
	/* The second look within 5 s: a lag of a few seconds is found
	 * early, not after minutes. */
	assert_true(v[1] <= 5000);
}

static void
t_short_window(void **state)
{
	int64_t	 v[16];
	int	 n;

	(void)state;
	/* A read's window with the defaults (30 + 5 s). */
	n = walk(2000, 35000, 8, 50, v, 16);
	assert_true(n <= 8);
	assert_int_equal(v[0], 2000);
	assert_int_equal(v[n - 1], 35000);
	/* A window shorter than the first look: one look, at its end. */
	assert_int_equal(retry_next_look_ms(2000, 1500, -1, 8), 1500);
	/* Fewer than 2 looks: only the final one. */
	assert_int_equal(retry_next_look_ms(2000, 35000, -1, 1), 35000);
}

static void
t_slow_answers(void **state)
{
	int64_t	 v[16];
	int	 n;

	(void)state;
	/* Looks whose answers take 20 s skip points, never add any. */
	n = walk(2000, 335000, 8, 20000, v, 16);
	assert_true(n <= 8);
	assert_int_equal(v[n - 1], 335000);
	/* A restart with 100 s already waited: the next point after it. */
	assert_true(retry_next_look_ms(2000, 335000, 100000, 8) > 100000);
	/* Past every point: the window's end. */
	assert_int_equal(retry_next_look_ms(2000, 335000, 334000, 8), 335000);
	assert_int_equal(retry_next_look_ms(2000, 335000, 400000, 8), 335000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_production_window),
		cmocka_unit_test(t_short_window),
		cmocka_unit_test(t_slow_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
