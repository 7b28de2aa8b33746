-- 0010: a child token never outlives its parent.
--
-- Issue 14, item 2. A token that minted another (CreateToken) is recorded as its parent. In the
-- database, whatever path writes (the store, an operator):
--  * a child's parent is a token of the same org (a composite foreign key) that is not revoked, and
--    the child's expiry is capped at the parent's (a later or no expiry becomes the parent's);
--  * revoking a token revokes every token under it (children, grandchildren, …) in the same
--    transaction; each row's revocation fires tokens_notify_revoked (0004), so each one is pushed;
--  * deleting a token deletes the tokens under it (each announced by tokens_notify_deleted, 0007).
-- Races: the insert locks its parent row (FOR SHARE) before checking it, and a revocation updates
-- the rows it revokes; so a child inserted while its parent is being revoked either waits and is
-- refused, or commits first and is found by the revocation's next pass (each pass a new snapshot).
ALTER TABLE ibex_core.tokens ADD COLUMN parent_token_id uuid;
ALTER TABLE ibex_core.tokens ADD CONSTRAINT tokens_org_id_id_unique UNIQUE (org_id, id);
ALTER TABLE ibex_core.tokens ADD CONSTRAINT tokens_parent_same_org
  FOREIGN KEY (org_id, parent_token_id) REFERENCES ibex_core.tokens (org_id, id) ON DELETE CASCADE;
CREATE INDEX tokens_parent ON ibex_core.tokens (parent_token_id) WHERE parent_token_id IS NOT NULL;

-- Runs as the inserting role, under row-level security: the parent is looked up in the org being
-- written, which WITH CHECK has already tied to the transaction's org.
CREATE FUNCTION ibex_core.check_child_token()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  parent_expires_at timestamptz;
  parent_revoked_at timestamptz;
BEGIN
  SELECT t.expires_at, t.revoked_at INTO parent_expires_at, parent_revoked_at
  FROM ibex_core.tokens t
  WHERE t.id = NEW.parent_token_id AND t.org_id = NEW.org_id
  FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'a child token needs a parent token in its org' USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF parent_revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'the parent token is revoked' USING ERRCODE = 'check_violation';
  END IF;
  IF parent_expires_at IS NOT NULL AND (NEW.expires_at IS NULL OR NEW.expires_at > parent_expires_at) THEN
    NEW.expires_at := parent_expires_at;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER tokens_child_of_parent
  BEFORE INSERT ON ibex_core.tokens
  FOR EACH ROW
  WHEN (NEW.parent_token_id IS NOT NULL)
  EXECUTE FUNCTION ibex_core.check_child_token();

-- The outermost revocation walks the whole tree under the token, pass after pass until one finds
-- nothing left to revoke; the revocations it makes fire this trigger again one level down, where it
-- returns at once (no recursion as deep as the tree). The org context is the token's own (the app
-- already runs in it; an operator's session gets it for the walk).
CREATE FUNCTION ibex_core.revoke_token_descendants()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF pg_trigger_depth() > 1 THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('app.current_org_id', NEW.org_id::text, true);
  LOOP
    WITH RECURSIVE tree(id) AS (
      SELECT t.id FROM ibex_core.tokens t WHERE t.parent_token_id = NEW.id AND t.org_id = NEW.org_id
      UNION
      SELECT t.id FROM ibex_core.tokens t JOIN tree ON t.parent_token_id = tree.id WHERE t.org_id = NEW.org_id
    )
    UPDATE ibex_core.tokens SET revoked_at = now()
    WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL;
    EXIT WHEN NOT FOUND;
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER tokens_revoke_descendants
  AFTER UPDATE OF revoked_at ON ibex_core.tokens
  FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION ibex_core.revoke_token_descendants();
