-- console_user_upsert: add console user $1 with role $2, password hash $3
-- and tenant $4 (NULL: every tenant), or replace those of an existing one.
INSERT INTO outpost.console_users (name, role, password_hash, tenant)
VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO UPDATE
SET role = excluded.role, password_hash = excluded.password_hash, tenant = excluded.tenant,
    updated_at = now()
RETURNING (xmax = 0) AS created
