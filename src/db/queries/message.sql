-- message: one outbox row for `outpost status ID`.
SELECT id, kind, status, to_user, to_address, template, subject, provider, tenant,
       priority, attempts, max_attempts, run_at, expires_at, worker, leased_until,
       provider_message_id, last_error, created_at, updated_at, sent_at, finished_at,
       deferrals,
       (SELECT count(*) FROM outpost.attempts a
        WHERE a.message_id = m.id AND a.outcome IN ('sent', 'unknown')) >= 2 AS possible_duplicate
FROM outpost.messages m
WHERE id = $1
