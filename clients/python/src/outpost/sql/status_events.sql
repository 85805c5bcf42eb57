-- outpost.status(): every provider event of the message.
SELECT id, provider, event, provider_event_id, provider_message_id, payload, occurred_at,
       received_at
FROM outpost.events
WHERE message_id = %(id)s
ORDER BY id
