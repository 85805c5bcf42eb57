-- console_retry: outpost.retry for one message; its id, or NULL when it cannot be retried.
SELECT outpost.retry($1) AS id
