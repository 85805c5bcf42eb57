-- event_match: the message an event belongs to: by Outpost's own id when the
-- provider echoed it back ($1), else by the provider's message id ($2).
SELECT id FROM outpost.messages WHERE id = $1
UNION ALL
SELECT id FROM (
    SELECT id FROM outpost.messages WHERE provider_message_id = $2 ORDER BY id DESC LIMIT 1
) by_provider
LIMIT 1
