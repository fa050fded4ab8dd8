-- schema.sql: the callsync outbox database, complete and commented.
--
-- This is the contract for producers (voice agents) and for anyone reading
-- the database.  It is the sum of migrations/NNNN_*.sql, which are what
-- callsyncd and `callsync init` actually apply; this file must match them
-- table for table and column for column (tests/integration/60_docs.sh
-- checks it).  When a migration is added, update this file in the same
-- change.  Current schema version: 17 (PRAGMA user_version).
--
-- Create a database with `callsync --db FILE init` (mode 0600, WAL), not
-- with this file.  It is nevertheless valid SQL: `sqlite3 new.db <
-- schema/schema.sql` builds the same schema, and the bookkeeping at the end
-- lets callsyncd accept the result.
--
-- Connection settings every client should use:
--   PRAGMA journal_mode = WAL;   -- persistent; init sets it, readers keep it
--   PRAGMA foreign_keys = ON;    -- per connection; the cascades below need it
--   PRAGMA busy_timeout = 5000;  -- per connection; see "Producers" below
--   PRAGMA wal_autocheckpoint = 0;  -- per connection; only callsyncd
--                                   -- checkpoints (see "Checkpoints" below)
--
-- All times are unix seconds (UTC) unless a column says otherwise.
--
-- ======================================================================
-- Producers: the whole interface
-- ======================================================================
--
-- A producer writes three columns of one table, and nothing else:
--
--   INSERT INTO outbox (workspace, record_key, payload)
--   VALUES ('acme', 'call-8f2c', '{"type":"call", ...}')
--   ON CONFLICT (workspace, record_key) DO NOTHING;
--
-- (or: callsync --db /var/lib/callsync/outbox.db enqueue record.json)
--
-- * Busy timeout.  Set one on the connection (sqlite3_busy_timeout(db,
--   5000), `.timeout 5000` in the sqlite3 shell, `timeout=5` in Python).
--   The worker's write transactions are short, so an INSERT waits a few
--   milliseconds at most and never sees SQLITE_BUSY.  Keep your own
--   transactions short too: one INSERT in autocommit is the norm.
-- * Idempotency.  (workspace, record_key) is unique.  Inserting the same
--   key again is a no-op (DO NOTHING), never a second Intercom write, so a
--   producer may re-send after a crash or a doubt.  The first payload is
--   kept; `callsync enqueue` reports a differing one (exit 1).
-- * workspace: the [workspace NAME] of callsync.conf the record goes to.
--   A name no running worker serves waits (pending) for one that does;
--   `callsync status` shows it.
-- * record_key: 1 to 200 characters, unique per workspace.  For a call,
--   normally its call_id; note and reply records need their own key.
-- * payload: one JSON object, described by schema/record.schema.json
--   (types call, note, reply).  A payload that is not valid JSON
--   (json_valid) or is over 1 MiB (1048576 bytes) is refused by the CHECK
--   constraint: the INSERT fails with SQLITE_CONSTRAINT_CHECK.
-- * A payload that is valid JSON but not a valid record is accepted; the
--   worker dead-letters it with a precise reason (missing_field,
--   attribute_not_allowed, ...) before writing anything, and it never
--   blocks the records behind it.  See `callsync dlq ls`.
-- * Never UPDATE or DELETE rows, and never write the other columns: they
--   belong to callsyncd and callsync.
-- * Checkpoints.  Set PRAGMA wal_autocheckpoint = 0 (C:
--   sqlite3_wal_autocheckpoint(db, 0); Python: execute the PRAGMA after
--   connecting) and never run PRAGMA wal_checkpoint.  SQLite 3.7.0 to
--   3.51.2 (Debian 12 ships 3.40.1) has the WAL-reset bug
--   (sqlite.org/wal.html#walresetbug): two connections checkpointing at
--   once while a third commits can corrupt the database.  callsyncd is
--   the only checkpointer, from its one connection; the callsync tool
--   runs with wal_autocheckpoint = 0 too.  The checkpoint SQLite makes
--   when the last connection closes is harmless (no other connection is
--   open then).  `callsync doctor` reports the library and this.
--
-- ======================================================================
-- Record states
-- ======================================================================
--
--   pending  --claim-->  inflight  --all steps done-->  done
--      ^                    |  \
--      |   retry, release   |   \--permanent error, max_attempts,
--      +--------------------+       max_age, invalid record-->  dead
--      |                                                          |
--      +---------------- callsync dlq replay ---------------------+
--
-- * pending: waiting; claimable when next_at <= now and no earlier record
--   of its lane is pending or inflight.  An invalid record goes straight
--   from pending to dead when the worker first sorts it.
-- * inflight: claimed by lease_owner until lease_until.  A charged failure
--   goes back to pending with a later next_at (backoff); an outage, a rate
--   limit, a paused workspace or a shutdown goes back refunded.  A lapsed
--   lease, or a worker found dead at start-up, makes it pending again with
--   in_doubt = 1.
-- * done: every step is in the journal; delivered_at is set.  Removed by
--   `callsync prune` after the retention period.
-- * dead: a dead_letter row says why.  `callsync dlq replay` makes it
--   pending again (attempts 0, journal kept, so nothing is written twice);
--   `callsync dlq purge` deletes it.
-- * handed_off: `callsync export --handoff` put a pending record in a
--   bundle that another machine delivers; a handoff row says which bundle
--   and when.  Not a dead letter: not counted as dead, never replayed by
--   `dlq replay --all`; `dlq replay --key K --force` brings one back
--   (0008).

-- One row per record a producer handed us.  Producers write only
-- (workspace, record_key, payload); every other column belongs to callsyncd.
CREATE TABLE outbox (
	-- Row id, assigned by SQLite; defines enqueue order, hence the order
	-- within a lane.  Written by: SQLite (on INSERT).
	id           INTEGER PRIMARY KEY,
	-- Workspace name, a [workspace NAME] of the config.  Written by: the
	-- producer.  Omitted, it is 'default'.
	workspace    TEXT    NOT NULL DEFAULT 'default',
	-- The producer's key for the record, 1..200 characters, unique per
	-- workspace (idempotency).  Written by: the producer.
	record_key   TEXT    NOT NULL CHECK (length(record_key) BETWEEN 1 AND 200),
	-- The record, one JSON object (schema/record.schema.json), at most
	-- 1 MiB.  Written by: the producer; replaced only by `callsync dlq edit`
	-- (the original kept in payload_history).
	payload      TEXT    NOT NULL
	             CHECK (json_valid(payload) AND length(payload) <= 1048576),
	-- When it was enqueued; max_age counts from here, unless it is
	-- before the floor, a year before the build date (see
	-- first_seen_at).  Written by: the default on INSERT.
	enqueued_at  INTEGER NOT NULL DEFAULT (unixepoch()),
	-- pending, inflight, done, dead or handed_off (see "Record states";
	-- handed_off since 0008).  Written by: callsyncd; callsync dlq replay
	-- sets dead (and, with --force, handed_off) back to pending; callsync
	-- export --handoff sets pending to handed_off.
	state        TEXT    NOT NULL DEFAULT 'pending'
	             CHECK (state IN ('pending', 'inflight', 'done', 'dead', 'handed_off')),
	-- Ordering key: "v:<conversation id>", "p:<E.164 phone>",
	-- "e:<email>" or "c:<contact id>"; records of one lane are applied in
	-- enqueue order.  NULL until the worker first sorts the record.
	-- Written by: callsyncd.
	lane         TEXT,
	-- Unique one-word token ("cs" + 16 hex digits) that the record writes
	-- into Intercom, so that an uncertain write can be found again
	-- (reconciliation).  Written by: the default on INSERT; kept by
	-- export/import.
	marker       TEXT    NOT NULL DEFAULT ('cs' || lower(hex(randomblob(8)))),
	-- Attempts charged: each claim charges one; outages, rate limits,
	-- pauses and shutdowns refund it.  Compared with max_attempts.
	-- Written by: callsyncd; reset to 0 by dlq replay.
	attempts     INTEGER NOT NULL DEFAULT 0,
	-- Not claimable before this time (unix seconds): the retry backoff,
	-- or search lag while reconciling.  Written by: callsyncd; dlq replay.
	next_at      INTEGER NOT NULL DEFAULT 0,
	-- "host:pid" of the worker holding the claim; NULL unless inflight.
	-- Written by: callsyncd.
	lease_owner  TEXT,
	-- The claim lapses after this time (unix seconds); renewed while the
	-- worker lives.  Written by: callsyncd.
	lease_until  INTEGER,
	-- 1: a write may have reached Intercom unseen (lost answer, timeout,
	-- crash); the next attempt reconciles before writing.  Written by:
	-- callsyncd (and import, for records exported in flight).
	in_doubt     INTEGER NOT NULL DEFAULT 0,
	-- The newest failure, one line.  Written by: callsyncd.
	last_error   TEXT,
	-- When the last step completed (unix seconds); NULL until done.
	-- Written by: callsyncd.
	delivered_at INTEGER,
	-- Last change of the row.  Written by: callsyncd and callsync.
	updated_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	-- lower(trim(payload's caller.email)), NULL without one: what the
	-- worker compares when it checks that no other open record is creating
	-- the same caller's contact (0007).  Written by: the triggers
	-- outbox_caller_email_* (on INSERT and on a change of payload); never
	-- by producers.
	caller_email TEXT,
	-- When a worker first claimed the record (unix seconds, the worker's
	-- clock), set only while that clock is past the floor (a year before
	-- the build date); NULL before.  max_age counts from here when
	-- enqueued_at is before the floor (a box that booted in 1970: such a
	-- time is unknown, not old) (0012).  Written by: callsyncd; never by
	-- producers.
	first_seen_at INTEGER,
	UNIQUE (workspace, record_key)
);
-- The hot set stays small however many delivered rows pile up.
CREATE INDEX outbox_due ON outbox (next_at, id) WHERE state IN ('pending', 'inflight');
CREATE INDEX outbox_lane ON outbox (workspace, lane, id) WHERE state IN ('pending', 'inflight');
CREATE INDEX outbox_unsorted ON outbox (id) WHERE lane IS NULL AND state = 'pending';
-- Claiming walks a workspace's open records in enqueue order and stops
-- after its limit, whatever the number of delivered rows (0002).
CREATE INDEX outbox_open ON outbox (workspace, id)
	WHERE state IN ('pending', 'inflight');
CREATE INDEX outbox_state ON outbox (state, workspace);
-- caller_email follows payload, whoever writes it (0007).
CREATE TRIGGER outbox_caller_email_insert AFTER INSERT ON outbox
BEGIN
	UPDATE outbox SET caller_email =
	    lower(trim(json_extract(NEW.payload, '$.caller.email')))
	    WHERE id = NEW.id;
END;
CREATE TRIGGER outbox_caller_email_update AFTER UPDATE OF payload ON outbox
BEGIN
	UPDATE outbox SET caller_email =
	    lower(trim(json_extract(NEW.payload, '$.caller.email')))
	    WHERE id = NEW.id;
END;

-- Step journal: one row per completed step of a record, with the Intercom
-- id it produced.  A retry, restart or replay resumes at the first step
-- missing here.  Written by: callsyncd (in the same transaction as the
-- step's audit row); copied by export/import.
CREATE TABLE journal (
	-- The record.
	outbox_id    INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
	-- "contact", "conversation", "note:2", "tag:vip", "attributes",
	-- "assign", "reply"; or "intent:<step>": a write about to be sent,
	-- whose completion is not yet known (reconciled before any resend).
	step         TEXT    NOT NULL,
	-- The Intercom id the step produced or used (contact, conversation,
	-- part, tag); NULL for intents.
	intercom_id  TEXT,
	-- JSON, step specific (an intent's time, how a contact was found, ...).
	detail       TEXT,
	-- When the step (or intent) was committed.
	done_at      INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (outbox_id, step)
);
-- The records creating a contact right now (see contact_create_elsewhere
-- in worker/job_contact.c): the check reads only these.
CREATE INDEX journal_contact_intent ON journal (outbox_id)
    WHERE step = 'intent:contact';
-- Every open intent (a write in doubt, or on its way): /metrics counts
-- them (callsync_writes_in_doubt) without reading the whole journal.
CREATE INDEX journal_intent ON journal (outbox_id)
    WHERE step >= 'intent:' AND step < 'intent;';

-- Every failed attempt of a record, not only the last.  Written by:
-- callsyncd.
CREATE TABLE attempt_log (
	-- Row id.
	id           INTEGER PRIMARY KEY,
	-- The record.
	outbox_id    INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
	-- When the attempt failed.
	at           INTEGER NOT NULL DEFAULT (unixepoch()),
	-- Error class: transient, network, malformed, permanent, invalid,
	-- exhausted, outage, rate_limited, auth, reconciling, shutdown,
	-- internal.
	class        TEXT    NOT NULL,
	-- 1: the attempt counted towards max_attempts; 0: refunded (outage,
	-- throttle, pause, shutdown, reconciliation wait).
	charged      INTEGER NOT NULL DEFAULT 1,
	-- HTTP status of the answer; NULL when there was none.
	http_status  INTEGER,
	-- The journal step the failed request served.
	step         TEXT,
	-- One line: method, path and what went wrong.
	message      TEXT    NOT NULL,
	-- The response body, truncated (2048 bytes).
	response     TEXT
);
CREATE INDEX attempt_log_outbox ON attempt_log (outbox_id);

-- Dead letters: records that will not be retried without an operator
-- (callsync dlq ls/show/edit/replay/purge).  Written by: callsyncd;
-- deleted by dlq replay and dlq purge.
CREATE TABLE dead_letter (
	-- The record (state 'dead').
	outbox_id    INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
	-- Short machine code: missing_field, attribute_not_allowed,
	-- public_reply_disabled, http_422, max_attempts,
	-- max_age, ...
	reason       TEXT    NOT NULL,
	-- invalid (the record itself), permanent (Intercom refused it),
	-- exhausted (max_attempts or max_age).
	class        TEXT    NOT NULL,
	-- One line for humans.
	message      TEXT    NOT NULL,
	-- HTTP status of the refusing answer, if any.
	http_status  INTEGER,
	-- Its body, truncated.
	response     TEXT,
	-- E.g. "later records of this caller were not blocked by this one".
	note         TEXT,
	-- When it was dead-lettered.
	dead_at      INTEGER NOT NULL DEFAULT (unixepoch())
);

-- Records handed to another machine (state 'handed_off'): which bundle
-- took each and when (0008).  Written by: callsync export --handoff (and
-- import, for a record exported in that state); deleted by dlq replay
-- --force.
CREATE TABLE handoff (
	-- The record (state 'handed_off').
	outbox_id    INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
	-- The bundle file as given to export -o; NULL for stdout, and for
	-- records handed off before 0008.
	bundle       TEXT,
	-- The bundle header's created_at (RFC 3339): names the bundle.
	created_at   TEXT,
	-- The bundle's SHA-256 (its checksum trailer); NULL until the
	-- handoff completed (a handoff that stopped half-way has none).
	sha256       TEXT,
	-- When the record was handed off.
	handed_at    INTEGER NOT NULL DEFAULT (unixepoch()),
	-- Who ran the export (user@host).
	operator     TEXT
);

-- Operator edits of a payload (callsync dlq edit): the original is kept
-- here.  Written by: callsync.
CREATE TABLE payload_history (
	-- Row id.
	id           INTEGER PRIMARY KEY,
	-- The record.
	outbox_id    INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
	-- The payload as it was before the edit.
	payload      TEXT    NOT NULL,
	-- When it was replaced.
	replaced_at  INTEGER NOT NULL DEFAULT (unixepoch()),
	-- Who replaced it (login name), if known.
	operator     TEXT
);

-- Audit log: every write to Intercom, and every operator action, chained
-- by SHA-256 so that an altered or missing row is detected (callsync audit
-- verify).  hash = sha256(prev_hash || "\n" || row text).  Written by:
-- callsyncd (writes, with the journal row in one transaction) and callsync
-- (doctor --fix, merges, dlq replay/purge/edit, prune checkpoints).
-- Append-only: never edit it by hand.
CREATE TABLE audit (
	-- Row id; the chain follows it.
	id           INTEGER PRIMARY KEY,
	-- When, in unix milliseconds.
	at           INTEGER NOT NULL,
	-- write (to Intercom), operator (a callsync action) or checkpoint
	-- (stands for rows removed by prune).
	kind         TEXT    NOT NULL DEFAULT 'write'
	             CHECK (kind IN ('write', 'operator', 'checkpoint')),
	-- Workspace written to.
	workspace    TEXT    NOT NULL,
	-- The record the write served, if any.
	record_key   TEXT,
	-- Its journal step.
	step         TEXT,
	-- HTTP method and path (no host, no token).
	method       TEXT,
	path         TEXT,
	-- HTTP status; negative when the write was found by reconciliation
	-- and its answer never seen.
	http_status  INTEGER,
	-- Intercom id written or created.
	object_id    TEXT,
	-- The admin the write was made as (admin_id).
	admin_id     TEXT,
	-- Request duration, milliseconds.
	duration_ms  INTEGER,
	-- SHA-256 (hex) of the request body.
	body_sha256  TEXT,
	-- The request body itself, only with audit_bodies = true.
	body         TEXT,
	-- JSON: operator actions, checkpoints, reconciliation.
	detail       TEXT,
	-- hash of the previous row (64 zeros for the first).
	prev_hash    TEXT    NOT NULL,
	-- SHA-256 of prev_hash and this row.
	hash         TEXT    NOT NULL
);
CREATE INDEX audit_key ON audit (record_key);
CREATE INDEX audit_object ON audit (object_id);

-- Contact identity map: who a normalised phone or email is in Intercom.
-- Written by: callsyncd; read by callsync contacts.
CREATE TABLE contact_identity (
	-- Workspace.
	workspace    TEXT    NOT NULL,
	-- phone, email or external_id.
	kind         TEXT    NOT NULL CHECK (kind IN ('phone', 'email', 'external_id')),
	-- E.164 phone or lower-case email.
	value        TEXT    NOT NULL,
	-- The Intercom contact it maps to.
	contact_id   TEXT    NOT NULL,
	-- user or lead.
	role         TEXT,
	-- How it was learned: created (by callsync), search, conflict_409 (the id
	-- in a 409), merge (rewritten after a merge), explicit / explicit_merged
	-- (caller.contact_id), linked (found beside a map hit of the same call).
	source       TEXT    NOT NULL,
	-- First learned, last changed.
	learned_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	updated_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, kind, value)
);
CREATE INDEX contact_identity_id ON contact_identity (workspace, contact_id);

-- Merge mappings: contact from_id now lives on as into_id.  Written by:
-- callsyncd (when Intercom reports a merge) and callsync.
CREATE TABLE contact_merge (
	-- Workspace.
	workspace    TEXT    NOT NULL,
	-- The contact merged away.
	from_id      TEXT    NOT NULL,
	-- The survivor.
	into_id      TEXT    NOT NULL,
	-- How it was found: link_410, search_404, merged_by_callsync, webhook.
	how          TEXT    NOT NULL,
	-- When it was recorded.
	merged_at    INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, from_id)
);

-- Known duplicates: several contacts matched one identity; winner_id was
-- used.  Written by: callsyncd.
CREATE TABLE contact_duplicate (
	-- Workspace.
	workspace    TEXT    NOT NULL,
	-- A contact that matched too.
	contact_id   TEXT    NOT NULL,
	-- The contact used instead.
	winner_id    TEXT    NOT NULL,
	-- The identity they share, e.g. "phone:+15551234567".
	identity     TEXT    NOT NULL,
	-- When it was seen.
	seen_at      INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, contact_id, winner_id)
);

-- The newest call written to each contact's last_call_* custom attributes
-- (0003).  The worker writes last_call_* only from a call at least as new
-- as the one recorded here, so replaying an older dead letter never turns
-- them back.  Written by: callsyncd (in the transaction that journals the
-- attributes step; carried to the survivor when contacts merge).
CREATE TABLE contact_last_call (
	-- Workspace.
	workspace    TEXT    NOT NULL,
	-- The Intercom contact (the survivor after a merge).
	contact_id   TEXT    NOT NULL,
	-- When that call happened (its started_at), unix seconds.
	call_at      INTEGER NOT NULL,
	-- The record that wrote it.
	record_key   TEXT    NOT NULL,
	PRIMARY KEY (workspace, contact_id)
);

-- Tag name -> Intercom tag id, so each name is created or fetched once.
-- Written by: callsyncd.
CREATE TABLE tag_cache (
	-- Workspace.
	workspace    TEXT    NOT NULL,
	-- The name in lower case (the key).
	name_lower   TEXT    NOT NULL,
	-- Intercom tag id.
	tag_id       TEXT    NOT NULL,
	-- The name as Intercom spells it.
	name         TEXT    NOT NULL,
	-- When it was learned.
	learned_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, name_lower)
);

-- Per-workspace worker state, for `callsync status`.  Written by:
-- callsyncd.
CREATE TABLE workspace_state (
	-- Workspace.
	workspace          TEXT PRIMARY KEY,
	-- closed (delivering) or open (outage: probing); half_open reserved.
	breaker            TEXT    NOT NULL DEFAULT 'closed'
	                   CHECK (breaker IN ('closed', 'open', 'half_open')),
	-- When the breaker opened; NULL when closed.
	breaker_since      INTEGER,
	-- Nothing is sent before this time (rate limit); NULL when not limited.
	rate_limited_until INTEGER,
	-- 1: the token was rejected (401/403); waiting for a new token.
	paused             INTEGER NOT NULL DEFAULT 0,
	-- Why it is paused.
	pause_reason       TEXT,
	-- Last time a record was delivered.
	last_delivery_at   INTEGER,
	-- "host:pid" of the worker that wrote this row.
	worker             TEXT,
	-- When this row was written.
	updated_at         INTEGER NOT NULL DEFAULT (unixepoch())
);

-- One row per running callsyncd (0004): who serves what, and whether it
-- is alive.  Inserted at start, heartbeat_at updated every 10 s (not while
-- the database cannot be written), deleted on a clean exit.  A row whose
-- lock file <database>.owners/<owner> is not held, or whose heartbeat is
-- old, is a stale worker: `callsync status` shows both kinds.
-- Written by: callsyncd.
CREATE TABLE workers (
	-- "host:pid:nonce", the same name as outbox.lease_owner.
	owner        TEXT    PRIMARY KEY,
	-- Process id (in the worker's own PID namespace).
	pid          INTEGER NOT NULL,
	-- gethostname() of the worker.
	host         TEXT    NOT NULL,
	-- callsyncd version.
	version      TEXT    NOT NULL,
	-- When it started (unix seconds).
	started_at   INTEGER NOT NULL,
	-- Its last heartbeat (unix seconds), every ~10 s.
	heartbeat_at INTEGER NOT NULL,
	-- Comma-separated names of the workspaces it serves.
	workspaces   TEXT    NOT NULL DEFAULT ''
);

-- The caller context cache (0006) behind GET /v1/context: personal data,
-- deleted past [worker] context_max_age (callsync prune).  Written by:
-- callsyncd (every live read, and its own conversation creates).
CREATE TABLE context_cache (
	-- [workspace NAME]: rows never mix workspaces.
	workspace        TEXT    NOT NULL,
	-- Intercom contact id.
	contact_id       TEXT    NOT NULL,
	-- The contact as /v1/context shows it (JSON), or NULL.
	contact          TEXT,
	-- When contact was read from Intercom (unix seconds), or NULL.
	contact_at       INTEGER,
	-- Its conversations, most recent and open first (JSON array).
	conversations    TEXT,
	conversations_at INTEGER,
	-- Its open tickets (JSON array).
	tickets          TEXT,
	tickets_at       INTEGER,
	-- Its company (JSON object or null).
	company          TEXT,
	company_at       INTEGER,
	-- Last change of this row (unix seconds): what max age prunes by.
	updated_at       INTEGER NOT NULL,
	PRIMARY KEY (workspace, contact_id)
);
CREATE INDEX context_cache_age ON context_cache (updated_at);

-- Which contact a phone or email resolved to at the last live read, for
-- answering from the cache when the identity map does not know it.
CREATE TABLE context_lookup (
	workspace  TEXT    NOT NULL,
	-- "phone" (E.164) or "email" (lower-case).
	kind       TEXT    NOT NULL CHECK (kind IN ('phone', 'email')),
	value      TEXT    NOT NULL,
	contact_id TEXT    NOT NULL,
	-- When it was learned (unix seconds).
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (workspace, kind, value)
);
CREATE INDEX context_lookup_age ON context_lookup (updated_at);

-- Help-center article searches (GET /v1/articles), for offline use.
CREATE TABLE article_cache (
	workspace  TEXT    NOT NULL,
	-- The search phrase, trimmed and lower-cased.
	query      TEXT    NOT NULL,
	-- The answer's articles (JSON array).
	articles   TEXT    NOT NULL,
	-- When it was read (unix seconds).
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (workspace, query)
);
CREATE INDEX article_cache_age ON article_cache (updated_at);

-- Inbound (0014_inbox_tasks): the inbound half (docs/contract.md section 6).
-- Intercom's notifications, stored once whatever way they came (webhook,
-- poll), and the call tasks the rules make of them for the voice agent.

-- One row per notification, unique per workspace on Intercom's id (a
-- retry or a replay of a captured request changes nothing).  Rows are
-- kept at least 8 days (`callsync prune` clears older ones): Intercom
-- retries for far less than that.
CREATE TABLE inbox (
	id           INTEGER PRIMARY KEY,
	workspace    TEXT    NOT NULL,
	notif_id     TEXT    NOT NULL CHECK (length(notif_id) BETWEEN 1 AND 200),
	topic        TEXT    NOT NULL,
	item_type    TEXT,                          -- data.item.type: conversation, contact, ...
	item_id      TEXT,                          -- data.item.id
	created_at   INTEGER NOT NULL,              -- the notification's created_at (unix s)
	event_at     INTEGER NOT NULL,              -- data.item.updated_at, else created_at: orders events
	via          TEXT    NOT NULL CHECK (via IN ('webhook', 'poll')),
	received_at  INTEGER NOT NULL DEFAULT (unixepoch()),
	state        TEXT    NOT NULL DEFAULT 'new'
	             CHECK (state IN ('new', 'applied', 'stale', 'ignored')),
	applied_at   INTEGER,
	-- What the notification says of its object (0015): "<item type>:
	-- <item id>:<updated_at>:<hash of what the rules read>";
	-- a poll's notif_id is "poll:" and this key, and a webhook of a state
	-- polling stored is a duplicate.  NULL for other items.
	event_key    TEXT,
	UNIQUE (workspace, notif_id)
);
CREATE INDEX inbox_received ON inbox (received_at);
CREATE INDEX inbox_new ON inbox (workspace, id) WHERE state = 'new';
CREATE INDEX inbox_event ON inbox (workspace, event_key)
	WHERE event_key IS NOT NULL;

