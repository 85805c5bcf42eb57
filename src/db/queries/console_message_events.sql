-- console_message_events: provider events about message $1, in arrival order.
SELECT id, provider, event, occurred_at, received_at, payload, note
FROM outpost.events
WHERE message_id = $1
ORDER BY received_at, id
