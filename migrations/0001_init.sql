-- 0001_init: the tables callsync needs from its first release.
-- Applied inside one BEGIN IMMEDIATE ... COMMIT by db_migrate(); see schema/schema.sql
-- for the commented, current whole.

-- One row per record a producer handed us.  Producers write only
-- (workspace, record_key, payload); every other column belongs to callsyncd.
CREATE TABLE outbox (
	id           INTEGER PRIMARY KEY,           -- enqueue order
	workspace    TEXT    NOT NULL DEFAULT 'default',
	record_key   TEXT    NOT NULL CHECK (length(record_key) BETWEEN 1 AND 200),
	payload      TEXT    NOT NULL
	             CHECK (json_valid(payload) AND length(payload) <= 1048576),
	enqueued_at  INTEGER NOT NULL DEFAULT (unixepoch()),
	state        TEXT    NOT NULL DEFAULT 'pending'
	             CHECK (state IN ('pending', 'inflight', 'done', 'dead')),
	lane         TEXT,                          -- ordering key, set by the worker on first sight
	marker       TEXT    NOT NULL DEFAULT ('cs' || lower(hex(randomblob(8)))),
	attempts     INTEGER NOT NULL DEFAULT 0,    -- record-caused attempts charged
	next_at      INTEGER NOT NULL DEFAULT 0,    -- unix seconds; not claimable before
	lease_owner  TEXT,                          -- "host:pid" of the claiming worker
	lease_until  INTEGER,                       -- unix seconds; claim lapses after
	in_doubt     INTEGER NOT NULL DEFAULT 0,    -- 1: a write may have happened unseen
	last_error   TEXT,                          -- one line, newest failure
	delivered_at INTEGER,
	updated_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	UNIQUE (workspace, record_key)
);
-- The hot set stays small however many delivered rows pile up.
CREATE INDEX outbox_due ON outbox (next_at, id) WHERE state IN ('pending', 'inflight');
CREATE INDEX outbox_lane ON outbox (workspace, lane, id) WHERE state IN ('pending', 'inflight');
CREATE INDEX outbox_unsorted ON outbox (id) WHERE lane IS NULL AND state = 'pending';
CREATE INDEX outbox_state ON outbox (state, workspace);

-- Step journal: one row per completed step of a record, with the Intercom
-- id it produced.  A retry, restart or replay resumes at the first step
-- missing here.
CREATE TABLE journal (
	outbox_id    INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
	step         TEXT    NOT NULL,              -- "contact", "conversation", "note:2", "tag:vip", ...
	intercom_id  TEXT,                          -- id the step produced or used
	detail       TEXT,                          -- JSON, step specific
	done_at      INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (outbox_id, step)
);

-- Every failed attempt of a record, not only the last.
CREATE TABLE attempt_log (
	id           INTEGER PRIMARY KEY,
	outbox_id    INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
	at           INTEGER NOT NULL DEFAULT (unixepoch()),
	class        TEXT    NOT NULL,              -- transient, permanent, outage, rate_limited, auth, invalid
	charged      INTEGER NOT NULL DEFAULT 1,    -- 0: outage/throttle, attempt refunded
	http_status  INTEGER,
	step         TEXT,
	message      TEXT    NOT NULL,
	response     TEXT                           -- truncated response body
);
CREATE INDEX attempt_log_outbox ON attempt_log (outbox_id);

-- Dead letters: records that will not be retried without an operator.
CREATE TABLE dead_letter (
	outbox_id    INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
	reason       TEXT    NOT NULL,              -- short machine code: invalid_record, http_422, max_attempts, ...
	class        TEXT    NOT NULL,              -- permanent, invalid, exhausted
	message      TEXT    NOT NULL,
	http_status  INTEGER,
	response     TEXT,
	note         TEXT,                          -- e.g. "later records of this caller were not blocked"
	dead_at      INTEGER NOT NULL DEFAULT (unixepoch())
);

