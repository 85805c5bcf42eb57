-- console_messaging_get: tenant $1's messaging configuration.
SELECT tenant, enabled, push_on_message FROM outpost.messaging_configs WHERE tenant = $1
