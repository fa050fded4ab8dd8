-- 0017_task_record: two columns for the inbound half.
--
-- tasks.record_key: the call record a voice agent enqueued with a task's
-- done (POST /v1/tasks/ID/done {"outcome", "record"}), so that the task
-- names the follow-up it made.  The record is enqueued in the same
-- transaction as the done: both or neither.
-- Written by: callsyncd's task API, once, with state 'done'.
ALTER TABLE tasks ADD COLUMN record_key TEXT;

-- callback_team: the team the conversation was last seen assigned to
-- ("0": none), so that a task is made when it turns to the configured
-- team and not for each later event while it stays there; team_turns
-- counts those turns and names each one's task (away and back within
-- one second of updated_at is a new request all the same).
ALTER TABLE inbox_watermark ADD COLUMN team TEXT;
ALTER TABLE inbox_watermark ADD COLUMN team_turns INTEGER NOT NULL DEFAULT 0;
