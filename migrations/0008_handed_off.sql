-- 0008_handed_off: records handed to another machine by `callsync export
-- --handoff` get a state of their own, 'handed_off', instead of being dead
-- letters with reason handed_off.  As dead letters they were counted as
-- dead (status, callsync_records_dead, the dead-letter alert) and `dlq
-- replay --all` or `--reason handed_off` delivered here what the other
-- machine had delivered (two conversations with one marker).
--
-- The state's CHECK constraint gains 'handed_off'.  SQLite cannot alter a
-- CHECK, and rebuilding outbox would cascade-delete its journal (foreign
-- keys are on in every callsync connection, and migrations run inside a
-- transaction where they cannot be turned off), so the stored CREATE
-- TABLE text is edited in place as sqlite.org/lang_altertable.html
-- ("otheralter") allows for a constraint that only accepts more: no row
-- changes, and writable_schema=RESET reloads the schema on this
-- connection; the CREATE TABLE below bumps the schema cookie for the
-- others.  The probe row (rolled back) fails the migration if the edit
-- did not take.
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql,
    'CHECK (state IN (''pending'', ''inflight'', ''done'', ''dead''))',
    'CHECK (state IN (''pending'', ''inflight'', ''done'', ''dead'', ''handed_off''))')
    WHERE type = 'table' AND name = 'outbox';
PRAGMA writable_schema = RESET;

-- One row per record in state handed_off: which bundle took it and when.
CREATE TABLE handoff (
	outbox_id    INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
	bundle       TEXT,                          -- the bundle file (-o); NULL: stdout, or before 0008
	created_at   TEXT,                          -- the bundle header's created_at (RFC 3339): names the bundle
	sha256       TEXT,                          -- its checksum trailer; NULL until the handoff completed
	handed_at    INTEGER NOT NULL DEFAULT (unixepoch()),
	operator     TEXT                           -- user@host that ran the export
);

SAVEPOINT probe;
INSERT INTO outbox (workspace, record_key, payload, state)
    VALUES ('-', '0008 probe', '{}', 'handed_off');
ROLLBACK TO probe;
RELEASE probe;

-- Handed-off dead letters of earlier versions move to the new state; the
-- bundle's time is in their message ("handed off in the export bundle of
-- <time>: delivered from another machine").
INSERT INTO handoff (outbox_id, created_at, handed_at)
    SELECT d.outbox_id,
        CASE WHEN d.message LIKE 'handed off in the export bundle of %: %'
        THEN substr(d.message, 36, instr(d.message, ': delivered') - 36) END,
        d.dead_at
    FROM dead_letter d JOIN outbox o ON o.id = d.outbox_id
    WHERE d.reason = 'handed_off' AND o.state = 'dead';
UPDATE outbox SET state = 'handed_off'
    WHERE state = 'dead' AND id IN (SELECT outbox_id FROM handoff);
DELETE FROM dead_letter WHERE outbox_id IN (SELECT outbox_id FROM handoff);
