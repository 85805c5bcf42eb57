-- claim: take up to $1 due messages of kinds $4 for worker $2, leased for $3
-- seconds, and return them with their recipient row ({recipients} is the
-- configured relation) and whether its address is suppressed. Committed at
-- once, before any send.
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
        SELECT id FROM outpost.messages
        WHERE status = 'queued'
          AND run_at <= now()
          AND (expires_at IS NULL OR expires_at > now())
          AND kind = ANY($4::text[])
        ORDER BY priority DESC, run_at, id
        LIMIT $1
        FOR UPDATE SKIP LOCKED))
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
       EXISTS (
           SELECT 1 FROM outpost.suppressions s
           WHERE s.family = outpost.address_family(c.kind)
             AND s.address = outpost.normalize_address(
                 CASE WHEN nullif(btrim(c.to_address), '') IS NOT NULL THEN c.to_address
                      WHEN c.kind = 'email' THEN r.email
                      WHEN c.kind IN ('sms', 'voice') THEN r.phone
                      WHEN c.kind = 'push' THEN coalesce(r.push_named_user, r.user_id)
                      ELSE r.user_id END)
       ) AS suppressed
FROM claimed c
LEFT JOIN {recipients} r ON r.user_id = c.to_user
ORDER BY c.priority DESC, c.run_at, c.id
