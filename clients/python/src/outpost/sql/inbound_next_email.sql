-- outpost_inbound: the next stored e-mail after the cursor. Rows are taken
-- only when every transaction that might still commit a lower id has
-- finished: older than the oldest transaction in flight.
SELECT t.id, t.message_id, t.mode, t.from_address, t.to_addresses, t.cc, t.subject,
       t.text_body, t.html_body, t.headers, t.envelope, t.sender_ip, t.spf, t.dkim,
       t.spam_score, t.spam_report, t.raw_message, t.received_at
FROM outpost.inbound_emails t
WHERE t.id > %(after)s
  AND age(t.xmin) > age(
      ((pg_snapshot_xmin(pg_current_snapshot())::text::bigint %% 4294967296)::text)::xid)
ORDER BY t.id
LIMIT 1
