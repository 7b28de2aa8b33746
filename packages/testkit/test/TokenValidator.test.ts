import { expect, layer } from "@effect/vitest"
import {
  createToken,
  defaultTokenValidatorOptions,
  listTokens,
  ReplyDeadline,
  replyMarginMs,
  revokeToken,
  TokenValidator,
  TokenValidatorLive
} from "@ibex/auth-core"
import {
  InvalidToken,
  OrgStore,
  Permissions,
  RevocationEvent,
  RevocationFeed,
  SecretHasher,
  SecureRandomWebCrypto,
  StoreUnavailable,
  TokenStore,
  toEnvelope
} from "@ibex/domain"
import { Effect, Exit, Layer, PubSub, Redacted, Stream } from "effect"
import { setupTwoOrgs } from "../src/fixtures/twoOrgs.js"
import {
  AuditEvents,
  AuditLogMemory,
  authServicesMemory,
  SecretHasherCalls,
  SecretHasherMemory,
  TokenDigestMemory
} from "../src/memory/AuthMemory.js"
import { MemoryDatabase, MemoryDatabaseLive } from "../src/memory/MemoryDatabase.js"
import { AgentStoreMemory, OrgStoreMemory, StoresMemory, TokenStoreMemory } from "../src/memory/StoresMemory.js"

const services = authServicesMemory()

layer(services, { excludeTestServices: true })("TokenValidator (cache in front of Argon2id)", (it) => {
  it.effect("a second validation of the same token does not call the SecretHasher", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const calls = yield* SecretHasherCalls
      const before = calls.verify
      const first = yield* validator.validate(orgA.token)
      expect(calls.verify).toBe(before + 1)
      const second = yield* validator.validate(orgA.token)
      expect(calls.verify).toBe(before + 1)
      expect(second).toEqual(first)
      expect(first.orgId).toBe(orgA.orgId)
      expect(first.permissions).toBe(Permissions.all)
    })
  )

  it.effect("a revoked token is never served from the cache", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const target = orgA.tokens.readOnly
      yield* validator.validate(target.token)
      const admin = yield* validator.validate(orgA.token)
      yield* revokeToken(admin, target.info.id)
      const after = yield* Effect.flip(validator.validate(target.token))
      expect(after).toBeInstanceOf(InvalidToken)
      expect(after._tag === "InvalidToken" && after.reason).toBe("revoked")
    })
  )

  it.effect("a revocation made behind the validator's back (another instance) also evicts", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const db = yield* MemoryDatabase
      yield* validator.validate(orgA.tokens.chatOnly.token)
      // Revoke directly through the store, as another auth instance would, without calling evict here.
      const store = yield* TokenStore
      yield* store.revoke(orgA.orgId, orgA.tokens.chatOnly.info.id)
      yield* Effect.sleep("20 millis")
      const result = yield* Effect.exit(validator.validate(orgA.tokens.chatOnly.token))
      expect(Exit.isFailure(result)).toBe(true)
      expect(db.tokens.size).toBeGreaterThan(0)
    })
  )

  it.effect("unknown, malformed, wrong-secret, revoked and expired give identical client-facing errors", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const raw = Redacted.value(orgA.token)
      const wrongSecret = Redacted.make(`${raw.slice(0, -5)}AAAAA`)
      const unknown = Redacted.make(`ibex_pat_00000000-0000-4000-8000-000000000000_${raw.slice(-43)}`)
      const cases = [
        unknown,
        Redacted.make("not_a_token"),
        wrongSecret,
        orgA.tokens.revoked.token,
        orgA.tokens.expired.token
      ]
      const errors = yield* Effect.forEach(cases, (t) => Effect.flip(validator.validate(t)))
      const reasons = errors.map((e) => (e._tag === "InvalidToken" ? e.reason : e._tag))
      expect(reasons).toEqual(["unknown", "malformed", "wrong_secret", "revoked", "expired"])
      const envelopes = errors.map((e) => JSON.stringify(toEnvelope(e, "same")))
      expect(new Set(envelopes).size).toBe(1)
    })
  )

  it.effect("a disabled org's tokens stop validating", () =>
    Effect.gen(function* () {
      const { orgB } = yield* setupTwoOrgs()
      const orgs = yield* OrgStore
      yield* orgs.setStatus(orgB.orgId, "disabled")
      const validator = yield* TokenValidator
      const error = yield* Effect.flip(validator.validate(orgB.tokens.chatOnly.token))
      expect(error._tag === "InvalidToken" && error.reason).toBe("org_disabled")
    })
  )

  it.effect("repeated wrong secrets for one token id stop costing hashes", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const calls = yield* SecretHasherCalls
      const raw = Redacted.value(orgA.tokens.readOnly.token)
      const before = calls.verify
      for (let i = 0; i < 50; i++) {
        const guess = Redacted.make(`${raw.slice(0, -6)}${i.toString().padStart(5, "A")}A`)
        yield* Effect.flip(validator.validate(guess))
      }
      expect(calls.verify - before).toBeLessThanOrEqual(6)
      // The real token still works (it was never cached, so this costs one hash).
      const ok = yield* validator.validate(orgA.tokens.full.token)
      expect(ok.orgId).toBe(orgA.orgId)
    })
  )
})

