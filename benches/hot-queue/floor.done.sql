-- floor: messages drained are those no longer queued or in flight.
SELECT count(*) FROM outpost.messages m
WHERE NOT EXISTS (SELECT 1 FROM outpost.queue q WHERE q.id = m.id)
  AND NOT EXISTS (SELECT 1 FROM outpost.inflight l WHERE l.id = m.id)
