-- console_messaging_list: every tenant's messaging configuration.
SELECT tenant, enabled, push_on_message, created_at FROM outpost.messaging_configs ORDER BY tenant
