-- 0002_claim_index: keep claiming indexed however big the backlog.
-- The claim walks a workspace's open records in enqueue order and stops
-- after LIMIT; without this index SQLite scanned every record of the
-- workspace (delivered ones too) and sorted them (bench/ section 4).
CREATE INDEX outbox_open ON outbox (workspace, id)
	WHERE state IN ('pending', 'inflight');
