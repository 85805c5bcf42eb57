-- tenant_grant: map login role $1 to tenant $2 (and make it an application role).
SELECT outpost.grant_tenant($1::text::name, $2)
