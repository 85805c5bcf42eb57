-- migration_lock: serialise migrations across processes for this transaction.
SELECT pg_advisory_xact_lock($1)
