-- 0031: role assignments (operator ↔ org ↔ role) and invitations: tenant tables.
--
-- Both belong to one org: ENABLE + FORCE row-level security with the NULLIF policy (docs/RLS.md).
-- Two reads precede an org context and go through narrow SECURITY DEFINER functions: an
-- operator's own assignments (every request: which orgs, which roles) and spending an invitation
-- by its digest (the invitee has no org yet).
CREATE TABLE ibex_core.role_assignments (
  org_id uuid NOT NULL REFERENCES ibex_core.organizations (id),
  operator_id uuid NOT NULL REFERENCES ibex_core.operators (id) ON DELETE CASCADE,
  role text NOT NULL CONSTRAINT role_assignments_role CHECK (role IN ('org_admin', 'member', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, operator_id)
);
CREATE INDEX role_assignments_operator ON ibex_core.role_assignments (operator_id);

CREATE TABLE ibex_core.invitations (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES ibex_core.organizations (id),
  email text NOT NULL CONSTRAINT invitations_email_length CHECK (char_length(email) BETWEEN 3 AND 320),
  role text NOT NULL CONSTRAINT invitations_role CHECK (role IN ('org_admin', 'member', 'viewer')),
  digest text NOT NULL CONSTRAINT invitations_digest_unique UNIQUE,
  invited_by uuid REFERENCES ibex_core.operators (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX invitations_org ON ibex_core.invitations (org_id, created_at);

ALTER TABLE ibex_core.role_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.role_assignments FORCE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.invitations FORCE ROW LEVEL SECURITY;

CREATE POLICY role_assignments_tenant_isolation ON ibex_core.role_assignments
  USING (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid);
CREATE POLICY invitations_tenant_isolation ON ibex_core.invitations
  USING (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

REVOKE ALL ON ibex_core.role_assignments FROM PUBLIC;
REVOKE ALL ON ibex_core.invitations FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE (role), DELETE ON ibex_core.role_assignments TO ibex_app;
GRANT SELECT, INSERT, UPDATE (revoked_at) ON ibex_core.invitations TO ibex_app;

-- An operator's own roles, across orgs: read for every admin request (authorization is never cached).
CREATE FUNCTION ibex_core.operator_assignments(p_operator_id uuid)
RETURNS TABLE (org_id uuid, operator_id uuid, role text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT a.org_id, a.operator_id, a.role, a.created_at FROM ibex_core.role_assignments a
  WHERE a.operator_id = p_operator_id ORDER BY a.created_at, a.org_id
$$;

-- Spends an invitation by its digest, atomically (unused, unrevoked, unexpired at p_now).
CREATE FUNCTION ibex_core.consume_invitation(p_digest text, p_now timestamptz)
RETURNS TABLE (id uuid, org_id uuid, email text, role text, invited_by uuid, created_at timestamptz, expires_at timestamptz)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE ibex_core.invitations i SET used_at = p_now
  WHERE i.digest = p_digest AND i.used_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > p_now
  RETURNING i.id, i.org_id, i.email, i.role, i.invited_by, i.created_at, i.expires_at
$$;

REVOKE ALL ON FUNCTION ibex_core.operator_assignments(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION ibex_core.consume_invitation(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ibex_core.operator_assignments(uuid) TO ibex_app;
GRANT EXECUTE ON FUNCTION ibex_core.consume_invitation(text, timestamptz) TO ibex_app;
