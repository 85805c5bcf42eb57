-- pause: pause $1 ('kind', 'provider' or 'tenant') $2, by actor $3 (from
-- address $5) for reason $4; true when it was running before.
SELECT outpost.pause($1, $2, $3, $4, $5)
