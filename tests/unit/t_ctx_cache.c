/*
 * t_ctx_cache: the caller context without the network (worker/store/ctx_cache.c):
 * plain-text snippets, shaping Intercom 2.16 answers into parts (an
 * allow-list of fields), the answer's source/stale rules, and the cache
 * round trip in a temporary database (parts kept per column, the
 * worker's own conversation first, prune by age, workspaces apart), and
 * merges and warm-up selection (lookups follow merge mappings, a 410's
 * Link recorded as the drain records it, the recent callers due).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctx_cache.h"
#include "db.h"
#include "ident.h"

static void
t_plain_text(void **state)
{
	char	 out[32];

	(void)state;
	ctx_plain_text("<p>Your <b>invoice</b> &amp; refund</p>", out,
	    sizeof(out));
	assert_string_equal(out, "Your invoice & refund");
	ctx_plain_text("a\n\n\tb   c<br/>d", out, sizeof(out));
	assert_string_equal(out, "a b c d");
	ctx_plain_text("&lt;script&gt; &#39;x&#39; &unknown;", out,
	    sizeof(out));
	assert_string_equal(out, "<script> 'x' &unknown;");
	ctx_plain_text("<p unterminated", out, sizeof(out));
	assert_string_equal(out, "");
	ctx_plain_text(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	/* Cut on a UTF-8 boundary: "é" is two bytes and must not be split. */
	ctx_plain_text("abcdé", out, 6);
	assert_string_equal(out, "abcd");
}

static void
t_shape_contact(void **state)
{
	struct conf_ws	 cw;
	char		*allowed[] = { "plan_interest" };
	char		*extra[] = { "tier" };
	json_t		*c, *s;

	(void)state;
	memset(&cw, 0, sizeof(cw));
	memcpy(cw.allowed_attributes, allowed, sizeof(allowed));
	cw.nallowed_attributes = 1;
	memcpy(cw.context_attributes, extra, sizeof(extra));
	cw.ncontext_attributes = 1;
	c = json_loads("{\"id\":\"665f00000000000000001000\",\"role\":\"user\","
	    "\"name\":\"Ada\",\"email\":\"ada@example.com\",\"phone\":"
	    "\"+15550001111\",\"custom_attributes\":{\"last_call_nps\":9,"
	    "\"plan_interest\":\"pro\",\"tier\":\"gold\",\"secret\":\"no\","
	    "\"nested\":{\"a\":1}},\"tags\":{\"data\":[{\"id\":\"7\",\"name\":"
	    "\"vip\"},{\"id\":\"8\"}]},\"location\":{\"city\":\"x\"}}", 0, NULL);
	s = ctx_shape_contact(c, &cw);
	assert_non_null(s);
	assert_string_equal(json_string_value(json_object_get(s, "name")),
	    "Ada");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(s,
	    "attributes"), "last_call_nps")), 9);
	assert_non_null(json_object_get(json_object_get(s, "attributes"),
	    "tier"));
	/* Only callsync's, allowed and configured attributes. */
	assert_null(json_object_get(json_object_get(s, "attributes"),
	    "secret"));
	assert_null(json_object_get(s, "location"));
	assert_int_equal(json_array_size(json_object_get(s, "tags")), 2);
	assert_true(json_is_null(json_object_get(json_array_get(
	    json_object_get(s, "tags"), 1), "name")));
	json_decref(s);
	json_decref(c);
	assert_null(ctx_shape_contact(NULL, &cw));
}

static void
t_shape_lists(void **state)
{
	json_t		*a, *s;
	const char	*link;

	(void)state;
	a = json_loads("{\"conversations\":[{\"id\":\"1\",\"state\":\"closed\","
	    "\"updated_at\":30,\"source\":{\"body\":\"<p>c</p>\"}},"
	    "{\"id\":\"2\",\"state\":\"open\",\"updated_at\":20,"
	    "\"admin_assignee_id\":1002,\"source\":{\"body\":\"o\"}},"
	    "{\"id\":\"3\",\"state\":\"snoozed\",\"updated_at\":10}]}", 0, NULL);
	s = ctx_shape_conversations(a, "abc123", 2);
	assert_int_equal(json_array_size(s), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(s,
	    0), "id")), "2");	/* open first */
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_array_get(s, 0), "assignee"), "id")), "1002");
	link = json_string_value(json_object_get(json_array_get(s, 0),
	    "link"));
	assert_string_equal(link, "https://app.intercom.com/a/inbox/abc123/"
	    "inbox/conversation/2");
	assert_string_equal(json_string_value(json_object_get(json_array_get(s,
	    1), "snippet")), "c");
	json_decref(s);
	s = ctx_shape_conversations(a, "", 5);
	assert_true(json_is_null(json_object_get(json_array_get(s, 0),
	    "link")));
	json_decref(s);
	json_decref(a);

	a = json_loads("{\"tickets\":[{\"id\":\"5\",\"ticket_state\":{"
	    "\"category\":\"resolved\"}},{\"id\":\"6\",\"ticket_state\":{"
	    "\"category\":\"submitted\",\"internal_label\":\"New\"},"
	    "\"ticket_type\":{\"name\":\"Bug\"},\"ticket_attributes\":{"
	    "\"_default_title_\":\"Crash\"}},{\"id\":\"7\",\"open\":false}]}",
	    0, NULL);
	s = ctx_shape_tickets(a);
	assert_int_equal(json_array_size(s), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(s,
	    0), "title")), "Crash");
	json_decref(s);
	json_decref(a);

	a = json_loads("{\"type\":\"list\",\"data\":[{\"id\":\"c1\",\"name\":"
	    "\"Adaco\",\"plan\":{\"name\":\"Pro\"},\"monthly_spend\":250.5}]}",
	    0, NULL);
	s = ctx_shape_company(a, NULL);
	assert_string_equal(json_string_value(json_object_get(s, "plan")),
	    "Pro");
	json_decref(s);
	json_decref(a);
	a = json_loads("{\"companies\":[]}", 0, NULL);
	s = ctx_shape_company(a, NULL);
	assert_true(json_is_null(s));	/* no company: null, not missing */
	json_decref(s);
	json_decref(a);
}

