import { randomUUID } from "node:crypto"
import { SqlClient } from "@effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { ProvisionedDatabase } from "@ibex/testkit/provision"
import { provisionDatabase } from "@ibex/testkit/provision"
import { Effect } from "effect"
import { withOrg } from "../src/PgClientLive.js"
import type { PgRawClient } from "../src/pg.js"
import { backends, migrations, provisionedPool, rawClient } from "./provision.js"

/**
 * Row-level security, observed as the application role with plain SQL. On Postgres the client
 * logs in as ibex_app; on PGlite (every session is the superuser) each transaction assumes the
 * role first, exactly as the adapters do.
 */

const HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
const TENANT_TABLES = ["agents", "organizations", "tokens", "users"]
const OPERATOR_TABLES = [
  "operators",
  "operator_recovery_codes",
  "operator_reset_tokens",
  "operator_sessions",
  "operator_refresh_tokens"
]

interface Org {
  readonly id: string
  readonly userId: string
  readonly agentId: string
  readonly tokenId: string
}

const seedOrg = async (owner: PgRawClient, name: string): Promise<Org> => {
  const org = { id: randomUUID(), userId: randomUUID(), agentId: randomUUID(), tokenId: randomUUID() }
  await owner.query("INSERT INTO ibex_core.organizations (id, name) VALUES ($1, $2)", [org.id, name])
  await owner.query("INSERT INTO ibex_core.users (id, org_id, email, display_name) VALUES ($1, $2, $3, 'U')", [
    org.userId,
    org.id,
    `${name}@example.test`
  ])
  await owner.query("INSERT INTO ibex_core.agents (id, org_id, name) VALUES ($1, $2, 'agent')", [org.agentId, org.id])
  await owner.query(
    `INSERT INTO ibex_core.tokens (id, org_id, name, display_prefix, secret_hash, permissions, created_by)
     VALUES ($1, $2, 'token', 'ibex_pat_x', $3, 63, $4)`,
    [org.tokenId, org.id, HASH, org.userId]
  )
  return org
}

