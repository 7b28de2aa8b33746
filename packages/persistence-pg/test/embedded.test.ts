import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Org, type OrgId, OrgStore } from "@ibex/domain"
import { Effect, Layer, Option, Redacted } from "effect"
import { startEmbedded } from "../src/embedded.js"
import { loadMigrations } from "../src/migrate.js"
import { OrgStoreLive } from "../src/OrgStoreLive.js"
import { PgClientLive, withOrg } from "../src/PgClientLive.js"
import { RevocationHubLive } from "../src/RevocationHub.js"

describe("embedded PGlite", () => {
  const dir = mkdtempSync(join(tmpdir(), "ibex-embedded-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const orgId = crypto.randomUUID() as OrgId

  it.live(
    "starts on loopback, migrates, and runs the app's transactions as ibex_app",
    () =>
      Effect.gen(function* () {
        const db = yield* startEmbedded({ dataDir: dir })
        expect(db.migrations?.applied).toHaveLength(loadMigrations().length)
        expect(db.app.appRole).toBe("ibex_app")
        expect(new URL(Redacted.value(db.ownerUrl)).hostname).toBe("127.0.0.1")
        const program = Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const [row] = yield* withOrg(
            orgId,
            sql<{ u: string; o: string }>`
            SELECT current_user AS u, current_setting('app.current_org_id') AS o`
          )
          expect(row).toEqual({ u: "ibex_app", o: orgId })
          const orgs = yield* OrgStore
          yield* orgs.insert(
            new Org({ id: orgId, name: "embedded", status: "active", rateLimitPerMinute: 10, createdAt: new Date() })
          )
        })
        yield* program.pipe(
          Effect.provide(OrgStoreLive.pipe(Layer.provide(RevocationHubLive), Layer.provideMerge(PgClientLive(db.app))))
        )
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "keeps its data in the folder across restarts; migrations are not applied twice",
    () =>
      Effect.gen(function* () {
        const db = yield* startEmbedded({ dataDir: dir })
        expect(db.migrations?.applied).toEqual([])
        const found = yield* Effect.flatMap(OrgStore, (orgs) => orgs.find(orgId)).pipe(
          Effect.provide(OrgStoreLive.pipe(Layer.provide(RevocationHubLive), Layer.provide(PgClientLive(db.app))))
        )
        expect(Option.map(found, (o) => o.rateLimitPerMinute)).toEqual(Option.some(10))
      }).pipe(Effect.scoped),
    60_000
  )
})
