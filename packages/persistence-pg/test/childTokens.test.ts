import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import { TokenValidatorLive } from "@ibex/auth-core"
import {
  AuditLog,
  type OrgId,
  type RevocationEvent,
  RevocationFeed,
  TokenDigest,
  type TokenId,
  TokenStore
} from "@ibex/domain"
import { childTokenContract } from "@ibex/testkit/contracts"
import { describeRealInfra } from "@ibex/testkit/infra"
import type { ProvisionedDatabase } from "@ibex/testkit/provision"
import { provisionDatabase } from "@ibex/testkit/provision"
import { Effect, Fiber, Layer, Redacted, Stream } from "effect"
import { PersistenceLive } from "../src/PersistenceLive.js"
import type { PgRawClient } from "../src/pg.js"
import { RevocationFeedLive } from "../src/RevocationFeedLive.js"
import { RevocationHubLive } from "../src/RevocationHub.js"
import { appConfig, backends, migrations, provisionedStores, rawClient } from "./provision.js"

const AuditLogSilent = Layer.succeed(AuditLog, AuditLog.of({ record: () => Effect.void }))
const TokenDigestPlain = Layer.succeed(TokenDigest, TokenDigest.of({ digest: (t) => `d:${Redacted.value(t)}` }))

// Issue 14, item 2, over the Postgres adapters (DATABASE_URL's server and PGlite).
for (const backend of backends)
  childTokenContract(
    `persistence-pg on ${backend}`,
    TokenValidatorLive().pipe(
      Layer.provideMerge(Layer.mergeAll(provisionedStores(backend), AuditLogSilent, TokenDigestPlain))
    )
  )

/** NOTIFY crosses connections only on a real Postgres server (PGlite serves this process alone, through its hub). */
const describeOnPostgres = describeRealInfra(
  process.env.DATABASE_URL !== undefined,
  "DATABASE_URL is not set (PGlite does not deliver NOTIFY across connections)"
)

const HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"

describeOnPostgres("a revocation's descendants are pushed to other instances (Postgres)", () => {
  let db: ProvisionedDatabase
  let owner: PgRawClient
  let orgId: OrgId

  /** A parent, a child and a grandchild, written by the owner (no adapter involved). */
  const tree = async (): Promise<ReadonlyArray<TokenId>> => {
    const ids = [randomUUID(), randomUUID(), randomUUID()]
    for (const [i, id] of ids.entries())
      await owner.query(
        `INSERT INTO ibex_core.tokens (id, org_id, name, display_prefix, secret_hash, permissions, parent_token_id)
         VALUES ($1, $2, 't', 'p', $3, 1, $4)`,
        [id, orgId, HASH, i === 0 ? null : ids[i - 1]]
      )
    return ids as Array<TokenId>
  }

  /** Another instance's feed (its own hub and LISTEN connection): it hears only what Postgres NOTIFYs. */
  const otherInstance = () =>
    RevocationFeedLive({ url: Redacted.make(db.appUrl) }).pipe(Layer.provide(RevocationHubLive))

  const hearAll = (ids: ReadonlyArray<string>) =>
    Effect.flatMap(RevocationFeed, (feed) => {
      const heard = new Set<string>()
      return feed.subscribe.pipe(
        Stream.tap((e: RevocationEvent) =>
          Effect.sync(() => {
            if (e._tag === "Revoked" && ids.includes(e.tokenId)) heard.add(e.tokenId)
          })
        ),
        Stream.takeUntil(() => heard.size === ids.length),
        Stream.runDrain,
        Effect.as(heard)
      )
    })

  beforeAll(async () => {
    db = await provisionDatabase({ migrations, backend: "postgres" })
    owner = await rawClient(db.url)
    orgId = randomUUID() as OrgId
    await owner.query("INSERT INTO ibex_core.organizations (id, name) VALUES ($1, 'tree-org')", [orgId])
  })
  afterAll(async () => {
    await owner?.end().catch(() => undefined)
    await db?.drop()
  })

  it.scopedLive(
    "TokenStore.revoke of a parent (as ibex_app): another instance hears the parent and each descendant",
    () =>
      Effect.gen(function* () {
        const ids = yield* Effect.promise(tree)
        const feed = yield* Layer.build(otherInstance())
        const listening = yield* Effect.fork(hearAll(ids).pipe(Effect.provide(feed)))
        yield* Effect.sleep("100 millis")
        yield* Effect.flatMap(TokenStore, (store) => store.revoke(orgId, ids[0] as TokenId)).pipe(
          Effect.provide(PersistenceLive(appConfig(db)))
        )
        const heard = yield* Fiber.join(listening).pipe(Effect.timeout("2 seconds"))
        expect([...heard].sort()).toEqual([...ids].sort())
      })
  )

  it.scopedLive("an operator's UPDATE of the parent cascades and is pushed the same way", () =>
    Effect.gen(function* () {
      const ids = yield* Effect.promise(tree)
      const feed = yield* Layer.build(otherInstance())
      const listening = yield* Effect.fork(hearAll(ids).pipe(Effect.provide(feed)))
      yield* Effect.sleep("100 millis")
      yield* Effect.promise(() => owner.query("UPDATE ibex_core.tokens SET revoked_at = now() WHERE id = $1", [ids[0]]))
      const heard = yield* Fiber.join(listening).pipe(Effect.timeout("2 seconds"))
      expect([...heard].sort()).toEqual([...ids].sort())
      const { rows } = yield* Effect.promise(() =>
        owner.query<{ n: string }>(
          "SELECT count(*) AS n FROM ibex_core.tokens WHERE id = ANY($1) AND revoked_at IS NULL",
          [ids]
        )
      )
      expect(Number(rows[0]?.n)).toBe(0)
    })
  )
})
