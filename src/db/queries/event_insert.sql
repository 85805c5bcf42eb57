-- event_insert: record a provider event once (deduplicated by the provider's
-- event id); returns its id only when it is new.
INSERT INTO outpost.events (message_id, provider, provider_event_id, provider_message_id, event,
    payload, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (provider, provider_event_id) DO NOTHING
RETURNING id