layer(services, { excludeTestServices: true })("token management use cases", (it) => {
  it.effect("create returns the plaintext once; list never shows it or a hash; another org sees nothing", () =>
    Effect.gen(function* () {
      const { orgA, orgB } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const admin = yield* validator.validate(orgA.token)
      const created = yield* createToken(admin, {
        name: "ci",
        permissions: Permissions.of("chat:completions"),
        expiresAt: null
      })
      const plaintext = Redacted.value(created.token)
      expect(plaintext.startsWith("ibex_pat_")).toBe(true)
      const principal = yield* validator.validate(created.token)
      expect(principal.permissions).toBe(Permissions.of("chat:completions"))
      const page = yield* listTokens(admin, { limit: 100, cursor: null })
      const text = JSON.stringify(page, (_k, v) => (typeof v === "bigint" ? v.toString() : v))
      expect(text).not.toContain(plaintext.slice(-43))
      expect(page.tokens.map((t) => t.id)).toContain(created.info.id)
      const adminB = yield* validator.validate(orgB.token)
      const pageB = yield* listTokens(adminB, { limit: 100, cursor: null })
      expect(pageB.tokens.map((t) => t.id)).not.toContain(created.info.id)
      const events = yield* AuditEvents
      const audit = JSON.stringify(events)
      expect(audit).toContain("token_created")
      expect(audit).not.toContain(plaintext.slice(-43))
    })
  )

  it.effect("a caller without tokens:create cannot create; nobody can grant more than they hold", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const reader = yield* validator.validate(orgA.tokens.readOnly.token)
      const e1 = yield* Effect.flip(createToken(reader, { name: "x", permissions: Permissions.none, expiresAt: null }))
      expect(e1._tag).toBe("InsufficientPermissions")
      const admin = yield* validator.validate(orgA.token)
      const limited = yield* createToken(admin, {
        name: "creator",
        permissions: Permissions.of("tokens:create", "probe:read"),
        expiresAt: null
      })
      const creator = yield* validator.validate(limited.token)
      const e2 = yield* Effect.flip(
        createToken(creator, { name: "escalate", permissions: Permissions.all, expiresAt: null })
      )
      expect(e2._tag).toBe("InsufficientPermissions")
      const events = yield* AuditEvents
      expect(events.some((e) => e.type === "management_refused")).toBe(true)
    })
  )

  it.effect("cross-tenant revoke is NOT_FOUND and leaves the token valid", () =>
    Effect.gen(function* () {
      const { orgA, orgB } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const adminA = yield* validator.validate(orgA.token)
      const error = yield* Effect.flip(revokeToken(adminA, orgB.tokens.chatOnly.info.id))
      expect(error._tag).toBe("ResourceNotFound")
      const stillValid = yield* validator.validate(orgB.tokens.chatOnly.token)
      expect(stillValid.orgId).toBe(orgB.orgId)
    })
  )

  it.effect("expiry in the past and empty names are field errors", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const admin = yield* validator.validate(orgA.token)
      const error = yield* Effect.flip(
        createToken(admin, { name: "  ", permissions: Permissions.none, expiresAt: new Date(Date.now() - 1000) })
      )
      expect(error._tag).toBe("ValidationFailed")
      if (error._tag === "ValidationFailed")
        expect(error.fieldErrors.map((f) => f.field)).toEqual(["name", "expires_at"])
    })
  )
})

