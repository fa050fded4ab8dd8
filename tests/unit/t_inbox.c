/*
 * t_inbox: parsing a notification (worker/store/inbox.c inbox_parse), the
 * inbox's retention (inbox_prune), the app -> workspace map, and the
 * task store's claim, lease and finish rules (worker/api/tasks.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "db.h"
#include "inbox.h"
#include "tasks.h"

#define TDB_NAME	"t_inbox"
#include "tdb.h"

static int
parse(const char *s, struct inbox_note *n)
{
	char	 why[128];

	return inbox_parse(s, strlen(s), n, why, sizeof(why));
}

static void
t_parse(void **state)
{
	struct inbox_note	 n;

	(void)state;
	assert_int_equal(parse("{\"type\":\"notification_event\",\"id\":"
	    "\"notif_1\",\"topic\":\"contact.user.updated\",\"app_id\":\"a1\","
	    "\"created_at\":10,\"data\":{\"item\":{\"type\":\"contact\","
	    "\"id\":123,\"updated_at\":20}}}", &n), 0);
	assert_string_equal(n.id, "notif_1");
	assert_string_equal(n.topic, "contact.user.updated");
	assert_string_equal(n.app_id, "a1");
	assert_string_equal(n.item_type, "contact");
	assert_string_equal(n.item_id, "123");	/* a numeric id as text */
	assert_int_equal(n.created_at, 10);
	assert_int_equal(n.event_at, 20);	/* updated_at orders events */
	inbox_note_free(&n);
	/* No item: still a notification; event_at is created_at. */
	assert_int_equal(parse("{\"type\":\"notification_event\",\"id\":"
	    "\"n\",\"topic\":\"ping\",\"app_id\":\"a1\",\"created_at\":10,"
	    "\"data\":{}}", &n), 0);
	assert_null(n.item);
	assert_int_equal(n.event_at, 10);
	inbox_note_free(&n);
	/* Not notifications. */
	assert_int_equal(parse("nope", &n), -1);
	assert_int_equal(parse("[]", &n), -1);
	assert_int_equal(parse("{\"type\":\"conversation\",\"id\":\"n\","
	    "\"topic\":\"t\",\"app_id\":\"a\",\"created_at\":1,\"data\":{}}",
	    &n), -1);
	assert_int_equal(parse("{\"type\":\"notification_event\",\"topic\":"
	    "\"t\",\"app_id\":\"a\",\"created_at\":1,\"data\":{}}", &n), -1);
	assert_int_equal(parse("{\"type\":\"notification_event\",\"id\":"
	    "\"n\",\"topic\":\"t\",\"created_at\":1,\"data\":{}}", &n), -1);
	assert_int_equal(parse("{\"type\":\"notification_event\",\"id\":"
	    "\"n\",\"topic\":\"t\",\"app_id\":\"a\",\"created_at\":\"1\","
	    "\"data\":{}}", &n), -1);
	assert_int_equal(parse("{\"type\":\"notification_event\",\"id\":"
	    "\"n\",\"topic\":\"t\",\"app_id\":\"a\",\"created_at\":1}", &n),
	    -1);
	/* Duplicate keys would let two readers see two notifications. */
	assert_int_equal(parse("{\"type\":\"notification_event\",\"id\":"
	    "\"n\",\"id\":\"m\",\"topic\":\"t\",\"app_id\":\"a\","
	    "\"created_at\":1,\"data\":{}}", &n), -1);
}

static void
t_prune_and_app(void **state)
{
	struct db	*d = *state;
	char		 ws[64];
	int		 i;
	char		 sql[256];

	for (i = 0; i < 1200; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO inbox (workspace, "
		    "notif_id, topic, created_at, event_at, via, received_at) "
		    "VALUES ('acme', 'n%d', 't', 1, 1, 'webhook', %d)", i,
		    i < 1100 ? 1000 : 5000);
		assert_int_equal(db_exec(d, sql), 0);
	}
	assert_int_equal(inbox_prune(d, 2000), 1100);	/* 3 chunks */
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM inbox"), 100);
	assert_int_equal(inbox_app_ws(d, "app1", ws, sizeof(ws)), -1);
	assert_int_equal(inbox_set_app(d, "acme", "app1"), 0);
	assert_int_equal(inbox_set_app(d, "acme", "app1"), 0);
	assert_int_equal(inbox_app_ws(d, "app1", ws, sizeof(ws)), 0);
	assert_string_equal(ws, "acme");
	assert_int_equal(inbox_set_app(d, "acme", "app2"), 0);
	assert_int_equal(inbox_app_ws(d, "app1", ws, sizeof(ws)), -1);
}

