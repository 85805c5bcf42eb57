-- cron_lock: try to take the session advisory lock of housekeeping job $1, so
-- a slow run never overlaps the next; true when taken.
SELECT pg_try_advisory_lock(hashtext($1))
