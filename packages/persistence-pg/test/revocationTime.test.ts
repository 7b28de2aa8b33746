import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { revokeOrgToken } from "@ibex/auth-core"
import { AuditLog, checkTokenUsable, SecureRandomWebCrypto, TokenStore } from "@ibex/domain"
import { bootstrapAdminToken, createOrg, SecretHasherMemory } from "@ibex/testkit"
import type { ProvisionedDatabase } from "@ibex/testkit/provision"
import { provisionDatabase } from "@ibex/testkit/provision"
import { Clock, Effect, Either, Layer, Option } from "effect"
import { PersistenceLive } from "../src/PersistenceLive.js"
import { appConfig, backends, migrations, rawClient } from "./provision.js"

/**
 * Issue 14, item 3: a revocation's time comes from the database's clock, never the application's,
 * and any revoked_at, even one in the future, means revoked. A future revoked_at (an application
 * clock ahead, an operator's typo) can be corrected; clearing or postponing one is still refused.
 */

const DAY_MS = 86_400_000

/** The process clock moved by `offsetMs`: what an auth instance with a wrong clock would read. */
const shiftedClock = (offsetMs: number): Clock.Clock => {
  const now = () => Date.now() + offsetMs
  const base = Clock.make()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: now,
    currentTimeMillis: Effect.sync(now),
    unsafeCurrentTimeNanos: () => BigInt(now()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now()) * 1_000_000n),
    sleep: (duration) => base.sleep(duration)
  }
}

const AuditLogSilent = Layer.succeed(AuditLog, AuditLog.of({ record: () => Effect.void }))

for (const backend of backends) {
  describe(`revocation time [${backend}]`, () => {
    let db: ProvisionedDatabase
    beforeAll(async () => {
      db = await provisionDatabase({ migrations, backend })
    })
    afterAll(async () => {
      await db?.drop()
    })

    const services = () =>
      Layer.mergeAll(PersistenceLive(appConfig(db)), SecretHasherMemory, SecureRandomWebCrypto, AuditLogSilent)

    const ownerQuery = async <R>(text: string, values: ReadonlyArray<unknown> = []) => {
      const client = await rawClient(db.url)
      try {
        return (await client.query<R>(text, values)).rows
      } finally {
        await client.end()
      }
    }
    const databaseNow = async () => (await ownerQuery<{ now: Date }>("SELECT now() AS now"))[0]?.now.getTime() ?? 0

    it.live("a revocation is stamped with the database's now(), whatever the application's clock says", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const created = yield* bootstrapAdminToken(org.id)
        // An auth instance whose clock is a day ahead revokes the token.
        yield* revokeOrgToken({ kind: "database_owner", name: "test" }, org.id, created.info.id).pipe(
          Effect.withClock(shiftedClock(DAY_MS))
        )
        const stored = Option.getOrThrow(yield* (yield* TokenStore).findCredential(created.info.id))
        const now = yield* Effect.promise(databaseNow)
        expect(stored.info.revokedAt).not.toBeNull()
        expect(Math.abs((stored.info.revokedAt?.getTime() ?? 0) - now)).toBeLessThan(60_000)
      }).pipe(Effect.provide(services()))
    )

    it.live("a revoked_at in the future means revoked; it is stored as the database's now", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const created = yield* bootstrapAdminToken(org.id)
        // An operator (or an older instance with a clock ahead) writes a revocation time tomorrow.
        yield* Effect.promise(() =>
          ownerQuery("UPDATE ibex_core.tokens SET revoked_at = now() + interval '1 day' WHERE id = $1", [
            created.info.id
          ])
        )
        const credential = Option.getOrThrow(yield* (yield* TokenStore).findCredential(created.info.id))
        const verdict = yield* Effect.either(checkTokenUsable(credential, new Date()))
        expect(Either.isLeft(verdict) && verdict.left.reason).toBe("revoked")
        const now = yield* Effect.promise(databaseNow)
        expect(credential.info.revokedAt?.getTime() ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(now + 1_000)
      }).pipe(Effect.provide(services()))
    )

    it.live("a future revoked_at already stored can be corrected to now; clearing or postponing stays refused", () =>
      Effect.gen(function* () {
        const org = yield* createOrg()
        const created = yield* bootstrapAdminToken(org.id)
        const id = created.info.id
        // A row written before the database stamped revocations: planted past the triggers.
        yield* Effect.promise(async () => {
          const client = await rawClient(db.url)
          try {
            await client.query("BEGIN")
            await client.query("ALTER TABLE ibex_core.tokens DISABLE TRIGGER USER")
            await client.query("UPDATE ibex_core.tokens SET revoked_at = now() + interval '1 day' WHERE id = $1", [id])
            await client.query("ALTER TABLE ibex_core.tokens ENABLE TRIGGER USER")
            await client.query("COMMIT")
          } finally {
            await client.end()
          }
        })
        yield* Effect.promise(() => ownerQuery("UPDATE ibex_core.tokens SET revoked_at = now() WHERE id = $1", [id]))
        const [row] = yield* Effect.promise(() =>
          ownerQuery<{ revoked_at: Date; now: Date }>(
            "SELECT revoked_at, now() AS now FROM ibex_core.tokens WHERE id = $1",
            [id]
          )
        )
        expect(row?.revoked_at.getTime()).toBeLessThanOrEqual((row?.now.getTime() ?? 0) + 1_000)
        const refused = (text: string) =>
          Effect.promise(() =>
            ownerQuery(text, [id]).then(
              () => "accepted",
              (e: Error) => e.message
            )
          )
        expect(yield* refused("UPDATE ibex_core.tokens SET revoked_at = NULL WHERE id = $1")).toMatch(/final/)
        expect(
          yield* refused("UPDATE ibex_core.tokens SET revoked_at = revoked_at + interval '1 hour' WHERE id = $1")
        ).toMatch(/final/)
      }).pipe(Effect.provide(services()))
    )
  })
}
