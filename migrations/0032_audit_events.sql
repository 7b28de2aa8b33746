-- 0032: the audit trail of admin mutations (issue 15): append-only in the database.
--
-- A tenant table (org_id; NULL for platform events such as creating an org or an operator): the
-- NULLIF policy lets an org's context read its own events. Nobody updates or deletes: UPDATE,
-- DELETE and TRUNCATE are revoked from every role and a trigger refuses them even to the owner.
-- Appending goes through ibex_core.append_audit_event (an event may have no org, which the
-- tenant policy could not admit); the platform-wide listing through list_audit_events.
CREATE TABLE ibex_core.audit_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor text NOT NULL CONSTRAINT audit_events_actor_length CHECK (char_length(actor) BETWEEN 1 AND 200),
  action text NOT NULL CONSTRAINT audit_events_action_length CHECK (char_length(action) BETWEEN 1 AND 100),
  target text,
  org_id uuid,
  request_id text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_org ON ibex_core.audit_events (org_id, id DESC);

ALTER TABLE ibex_core.audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE ibex_core.audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_tenant_isolation ON ibex_core.audit_events
  USING (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid)
  WITH CHECK (org_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid);

REVOKE ALL ON ibex_core.audit_events FROM PUBLIC;
GRANT SELECT ON ibex_core.audit_events TO ibex_app;

CREATE FUNCTION ibex_core.audit_events_append_only()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'ibex_core.audit_events is append-only' USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON ibex_core.audit_events
  FOR EACH ROW EXECUTE FUNCTION ibex_core.audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON ibex_core.audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION ibex_core.audit_events_append_only();

CREATE FUNCTION ibex_core.append_audit_event(
  p_actor text, p_action text, p_target text, p_org_id uuid, p_request_id text, p_detail jsonb
)
RETURNS SETOF ibex_core.audit_events
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO ibex_core.audit_events (actor, action, target, org_id, request_id, detail)
  VALUES (p_actor, p_action, p_target, p_org_id, p_request_id, p_detail)
  RETURNING *
$$;

-- Newest first; p_org_id NULL: every event (the platform admin's view, gated by the use case).
CREATE FUNCTION ibex_core.list_audit_events(p_org_id uuid, p_before bigint, p_limit integer)
RETURNS SETOF ibex_core.audit_events
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM ibex_core.audit_events e
  WHERE (p_org_id IS NULL OR e.org_id = p_org_id) AND (p_before IS NULL OR e.id < p_before)
  ORDER BY e.id DESC LIMIT LEAST(GREATEST(p_limit, 1), 1000)
$$;

REVOKE ALL ON FUNCTION ibex_core.append_audit_event(text, text, text, uuid, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION ibex_core.list_audit_events(uuid, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION ibex_core.audit_events_append_only() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ibex_core.append_audit_event(text, text, text, uuid, text, jsonb) TO ibex_app;
GRANT EXECUTE ON FUNCTION ibex_core.list_audit_events(uuid, bigint, integer) TO ibex_app;
