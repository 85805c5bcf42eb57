-- console_inbound_list: received e-mails before id $1 (all when NULL), newest
-- first, at most $2, of tenant $3 (every tenant's when NULL), with their
-- verdicts and attachment counts.
SELECT e.id, e.from_address, e.to_addresses, e.subject, e.spf, e.dkim, e.spam_score,
       e.received_at, e.note,
       (SELECT count(*) FROM outpost.inbound_attachments a WHERE a.inbound_email_id = e.id) AS attachments
FROM outpost.inbound_emails e
WHERE ($1::bigint IS NULL OR e.id < $1)
  AND ($3::text IS NULL OR e.tenant = $3)
ORDER BY e.id DESC
LIMIT $2
