-- webhook_gone: the receiver answered 410 Gone; its endpoint is disabled (its queued deliveries cancelled, audited).
SELECT outpost.webhook_endpoint_set_enabled($1, false, $2, current_user)
