-- 0008: platform administrators and the org lifecycle.
--
-- A platform admin acts above tenants: onboards orgs, renames, limits, disables and enables them,
-- and manages any org's tokens and agents. Its credential (`ibex_padm_<uuid>_<secret>`) is a
-- separate kind from an org's PAT, kept in its own table, stored only as an Argon2id PHC string.
-- Credentials are minted, listed and revoked by the database owner (`ibex admin credential …`);
-- the app role cannot read or write the table, only look one credential up by id through the
-- narrow SECURITY DEFINER function below (as validation does for PATs).
CREATE TABLE ibex_core.platform_admins (
  id uuid PRIMARY KEY,
  name text NOT NULL CONSTRAINT platform_admins_name_length CHECK (char_length(name) BETWEEN 1 AND 128),
  secret_hash text NOT NULL
    CONSTRAINT platform_admins_secret_hash_is_phc CHECK (secret_hash LIKE '$%' AND position('ibex_' IN secret_hash) = 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Not a tenant table, but nobody but the owner may see it: RLS on with no policy denies every
-- other role even if a grant slipped in.
ALTER TABLE ibex_core.platform_admins ENABLE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.platform_admins FORCE ROW LEVEL SECURITY;
REVOKE ALL ON ibex_core.platform_admins FROM PUBLIC;
CREATE POLICY platform_admins_owner_only ON ibex_core.platform_admins
  USING (current_user <> 'ibex_app') WITH CHECK (current_user <> 'ibex_app');

CREATE FUNCTION ibex_core.find_platform_admin_credential(p_id uuid)
RETURNS TABLE (id uuid, name text, secret_hash text, created_at timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT a.id, a.name, a.secret_hash, a.created_at, a.revoked_at FROM ibex_core.platform_admins a WHERE a.id = p_id
$$;

-- The one cross-tenant read: every org, for the platform admin's `org list`.
CREATE FUNCTION ibex_core.list_orgs()
RETURNS SETOF ibex_core.organizations
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM ibex_core.organizations ORDER BY created_at, id
$$;

REVOKE ALL ON FUNCTION ibex_core.find_platform_admin_credential(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION ibex_core.list_orgs() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ibex_core.find_platform_admin_credential(uuid) TO ibex_app;
GRANT EXECUTE ON FUNCTION ibex_core.list_orgs() TO ibex_app;

-- Renaming happens in the org's own context (row-level security still confines it to that org).
GRANT UPDATE (name) ON ibex_core.organizations TO ibex_app;
