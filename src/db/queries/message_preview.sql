-- message_preview: message $1 in the shape a claim gives it
-- (message_shape.sql follows), without claiming it: what the console's
-- preview renders. Its digest members are not gathered.
WITH claimed AS (
    SELECT m.id, m.attempts, m.kind, m.to_user, m.to_address, m.template, m.context,
           m.locale, m.subject, m.body, m.html, m.options, m.provider, m.tenant,
           m.max_attempts, m.expires_at, m.created_at, m.priority, m.run_at, m.category,
           m.digest_key
    FROM outpost.messages m
    WHERE m.id = $1
), members AS (
    SELECT NULL::bigint AS id, NULL::bigint AS digest_of, NULL::text AS subject,
           NULL::text AS body, NULL::jsonb AS context, NULL::timestamptz AS created_at
    WHERE false
)
