-- narrow, but the claim leaves messages alone ('sending' would be read from
-- outpost.inflight): one HOT update per message, at the outcome.
\i narrow.setup.sql
