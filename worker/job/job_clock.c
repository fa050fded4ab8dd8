/*
 * job_clock: a record's times, when the clock that stamped them may have
 * been wrong.
 *
 * A box without a real-time clock boots in 1970 and keeps that date
 * until NTP answers; a producer's INSERT meanwhile gets a 1970
 * enqueued_at (the unixepoch() default), an agent's started_at may read
 * 1970 too, and the worker's own clock may.  A time before the floor (a
 * year before the build date: clock_floor, clock.c) is unknown, not
 * old:
 *
 *   - age (max_age, the delivery-time metric) counts from enqueued_at,
 *     else from the first claim made with a known clock (first_seen_at,
 *     migration 0012), else it is unknown and the record does not expire;
 *   - the conversation is dated when the call happened (started_at),
 *     else when it was enqueued, else at delivery (created_at omitted:
 *     Intercom dates it by its own clock), never 1970;
 *   - a journal row "clock_check" (detail {"warning", ...}, before the
 *     first write, like attr_check) says which time was unknown and what
 *     was done instead; `callsync ls` and `show` print it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "job.h"
#include "log.h"
#include "retry.h"

/* t as RFC 3339 (UTC) into buf. */
static const char *
clk_fmt(int64_t t, char *buf, size_t sz)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sz, "%" PRId64, t);
	return buf;
}

int64_t
job_age_from(const struct job *j)
{
	if (clock_known(j->rec.enqueued_at))
		return j->rec.enqueued_at;
	if (clock_known(j->rec.first_seen_at))
		return j->rec.first_seen_at;
	return 0;
}

int64_t
job_call_time(const struct job *j)
{
	if (j->r.started_at != NULL && clock_known(j->r.started_unix))
		return j->r.started_unix;
	if (clock_known(j->rec.enqueued_at))
		return j->rec.enqueued_at;
	return 0;
}

/* Opens a conversation of its own (not a note on a given one). */
static bool
clk_opens_conversation(const struct job *j)
{
	return j->r.type == REC_CALL && j->r.conversation_id == NULL;
}

int
step_clock_check(struct job *j)
{
	bool	 enq = !clock_known(j->rec.enqueued_at);
	bool	 start = j->r.type == REC_CALL && j->r.started_at != NULL &&
	    !clock_known(j->r.started_unix);
	bool	 known_start = j->r.started_at != NULL && !start;
	json_t	*det;
	char	*text, warn[600], t1[32], t2[32], t3[32];
	int64_t	 from = job_age_from(j), at = job_call_time(j);
	size_t	 n;
	int	 rc;

	if ((!enq && !start) || jn_get(j, "clock_check") != NULL)
		return 1;
	warn[0] = '\0';
	if (enq)
		snprintf(warn, sizeof(warn), "enqueued_at %s is before %s "
		    "(a year before this build), so unknown (a clock not yet "
		    "set?): max_age counts from %s%s",
		    clk_fmt(j->rec.enqueued_at, t1, sizeof(t1)),
		    clk_fmt(clock_floor(), t2, sizeof(t2)),
		    from > 0 ? clk_fmt(from, t3, sizeof(t3)) :
		    "the first claim by a worker whose clock is set",
		    from > 0 ? ", when a worker first claimed it" : "");
	n = strlen(warn);
	if (start)
		snprintf(warn + n, sizeof(warn) - n, "%sstarted_at %s is "
		    "before %s, so unknown", n > 0 ? "; " : "",
		    j->r.started_at, clk_fmt(clock_floor(), t2, sizeof(t2)));
	/* The date of the conversation changes unless started_at is known. */
	n = strlen(warn);
	if (clk_opens_conversation(j) && !known_start)
		snprintf(warn + n, sizeof(warn) - n, "; the conversation is "
		    "dated %s%s", at > 0 ? "when the record was enqueued, " :
		    "at delivery", at > 0 ? clk_fmt(at, t1, sizeof(t1)) : "");
	log_info("%s/%s: %s", ws_name(j->ws), j->rec.record_key, warn);
	det = json_pack("{s:s,s:I}", "warning", warn, "enqueued_at",
	    (json_int_t)j->rec.enqueued_at);
	if (det != NULL && start)
		json_object_set_new(det, "started_at",
		    json_string(j->r.started_at));
	if (det != NULL)
		json_object_set_new(det, "age_from", from > 0 ?
		    json_integer(from) : json_null());
	text = det != NULL ? json_dumps(det, JSON_COMPACT) : NULL;
	json_decref(det);
	if (text == NULL) {
		job_give_back(j, "internal", "out of memory checking times");
		return 0;
	}
	rc = job_commit(j, "clock_check", NULL, text, false, 0, 0);
	free(text);
	return rc == 0;
}
