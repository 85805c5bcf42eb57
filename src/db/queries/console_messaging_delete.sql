-- console_messaging_delete: remove tenant $1's messaging configuration.
DELETE FROM outpost.messaging_configs WHERE tenant = $1
