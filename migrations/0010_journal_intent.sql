-- 0010_journal_intent: every open intent (a write in doubt, or one on
-- its way).  /metrics counts them every second (callsync_writes_in_doubt)
-- and a partial index keeps that a read of a few rows, whatever the size
-- of the journal.  IF NOT EXISTS: a database rewound to an earlier
-- version (tests/unit/t_store.c) runs it again.
CREATE INDEX IF NOT EXISTS journal_intent ON journal (outbox_id)
    WHERE step >= 'intent:' AND step < 'intent;';
