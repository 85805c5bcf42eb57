-- The admin's attempts table of one message.
SELECT attempt, provider, outcome, started_at, finished_at, coalesce(error, ''), coalesce(note, '')
FROM outpost.attempts
WHERE message_id = %s
ORDER BY attempt
