-- migrations_bootstrap: the schema and the table that records migrations.
CREATE SCHEMA IF NOT EXISTS outpost;
CREATE TABLE IF NOT EXISTS outpost.schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
