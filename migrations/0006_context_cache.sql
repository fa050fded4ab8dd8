-- 0006_context_cache: the caller context cache behind GET /v1/context
-- (worker/context.c, worker/ctx_cache.c).  Personal data: every row is
-- deleted past [worker] context_max_age (callsync prune, and the worker
-- never serves an older one).  Written by: callsyncd (every live read,
-- and its own conversation creates); read by callsyncd and callsync
-- context.
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
