-- 0015_poll: polling into the inbox, for sites Intercom's webhooks cannot
-- reach and to heal what webhooks missed (worker/poller.h).

-- What a notification says about its object, whoever sent it:
-- "<item type>:<item id>:<updated_at>:<hash of what the rules read:
-- tags, callback_requested, team, parts>".  A poll stores a state once (its
-- notification id is "poll:" and this key), and a webhook of a state that
-- polling stored already is a duplicate, so one event is one entry
-- however it came.  NULL for notifications about anything else, and for
-- rows stored before 0015.
ALTER TABLE inbox ADD COLUMN event_key TEXT;
CREATE INDEX inbox_event ON inbox (workspace, event_key)
	WHERE event_key IS NOT NULL;

-- Per workspace and kind, the newest updated_at polling has read and
-- committed.  A round reads what changed since watermark - search_lag
-- (Intercom's search lags writes), newest first, and moves the watermark
-- in the transaction of its last page; a restart goes on from here.
CREATE TABLE poll_watermark (
	workspace    TEXT    NOT NULL,
	kind         TEXT    NOT NULL CHECK (kind IN ('conversation', 'contact')),
	watermark    INTEGER NOT NULL,              -- unix s, Intercom's updated_at
	updated_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, kind)
);
