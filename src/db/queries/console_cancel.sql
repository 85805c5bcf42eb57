-- console_cancel: outpost.cancel for one message; its id, or NULL when it is no longer queued.
SELECT outpost.cancel($1) AS id