for (const backend of backends) {
  describe(`row-level security [${backend}]`, () => {
    let db: ProvisionedDatabase
    let owner: PgRawClient
    let app: PgRawClient
    let orgA: Org
    let orgB: Org

    /** One transaction as the app role, with org context when `orgId` is given; always rolled back. */
    const asApp = async <A>(orgId: string | null, f: (q: PgRawClient["query"]) => Promise<A>): Promise<A> => {
      await app.query("BEGIN")
      try {
        if (db.appRole !== null) await app.query("SELECT set_config('role', $1, true)", [db.appRole])
        if (orgId !== null) await app.query("SELECT set_config('app.current_org_id', $1, true)", [orgId])
        return await f(app.query.bind(app))
      } finally {
        await app.query("ROLLBACK")
      }
    }

    beforeAll(async () => {
      db = await provisionDatabase({ migrations, backend })
      owner = await rawClient(db.url)
      app = await rawClient(db.appUrl)
      orgA = await seedOrg(owner, `a-${randomUUID().slice(0, 8)}`)
      orgB = await seedOrg(owner, `b-${randomUUID().slice(0, 8)}`)
    })
    afterAll(async () => {
      await app?.end().catch(() => undefined)
      await owner?.end().catch(() => undefined)
      await db?.drop()
    })

    it("runs as ibex_app, which is neither superuser nor BYPASSRLS and owns nothing", async () => {
      const who = await asApp(null, async (q) => (await q<{ u: string }>("SELECT current_user AS u")).rows[0]?.u)
      expect(who).toBe("ibex_app")
      const { rows } = await owner.query<{ rolsuper: boolean; rolbypassrls: boolean; rolcanlogin: boolean }>(
        "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'ibex_app'"
      )
      expect(rows).toEqual([{ rolsuper: false, rolbypassrls: false, rolcanlogin: true }])
      const owned = await owner.query<{ n: string }>(`
        SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
             + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
             + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
             + (SELECT count(*) FROM pg_type WHERE typowner = r.oid) AS n
        FROM pg_roles r WHERE r.rolname = 'ibex_app'`)
      expect(Number(owned.rows[0]?.n)).toBe(0)
    })

    it("every table in ibex_core has ENABLE and FORCE row level security and a policy (listed from the catalogue)", async () => {
      const { rows } = await owner.query<{
        relname: string
        relrowsecurity: boolean
        relforcerowsecurity: boolean
        policies: string
      }>(`
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'ibex_core' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname`)
      expect(rows.map((r) => r.relname)).toEqual(expect.arrayContaining(TENANT_TABLES))
      for (const row of rows) {
        expect({ table: row.relname, enabled: row.relrowsecurity, forced: row.relforcerowsecurity }).toEqual({
          table: row.relname,
          enabled: true,
          forced: true
        })
        expect(Number(row.policies), `policies on ${row.relname}`).toBeGreaterThan(0)
      }
    })

    it("the policies use the NULLIF pattern in USING and WITH CHECK", async () => {
      const { rows } = await owner.query<{ tablename: string; qual: string; with_check: string }>(
        "SELECT tablename, qual, with_check FROM pg_policies WHERE schemaname = 'ibex_core'"
      )
      expect(rows.length).toBeGreaterThanOrEqual(TENANT_TABLES.length)
      // platform_admins (0008) is no tenant's: its policy shuts the app role out (next test). The
      // operator tables (0030) are no tenant's either (an operator spans orgs): their policy admits
      // only the service roles (checked below).
      const identity = new Set(OPERATOR_TABLES)
      for (const row of rows.filter((r) => r.tablename !== "platform_admins" && !identity.has(r.tablename))) {
        // As deparsed by the server: (… = (NULLIF(current_setting('app.current_org_id'::text, true), ''::text))::uuid)
        const pattern =
          /^\((id|org_id) = \(NULLIF\(current_setting\('app\.current_org_id'::text, true\), ''::text\)\)::uuid\)$/
        expect(row.qual).toMatch(pattern)
        expect(row.with_check).toMatch(pattern)
      }
    })

    it("operator tables (0030) admit only the service roles", async () => {
      const { rows } = await owner.query<{ tablename: string; qual: string; with_check: string }>(
        "SELECT tablename, qual, with_check FROM pg_policies WHERE schemaname = 'ibex_core' AND tablename = ANY($1)",
        [OPERATOR_TABLES]
      )
      expect(rows.map((r) => r.tablename).sort()).toEqual([...OPERATOR_TABLES].sort())
      for (const row of rows) {
        expect(row.qual).toMatch(/CURRENT_USER = ANY \(ARRAY\['ibex_app'::name, 'ibex_platform'::name\]\)/)
        expect(row.with_check).toBe(row.qual)
      }
    })

    it("platform_admins: the app role can neither read nor write it, only look one credential up by id", async () => {
      const id = randomUUID()
      await owner.query(
        "INSERT INTO ibex_core.platform_admins (id, name, secret_hash) VALUES ($1, 'ops', '$argon2id$x')",
        [id]
      )
      await asApp(null, async (q) => {
        await expect(q("SELECT * FROM ibex_core.platform_admins")).rejects.toThrow(/permission denied/)
      })
      await asApp(null, async (q) => {
        await expect(
          q("INSERT INTO ibex_core.platform_admins (id, name, secret_hash) VALUES ($1, 'x', '$argon2id$y')", [
            randomUUID()
          ])
        ).rejects.toThrow(/permission denied/)
      })
      await asApp(orgA.id, async (q) => {
        const found = await q<{ id: string }>("SELECT id FROM ibex_core.find_platform_admin_credential($1)", [id])
        expect(found.rows.map((r) => r.id)).toEqual([id])
      })
    })

    it("SECURITY DEFINER functions are the expected narrow set, each with a fixed search_path, not executable by PUBLIC", async () => {
      const { rows } = await owner.query<{ proname: string; config: string | null; public_exec: boolean }>(`
        SELECT p.proname, array_to_string(p.proconfig, ',') AS config,
               has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'ibex_core' AND p.prosecdef ORDER BY p.proname`)
      expect(rows.map((r) => r.proname)).toEqual([
        "append_audit_event",
        "consume_invitation",
        "create_org",
        "find_org_by_name",
        "find_platform_admin_credential",
        "find_token_credential",
        "list_audit_events",
        "list_orgs",
        "operator_assignments",
        "touch_token_last_used"
      ])
      for (const row of rows) {
        expect(row.config).toContain("search_path=pg_catalog, pg_temp")
        expect(row.public_exec).toBe(false)
      }
    })

    it("with org A's context, org B's rows are invisible to SELECT, and UPDATE / DELETE affect 0 rows", async () => {
      await asApp(orgA.id, async (q) => {
        for (const table of ["users", "agents", "tokens"]) {
          const all = await q<{ org_id: string }>(`SELECT org_id FROM ibex_core.${table}`)
          expect(all.rows.length).toBeGreaterThan(0)
          expect(all.rows.every((r) => r.org_id === orgA.id)).toBe(true)
          const seen = await q(`SELECT * FROM ibex_core.${table} WHERE org_id = $1`, [orgB.id])
          expect(seen.rowCount).toBe(0)
          const deleted = await q(`DELETE FROM ibex_core.${table} WHERE org_id = $1`, [orgB.id])
          expect(deleted.rowCount).toBe(0)
        }
        expect((await q("SELECT * FROM ibex_core.organizations WHERE id = $1", [orgB.id])).rowCount).toBe(0)
        expect((await q("SELECT id FROM ibex_core.organizations")).rows).toEqual([{ id: orgA.id }])
        const updates = [
          ["UPDATE ibex_core.tokens SET revoked_at = now() WHERE id = $1", orgB.tokenId],
          ["UPDATE ibex_core.agents SET status = 'suspended' WHERE id = $1", orgB.agentId],
          ["UPDATE ibex_core.users SET display_name = 'x' WHERE id = $1", orgB.userId]
          // Organizations: ibex_app may not update any (migration 0011; privileges.test.ts).
        ] as const
        for (const [statement, id] of updates) expect((await q(statement, [id])).rowCount).toBe(0)
      })
      // And nothing of B's changed.
      const b = await owner.query<{ revoked_at: Date | null }>(
        "SELECT revoked_at FROM ibex_core.tokens WHERE id = $1",
        [orgB.tokenId]
      )
      expect(b.rows).toEqual([{ revoked_at: null }])
    })

    it("with org A's context, inserting an org B row fails (WITH CHECK), and moving a row to org B fails", async () => {
      const insert = asApp(orgA.id, (q) =>
        q("INSERT INTO ibex_core.agents (id, org_id, name) VALUES ($1, $2, 'intruder')", [randomUUID(), orgB.id])
      )
      await expect(insert).rejects.toMatchObject({ code: "42501" })
      const token = asApp(orgA.id, (q) =>
        q(
          `INSERT INTO ibex_core.tokens (id, org_id, name, display_prefix, secret_hash, permissions)
           VALUES ($1, $2, 't', 'p', $3, 1)`,
          [randomUUID(), orgB.id, HASH]
        )
      )
      await expect(token).rejects.toMatchObject({ code: "42501" })
      const move = asApp(orgA.id, (q) =>
        q("UPDATE ibex_core.users SET email = email WHERE id = $1 RETURNING id", [orgA.userId]).then(() =>
          q("INSERT INTO ibex_core.users (id, org_id, email, display_name) VALUES ($1, $2, 'x@y', 'x')", [
            randomUUID(),
            orgB.id
          ])
        )
      )
      await expect(move).rejects.toMatchObject({ code: "42501" })
      // Creating an org directly is not granted at all: only through create_org.
      const org = asApp(orgA.id, (q) =>
        q("INSERT INTO ibex_core.organizations (id, name) VALUES ($1, 'rogue')", [randomUUID()])
      )
      await expect(org).rejects.toMatchObject({ code: "42501" })
    })

    it("with no org context, every tenant table shows 0 rows and writes fail", async () => {
      await asApp(null, async (q) => {
        for (const table of TENANT_TABLES) expect((await q(`SELECT * FROM ibex_core.${table}`)).rowCount).toBe(0)
        expect((await q("UPDATE ibex_core.tokens SET name = 'x'")).rowCount).toBe(0)
        expect((await q("DELETE FROM ibex_core.agents")).rowCount).toBe(0)
      })
      await expect(
        asApp(null, (q) =>
          q("INSERT INTO ibex_core.agents (id, org_id, name) VALUES ($1, $2, 'x')", [randomUUID(), orgA.id])
        )
      ).rejects.toMatchObject({ code: "42501" })
      if (db.appRole === null) {
        // Outside any transaction too (only meaningful where the login role is the app role).
        for (const table of TENANT_TABLES)
          expect((await app.query(`SELECT * FROM ibex_core.${table}`)).rowCount).toBe(0)
      }
    })

    it("org A then org B on the same connection leaks nothing, and afterwards the context is empty again", async () => {
      const tokensIn = (orgId: string | null) =>
        asApp(orgId, async (q) =>
          (await q<{ id: string }>("SELECT id FROM ibex_core.tokens ORDER BY id")).rows.map((r) => r.id)
        )
      expect(await tokensIn(orgA.id)).toEqual([orgA.tokenId])
      expect(await tokensIn(orgB.id)).toEqual([orgB.tokenId])
      // The trap: after a transaction-local setting the connection reports '' (not NULL); NULLIF keeps it at 0 rows.
      const leftover = await asApp(null, async (q) => {
        const setting = await q<{ v: string | null }>("SELECT current_setting('app.current_org_id', true) AS v")
        const rows = await q("SELECT id FROM ibex_core.tokens")
        return { setting: setting.rows[0]?.v, count: rows.rowCount }
      })
      expect(leftover.count).toBe(0)
      expect(["", null]).toContain(leftover.setting)
    })

    it.live("through the adapters' pool of one connection: withOrg(A) then withOrg(B) then no context", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const ids = (orgId: string) =>
          withOrg(orgId, sql<{ id: string }>`SELECT id FROM ibex_core.tokens`).pipe(
            Effect.map((rows) => rows.map((r) => r.id))
          )
        expect(yield* ids(orgA.id)).toEqual([orgA.tokenId])
        expect(yield* ids(orgB.id)).toEqual([orgB.tokenId])
        expect(yield* ids(orgA.id)).toEqual([orgA.tokenId])
        const setting = yield* sql<{ v: string | null }>`SELECT current_setting('app.current_org_id', true) AS v`
        expect(["", null]).toContain(setting[0]?.v ?? null)
        if (db.appRole === null) expect(yield* sql`SELECT id FROM ibex_core.tokens`).toHaveLength(0)
      }).pipe(Effect.provide(provisionedPool(db, 1)))
    )

    it("the pre-tenant lookup finds a token of any org without org context, and only by its id", async () => {
      const found = await asApp(null, (q) =>
        q<{ org_id: string; org_status: string }>(
          "SELECT org_id, org_status FROM ibex_core.find_token_credential($1)",
          [orgB.tokenId]
        )
      )
      expect(found.rows).toEqual([{ org_id: orgB.id, org_status: "active" }])
      const missing = await asApp(null, (q) => q("SELECT * FROM ibex_core.find_token_credential($1)", [randomUUID()]))
      expect(missing.rowCount).toBe(0)
    })

    it("the app role cannot read the migrations bookkeeping", async () => {
      await expect(asApp(null, (q) => q("SELECT * FROM ibex_migrations.applied"))).rejects.toMatchObject({
        code: "42501"
      })
    })
  })
}
