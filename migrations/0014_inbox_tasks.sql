-- 0014_inbox_tasks: the inbound half (docs/contract.md section 6).
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
	UNIQUE (workspace, notif_id)
);
CREATE INDEX inbox_received ON inbox (received_at);
CREATE INDEX inbox_new ON inbox (workspace, id) WHERE state = 'new';

-- Per object (conversation or contact) the newest event applied: an older
-- one arriving later is stale and changes nothing (it never reopens a
-- task).  value: the last callback_requested seen (1, 0, NULL unknown).
CREATE TABLE inbox_watermark (
	workspace    TEXT    NOT NULL,
	object       TEXT    NOT NULL,              -- "conversation:ID", "contact:ID"
	event_at     INTEGER NOT NULL,
	requested    INTEGER,
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
	UNIQUE (workspace, dedupe)
);
CREATE INDEX tasks_due ON tasks (priority DESC, due_at, id)
	WHERE state IN ('due', 'leased');
