-- outpost.status(): every attempt of the message.
SELECT attempt, worker, provider, started_at, finished_at, outcome, provider_code, error,
       provider_message_id, applied, note
FROM outpost.attempts
WHERE message_id = %(id)s
ORDER BY attempt
