-- 0004_workers: one row per running callsyncd, for callsync status and
-- /metrics.  Inserted at start, heartbeat_at updated every 10 s,
-- deleted on a clean exit; a row left behind by a dead worker is shown
-- as stale (its lock file <database>.owners/<owner> is not held).
CREATE TABLE workers (
	owner        TEXT    PRIMARY KEY,           -- "host:pid:nonce", as lease_owner
	pid          INTEGER NOT NULL,              -- process id (in its own namespace)
	host         TEXT    NOT NULL,              -- gethostname()
	version      TEXT    NOT NULL,              -- callsyncd version
	started_at   INTEGER NOT NULL,              -- unix seconds
	heartbeat_at INTEGER NOT NULL,              -- unix seconds, every ~10 s
	workspaces   TEXT    NOT NULL DEFAULT ''    -- comma list of the workspaces served
);
