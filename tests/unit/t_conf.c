/*
 * t_conf: the configuration parser.  Golden files in tests/data/conf/
 * (valid ones checked field by field, err_*.conf against the expected
 * "file:line: [section] key: message" in errcases[] below), plus files
 * written at run time in a temp dir for token handling, which depends on
 * file modes and the environment.  Run from the top of the tree, or set
 * CALLSYNC_TESTDATA to the golden directory.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

#define SECRET	"tok_Zq9SECRETsecret42xyz"	/* must never show in errors */

static char	 tmpdir[] = "/tmp/t_conf.XXXXXX";

static const char *
datadir(void)
{
	const char	*d = getenv("CALLSYNC_TESTDATA");

	return d != NULL ? d : "tests/data/conf";
}

static void
datapath(char *buf, size_t bufsz, const char *name)
{
	snprintf(buf, bufsz, "%s/%s", datadir(), name);
}

/* Write text to tmpdir/name with mode; the path goes into buf. */
static void
write_file(char *buf, size_t bufsz, const char *name, const char *text,
    mode_t mode)
{
	FILE	*f;

	snprintf(buf, bufsz, "%s/%s", tmpdir, name);
	unlink(buf);
	assert_non_null(f = fopen(buf, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(buf, mode), 0);
}

static struct conf *
load_data(const char *name, char *err, size_t errsz)
{
	char	 path[512];

	datapath(path, sizeof(path), name);
	return conf_load(path, false, err, errsz);
}

/* Load must fail; the message must contain want; never the secret. */
static void
assert_load_fails(const char *path, bool tokens, const char *want)
{
	char		 err[1024];
	struct conf	*c;

	memset(err, 'x', sizeof(err));
	c = conf_load(path, tokens, err, sizeof(err));
	if (c != NULL || strstr(err, want) == NULL)
		print_error("%s: want '%s', got '%s'\n", path, want,
		    c != NULL ? "(loaded)" : err);
	assert_null(c);
	assert_non_null(strstr(err, want));
	assert_null(strstr(err, "SECRET"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
}

static void
test_one(void **state)
{
	char		 err[512];
	struct conf	*c;
	struct conf_ws	*ws;

	(void)state;
	c = load_data("one.conf", err, sizeof(err));
	if (c == NULL)
		print_error("%s\n", err);
	assert_non_null(c);
	assert_string_equal(c->database, "/var/lib/callsync/outbox.db");
	assert_string_equal(c->listen, "");
	assert_string_equal(c->synchronous, "full");
	assert_int_equal(c->lease, 120);
	assert_int_equal(c->poll_interval_ms, 500);
	assert_int_equal(c->batch, 32);
	assert_int_equal(c->nws, 1);
	ws = &c->ws[0];
	assert_ptr_equal(conf_ws_find(c, "acme"), ws);
	assert_null(conf_ws_find(c, "ACME"));
	assert_string_equal(ws->name, "acme");
	assert_string_equal(ws->api_base, "https://api.intercom.io");
	assert_null(ws->token);
	assert_string_equal(ws->token_file, "/etc/callsync/acme.token");
	assert_string_equal(ws->intercom_version, "2.16");
	assert_string_equal(ws->admin_id, "123456");
	assert_string_equal(ws->default_region, "US");
	assert_int_equal(ws->ndefault_tags, 0);
	assert_int_equal(ws->nallowed_attributes, 0);
	assert_int_equal(ws->nroutes, 0);
	assert_false(ws->has_escalation);
	assert_false(ws->allow_public_replies);
	assert_false(ws->audit_bodies);
	assert_false(ws->merge_duplicates);
	assert_true(ws->unarchive);
	assert_int_equal(ws->max_attempts, 25);
	assert_int_equal(ws->max_age, 7 * 86400);
	assert_int_equal(ws->max_inflight, 256);
	assert_int_equal(ws->rate_limit, 0);
	assert_int_equal(ws->request_timeout, 30);
	assert_int_equal(ws->connect_timeout, 10);
	assert_int_equal(ws->search_lag, 300);
	assert_int_equal(ws->max_body, 16384);
	assert_null(ws->ca_file);
	assert_non_null(c->path);
	conf_free(c);
}

static void
test_several(void **state)
{
	char		 err[512];
	struct conf	*c;
	struct conf_ws	*ws;

	(void)state;
	c = load_data("several.conf", err, sizeof(err));
	if (c == NULL)
		print_error("%s\n", err);
	assert_non_null(c);
	assert_string_equal(c->database, "/tmp/outbox.db");
	assert_int_equal(c->nws, 3);
	assert_string_equal(c->ws[0].name, "acme");
	assert_int_equal(c->ws[0].ndefault_tags, 1);
	assert_string_equal(c->ws[0].default_tags[0], "voice-ai");
	assert_non_null(ws = conf_ws_find(c, "Beta-2.eu"));
	assert_string_equal(ws->admin_id, "2");
	assert_string_equal(ws->api_base, "https://api.eu.intercom.io");
	assert_string_equal(ws->default_region, "DE");
	assert_int_equal(ws->ndefault_tags, 0);
	assert_non_null(ws = conf_ws_find(c, "gamma_3"));
	assert_string_equal(ws->admin_id, "3");
	assert_string_equal(ws->intercom_version, "1.4");
	assert_null(conf_ws_find(c, "delta"));
	conf_free(c);
}

static void
test_all_keys(void **state)
{
	char		 err[512], want[64];
	struct conf	*c;
	struct conf_ws	*ws;
	size_t		 i;

	(void)state;
	c = load_data("all.conf", err, sizeof(err));
	if (c == NULL)
		print_error("%s\n", err);
	assert_non_null(c);
	assert_string_equal(c->database, "/srv/callsync/outbox.db");
	assert_string_equal(c->listen, "[::1]:9100");
	assert_string_equal(c->synchronous, "normal");
	assert_int_equal(c->lease, 300);
	assert_int_equal(c->poll_interval_ms, 250);
	assert_int_equal(c->batch, 64);
	assert_int_equal(c->nws, 1);
	ws = &c->ws[0];
	assert_string_equal(ws->api_base, "http://127.0.0.1:8080");
	assert_string_equal(ws->token_file, "/run/secrets/acme.token");
	assert_string_equal(ws->intercom_version, "2.11");
	assert_string_equal(ws->admin_id, "987654");
	assert_string_equal(ws->default_region, "GB");
	/* trimmed, empty items dropped, duplicates folded */
	assert_int_equal(ws->ndefault_tags, 2);
	assert_string_equal(ws->default_tags[0], "voice-ai");
	assert_string_equal(ws->default_tags[1], "calls");
	/* a line longer than 200 bytes (libinih's limit once) */
	assert_int_equal(ws->nallowed_attributes, 20);
	for (i = 0; i < 20; i++) {
		snprintf(want, sizeof(want), "attribute_number_%02zu", i + 1);
		assert_string_equal(ws->allowed_attributes[i], want);
	}
	assert_int_equal(ws->nroutes, 3);
	assert_string_equal(ws->routes[0].category, "billing");
	assert_int_equal(ws->routes[0].kind, 't');
	assert_string_equal(ws->routes[0].id, "111");
	assert_string_equal(ws->routes[1].category, "support");
	assert_int_equal(ws->routes[1].kind, 'a');
	assert_string_equal(ws->routes[1].id, "222");
	assert_string_equal(ws->routes[2].category, "sales");
	assert_int_equal(ws->routes[2].kind, 't');
	assert_string_equal(ws->routes[2].id, "333");
	assert_true(ws->has_escalation);
	assert_null(ws->escalation.category);
	assert_int_equal(ws->escalation.kind, 'a');
	assert_string_equal(ws->escalation.id, "444");
	assert_true(ws->allow_public_replies);
	assert_true(ws->audit_bodies);
	assert_true(ws->merge_duplicates);
	assert_false(ws->unarchive);
	assert_int_equal(ws->max_attempts, 1000);
	assert_int_equal(ws->max_age, 14 * 86400);
	assert_int_equal(ws->max_inflight, 256);
	assert_int_equal(ws->rate_limit, 600);
	assert_int_equal(ws->request_timeout, 600);
	assert_int_equal(ws->connect_timeout, 1);
	assert_int_equal(ws->search_lag, 0);
	assert_int_equal(ws->max_body, 1048576);
	assert_string_equal(ws->ca_file, "/etc/ssl/test-ca.pem");
	conf_free(c);
}

static void
test_http_loopback(void **state)
{
	char		 err[512];
	struct conf	*c;

	(void)state;
	c = load_data("http_loopback.conf", err, sizeof(err));
	if (c == NULL)
		print_error("%s\n", err);
	assert_non_null(c);
	assert_int_equal(c->nws, 3);
	assert_string_equal(c->ws[0].api_base, "http://127.0.0.1:8080");
	assert_true(c->ws[0].has_escalation);
	assert_int_equal(c->ws[0].escalation.kind, 't');
	assert_string_equal(c->ws[0].escalation.id, "55");
	assert_string_equal(c->ws[1].api_base, "http://[::1]:9000/intercom");
	assert_int_equal(c->ws[1].max_age, 90);
	assert_string_equal(c->ws[2].api_base, "http://LOCALHOST:1234");
	assert_int_equal(c->ws[2].max_age, 12 * 3600);
	conf_free(c);
}

/* The shipped example must load as is (tokens are not there to read). */
static void
test_example(void **state)
{
	char		 err[512], path[512];
	const char	*top = getenv("CALLSYNC_TOP");
	struct conf	*c;

	(void)state;
	snprintf(path, sizeof(path), "%s/callsync.conf.example",
	    top != NULL ? top : ".");
	c = conf_load(path, false, err, sizeof(err));
	if (c == NULL)
		print_error("%s\n", err);
	assert_non_null(c);
	assert_int_equal(c->nws, 2);
	assert_string_equal(c->database, "/var/lib/callsync/outbox.db");
	assert_int_equal(c->lease, 120);
	assert_non_null(conf_ws_find(c, "acme"));
	assert_non_null(conf_ws_find(c, "globex"));
	assert_null(c->ws[0].token);
	conf_free(c);
}

static const struct errcase {
	const char	*file;
	const char	*want;	/* after the path */
} errcases[] = {
	{ "err_unknown_key.conf",
	  ":6: [workspace acme] max_attempt: unknown key" },
	{ "err_unknown_section.conf",
	  ":3: [workers]: unknown section" },
	{ "err_bad_int.conf", ":5: [workspace acme] max_attempts: "
	  "expected an integer 1..1000, got 'lots'" },
	{ "err_range.conf",
	  ":2: [worker] lease: expected an integer 5..3600, got '4'" },
	{ "err_bool.conf", ":3: [workspace acme] unarchive: expected a "
	  "boolean (true/false, yes/no, on/off, 1/0), got 'maybe'" },
	{ "err_dup_ws.conf",
	  ":5: [workspace acme]: duplicate workspace (first at line 1)" },
	{ "err_http.conf", ":3: [workspace acme] api_base: http:// is only "
	  "allowed to a loopback host" },
	{ "err_no_admin.conf", ":4: [workspace acme] admin_id: required" },
	{ "err_dup_key.conf",
	  ":3: [workspace acme] admin_id: set twice (first at line 2)" },
	{ "err_syntax.conf", ":3: syntax error" },
	{ "err_route.conf", ":3: [workspace acme] route: expected "
	  "category:team:ID or category:admin:ID, got 'support:group:222'" },
	{ "err_esc_both.conf", ":4: [workspace acme] escalation_admin: set "
	  "at most one of escalation_team and escalation_admin" },
	{ "err_version.conf", ":3: [workspace acme] intercom_version: "
	  "expected an Intercom API version 1.0..1.4 or 2.0..2.16, got "
	  "'2.17'" },
	{ "err_region.conf", ":3: [workspace acme] default_region: expected "
	  "a 2-letter upper-case country code (ISO 3166), got 'us'" },
	{ "err_ws_name.conf", ":1: [workspace acme corp]: workspace name "
	  "must be 1-64 characters" },
	{ "err_outside.conf",
	  ":1: database: key outside any section" },
	{ "err_duration.conf", ":3: [workspace acme] max_age: expected a "
	  "duration 1m..3650d (90, 45s, 30m, 12h, 7d, 1w), got '59s'" },
	{ "err_listen.conf", ":2: [worker] listen: expected host:port" },
	{ "err_scheme.conf", ":3: [workspace acme] api_base: expected an "
	  "https:// URL, got 'ftp://api.intercom.io'" },
	{ "err_admin_digits.conf", ":2: [workspace acme] admin_id: expected "
	  "a numeric Intercom id, got 'abc123'" },
	{ "err_sync.conf", ":2: [worker] synchronous: expected full or "
	  "normal, got 'off'" },
	{ "err_dup_worker.conf",
	  ":4: [worker]: duplicate section (first at line 1)" },
	{ "err_no_name.conf", ":1: [workspace]: workspace name must be" },
	{ "err_indent.conf", ":4: syntax error" },
};

static void
test_errors(void **state)
{
	char	 path[512];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(errcases) / sizeof(errcases[0]); i++) {
		datapath(path, sizeof(path), errcases[i].file);
		assert_load_fails(path, false, errcases[i].want);
	}
}

/* Every err_*.conf in the data dir has a case (no silent golden file). */
static void
test_errors_listed(void **state)
{
	char	 cmd[600], line[256];
	FILE	*p;
	size_t	 i, n = 0;
	bool	 found;

	(void)state;
	snprintf(cmd, sizeof(cmd), "cd '%s' && ls err_*.conf", datadir());
	assert_non_null(p = popen(cmd, "r"));
	while (fgets(line, sizeof(line), p) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		found = false;
		for (i = 0; i < sizeof(errcases) / sizeof(errcases[0]); i++)
			found |= strcmp(errcases[i].file, line) == 0;
		if (!found)
			print_error("%s has no expected message\n", line);
		assert_true(found);
		n++;
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(n, sizeof(errcases) / sizeof(errcases[0]));
}

static void
test_inline_errors(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "[workspace a]\nadmin_id = 1\nmax_attempts = 0\n",
		  ":3: [workspace a] max_attempts: expected an integer "
		  "1..1000, got '0'" },
		{ "[workspace a]\nadmin_id = 1\nmax_inflight = 99999999999999"
		  "999999999\n", ":3: [workspace a] max_inflight: expected "
		  "an integer 1..1024" },
		{ "[workspace a]\nadmin_id = 1\nmax_body = 1023\n",
		  "max_body: expected an integer 1024..1048576, got '1023'" },
		{ "[workspace a]\nadmin_id = 1\nrate_limit = -1\n",
		  "rate_limit: expected an integer 0..100000, got '-1'" },
		{ "[workspace a]\nadmin_id = 1\nbatch = 3\n",
		  ":3: [workspace a] batch: unknown key" },
		{ "[worker]\nadmin_id = 3\n",
		  ":2: [worker] admin_id: unknown key" },
		{ "[workspace a]\nadmin_id = 1\napi_base = https://\n",
		  "api_base: expected a URL" },
		{ "[workspace a]\nadmin_id = 1\napi_base = "
		  "http://127.evil.com\n", "api_base: http:// is only" },
		{ "[workspace a]\nadmin_id = 1\napi_base = "
		  "http://[::2]:80\n", "api_base: http:// is only" },
		{ "[workspace a]\nadmin_id = 1\napi_base = "
		  "http://10.0.0.1:8080\n", "api_base: http:// is only" },
		{ "[workspace a]\nadmin_id = 1\napi_base = "
		  "http://128.0.0.1\n", "api_base: http:// is only" },
		{ "[workspace a]\nadmin_id = 1\napi_base = "
		  "http://user@127.0.0.1\n", "api_base: expected a URL" },
		{ "[workspace a]\nadmin_id = 1\napi_base = "
		  "https://h:99999\n", "api_base: expected a URL" },
		{ "[workspace a]\nadmin_id = 1\nroute = billing:team:1,"
		  "Billing:admin:2\n", "route: category 'billing' routed "
		  "twice" },
		{ "[workspace a]\nadmin_id = 1\nroute = :team:1\n",
		  "route: expected category:team:ID" },
		{ "[workspace a]\nadmin_id = 1\nroute = a:team:x1\n",
		  "route: expected category:team:ID" },
		{ "[workspace a]\nadmin_id = 1\nescalation_team = t\n",
		  "escalation_team: expected a numeric Intercom team id" },
		{ "[workspace a]\nadmin_id = 1\ndefault_tags = 1,2,3,4,5,6,7,"
		  "8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,"
		  "28,29,30,31,32,33\n", "default_tags: more than 32 items, "
		  "at '33'" },
		{ "[workspace a]\nadmin_id = 1\nmax_age = -5m\n",
		  "max_age: expected a duration" },
		{ "[workspace a]\nadmin_id = 1\nmax_age = 3651d\n",
		  "max_age: expected a duration" },
		{ "[worker]\ndatabase =\n",
		  ":2: [worker] database: expected a path, got ''" },
		{ "[worker]\nlisten = host:0\n", "listen: expected host:port" },
		{ "[worker\nbatch = 1\n", ":1: malformed section header" },
		{ "[worker] x\n", ":1: text after section header" },
		{ "[worker]\n\n\n   ; comment\n# comment\nbatch ;= 3\n",
		  ":6: syntax error" },
		{ "[worker]\nbatch = 1\0002\n", ":2: NUL byte" },
		{ "[workspace a-b]\nadmin_id = 1\n[workspace A.b]\n",
		  ":3: [workspace A.b]: token variable CALLSYNC_TOKEN_A_B "
		  "would also serve [workspace a-b] (line 1)" },
		{ "[workspace a]\nadmin_id = 1\nx = 1\n",
		  "[workspace a] x: unknown key" },
	};
	char	 path[512];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(path, sizeof(path), "inline.conf", cases[i].text,
		    0600);
		if (strstr(cases[i].want, "NUL") != NULL) {
			FILE *f = fopen(path, "w");

			assert_non_null(f);
			fwrite("[worker]\nbatch = 1\0002\n", 1, 21, f);
			fclose(f);
		}
		assert_load_fails(path, false, cases[i].want);
	}
}

