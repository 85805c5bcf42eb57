-- console_user_upsert: add console user $1 with role $2 and password hash $3,
-- or replace the role and hash of an existing one.
INSERT INTO outpost.console_users (name, role, password_hash)
VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE
SET role = excluded.role, password_hash = excluded.password_hash, updated_at = now()
RETURNING (xmax = 0) AS created
