/*
 * t_poll: one event, one inbox entry, whichever way it came
 * (worker/store/inbox.c inbox_event_key and inbox_store, as worker/api/poller.c
 * uses them).  The event key is the same for a webhook's item and a
 * poll's read of one state, whatever the order of the tags, and differs
 * when the tags or callback_requested differ in the same second; a poll
 * of a key stored before (by poll or webhook) is a duplicate, a webhook
 * of a key a poll stored is one (a merge is not), two webhooks of one
 * state keep their two ids (as before polling); one task each way.
 * And polling's watermarks (table poll_watermark), kept beside the
 * inbox.
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

#define TDB_NAME	"t_poll"
#include "tdb.h"

#define NOTE(id, topic, item) "{\"type\":\"notification_event\"," \
	"\"app_id\":\"a1\",\"id\":\"" id "\",\"topic\":\"" topic "\"," \
	"\"created_at\":1765000000,\"data\":{\"item\":" item "}}"
#define TAG(name, at) "{\"type\":\"tag\",\"id\":\"1\",\"name\":\"" name \
	"\",\"applied_at\":" at "}"
#define CONV(id, upd, tags) "{\"type\":\"conversation\",\"id\":\"" id \
	"\",\"updated_at\":" upd ",\"contacts\":{\"contacts\":[{\"type\":" \
	"\"contact\",\"id\":\"k" id "\"}]},\"tags\":{\"type\":\"tag.list\"," \
	"\"tags\":[" tags "]}}"
#define CONTACT(id, upd, req) "{\"type\":\"contact\",\"id\":\"" id "\"," \
	"\"updated_at\":" upd ",\"phone\":\"+15550100\",\"custom_attributes\"" \
	":{\"callback_requested\":" req "}}"

/* Store json as poller.c does (via poll, id "poll:" + key) or as a
 * webhook; the result, *made tasks. */
static enum inbox_result
store(struct db *d, const char *json, bool poll, int *made)
{
	struct conf_ws		 cw = { .callback_tag = "callback" };
	struct inbox_note	 n;
	enum inbox_result	 r;
	char			 why[128], key[INBOX_EVENT_KEY_MAX], id[256];

	assert_int_equal(inbox_parse(json, strlen(json), &n, why,
	    sizeof(why)), 0);
	if (poll) {
		assert_true(inbox_event_key(&n, key, sizeof(key)));
		snprintf(id, sizeof(id), "poll:%s", key);
		n.id = id;
		n.topic = "poll.conversation";
	}
	assert_int_equal(db_begin(d), 0);
	r = inbox_store(d, &cw, "acme", &n, poll ? "poll" : "webhook",
	    1765000000, made);
	if (r == INBOX_NEW)
		assert_int_equal(db_commit(d), 0);
	else
		db_rollback(d);
	inbox_note_free(&n);
	return r;
}

static void
key_of(const char *json, char *key, size_t keysz)
{
	struct inbox_note	 n;
	char			 why[128];

	assert_int_equal(inbox_parse(json, strlen(json), &n, why,
	    sizeof(why)), 0);
	assert_true(inbox_event_key(&n, key, keysz));
	inbox_note_free(&n);
}

static void
t_key(void **state)
{
	char	 a[INBOX_EVENT_KEY_MAX], b[INBOX_EVENT_KEY_MAX];

	(void)state;
	key_of(NOTE("n1", "x", CONV("5", "100", TAG("callback", "100") ","
	    TAG("vip", "90"))), a, sizeof(a));
	assert_int_equal(strncmp(a, "conversation:5:100:", 19), 0);
	/* Another topic, another id, the tags in another order: the same. */
	key_of(NOTE("n2", "y", CONV("5", "100", TAG("vip", "90") ","
	    TAG("callback", "100"))), b, sizeof(b));
	assert_string_equal(a, b);
	/* A tag applied in the same second: another state. */
	key_of(NOTE("n1", "x", CONV("5", "100", TAG("vip", "90"))), b,
	    sizeof(b));
	assert_string_not_equal(a, b);
	key_of(NOTE("n1", "x", CONTACT("7", "100", "false")), a, sizeof(a));
	key_of(NOTE("n1", "x", CONTACT("7", "100", "true")), b, sizeof(b));
	assert_string_not_equal(a, b);
}

