import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { ProvisionedDatabase } from "@ibex/testkit/provision"
import { provisionDatabase } from "@ibex/testkit/provision"
import { appUrlFromOwnerUrl } from "../src/PgClientLive.js"
import type { PgRawClient } from "../src/pg.js"
import { backends, migrations, rawClient } from "./provision.js"

/**
 * Issue 14, item 7: least privilege in the database. The tenant-serving role ibex_app may not
 * create, look up by name, list or change organizations: those are the platform's, done as the
 * separate role ibex_platform (the CLI's platform commands, the auth service's PlatformAdminService,
 * the seed). Observed with plain SQL as each role: on Postgres by logging in as it; on PGlite
 * (every session is the superuser) by assuming it per transaction, as the adapters do.
 */

const PLATFORM_ROLE = "ibex_platform"

for (const backend of backends) {
  describe(`database privileges [${backend}]`, () => {
    let db: ProvisionedDatabase
    let owner: PgRawClient
    let app: PgRawClient
    let platform: PgRawClient
    let orgId: string

    /** One transaction as `role` (where it must be assumed), org context when given; always rolled back. */
    const as =
      (client: () => PgRawClient, role: string) =>
      async <A>(orgContext: string | null, f: (q: PgRawClient["query"]) => Promise<A>): Promise<A> => {
        const c = client()
        await c.query("BEGIN")
        try {
          if (db.appRole !== null) await c.query("SELECT set_config('role', $1, true)", [role])
          if (orgContext !== null) await c.query("SELECT set_config('app.current_org_id', $1, true)", [orgContext])
          return await f(c.query.bind(c))
        } finally {
          await c.query("ROLLBACK")
        }
      }
    const asApp = as(() => app, "ibex_app")
    const asPlatform = as(() => platform, PLATFORM_ROLE)

    beforeAll(async () => {
      db = await provisionDatabase({ migrations, backend })
      owner = await rawClient(db.url)
      app = await rawClient(db.appUrl)
      platform = await rawClient(db.appRole === null ? appUrlFromOwnerUrl(db.url, PLATFORM_ROLE) : db.url)
      orgId = randomUUID()
      await owner.query("INSERT INTO ibex_core.organizations (id, name) VALUES ($1, $2)", [orgId, `priv-${orgId}`])
    })
    afterAll(async () => {
      await platform?.end().catch(() => undefined)
      await app?.end().catch(() => undefined)
      await owner?.end().catch(() => undefined)
      await db?.drop()
    })

    const platformCalls: ReadonlyArray<readonly [string, string, ReadonlyArray<unknown>]> = [
      [
        "create_org",
        "SELECT * FROM ibex_core.create_org($1, $2, 'active', NULL, now())",
        [randomUUID(), `rogue-${randomUUID()}`]
      ],
      ["find_org_by_name", "SELECT * FROM ibex_core.find_org_by_name($1)", ["anything"]],
      ["list_orgs", "SELECT * FROM ibex_core.list_orgs()", []]
    ]

    it.each(platformCalls)("ibex_app may not execute %s: permission denied", async (_name, statement, values) => {
      await expect(asApp(null, (q) => q(statement, values))).rejects.toMatchObject({ code: "42501" })
    })

    it("ibex_app may not change an organization, even its own (status, rate limit, name): permission denied", async () => {
      for (const statement of [
        "UPDATE ibex_core.organizations SET status = 'disabled' WHERE id = $1",
        "UPDATE ibex_core.organizations SET rate_limit_per_minute = 1000000 WHERE id = $1",
        "UPDATE ibex_core.organizations SET name = 'renamed' WHERE id = $1"
      ])
        await expect(asApp(orgId, (q) => q(statement, [orgId]))).rejects.toMatchObject({ code: "42501" })
    })

    it("ibex_platform is a role of its own: neither superuser nor BYPASSRLS, owns nothing", async () => {
      const { rows } = await owner.query<{ rolsuper: boolean; rolbypassrls: boolean; owned: string }>(`
        SELECT r.rolsuper, r.rolbypassrls,
               (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
             + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid) AS owned
        FROM pg_roles r WHERE r.rolname = '${PLATFORM_ROLE}'`)
      expect(rows.map((r) => ({ ...r, owned: Number(r.owned) }))).toEqual([
        { rolsuper: false, rolbypassrls: false, owned: 0 }
      ])
      const who = await asPlatform(null, async (q) => (await q<{ u: string }>("SELECT current_user AS u")).rows[0]?.u)
      expect(who).toBe(PLATFORM_ROLE)
    })

    it("ibex_platform creates, finds, lists and changes orgs; row-level security still confines its changes", async () => {
      const id = randomUUID()
      const name = `platform-${id}`
      await asPlatform(null, async (q) => {
        const created = await q<{ id: string }>("SELECT id FROM ibex_core.create_org($1, $2, 'active', NULL, now())", [
          id,
          name
        ])
        expect(created.rows).toEqual([{ id }])
        expect((await q<{ id: string }>("SELECT id FROM ibex_core.find_org_by_name($1)", [name])).rows).toEqual([
          { id }
        ])
        expect((await q<{ id: string }>("SELECT id FROM ibex_core.list_orgs()")).rows).toContainEqual({ id })
      })
      await asPlatform(orgId, async (q) => {
        expect(
          (await q("UPDATE ibex_core.organizations SET status = 'disabled' WHERE id = $1", [orgId])).rowCount
        ).toBe(1)
        // Another org's row is invisible in this org's context.
        expect((await q("UPDATE ibex_core.organizations SET status = 'disabled'")).rowCount).toBe(1)
      })
    })

    it("ibex_platform can neither read nor write the platform-admin credentials nor the migrations bookkeeping", async () => {
      await expect(asPlatform(null, (q) => q("SELECT * FROM ibex_core.platform_admins"))).rejects.toMatchObject({
        code: "42501"
      })
      await expect(asPlatform(null, (q) => q("SELECT * FROM ibex_migrations.applied"))).rejects.toMatchObject({
        code: "42501"
      })
    })
  })
}
