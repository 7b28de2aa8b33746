import { describe, expect, it } from "@effect/vitest"
import { type OrgId, perMinute } from "@ibex/domain"
import { describeRealInfra } from "@ibex/testkit/infra"
import { Effect, Either } from "effect"
import { Redis } from "ioredis"
import { GCRA_LUA, GCRA_SHA, makeCircuitBreaker, makeRateLimiterRedis, rateLimitKey } from "../src/index.js"
import { redisServerBinary, throwawayRedis } from "./redisTestSupport.js"

const org = () => crypto.randomUUID() as OrgId

describe("CircuitBreaker", () => {
  it("opens after N consecutive failures, half-opens one probe after the cool-down, closes on success", () => {
    let now = 0
    const b = makeCircuitBreaker({ failureThreshold: 3, cooldownMs: 100, now: () => now })
    b.onFailure()
    b.onSuccess()
    b.onFailure()
    b.onFailure()
    expect(b.state()).toBe("closed")
    b.onFailure()
    expect(b.state()).toBe("open")
    expect(b.tryAcquire()).toBe(false)
    now = 100
    expect(b.tryAcquire()).toBe(true)
    expect(b.state()).toBe("half-open")
    expect(b.tryAcquire(), "only one probe at a time").toBe(false)
    b.onFailure()
    expect(b.state()).toBe("open")
    now = 150
    expect(b.tryAcquire()).toBe(false)
    now = 200
    expect(b.tryAcquire()).toBe(true)
    b.onSuccess()
    expect(b.state()).toBe("closed")
    expect(b.tryAcquire()).toBe(true)
  })
})

describe("rateLimitKey", () => {
  it("hash-tags the org so the key maps to one Redis Cluster slot", () => {
    expect(rateLimitKey("ibex:rl:", "0190a0b0-0000-7000-8000-000000000001")).toBe(
      "ibex:rl:{0190a0b0-0000-7000-8000-000000000001}"
    )
  })
})

const suite = describeRealInfra(redisServerBinary !== undefined, "no redis-server binary on PATH")

suite("RateLimiterRedis against a throwaway redis-server", () => {
  it.scopedLive("stores the TAT under the hash-tagged key with a TTL no longer than the window", () =>
    Effect.gen(function* () {
      const redis = yield* Effect.acquireRelease(
        Effect.promise(() => throwawayRedis()),
        (r) => Effect.promise(() => r.stop())
      )
      const keyPrefix = "ibex:rl:"
      const limiter = yield* makeRateLimiterRedis({ url: redis.url, keyPrefix })
      const id = org()
      const d = yield* limiter.consume(id, perMinute(60))
      expect(d).toMatchObject({ allowed: true, limit: 60, remaining: 59, retryAfterMs: 0 })
      const c = new Redis(redis.url)
      try {
        const ttl = yield* Effect.promise(() => c.pttl(`ibex:rl:{${id}}`))
        expect(ttl).toBeGreaterThan(0)
        expect(ttl).toBeLessThanOrEqual(60_000)
        const slotA = yield* Effect.promise(() => c.call("CLUSTER", "KEYSLOT", `ibex:rl:{${id}}`).catch(() => null))
        // CLUSTER KEYSLOT needs cluster mode on some builds; when it answers, the slot is the org's.
        if (slotA !== null) expect(slotA).toBe(yield* Effect.promise(() => c.call("CLUSTER", "KEYSLOT", id)))
      } finally {
        c.disconnect()
      }
    })
  )

  it.scopedLive("reloads the script on NOSCRIPT (SCRIPT FLUSH) transparently", () =>
    Effect.gen(function* () {
      const redis = yield* Effect.acquireRelease(
        Effect.promise(() => throwawayRedis()),
        (r) => Effect.promise(() => r.stop())
      )
      const limiter = yield* makeRateLimiterRedis({ url: redis.url })
      const id = org()
      expect((yield* limiter.consume(id, perMinute(3))).remaining).toBe(2)
      const c = new Redis(redis.url)
      yield* Effect.promise(() => c.script("FLUSH"))
      expect(yield* Effect.promise(() => c.script("EXISTS", GCRA_SHA))).toEqual([0])
      expect((yield* limiter.consume(id, perMinute(3))).remaining).toBe(1)
      expect(yield* Effect.promise(() => c.script("EXISTS", GCRA_SHA))).toEqual([1])
      c.disconnect()
      expect(GCRA_LUA).toContain("redis.call('TIME')")
    })
  )

  it.scopedLive(
    "redis-server killed → fails fast (breaker); restarted on the same port → limits resume without a restart",
    () =>
      Effect.gen(function* () {
        const redis = yield* Effect.acquireRelease(
          Effect.promise(() => throwawayRedis()),
          (r) => Effect.promise(() => r.stop())
        )
        const limiter = yield* makeRateLimiterRedis({ url: redis.url, cooldownMs: 200 })
        const id = org()
        expect((yield* limiter.consume(id, perMinute(2))).allowed).toBe(true)
        expect(yield* limiter.ping).toBe(true)
        yield* Effect.promise(() => redis.stop())
        const started = performance.now()
        for (let i = 0; i < 50; i++) {
          const r = yield* Effect.either(limiter.consume(id, perMinute(2)))
          expect(Either.isLeft(r)).toBe(true)
        }
        expect(performance.now() - started).toBeLessThan(500)
        expect(limiter.circuit()).toBe("open")
        expect(yield* limiter.ping).toBe(false)
        yield* Effect.promise(() => redis.start())
        // The restarted server has an empty script cache: the first call takes the NOSCRIPT path.
        let decided = false
        for (let i = 0; i < 200 && !decided; i++) {
          decided = Either.isRight(yield* Effect.either(limiter.consume(id, perMinute(2))))
          if (!decided) yield* Effect.sleep("25 millis")
        }
        expect(decided).toBe(true)
        expect(limiter.circuit()).toBe("closed")
        // Redis restarted empty (no persistence): 1 used just now, 1 left, then denied.
        expect((yield* limiter.consume(id, perMinute(2))).allowed).toBe(true)
        expect((yield* limiter.consume(id, perMinute(2))).allowed).toBe(false)
      })
  )
})
