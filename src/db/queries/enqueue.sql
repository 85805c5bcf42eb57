-- enqueue: one message through outpost.enqueue (the helpers' common INSERT).
SELECT outpost.enqueue(
    kind => $1, to_user => $2, to_address => $3, template => $4, context => $5,
    locale => $6, subject => $7, body => $8, html => $9, options => $10,
    provider => $11, tenant => $12, priority => $13, run_at => $14,
    expires_at => $15, idempotency_key => $16, max_attempts => $17,
    category => $18, digest_key => $19)
