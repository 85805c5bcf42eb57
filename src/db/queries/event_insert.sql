-- event_insert: record a provider event once (deduplicated by the provider's
-- event id, else a digest of the event); returns its id only when it is new.
-- note says what had to change to store it (NUL replaced), if anything.
INSERT INTO outpost.events (message_id, provider, provider_event_id, provider_message_id, event,
    payload, occurred_at, note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (provider, provider_event_id) DO NOTHING
RETURNING id
