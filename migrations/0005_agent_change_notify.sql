-- 0005: agent change notices.
--
-- An agent's status change (paused, archived, suspended, active again) is announced on channel
-- ibex_agent_changed, in the same transaction as the update, so every auth instance drops the
-- agent from its verification cache (the AgentVerifier) as it does a revoked token. A trigger,
-- so that every path that changes an agent (the store, the CLI, an operator's UPDATE) reaches
-- the caches. The payload is the agent id only.
CREATE FUNCTION ibex_core.notify_agent_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM pg_notify('ibex_agent_changed', COALESCE(NEW.id, OLD.id)::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER agents_notify_changed
  AFTER UPDATE OF status, org_id ON ibex_core.agents
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.org_id IS DISTINCT FROM NEW.org_id)
  EXECUTE FUNCTION ibex_core.notify_agent_changed();

CREATE TRIGGER agents_notify_deleted
  AFTER DELETE ON ibex_core.agents
  FOR EACH ROW
  EXECUTE FUNCTION ibex_core.notify_agent_changed();
