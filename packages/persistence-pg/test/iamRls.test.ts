import { randomUUID } from "node:crypto"
import { type ProvisionedDatabase, provisionDatabase } from "@ibex/testkit/provision"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { PgRawClient } from "../src/pg.js"
import { backends, migrations, rawClient } from "./provision.js"

/**
 * Issue 15's tables in the database itself (migrations 0030–0032), as the app role: the audit
 * trail is append-only for every role, and assignments / invitations / audit events follow the
 * tenant policy like every tenant table.
 */
for (const backend of backends) {
  describe(`IAM tables [${backend}]`, () => {
    let db: ProvisionedDatabase
    let owner: PgRawClient
    let app: PgRawClient
    const orgA = randomUUID()
    const orgB = randomUUID()
    const operator = randomUUID()

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
      for (const [id, name] of [
        [orgA, "iam-a"],
        [orgB, "iam-b"]
      ])
        await owner.query("INSERT INTO ibex_core.organizations (id, name) VALUES ($1, $2)", [id, name])
      await owner.query("INSERT INTO ibex_core.operators (id, email, display_name) VALUES ($1, 'o@x.y', 'O')", [
        operator
      ])
      for (const org of [orgA, orgB]) {
        await owner.query(
          "INSERT INTO ibex_core.role_assignments (org_id, operator_id, role) VALUES ($1, $2, 'member')",
          [org, operator]
        )
        await owner.query(
          "SELECT ibex_core.append_audit_event('system', 'org.create', NULL, $1::uuid, 'r', '{}'::jsonb)",
          [org]
        )
      }
    })
    afterAll(async () => {
      await app?.end().catch(() => undefined)
      await owner?.end().catch(() => undefined)
      await db?.drop()
    })

    it("T7.2 the audit table refuses UPDATE and DELETE (the app role and the owner alike), and TRUNCATE", async () => {
      await asApp(orgA, async (q) => {
        await expect(q("UPDATE ibex_core.audit_events SET actor = 'forged'")).rejects.toThrow(
          /permission denied|append-only/
        )
      })
      await asApp(orgA, async (q) => {
        await expect(q("DELETE FROM ibex_core.audit_events")).rejects.toThrow(/permission denied|append-only/)
      })
      await expect(owner.query("UPDATE ibex_core.audit_events SET actor = 'forged'")).rejects.toThrow(/append-only/)
      await expect(owner.query("DELETE FROM ibex_core.audit_events")).rejects.toThrow(/append-only/)
      await expect(owner.query("TRUNCATE ibex_core.audit_events")).rejects.toThrow(/append-only/)
      const { rows } = await owner.query<{ n: string }>("SELECT count(*) AS n FROM ibex_core.audit_events")
      expect(Number(rows[0]?.n)).toBe(2)
    })

    it("assignments and audit events of another org are invisible; with no context, none are", async () => {
      await asApp(orgA, async (q) => {
        for (const table of ["role_assignments", "audit_events"]) {
          const { rows } = await q<{ org_id: string }>(`SELECT org_id FROM ibex_core.${table}`)
          expect(rows.map((r) => r.org_id)).toEqual([orgA])
        }
        expect((await q("DELETE FROM ibex_core.role_assignments WHERE org_id = $1", [orgB])).rowCount).toBe(0)
        await expect(
          q("INSERT INTO ibex_core.role_assignments (org_id, operator_id, role) VALUES ($1, $2, 'viewer')", [
            orgB,
            randomUUID()
          ])
        ).rejects.toThrow()
      })
      await asApp(null, async (q) => {
        for (const table of ["role_assignments", "invitations", "audit_events"])
          expect((await q(`SELECT * FROM ibex_core.${table}`)).rowCount).toBe(0)
        // The operator's own roles across orgs: only through the narrow function.
        const { rows } = await q<{ org_id: string }>("SELECT org_id FROM ibex_core.operator_assignments($1)", [
          operator
        ])
        expect(rows.map((r) => r.org_id).sort()).toEqual([orgA, orgB].sort())
      })
    })

    it("operators are readable by the app role, and no credential column holds plaintext shapes", async () => {
      await asApp(null, async (q) => {
        const { rows } = await q<{ id: string }>("SELECT id FROM ibex_core.operators")
        expect(rows.map((r) => r.id)).toEqual([operator])
        await expect(
          q("UPDATE ibex_core.operators SET password_hash = 'plaintext' WHERE id = $1", [operator])
        ).rejects.toThrow(/operators_password_hash_is_phc/)
      })
    })
  })
}
