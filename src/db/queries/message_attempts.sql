-- message_attempts: every attempt of message $1, oldest first.
SELECT attempt, worker, provider, started_at, finished_at, outcome, provider_code,
       error, provider_message_id, applied, note, late_outcome
FROM outpost.attempts
WHERE message_id = $1
ORDER BY attempt