/*
 * proxy =: a URL (credentials allowed, never shown), none, or unset (the
 * environment); a password needs the file 0600.
 */
static void
test_proxy(void **state)
{
	char		 path[512], err[1024], buf[256];
	struct conf	*c;
	const char	*base = "[workspace a]\nadmin_id = 1\n";
	char		 text[512];

	(void)state;
	snprintf(text, sizeof(text), "%sproxy = http://u:SECRET@10.0.0.1:3128\n",
	    base);
	write_file(path, sizeof(path), "px.conf", text, 0600);
	assert_non_null(c = conf_load(path, false, err, sizeof(err)));
	assert_string_equal(conf_ws_proxy(&c->ws[0]),
	    "http://u:SECRET@10.0.0.1:3128");
	conf_ws_proxy_show(&c->ws[0], buf, sizeof(buf));
	assert_string_equal(buf, "http://10.0.0.1:3128");
	conf_free(c);
	write_file(path, sizeof(path), "px.conf", text, 0644);
	assert_load_fails(path, false, "[workspace a] proxy: the proxy URL "
	    "holds a password");
	snprintf(text, sizeof(text), "%sproxy = none\n", base);
	write_file(path, sizeof(path), "px.conf", text, 0644);
	assert_non_null(c = conf_load(path, false, err, sizeof(err)));
	assert_string_equal(conf_ws_proxy(&c->ws[0]), "");
	conf_free(c);
	write_file(path, sizeof(path), "px.conf", base, 0644);
	assert_non_null(c = conf_load(path, false, err, sizeof(err)));
	assert_null(conf_ws_proxy(&c->ws[0]));
	conf_free(c);
	snprintf(text, sizeof(text), "%sproxy = ftp://u:SECRET@h:1\n", base);
	write_file(path, sizeof(path), "px.conf", text, 0600);
	assert_load_fails(path, false, "expected a proxy URL like "
	    "http://host:port, or none, got 'ftp://h:1'");
	snprintf(text, sizeof(text), "%sproxy = http://u:SECRET@h:1/x\n",
	    base);
	write_file(path, sizeof(path), "px.conf", text, 0600);
	assert_load_fails(path, false, "got 'http://h:1/x'");
	conf_proxy_show("socks5h://a@b:1", buf, sizeof(buf));
	assert_string_equal(buf, "socks5h://b:1");
}