/**
 * The validator over the in-memory stores with a feed and a token store of the test's choosing
 * (the stores a row counts or slows down).
 */
const validatorWith = (
  feed: Stream.Stream<RevocationEvent>,
  tokenStore: Layer.Layer<TokenStore, never, MemoryDatabase>,
  options = defaultTokenValidatorOptions
) =>
  TokenValidatorLive(options).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Layer.succeed(RevocationFeed, { subscribe: feed }),
        tokenStore,
        AgentStoreMemory,
        OrgStoreMemory,
        SecretHasherMemory,
        TokenDigestMemory,
        AuditLogMemory,
        SecureRandomWebCrypto
      ).pipe(Layer.provideMerge(MemoryDatabaseLive))
    )
  )

// A feed the test drives by hand, to show what the validator does when notices may be lost.
const controlledFeed = Effect.runSync(PubSub.unbounded<RevocationEvent>())
const controlledServices = validatorWith(Stream.fromPubSub(controlledFeed), TokenStoreMemory)

layer(controlledServices, { excludeTestServices: true })("validator and the revocation feed's connection", (it) => {
  it.effect("caches no verdict until connected (Argon2id still runs once), and drops everything on a disconnect", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const calls = yield* SecretHasherCalls
      const publish = (e: RevocationEvent) =>
        Effect.zipRight(PubSub.publish(controlledFeed, e), Effect.sleep("10 millis"))

      const v0 = calls.verify
      yield* validator.validate(orgA.token)
      yield* validator.validate(orgA.token)
      // Untrusted: no cached verdict (validity is read from the store each time), but possession
      // of the secret behind the stored hash is remembered, so Argon2id ran once.
      expect(calls.verify - v0).toBe(1)
      expect((yield* validator.stats).entries).toBe(0)
      expect((yield* validator.stats).trusted).toBe(false)

      yield* publish(RevocationEvent.Connected())
      yield* validator.validate(orgA.token)
      yield* validator.validate(orgA.token)
      expect(calls.verify - v0).toBe(2)
      expect((yield* validator.stats).entries).toBe(1)

      // Late, not lost: nothing served from the cache, nothing dropped; on time again, served.
      yield* publish(RevocationEvent.Stale())
      expect((yield* validator.stats).trusted).toBe(false)
      expect((yield* validator.stats).entries).toBe(1)
      yield* publish(RevocationEvent.Fresh())
      expect((yield* validator.stats).trusted).toBe(true)

      yield* publish(RevocationEvent.Disconnected())
      expect((yield* validator.stats).entries).toBe(0)
      yield* validator.validate(orgA.token)
      expect(calls.verify - v0).toBe(3)
      expect((yield* validator.stats).entries).toBe(0)
    })
  )
})

// A hasher as slow as Argon2id on a loaded machine, to show what a caller's deadline does.
const SlowHasher = Layer.effect(
  SecretHasher,
  Effect.map(SecretHasher, (inner) =>
    SecretHasher.of({
      hash: inner.hash,
      verify: (hash, secret) => Effect.zipRight(Effect.sleep("60 millis"), inner.verify(hash, secret))
    })
  )
).pipe(Layer.provideMerge(SecretHasherMemory))

const slowServices = TokenValidatorLive().pipe(
  Layer.provideMerge(Layer.mergeAll(StoresMemory, SlowHasher, TokenDigestMemory, AuditLogMemory, SecureRandomWebCrypto))
)

