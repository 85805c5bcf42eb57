-- The admin's events table of one message.
SELECT provider, event, occurred_at, received_at
FROM outpost.events
WHERE message_id = %s
ORDER BY id
