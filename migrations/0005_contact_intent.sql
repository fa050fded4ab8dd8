-- 0005_contact_intent: the records creating a contact right now.  Before
-- it creates a lead, the worker checks whether another open record is
-- creating one for the same phone or email (two lanes can share an
-- email); intents are few and short-lived, so the check reads only them,
-- whatever the size of the backlog.
CREATE INDEX journal_contact_intent ON journal (outbox_id)
    WHERE step = 'intent:contact';