layer(slowServices, { excludeTestServices: true })("validator under a caller deadline", (it) => {
  it.effect("a cold verification the caller abandoned still completes and fills the cache", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const calls = yield* SecretHasherCalls
      const v0 = calls.verify
      const first = yield* validator.validate(orgA.token).pipe(Effect.timeout("10 millis"), Effect.option)
      expect(first._tag).toBe("None")
      yield* Effect.sleep("150 millis")
      const second = yield* validator.validate(orgA.token).pipe(Effect.timeout("10 millis"))
      expect(second.orgId).toBe(orgA.orgId)
      expect(calls.verify - v0).toBe(1)
    })
  )

  it.effect("concurrent cold validations of one token share one Argon2id run", () =>
    Effect.gen(function* () {
      const { orgB } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const calls = yield* SecretHasherCalls
      const v0 = calls.verify
      const results = yield* Effect.all(
        Array.from({ length: 8 }, () => validator.validate(orgB.token)),
        { concurrency: "unbounded" }
      )
      expect(new Set(results.map((p) => p.tokenId)).size).toBe(1)
      expect(calls.verify - v0).toBe(1)
    })
  )
})

/** What a row sees of, and does to, the token store's lookups. */
interface LookupProbe {
  /** Token ids looked up. */
  count: number
  /** Calls made to the store (a batch is one). */
  calls: number
  /** Every lookup fails as the store being unavailable. */
  down: boolean
  /** How long a lookup takes (0: at once). */
  readonly delayMs: number
}

/** The in-memory token store, its lookups (token ids looked up) counted, slowed or failed through `probe`. */
const probedTokenStore = (probe: LookupProbe) => {
  const probed = <A>(ids: number, lookup: Effect.Effect<A, StoreUnavailable>) =>
    Effect.suspend(() => {
      probe.count += ids
      probe.calls += 1
      if (probe.down) return Effect.fail(new StoreUnavailable({ operation: "test: database down" }))
      return probe.delayMs > 0 ? Effect.zipRight(Effect.sleep(probe.delayMs), lookup) : lookup
    })
  return Layer.effect(
    TokenStore,
    Effect.map(TokenStore, (inner) =>
      TokenStore.of({
        ...inner,
        findCredential: (id) => probed(1, inner.findCredential(id)),
        findCredentials: (ids) => probed(ids.length, inner.findCredentials(ids))
      })
    )
  ).pipe(Layer.provideMerge(TokenStoreMemory))
}

// A feed driven by hand and a store that counts lookups: what a validation costs after the TTL
// and after a revocation pushed from another instance.
const costFeed = Effect.runSync(PubSub.unbounded<RevocationEvent>())
const lookups: LookupProbe = { count: 0, calls: 0, down: false, delayMs: 0 }
const costServices = validatorWith(Stream.fromPubSub(costFeed), probedTokenStore(lookups), {
  ...defaultTokenValidatorOptions,
  ttlMs: 50
})

