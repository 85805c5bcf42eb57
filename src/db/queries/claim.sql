-- claim: take due messages for worker $2, leased for $3 seconds: of each kind
-- in $4 at most the matching count in $5 (the sends that kind can start now),
-- and at most $1 in all, in priority order. Returns them with their recipient
-- row ({recipients} is the configured relation) and the normalised addresses
-- among all their recipients (to, lists included, cc and bcc) that are on the
-- suppression list. Committed at once, before any send.
WITH claimed AS (
    UPDATE outpost.messages m
    SET status = 'sending',
        worker = $2,
        leased_until = now() + make_interval(secs => $3),
        attempts = m.attempts + 1,
        updated_at = now()
    -- = ANY(ARRAY(…)) rather than IN (…): the planner then fetches the
    -- claimed rows by primary key instead of hashing the whole table.
    WHERE m.id = ANY (ARRAY(
        SELECT q.id
        FROM unnest($4::text[], $5::int[]) AS k(kind, n)
        CROSS JOIN LATERAL (
            SELECT id, priority, run_at FROM outpost.messages
            WHERE status = 'queued'
              AND kind = k.kind
              AND run_at <= now()
              AND (expires_at IS NULL OR expires_at > now())
            ORDER BY priority DESC, run_at, id
            LIMIT k.n
            FOR UPDATE SKIP LOCKED) q
        ORDER BY q.priority DESC, q.run_at, q.id
        LIMIT $1))
    RETURNING m.id, m.attempts, m.kind, m.to_user, m.to_address, m.template, m.context,
              m.locale, m.subject, m.body, m.html, m.options, m.provider, m.tenant,
              m.max_attempts, m.expires_at, m.created_at, m.priority, m.run_at
)
SELECT c.id, c.attempts, c.kind, c.to_user, c.to_address, c.template, c.context,
       c.locale, c.subject, c.body, c.html, c.options, c.provider, c.tenant,
       c.max_attempts, c.expires_at, c.created_at,
       r.user_id AS r_user_id, r.email AS r_email, r.phone AS r_phone,
       r.locale AS r_locale, r.timezone AS r_timezone, r.tenant AS r_tenant,
       r.push_named_user AS r_push_named_user, r.name AS r_name,
       ARRAY(
           SELECT DISTINCT s.address FROM outpost.suppressions s
           WHERE s.family = outpost.address_family(c.kind)
             AND s.address IN (
                 SELECT outpost.normalize_address(a)
                 FROM unnest(CASE WHEN c.kind = 'email' THEN string_to_array(t.address, ',')
                                  ELSE ARRAY[t.address] END) a
                 UNION ALL
                 SELECT outpost.normalize_address(a)
                 FROM jsonb_array_elements_text(CASE WHEN c.kind <> 'email' THEN '[]'::jsonb
                          ELSE outpost.address_list(c.options -> 'cc')
                               || outpost.address_list(c.options -> 'bcc') END) a)
       ) AS suppressed
FROM claimed c
LEFT JOIN {recipients} r ON r.user_id = c.to_user
CROSS JOIN LATERAL (
    SELECT CASE WHEN nullif(btrim(c.to_address), '') IS NOT NULL THEN c.to_address
                WHEN c.kind = 'email' THEN r.email
                WHEN c.kind IN ('sms', 'voice') THEN r.phone
                WHEN c.kind = 'push' THEN coalesce(r.push_named_user, r.user_id)
                ELSE r.user_id END AS address
) t
ORDER BY c.priority DESC, c.run_at, c.id
