-- 0016_search_lag: how long Intercom's search takes to show a new
-- object, learned from Intercom (worker/lag.c).  For a sample of the
-- contacts and conversations it created, the worker searches for the new
-- object by id until it shows; each finished sample is one row.  The
-- newest rows of a workspace and kind (LAG_KEEP, 1000) tell when to look
-- first for a write in doubt and how long "not there" waits for search
-- (never longer than search_lag); older rows are deleted as new ones come.
CREATE TABLE search_lag (
	id          INTEGER PRIMARY KEY,
	workspace   TEXT    NOT NULL,
	kind        TEXT    NOT NULL CHECK (kind IN ('contact', 'conversation')),
	object_id   TEXT    NOT NULL,              -- what was searched for (by id)
	created_at  INTEGER NOT NULL DEFAULT (unixepoch()), -- the create's answer (unix s)
	lag_ms      INTEGER,                       -- first search that showed it, ms after
	                                           -- the create's answer; NULL: censored
	lo_ms       INTEGER NOT NULL DEFAULT 0,    -- last search that did not (0: none)
	looks       INTEGER NOT NULL,              -- searches made for it
	censored    INTEGER NOT NULL DEFAULT 0     -- 1: still not shown after lo_ms, given up
	            CHECK (censored IN (0, 1))
);
CREATE INDEX search_lag_recent ON search_lag (workspace, kind, id);
