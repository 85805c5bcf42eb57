-- The newest chat message id: a stream opened without Last-Event-ID starts after it.
SELECT coalesce(max(m.id), 0) AS id FROM outpost.chat_messages m
