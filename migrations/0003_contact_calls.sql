-- 0003_contact_calls: the newest call written to each contact's
-- last_call_* attributes, so that an older call (a replayed dead letter)
-- never writes them back to an older value.  See worker/lastcall.c.
CREATE TABLE contact_last_call (
	workspace    TEXT    NOT NULL,
	contact_id   TEXT    NOT NULL,              -- Intercom contact (the survivor after a merge)
	call_at      INTEGER NOT NULL,              -- unix seconds: started_at of that call
	record_key   TEXT    NOT NULL,              -- the record that wrote it
	PRIMARY KEY (workspace, contact_id)
);