layer(costServices, { excludeTestServices: true })("validator costs after the TTL and after a revocation", (it) => {
  const publish = (e: RevocationEvent) => Effect.zipRight(PubSub.publish(costFeed, e), Effect.sleep("10 millis"))

  it.effect("past the TTL a verified token is checked in the store again, without Argon2id", () =>
    Effect.gen(function* () {
      yield* publish(RevocationEvent.Connected())
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const calls = yield* SecretHasherCalls
      const v0 = calls.verify
      const l0 = lookups.count
      yield* validator.validate(orgA.token)
      expect([calls.verify - v0, lookups.count - l0]).toEqual([1, 1])
      yield* Effect.sleep("80 millis")
      const again = yield* validator.validate(orgA.token)
      expect(again.orgId).toBe(orgA.orgId)
      expect([calls.verify - v0, lookups.count - l0]).toEqual([1, 2])
      // The store still decides: revoked behind the validator's back (no notice), refused past the TTL.
      const store = yield* TokenStore
      yield* store.revoke(orgA.orgId, orgA.tokens.full.info.id)
      yield* Effect.sleep("80 millis")
      const error = yield* Effect.flip(validator.validate(orgA.token))
      expect(error._tag === "InvalidToken" && error.reason).toBe("revoked")
      expect(calls.verify - v0).toBe(1)
    })
  )

  it.effect("a token id the feed reports revoked is refused before the store lookup and Argon2id", () =>
    Effect.gen(function* () {
      yield* publish(RevocationEvent.Connected())
      const { orgB } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const calls = yield* SecretHasherCalls
      const target = orgB.tokens.chatOnly
      yield* validator.validate(target.token)
      const store = yield* TokenStore
      yield* store.revoke(orgB.orgId, target.info.id)
      yield* publish(RevocationEvent.Revoked({ tokenId: target.info.id }))
      const v0 = calls.verify
      const l0 = lookups.count
      const errors = yield* Effect.forEach([1, 2, 3], () => Effect.flip(validator.validate(target.token)))
      expect(errors.map((e) => e._tag === "InvalidToken" && e.reason)).toEqual(["revoked", "revoked", "revoked"])
      expect([calls.verify - v0, lookups.count - l0]).toEqual([0, 0])
      // Same client-facing answer as any other invalid token; other tokens are untouched.
      expect(JSON.stringify(toEnvelope(errors[0] as InvalidToken, "x"))).toBe(
        JSON.stringify(toEnvelope(new InvalidToken({ reason: "unknown" }), "x"))
      )
      expect((yield* validator.validate(orgB.token)).orgId).toBe(orgB.orgId)
    })
  )
})

// A store whose lookup takes time, as a database's does: concurrent validations all start
// before the first lookup answers.
const slowLookups: LookupProbe = { count: 0, calls: 0, down: false, delayMs: 20 }
const slowLookupServices = validatorWith(Stream.never, probedTokenStore(slowLookups))

layer(slowLookupServices, { excludeTestServices: true })("a concurrent flood of guesses on a slow store", (it) => {
  it.effect("is counted at admission: a handful of lookups and hashes for the id, not one per guess", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const calls = yield* SecretHasherCalls
      const raw = Redacted.value(orgA.tokens.readOnly.token)
      const l0 = slowLookups.count
      const v0 = calls.verify
      const guesses = Array.from({ length: 200 }, (_, i) =>
        Redacted.make(`${raw.slice(0, -6)}${i.toString().padStart(5, "A")}A`)
      )
      const errors = yield* Effect.forEach(guesses, (g) => Effect.flip(validator.validate(g)), {
        concurrency: "unbounded"
      })
      expect(errors.every((e) => e._tag === "InvalidToken" && e.reason === "wrong_secret")).toBe(true)
      const limit = defaultTokenValidatorOptions.maxFailuresPerToken
      expect(slowLookups.count - l0).toBeLessThanOrEqual(limit)
      expect(calls.verify - v0).toBeLessThanOrEqual(limit)
      // Another token of the same org, never seen, is untouched by the throttle on that id.
      expect((yield* validator.validate(orgA.tokens.full.token)).orgId).toBe(orgA.orgId)
    })
  )

  it.effect(
    "random unknown ids go to the store in batches: a handful of calls for 500 ids, and a real token among them works",
    () =>
      Effect.gen(function* () {
        const { orgB } = yield* setupTwoOrgs()
        const validator = yield* TokenValidator
        const real = orgB.tokens.chatOnly
        const c0 = slowLookups.calls
        const l0 = slowLookups.count
        const unknown = Array.from({ length: 500 }, () =>
          Redacted.make(`ibex_pat_${crypto.randomUUID()}_${Redacted.value(real.token).slice(-43)}`)
        )
        const [refusals, principal] = yield* Effect.all(
          [
            Effect.forEach(unknown, (t) => Effect.flip(validator.validate(t)), { concurrency: "unbounded" }),
            Effect.zipRight(Effect.sleep("5 millis"), validator.validate(real.token))
          ],
          { concurrency: "unbounded" }
        )
        expect(refusals.every((e) => e._tag === "InvalidToken" && e.reason === "unknown")).toBe(true)
        expect(principal.tokenId).toBe(real.info.id)
        expect(slowLookups.count - l0).toBe(501)
        // The first `lookupsInFlight` go alone, at once; the rest wait for a free slot and go together.
        const { lookupsInFlight, maxLookupBatch } = defaultTokenValidatorOptions
        expect(slowLookups.calls - c0).toBeLessThanOrEqual(lookupsInFlight + Math.ceil(501 / maxLookupBatch) + 1)
      })
  )

  it.effect("a lookup that fails is not a guess: the real holder is not throttled by a database outage", () =>
    Effect.gen(function* () {
      const { orgB } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const real = orgB.tokens.chatOnly
      slowLookups.down = true
      const failures = yield* Effect.forEach(
        Array.from({ length: defaultTokenValidatorOptions.maxFailuresPerToken * 3 }, () => real.token),
        (t) => Effect.flip(validator.validate(t)),
        { concurrency: 1 }
      ).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            slowLookups.down = false
          })
        )
      )
      expect(failures.every((e) => e._tag === "StoreUnavailable")).toBe(true)
      expect((yield* validator.validate(real.token)).tokenId).toBe(real.info.id)
    })
  )
})

