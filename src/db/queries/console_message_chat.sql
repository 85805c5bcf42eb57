-- console_message_chat: chat messages outbox message $1 became.
SELECT c.id, c.channel_id, c.sender, c.body, c.format, c.created_at, ch.owner
FROM outpost.chat_messages c
JOIN outpost.chat_channels ch ON ch.id = c.channel_id
WHERE c.outbox_message_id = $1
ORDER BY c.id
