-- The shipped schema (migrations as they are): nothing to change.
SELECT 1;
