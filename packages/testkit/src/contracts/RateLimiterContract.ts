import { expect, layer } from "@effect/vitest"
import {
  type OrgId,
  type RateLimitDecision,
  RateLimiter,
  type RateLimiterShape,
  type RateLimiterUnavailable,
  type RateLimitPolicy,
  resetUnixSeconds,
  retryAfterSeconds,
  uuidFromBytes
} from "@ibex/domain"
import { Context, Effect, Either, type Layer, type Scope } from "effect"

/**
 * What the RateLimiter contract needs beyond the port: a way to take the backend away and
 * bring it back (a stopped Redis, a toggle in memory), and a second independent adapter
 * instance on the same backend (a second proxy process).
 */
export interface RateLimiterControlShape {
  /** The backend becomes unreachable (connection refused), as when Redis is stopped. */
  readonly stop: Effect.Effect<void>
  /** The backend is reachable again at the same address. The adapter must recover by itself. */
  readonly start: Effect.Effect<void>
  /** A second adapter instance with its own connection to the same backend. */
  readonly newInstance: Effect.Effect<RateLimiterShape, never, Scope.Scope>
}

export class RateLimiterControl extends Context.Tag("@ibex/testkit/RateLimiterControl")<
  RateLimiterControl,
  RateLimiterControlShape
>() {}

const newOrg = () => uuidFromBytes(crypto.getRandomValues(new Uint8Array(16)), 4) as OrgId

const policy = (limit: number, windowMs = 60_000): RateLimitPolicy => ({ limit, windowMs })

const consume = (orgId: OrgId, p: RateLimitPolicy) => Effect.flatMap(RateLimiter, (l) => l.consume(orgId, p))

/**
 * `consumeNow` as an Effect, for the rows that hold it to `consume`'s rules. An adapter without
 * it fails these rows: both adapters offer it, and the proxy's warm path relies on it.
 */
const consumeNowOf = (limiter: RateLimiterShape, orgId: OrgId, p: RateLimitPolicy) =>
  Effect.async<RateLimitDecision, RateLimiterUnavailable>((resume) => {
    if (limiter.consumeNow === undefined) return resume(Effect.die("this adapter offers no consumeNow"))
    let calls = 0
    limiter.consumeNow(orgId, p, (result) => {
      calls++
      if (calls > 1) throw new Error("consumeNow called back twice")
      resume(result)
    })
  })

/** `m` decisions at once for a new org, alternating between the layer's instance and a second one on the same backend. */
const onTwoInstances = (
  limit: number,
  m: number,
  decide: (
    instance: RateLimiterShape,
    i: number,
    org: OrgId,
    p: RateLimitPolicy
  ) => Effect.Effect<RateLimitDecision, RateLimiterUnavailable>
) =>
  Effect.gen(function* () {
    const control = yield* RateLimiterControl
    const instances = [yield* RateLimiter, yield* control.newInstance] as const
    const org = newOrg()
    const p = policy(limit)
    return yield* Effect.forEach(
      Array.from({ length: m }, (_, i) => i),
      (i) => decide(instances[i % 2] as RateLimiterShape, i, org, p),
      { concurrency: "unbounded" }
    )
  })

/** Exactly `limit` admitted, with Remaining limit − 1 … 0 each once. */
const expectExactlyAdmitted = (decisions: ReadonlyArray<RateLimitDecision>, limit: number) => {
  const admitted = decisions.filter((d) => d.allowed)
  expect(admitted).toHaveLength(limit)
  expect(admitted.map((d) => d.remaining).sort((x, y) => x - y)).toEqual(Array.from({ length: limit }, (_, i) => i))
}

/** Consume `n` times in sequence, returning the decisions. */
const consumeN = (orgId: OrgId, p: RateLimitPolicy, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => consume(orgId, p))

/** Retries `effect` until `done` holds or `timeoutMs` elapses; returns whether it held. */
const eventually = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (a: Either.Either<A, E>) => boolean,
  timeoutMs: number
) =>
  Effect.gen(function* () {
    const until = Date.now() + timeoutMs
    while (Date.now() < until) {
      const r = yield* Effect.either(effect)
      if (done(r)) return true
      yield* Effect.sleep("25 millis")
    }
    return false
  })

/**
 * The RateLimiter contract, written once and run over every adapter (memory, Redis). Real
 * clock throughout (`excludeTestServices`): the Redis adapter reads Redis's clock.
 */