/* A long line, then errors: line numbers still right. */
static void
test_line_numbers(void **state)
{
	char	 text[4096], path[512], *p = text;
	int	 i;

	(void)state;
	p += sprintf(p, "[workspace acme]\r\nadmin_id = 1\r\n"
	    "allowed_attributes = ");
	for (i = 0; i < 30; i++)
		p += sprintf(p, "a_rather_long_attribute_name_%d, ", i);
	p += sprintf(p, " ; a comment at the end\r\n; comment\r\n\r\n"
	    "default_tags = x ; comment\r\nlease = 4\r\n");
	write_file(path, sizeof(path), "lines.conf", text, 0600);
	assert_load_fails(path, false, ":7: [workspace acme] lease: "
	    "unknown key");

	p = text + sprintf(text, "[workspace acme]\nadmin_id = 1\n"
	    "allowed_attributes = ");
	for (i = 0; i < 33; i++)
		p += sprintf(p, "a_rather_long_attribute_name_%d, ", i);
	sprintf(p, "\n");
	write_file(path, sizeof(path), "lines.conf", text, 0600);
	assert_load_fails(path, false, ":3: [workspace acme] "
	    "allowed_attributes: more than 32 items, at "
	    "'a_rather_long_attribute_name_32'");
}

/*
 * Lines that inih took for something else: one starting with a carriage
 * return was the continuation of the key above ("set twice"), and a key
 * longer than its 200-byte line a syntax error.
 */
