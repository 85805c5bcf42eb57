-- console_webhook_insert: a new webhook endpoint: url $1, secret $2, event types $3, tenant $4
-- (NULL: every tenant's events), description $5, added by console user $6; its id.
INSERT INTO outpost.webhook_endpoints (url, secret, event_types, tenant, description, created_by)
VALUES ($1, $2, $3, $4, $5, 'console ' || $6)
RETURNING id
