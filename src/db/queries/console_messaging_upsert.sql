-- console_messaging_upsert: set tenant $1's messaging configuration.
INSERT INTO outpost.messaging_configs (tenant, enabled, push_on_message)
VALUES ($1, $2, $3)
ON CONFLICT (tenant) DO UPDATE SET enabled = excluded.enabled, push_on_message = excluded.push_on_message