static void
test_inih_leftovers(void **state)
{
	char		 text[4096], path[512], err[512], key[301];
	struct conf	*c;

	(void)state;
	write_file(path, sizeof(path), "cr.conf", "[worker]\nlease = 30\n"
	    "\rbatch = 7\n", 0600);
	c = conf_load(path, false, err, sizeof(err));
	if (c == NULL)
		print_error("%s\n", err);
	assert_non_null(c);
	assert_int_equal(c->lease, 30);
	assert_int_equal(c->batch, 7);
	conf_free(c);
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(text, sizeof(text), "[worker]\n%s = 1\n", key);
	write_file(path, sizeof(path), "longkey.conf", text, 0600);
	assert_load_fails(path, false, ":2: [worker] kkkkkkkk");
	assert_load_fails(path, false, "...: unknown key");
}

static void
test_long_value(void **state)
{
	char		 text[4096], path[512], err[512], *p;
	struct conf	*c;
	int		 i;

	(void)state;
	p = text + sprintf(text, "[workspace acme]\nadmin_id = 1\n"
	    "route = ");
	for (i = 0; i < 20; i++)
		p += sprintf(p, "category_%d:team:%d0000, ", i, i);
	sprintf(p, " ; trailing comment\n[worker]\nbatch = 7\n");
	write_file(path, sizeof(path), "long.conf", text, 0600);
	c = conf_load(path, false, err, sizeof(err));
	if (c == NULL)
		print_error("%s\n", err);
	assert_non_null(c);
	assert_int_equal(c->ws[0].nroutes, 20);
	assert_string_equal(c->ws[0].routes[19].category, "category_19");
	assert_string_equal(c->ws[0].routes[19].id, "190000");
	assert_int_equal(c->batch, 7);
	conf_free(c);
}

