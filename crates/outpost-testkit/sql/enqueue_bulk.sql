-- enqueue_bulk: $1 plain e-mails at once, for tests and benchmarks.
INSERT INTO outpost.messages (kind, to_address, subject, body)
SELECT 'email', 'user' || g || '@example.com', 'Bench', 'Hello from the benchmark'
FROM generate_series(1, $1::bigint) g