export const rateLimiterContract = <E>(name: string, services: Layer.Layer<RateLimiter | RateLimiterControl, E>) =>
  layer(services, { excludeTestServices: true, timeout: "60 seconds" })(`RateLimiter contract [${name}]`, (it) => {
    it.effect("admits a full burst of `limit`, Remaining decrements to 0, then denies with retry-after and reset", () =>
      Effect.gen(function* () {
        const org = newOrg()
        const p = policy(5)
        const before = Date.now()
        const decisions = yield* consumeN(org, p, 5)
        expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true])
        expect(decisions.map((d) => d.remaining)).toEqual([4, 3, 2, 1, 0])
        for (const d of decisions) {
          expect(d.limit).toBe(5)
          expect(d.retryAfterMs).toBe(0)
          expect(d.resetAtMs).toBeGreaterThan(before)
          expect(d.resetAtMs).toBeLessThanOrEqual(Date.now() + 60_000 + 50)
        }
        const denied = yield* consume(org, p)
        const after = Date.now()
        expect(denied.allowed).toBe(false)
        expect(denied.remaining).toBe(0)
        expect(denied.limit).toBe(5)
        // One slot frees every window / limit = 12 s.
        expect(denied.retryAfterMs).toBeGreaterThan(11_000)
        expect(denied.retryAfterMs).toBeLessThanOrEqual(12_000)
        expect(retryAfterSeconds(denied)).toBeGreaterThanOrEqual(1)
        expect(retryAfterSeconds(denied)).toBeLessThanOrEqual(12)
        expect(denied.resetAtMs).toBeGreaterThan(after)
        expect(resetUnixSeconds(denied) - after / 1000).toBeLessThanOrEqual(61)
      })
    )

    it.effect("a denied request consumes nothing: the slot is free after retry-after", () =>
      Effect.gen(function* () {
        const org = newOrg()
        const p = policy(2, 400)
        const first = yield* consumeN(org, p, 2)
        expect(first.every((d) => d.allowed)).toBe(true)
        const denied = yield* consume(org, p)
        expect(denied.allowed).toBe(false)
        expect(denied.retryAfterMs).toBeLessThanOrEqual(200)
        // Hammering while denied must not push the reset further out.
        for (let i = 0; i < 5; i++) expect((yield* consume(org, p)).allowed).toBe(false)
        yield* Effect.sleep(`${denied.retryAfterMs + 30} millis`)
        expect((yield* consume(org, p)).allowed).toBe(true)
      })
    )

    it.effect("one org's exhaustion leaves another org untouched", () =>
      Effect.gen(function* () {
        const a = newOrg()
        const b = newOrg()
        const p = policy(3)
        yield* consumeN(a, p, 3)
        expect((yield* consume(a, p)).allowed).toBe(false)
        const other = yield* consume(b, p)
        expect(other.allowed).toBe(true)
        expect(other.remaining).toBe(2)
      })
    )

    it.effect("the limit comes from the caller's policy (the org record), per call", () =>
      Effect.gen(function* () {
        const org = newOrg()
        const d = yield* consume(org, policy(100))
        expect(d.limit).toBe(100)
        expect(d.remaining).toBe(99)
        const small = newOrg()
        const s = yield* consume(small, policy(1))
        expect(s).toMatchObject({ allowed: true, limit: 1, remaining: 0 })
        expect((yield* consume(small, policy(1))).allowed).toBe(false)
      })
    )

    it.scoped("two instances on one backend admit exactly N of M concurrent requests", () =>
      Effect.gen(function* () {
        const decisions = yield* onTwoInstances(10, 40, (instance, _i, org, p) => instance.consume(org, p))
        expectExactlyAdmitted(decisions, 10)
        expect(decisions.filter((d) => !d.allowed)).toHaveLength(30)
      })
    )

    it.scoped(
      "consumeNow counts with consume: N of M concurrent calls, mixed across both methods and two instances",
      () =>
        Effect.gen(function* () {
          const decisions = yield* onTwoInstances(12, 48, (instance, i, org, p) =>
            i % 3 === 0 ? instance.consume(org, p) : consumeNowOf(instance, org, p)
          )
          expectExactlyAdmitted(decisions, 12)
          const denied = decisions.find((d) => !d.allowed)
          expect(denied?.retryAfterMs).toBeGreaterThan(0)
        })
    )

    it.effect("no 2x burst across a window boundary: half a window after a full burst, about half the limit", () =>
      Effect.gen(function* () {
        const org = newOrg()
        const p = policy(10, 1_000)
        const burst = yield* consumeN(org, p, 12)
        expect(burst.filter((d) => d.allowed)).toHaveLength(10)
        yield* Effect.sleep("500 millis")
        const next = yield* consumeN(org, p, 10)
        const admitted = next.filter((d) => d.allowed).length
        // A fixed window aligned at the boundary would admit all 10 here.
        expect(admitted).toBeGreaterThanOrEqual(4)
        expect(admitted).toBeLessThanOrEqual(6)
      })
    )

    it.effect("backend stopped → RateLimiterUnavailable fast (the proxy fails open); back → limits resume", () =>
      Effect.gen(function* () {
        const control = yield* RateLimiterControl
        const org = newOrg()
        const p = policy(2)
        expect((yield* consume(org, p)).allowed).toBe(true)
        yield* control.stop
        try {
          const started = performance.now()
          for (let i = 0; i < 30; i++) {
            const t = performance.now()
            const r = yield* Effect.either(consume(org, p))
            expect(Either.isLeft(r), "no invented decision while the backend is down").toBe(true)
            if (Either.isLeft(r)) expect(r.left._tag).toBe("RateLimiterUnavailable")
            expect(performance.now() - t, "each call fails within the budget").toBeLessThan(100)
          }
          expect(performance.now() - started, "a dead backend costs ~nothing per call").toBeLessThan(600)
        } finally {
          yield* control.start
        }
        // consumeNow while the backend is down: the same failure, once, not an invented decision.
        yield* control.stop
        try {
          const limiter = yield* RateLimiter
          const now = yield* Effect.either(consumeNowOf(limiter, org, p))
          expect(Either.isLeft(now) && now.left._tag).toBe("RateLimiterUnavailable")
        } finally {
          yield* control.start
        }
        const back = yield* eventually(consume(org, p), Either.isRight, 10_000)
        expect(back, "decisions resume without a restart").toBe(true)
        const denied = yield* eventually(consume(org, p), (r) => Either.isRight(r) && !r.right.allowed, 2_000)
        expect(denied, "the limit applies again").toBe(true)
      })
    )
  })
