-- The system check: the newest migration applied, and whether the one this
-- package needs is.
SELECT max(version), bool_or(version = %s)
FROM outpost.schema_migrations