static void
test_missing_file(void **state)
{
	char		 err[512];
	struct conf	*c;

	(void)state;
	c = conf_load("/nonexistent/callsync.conf", false, err, sizeof(err));
	assert_null(c);
	assert_string_equal(err, "/nonexistent/callsync.conf: No such file "
	    "or directory");
	assert_null(conf_load(tmpdir, false, err, sizeof(err)));
	assert_non_null(strstr(err, "is a directory"));
	/* A NULL or zero-size error buffer is allowed. */
	assert_null(conf_load("/nonexistent/x", false, NULL, 0));
}

static void
test_default(void **state)
{
	struct conf	*c;

	(void)state;
	assert_non_null(c = conf_default());
	assert_string_equal(c->database, "/var/lib/callsync/outbox.db");
	assert_string_equal(c->synchronous, "full");
	assert_string_equal(c->listen, "");
	assert_int_equal(c->lease, 120);
	assert_int_equal(c->poll_interval_ms, 500);
	assert_int_equal(c->batch, 32);
	assert_int_equal(c->nws, 0);
	assert_null(c->path);
	assert_null(conf_ws_find(c, "default"));
	conf_free(c);
	conf_free(NULL);
}

static void
test_durations(void **state)
{
	static const struct { const char *in; long long want; } cases[] = {
		{ "7d", 7 * 86400 }, { "12h", 12 * 3600 }, { "30m", 1800 },
		{ "45s", 45 }, { "90", 90 }, { "1w", 604800 }, { "0", 0 },
		{ "0s", 0 }, { "007m", 420 },
		{ "9223372036854775807", 9223372036854775807LL },
		{ "", -1 }, { "-5", -1 }, { "-5s", -1 }, { "5x", -1 },
		{ "d", -1 }, { "5 s", -1 }, { " 5", -1 }, { "5s ", -1 },
		{ "1h30m", -1 }, { "5ss", -1 }, { "+5", -1 }, { "5S", -1 },
		{ "9223372036854775808", -1 }, { "99999999999999999999w", -1 },
		{ "15250284452472w", -1 }, { "1.5h", -1 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (conf_parse_duration(cases[i].in) != cases[i].want)
			print_error("'%s': want %lld, got %lld\n", cases[i].in,
			    cases[i].want, conf_parse_duration(cases[i].in));
		assert_int_equal(conf_parse_duration(cases[i].in),
		    cases[i].want);
	}
	assert_int_equal(conf_parse_duration(NULL), -1);
}

static void
test_booleans(void **state)
{
	static const struct { const char *v; bool want; } cases[] = {
		{ "true", true }, { "yes", true }, { "on", true },
		{ "1", true }, { "TRUE", true }, { "Yes", true },
		{ "false", false }, { "no", false }, { "off", false },
		{ "0", false }, { "OFF", false },
	};
	char		 text[256], path[512], err[512];
	struct conf	*c;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[workspace a]\nadmin_id = 1\n"
		    "audit_bodies = %s\nunarchive = %s\n", cases[i].v,
		    cases[i].v);
		write_file(path, sizeof(path), "bool.conf", text, 0600);
		assert_non_null(c = conf_load(path, false, err, sizeof(err)));
		assert_int_equal(c->ws[0].audit_bodies, cases[i].want);
		assert_int_equal(c->ws[0].unarchive, cases[i].want);
		conf_free(c);
	}
}

