-- 0011: the platform role, and least privilege for the app role.
--
-- Issue 14, item 7. ibex_app serves every tenant request; it could execute create_org and
-- find_org_by_name (and list_orgs, and change its own org's status, rate limit and name), which
-- are the platform's. They move to ibex_platform: the role the CLI's platform commands assume, the
-- auth service's PlatformAdminService connects as (DATABASE_PLATFORM_URL), and the dev seed uses.
-- ibex_platform is a member of ibex_app (it acts for an org through the same tenant grants, under
-- the same row-level security) plus the platform functions and org updates; it is no superuser, has
-- no BYPASSRLS and owns nothing. Roles are cluster-wide: creating one and granting membership
-- tolerate "already done", including two databases migrated at the same moment.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'ibex_platform') THEN
    BEGIN
      CREATE ROLE ibex_platform LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS INHERIT;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT pg_catalog.pg_has_role('ibex_platform', 'ibex_app', 'MEMBER') THEN
    BEGIN
      GRANT ibex_app TO ibex_platform;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  -- Whoever runs the migrations (the database owner) assumes the role for the CLI's platform
  -- commands; a superuser needs no membership.
  IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
     AND NOT pg_catalog.pg_has_role(current_user, 'ibex_platform', 'MEMBER') THEN
    EXECUTE format('GRANT ibex_platform TO %I', current_user);
  END IF;
END
$$;

ALTER ROLE ibex_platform NOSUPERUSER NOBYPASSRLS;

REVOKE EXECUTE ON FUNCTION ibex_core.create_org(uuid, text, text, integer, timestamptz) FROM ibex_app;
REVOKE EXECUTE ON FUNCTION ibex_core.find_org_by_name(text) FROM ibex_app;
REVOKE EXECUTE ON FUNCTION ibex_core.list_orgs() FROM ibex_app;
GRANT EXECUTE ON FUNCTION ibex_core.create_org(uuid, text, text, integer, timestamptz) TO ibex_platform;
GRANT EXECUTE ON FUNCTION ibex_core.find_org_by_name(text) TO ibex_platform;
GRANT EXECUTE ON FUNCTION ibex_core.list_orgs() TO ibex_platform;

-- Changing an org (disable, enable, rate limit, rename) is the platform's; a tenant still reads its own row.
REVOKE UPDATE ON ibex_core.organizations FROM ibex_app;
GRANT UPDATE (status, rate_limit_per_minute, name) ON ibex_core.organizations TO ibex_platform;

-- The platform-admin credentials stay the owner's alone.
ALTER POLICY platform_admins_owner_only ON ibex_core.platform_admins
  USING (current_user NOT IN ('ibex_app', 'ibex_platform'))
  WITH CHECK (current_user NOT IN ('ibex_app', 'ibex_platform'));