static void
t_one_entry(void **state)
{
	struct db	*d = *state;
	int		 made;

	/* Poll first, then the webhook of the same state: one entry. */
	assert_int_equal(store(d, NOTE("p", "x", CONV("5", "100",
	    TAG("callback", "100"))), true, &made), INBOX_NEW);
	assert_int_equal(made, 1);
	assert_int_equal(store(d, NOTE("n1", "conversation_part.tag.created",
	    CONV("5", "100", TAG("callback", "100"))), false, &made),
	    INBOX_DUP);
	/* A re-read: its id again. */
	assert_int_equal(store(d, NOTE("p", "x", CONV("5", "100",
	    TAG("callback", "100"))), true, &made), INBOX_DUP);
	/* Webhook first, then a poll of that state: one entry. */
	assert_int_equal(store(d, NOTE("n2", "contact.user.updated",
	    CONTACT("7", "200", "true")), false, &made), INBOX_NEW);
	assert_int_equal(made, 1);
	assert_int_equal(store(d, NOTE("p", "x", CONTACT("7", "200", "true")),
	    true, &made), INBOX_DUP);
	/* Two webhooks of one state keep their ids (no poll stored it). */
	assert_int_equal(store(d, NOTE("n3", "contact.user.updated",
	    CONTACT("7", "200", "true")), false, &made), INBOX_NEW);
	assert_int_equal(made, 0);
	/* A later state polled: a new entry, no new task (still true). */
	assert_int_equal(store(d, NOTE("p", "x", CONTACT("7", "300", "true")),
	    true, &made), INBOX_NEW);
	assert_int_equal(made, 0);
	/* A merge is stored even where polling read the survivor's state. */
	assert_int_equal(store(d, "{\"type\":\"notification_event\","
	    "\"app_id\":\"a1\",\"id\":\"n4\",\"topic\":\"contact.merged\","
	    "\"created_at\":1765000000,\"data\":{\"item\":{\"type\":"
	    "\"contact\",\"id\":\"7\",\"updated_at\":300,\"phone\":"
	    "\"+15550100\",\"custom_attributes\":{\"callback_requested\":"
	    "true},\"merged_from\":{\"type\":\"contact\",\"id\":\"9\"}}}}",
	    false, &made), INBOX_NEW);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM inbox"), 5);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM inbox WHERE via = "
	    "'poll'"), 2);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM tasks"), 2);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM inbox WHERE "
	    "event_key IS NULL"), 0);
}

/*
 * Polling's watermarks (inbox_poll_marks, inbox_poll_mark_save, as
 * poller.c's pw_load and pw_store use them): a kind never saved keeps
 * the caller's start; a save moves the one row of its workspace and
 * kind, never back; another workspace's rows are not read.
 */
static void
t_watermarks(void **state)
{
	struct db		*d = *state;
	static const char *const kinds[] = { "conversation", "contact" };
	int64_t			 wm[2];

	wm[0] = wm[1] = 42;
	assert_int_equal(inbox_poll_marks(d, "acme", kinds, wm, 2), 0);
	assert_int_equal(wm[0], 42);
	assert_int_equal(wm[1], 42);
	assert_int_equal(inbox_poll_mark_save(d, "acme", "contact", 1000), 0);
	assert_int_equal(inbox_poll_mark_save(d, "globex", "conversation",
	    3000), 0);
	assert_int_equal(inbox_poll_mark_save(d, "acme", "contact", 2000), 0);
	/* Older than the stored one: it stays. */
	assert_int_equal(inbox_poll_mark_save(d, "acme", "contact", 1500), 0);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM poll_watermark"),
	    2);
	assert_int_equal(tdb_count(d, "SELECT watermark FROM poll_watermark "
	    "WHERE workspace = 'acme' AND kind = 'contact' AND updated_at > 0"),
	    2000);
	wm[0] = wm[1] = 42;
	assert_int_equal(inbox_poll_marks(d, "acme", kinds, wm, 2), 0);
	assert_int_equal(wm[0], 42);
	assert_int_equal(wm[1], 2000);
	/* A kind the table refuses: -1, nothing stored. */
	assert_int_equal(inbox_poll_mark_save(d, "acme", "ticket", 5), -1);
	assert_int_equal(tdb_count(d, "SELECT count(*) FROM poll_watermark"),
	    2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_key),
		TDB_TEST(t_one_entry),
		TDB_TEST(t_watermarks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
