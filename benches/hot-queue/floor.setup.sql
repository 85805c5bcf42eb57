-- The floor, for reference: no audit at all. A queue row is claimed into
-- inflight and deleted at the outcome (what graphile-worker does in spirit);
-- messages and attempts are not touched.
\i narrow.setup.sql