// A cache lifetime of 1 ms, so every validation after the first goes past the cache.
const shortLived = authServicesMemory({ ...defaultTokenValidatorOptions, ttlMs: 1 })

layer(shortLived, { excludeTestServices: true })("wrong-secret throttle and the real holder", (it) => {
  it.effect("guessing secrets for a token id never locks out the holder of the real token", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const validator = yield* TokenValidator
      const real = orgA.tokens.chatOnly
      yield* validator.validate(real.token)
      const raw = Redacted.value(real.token)
      for (let i = 0; i < 20; i++) {
        const guess = Redacted.make(`${raw.slice(0, -6)}${i.toString().padStart(5, "A")}A`)
        const error = yield* Effect.flip(validator.validate(guess))
        expect(error._tag).toBe("InvalidToken")
      }
      yield* Effect.sleep("5 millis")
      const again = yield* validator.validate(real.token)
      expect(again.tokenId).toBe(real.info.id)
    })
  )
})

// No cold verification runs here, so an unknown id's refusal is padded to the initial floor.
const slowFloor = authServicesMemory({ ...defaultTokenValidatorOptions, refusalInitialFloorMs: 600 })

layer(slowFloor, { excludeTestServices: true })("refusal padding and the caller's deadline", (it) => {
  const unknownId = (raw: string) => Redacted.make(`ibex_pat_00000000-0000-4000-8000-000000000000_${raw.slice(-43)}`)
  const timedRefusal = (token: Redacted.Redacted<string>) =>
    Effect.gen(function* () {
      const validator = yield* TokenValidator
      const started = performance.now()
      const error = yield* Effect.flip(validator.validate(token))
      return { error, ms: performance.now() - started }
    })

  it.effect("without a deadline an unknown id is padded to the floor", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const { error, ms } = yield* timedRefusal(unknownId(Redacted.value(orgA.token)))
      expect(error._tag === "InvalidToken" && error.reason).toBe("unknown")
      expect(ms).toBeGreaterThanOrEqual(590)
    })
  )

  it.effect("a padded refusal is answered before the caller's deadline, not after it (a 401, not a timeout)", () =>
    Effect.gen(function* () {
      const { orgA } = yield* setupTwoOrgs()
      const budgetMs = 120
      const { error, ms } = yield* Effect.locally(
        timedRefusal(unknownId(Redacted.value(orgA.token))),
        ReplyDeadline,
        Date.now() + budgetMs
      )
      expect(error._tag === "InvalidToken" && error.reason).toBe("unknown")
      // Padded up to the deadline less the margin for the trip back, never to the 600 ms floor.
      expect(ms).toBeGreaterThanOrEqual(budgetMs - replyMarginMs(budgetMs) - 15)
      expect(ms).toBeLessThan(400)
    })
  )
})
