-- event_route: whether this database sent the provider's message $1 (a
-- daemon serving several databases applies a callback in the one that did).
SELECT EXISTS (SELECT 1 FROM outpost.messages WHERE provider_message_id = $1) AS sent_here
