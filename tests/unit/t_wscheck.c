/*
 * t_wscheck: the configuration checked against what Intercom lists
 * (admins, teams, contact attributes), record attribute values against
 * data types, and the region an api_base names (worker/core/wscheck.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wscheck.h"

static void
t_ids(void **state)
{
	json_t	*o, *ids;

	(void)state;
	/* Ids come as strings (2.16) or numbers (older answers). */
	o = json_loads("{\"type\":\"admin.list\",\"admins\":[{\"id\":\"1001\"},"
	    "{\"id\":1002},{\"name\":\"no id\"}]}", 0, NULL);
	ids = wscheck_ids(o, "admins");
	assert_non_null(ids);
	assert_int_equal(json_array_size(ids), 2);
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "1002");
	json_decref(ids);
	assert_null(wscheck_ids(o, "teams"));
	json_decref(o);
	/* An error answer is no list: the setting is not judged. */
	o = json_loads("{\"type\":\"error.list\",\"errors\":[]}", 0, NULL);
	assert_null(wscheck_ids(o, "admins"));
	json_decref(o);
	assert_null(wscheck_ids(NULL, "admins"));
}

/* A record's own assign: only what Intercom lists is sent; a list not
 * known (403, never read) judges nothing. */
static void
t_assign(void **state)
{
	json_t	*admins, *teams;
	char	 why[200];

	(void)state;
	admins = json_pack("[s,s]", "1001", "1002");
	teams = json_pack("[s,s]", "2001", "2002");
	assert_int_equal(wscheck_assign('t', "2002", admins, teams, why,
	    sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(wscheck_assign('a', "1001", admins, teams, why,
	    sizeof(why)), 0);
	assert_int_equal(wscheck_assign('t', "2999", admins, teams, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "assign.team_id 2999: GET /teams has no "
	    "team 2999");
	assert_int_equal(wscheck_assign('a', "999", admins, teams, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "assign.admin_id 999: GET /admins has no "
	    "admin 999");
	/* A team id is not looked up among the admins, nor the reverse. */
	assert_int_equal(wscheck_assign('t', "1001", admins, teams, why,
	    sizeof(why)), -1);
	assert_int_equal(wscheck_assign('a', "2001", admins, teams, why,
	    sizeof(why)), -1);
	/* Not known: not judged. */
	assert_int_equal(wscheck_assign('t', "2999", admins, NULL, why,
	    sizeof(why)), 0);
	assert_int_equal(wscheck_assign('a', "999", NULL, teams, why,
	    sizeof(why)), 0);
	/* No assignment, or a kind callsync does not make. */
	assert_int_equal(wscheck_assign(0, "2999", admins, teams, why,
	    sizeof(why)), 0);
	assert_int_equal(wscheck_assign('t', NULL, admins, teams, why,
	    sizeof(why)), 0);
	/* A short buffer is cut, never overrun. */
	assert_int_equal(wscheck_assign('t', "2999", admins, teams, why, 8),
	    -1);
	assert_string_equal(why, "assign.");
	json_decref(admins);
	json_decref(teams);
}

static void
t_config(void **state)
{
	struct conf_ws	 cw;
	json_t		*admins, *teams, *attrs;
	char		 out[1024];

	(void)state;
	memset(&cw, 0, sizeof(cw));
	cw.admin_id = "999";
	cw.routes[0] = (struct conf_route){ "billing", 't', "2999" };
	cw.routes[1] = (struct conf_route){ "sales", 'a', "1002" };
	cw.nroutes = 2;
	cw.escalation = (struct conf_route){ NULL, 't', "2001" };
	cw.has_escalation = true;
	cw.allowed_attributes[0] = "plan_interest";
	cw.allowed_attributes[1] = "budget_code";
	cw.nallowed_attributes = 2;
	admins = json_pack("[s,s]", "1001", "1002");
	teams = json_pack("[s,s]", "2001", "2002");
	attrs = json_pack("{s:s}", "plan_interest", "string");
	assert_int_equal(wscheck_config(&cw, admins, teams, out,
	    sizeof(out)), 2);
	assert_string_equal(out, "admin_id = 999: GET /admins has no admin "
	    "999; route = billing:team:2999: GET /teams has no team 2999");
	/* An allowed attribute Intercom lacks is a warning of its own. */
	assert_int_equal(wscheck_allowed(&cw, attrs, out, sizeof(out)), 1);
	assert_string_equal(out, "allowed_attributes = budget_code: GET "
	    "/data_attributes?model=contact has no attribute budget_code");
	/* What Intercom did not list is not judged. */
	assert_int_equal(wscheck_config(&cw, NULL, NULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(wscheck_allowed(&cw, NULL, out, sizeof(out)), 0);
	/* The escalation target, by its own key. */
	cw.admin_id = "1001";
	cw.routes[0].id = "2002";
	cw.escalation.id = "7";
	cw.nallowed_attributes = 1;
	assert_int_equal(wscheck_config(&cw, admins, teams, out,
	    sizeof(out)), 1);
	assert_string_equal(out, "escalation_team = 7: GET /teams has no "
	    "team 7");
	/* A short buffer is cut, never overrun. */
	cw.admin_id = "999";
	assert_int_equal(wscheck_config(&cw, admins, teams, out, 16), 2);
	assert_int_equal(strlen(out), 15);
	cw.escalation.id = "2001";
	cw.admin_id = "1001";
	assert_int_equal(wscheck_config(&cw, admins, teams, out,
	    sizeof(out)), 0);
	assert_int_equal(wscheck_allowed(&cw, attrs, out, sizeof(out)), 0);
	json_decref(admins);
	json_decref(teams);
	json_decref(attrs);
}

static void
t_values(void **state)
{
	json_t	*s = json_string("yes"), *i = json_integer(3);
	json_t	*r = json_real(2.5), *b = json_true(), *n = json_null();

	(void)state;
	assert_null(wscheck_value("string", s));
	assert_non_null(wscheck_value("string", i));
	assert_null(wscheck_value("integer", i));
	assert_non_null(wscheck_value("integer", r));
	assert_null(wscheck_value("float", r));
	assert_null(wscheck_value("float", i));
	assert_null(wscheck_value("boolean", b));
	assert_string_equal(wscheck_value("boolean", s), "true or false");
	assert_null(wscheck_value("date", i));
	assert_non_null(wscheck_value("date", s));
	/* null clears any attribute; unknown types are Intercom's call. */
	assert_null(wscheck_value("boolean", n));
	assert_null(wscheck_value("options", s));
	assert_null(wscheck_value(NULL, s));
	json_decref(s);
	json_decref(i);
	json_decref(r);
	json_decref(n);
}

static void
t_attr(void **state)
{
	json_t	*attrs, *v;
	char	 why[300];

	(void)state;
	attrs = json_pack("{s:s,s:s}", "callback_requested", "boolean",
	    "plan_interest", "string");
	v = json_string("yes");
	assert_int_equal(wscheck_attr(attrs, "callback_requested", v, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "callback_requested is a boolean attribute "
	    "in Intercom: the value must be true or false, not a string");
	assert_int_equal(wscheck_attr(attrs, "plan_interest", v, why,
	    sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(wscheck_attr(attrs, "budget_code", v, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "Intercom has no contact attribute "
	    "budget_code");
	/* No list (it could not be read): everything is sent. */
	assert_int_equal(wscheck_attr(NULL, "budget_code", v, why,
	    sizeof(why)), 0);
	json_decref(v);
	json_decref(attrs);
}

static void
t_region(void **state)
{
	char	 h[64];

	(void)state;
	assert_string_equal(wscheck_api_region("https://api.intercom.io", h,
	    sizeof(h)), "US");
	assert_string_equal(h, "api.intercom.io");
	assert_string_equal(wscheck_api_region("https://api.eu.intercom.io/",
	    h, sizeof(h)), "EU");
	assert_string_equal(wscheck_api_region("https://API.AU.intercom.io:443",
	    h, sizeof(h)), "AU");
	assert_string_equal(wscheck_api_region(
	    "http://api.eu.intercom.io.localhost:8080", h, sizeof(h)), "EU");
	assert_string_equal(h, "api.eu.intercom.io.localhost");
	assert_null(wscheck_api_region("http://127.0.0.1:8080", h, sizeof(h)));
	assert_string_equal(h, "127.0.0.1");
	assert_null(wscheck_api_region("http://[::1]:8080", h, sizeof(h)));
	assert_string_equal(h, "[::1]");
	assert_null(wscheck_api_region("https://api.intercom.io.evil.example",
	    h, sizeof(h)));
	assert_null(wscheck_api_region("https://xapi.intercom.io", h,
	    sizeof(h)));
	assert_null(wscheck_api_region("http://localhost:1", h, sizeof(h)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_ids),
		cmocka_unit_test(t_config),
		cmocka_unit_test(t_assign),
		cmocka_unit_test(t_values),
		cmocka_unit_test(t_attr),
		cmocka_unit_test(t_region),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