-- Operator edits of a payload (dlq edit): the original is kept here.
CREATE TABLE payload_history (
	id           INTEGER PRIMARY KEY,
	outbox_id    INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
	payload      TEXT    NOT NULL,
	replaced_at  INTEGER NOT NULL DEFAULT (unixepoch()),
	operator     TEXT
);

-- Audit log: every write to Intercom, chained by SHA-256 so that an altered
-- or missing row is detected.  hash = sha256(prev_hash || "\n" || row text).
CREATE TABLE audit (
	id           INTEGER PRIMARY KEY,
	at           INTEGER NOT NULL,              -- unix milliseconds
	kind         TEXT    NOT NULL DEFAULT 'write'
	             CHECK (kind IN ('write', 'operator', 'checkpoint')),
	workspace    TEXT    NOT NULL,
	record_key   TEXT,
	step         TEXT,
	method       TEXT,
	path         TEXT,
	http_status  INTEGER,
	object_id    TEXT,                          -- Intercom id written or created
	admin_id     TEXT,
	duration_ms  INTEGER,
	body_sha256  TEXT,                          -- digest of the request body
	body         TEXT,                          -- only with audit_bodies = true
	detail       TEXT,                          -- operator actions, checkpoints
	prev_hash    TEXT    NOT NULL,
	hash         TEXT    NOT NULL
);
CREATE INDEX audit_key ON audit (record_key);
CREATE INDEX audit_object ON audit (object_id);

-- Contact identity map: who a normalised phone or email is in Intercom.
CREATE TABLE contact_identity (
	workspace    TEXT    NOT NULL,
	kind         TEXT    NOT NULL CHECK (kind IN ('phone', 'email', 'external_id')),
	value        TEXT    NOT NULL,              -- E.164 phone, lower-case email
	contact_id   TEXT    NOT NULL,
	role         TEXT,                          -- user or lead
	source       TEXT    NOT NULL,              -- created, search, conflict_409, merge, explicit, explicit_merged, linked
	learned_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	updated_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, kind, value)
);
CREATE INDEX contact_identity_id ON contact_identity (workspace, contact_id);

-- Merge mappings: contact from_id now lives on as into_id.
CREATE TABLE contact_merge (
	workspace    TEXT    NOT NULL,
	from_id      TEXT    NOT NULL,
	into_id      TEXT    NOT NULL,
	how          TEXT    NOT NULL,              -- link_410, search_404, merged_by_callsync, webhook
	merged_at    INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, from_id)
);

-- Known duplicates: several contacts matched one identity; winner_id was used.
CREATE TABLE contact_duplicate (
	workspace    TEXT    NOT NULL,
	contact_id   TEXT    NOT NULL,
	winner_id    TEXT    NOT NULL,
	identity     TEXT    NOT NULL,              -- "phone:+15551234567"
	seen_at      INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, contact_id, winner_id)
);

-- Tag name -> Intercom tag id, so each name is created or fetched once.
CREATE TABLE tag_cache (
	workspace    TEXT    NOT NULL,
	name_lower   TEXT    NOT NULL,
	tag_id       TEXT    NOT NULL,
	name         TEXT    NOT NULL,
	learned_at   INTEGER NOT NULL DEFAULT (unixepoch()),
	PRIMARY KEY (workspace, name_lower)
);

-- Per-workspace worker state, for `callsync status`.
CREATE TABLE workspace_state (
	workspace          TEXT PRIMARY KEY,
	breaker            TEXT    NOT NULL DEFAULT 'closed'
	                   CHECK (breaker IN ('closed', 'open', 'half_open')),
	breaker_since      INTEGER,
	rate_limited_until INTEGER,
	paused             INTEGER NOT NULL DEFAULT 0,  -- 1: auth failure, waiting for a new token
	pause_reason       TEXT,
	last_delivery_at   INTEGER,
	worker             TEXT,                        -- "host:pid" that wrote this row
	updated_at         INTEGER NOT NULL DEFAULT (unixepoch())
);
