/*
 * t_rules: notifications to call tasks (worker/store/inbox.c inbox_store).
 * One tag application makes one task whatever reports it (retries, new
 * ids, other topics); a new application makes another; the tag name is
 * compared without case and the rule is off without callback_tag;
 * callback_requested makes a task when it turns true, none while it
 * stays true, another after false; a stale event changes nothing and
 * never reopens a done task; the phone comes from the contact, else
 * contact_identity; a ping is stored and ignored; workspaces are apart;
 * contact.merged updates the merge mappings and the open tasks;
 * callback_team makes a task when the conversation's team turns to it;
 * callback_note one per admin note holding the phrase.
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

#define TDB_NAME	"t_rules"
#include "tdb.h"

/* Store one notification; the result, *made tasks. */
static enum inbox_result
store(struct db *d, const struct conf_ws *cw, const char *ws,
    const char *json, int *made)
{
	struct inbox_note	 n;
	enum inbox_result	 r;
	char			 why[128];

	assert_int_equal(inbox_parse(json, strlen(json), &n, why,
	    sizeof(why)), 0);
	assert_int_equal(db_begin(d), 0);
	r = inbox_store(d, cw, ws, &n, "webhook", 1765000000, made);
	assert_int_equal(db_commit(d), 0);
	inbox_note_free(&n);
	return r;
}

#define NOTE(id, topic, item) "{\"type\":\"notification_event\"," \
	"\"app_id\":\"a1\",\"id\":\"" id "\",\"topic\":\"" topic "\"," \
	"\"created_at\":1765000000,\"data\":{\"item\":" item "}}"
#define CONV(id, upd, tag, applied) "{\"type\":\"conversation\",\"id\":\"" \
	id "\",\"updated_at\":" upd ",\"contacts\":{\"contacts\":[{" \
	"\"type\":\"contact\",\"id\":\"k" id "\"}]},\"tags\":{\"type\":" \
	"\"tag.list\",\"tags\":[{\"type\":\"tag\",\"id\":\"1\",\"name\":\"" \
	tag "\",\"applied_at\":" applied "}]}}"

