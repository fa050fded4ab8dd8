/*
 * lastcall: the newest call written to each contact's last_call_* custom
 * attributes (table contact_last_call, migration 0003).
 *
 * A replayed dead letter can be older than a call already delivered for
 * the same contact; writing its last_call_* would turn the contact back.
 * Before the attributes step the worker asks lastcall_newer(); when the
 * step's journal row is committed it records the call with lastcall_note()
 * in the same transaction.  Merges carry the newest call to the survivor.
 * All SQL, no network.
 */
#ifndef CALLSYNC_LASTCALL_H
#define CALLSYNC_LASTCALL_H

#include <stdint.h>

#include "db.h"

/*
 * Whether a call at call_at (unix seconds) may write contact_id's
 * last_call_*: 1 when it is at least as new as the newest recorded (or
 * none is recorded), 0 when a newer call was already written, -1 on error.
 */
int	 lastcall_newer(struct db *, const char *ws, const char *contact_id,
	    int64_t call_at);
/*
 * Record that the call record_key at call_at wrote contact_id's
 * last_call_*, keeping the newest (an older call_at changes nothing).
 * Call it inside the transaction that journals the attributes step.
 */
int	 lastcall_note(struct db *, const char *ws, const char *contact_id,
	    int64_t call_at, const char *record_key);
/*
 * Contact from was merged into into: into's newest call becomes the newer
 * of both, and from's row is dropped.  One transaction (nests in the
 * caller's).  0 or -1.
 */
int	 lastcall_follow_merge(struct db *, const char *ws, const char *from,
	    const char *into);

#endif