/* Tokens: every message collected here is checked for SECRET. */
static void
token_setup(const char *file_text, mode_t file_mode, const char *conf_extra,
    mode_t conf_mode, char *confpath, size_t confpathsz)
{
	char	 tokpath[512], text[1024];

	write_file(tokpath, sizeof(tokpath), "acme.token", file_text,
	    file_mode);
	snprintf(text, sizeof(text), "[workspace acme]\nadmin_id = 1\n"
	    "token_file = %s\n%s", tokpath, conf_extra);
	write_file(confpath, confpathsz, "tok.conf", text, conf_mode);
}

static void
test_token_file_mode(void **state)
{
	char	 path[512], want[1024];

	(void)state;
	unsetenv("CALLSYNC_TOKEN_ACME");
	token_setup(SECRET "\n", 0644, "", 0600, path, sizeof(path));
	snprintf(want, sizeof(want), ":3: [workspace acme] token_file: "
	    "%s/acme.token: mode 0644 allows group or other access", tmpdir);
	assert_load_fails(path, true, want);
	token_setup(SECRET "\n", 0640, "", 0600, path, sizeof(path));
	assert_load_fails(path, true, "mode 0640 allows group or other");
	token_setup(SECRET "\n", 0604, "", 0600, path, sizeof(path));
	assert_load_fails(path, true, "mode 0604 allows group or other");
}

