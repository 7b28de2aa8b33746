-- 0003: the narrow paths that run before (or above) a tenant.
--
-- Each is SECURITY DEFINER with a fixed search_path, does one thing, and is executable by
-- ibex_app only. They are the whole of the app role's way around row-level security.

-- The one pre-tenant read: a token by id, with its org's state, for validation.
CREATE FUNCTION ibex_core.find_token_credential(p_token_id uuid)
RETURNS TABLE (
  id uuid,
  org_id uuid,
  name text,
  display_prefix text,
  secret_hash text,
  permissions numeric,
  created_by uuid,
  created_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  org_status text,
  org_rate_limit_per_minute integer
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.id, t.org_id, t.name, t.display_prefix, t.secret_hash, t.permissions, t.created_by,
         t.created_at, t.expires_at, t.revoked_at, t.last_used_at, o.status, o.rate_limit_per_minute
  FROM ibex_core.tokens t
  JOIN ibex_core.organizations o ON o.id = t.org_id
  WHERE t.id = p_token_id
$$;

-- Bookkeeping after a successful validation: the token's last use, never moved backwards.
CREATE FUNCTION ibex_core.touch_token_last_used(p_token_id uuid, p_at timestamptz)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE ibex_core.tokens SET last_used_at = GREATEST(last_used_at, p_at) WHERE id = p_token_id
$$;

-- Platform operations (admin CLI, seed): creating an org and finding one by name.
CREATE FUNCTION ibex_core.create_org(
  p_id uuid,
  p_name text,
  p_status text,
  p_rate_limit_per_minute integer,
  p_created_at timestamptz
)
RETURNS SETOF ibex_core.organizations
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO ibex_core.organizations (id, name, status, rate_limit_per_minute, created_at)
  VALUES (p_id, p_name, p_status, p_rate_limit_per_minute, p_created_at)
  RETURNING *
$$;

CREATE FUNCTION ibex_core.find_org_by_name(p_name text)
RETURNS SETOF ibex_core.organizations
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM ibex_core.organizations WHERE name = p_name
$$;

REVOKE ALL ON FUNCTION ibex_core.find_token_credential(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION ibex_core.touch_token_last_used(uuid, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION ibex_core.create_org(uuid, text, text, integer, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION ibex_core.find_org_by_name(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ibex_core.find_token_credential(uuid) TO ibex_app;
GRANT EXECUTE ON FUNCTION ibex_core.touch_token_last_used(uuid, timestamptz) TO ibex_app;
GRANT EXECUTE ON FUNCTION ibex_core.create_org(uuid, text, text, integer, timestamptz) TO ibex_app;
GRANT EXECUTE ON FUNCTION ibex_core.find_org_by_name(text) TO ibex_app;
