import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import { type RevocationEvent, RevocationFeed, type TokenId } from "@ibex/domain"
import { describeRealInfra } from "@ibex/testkit/infra"
import type { ProvisionedDatabase } from "@ibex/testkit/provision"
import { provisionDatabase } from "@ibex/testkit/provision"
import { Chunk, Effect, Fiber, Layer, Redacted, Stream } from "effect"
import type { PgRawClient } from "../src/pg.js"
import { RevocationFeedLive } from "../src/RevocationFeedLive.js"
import { RevocationHubLive } from "../src/RevocationHub.js"
import { migrations, rawClient } from "./provision.js"

/** LISTEN/NOTIFY only crosses connections on a real Postgres server (PGlite does not deliver it). */
const describeOnPostgres = describeRealInfra(
  process.env.DATABASE_URL !== undefined,
  "DATABASE_URL is not set (PGlite does not deliver NOTIFY across connections)"
)

const HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"

describeOnPostgres("RevocationFeedLive on Postgres", () => {
  let db: ProvisionedDatabase
  let owner: PgRawClient
  let orgId: string

  const newToken = async (): Promise<TokenId> => {
    const id = randomUUID()
    await owner.query(
      `INSERT INTO ibex_core.tokens (id, org_id, name, display_prefix, secret_hash, permissions)
       VALUES ($1, $2, 't', 'p', $3, 1)`,
      [id, orgId, HASH]
    )
    return id as TokenId
  }
  /** A third connection (the owner's, no adapter involved) revokes. */
  const revokeElsewhere = (id: string) =>
    owner.query("UPDATE ibex_core.tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", [id])

  const feedLayer = (options: { initialBackoff?: number } = {}) =>
    RevocationFeedLive({
      url: Redacted.make(db.appUrl),
      ...(options.initialBackoff ? { initialBackoff: options.initialBackoff } : {})
    }).pipe(Layer.provide(RevocationHubLive))

  const firstRevoked = (id: string) =>
    Effect.flatMap(RevocationFeed, (feed) =>
      feed.subscribe.pipe(
        Stream.filter((e: RevocationEvent) => e._tag === "Revoked" && e.tokenId === id),
        Stream.take(1),
        Stream.runDrain
      )
    )

  beforeAll(async () => {
    db = await provisionDatabase({ migrations, backend: "postgres" })
    owner = await rawClient(db.url)
    orgId = randomUUID()
    await owner.query("INSERT INTO ibex_core.organizations (id, name) VALUES ($1, 'feed-org')", [orgId])
  })
  afterAll(async () => {
    await owner?.end().catch(() => undefined)
    await db?.drop()
  })

  it.scopedLive("two feeds see a revocation made through a third connection within 300 ms", () =>
    Effect.gen(function* () {
      const token = yield* Effect.promise(newToken)
      const one = yield* Layer.build(feedLayer())
      const two = yield* Layer.build(feedLayer())
      const waitOne = yield* Effect.fork(firstRevoked(token).pipe(Effect.provide(one)))
      const waitTwo = yield* Effect.fork(firstRevoked(token).pipe(Effect.provide(two)))
      yield* Effect.sleep("50 millis")
      const started = performance.now()
      yield* Effect.promise(() => revokeElsewhere(token))
      yield* Fiber.join(Fiber.zip(waitOne, waitTwo)).pipe(Effect.timeout("300 millis"))
      const elapsed = performance.now() - started
      console.log(`revocation reached both feeds in ${elapsed.toFixed(1)} ms`)
      expect(elapsed).toBeLessThan(300)
    })
  )

  it.scopedLive("a subscriber starts with Connected; a rolled-back revocation announces nothing", () =>
    Effect.gen(function* () {
      const token = yield* Effect.promise(newToken)
      const feed = yield* Layer.build(feedLayer())
      const events = yield* Effect.fork(
        Effect.flatMap(RevocationFeed, (f) => f.subscribe.pipe(Stream.take(2), Stream.runCollect)).pipe(
          Effect.provide(feed)
        )
      )
      yield* Effect.sleep("50 millis")
      yield* Effect.promise(async () => {
        await owner.query("BEGIN")
        await revokeElsewhere(token)
        await owner.query("ROLLBACK")
      })
      const other = yield* Effect.promise(newToken)
      yield* Effect.promise(() => revokeElsewhere(other))
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(events).pipe(Effect.timeout("2 seconds")))
      expect(seen.map((e) => e._tag)).toEqual(["Connected", "Revoked"])
      expect(seen[1]).toMatchObject({ tokenId: other })
    })
  )

  it.scopedLive(
    "when the listening connection dies: Disconnected, then Connected after reconnecting, and notices flow again",
    () =>
      Effect.gen(function* () {
        const feed = yield* Layer.build(feedLayer({ initialBackoff: 50 }))
        const events = yield* Effect.fork(
          Effect.flatMap(RevocationFeed, (f) =>
            f.subscribe.pipe(
              Stream.filter((e: RevocationEvent) => e._tag !== "Revoked"),
              Stream.take(3),
              Stream.runCollect
            )
          ).pipe(Effect.provide(feed))
        )
        yield* Effect.sleep("50 millis")
        yield* Effect.promise(() =>
          owner.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ibex-revocation-feed' AND datname = current_database()"
          )
        )
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(events).pipe(Effect.timeout("5 seconds")))
        expect(seen.map((e) => e._tag)).toEqual(["Connected", "Disconnected", "Connected"])
        const token = yield* Effect.promise(newToken)
        const wait = yield* Effect.fork(firstRevoked(token).pipe(Effect.provide(feed)))
        yield* Effect.sleep("50 millis")
        yield* Effect.promise(() => revokeElsewhere(token))
        yield* Fiber.join(wait).pipe(Effect.timeout("1 second"))
      })
  )

  it.scopedLive("a server that is not there: Disconnected, and the layer still builds", () =>
    Effect.gen(function* () {
      const feed = yield* Layer.build(
        RevocationFeedLive({
          url: Redacted.make("postgres://ibex_app@127.0.0.1:1/none"),
          connectTimeout: "1 second"
        }).pipe(Layer.provide(RevocationHubLive))
      )
      const first = yield* Effect.flatMap(RevocationFeed, (f) =>
        f.subscribe.pipe(Stream.take(1), Stream.runCollect)
      ).pipe(Effect.provide(feed))
      expect(Chunk.toReadonlyArray(first).map((e) => e._tag)).toEqual(["Disconnected"])
    })
  )
})
