/*
 * t_retry: error classes, backoff bounds, limiter pacing, and the pure
 * Intercom answer helpers (409 ids, canonical links, contact winner,
 * markers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "intercom.h"
#include "retry.h"

static void
t_classify(void **state)
{
	(void)state;
	assert_int_equal(retry_classify(CURLE_OK, 200), V_OK);
	assert_int_equal(retry_classify(CURLE_OK, 201), V_OK);
	assert_int_equal(retry_classify(CURLE_OK, 429), V_THROTTLED);
	assert_int_equal(retry_classify(CURLE_OK, 401), V_AUTH);
	assert_int_equal(retry_classify(CURLE_OK, 403), V_AUTH);
	assert_int_equal(retry_classify(CURLE_OK, 404), V_GONE);
	assert_int_equal(retry_classify(CURLE_OK, 410), V_GONE);
	assert_int_equal(retry_classify(CURLE_OK, 409), V_CONFLICT);
	assert_int_equal(retry_classify(CURLE_OK, 400), V_PERMANENT);
	assert_int_equal(retry_classify(CURLE_OK, 422), V_PERMANENT);
	assert_int_equal(retry_classify(CURLE_OK, 500), V_TRANSIENT);
	assert_int_equal(retry_classify(CURLE_OK, 503), V_TRANSIENT);
	assert_int_equal(retry_classify(CURLE_OK, 408), V_TRANSIENT);
	assert_int_equal(retry_classify(CURLE_COULDNT_CONNECT, 0), V_OUTAGE);
	assert_int_equal(retry_classify(CURLE_COULDNT_RESOLVE_HOST, 0), V_OUTAGE);
	assert_int_equal(retry_classify(CURLE_SSL_CONNECT_ERROR, 0), V_OUTAGE);
	/* A certificate the CA does not vouch for, or a ca_file that cannot
	 * be read: no request left, nothing to reconcile, nothing dead. */
	assert_int_equal(retry_classify(CURLE_PEER_FAILED_VERIFICATION, 0),
	    V_OUTAGE);
	assert_int_equal(retry_classify(CURLE_SSL_CACERT_BADFILE, 0), V_OUTAGE);
	assert_int_equal(retry_classify(CURLE_OPERATION_TIMEDOUT, 0), V_NETFAIL);
	assert_int_equal(retry_classify(CURLE_GOT_NOTHING, 0), V_NETFAIL);
	assert_int_equal(retry_classify(CURLE_RECV_ERROR, 0), V_NETFAIL);
	assert_true(retry_uncertain(V_NETFAIL));
	assert_true(retry_uncertain(V_TRANSIENT));
	assert_false(retry_uncertain(V_OUTAGE));
	assert_false(retry_uncertain(V_THROTTLED));
	assert_string_equal(retry_verdict_name(V_THROTTLED), "rate_limited");
}

