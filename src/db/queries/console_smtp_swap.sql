-- console_smtp_swap: move SMTP server $1 one place up ($2 = 'up') or down in
-- "order", by swapping orders with its neighbour (ties broken by id).
WITH me AS (
    SELECT id, "order" FROM outpost.smtp_servers WHERE id = $1
), neighbour AS (
    SELECT s.id, s."order" FROM outpost.smtp_servers s, me
    WHERE s.id <> me.id
      AND CASE WHEN $2 = 'up' THEN (s."order", s.id) < (me."order", me.id)
               ELSE (s."order", s.id) > (me."order", me.id) END
    ORDER BY CASE WHEN $2 = 'up' THEN s."order" END DESC,
             CASE WHEN $2 = 'up' THEN s.id END DESC,
             s."order", s.id
    LIMIT 1
)
UPDATE outpost.smtp_servers t
SET "order" = CASE WHEN t.id = me.id THEN
                       CASE WHEN neighbour."order" = me."order"
                            THEN me."order" + CASE WHEN $2 = 'up' THEN -1 ELSE 1 END
                            ELSE neighbour."order" END
                   ELSE me."order" END,
    updated_at = now()
FROM me, neighbour
WHERE t.id IN (me.id, neighbour.id)