-- Per object (conversation or contact) the newest event applied: an older
-- one arriving later is stale and changes nothing (it never reopens a
-- task).  value: the last callback_requested seen (1, 0, NULL unknown).
CREATE TABLE inbox_watermark (
	workspace    TEXT    NOT NULL,
	object       TEXT    NOT NULL,              -- "conversation:ID", "contact:ID"
	event_at     INTEGER NOT NULL,
	requested    INTEGER,
	-- 0017: the team it was last seen assigned to ("0": none), and how
	-- often it turned to callback_team (names each turn's task).
	team         TEXT,
	team_turns   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (workspace, object)
);

-- The app each workspace is (GET /me's app.id_code), kept so that a
-- notification is placed while Intercom itself cannot be asked.
CREATE TABLE workspace_app (
	workspace    TEXT    PRIMARY KEY,
	app_id       TEXT    NOT NULL,
	seen_at      INTEGER NOT NULL DEFAULT (unixepoch())
);

-- Call tasks.  dedupe names one request: rule, object and what triggered
-- it (the tag's applied_at, the event that turned the attribute on), so
-- one request makes one task however often it is reported.
CREATE TABLE tasks (
	id              INTEGER PRIMARY KEY,
	workspace       TEXT    NOT NULL,
	dedupe          TEXT    NOT NULL,
	rule            TEXT    NOT NULL,           -- "tag:callback", "attribute:callback_requested"
	contact_id      TEXT,
	phone           TEXT,
	email           TEXT,
	name            TEXT,
	reason          TEXT    NOT NULL,
	conversation_id TEXT,
	priority        INTEGER NOT NULL DEFAULT 0, -- higher first
	due_at          INTEGER NOT NULL,
	lease_until     INTEGER,
	state           TEXT    NOT NULL DEFAULT 'due'
	                CHECK (state IN ('due', 'leased', 'done', 'failed', 'cancelled')),
	outcome         TEXT,
	inbox_id        INTEGER,                    -- the notification that made it
	phone_read_at   INTEGER,                    -- GET /contacts/{id} asked for the phone
	created_at      INTEGER NOT NULL DEFAULT (unixepoch()),
	updated_at      INTEGER NOT NULL DEFAULT (unixepoch()),
	-- 0017: the call record enqueued with the done (same transaction).
	record_key      TEXT,
	UNIQUE (workspace, dedupe)
);
CREATE INDEX tasks_due ON tasks (priority DESC, due_at, id)
	WHERE state IN ('due', 'leased');

-- Polling (0015, worker/poller.h): per workspace and kind the newest
-- updated_at read and committed.  A round reads what changed since
-- watermark - search_lag, newest first, and moves it in the transaction
-- of its last page; a restart goes on from here.
CREATE TABLE poll_watermark (
	workspace    TEXT    NOT NULL,
	kind         TEXT    NOT NULL CHECK (kind IN ('conversation', 'contact')),
	watermark    INTEGER NOT NULL,              -- unix s, Intercom's updated_at
	updated_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, kind)
);

-- Search lag (0016_search_lag): how long Intercom's search takes to show a new
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

-- ======================================================================
-- Bookkeeping of the migrations (kept by callsyncd and callsync init)
-- ======================================================================
-- One row per applied migration; PRAGMA user_version holds the newest.
-- A database newer than a binary is refused by it.
CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at INTEGER NOT NULL DEFAULT (unixepoch())
);
INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init');
INSERT INTO schema_migrations (version, name) VALUES (2, '0002_claim_index');
INSERT INTO schema_migrations (version, name) VALUES (3, '0003_contact_calls');
INSERT INTO schema_migrations (version, name) VALUES (4, '0004_workers');
INSERT INTO schema_migrations (version, name) VALUES (5, '0005_contact_intent');
INSERT INTO schema_migrations (version, name) VALUES (6, '0006_context_cache');
INSERT INTO schema_migrations (version, name) VALUES (7, '0007_caller_email');
INSERT INTO schema_migrations (version, name) VALUES (8, '0008_handed_off');
INSERT INTO schema_migrations (version, name) VALUES (10, '0010_journal_intent');
INSERT INTO schema_migrations (version, name) VALUES (12, '0012_first_seen');
INSERT INTO schema_migrations (version, name) VALUES (14, '0014_inbox_tasks');
INSERT INTO schema_migrations (version, name) VALUES (15, '0015_poll');
INSERT INTO schema_migrations (version, name) VALUES (16, '0016_search_lag');
INSERT INTO schema_migrations (version, name) VALUES (17, '0017_task_record');
PRAGMA user_version = 17;
