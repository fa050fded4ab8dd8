-- 0007_caller_email: the caller's email of a record as a column, so that
-- the worker's check "is another open record creating this caller's
-- contact?" (contact_create_elsewhere in worker/job_contact.c) compares a
-- column instead of parsing each candidate's payload with json_extract
-- (callgrind: 5% of the worker's instructions).  The value is the same
-- expression the check used: lower(trim(payload's caller.email)).
-- Written by: the triggers below, on every INSERT and on every change of
-- payload (producers, callsync enqueue and import, dlq edit), so it never
-- disagrees with the payload; existing rows are filled here.
ALTER TABLE outbox ADD COLUMN caller_email TEXT;
UPDATE outbox SET caller_email =
    lower(trim(json_extract(payload, '$.caller.email')));
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
