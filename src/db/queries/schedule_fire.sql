-- schedule_fire: fire schedule $1 for time $2 if no daemon has yet: advance
-- last_fired_at and insert its message with a key unique to this firing.
WITH claimed AS (
    UPDATE outpost.schedules
    SET last_fired_at = $2, last_error = NULL
    WHERE name = $1 AND enabled AND coalesce(last_fired_at, created_at) < $2
    RETURNING message
)
SELECT outpost.enqueue(
    kind => message->>'kind',
    to_user => message->>'to_user',
    to_address => message->>'to_address',
    template => message->>'template',
    context => coalesce(message->'context', '{}'::jsonb),
    locale => message->>'locale',
    subject => message->>'subject',
    body => message->>'body',
    html => message->>'html',
    options => coalesce(message->'options', '{}'::jsonb),
    provider => message->>'provider',
    tenant => message->>'tenant',
    priority => coalesce((message->>'priority')::int, 0),
    expires_at => CASE WHEN message ? 'expires_in'
                       THEN $2 + (message->>'expires_in')::interval END,
    idempotency_key => 'schedule:' || $1 || ':' || to_char($2 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    max_attempts => (message->>'max_attempts')::int,
    category => message->>'category',
    digest_key => message->>'digest_key')
FROM claimed
