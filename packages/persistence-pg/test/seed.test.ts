import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { issueToken, validateToken } from "@ibex/auth-core"
import { type OrgId, Permissions, parsePat, SecureRandomWebCrypto } from "@ibex/domain"
import { SecretHasherMemory } from "@ibex/testkit"
import type { ProvisionedDatabase } from "@ibex/testkit/provision"
import { provisionDatabase } from "@ibex/testkit/provision"
import { Effect, Either, Layer, Redacted } from "effect"
import { StoresLive } from "../src/PersistenceLive.js"
import { PgClientLive } from "../src/PgClientLive.js"
import { seedDev } from "../src/seed.js"
import { appConfig, backends, migrations, rawClient } from "./provision.js"

const countRows = async (url: string) => {
  const client = await rawClient(url)
  try {
    const { rows } = await client.query<{ orgs: string; users: string; agents: string; tokens: string }>(`
      SELECT (SELECT count(*) FROM ibex_core.organizations) AS orgs, (SELECT count(*) FROM ibex_core.users) AS users,
             (SELECT count(*) FROM ibex_core.agents) AS agents, (SELECT count(*) FROM ibex_core.tokens) AS tokens`)
    return rows[0]
  } finally {
    await client.end()
  }
}

/** Every value of every text-like column of every table outside the system schemas, as the owner sees it. */
const everyStoredText = async (url: string): Promise<Array<{ where: string; value: string }>> => {
  const client = await rawClient(url)
  try {
    const { rows: columns } = await client.query<{ schema: string; table: string; column: string }>(`
      SELECT c.table_schema AS schema, c.table_name AS table, c.column_name AS column
      FROM information_schema.columns c
      JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE t.table_type = 'BASE TABLE'
        AND c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg_toast%'
        AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY', 'USER-DEFINED')`)
    const out: Array<{ where: string; value: string }> = []
    for (const { schema, table, column } of columns) {
      const q = (s: string) => `"${s.replaceAll('"', '""')}"`
      const { rows } = await client.query<{ v: string | null }>(
        `SELECT ${q(column)}::text AS v FROM ${q(schema)}.${q(table)}`
      )
      for (const row of rows) if (row.v !== null) out.push({ where: `${schema}.${table}.${column}`, value: row.v })
    }
    expect(columns.length).toBeGreaterThan(10)
    return out
  } finally {
    await client.end()
  }
}

for (const backend of backends) {
  describe(`seed [${backend}]`, () => {
    let db: ProvisionedDatabase
    beforeAll(async () => {
      db = await provisionDatabase({ migrations, backend })
    })
    afterAll(async () => {
      await db?.drop()
    })

    const services = () =>
      StoresLive.pipe(
        Layer.provideMerge(PgClientLive(appConfig(db))),
        Layer.merge(Layer.mergeAll(SecretHasherMemory, SecureRandomWebCrypto))
      )

    it.live("seeds once; the PAT validates through the domain use case; a second run changes nothing", () =>
      Effect.gen(function* () {
        const first = yield* seedDev()
        expect(first.status).toBe("seeded")
        if (first.token === null) throw new Error("no token")
        const principal = yield* validateToken(first.token.token)
        expect(principal.orgId).toBe(first.orgId)
        expect(principal.permissions).toBe(Permissions.all)
        const before = yield* Effect.promise(() => countRows(db.url))
        expect(before).toEqual({ orgs: "1", users: "1", agents: "1", tokens: "1" })

        const second = yield* seedDev()
        expect(second).toMatchObject({
          status: "already-seeded",
          orgId: first.orgId,
          userId: first.userId,
          agentId: first.agentId,
          token: null
        })
        expect(yield* Effect.promise(() => countRows(db.url))).toEqual(before)

        const third = yield* seedDev({ newToken: true })
        expect(third.status).toBe("new-token")
        expect(third.token?.info.createdBy).toBe(first.userId)
        expect(yield* Effect.promise(() => countRows(db.url))).toEqual({ ...before, tokens: "2" })
      }).pipe(Effect.provide(services()))
    )

    it.live("no plaintext secret is stored anywhere: every text column of every table is scanned", () =>
      Effect.gen(function* () {
        const seeded = yield* seedDev({ orgName: `scan-${Date.now()}`, newToken: false })
        const plaintexts = [seeded.token?.token].filter((t) => t !== undefined && t !== null)
        for (let i = 0; i < 3; i++) {
          const created = yield* issueToken({
            orgId: seeded.orgId as OrgId,
            name: `scan-${i}`,
            permissions: Permissions.of("chat:completions"),
            expiresAt: null,
            createdBy: null
          })
          plaintexts.push(created.token)
        }
        const secrets = plaintexts.flatMap((t) => {
          const pat = Redacted.value(t!)
          const parsed = parsePat(pat)
          return Either.isRight(parsed) ? [pat, Redacted.value(parsed.right.secret)] : [pat]
        })
        expect(secrets.length).toBe(8)
        const stored = yield* Effect.promise(() => everyStoredText(db.url))
        expect(stored.some((s) => s.where === "ibex_core.tokens.secret_hash")).toBe(true)
        for (const secret of secrets) {
          const hits = stored.filter((s) => s.value.includes(secret)).map((s) => s.where)
          expect(hits).toEqual([])
        }
      }).pipe(Effect.provide(services()))
    )
  })
}