static void
t_answer(void **state)
{
	struct ctx_parts p;
	json_t		*o;

	(void)state;
	memset(&p, 0, sizeof(p));
	o = ctx_answer("acme", NULL, &p, true, 1000, 300);
	assert_true(json_is_null(json_object_get(o, "contact")));
	assert_string_equal(json_string_value(json_object_get(o, "source")),
	    "live");
	assert_false(json_is_true(json_object_get(o, "stale")));
	json_decref(o);
	p.v[CTX_CONTACT] = json_pack("{s:s}", "id", "x");
	p.at[CTX_CONTACT] = 1000;
	p.live[CTX_CONTACT] = true;
	p.v[CTX_CONVERSATIONS] = json_array();
	p.at[CTX_CONVERSATIONS] = 500;		/* cached, older than ttl */
	o = ctx_answer("acme", "x", &p, true, 1000, 300);
	assert_string_equal(json_string_value(json_object_get(o, "source")),
	    "cache");
	assert_true(json_is_true(json_object_get(o, "stale")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    o, "sources"), "tickets")), "none");
	assert_string_equal(json_string_value(json_object_get(o, "as_of")),
	    "1970-01-01T00:08:20Z");
	json_decref(o);
	ctx_parts_clear(&p);
}

/* A fresh database in a temp file: its path in dbp (80 bytes). */
static void
tmp_db_open(struct db *d, const char *pfx, char *dbp)
{
	char	 path[48], err[256];
	int	 fd;

	snprintf(path, sizeof(path), "/tmp/%s.XXXXXX", pfx);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(dbp, 80, "%s.db", path);
	memset(d, 0, sizeof(*d));
	assert_int_equal(db_open(d, dbp, DB_OPEN_CREATE, err, sizeof(err)), 0);
}

/* Close it and remove the file with its -wal and -shm. */
static void
tmp_db_close(struct db *d, const char *dbp)
{
	char	 side[96];

	db_close(d);
	unlink(dbp);
	snprintf(side, sizeof(side), "%s-wal", dbp);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", dbp);
	unlink(side);
}

static void
t_cache(void **state)
{
	struct db	 d;
	struct ctx_parts p;
	char		 dbp[80], id[64];
	int64_t		 rows, bytes;

	(void)state;
	tmp_db_open(&d, "t_ctx_cache", dbp);
	assert_int_equal(ctx_cache_learn(&d, "acme", "phone", "+15550001111",
	    "c1", time(NULL)), 0);
	assert_int_equal(ctx_cache_lookup(&d, "acme", "phone", "+15550001111",
	    0, id, sizeof(id)), 1);
	assert_int_equal(ctx_cache_lookup(&d, "acme", "phone", "+15550001111",
	    time(NULL) + 10, id, sizeof(id)), 0);	/* too old */
	assert_string_equal(id, "c1");
	assert_int_equal(ctx_cache_lookup(&d, "beta", "phone", "+15550001111",
	    0, id, sizeof(id)), 0);
	memset(&p, 0, sizeof(p));
	p.v[CTX_CONTACT] = json_pack("{s:s}", "id", "c1");
	p.live[CTX_CONTACT] = true;
	assert_int_equal(ctx_cache_put(&d, "acme", "c1", &p), 0);
	ctx_parts_clear(&p);
	/* Our own conversation: first, and the contact part kept. */
	assert_int_equal(ctx_cache_own_conversation(&d, "acme", "app1", "c1",
	    "77", "Call about <b>x</b>", 5), 0);
	assert_int_equal(ctx_cache_own_conversation(&d, "acme", "app1", "c1",
	    "77", "Call about <b>x</b>", 5), 0);
	assert_int_equal(ctx_cache_get(&d, "acme", "c1", 0, &p), 1);
	assert_non_null(p.v[CTX_CONTACT]);
	assert_int_equal(json_array_size(p.v[CTX_CONVERSATIONS]), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    p.v[CTX_CONVERSATIONS], 0), "snippet")), "Call about <b>x</b>");
	ctx_parts_clear(&p);
	assert_int_equal(ctx_cache_get(&d, "beta", "c1", 0, &p), 0);
	assert_int_equal(ctx_cache_size(&d, &rows, &bytes), 0);
	assert_int_equal(rows, 1);
	assert_true(bytes > 0);
	assert_int_equal(ctx_cache_prune(&d, time(NULL) - 60), 0);
	assert_int_equal(ctx_cache_prune(&d, time(NULL) + 60), 2);
	assert_int_equal(ctx_cache_get(&d, "acme", "c1", 0, &p), 0);
	tmp_db_close(&d, dbp);
}

