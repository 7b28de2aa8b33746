import { describe, expect, it } from "@effect/vitest"
import {
  type AgentId,
  AgentVerdict,
  AuthGateway,
  AuthInvalidation,
  type Authorization,
  authGatewayFromChecks,
  InvalidToken,
  type OrgId,
  Permissions,
  type Principal,
  ServiceDegraded,
  type TokenId
} from "@ibex/domain"
import { Cause, Deferred, Effect, Either, Fiber, Logger, Option, Queue, Redacted, Stream } from "effect"
import { defaultAuthorizationCacheOptions, makeAuthorizationCache } from "../src/auth/AuthorizationCache.js"
import { ClientAddress } from "../src/auth/FailureBudget.js"

const orgA = "0190a000-0000-7000-8000-00000000000a" as OrgId
const orgB = "0190b000-0000-7000-8000-00000000000b" as OrgId
const agentA = "0190a000-0000-7000-8000-0000000000a1" as AgentId
const tokenIdA = "0190a000-0000-7000-8000-0000000000f1" as TokenId
const tokenIdB = "0190b000-0000-7000-8000-0000000000f2" as TokenId
const tokenA = Redacted.make(`ibex_pat_${tokenIdA}_${"A".repeat(43)}`)
const tokenB = Redacted.make(`ibex_pat_${tokenIdB}_${"B".repeat(42)}A`)

const principal = (orgId: OrgId, tokenId: TokenId): Principal => ({
  orgId,
  tokenId,
  permissions: Permissions.all,
  expiresAt: null,
  rateLimitPerMinute: null,
  tokensPerMinute: null,
  monthlyBudgetMicroUsd: null
})

/**
 * A remote auth whose answers, calls and invalidation stream the test controls. `gate`, when set,
 * holds every authorize call until the test opens it (to interleave a lookup with an invalidation).
 */
const scriptedRemote = Effect.gen(function* () {
  const stream = yield* Queue.unbounded<AuthInvalidation>()
  const state = {
    calls: 0,
    revoked: new Set<string>(),
    gate: undefined as Deferred.Deferred<void> | undefined,
    degraded: false,
    deadlines: [] as Array<number | undefined>,
    tokenExpiresAt: null as Date | null,
    /** Calls released by the gate answer ServiceDegraded (auth gave no answer after all). */
    degradeAfterGate: false
  }
  const gateway = AuthGateway.of({
    ...authGatewayFromChecks({
      validateToken: () => Effect.die("not used"),
      verifyAgent: () => Effect.die("not used")
    }),
    invalidations: Stream.fromQueue(stream),
    authorize: (token, agentId, options) =>
      Effect.gen(function* () {
        state.calls++
        state.deadlines.push(options?.deadlineMs)
        if (state.degraded) return yield* new ServiceDegraded()
        const raw = Redacted.value(token)
        // The lookup reads its answer first, then waits (a slow database), then answers.
        const answer: Either.Either<Authorization, InvalidToken> =
          state.revoked.has(raw) || (raw !== Redacted.value(tokenA) && raw !== Redacted.value(tokenB))
            ? Either.left(new InvalidToken({ reason: "unknown" }))
            : Either.right({
                principal: {
                  ...(raw === Redacted.value(tokenA) ? principal(orgA, tokenIdA) : principal(orgB, tokenIdB)),
                  expiresAt: state.tokenExpiresAt
                },
                agent: Option.map(agentId, () => AgentVerdict.Authorized())
              })
        if (state.gate !== undefined) yield* Deferred.await(state.gate)
        if (state.degradeAfterGate) return yield* new ServiceDegraded()
        return yield* answer
      })
  })
  return { gateway, stream, state }
})

const heartbeat = (q: Queue.Queue<AuthInvalidation>) =>
  Effect.zipRight(Queue.offer(q, AuthInvalidation.Heartbeat()), Effect.sleep("5 millis"))

const setup = (options = defaultAuthorizationCacheOptions) =>
  Effect.gen(function* () {
    const remote = yield* scriptedRemote
    const cache = yield* makeAuthorizationCache(options).pipe(Effect.provideService(AuthGateway, remote.gateway))
    return { ...remote, cache }
  })

