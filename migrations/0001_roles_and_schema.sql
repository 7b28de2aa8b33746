-- 0001: the application role and the schema.
--
-- ibex_app is what the services log in as. It owns nothing, is not a superuser and has no
-- BYPASSRLS, so row-level security always applies to it. Roles are cluster-wide: several
-- databases on one server (tests clone one per file) share it, so creating it tolerates
-- "already exists", including the race where two databases are migrated at the same moment.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'ibex_app') THEN
    BEGIN
      CREATE ROLE ibex_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
END
$$;

-- Whatever an earlier version or an operator did, the role must not bypass row-level security.
ALTER ROLE ibex_app NOSUPERUSER NOBYPASSRLS;

CREATE SCHEMA IF NOT EXISTS ibex_core;
REVOKE ALL ON SCHEMA ibex_core FROM PUBLIC;
GRANT USAGE ON SCHEMA ibex_core TO ibex_app;
