-- migrations_applied: every applied migration with its file's checksum.
SELECT version, checksum FROM outpost.schema_migrations
