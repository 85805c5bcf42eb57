-- stats_status: messages created since $1 by kind and status.
SELECT kind, status, count(*) AS n
FROM outpost.messages
WHERE created_at >= $1
GROUP BY kind, status
ORDER BY kind, status