describe("AuthorizationCache", () => {
  it.scopedLive("a warm request makes no remote call; the agent verdict is cached per (org, agent)", () =>
    Effect.gen(function* () {
      const { cache, stream, state } = yield* setup()
      yield* heartbeat(stream)
      const first = yield* cache.gateway.authorize(tokenA, Option.some(agentA))
      expect(first.principal.orgId).toBe(orgA)
      for (let i = 0; i < 100; i++) yield* cache.gateway.authorize(tokenA, Option.some(agentA))
      expect(state.calls).toBe(1)
      expect(cache.stats()).toMatchObject({ hits: 100, misses: 1, trusted: true })
    })
  )

  it.scopedLive("untrusted until the first heartbeat, and again once auth falls silent past the bound", () =>
    Effect.gen(function* () {
      const { cache, stream, state } = yield* setup({ ...defaultAuthorizationCacheOptions, staleAfterMs: 50 })
      yield* cache.gateway.authorize(tokenA, Option.none())
      yield* cache.gateway.authorize(tokenA, Option.none())
      expect(state.calls, "no heartbeat yet: every request asks auth").toBe(2)
      yield* heartbeat(stream)
      yield* cache.gateway.authorize(tokenA, Option.none())
      yield* cache.gateway.authorize(tokenA, Option.none())
      expect(state.calls).toBe(3)
      yield* Effect.sleep("80 millis")
      expect(cache.stats().trusted).toBe(false)
      yield* cache.gateway.authorize(tokenA, Option.none())
      expect(state.calls, "a silent stream is never a reason to answer from the cache").toBe(4)
      yield* heartbeat(stream)
      yield* cache.gateway.authorize(tokenA, Option.none())
      expect(state.calls, "heard again: the entries kept are served").toBe(4)
    })
  )

  it.scopedLive("a stream silent past reconnectAfterMs is abandoned and subscribed again; a live one is kept", () =>
    Effect.gen(function* () {
      const remote = yield* scriptedRemote
      let subscriptions = 0
      const gateway = AuthGateway.of({
        ...remote.gateway,
        invalidations: Stream.suspend(() => {
          subscriptions++
          return Stream.fromQueue(remote.stream)
        })
      })
      yield* makeAuthorizationCache({ ...defaultAuthorizationCacheOptions, reconnectAfterMs: 100 }).pipe(
        Effect.provideService(AuthGateway, gateway)
      )
      // Heartbeats every 5 ms for 400 ms: four times the bound, one subscription.
      for (let i = 0; i < 80; i++) yield* heartbeat(remote.stream)
      expect(subscriptions, "a stream that keeps talking is kept").toBe(1)
      // Then silence: abandoned after the bound (checked every quarter of it), subscribed again.
      yield* Effect.sleep("400 millis")
      expect(subscriptions, "a silent stream is left and subscribed again").toBeGreaterThanOrEqual(2)
    })
  )

  it.scopedLive("each invalidation drops exactly what it names", () =>
    Effect.gen(function* () {
      const { cache, stream, state } = yield* setup()
      yield* heartbeat(stream)
      const warm = Effect.all([
        cache.gateway.authorize(tokenA, Option.some(agentA)),
        cache.gateway.authorize(tokenB, Option.none())
      ])
      yield* warm
      expect(state.calls).toBe(2)

      yield* Queue.offer(stream, AuthInvalidation.TokenRevoked({ tokenId: tokenIdA }))
      yield* heartbeat(stream)
      state.revoked.add(Redacted.value(tokenA))
      const revoked = yield* Effect.either(cache.gateway.authorize(tokenA, Option.some(agentA)))
      expect(Either.isLeft(revoked) && revoked.left._tag).toBe("InvalidToken")
      expect(state.calls, "a revoked token is refused here, without asking auth").toBe(2)
      yield* cache.gateway.authorize(tokenB, Option.none())
      expect(state.calls, "B's principal survived A's revocation").toBe(2)
      // The refusal is remembered briefly: still no call for the revoked token.
      yield* Effect.either(cache.gateway.authorize(tokenA, Option.none()))
      expect(state.calls).toBe(2)

      yield* Queue.offer(stream, AuthInvalidation.OrgChanged({ orgId: orgB }))
      yield* heartbeat(stream)
      yield* cache.gateway.authorize(tokenB, Option.none())
      expect(state.calls, "the org's principals were dropped").toBe(3)
      state.revoked.delete(Redacted.value(tokenA))
      yield* cache.gateway.authorize(tokenA, Option.none())
      expect(state.calls, "an org change also drops remembered refusals").toBe(4)

      yield* cache.gateway.authorize(tokenA, Option.some(agentA))
      const before = state.calls
      yield* Queue.offer(stream, AuthInvalidation.AgentChanged({ agentId: agentA }))
      yield* heartbeat(stream)
      yield* cache.gateway.authorize(tokenA, Option.some(agentA))
      expect(state.calls, "the agent's verdict was dropped").toBe(before + 1)

      yield* Queue.offer(stream, AuthInvalidation.Reset())
      yield* Effect.sleep("5 millis")
      expect(cache.stats()).toMatchObject({ principals: 0, verdicts: 0, trusted: false })
    })
  )

  it.scopedLive(
    "a lookup that began before a revocation never writes its answer back (deterministic interleaving)",
    () =>
      Effect.gen(function* () {
        const { cache, stream, state } = yield* setup()
        yield* heartbeat(stream)
        // 1. A request misses and its lookup reads "valid", then stalls (the gate).
        state.gate = yield* Deferred.make<void>()
        const inFlight = yield* Effect.fork(cache.gateway.authorize(tokenA, Option.some(agentA)))
        yield* Effect.sleep("10 millis")
        expect(state.calls).toBe(1)
        // 2. The token is revoked and the invalidation arrives while that lookup is in flight.
        state.revoked.add(Redacted.value(tokenA))
        yield* Queue.offer(stream, AuthInvalidation.TokenRevoked({ tokenId: tokenIdA }))
        yield* heartbeat(stream)
        // 3. The stale answer lands: its caller gets it (it was true when read), the cache must not keep it.
        yield* Deferred.succeed(state.gate, undefined)
        state.gate = undefined
        yield* heartbeat(stream)
        const stale = yield* inFlight.await.pipe(Effect.flatten)
        expect(stale.principal.tokenId).toBe(tokenIdA)
        expect(cache.stats().principals, "the stale answer was not cached").toBe(0)
        // 4. The next request asks auth and is refused.
        const next = yield* Effect.either(cache.gateway.authorize(tokenA, Option.some(agentA)))
        expect(Either.isLeft(next)).toBe(true)
        expect(state.calls).toBe(2)
      })
  )

  it.scopedLive(
    "a request made after a revocation never joins a lookup that began before it: it asks auth itself (deterministic interleaving)",
    () =>
      Effect.gen(function* () {
        const { cache, stream, state } = yield* setup()
        yield* heartbeat(stream)
        // 1. A token's first lookup reads "valid", then stalls (auth's Argon2id queue, say).
        state.gate = yield* Deferred.make<void>()
        const before = yield* Effect.fork(cache.gateway.authorize(tokenA, Option.some(agentA)))
        yield* Effect.sleep("10 millis")
        // 2. The token is revoked; the proxy applies the notice while that lookup is in flight.
        state.revoked.add(Redacted.value(tokenA))
        yield* Queue.offer(stream, AuthInvalidation.TokenRevoked({ tokenId: tokenIdA }))
        yield* heartbeat(stream)
        // 3. A request made now does not share the lookup that began before: it is a call of its own.
        const after = yield* Effect.fork(cache.gateway.authorize(tokenA, Option.some(agentA)))
        yield* Effect.sleep("10 millis")
        expect(state.calls).toBe(2)
        yield* Deferred.succeed(state.gate, undefined)
        state.gate = undefined
        // The earlier request was made before the revocation: auth's answer then stands for it.
        expect((yield* before.await.pipe(Effect.flatten)).principal.tokenId).toBe(tokenIdA)
        const refused = yield* after.await
        expect(
          refused._tag === "Failure"
            ? Cause.failureOption(refused.cause).pipe(Option.map((e) => e._tag))
            : Option.none()
        ).toEqual(Option.some("InvalidToken"))
      })
  )

  it.scopedLive("requests that miss together share one remote call; a hot entry is refreshed before its TTL ends", () =>
    Effect.gen(function* () {
      const { cache, stream, state } = yield* setup({ ...defaultAuthorizationCacheOptions, ttlMs: 200 })
      yield* heartbeat(stream)
      state.gate = yield* Deferred.make<void>()
      const fibers = yield* Effect.forEach(
        Array.from({ length: 10 }),
        () => Effect.fork(cache.gateway.authorize(tokenA, Option.some(agentA))),
        { concurrency: "unbounded" }
      )
      yield* Effect.sleep("10 millis")
      yield* Deferred.succeed(state.gate, undefined)
      state.gate = undefined
      yield* heartbeat(stream)
      const answers = yield* Effect.forEach(fibers, (f) => f.await.pipe(Effect.flatten))
      expect(answers.every((a) => a.principal.tokenId === tokenIdA)).toBe(true)
      expect(state.calls, "ten concurrent misses, one remote call").toBe(1)

      // Past four fifths of the TTL a hit is still served from memory and refreshes in the background.
      yield* Effect.sleep("170 millis")
      yield* heartbeat(stream)
      yield* cache.gateway.authorize(tokenA, Option.some(agentA))
      yield* Effect.sleep("10 millis")
      expect(state.calls, "one background refresh").toBe(2)
      expect(cache.stats().refreshes).toBe(1)
      expect(state.deadlines, "the first lookup and the refresh ask with their own longer deadlines").toEqual([
        defaultAuthorizationCacheOptions.firstLookupDeadlineMs,
        defaultAuthorizationCacheOptions.refreshDeadlineMs
      ])
      yield* Effect.sleep("60 millis")
      yield* heartbeat(stream)
      yield* cache.gateway.authorize(tokenA, Option.some(agentA))
      expect(state.calls, "the refreshed entry outlived the first TTL").toBe(2)
    })
  )

  // A well-formed PAT auth does not know (a fresh id each): every one is a remote lookup.
  const unknownToken = (i: number) =>
    Redacted.make(`ibex_pat_0190c000-0000-7000-8000-${i.toString(16).padStart(12, "0")}_${"C".repeat(42)}A`)
  const from =
    (address: string) =>
    <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.locally(effect, ClientAddress, address)

  it.scopedLive(
    "a concurrent flood of bad tokens from one address reaches auth at most `burst` times; the rest are 429 at once",
    () =>
      Effect.gen(function* () {
        const { cache, stream, state } = yield* setup({ ...defaultAuthorizationCacheOptions, failuresPerMinute: 10 })
        yield* heartbeat(stream)
        // Held at auth until all 200 are admitted: a budget counted only when refusals come back would let all through.
        state.gate = yield* Deferred.make<void>()
        const flood = Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => Effect.flip(from("10.0.0.1")(cache.gateway.authorize(unknownToken(i), Option.none()))),
          { concurrency: "unbounded" }
        ).pipe(Effect.fork)
        const fiber = yield* flood
        yield* Effect.sleep("20 millis")
        yield* Deferred.succeed(state.gate, undefined)
        const errors = yield* fiber.await.pipe(Effect.flatten)
        const tags = errors.map((e) => e._tag)
        expect(state.calls).toBe(10)
        expect(tags.filter((t) => t === "InvalidToken")).toHaveLength(10)
        expect(tags.filter((t) => t === "AuthFailuresThrottled")).toHaveLength(190)
        const throttled = errors.find((e) => e._tag === "AuthFailuresThrottled")
        expect(throttled?._tag === "AuthFailuresThrottled" && throttled.retryAfterMs).toBeGreaterThan(0)
        state.gate = undefined
        yield* heartbeat(stream)
        // Another address is untouched, and so is a working token the cache already holds for this one.
        const other = yield* Effect.flip(from("10.0.0.2")(cache.gateway.authorize(unknownToken(999), Option.none())))
        expect(other._tag).toBe("InvalidToken")
        yield* from("10.0.0.2")(cache.gateway.authorize(tokenA, Option.none()))
        const warm = yield* from("10.0.0.1")(cache.gateway.authorize(tokenA, Option.none()))
        expect(warm.principal.orgId).toBe(orgA)
      })
  )

  it.scopedLive(
    "a token auth accepted here is not charged: past its TTL it still works from an address a flood has spent, until it is revoked",
    () =>
      Effect.gen(function* () {
        const { cache, stream, state } = yield* setup({
          ...defaultAuthorizationCacheOptions,
          failuresPerMinute: 5,
          ttlMs: 30
        })
        yield* heartbeat(stream)
        yield* from("10.0.0.5")(cache.gateway.authorize(tokenA, Option.none()))
        // A neighbour behind the same address spends its budget.
        const flood = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => Effect.flip(from("10.0.0.5")(cache.gateway.authorize(unknownToken(200 + i), Option.none()))),
          { concurrency: "unbounded" }
        )
        expect(flood.filter((e) => e._tag === "AuthFailuresThrottled")).toHaveLength(45)
        // Token A's entry expires (idle past the TTL); its next requests need auth again, and get it.
        for (let i = 0; i < 3; i++) {
          yield* Effect.sleep("40 millis")
          yield* heartbeat(stream)
          const calls = state.calls
          const again = yield* from("10.0.0.5")(cache.gateway.authorize(tokenA, Option.none()))
          expect(again.principal.tokenId).toBe(tokenIdA)
          expect(state.calls, "asked auth: the entry had expired").toBe(calls + 1)
        }
        // A token never accepted here (B) is still throttled on that address.
        const b = yield* Effect.flip(from("10.0.0.5")(cache.gateway.authorize(tokenB, Option.none())))
        expect(b._tag).toBe("AuthFailuresThrottled")
        // Revoked: forgotten as proven, so its polls are charged (and throttled) like any refusal.
        yield* Queue.offer(stream, AuthInvalidation.TokenRevoked({ tokenId: tokenIdA }))
        state.revoked.add(Redacted.value(tokenA))
        yield* Effect.sleep("5 millis")
        const revoked = yield* Effect.flip(from("10.0.0.5")(cache.gateway.authorize(tokenA, Option.none())))
        expect(revoked._tag).toBe("InvalidToken")
        yield* Effect.sleep(`${defaultAuthorizationCacheOptions.negativeTtlMs + 50} millis`)
        yield* heartbeat(stream)
        const polled = yield* Effect.flip(from("10.0.0.5")(cache.gateway.authorize(tokenA, Option.none())))
        expect(polled._tag).toBe("AuthFailuresThrottled")
      })
  )

  it.scopedLive(
    "while auth's stream is silent a refusal is still remembered and served: a revoked token polled from one address is asked about once, never throttled",
    () =>
      Effect.gen(function* () {
        const { cache, state } = yield* setup({
          ...defaultAuthorizationCacheOptions,
          failuresPerMinute: 2,
          negativeTtlMs: 60_000
        })
        // No heartbeat: untrusted (a blackholed feed), so nothing is ever served as an acceptance.
        state.revoked.add(Redacted.value(tokenA))
        const tags = []
        for (let i = 0; i < 20; i++)
          tags.push((yield* Effect.flip(from("10.0.0.4")(cache.gateway.authorize(tokenA, Option.none()))))._tag)
        expect(new Set(tags)).toEqual(new Set(["InvalidToken"]))
        expect(state.calls, "one lookup, then the remembered refusal").toBe(1)
        expect(cache.stats().trusted).toBe(false)
        // Another token of the same address is still asked about (the budget is not spent on polls).
        yield* from("10.0.0.4")(cache.gateway.authorize(tokenB, Option.none()))
        expect(state.calls).toBe(2)
      })
  )

  it.scopedLive("accepted lookups give their charge back; malformed tokens never reach auth nor spend the budget", () =>
    Effect.gen(function* () {
      const { cache, stream, state } = yield* setup({
        ...defaultAuthorizationCacheOptions,
        failuresPerMinute: 2,
        ttlMs: 1
      })
      yield* heartbeat(stream)
      for (let i = 0; i < 20; i++) {
        yield* from("10.0.0.3")(cache.gateway.authorize(tokenB, Option.none()))
        yield* Effect.sleep("2 millis")
      }
      expect(state.calls).toBeGreaterThanOrEqual(10)
      const calls = state.calls
      for (const garbage of ["x", "ibex_pat_nope", `ibex_pat_${tokenIdA}_short`]) {
        const e = yield* Effect.flip(from("10.0.0.3")(cache.gateway.authorize(Redacted.make(garbage), Option.none())))
        expect(e._tag === "InvalidToken" && e.reason).toBe("malformed")
      }
      expect(state.calls).toBe(calls)
      // The budget of 2 is still whole: two refusals pass to auth, the third is throttled.
      const tags = []
      for (let i = 0; i < 3; i++)
        tags.push(
          (yield* Effect.flip(from("10.0.0.3")(cache.gateway.authorize(unknownToken(100 + i), Option.none()))))._tag
        )
      expect(tags).toEqual(["InvalidToken", "InvalidToken", "AuthFailuresThrottled"])
    })
  )

  it.scopedLive(
    "a lookup that fails closed says why the cache asked: untrusted, expired or absent, at most once a second",
    () =>
      Effect.gen(function* () {
        const lines: Array<Record<string, unknown>> = []
        const capture = Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ message }) => {
            const parts = Array.isArray(message) ? message : [message]
            for (const p of parts) if (typeof p === "object" && p !== null) lines.push(p as Record<string, unknown>)
          })
        )
        const failures = () => lines.filter((l) => l.event === "auth_lookup_failed")
        // The cache's detached lookups log from its own fibers: the logger is installed before it is made.
        yield* Effect.gen(function* () {
          const { cache, stream, state } = yield* setup({
            ...defaultAuthorizationCacheOptions,
            ttlMs: 60,
            staleIfErrorMs: 0
          })
          state.degraded = true
          yield* Effect.either(cache.gateway.authorize(tokenA, Option.none()))
          yield* Effect.either(cache.gateway.authorize(tokenA, Option.none()))
          expect(failures()).toMatchObject([{ cache: "untrusted", trusted: false }])
          yield* Effect.sleep("1100 millis")
          state.degraded = false
          yield* heartbeat(stream)
          yield* cache.gateway.authorize(tokenA, Option.none())
          state.degraded = true
          yield* Effect.sleep("80 millis")
          yield* heartbeat(stream)
          const expired = yield* Effect.either(cache.gateway.authorize(tokenA, Option.none()))
          expect(Either.isLeft(expired) && expired.left._tag).toBe("ServiceDegraded")
          expect(failures().map((l) => l.cache)).toEqual(["untrusted", "expired"])
        }).pipe(Effect.provide(capture))
      })
  )

  it.scopedLive("a client's miss never waits on a refresh's longer deadline: it makes its own lookup", () =>
    Effect.gen(function* () {
      const { cache, stream, state } = yield* setup({ ...defaultAuthorizationCacheOptions, ttlMs: 100 })
      yield* heartbeat(stream)
      yield* cache.gateway.authorize(tokenA, Option.none())
      // Hold every remote call from now on: the refresh below stays in flight.
      state.gate = yield* Deferred.make<void>()
      yield* Effect.sleep("85 millis")
      yield* heartbeat(stream)
      yield* cache.gateway.authorize(tokenA, Option.none())
      expect(cache.stats().refreshes).toBe(1)
      yield* Effect.sleep("20 millis")
      yield* heartbeat(stream)
      // The entry is past its TTL now, with its refresh still in flight.
      const miss = yield* Effect.fork(cache.gateway.authorize(tokenA, Option.none()))
      yield* Effect.sleep("10 millis")
      expect(state.deadlines, "the client's lookup is a call of its own, on the client's deadline").toEqual([
        defaultAuthorizationCacheOptions.firstLookupDeadlineMs,
        defaultAuthorizationCacheOptions.refreshDeadlineMs,
        undefined
      ])
      yield* Deferred.succeed(state.gate, undefined)
      state.gate = undefined
      expect((yield* miss.await.pipe(Effect.flatten)).principal.tokenId).toBe(tokenIdA)
    })
  )

  it.scopedLive(
    "a token with nothing usable held is asked about on the first lookup's deadline (never seen, or past its TTL and grace); one with a stale answer to fall back on, a new agent of a token held, and any while auth is unheard, on the client's budget",
    () =>
      Effect.gen(function* () {
        const options = {
          ...defaultAuthorizationCacheOptions,
          ttlMs: 50,
          staleIfErrorMs: 100,
          firstLookupDeadlineMs: 700
        }
        const { cache, stream, state } = yield* setup(options)
        yield* cache.gateway.authorize(tokenA, Option.none())
        yield* heartbeat(stream)
        yield* cache.gateway.authorize(tokenB, Option.none())
        yield* Effect.sleep("80 millis")
        yield* heartbeat(stream)
        yield* cache.gateway.authorize(tokenB, Option.none())
        yield* Effect.sleep("200 millis")
        yield* heartbeat(stream)
        yield* cache.gateway.authorize(tokenB, Option.none())
        // A new agent for a token held live costs auth no Argon2id: the client's budget.
        yield* cache.gateway.authorize(tokenB, Option.some(agentA))
        expect(state.deadlines).toEqual([undefined, 700, undefined, 700, undefined])
      })
  )

  it.scopedLive(
    "auth late on an expired entry: the entry answers while the stream is heard, inside its grace, never after an invalidation",
    () =>
      Effect.gen(function* () {
        const options = { ...defaultAuthorizationCacheOptions, ttlMs: 100, staleIfErrorMs: 300 }
        const { cache, stream, state } = yield* setup(options)
        const beating = yield* Effect.forkScoped(Effect.forever(heartbeat(stream)))
        yield* Effect.sleep("10 millis")
        const late = () => Effect.either(cache.gateway.authorize(tokenA, Option.some(agentA)))

        yield* cache.gateway.authorize(tokenA, Option.some(agentA))
        yield* Effect.sleep("150 millis")
        state.degraded = true
        const stale = yield* late()
        expect(Either.isRight(stale) && stale.right.principal.tokenId, "past the TTL, inside the grace").toBe(tokenIdA)
        expect(cache.stats().staleAnswers).toBe(1)
        yield* Effect.sleep("5 millis")
        expect(state.deadlines, "auth was asked first; the stale answer then started a refresh").toEqual([
          options.firstLookupDeadlineMs,
          undefined,
          options.refreshDeadlineMs
        ])

        yield* Effect.sleep("300 millis")
        const beyond = yield* late()
        expect(Either.isLeft(beyond) && beyond.left._tag, "past TTL + grace").toBe("ServiceDegraded")

        // A change notice removes the entry: nothing is left to answer from.
        state.degraded = false
        yield* cache.gateway.authorize(tokenA, Option.some(agentA))
        yield* Effect.sleep("150 millis")
        yield* Queue.offer(stream, AuthInvalidation.TokenChanged({ tokenId: tokenIdA }))
        yield* Effect.sleep("10 millis")
        state.degraded = true
        const changed = yield* late()
        expect(Either.isLeft(changed) && changed.left._tag, "invalidated: never stale").toBe("ServiceDegraded")

        // A token past its own expiry is never answered, whatever the grace.
        state.degraded = false
        state.tokenExpiresAt = new Date(Date.now() + 120)
        yield* cache.gateway.authorize(tokenA, Option.some(agentA))
        yield* Effect.sleep("150 millis")
        state.degraded = true
        const tokenExpired = yield* late()
        expect(Either.isLeft(tokenExpired) && tokenExpired.left._tag, "the token itself expired").toBe(
          "ServiceDegraded"
        )
        state.tokenExpiresAt = null

        // A silent stream withdraws trust: a late answer is a 503 again.
        state.degraded = false
        yield* cache.gateway.authorize(tokenA, Option.some(agentA))
        yield* Effect.sleep("110 millis")
        yield* Fiber.interrupt(beating)
        yield* Effect.sleep("150 millis")
        state.degraded = true
        const silent = yield* late()
        expect(Either.isLeft(silent) && silent.left._tag, "stream silent: never stale").toBe("ServiceDegraded")
        expect(cache.stats().staleAnswers).toBe(1)
      })
  )

  it.scopedLive("auth's refusal of a token outranks a stale answer for it, even from a lookup already in flight", () =>
    Effect.gen(function* () {
      const options = { ...defaultAuthorizationCacheOptions, ttlMs: 100, staleIfErrorMs: 5_000 }
      const { cache, stream, state } = yield* setup(options)
      yield* Effect.forkScoped(Effect.forever(heartbeat(stream)))
      yield* Effect.sleep("10 millis")
      yield* cache.gateway.authorize(tokenA, Option.some(agentA))
      yield* Effect.sleep("150 millis")
      // (token, agent) asks auth and is held there; meanwhile the token alone is refused by auth
      // (revoked through another auth instance, its notice not here yet).
      const held = yield* Deferred.make<void>()
      state.gate = held
      const inFlight = yield* Effect.fork(Effect.either(cache.gateway.authorize(tokenA, Option.some(agentA))))
      yield* Effect.sleep("10 millis")
      state.gate = undefined
      state.revoked.add(Redacted.value(tokenA))
      const refused = yield* Effect.either(cache.gateway.authorize(tokenA, Option.none()))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("InvalidToken")
      // The held lookup then gets no answer: the entry must not answer for it.
      state.degradeAfterGate = true
      yield* Deferred.succeed(held, undefined)
      const answer = yield* Fiber.join(inFlight)
      expect(Either.isLeft(answer) && answer.left._tag).toBe("ServiceDegraded")
      expect(cache.stats().staleAnswers).toBe(0)
    })
  )
})
