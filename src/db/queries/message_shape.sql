-- message_shape: the one shape of a message about to be sent, after the CTEs
-- `claimed` (message rows) and `members` (their digest members) that the
-- claim (claim.sql) or the console's preview (message_preview.sql) put
-- before it. Here and only here are decided: the address the message goes
-- to (its to_address, else its recipient's for its kind, trimmed; NULL when
-- there is none), its recipient row ({recipients} is the configured
-- relation), the normalised addresses among all its recipients (to, lists
-- included, cc and bcc) on the suppression list and whether that stops the
-- whole message (every primary recipient suppressed), the preference that
-- stops it (outpost.preference_block) and the recipient's quiet hours (a
-- column the relation may lack).
targets AS (
    -- What is read of the recipient is bounded whatever the relation holds
    -- (it may be the application's own view); to_json, not to_jsonb, which
    -- fails on a string over 256 MiB.
    SELECT c.*, t.address AS target, r.user_id AS r_user_id, left(r.email, 16384) AS r_email,
           left(r.phone, 1024) AS r_phone, left(r.locale, 1024) AS r_locale,
           left(r.timezone, 1024) AS r_timezone, left(r.tenant, 1024) AS r_tenant,
           left(r.push_named_user, 1024) AS r_push_named_user, left(r.name, 1024) AS r_name,
           left(to_json(r) ->> 'quiet_hours', 1024) AS r_quiet_hours
    FROM claimed c
    LEFT JOIN {recipients} r ON r.user_id = c.to_user
    CROSS JOIN LATERAL (
        SELECT coalesce(nullif(btrim(c.to_address, E' \t\r\n'), ''),
                        nullif(btrim(CASE WHEN c.kind = 'email' THEN left(r.email, 16384)
                                          WHEN c.kind IN ('sms', 'voice') THEN left(r.phone, 1024)
                                          WHEN c.kind = 'push' THEN left(coalesce(
                                              nullif(btrim(r.push_named_user, E' \t\r\n'), ''),
                                              r.user_id), 1024)
                                          ELSE left(r.user_id, 1024) END, E' \t\r\n'), '')) AS address
    ) t
), suppressed AS (
    -- One join of every claimed message's recipients (to, lists included,
    -- cc and bcc) with the suppression list, not a subquery per message:
    -- that cost about 15 us a row.
    -- The primary recipients come first (n <= primaries).
    SELECT x.id, array_agg(DISTINCT s.address) AS addresses,
           count(DISTINCT s.address) FILTER (WHERE a.n <= x.primaries) AS primary_hits
    FROM (SELECT y.id, y.kind, y.options, l.primary_list,
                 cardinality(l.primary_list) AS primaries
          FROM targets y
          CROSS JOIN LATERAL (
              SELECT CASE WHEN y.kind = 'email' THEN string_to_array(y.target, ',')
                          ELSE ARRAY[y.target] END AS primary_list) l
          WHERE y.target IS NOT NULL) x
    CROSS JOIN LATERAL unnest(
        x.primary_list
        || CASE WHEN x.kind = 'email' AND (x.options ? 'cc' OR x.options ? 'bcc')
                THEN ARRAY(SELECT jsonb_array_elements_text(outpost.address_list(x.options -> 'cc')
                                                            || outpost.address_list(x.options -> 'bcc')))
                ELSE '{}'::text[] END) WITH ORDINALITY AS a(address, n)
    JOIN outpost.suppressions s
      ON s.family = outpost.address_family(x.kind) AND s.address = outpost.normalize_address(a.address)
    GROUP BY x.id
)
SELECT x.id, x.attempts, x.kind, x.to_user, x.to_address, x.template, x.context,
       x.locale, x.subject, x.body, x.html, x.options, x.provider, x.tenant,
       x.max_attempts, x.expires_at, x.created_at, x.priority, x.category,
       CASE WHEN x.category IS NOT NULL AND x.to_user IS NOT NULL
            THEN outpost.preference_block(x.to_user, x.category, x.kind) END AS blocked_by,
       x.r_quiet_hours,
       CASE WHEN x.digest_key IS NOT NULL THEN (
           SELECT jsonb_agg(jsonb_build_object('id', y.id, 'subject', y.subject, 'body', y.body,
                                               'context', y.context, 'created_at', y.created_at)
                            ORDER BY y.id)
           FROM (SELECT x.id, x.subject, x.body, x.context, x.created_at
                 UNION ALL
                 SELECT d.id, d.subject, d.body, d.context, d.created_at
                 FROM members d WHERE d.digest_of = x.id) y
           HAVING count(*) > 1) END AS digest,
       x.r_user_id, x.r_email, x.r_phone, x.r_locale, x.r_timezone, x.r_tenant,
       x.r_push_named_user, x.r_name,
       x.target AS address,
       coalesce(su.addresses, '{}'::text[]) AS suppressed,
       -- Every primary recipient (distinct, normalised, blanks left out) is
       -- suppressed: the message is not sent at all.
       CASE WHEN su.id IS NULL THEN false
            WHEN x.kind <> 'email' THEN true
            ELSE su.primary_hits >= (
                SELECT count(DISTINCT outpost.normalize_address(p))
                FROM unnest(string_to_array(x.target, ',')) AS p
                WHERE btrim(p, E' \t\r\n') <> '') END AS all_suppressed,
       outpost.json_bytes(x.context) + outpost.json_bytes(x.options)
       + coalesce(octet_length(x.subject), 0) + coalesce(octet_length(x.body), 0)
       + coalesce(octet_length(x.html), 0) AS payload_bytes
FROM targets x
LEFT JOIN suppressed su ON su.id = x.id
ORDER BY x.priority DESC, x.run_at, x.id
