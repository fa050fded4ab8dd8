-- 0012_first_seen: when a worker first claimed the record, on the
-- worker's clock, for a record whose own times are unknown.  A box
-- without an RTC boots in 1970, and a producer's INSERT meanwhile gets a
-- 1970 enqueued_at (the unixepoch() default): such a time, before the
-- floor (a year before the build date: clock_floor in worker/retry.c), is
-- unknown, not old, and max_age counts from first_seen_at instead.
-- Written by: callsyncd, in the claim that first takes the record, and
-- only when the worker's own clock is past the floor (else it stays NULL
-- until one is); never by producers.  Existing rows keep NULL.
ALTER TABLE outbox ADD COLUMN first_seen_at INTEGER;