/* Who answered: Intercom, or the network in its place (issue 20 item 2). */
static void
t_foreign(void **state)
{
	char		 why[256];
	const char	*json = "application/json; charset=utf-8";
	const char	*page = "<!DOCTYPE html><html>login</html>";
	const char	*obj = "{\"type\":\"contact\",\"id\":\"x\"}";
	const char	*me;

	(void)state;
	/* Intercom's answers, whatever the status: not the network's. */
	assert_false(retry_foreign(CURLE_OK, 200, 0, json, "", obj,
	    strlen(obj), why, sizeof(why)));
	assert_false(retry_foreign(CURLE_OK, 404, 0, "text/html", "", page,
	    strlen(page), why, sizeof(why)));	/* only 2xx are judged */
	assert_false(retry_foreign(CURLE_OK, 502, 0, "text/html", "", page,
	    strlen(page), why, sizeof(why)));	/* a gateway: transient */
	assert_false(retry_foreign(CURLE_OK, 204, 0, "", "", "", 0, why,
	    sizeof(why)));
	/* Truncated JSON stays a transport fault (malformed, in doubt). */
	assert_false(retry_foreign(CURLE_OK, 200, 0, json, "", "{\"type\":\"c",
	    10, why, sizeof(why)));
	assert_false(retry_foreign(CURLE_OK, 200, 0, json, "", "{\"id\":\"x",
	    8, why, sizeof(why)));
	assert_false(retry_foreign(CURLE_OPERATION_TIMEDOUT, 0, 0, "", "",
	    NULL, 0, why, sizeof(why)));
	/* A redirect to another host names it, never its credentials. */
	assert_true(retry_foreign(CURLE_OK, 302, 0, "text/html",
	    "http://u:pw@portal.example:8080/login?x=1", page, strlen(page),
	    why, sizeof(why)));
	assert_string_equal(why, "the network answered instead of Intercom "
	    "(HTTP 302 to host portal.example:8080: captive portal or "
	    "proxy?)");
	assert_true(retry_foreign(CURLE_OK, 301, 0, "", "/login", NULL, 0,
	    why, sizeof(why)));
	assert_non_null(strstr(why, "HTTP 301 to a page on the same host"));
	assert_true(retry_foreign(CURLE_OK, 307, 0, "", "", NULL, 0, why,
	    sizeof(why)));
	/* 2xx that is not Intercom's JSON. */
	assert_true(retry_foreign(CURLE_OK, 200, 0, "text/html; charset=utf-8",
	    "", page, strlen(page), why, sizeof(why)));
	assert_non_null(strstr(why, "(HTTP 200 text/html: captive portal"));
	assert_true(retry_foreign(CURLE_OK, 200, 0, "", "", page,
	    strlen(page), why, sizeof(why)));
	assert_true(retry_foreign(CURLE_OK, 200, 0, json, "", "{\"ok\":1}",
	    8, why, sizeof(why)));
	assert_true(retry_foreign(CURLE_OK, 200, 0, json, "", "[1]", 3, why,
	    sizeof(why)));
	assert_false(retry_foreign(CURLE_OK, 200, 0,
	    "application/problem+json", "", obj, strlen(obj), why,
	    sizeof(why)));
	/* A proxy: 407 on the answer, or a tunnel refused. */
	assert_true(retry_foreign(CURLE_OK, 407, 0, "text/html", "", page,
	    strlen(page), why, sizeof(why)));
	assert_true(retry_foreign(CURLE_RECV_ERROR, 0, 407, "", "", NULL, 0,
	    why, sizeof(why)));
	assert_non_null(strstr(why, "(HTTP 407 to CONNECT: a proxy asks"));
	assert_true(retry_foreign(CURLE_RECV_ERROR, 0, 302, "text/html",
	    "https://login.hotel.example/?u=\"x\"", NULL, 0, why, sizeof(why)));
	assert_string_equal(why, "the network answered instead of Intercom "
	    "(HTTP 302 to CONNECT to host login.hotel.example: captive portal "
	    "or proxy?)");
	assert_true(retry_foreign(CURLE_RECV_ERROR, 0, 403, "", "", NULL, 0,
	    why, sizeof(why)));
	assert_non_null(strstr(why, "(the proxy answered CONNECT with HTTP 403"));
	/* RFC 6585's status for exactly this. */
	assert_true(retry_foreign(CURLE_OK, 511, 0, "text/html", "", page,
	    strlen(page), why, sizeof(why)));
	assert_true(retry_foreign_unsent(CURLE_OK, 511, 0));
	/* Which of them prove the request went no further. */
	assert_true(retry_foreign_unsent(CURLE_OK, 302, 0));
	assert_true(retry_foreign_unsent(CURLE_OK, 407, 0));
	assert_true(retry_foreign_unsent(CURLE_RECV_ERROR, 0, 403));
	assert_false(retry_foreign_unsent(CURLE_OK, 200, 0));
	assert_false(retry_foreign_unsent(CURLE_RECV_ERROR, 0, 0));
	/* GET /me names the token's admin and app. */
	me = "{\"type\":\"admin\",\"id\":\"1\",\"app\":{\"id_code\":\"abc\"}}";
	assert_int_equal(ic_me_check(me, strlen(me)), 0);
	me = "{\"type\":\"admin\",\"id\":\"1\"}";
	assert_int_equal(ic_me_check(me, strlen(me)), -1);
	me = "{\"type\":\"portal\",\"id\":\"1\",\"app\":{\"id_code\":\"a\"}}";
	assert_int_equal(ic_me_check(me, strlen(me)), -1);
}