static void
add(struct db *d, const char *ws, const char *dedupe, int prio, int due)
{
	char	 sql[300];

	snprintf(sql, sizeof(sql), "INSERT INTO tasks (workspace, dedupe, "
	    "rule, reason, priority, due_at) VALUES ('%s', '%s', 'tag', 'r', "
	    "%d, %d)", ws, dedupe, prio, due);
	assert_int_equal(db_exec(d, sql), 0);
}

static const char *
tid(json_t *t)
{
	return json_string_value(json_object_get(t, "task_id"));
}

static void
t_tasks(void **state)
{
	struct db	*d = *state;
	json_t		*t, *a;
	int		 found;

	add(d, "acme", "a", 0, 100);		/* 1 */
	add(d, "acme", "b", 5, 100);		/* 2: first (priority) */
	add(d, "globex", "c", 0, 90);		/* 3 */
	add(d, "acme", "later", 9, 5000);	/* 4: not due before 5000 */
	assert_int_equal(tasks_claim(d, NULL, 60, 1000, &t), 1);
	assert_string_equal(tid(t), "2");
	assert_string_equal(json_string_value(json_object_get(t, "state")),
	    "leased");
	assert_int_equal(json_integer_value(json_object_get(t,
	    "lease_until")), 1060);
	json_decref(t);
	assert_int_equal(tasks_claim(d, "acme", 60, 1000, &t), 1);
	assert_string_equal(tid(t), "1");
	json_decref(t);
	assert_int_equal(tasks_claim(d, "acme", 60, 1000, &t), 0);
	assert_null(t);
	assert_int_equal(tasks_claim(d, NULL, 60, 1000, &t), 1);
	assert_string_equal(tid(t), "3");
	json_decref(t);
	/* Task 2's lease runs out at 1060: due again (reads "due"). */
	t = tasks_get(d, 2, 1061, &found);
	assert_string_equal(json_string_value(json_object_get(t, "state")),
	    "due");
	assert_true(json_is_null(json_object_get(t, "lease_until")));
	json_decref(t);
	assert_int_equal(tasks_claim(d, NULL, 60, 1061, &t), 1);
	assert_string_equal(tid(t), "2");
	json_decref(t);
	/* Done: final, never claimed again, 409 on a second done. */
	assert_int_equal(tasks_finish(d, 2, "done", "ok", 1062), 200);
	assert_int_equal(tasks_finish(d, 2, "done", "ok", 1063), 409);
	assert_int_equal(tasks_finish(d, 2, "due", NULL, 1063), 409);
	assert_int_equal(tasks_finish(d, 99, "done", NULL, 1063), 404);
	assert_int_equal(tasks_claim(d, NULL, 60, 4000, &t), 1);
	assert_string_not_equal(tid(t), "2");
	json_decref(t);
	/* Release: due at once. */
	assert_int_equal(tasks_finish(d, 1, "due", NULL, 4000), 200);
	assert_int_equal(tasks_claim(d, NULL, 60, 4000, &t), 1);
	assert_string_equal(tid(t), "1");
	json_decref(t);
	/* Cancel and fail are final too. */
	assert_int_equal(tasks_finish(d, 4, "cancelled", NULL, 4000), 200);
	assert_int_equal(tasks_claim(d, NULL, 60, 6000, &t), 1);
	assert_string_not_equal(tid(t), "4");
	json_decref(t);
	a = tasks_list(d, "done", 6000, 10);
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
	a = tasks_due_counts(d, 6000);
	assert_non_null(a);
	json_decref(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_parse),
		TDB_TEST(t_prune_and_app),
		TDB_TEST(t_tasks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
