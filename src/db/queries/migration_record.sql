-- migration_record: note migration $1 ($2) with the checksum of its file.
INSERT INTO outpost.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)