static void
test_token_file_ok(void **state)
{
	char		 path[512], err[512];
	struct conf	*c;

	(void)state;
	unsetenv("CALLSYNC_TOKEN_ACME");
	token_setup(SECRET " \r\n\n", 0600, "", 0644, path, sizeof(path));
	c = conf_load(path, true, err, sizeof(err));
	if (c == NULL)
		print_error("%s\n", err);
	assert_non_null(c);
	assert_string_equal(c->ws[0].token, SECRET);
	/* Not loaded when not asked for. */
	conf_free(c);
	assert_non_null(c = conf_load(path, false, err, sizeof(err)));
	assert_null(c->ws[0].token);
	conf_free(c);
	token_setup(SECRET, 0400, "", 0600, path, sizeof(path));
	assert_non_null(c = conf_load(path, true, err, sizeof(err)));
	assert_string_equal(c->ws[0].token, SECRET);
	conf_free(c);
}

static void
test_token_file_bad(void **state)
{
	char	 path[512], big[5000];

	(void)state;
	unsetenv("CALLSYNC_TOKEN_ACME");
	token_setup(" \n\n", 0600, "", 0600, path, sizeof(path));
	assert_load_fails(path, true, "acme.token: token is empty");
	token_setup("tok_Zq9SECRET\001x\n", 0600, "", 0600, path,
	    sizeof(path));
	assert_load_fails(path, true, "acme.token: token contains control");
	token_setup("tok_Zq9SECRET\nsecond line\n", 0600, "", 0600, path,
	    sizeof(path));
	assert_load_fails(path, true, "acme.token: token contains control");
	memset(big, 'S', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "SECRET", 6);
	token_setup(big, 0600, "", 0600, path, sizeof(path));
	assert_load_fails(path, true, "token is longer than 4096 bytes");
	big[4097] = '\0';
	token_setup(big, 0600, "", 0600, path, sizeof(path));
	assert_load_fails(path, true, "token is longer than 4096 bytes");
	big[4096] = '\0';
	token_setup(big, 0600, "", 0600, path, sizeof(path));
	{
		char		 err[512];
		struct conf	*c = conf_load(path, true, err, sizeof(err));

		assert_non_null(c);
		assert_int_equal(strlen(c->ws[0].token), 4096);
		conf_free(c);
	}
	token_setup("x", 0600, "", 0600, path, sizeof(path));
	snprintf(big, sizeof(big), "%s/acme.token", tmpdir);
	unlink(big);
	assert_load_fails(path, true, "acme.token: No such file or directory");
}

static void
test_token_precedence(void **state)
{
	char		 path[512], err[512];
	struct conf	*c;

	(void)state;
	/* env > token_file > token */
	setenv("CALLSYNC_TOKEN_ACME", "from-env\n", 1);
	token_setup("from-file\n", 0600, "token = from-inline\n", 0600, path,
	    sizeof(path));
	assert_non_null(c = conf_load(path, true, err, sizeof(err)));
	assert_string_equal(c->ws[0].token, "from-env");
	conf_free(c);
	unsetenv("CALLSYNC_TOKEN_ACME");
	assert_non_null(c = conf_load(path, true, err, sizeof(err)));
	assert_string_equal(c->ws[0].token, "from-file");
	conf_free(c);
	write_file(path, sizeof(path), "tok.conf", "[workspace acme]\n"
	    "admin_id = 1\ntoken = from-inline\n", 0600);
	assert_non_null(c = conf_load(path, true, err, sizeof(err)));
	assert_string_equal(c->ws[0].token, "from-inline");
	conf_free(c);
	/* The inline token is there even when tokens are not loaded. */
	assert_non_null(c = conf_load(path, false, err, sizeof(err)));
	assert_string_equal(c->ws[0].token, "from-inline");
	conf_free(c);
	/* An empty variable counts as unset. */
	setenv("CALLSYNC_TOKEN_ACME", "", 1);
	assert_non_null(c = conf_load(path, true, err, sizeof(err)));
	assert_string_equal(c->ws[0].token, "from-inline");
	conf_free(c);
	/* Name mapping: upper case, other than [A-Z0-9] -> '_'. */
	setenv("CALLSYNC_TOKEN_MY_WS_2", "dashed", 1);
	write_file(path, sizeof(path), "tok.conf", "[workspace my-ws.2]\n"
	    "admin_id = 1\n", 0600);
	assert_non_null(c = conf_load(path, true, err, sizeof(err)));
	assert_string_equal(c->ws[0].token, "dashed");
	conf_free(c);
	unsetenv("CALLSYNC_TOKEN_MY_WS_2");
	setenv("CALLSYNC_TOKEN_ACME", "tok_Zq9SECRET\tx", 1);
	write_file(path, sizeof(path), "tok.conf", "[workspace acme]\n"
	    "admin_id = 1\n", 0600);
	assert_load_fails(path, true, ":1: [workspace acme] "
	    "CALLSYNC_TOKEN_ACME: token from the environment contains "
	    "control characters");
	unsetenv("CALLSYNC_TOKEN_ACME");
}

