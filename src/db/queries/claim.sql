-- claim: take due messages for worker $2, leased for $3 seconds: of each kind
-- in $4 at most the matching count in $5 (the sends that kind can start now),
-- and at most $1 in all, in priority order and, within a priority, taking
-- tenants in turns (0021); nothing of a paused kind, tenant or provider
-- (0023; $7: each kind's default provider, aligned with $4); no more of a
-- rated tenant's kind than its bucket holds (0026; $8-$10, spent by
-- tenant_rate_spend.sql in the same transaction). Returns them in the message's one
-- shape (message_shape.sql, which follows this file's CTEs `claimed` and
-- `members` in the statement: address, recipient, suppression verdict). A digest
-- group (same recipient, kind and digest_key) is claimed whole: its first due
-- message, with the others' items in `digest` (at most 99 of them, and 8 MiB
-- of members' subjects, bodies and contexts in the whole claim; the rest form
-- the next digest).
-- The batch stops once the messages taken hold $6 bytes of context,
-- options, subject, body and html (the first is always taken), so a claim's
-- memory is bounded whatever the rows hold. Committed at once, before any
-- send.
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
        SELECT b.id FROM (
        SELECT q.id, sum(q.bytes) OVER (ORDER BY q.priority DESC, q.turn, q.run_at, q.id) - q.bytes AS before
        FROM unnest($4::text[], $5::int[], $7::text[]) AS k(kind, n, provider)
        CROSS JOIN LATERAL (
            -- Fair: every tenant with queued messages of the kind offers its
            -- first due ones that no other worker holds (its share: all n for
            -- one or two tenants, fewer beyond, at least 32), numbered within
            -- each priority; the claim takes them in turns (every tenant's
            -- first, then every second, …). Rows offered but not taken are
            -- locked only until this claim commits.
            SELECT c.id, c.priority, c.run_at, c.turn, c.bytes
            -- Paused (0023): a kind, or a tenant, offers nothing.
            FROM (SELECT array_agg(t) AS tenants FROM outpost.queued_tenants(k.kind) AS t
                  WHERE NOT EXISTS (SELECT 1 FROM outpost.pauses p
                                    WHERE (p.scope = 'kind' AND p.name = k.kind)
                                       OR (p.scope = 'tenant' AND p.name = t))) ts
            CROSS JOIN LATERAL unnest(ts.tenants) AS t(tenant)
            CROSS JOIN LATERAL (
              -- Numbered after the LIMIT, so that only the share is read.
              SELECT c0.*, row_number() OVER (PARTITION BY c0.priority ORDER BY c0.run_at, c0.id) AS turn
              FROM (
                SELECT q0.id, q0.priority, q0.run_at,
                       outpost.json_bytes(q0.context) + outpost.json_bytes(q0.options)
                       + coalesce(octet_length(q0.subject), 0) + coalesce(octet_length(q0.body), 0)
                       + coalesce(octet_length(q0.html), 0) AS bytes
                FROM outpost.messages q0
                WHERE q0.status = 'queued'
                  AND q0.kind = k.kind
                  AND coalesce(q0.tenant, '') = t.tenant
                  -- Paused (0023): the provider the message would go
                  -- through (its own, else the kind's default).
                  AND (NOT EXISTS (SELECT 1 FROM outpost.pauses p WHERE p.scope = 'provider')
                       OR NOT EXISTS (SELECT 1 FROM outpost.pauses p
                                      WHERE p.scope = 'provider'
                                        AND p.name = coalesce(nullif(btrim(q0.provider), ''),
                                                              k.provider)))
                  AND q0.run_at <= now()
                  AND (q0.expires_at IS NULL OR q0.expires_at > now())
                  -- Of a digest group only its first due message: it carries the rest.
                  AND (q0.digest_key IS NULL OR NOT EXISTS (
                      SELECT 1 FROM outpost.messages e
                      WHERE e.status = 'queued' AND e.digest_key = q0.digest_key
                        AND e.kind = q0.kind AND e.id < q0.id AND e.run_at <= now()
                        AND e.to_user IS NOT DISTINCT FROM q0.to_user
                        AND e.to_address IS NOT DISTINCT FROM q0.to_address
                        AND e.tenant IS NOT DISTINCT FROM q0.tenant))
                ORDER BY q0.priority DESC, q0.run_at, q0.id
                -- Rated (0026; $8, $9, $10: tenant, kind, messages a second):
                -- no more than the tenant's bucket holds, which stays locked
                -- until this claim commits (least() passes over a NULL).
                LIMIT least(k.n, greatest(32, ceil(2.0 * k.n / cardinality(ts.tenants))::int),
                            (SELECT outpost.tenant_rate_allowance(t.tenant, k.kind, rl.rate)
                             FROM unnest($8::text[], $9::text[], $10::float8[]) AS rl(tenant, kind, rate)
                             WHERE rl.tenant = t.tenant AND rl.kind = k.kind))
                FOR UPDATE SKIP LOCKED) c0) c
            ORDER BY c.priority DESC, c.turn, c.run_at, c.id
            LIMIT k.n) q
        ORDER BY q.priority DESC, q.turn, q.run_at, q.id
        LIMIT $1) b
        WHERE b.before < $6::bigint))
    RETURNING m.id, m.attempts, m.kind, m.to_user, m.to_address, m.template, m.context,
              m.locale, m.subject, m.body, m.html, m.options, m.provider, m.tenant,
              m.max_attempts, m.expires_at, m.created_at, m.priority, m.run_at, m.category,
              m.digest_key
), members AS (
    -- The rest of each claimed digest group due within its window: sent by
    -- the claimed message, they follow it (trigger digest_follow).
    UPDATE outpost.messages d
    SET status = 'sending', worker = $2, leased_until = 'infinity', digest_of = g.leader,
        updated_at = now()
    FROM (
        -- At most 99 members a digest, and 8 MiB of members' subjects,
        -- bodies and contexts in the whole claim.
        SELECT w.leader, w.id FROM (
            SELECT c.id AS leader, e.id, sum(e.bytes) OVER (ORDER BY c.id, e.id) AS upto
            FROM claimed c
            CROSS JOIN LATERAL (
                SELECT e0.id,
                       outpost.json_bytes(e0.context) + coalesce(octet_length(e0.subject), 0)
                       + coalesce(octet_length(e0.body), 0) AS bytes
                FROM outpost.messages e0
                WHERE c.digest_key IS NOT NULL
                  AND e0.status = 'queued' AND e0.digest_key = c.digest_key AND e0.kind = c.kind
                  AND e0.to_user IS NOT DISTINCT FROM c.to_user
                  AND e0.to_address IS NOT DISTINCT FROM c.to_address
                  AND e0.tenant IS NOT DISTINCT FROM c.tenant
                  AND e0.id <> c.id
                  AND e0.run_at <= now() + coalesce(outpost.digest_window_or_null(c.options), interval '0')
                  AND (e0.expires_at IS NULL OR e0.expires_at > now())
                ORDER BY e0.id
                LIMIT 99) e
            WHERE c.digest_key IS NOT NULL) w
        WHERE w.upto <= 8388608
    ) g
    WHERE d.id = g.id AND d.status = 'queued'
    RETURNING d.id, d.digest_of, d.subject, d.body, d.context, d.created_at

)