static void
t_backoff(void **state)
{
	int	 a;
	int64_t	 d;

	(void)state;
	for (a = 1; a < 40; a++) {
		d = retry_backoff_ms(a, 2000, 300000, 0.999);
		assert_true(d <= 300000);
		assert_true(d >= 500);
		d = retry_backoff_ms(a, 2000, 300000, 0.0);
		assert_int_equal(d, 500);	/* floor: base/4 */
	}
	/* Full jitter: the ceiling doubles per attempt until the cap. */
	assert_int_equal(retry_backoff_ms(1, 2000, 300000, 0.5), 1000);
	assert_int_equal(retry_backoff_ms(2, 2000, 300000, 0.5), 2000);
	assert_int_equal(retry_backoff_ms(3, 2000, 300000, 0.5), 4000);
	assert_int_equal(retry_backoff_ms(20, 2000, 300000, 0.5), 150000);
}

static void
t_limiter_pacing(void **state)
{
	struct limiter	 l;
	int64_t		 now = 1000000, t;
	int		 sent = 0;

	(void)state;
	limiter_init(&l, 0);
	/* Unknown limit: no pacing. */
	assert_int_equal(limiter_when(&l, now), now);
	/* 1000/min -> 167 per 10 s window: 60 ms apart (rounded up). */
	limiter_update(&l, now, 167, 166, now / 1000 + 10, 0, 0);
	limiter_sent(&l, now);
	t = limiter_when(&l, now);
	assert_int_equal(t - now, 60);
	/* Over one window, at most the budget is sent. */
	for (t = now; t < now + 10000; t += 1) {
		if (limiter_when(&l, t) <= t) {
			limiter_sent(&l, t);
			sent++;
		}
	}
	assert_true(sent <= 167);
	assert_true(sent >= 160);
}

/*
 * A loop held 20 ms by each commit (a slow fsync) sends at each turn the
 * slots that passed meanwhile, once limiter_slack says it is held that
 * long: over 2 s at 100/s it sends about 200, not one a turn (about 100
 * at 50 turns/s).  The catch-up never runs ahead of the schedule.
 */
static void
t_limiter_slack(void **state)
{
	struct limiter	 l;
	int64_t		 now = 5000000, t;
	int		 sent, pass;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		limiter_init(&l, 0);
		limiter_update(&l, now, 1000, 1000, now / 1000 + 10, 0, 0);
		if (pass == 1)
			limiter_slack(&l, 2 * 20);
		sent = 0;
		for (t = now; t < now + 2000; t += 20)	/* one turn a commit */
			while (limiter_when(&l, t) <= t) {
				limiter_sent(&l, t);
				sent++;
			}
		if (pass == 0)
			assert_in_range(sent, 90, 110);	/* ~one a turn */
		else
			assert_in_range(sent, 195, 201);	/* the rate */
	}
	limiter_slack(&l, 100000);	/* capped: at most 100 ms of burst */
	assert_int_equal(l.slack_us, 100 * 1000);
	limiter_slack(&l, 0);
	assert_int_equal(l.slack_us, 5 * 1000);
}

static void
t_limiter_throttle(void **state)
{
	struct limiter	 l;
	int64_t		 now = 5000000;

	(void)state;
	limiter_init(&l, 0);
	/* A 429: nothing until Reset plus jitter. */
	limiter_update(&l, now, 167, 0, now / 1000 + 7, 1, 300);
	assert_int_equal(limiter_when(&l, now), now + 7000 + 300);
	/* Remaining 0 without a 429 blocks until Reset too, with a fixed
	 * 50 ms margin instead of the jitter (given here as 300). */
	limiter_init(&l, 0);
	limiter_update(&l, now, 167, 0, now / 1000 + 3, 0, 300);
	assert_int_equal(limiter_when(&l, now), now + 3000 + 50);
	/* Our own cap (rate_limit = 60/min -> 10 per window, 1 s apart). */
	limiter_init(&l, 60);
	limiter_sent(&l, now);
	assert_int_equal(limiter_when(&l, now), now + 1000);
}

