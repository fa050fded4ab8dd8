/*
 * t_driver: steps decide, the driver does (journal.h, job.c job_do),
 * without a network.  A claimed record on a new database, in a
 * workspace whose group transaction is open (so a queued request is held
 * in e->held until the group commits, and never leaves):
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
/* White-box: the fixture builds the runtime by hand (its fields). */
#define CALLSYNC_RUNTIME_PRIVATE
#include "rt.h"
#include "wsrt_impl.h"
#include "job.h"
#include "journal.h"
#include "outbox.h"

#define PAYLOAD	"{\"type\":\"call\",\"call_id\":\"c-1\",\"caller\":" \
		"{\"phone\":\"+1 555 123 4567\"},\"summary\":\"s\"}"

struct fix {
	char		 dir[64];
	char		 path[128];
	struct conf	*c;
	struct rt	 e;
	struct wsrt	 ws;
	struct job	*j;
};

static int
fix_setup(void **state)
{
	struct fix	*f;
	struct ob_rec	*a;
	struct job_link	*l;
	enum ob_enq	 res;
	char		 err[512];
	const char	*data = getenv("CALLSYNC_TESTDATA");
	char		 conf[256];
	size_t		 n;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/t_driver.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/outbox.db", f->dir);
	snprintf(conf, sizeof(conf), "%s/one.conf", data != NULL ? data :
	    "tests/data/conf");
	if ((f->c = conf_load(conf, false, err, sizeof(err))) == NULL) {
		print_error("%s\n", err);
		return -1;
	}
	if (db_open(&f->e.db, f->path, DB_OPEN_CREATE, err, sizeof(err)) == -1)
		return -1;
	snprintf(f->e.owner, sizeof(f->e.owner), "t_driver:1:x");
	TAILQ_INIT(&f->e.all);
	TAILQ_INIT(&f->e.stalled);
	TAILQ_INIT(&f->e.txjobs);
	TAILQ_INIT(&f->e.held);
	f->e.tx_open = true;		/* requests are held, never sent */
	f->ws.rt = &f->e;
	f->ws.cw = &f->c->ws[0];
	snprintf(f->ws.name, sizeof(f->ws.name), "%s", f->c->ws[0].name);
	f->ws.state = WS_READY;
	TAILQ_INIT(&f->ws.sendq);
	if (outbox_enqueue(&f->e.db, f->ws.name, "c-1", PAYLOAD, &res, err,
	    sizeof(err)) == -1)
		return -1;
	outbox_set_lane(&f->e.db, 1, "p:+15551234567");
	if (outbox_claim(&f->e.db, f->ws.name, f->e.owner, clock_wall_s(),
	    120, 10, &a, &n) == -1 || n != 1)
		return -1;
	l = job_new(&f->e, &f->ws, &a[0]);
	ob_rec_free_array(a, n);
	if (l == NULL)
		return -1;
	f->j = job_of(l);
	*state = f;
	return 0;
}

static int
fix_teardown(void **state)
{
	struct fix	*f = *state;
	char		 cmd[128];

	if (f->j->link.held)
		TAILQ_REMOVE(&f->e.held, &f->j->link, q);
	if (f->j->link.in_tx)
		TAILQ_REMOVE(&f->e.txjobs, &f->j->link, tx);
	job_free(f->j);
	db_close(&f->e.db);
	conf_free(f->c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
decision_done_once(void **state)
{
	struct fix	*f = *state;
	struct job_link	*l;
	int		 n = 0;

	job_start(f->j);
	TAILQ_FOREACH(l, &f->e.held, q) {
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
