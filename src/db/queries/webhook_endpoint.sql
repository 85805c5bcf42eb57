-- webhook_endpoint: where a webhook delivery goes and the secret it is signed with.
SELECT url, secret, enabled FROM outpost.webhook_endpoints WHERE id = $1
