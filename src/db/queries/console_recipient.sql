-- console_recipient: the recipient row of user $1, for the preview. {recipients}
-- is the configured relation.
SELECT user_id, email, phone, locale, timezone, tenant, push_named_user, name
FROM {recipients}
WHERE user_id = $1
