-- cron_unlock: release housekeeping job $1's advisory lock.
SELECT pg_advisory_unlock(hashtext($1))
