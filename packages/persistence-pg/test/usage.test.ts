import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { usageStoreContract } from "@ibex/testkit/contracts"
import { describeRealInfra } from "@ibex/testkit/infra"
import type { ProvisionedDatabase } from "@ibex/testkit/provision"
import { provisionDatabase } from "@ibex/testkit/provision"
import type { PgRawClient } from "../src/pg.js"
import { backends, migrations, provisionedStores, rawClient } from "./provision.js"

// The usage contract over the Postgres adapters (UsageStoreLive, OrgLimitsStoreLive): on
// DATABASE_URL's server when set, and on PGlite, whose socket server cannot take concurrent
// transactions beside the feed's connection (see UsageContractOptions): its batches go one by one.
for (const backend of backends)
  usageStoreContract(`persistence-pg on ${backend}`, provisionedStores(backend), {
    concurrency: backend === "pglite" ? 1 : "unbounded"
  })

/** One usage row as the owner inserts it (no adapter involved). */
const insertUsage = (q: PgRawClient["query"], orgId: string, requestId = randomUUID()) =>
  q(
    `INSERT INTO ibex_core.usage_records
       (org_id, request_id, agent_id, token_id, model, provider, upstream_model, prompt_tokens, completion_tokens,
        cached_tokens, estimated, cost_micro_usd, status, latency_ms, ttft_ms, stream, created_at)
     VALUES ($1, $2, $3, $4, 'm', 'p', 'u', 1, 2, 0, false, 5, 200, 10, NULL, false, now())`,
    [orgId, requestId, randomUUID(), randomUUID()]
  )

/**
 * usage_records under row-level security, observed as the application role with plain SQL (the
 * catalogue-wide checks of rls.test.ts, ENABLE + FORCE and the NULLIF policy, cover it too).
 */
for (const backend of backends) {
  describe(`usage_records and org limits under row-level security [${backend}]`, () => {
    let db: ProvisionedDatabase
    let owner: PgRawClient
    let app: PgRawClient
    const orgA = randomUUID()
    const orgB = randomUUID()

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
      for (const id of [orgA, orgB]) {
        await owner.query("INSERT INTO ibex_core.organizations (id, name) VALUES ($1, $2)", [id, `o-${id.slice(0, 8)}`])
        await insertUsage(owner.query.bind(owner), id)
      }
    })
    afterAll(async () => {
      await app?.end().catch(() => undefined)
      await owner?.end().catch(() => undefined)
      await db?.drop()
    })

    it("with org A's context only A's records are visible; without context none", async () => {
      const seen = await asApp(
        orgA,
        async (q) => (await q<{ org_id: string }>("SELECT org_id FROM ibex_core.usage_records")).rows
      )
      expect(seen).toEqual([{ org_id: orgA }])
      expect(await asApp(null, async (q) => (await q("SELECT * FROM ibex_core.usage_records")).rowCount)).toBe(0)
      if (db.appRole === null) expect((await app.query("SELECT * FROM ibex_core.usage_records")).rowCount).toBe(0)
    })

    it("inserting a record of another org fails (WITH CHECK), as does one without context", async () => {
      await expect(asApp(orgA, (q) => insertUsage(q, orgB))).rejects.toMatchObject({ code: "42501" })
      await expect(asApp(null, (q) => insertUsage(q, orgA))).rejects.toMatchObject({ code: "42501" })
      // Its own org's record goes in.
      expect((await asApp(orgA, (q) => insertUsage(q, orgA))).rowCount).toBe(1)
    })

    it("records are append-only: the app role may neither update nor delete them", async () => {
      await expect(
        asApp(orgA, (q) => q("UPDATE ibex_core.usage_records SET cost_micro_usd = 0"))
      ).rejects.toMatchObject({ code: "42501" })
      await expect(asApp(orgA, (q) => q("DELETE FROM ibex_core.usage_records"))).rejects.toMatchObject({
        code: "42501"
      })
    })

    it("an org's limits are changed only in its own context, and only those two columns", async () => {
      const changed = await asApp(orgA, (q) =>
        q("UPDATE ibex_core.organizations SET tokens_per_minute = 5, monthly_budget_micro_usd = 7 WHERE id = ANY($1)", [
          [orgA, orgB]
        ])
      )
      expect(changed.rowCount).toBe(1)
      await expect(
        asApp(orgA, (q) => q("UPDATE ibex_core.organizations SET created_at = now() WHERE id = $1", [orgA]))
      ).rejects.toMatchObject({ code: "42501" })
      // Out-of-range limits are refused by the table itself.
      for (const statement of [
        "UPDATE ibex_core.organizations SET tokens_per_minute = 0 WHERE id = $1",
        "UPDATE ibex_core.organizations SET monthly_budget_micro_usd = -1 WHERE id = $1",
        "UPDATE ibex_core.organizations SET monthly_budget_micro_usd = 9007199254740992 WHERE id = $1"
      ])
        await expect(asApp(orgA, (q) => q(statement, [orgA]))).rejects.toMatchObject({ code: "23514" })
    })
  })
}

/** LISTEN/NOTIFY only crosses connections on a real Postgres server (PGlite does not deliver it). */
const describeOnPostgres = describeRealInfra(
  process.env.DATABASE_URL !== undefined,
  "DATABASE_URL is not set (PGlite does not deliver NOTIFY across connections)"
)

describeOnPostgres("org limits changes are announced on ibex_org_changed", () => {
  let db: ProvisionedDatabase
  let owner: PgRawClient
  let listener: PgRawClient
  const heard: Array<string> = []

  beforeAll(async () => {
    db = await provisionDatabase({ migrations, backend: "postgres" })
    owner = await rawClient(db.url)
    listener = await rawClient(db.appUrl)
    listener.on("notification", (n) => {
      if (n.channel === "ibex_org_changed" && n.payload !== undefined) heard.push(n.payload)
    })
    await listener.query("LISTEN ibex_org_changed")
  })
  afterAll(async () => {
    await listener?.end().catch(() => undefined)
    await owner?.end().catch(() => undefined)
    await db?.drop()
  })

  const settle = () => new Promise((resolve) => setTimeout(resolve, 200))

  it("an UPDATE of either limit from any connection notifies once per change; an unchanged value does not", async () => {
    const orgId = randomUUID()
    await owner.query("INSERT INTO ibex_core.organizations (id, name) VALUES ($1, $2)", [
      orgId,
      `n-${orgId.slice(0, 8)}`
    ])
    await owner.query("UPDATE ibex_core.organizations SET tokens_per_minute = 100 WHERE id = $1", [orgId])
    await settle()
    expect(heard.filter((p) => p === orgId)).toHaveLength(1)
    await owner.query("UPDATE ibex_core.organizations SET monthly_budget_micro_usd = 1000000 WHERE id = $1", [orgId])
    await settle()
    expect(heard.filter((p) => p === orgId)).toHaveLength(2)
    // Both limits and the rate limit in one statement: one notice (identical notices fold).
    await owner.query(
      "UPDATE ibex_core.organizations SET tokens_per_minute = 1, monthly_budget_micro_usd = NULL, rate_limit_per_minute = 9 WHERE id = $1",
      [orgId]
    )
    await settle()
    expect(heard.filter((p) => p === orgId)).toHaveLength(3)
    // The same values again: no change, no notice.
    await owner.query(
      "UPDATE ibex_core.organizations SET tokens_per_minute = 1, monthly_budget_micro_usd = NULL WHERE id = $1",
      [orgId]
    )
    await settle()
    expect(heard.filter((p) => p === orgId)).toHaveLength(3)
  })
})
