-- The system check: whether Outpost's schema was migrated at all.
SELECT to_regclass('outpost.schema_migrations') IS NOT NULL