static void
t_tag(void **state)
{
	struct db	*d = *state;
	struct conf_ws	 cw = { .callback_tag = "callback" };
	int		 made;

	assert_int_equal(store(d, &cw, "acme", NOTE("n1",
	    "conversation_part.tag.created", CONV("5", "100", "Callback",
	    "100")), &made), INBOX_NEW);
	assert_int_equal(made, 1);
	/* The same notification again: a duplicate. */
	assert_int_equal(store(d, &cw, "acme", NOTE("n1",
	    "conversation_part.tag.created", CONV("5", "100", "Callback",
	    "100")), &made), INBOX_DUP);
	/* Another notification of the same application (a reply later). */
	assert_int_equal(store(d, &cw, "acme", NOTE("n2",
	    "conversation.admin.replied", CONV("5", "200", "callback",
	    "100")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks"), 1);
	/* Removed and applied again: a new request. */
	assert_int_equal(store(d, &cw, "acme", NOTE("n3",
	    "conversation_part.tag.created", CONV("5", "300", "callback",
	    "300")), &made), INBOX_NEW);
	assert_int_equal(made, 1);
	/* Another tag: nothing. */
	assert_int_equal(store(d, &cw, "acme", NOTE("n4",
	    "conversation_part.tag.created", CONV("6", "300", "vip", "300")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 0);
	/* Another workspace: its own task. */
	assert_int_equal(store(d, &cw, "globex", NOTE("n1",
	    "conversation_part.tag.created", CONV("5", "100", "callback",
	    "100")), &made), INBOX_NEW);
	assert_int_equal(made, 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE "
	    "conversation_id = '5' AND contact_id = 'k5' AND reason = "
	    "'conversation tagged callback'"), 3);
	/* No callback_tag: the rule is off. */
	cw.callback_tag = NULL;
	assert_int_equal(store(d, &cw, "acme", NOTE("n5",
	    "conversation_part.tag.created", CONV("7", "300", "callback",
	    "300")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
}

#define CONTACT(id, upd, val) "{\"type\":\"contact\",\"id\":\"" id "\"," \
	"\"phone\":\"+15550001\",\"email\":\"a@example.com\",\"name\":" \
	"\"A\",\"updated_at\":" upd ",\"custom_attributes\":{" \
	"\"callback_requested\":" val "}}"

static void
t_attribute_and_stale(void **state)
{
	struct db	*d = *state;
	struct conf_ws	 cw = { .callback_tag = "callback" };
	int		 made;

	assert_int_equal(store(d, &cw, "acme", NOTE("c1", "contact.user."
	    "updated", CONTACT("9", "100", "true")), &made), INBOX_NEW);
	assert_int_equal(made, 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE phone = "
	    "'+15550001' AND email = 'a@example.com' AND name = 'A'"), 1);
	/* Still true, a later event: no second task. */
	assert_int_equal(store(d, &cw, "acme", NOTE("c2", "contact.user."
	    "updated", CONTACT("9", "150", "true")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	/* The task is done. */
	assert_int_equal(tasks_finish(d, 1, "done", "called", 1765000000),
	    200);
	assert_int_equal(tasks_finish(d, 1, "done", "again", 1765000000),
	    409);
	/* false later; then a stale true (older than the watermark). */
	assert_int_equal(store(d, &cw, "acme", NOTE("c3", "contact.user."
	    "updated", CONTACT("9", "200", "false")), &made), INBOX_NEW);
	assert_int_equal(store(d, &cw, "acme", NOTE("c4", "contact.user."
	    "updated", CONTACT("9", "120", "true")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM inbox WHERE "
	    "notif_id = 'c4' AND state = 'stale'"), 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE "
	    "contact_id = '9' AND state = 'done'"), 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE "
	    "contact_id = '9'"), 1);
	/* true again, newer: a second request. */
	assert_int_equal(store(d, &cw, "acme", NOTE("c5", "contact.user."
	    "updated", CONTACT("9", "300", "\"true\"")), &made), INBOX_NEW);
	assert_int_equal(made, 1);
	/* A stale tag event never makes a task either. */
	assert_int_equal(store(d, &cw, "acme", NOTE("t1",
	    "conversation_part.tag.created", CONV("8", "500", "other",
	    "500")), &made), INBOX_NEW);
	assert_int_equal(store(d, &cw, "acme", NOTE("t2",
	    "conversation_part.tag.created", CONV("8", "400", "callback",
	    "400")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
}

static void
t_phone_and_ping(void **state)
{
	struct db	*d = *state;
	struct conf_ws	 cw = { .callback_tag = "callback" };
	int		 made;

	assert_int_equal(db_exec(d, "INSERT INTO contact_identity "
	    "(workspace, kind, value, contact_id, source) VALUES ('acme', "
	    "'phone', '+15559990000', 'k42', 'created')"), 0);
	assert_int_equal(store(d, &cw, "acme", NOTE("p1",
	    "conversation_part.tag.created", CONV("42", "100", "callback",
	    "100")), &made), INBOX_NEW);
	assert_int_equal(made, 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE "
	    "contact_id = 'k42' AND phone = '+15559990000'"), 1);
	assert_int_equal(store(d, &cw, "acme", NOTE("ping1", "ping",
	    "{\"type\":\"ping\",\"message\":\"hi\"}"), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM inbox WHERE "
	    "notif_id = 'ping1' AND state = 'ignored'"), 1);
}

static void
t_merge(void **state)
{
	struct db	*d = *state;
	struct conf_ws	 cw = { .callback_tag = "callback" };
	int		 made;

	assert_int_equal(db_exec(d, "INSERT INTO contact_identity "
	    "(workspace, kind, value, contact_id, source) VALUES ('acme', "
	    "'phone', '+15550002', 'lead1', 'created')"), 0);
	assert_int_equal(store(d, &cw, "acme", NOTE("m0",
	    "conversation_part.tag.created", CONV("1", "100", "callback",
	    "100")), &made), INBOX_NEW);
	assert_int_equal(db_exec(d, "UPDATE tasks SET contact_id = 'lead1'"),
	    0);
	assert_int_equal(store(d, &cw, "acme", NOTE("m1", "contact.merged",
	    "{\"type\":\"contact\",\"id\":\"user1\",\"updated_at\":100,"
	    "\"merged_from\":{\"type\":\"contact\",\"id\":\"lead1\"}}"),
	    &made), INBOX_NEW);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM contact_merge WHERE "
	    "from_id = 'lead1' AND into_id = 'user1' AND how = 'webhook'"), 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM contact_identity "
	    "WHERE contact_id = 'user1' AND value = '+15550002'"), 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE "
	    "contact_id = 'user1'"), 1);
}

/* A conversation assigned to team (an integer, as 2.16 sends it). */
#define TEAMCONV(id, upd, team) "{\"type\":\"conversation\",\"id\":\"" \
	id "\",\"updated_at\":" upd ",\"team_assignee_id\":" team "," \
	"\"contacts\":{\"contacts\":[{\"type\":\"contact\",\"id\":\"k" id \
	"\"}]}}"

/*
 * callback_team: a task when the conversation's team turns to it; none
 * while it stays; another after a reassignment away and back; a stale
 * event nothing; off without the key.
 */
static void
t_team(void **state)
{
	struct db	*d = *state;
	struct conf_ws	 cw = { .callback_team = "2001" };
	int		 made;

	assert_int_equal(store(d, &cw, "acme", NOTE("a1",
	    "conversation.admin.assigned", TEAMCONV("20", "100", "2001")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE rule = "
	    "'team' AND conversation_id = '20' AND contact_id = 'k20' AND "
	    "reason = 'conversation assigned to team 2001'"), 1);
	/* The same assignment reported again (a new id, the same time). */
	assert_int_equal(store(d, &cw, "acme", NOTE("a2",
	    "conversation.admin.open.assigned", TEAMCONV("20", "100",
	    "\"2001\"")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	/* Later events while it stays assigned: nothing. */
	assert_int_equal(store(d, &cw, "acme", NOTE("a3",
	    "conversation.admin.noted", TEAMCONV("20", "200", "2001")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 0);
	/* Away (0: unassigned in 2.16), then back: a new request. */
	assert_int_equal(store(d, &cw, "acme", NOTE("a4",
	    "conversation.admin.assigned", TEAMCONV("20", "300", "0")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 0);
	assert_int_equal(store(d, &cw, "acme", NOTE("a5",
	    "conversation.admin.assigned", TEAMCONV("20", "400", "2001")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 1);
	/* Away and back within the same second (updated_at is in seconds):
	 * a new request all the same. */
	assert_int_equal(store(d, &cw, "acme", NOTE("a5b",
	    "conversation.admin.assigned", TEAMCONV("20", "400", "0")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 0);
	assert_int_equal(store(d, &cw, "acme", NOTE("a5c",
	    "conversation.admin.assigned", TEAMCONV("20", "400", "2001")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 1);
	/* A stale assignment event: nothing. */
	assert_int_equal(store(d, &cw, "acme", NOTE("a6",
	    "conversation.admin.assigned", TEAMCONV("20", "350", "2001")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 0);
	/* Another team: nothing; no callback_team: off. */
	assert_int_equal(store(d, &cw, "acme", NOTE("a7",
	    "conversation.admin.assigned", TEAMCONV("21", "100", "2002")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 0);
	cw.callback_team = NULL;
	assert_int_equal(store(d, &cw, "acme", NOTE("a8",
	    "conversation.admin.assigned", TEAMCONV("22", "100", "2001")),
	    &made), INBOX_NEW);
	assert_int_equal(made, 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks"), 3);
}

/* A conversation whose parts hold one part (type, body, author type). */
#define PARTCONV(id, upd, pid, ptype, body, atype) "{\"type\":" \
	"\"conversation\",\"id\":\"" id "\",\"updated_at\":" upd "," \
	"\"contacts\":{\"contacts\":[{\"type\":\"contact\",\"id\":\"k" id \
	"\"}]},\"conversation_parts\":{\"type\":\"conversation_part.list\"," \
	"\"conversation_parts\":[{\"type\":\"conversation_part\",\"id\":\"" \
	pid "\",\"part_type\":\"" ptype "\",\"body\":\"" body "\"," \
	"\"created_at\":" upd ",\"author\":{\"type\":\"" atype "\"," \
	"\"id\":\"1001\"}}],\"total_count\":1}}"

/*
 * callback_note: an admin note whose text holds the phrase (any case,
 * markup aside) makes one task per note, whatever order or how often it
 * is reported (even in a stale event: a note is a request of its own);
 * a done task is never made again; comments and other notes nothing.
 */
static void
t_note(void **state)
{
	struct db	*d = *state;
	struct conf_ws	 cw = { .callback_note = "please call" };
	int		 made;

	/* Markup, entities, case and spacing aside. */
	assert_int_equal(store(d, &cw, "acme", NOTE("o1",
	    "conversation.admin.noted", PARTCONV("30", "100", "p1", "note",
	    "<p>Customer asks: <b>Please</b>\\n CALL&nbsp;her back</p>",
	    "admin")), &made), INBOX_NEW);
	assert_int_equal(made, 1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE rule = "
	    "'note' AND conversation_id = '30' AND contact_id = 'k30' AND "
	    "reason = 'admin note asks for a call'"), 1);
	/* The same note in a later event: nothing. */
	assert_int_equal(store(d, &cw, "acme", NOTE("o2",
	    "conversation.admin.replied", PARTCONV("30", "300", "p1", "note",
	    "<p>Customer asks: <b>Please</b>\\n CALL&nbsp;her back</p>",
	    "admin")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	/* Done; the same note in a stale event never makes it again. */
	assert_int_equal(tasks_finish(d, 1, "done", "called", 1765000000),
	    200);
	assert_int_equal(store(d, &cw, "acme", NOTE("o3",
	    "conversation.admin.noted", PARTCONV("30", "150", "p1", "note",
	    "<p>Customer asks: <b>Please</b>\\n CALL&nbsp;her back</p>",
	    "admin")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks WHERE state = "
	    "'done'"), 1);
	/* Another note reported late (older than the watermark): a request
	 * of its own all the same. */
	assert_int_equal(store(d, &cw, "acme", NOTE("o4",
	    "conversation.admin.noted", PARTCONV("30", "120", "p2", "note",
	    "please call tomorrow", "admin")), &made), INBOX_NEW);
	assert_int_equal(made, 1);
	/* A customer's comment, a note without the phrase, a phrase split
	 * by other words: nothing. */
	assert_int_equal(store(d, &cw, "acme", NOTE("o5",
	    "conversation.user.replied", PARTCONV("31", "100", "p3",
	    "comment", "please call me", "user")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	assert_int_equal(store(d, &cw, "acme", NOTE("o6",
	    "conversation.admin.noted", PARTCONV("31", "200", "p4", "note",
	    "please do not call", "admin")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	/* No callback_note: off. */
	cw.callback_note = NULL;
	assert_int_equal(store(d, &cw, "acme", NOTE("o7",
	    "conversation.admin.noted", PARTCONV("32", "100", "p5", "note",
	    "please call", "admin")), &made), INBOX_NEW);
	assert_int_equal(made, 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks"), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TDB_TEST(t_tag),
		TDB_TEST(t_attribute_and_stale),
		TDB_TEST(t_phone_and_ping),
		TDB_TEST(t_merge),
		TDB_TEST(t_team),
		TDB_TEST(t_note),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
