/*
 * t_rt_stall: the database stall, the runtime's (rt.h: rt_stall_park),
 * without a database or a job: the parked are bare links (their index
 * names the job), and hooks.unstall plays the job (it may park
 * again, as job.c's does when the write fails again).  One round runs
 * per event_base_loop(EVLOOP_ONCE).
 *
 *   round_order      parked A, B, C; round 1: A fails again: it goes back
 *                    to the head, B and C are not tried, the database
 *                    stays stalled, one failed round; round 2: A, B, C in
 *                    order, the stall ends (stall_n 0, db_stalled false)
 *                    and the loop is kicked to claim again
 *   drop             a parked link dropped (its job ended) is not retried
 *   backoff          the timer waits 100, 100, 200, 400, 800, 800 ms
 *                    before rounds 1 to 6 when rounds 1 to 5 fail: a job
 *                    parked again in a round arms the timer before the
 *                    round is counted failed (as job.c's timer did before
 *                    it moved here), so the doubling starts one round late
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <cmocka.h>

/* White-box: a unit test of the runtime's own state (rt_impl.h). */
#define CALLSYNC_RUNTIME_PRIVATE
#include "rt_impl.h"

#define NJ	3

struct fix {
	struct event_base *base;
	struct event	*kick;
	int		 kicks;
	struct rt	 rt;
	struct job_link	 l[NJ];
	int		 fail[NJ];	/* rounds in which job i fails again */
	int		 order[16];	/* jobs retried, in order */
	int		 n;
};

static struct fix	*cur;		/* the hook's fixture */

static void
fake_unstall(struct job_link *l)
{
	int	 i = (int)(l - cur->l);

	cur->order[cur->n++] = i;
	if (cur->fail[i] > 0) {
		cur->fail[i]--;
		rt_stall_park(&cur->rt, &cur->l[i]);
	}
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	((struct fix *)arg)->kicks++;
}

static int
fix_setup(void **state)
{
	struct fix	*f;
	struct rt_hooks	 h;

	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->base = event_base_new()) == NULL)
		return -1;
	rt_init(&f->rt, false);
	memset(&h, 0, sizeof(h));
	h.unstall = fake_unstall;
	rt_set_hooks(&f->rt, &h);
	if (rt_events(&f->rt, f->base, NULL) == -1 ||
	    (f->kick = evtimer_new(f->base, kick_cb, f)) == NULL)
		return -1;
	rt_set_kick(&f->rt, f->kick);
	cur = f;
	*state = f;
	return 0;
}

static int
fix_teardown(void **state)
{
	struct fix	*f = *state;

	rt_free(&f->rt);
	event_free(f->kick);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Run the loop until one round of the stall timer ran. */
static void
round_once(struct fix *f)
{
	int	 n = f->n;

	while (f->n == n && evtimer_pending(f->rt.stall_ev, NULL))
		event_base_loop(f->base, EVLOOP_ONCE);
}

static void
round_order(void **state)
{
	struct fix	*f = *state;
	int		 i;

	for (i = 0; i < NJ; i++)
		rt_stall_park(&f->rt, &f->l[i]);
	assert_true(f->rt.db_stalled);
	f->fail[0] = 1;
	round_once(f);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->order[0], 0);
	assert_ptr_equal(TAILQ_FIRST(&f->rt.stalled), &f->l[0]);
	assert_true(f->rt.db_stalled);
	assert_int_equal(f->rt.stall_n, 1);
	assert_int_equal(f->kicks, 0);
	round_once(f);
	assert_int_equal(f->n, 4);
	for (i = 0; i < NJ; i++)
		assert_int_equal(f->order[1 + i], i);
	assert_true(TAILQ_EMPTY(&f->rt.stalled));
	assert_false(f->rt.db_stalled);
	assert_int_equal(f->rt.stall_n, 0);
	assert_false(evtimer_pending(f->rt.stall_ev, NULL));
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->kicks, 1);
}

static void
drop(void **state)
{
	struct fix	*f = *state;

	rt_stall_park(&f->rt, &f->l[0]);
	rt_stall_park(&f->rt, &f->l[1]);
	rt_stall_drop(&f->rt, &f->l[0]);
	round_once(f);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->order[0], 1);
	assert_false(f->rt.db_stalled);
}

static void
backoff(void **state)
{
	static const long	 want[] = { 100, 100, 200, 400, 800, 800 };
	struct fix		*f = *state;
	struct timeval		 tv, now;
	size_t			 k;
	long			 ms;

	f->fail[0] = 5;
	rt_stall_park(&f->rt, &f->l[0]);
	for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		assert_int_equal(f->rt.stall_n, (int)k);
		assert_true(evtimer_pending(f->rt.stall_ev, &tv));
		gettimeofday(&now, NULL);
		ms = (long)((tv.tv_sec - now.tv_sec) * 1000 +
		    (tv.tv_usec - now.tv_usec) / 1000);
		/* armed a few ms before now; libevent converts its expiry from
		 * the loop's cached clock, a few ms off */
		assert_true(ms <= want[k] + 30 && ms > want[k] / 2);
		round_once(f);
	}
	assert_int_equal(f->n, 6);
	assert_false(f->rt.db_stalled);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_order, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(drop, fix_setup, fix_teardown),
		cmocka_unit_test_setup_teardown(backoff, fix_setup,
		    fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
