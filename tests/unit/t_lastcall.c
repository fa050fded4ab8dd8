/*
 * t_lastcall: the newest call per contact (worker/store/lastcall.c).  An older
 * call may not write last_call_* once a newer one did, an equal one may;
 * notes keep the maximum whatever their order; workspaces are apart; a
 * merge carries the newer call to the survivor (directly and through
 * ident_merge); the migration created the table.
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
#include "ident.h"
#include "lastcall.h"

#define TDB_NAME	"t_lastcall"
#include "tdb.h"

/* The recorded (call_at, record_key) of a contact, or call_at -1. */
static int64_t
row(struct db *d, const char *ws, const char *id, char *key, size_t keysz)
{
	sqlite3_stmt	*st;
	int64_t		 at = -1;

	assert_int_equal(sqlite3_prepare_v2(d->h, "SELECT call_at, record_key "
	    "FROM contact_last_call WHERE workspace = ? AND contact_id = ?",
	    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, ws, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		at = sqlite3_column_int64(st, 0);
		if (key != NULL)
			snprintf(key, keysz, "%s", sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	return at;
}

static void
t_schema(void **state)
{
	struct db	*d = *state;

	assert_true(db_version(d) >= 3);
	assert_int_equal(db_exec(d, "SELECT workspace, contact_id, call_at, "
	    "record_key FROM contact_last_call"), 0);
}

static void
t_newer(void **state)
{
	struct db	*d = *state;
	char		 key[64];

	/* Nothing recorded: any call may write. */
	assert_int_equal(lastcall_newer(d, "acme", "c1", 100), 1);
	assert_int_equal(lastcall_newer(d, "acme", "c1", 0), 1);
	assert_int_equal(lastcall_note(d, "acme", "c1", 200, "call-200"), 0);
	assert_int_equal(lastcall_newer(d, "acme", "c1", 100), 0);
	assert_int_equal(lastcall_newer(d, "acme", "c1", 199), 0);
	assert_int_equal(lastcall_newer(d, "acme", "c1", 200), 1);	/* tie */
	assert_int_equal(lastcall_newer(d, "acme", "c1", 201), 1);
	/* Another contact, another workspace: unaffected. */
	assert_int_equal(lastcall_newer(d, "acme", "c2", 100), 1);
	assert_int_equal(lastcall_newer(d, "globex", "c1", 100), 1);
	assert_int_equal(row(d, "acme", "c1", key, sizeof(key)), 200);
	assert_string_equal(key, "call-200");
}

static void
t_note_keeps_max(void **state)
{
	struct db	*d = *state;
	char		 key[64];

	assert_int_equal(lastcall_note(d, "acme", "c1", 300, "call-300"), 0);
	/* An older note (a replay noted late) changes nothing. */
	assert_int_equal(lastcall_note(d, "acme", "c1", 100, "call-100"), 0);
	assert_int_equal(row(d, "acme", "c1", key, sizeof(key)), 300);
	assert_string_equal(key, "call-300");
	/* An equal one keeps the first key. */
	assert_int_equal(lastcall_note(d, "acme", "c1", 300, "call-300b"), 0);
	assert_int_equal(row(d, "acme", "c1", key, sizeof(key)), 300);
	assert_string_equal(key, "call-300");
	assert_int_equal(lastcall_note(d, "acme", "c1", 400, "call-400"), 0);
	assert_int_equal(row(d, "acme", "c1", key, sizeof(key)), 400);
	assert_string_equal(key, "call-400");
	/* Inside a transaction that is rolled back: nothing stays. */
	assert_int_equal(db_begin(d), 0);
	assert_int_equal(lastcall_note(d, "acme", "c1", 500, "call-500"), 0);
	db_rollback(d);
	assert_int_equal(row(d, "acme", "c1", NULL, 0), 400);
}

static void
t_merge(void **state)
{
	struct db	*d = *state;
	char		 key[64];

	/* from newer than into: into takes it; from's row goes. */
	assert_int_equal(lastcall_note(d, "acme", "old", 500, "call-500"), 0);
	assert_int_equal(lastcall_note(d, "acme", "new", 300, "call-300"), 0);
	assert_int_equal(lastcall_follow_merge(d, "acme", "old", "new"), 0);
	assert_int_equal(row(d, "acme", "new", key, sizeof(key)), 500);
	assert_string_equal(key, "call-500");
	assert_int_equal(row(d, "acme", "old", NULL, 0), -1);
	assert_int_equal(lastcall_newer(d, "acme", "new", 400), 0);
	/* from older than into: into keeps its own. */
	assert_int_equal(lastcall_note(d, "acme", "x", 100, "call-100"), 0);
	assert_int_equal(lastcall_follow_merge(d, "acme", "x", "new"), 0);
	assert_int_equal(row(d, "acme", "new", key, sizeof(key)), 500);
	assert_string_equal(key, "call-500");
	/* into had nothing: it takes from's. */
	assert_int_equal(lastcall_note(d, "acme", "y", 700, "call-700"), 0);
	assert_int_equal(lastcall_follow_merge(d, "acme", "y", "z"), 0);
	assert_int_equal(row(d, "acme", "z", NULL, 0), 700);
	/* from had nothing, or merged into itself: no change, no error. */
	assert_int_equal(lastcall_follow_merge(d, "acme", "none", "z"), 0);
	assert_int_equal(lastcall_follow_merge(d, "acme", "z", "z"), 0);
	assert_int_equal(row(d, "acme", "z", NULL, 0), 700);
	/* Other workspaces are untouched. */
	assert_int_equal(lastcall_note(d, "globex", "y2", 900, "g-900"), 0);
	assert_int_equal(lastcall_follow_merge(d, "acme", "y2", "z"), 0);
	assert_int_equal(row(d, "acme", "z", NULL, 0), 700);
	assert_int_equal(row(d, "globex", "y2", NULL, 0), 900);
}

static void
t_ident_merge(void **state)
{
	struct db	*d = *state;

	assert_int_equal(lastcall_note(d, "acme", "a", 800, "call-800"), 0);
	assert_int_equal(lastcall_note(d, "acme", "b", 600, "call-600"), 0);
	assert_int_equal(ident_merge(d, "acme", "a", "b", "webhook"), 0);
	assert_int_equal(row(d, "acme", "b", NULL, 0), 800);
	assert_int_equal(row(d, "acme", "a", NULL, 0), -1);
	assert_int_equal(lastcall_newer(d, "acme", "b", 700), 0);
	assert_int_equal(lastcall_newer(d, "acme", "b", 800), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TDB_TEST(t_schema),
		TDB_TEST(t_newer),
		TDB_TEST(t_note_keeps_max),
		TDB_TEST(t_merge),
		TDB_TEST(t_ident_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