static void
t_conflict(void **state)
{
	char	 id[25];

	(void)state;
	assert_int_equal(ic_conflict_id("A contact matching those details "
	    "already exists with id=5da6f18e3d7cf967e4582d05", id), 0);
	assert_string_equal(id, "5da6f18e3d7cf967e4582d05");
	assert_int_equal(ic_conflict_id("An archived contact matching those "
	    "details already exists with id=5DA6F18E3D7CF967E4582D06.", id), 0);
	assert_string_equal(id, "5da6f18e3d7cf967e4582d06");
	assert_int_equal(ic_conflict_id("id=123", id), -1);
	assert_int_equal(ic_conflict_id("id=5da6f18e3d7cf967e4582d05ff", id), -1);
	assert_int_equal(ic_conflict_id("no id here", id), -1);
	assert_int_equal(ic_link_contact("</contacts/665f00000000000000001000>; "
	    "rel=\"canonical\"", id), 0);
	assert_string_equal(id, "665f00000000000000001000");
	assert_int_equal(ic_link_contact("</contacts/665f0>; rel=\"canonical\"",
	    id), -1);
	assert_int_equal(ic_link_contact("</contacts/665f00000000000000001000>; "
	    "rel=\"next\"", id), -1);
}

static void
t_pick(void **state)
{
	json_t	*d;

	(void)state;
	d = json_loads("[{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaa1\",\"role\":\"lead\","
	    "\"updated_at\":50},{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaa2\",\"role\":"
	    "\"user\",\"updated_at\":10},{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaa3\","
	    "\"role\":\"user\",\"updated_at\":20}]", 0, NULL);
	assert_int_equal(ic_pick_contact(d), 2);	/* user, newest */
	json_decref(d);
	d = json_loads("[{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaa9\",\"role\":\"lead\","
	    "\"updated_at\":5},{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaa4\",\"role\":"
	    "\"lead\",\"updated_at\":5}]", 0, NULL);
	assert_int_equal(ic_pick_contact(d), 1);	/* tie: smallest id */
	json_decref(d);
	d = json_loads("[{\"id\":7},{\"role\":\"user\"}]", 0, NULL);
	assert_int_equal(ic_pick_contact(d), -1);	/* hostile: no ids */
	json_decref(d);
	assert_int_equal(ic_pick_contact(NULL), -1);
}

static void
t_marker(void **state)
{
	json_t	*c;

	(void)state;
	assert_true(ic_has_word("ref call-1 cs00ff", "cs00ff"));
	assert_false(ic_has_word("ref call-1 cs00ffn2", "cs00ff"));
	assert_true(ic_has_word("x cs00ffn2\n", "cs00ffn2"));
	assert_false(ic_has_word(NULL, "x"));
	c = json_loads("{\"source\":{\"body\":\"hi ref k csab\"},"
	    "\"tags\":{\"tags\":[{\"id\":\"12\"}]},\"team_assignee_id\":2001,"
	    "\"conversation_parts\":{\"conversation_parts\":[{\"body\":"
	    "\"more csabn2\"}]}}", 0, NULL);
	assert_true(ic_conv_has_marker(c, "csab"));
	assert_true(ic_conv_has_marker(c, "csabn2"));
	assert_false(ic_conv_has_marker(c, "csabn3"));
	assert_true(ic_conv_has_tag(c, "12"));
	assert_false(ic_conv_has_tag(c, "1"));
	{
		char buf[32];

		assert_string_equal(ic_conv_assignee(c, 't', buf, sizeof(buf)),
		    "2001");
		assert_null(ic_conv_assignee(c, 'a', buf, sizeof(buf)));
	}
	json_decref(c);
	assert_null(ic_parse("[1,2]", 5));
	assert_null(ic_parse("{\"a\":", 5));
	assert_null(ic_parse("{\"a\":1,\"a\":2}", 13));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_classify),
		cmocka_unit_test(t_backoff),
		cmocka_unit_test(t_limiter_pacing),
		cmocka_unit_test(t_limiter_throttle),
		cmocka_unit_test(t_limiter_slack),
		cmocka_unit_test(t_conflict),
		cmocka_unit_test(t_foreign),
		cmocka_unit_test(t_pick),
		cmocka_unit_test(t_marker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
