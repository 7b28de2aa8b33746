import { describe, expect, it } from "@effect/vitest"
import { onboardOrg } from "@ibex/auth-core"
import { OrgStore, SecureRandomWebCrypto, StoreUnavailable, TokenStore } from "@ibex/domain"
import { AuditLogMemory, SecretHasherMemory } from "@ibex/testkit"
import { Effect, Exit, Layer, Option } from "effect"
import { StoresLive } from "../src/PersistenceLive.js"
import { PgClientLive } from "../src/PgClientLive.js"
import { appConfig, backends, provision } from "./provision.js"

// Onboarding is all or nothing on the Postgres adapters (their UnitOfWork): an org is never left
// behind without its first admin token.
for (const backend of backends)
  describe(`onboardOrg on persistence-pg [${backend}]`, () => {
    it.scoped(
      "a failing token insert leaves no org behind; a successful one commits org, token and agent",
      () =>
        Effect.gen(function* () {
          const db = yield* provision(backend)
          const services = Layer.mergeAll(
            StoresLive.pipe(Layer.provideMerge(PgClientLive(appConfig(db)))),
            SecretHasherMemory,
            SecureRandomWebCrypto,
            AuditLogMemory
          )
          yield* Effect.gen(function* () {
            const actor = { kind: "database_owner", name: "test" } as const
            const real = yield* TokenStore
            const failing = TokenStore.of({
              ...real,
              insert: () => Effect.fail(new StoreUnavailable({ operation: "TokenStore.insert" }))
            })
            const name = `atomic-${Math.random().toString(16).slice(2)}`
            const input = { name, rateLimitPerMinute: null, tokenExpiresAt: null, agentName: "bot" }
            const failed = yield* onboardOrg(actor, input).pipe(Effect.provideService(TokenStore, failing), Effect.exit)
            expect(Exit.isFailure(failed)).toBe(true)
            const orgs = yield* OrgStore
            expect(Option.isNone(yield* orgs.findByName(name)), "the org insert was rolled back").toBe(true)

            const done = yield* onboardOrg(actor, input)
            expect(Option.getOrThrow(yield* orgs.findByName(name)).id).toBe(done.org.id)
            const page = yield* real.list(done.org.id, { limit: 10, cursor: null })
            expect(page.tokens.map((t) => t.id)).toEqual([done.token.info.id])
            expect(done.agent?.orgId).toBe(done.org.id)
          }).pipe(Effect.provide(services))
        }),
      120_000
    )
  })
