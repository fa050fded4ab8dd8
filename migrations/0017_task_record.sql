-- 0017_task_record: the call record a voice agent enqueued with a task's
-- done (POST /v1/tasks/ID/done {"outcome", "record"}), so that the task
-- names the follow-up it made.  The record is enqueued in the same
-- transaction as the done: both or neither.
-- Written by: callsyncd's task API, once, with state 'done'.
ALTER TABLE tasks ADD COLUMN record_key TEXT;
