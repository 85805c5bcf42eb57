-- claim_pooled: run in the claim's own transaction, before the claim, behind a
-- transaction pooler ([database] pooler = "transaction"). The pooler refuses
-- the connection's session settings (db::parse_config), so the claim, the
-- statement that reaches JIT's cost threshold on a large outbox, turns JIT
-- off for its own transaction. The claim runs unnamed there, planned anew
-- each time, so plan_cache_mode does not matter.
SET LOCAL jit = off
