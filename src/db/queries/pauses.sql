-- pauses: every pause in force, and how many queued messages each holds
-- (counted for a kind and a tenant; a provider's depends on each kind's
-- default, so it is not counted here).
SELECT p.scope, p.name, p.paused_by, p.reason, p.paused_at,
       CASE p.scope
           WHEN 'kind' THEN (SELECT count(*) FROM outpost.messages m
                             WHERE m.status = 'queued' AND m.kind = p.name)
           WHEN 'tenant' THEN (SELECT count(*) FROM outpost.messages m
                               WHERE m.status = 'queued' AND m.tenant = p.name)
       END AS held
FROM outpost.pauses p
ORDER BY p.scope, p.name
