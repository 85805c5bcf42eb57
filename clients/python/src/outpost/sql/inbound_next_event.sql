-- outpost_inbound: the next provider event after the cursor, with the
-- message's status now; settled as in inbound_next_email.sql.
SELECT t.id, t.message_id, t.provider, t.event, t.provider_event_id, t.payload,
       t.occurred_at, m.status
FROM outpost.events t
LEFT JOIN outpost.message_status m ON m.id = t.message_id
WHERE t.id > %(after)s
  AND age(t.xmin) > age(
      ((pg_snapshot_xmin(pg_current_snapshot())::text::bigint %% 4294967296)::text)::xid)
ORDER BY t.id
LIMIT 1
