/*
 * t_fdlimit: sizing file descriptors (worker/core/fdlimit.c, issue 20 item
 * 6).  The plan: no cap when the limit covers the configuration; when
 * short, requests in all plus idle connections fit in what is left, each
 * workspace gets at least one, the line gives the numbers.  Raising the
 * soft limit to the hard one, counting what is open, EMFILE/ENFILE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include "fdlimit.h"

static struct fdplan
plan(long limit, int open, int reserve, int nws, long inflight)
{
	struct fdplan	 p;

	memset(&p, 0, sizeof(p));
	p.limit = limit;
	p.open = open;
	p.reserve = reserve;
	p.nws = nws;
	p.inflight = inflight;
	fdlimit_plan(&p);
	return p;
}

static void
t_plan(void **state)
{
	struct fdplan	 p;

	(void)state;
	/* enough: no cap */
	p = plan(524288, 15, 13, 40, 40 * 256);
	assert_int_equal(p.needed, 15 + 13 + 40 * 256 + 40);
	assert_int_equal(p.transfers, 0);
	assert_int_equal(p.ws_cap, 0);
	p = plan(p.needed, 15, 13, 40, 40 * 256);	/* exactly */
	assert_int_equal(p.transfers, 0);
	p = plan(-1, 15, 13, 40, 40 * 256);		/* unlimited */
	assert_int_equal(p.transfers, 0);
	/* issue 20: 40 workspaces under ulimit -n 64 */
	p = plan(64, 15, 13, 40, 40 * 256);
	assert_int_equal(p.transfers, 24);
	assert_int_equal(p.idle, 12);
	assert_true(p.open + p.reserve + p.transfers + p.idle <= p.limit);
	assert_int_equal(p.ws_cap, 1);
	/* one workspace, 1024: the cap follows the room */
	p = plan(1024, 15, 13, 1, 256);
	assert_int_equal(p.transfers, 0);
	p = plan(256, 15, 13, 1, 256);
	assert_int_equal(p.transfers, (256 - 28) * 2 / 3);
	assert_int_equal(p.ws_cap, p.transfers - 1);
	assert_true(p.open + p.reserve + p.transfers + p.idle <= p.limit);
	/* 4 workspaces sharing 300 */
	p = plan(300, 20, 21, 4, 4 * 256);
	assert_int_equal(p.transfers, 259 * 2 / 3);
	assert_int_equal(p.ws_cap, 259 * 2 / 3 / 4 - 1);
	/* below what the worker holds itself: still one request */
	p = plan(24, 15, 13, 40, 40 * 256);
	assert_int_equal(p.transfers, 1);
	assert_int_equal(p.idle, 1);
	assert_int_equal(p.ws_cap, 1);
	/* no workspace */
	p = plan(20, 15, 13, 0, 0);
	assert_int_equal(p.ws_cap, 1);
}

static void
t_describe(void **state)
{
	struct fdplan	 p;
	char		 line[512];

	(void)state;
	p = plan(64, 15, 13, 40, 40 * 256);
	fdlimit_describe(&p, line, sizeof(line));
	assert_string_equal(line, "open-file limit 64 is short of the 10308 "
	    "this configuration needs: in-flight cap 1 per workspace, 24 "
	    "requests in all, 12 idle connections (40 workspaces, "
	    "max_inflight 10240 in all + 1 each for checks, 15 descriptors "
	    "open at start, 13 kept for listeners, logs and a margin); raise "
	    "LimitNOFILE= or ulimit -n, or lower max_inflight");
	p = plan(24, 15, 13, 1, 8);
	fdlimit_describe(&p, line, sizeof(line));
	assert_non_null(strstr(line, "1 request in all, 1 idle connection "
	    "(1 workspace,"));
}

static void
t_errno(void **state)
{
	(void)state;
	assert_true(fdlimit_errno(EMFILE));
	assert_true(fdlimit_errno(ENFILE));
	assert_false(fdlimit_errno(ECONNREFUSED));
	assert_false(fdlimit_errno(0));
}

static void
t_raise_and_count(void **state)
{
	struct rlimit	 rl, low;
	long		 was, now;
	int		 n, fd;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= 64)
		skip();
	low = rl;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(fdlimit_soft(), 64);
	assert_int_equal(fdlimit_raise(&was, &now), 1);
	assert_int_equal(was, 64);
	assert_true(now > 64 || now == -1);
	assert_int_equal(fdlimit_soft(), now);
	/* already at the hard limit */
	assert_int_equal(fdlimit_raise(&was, &now), 0);
	assert_int_equal(was, now);

	n = fdlimit_count_open();
	assert_true(n >= 3);
	assert_true((fd = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(fdlimit_count_open(), n + 1);
	close(fd);
	assert_int_equal(fdlimit_count_open(), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_plan),
		cmocka_unit_test(t_describe),
		cmocka_unit_test(t_errno),
		cmocka_unit_test(t_raise_and_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
