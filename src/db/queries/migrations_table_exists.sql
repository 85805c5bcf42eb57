-- migrations_table_exists: whether any migration has ever run here.
SELECT to_regclass('outpost.schema_migrations') IS NOT NULL
