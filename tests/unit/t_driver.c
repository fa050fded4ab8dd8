/*
 * t_driver: steps decide, the driver does (journal.h, job.c job_do),
 * without a network.  A claimed record on a new database, in a
 * workspace whose group transaction is open (so a queued request is held
 * in rt->held until the group commits, and never leaves; fix_rt.h):
 *
 *   decision_done_once  job_start runs the steps up to the contact
 *                       search; the step's decision (a request) is
 *                       carried out once: one request held, the slot
 *                       empty again, the request as the step asked
 *   second_caught       two decisions in one entry: the second is said
 *                       (log_warnx) and dropped (its body freed), the
 *                       first stands, and taking it empties the slot
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "conf.h"
#include "job.h"
#include "fix_rt.h"
#include "journal.h"
#include "outbox.h"

#define PAYLOAD	"{\"type\":\"call\",\"call_id\":\"c-1\",\"caller\":" \
		"{\"phone\":\"+1 555 123 4567\"},\"summary\":\"s\"}"

struct fix {
	struct fix_rt	 fr;		/* the runtime (fix_rt.h) */
	struct job	*j;
};

static int
fix_setup(void **state)
{
	struct fix	*f;
	struct rt	*rt;
	struct ob_rec	*a;
	struct job_link	*l;
	enum ob_enq	 res;
	char		 err[512];
	size_t		 n;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	if (fix_rt_open(&f->fr, "t_driver", NULL) == -1)
		return -1;
	rt = f->fr.rt;
	if (outbox_enqueue(rt_db(rt), ws_name(f->fr.ws), "c-1", PAYLOAD, &res,
	    err, sizeof(err)) == -1)
		return -1;
	outbox_set_lane(rt_db(rt), 1, "p:+15551234567");
	if (outbox_claim(rt_db(rt), ws_name(f->fr.ws), rt_owner(rt),
	    clock_wall_s(), 120, 10, &a, &n) == -1 || n != 1)
		return -1;
	l = job_new(rt, f->fr.ws, &a[0]);
	ob_rec_free_array(a, n);
	if (l == NULL)
		return -1;
	rt_job_started(rt, l);
	f->j = job_of(l);
	/* The group is open: a request queued is held, never sent. */
	if (rt_tx_open(rt) == -1)
		return -1;
	*state = f;
	return 0;
}

static int
fix_teardown(void **state)
{
	struct fix	*f = *state;
	int		 rc;

	if (!f->j->link.held)	/* fix_rt_close gives back the held */
		job_release(f->j, "shutdown", "test over");
	rc = fix_rt_close(&f->fr);
	free(f);
	return rc;
}

static void
decision_done_once(void **state)
{
	struct fix	*f = *state;
	struct job_link	*l;
	int		 n = 0;

	job_start(f->j);
	TAILQ_FOREACH(l, &f->fr.rt->held, q) {
		assert_ptr_equal(l, &f->j->link);
		n++;
	}
	assert_int_equal(n, 1);
	assert_true(f->j->link.held);
	assert_int_equal(f->j->jd.what, JD_NONE);
	assert_non_null(f->j->link.req);
	assert_string_equal(f->j->link.req->method, "POST");
	assert_string_equal(f->j->path, "/contacts/search");
	assert_string_equal(f->j->step, "contact");
	assert_non_null(f->j->body_text);
	assert_non_null(strstr(f->j->body_text, "\"query\""));
}

/* Run fn with stderr into a file; what it wrote, in buf. */
static void
capture(struct job *j, void (*fn)(struct job *), char *buf, size_t sz)
{
	char	 path[] = "/tmp/t_driver.err.XXXXXX";
	int	 fd, saved;
	FILE	*fp;
	size_t	 n;

	assert_true((fd = mkstemp(path)) != -1);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	fn(j);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_non_null(fp = fopen(path, "r"));
	n = fread(buf, 1, sz - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	unlink(path);
}

static void
no_handler(struct job *j, struct http_req *req, enum verdict v, json_t *o)
{
	(void)j;
	(void)req;
	(void)v;
	(void)o;
}

static void
decide_twice(struct job *j)
{
	job_request(j, "POST", "/contacts", json_pack("{s:s}", "role",
	    "lead"), "contact", no_handler);
	job_next(j);
	job_request(j, "GET", "/contacts/x", json_object(), "contact",
	    no_handler);
	job_retry(j, V_TRANSIENT, NULL, "second");
}

static void
second_caught(void **state)
{
	struct fix		*f = *state;
	struct job_decision	 d;
	char			 err[4096];

	snprintf(f->j->step, sizeof(f->j->step), "contact");
	capture(f->j, decide_twice, err, sizeof(err));
	assert_non_null(strstr(err, "a second decision (next after request) "
	    "in one step; the first stands"));
	assert_non_null(strstr(err, "(request after request)"));
	assert_non_null(strstr(err, "(retry after request)"));
	assert_int_equal(f->j->jd.what, JD_REQUEST);
	job_decision_take(f->j, &d);
	assert_int_equal(f->j->jd.what, JD_NONE);
	assert_int_equal(d.what, JD_REQUEST);
	assert_string_equal(d.method, "POST");
	assert_string_equal(d.path, "/contacts");
	assert_null(d.msg);
	assert_non_null(d.body);
	job_decision_clear(&d);
	assert_null(d.body);
	/* Taken: the next entry decides anew. */
	job_next(f->j);
	assert_int_equal(f->j->jd.what, JD_NEXT);
	job_decision_take(f->j, &d);
	job_decision_clear(&d);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(decision_done_once, fix_setup,
		    fix_teardown),
		cmocka_unit_test_setup_teardown(second_caught, fix_setup,
		    fix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
