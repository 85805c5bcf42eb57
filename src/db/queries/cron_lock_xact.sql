-- cron_lock_xact: behind a transaction pooler, try to take housekeeping job
-- $1's advisory lock for this transaction (held open for the run, so a slow
-- run never overlaps the next); true when taken. A session lock would stay
-- on whichever server connection the pooler lent.
SELECT pg_try_advisory_xact_lock(hashtext($1))
