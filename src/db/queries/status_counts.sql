-- status_counts: how many messages of each kind are in each status.
SELECT kind, status, count(*) AS n
FROM outpost.messages
GROUP BY kind, status
ORDER BY kind, status