static void
t_merge_warm(void **state)
{
	struct db	 d;
	struct ctx_parts p;
	char		 dbp[80], id[64], into[25], ids[8][64];
	const char	*u = "665f00000000000000000002";
	int		 i;
	int64_t		 now = (int64_t)time(NULL);

	(void)state;
	tmp_db_open(&d, "t_ctx_merge", dbp);
	/* A 410's Link: merge recorded, map moved, lookups follow it. */
	assert_int_equal(ident_learn(&d, "acme", "phone", "+15550001111", "c1",
	    "lead", "created"), 0);
	assert_int_equal(ctx_cache_learn(&d, "acme", "email", "a@example.com",
	    "c1", now), 0);
	assert_int_equal(ident_gone_link(&d, "acme", "c1", "", into), 0);
	assert_int_equal(ident_gone_link(&d, "acme", "c1", NULL, into), 0);
	assert_int_equal(ident_gone_link(&d, "acme", "c1",
	    "</contacts/665f00000000000000000002>; rel=\"canonical\"", into),
	    1);
	assert_string_equal(into, u);
	assert_int_equal(ident_follow(&d, "acme", "c1", id, sizeof(id)), 1);
	assert_string_equal(id, u);
	assert_int_equal(ctx_cache_lookup(&d, "acme", "email", "a@example.com",
	    0, id, sizeof(id)), 1);
	assert_string_equal(id, u);
	/* unlearn: a vanished contact's lookups go. */
	assert_int_equal(ctx_cache_learn(&d, "acme", "phone", "+15550002222",
	    "gone", now), 0);
	assert_int_equal(ctx_cache_unlearn(&d, "acme", "gone"), 0);
	assert_int_equal(ctx_cache_lookup(&d, "acme", "phone", "+15550002222",
	    0, id, sizeof(id)), 0);
	/* Warm-up: the last delivered calls' contacts, newest first. */
	assert_int_equal(db_exec(&d, "INSERT INTO outbox (id, workspace, "
	    "record_key, payload, state) VALUES (1, 'acme', 'k1', '{}', "
	    "'done'), (2, 'acme', 'k2', '{}', 'done'), (3, 'acme', 'k3', '{}', "
	    "'pending'), (4, 'beta', 'k4', '{}', 'done'), (5, 'acme', 'k5', "
	    "'{}', 'done'); INSERT INTO journal (outbox_id, step, intercom_id) "
	    "VALUES (1, 'contact', 'c1'), (2, 'contact', 'c2'), (3, 'contact', "
	    "'c3'), (4, 'contact', 'c4'), (5, 'contact', 'c1'), "
	    "(5, 'conversation', '99')"), 0);
	assert_int_equal(ctx_cache_recent(&d, "acme", 10, ids, 8), 2);
	assert_string_equal(ids[0], "c1");
	assert_string_equal(ids[1], "c2");
	assert_int_equal(ctx_cache_recent(&d, "acme", 1, ids, 8), 1);
	assert_int_equal(ctx_cache_recent(&d, "acme", 10, ids, 1), 1);
	/* Due: mapped, cache missing or a part older than min_at. */
	assert_int_equal(ctx_cache_warm_due(&d, "acme", u, now - 60), 1);
	assert_int_equal(ctx_cache_warm_due(&d, "acme", "c2", now - 60), 0);
	memset(&p, 0, sizeof(p));
	for (i = 0; i < CTX_NPARTS; i++) {
		p.v[i] = json_object();
		p.live[i] = true;
	}
	assert_int_equal(ctx_cache_put(&d, "acme", u, &p), 0);
	ctx_parts_clear(&p);
	assert_int_equal(ctx_cache_warm_due(&d, "acme", u, now - 60), 0);
	assert_int_equal(ctx_cache_warm_due(&d, "acme", u, now + 60), 1);
	assert_int_equal(ctx_cache_warm_due(&d, "beta", u, now - 60), 0);
	tmp_db_close(&d, dbp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_plain_text),
		cmocka_unit_test(t_shape_contact),
		cmocka_unit_test(t_shape_lists),
		cmocka_unit_test(t_answer),
		cmocka_unit_test(t_cache),
		cmocka_unit_test(t_merge_warm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