static void
test_token_missing(void **state)
{
	char	 path[512];

	(void)state;
	unsetenv("CALLSYNC_TOKEN_ACME");
	write_file(path, sizeof(path), "tok.conf", "[workspace ok]\n"
	    "admin_id = 1\ntoken = x\n\n[workspace acme]\nadmin_id = 1\n",
	    0600);
	assert_load_fails(path, true, ":5: [workspace acme] token: no token: "
	    "set token_file, token or CALLSYNC_TOKEN_ACME");
}

static void
test_token_inline_mode(void **state)
{
	char		 path[512], want[1024], err[512];
	struct conf	*c;

	(void)state;
	write_file(path, sizeof(path), "tok.conf", "[workspace acme]\n"
	    "admin_id = 1\n\ntoken = " SECRET "\n", 0644);
	snprintf(want, sizeof(want), "tok.conf:4: [workspace acme] token: "
	    "%s holds an inline token but its mode 0644 allows group or "
	    "other access", path);
	assert_load_fails(path, false, want);
	write_file(path, sizeof(path), "tok.conf", "[workspace acme]\n"
	    "admin_id = 1\n\ntoken = " SECRET "\n", 0600);
	assert_non_null(c = conf_load(path, false, err, sizeof(err)));
	assert_string_equal(c->ws[0].token, SECRET);
	conf_free(c);
	/* Bad inline token: the message does not repeat it. */
	write_file(path, sizeof(path), "tok.conf", "[workspace acme]\n"
	    "admin_id = 1\ntoken = " SECRET "\t" SECRET "\n", 0600);
	assert_load_fails(path, false, ":3: [workspace acme] token: token "
	    "longer than 4096 bytes or with control characters");
	/* Misspelt key with a secret value: the value is not shown. */
	write_file(path, sizeof(path), "tok.conf", "[workspace acme]\n"
	    "admin_id = 1\ntokn = " SECRET "\n", 0600);
	assert_load_fails(path, false, ":3: [workspace acme] tokn: unknown "
	    "key");
}

static void
test_token_reload(void **state)
{
	char		 path[512], tokpath[512], err[512];
	struct conf	*c;

	(void)state;
	unsetenv("CALLSYNC_TOKEN_ACME");
	token_setup("first\n", 0600, "", 0600, path, sizeof(path));
	assert_non_null(c = conf_load(path, true, err, sizeof(err)));
	assert_string_equal(c->ws[0].token, "first");
	write_file(tokpath, sizeof(tokpath), "acme.token", "second\n", 0600);
	assert_int_equal(conf_ws_load_token(&c->ws[0], err, sizeof(err)), 0);
	assert_string_equal(c->ws[0].token, "second");
	/* A failed reload keeps the old token and says why. */
	write_file(tokpath, sizeof(tokpath), "acme.token", SECRET "\n", 0666);
	assert_int_equal(conf_ws_load_token(&c->ws[0], err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[workspace acme] token_file: "));
	assert_non_null(strstr(err, "mode 0666 allows group or other"));
	assert_null(strstr(err, "SECRET"));
	assert_string_equal(c->ws[0].token, "second");
	conf_free(c);
}

static int
setup(void **state)
{
	(void)state;
	umask(022);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* poll_share (docs/contract.md section 6): accepted, 0..100, default 0. */
static void
test_poll_share(void **state)
{
	char		 path[512], err[1024];
	struct conf	*c;

	(void)state;
	write_file(path, sizeof(path), "ps.conf",
	    "[workspace a]\nadmin_id = 1\n", 0600);
	assert_non_null(c = conf_load(path, false, err, sizeof(err)));
	assert_int_equal(c->ws[0].poll_share, 0);
	conf_free(c);
	write_file(path, sizeof(path), "ps.conf",
	    "[workspace a]\nadmin_id = 1\npoll_share = 5\n", 0600);
	assert_non_null(c = conf_load(path, false, err, sizeof(err)));
	assert_int_equal(c->ws[0].poll_share, 5);
	conf_free(c);
	write_file(path, sizeof(path), "ps.conf",
	    "[workspace a]\nadmin_id = 1\npoll_share = 101\n", 0600);
	assert_null(conf_load(path, false, err, sizeof(err)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_http_loopback),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_errors_listed),
		cmocka_unit_test(test_inline_errors),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_poll_share),
		cmocka_unit_test(test_line_numbers),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_inih_leftovers),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_token_file_mode),
		cmocka_unit_test(test_token_file_ok),
		cmocka_unit_test(test_token_file_bad),
		cmocka_unit_test(test_token_precedence),
		cmocka_unit_test(test_token_missing),
		cmocka_unit_test(test_token_inline_mode),
		cmocka_unit_test(test_token_reload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
