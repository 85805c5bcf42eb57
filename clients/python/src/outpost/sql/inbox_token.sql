-- outpost.inbox_token: a token for one user's real-time inbox, valid for ttl.
SELECT outpost.inbox_token(%(user_id)s, ttl => %(ttl)s::interval) AS token
