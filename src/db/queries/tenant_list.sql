-- tenant_list: every role with a tenant, by tenant.
SELECT role::text, tenant, granted_at FROM outpost.tenant_roles ORDER BY tenant, role
