-- claim_plan_once: run in the claim's own transaction, before the claim. The
-- claim's plan does not depend on its parameters (it walks
-- messages_claim_kind_idx per kind, whatever the counts), but planning it
-- took about 1 ms a call, more than running it for one message: the claim
-- keeps one generic plan per connection instead of being planned on every
-- call as every other statement is (db::parse_config).
SET LOCAL plan_cache_mode = force_generic_plan
