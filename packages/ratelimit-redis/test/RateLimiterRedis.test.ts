import { describe, expect, it } from "@effect/vitest"
import { type OrgId, perMinute } from "@ibex/domain"
import { describeRealInfra } from "@ibex/testkit/infra"
import { Effect, Either } from "effect"
import fc from "fast-check"
import { Redis } from "ioredis"
import {
  GCRA_LUA,
  GCRA_SHA,
  makeCircuitBreaker,
  makeRateLimiterRedis,
  type RedisLike,
  rateLimitKey
} from "../src/index.js"
import { clusterKeySlot, crc16, noLedger, redisServerBinary, throwawayRedis } from "./redisTestSupport.js"

const org = () => crypto.randomUUID() as OrgId

/** A real client that counts the limiter's script calls and the units Redis granted. */
const countingClient = (redis: Redis) => {
  const stats = { calls: 0, granted: 0 }
  const client: RedisLike = {
    evalsha: async (sha, numKeys, ...args) => {
      stats.calls++
      const reply = await redis.evalsha(sha, numKeys, ...args)
      if (Array.isArray(reply) && Number(reply[0]) === 1) stats.granted += Number(reply[4] ?? 1)
      return reply
    },
    get: (key) => redis.get(key),
    hget: (key, field) => redis.hget(key, field),
    script: (subcommand, script) => redis.script(subcommand, script),
    ping: () => redis.ping()
  }
  return { client, stats }
}

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

  it("tells an outage's start and end once each, not each probe between", () => {
    let now = 0
    const changes: Array<string> = []
    const b = makeCircuitBreaker({
      failureThreshold: 2,
      cooldownMs: 100,
      now: () => now,
      onChange: (s) => changes.push(s)
    })
    b.onFailure()
    b.onFailure()
    for (let i = 1; i <= 3; i++) {
      now = i * 100
      expect(b.tryAcquire()).toBe(true)
      b.onFailure()
    }
    expect(changes).toEqual(["open"])
    now = 400
    b.tryAcquire()
    b.onSuccess()
    b.onSuccess()
    expect(changes).toEqual(["open", "closed"])
  })
})

describe("rateLimitKey", () => {
  it("hash-tags the org so the key maps to one Redis Cluster slot", () => {
    expect(rateLimitKey("ibex:rl:", "0190a0b0-0000-7000-8000-000000000001")).toBe(
      "ibex:rl:{0190a0b0-0000-7000-8000-000000000001}"
    )
  })

  it("the slot computation matches Redis Cluster's published values", () => {
    // The cluster specification's CRC16 check value, and CLUSTER KEYSLOT answers of redis-server
    // 7.0 in cluster mode (the first two are also the examples in Redis's documentation).
    expect(crc16(Buffer.from("123456789"))).toBe(0x31c3)
    expect(clusterKeySlot("somekey")).toBe(11058)
    expect(clusterKeySlot("foo{hash_tag}")).toBe(2515)
    expect(clusterKeySlot("a{}b"), "an empty tag hashes the whole key").toBe(13694)
    expect(clusterKeySlot("ibex:rl:{0190a0b0-0000-7000-8000-000000000001}")).toBe(11928)
  })

  it("every org's key lands on its org id's slot, whatever the (brace-free) prefix", () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.string({ maxLength: 24 }).filter((p) => !p.includes("{") && !p.includes("}")),
        (id, prefix) => {
          expect(clusterKeySlot(rateLimitKey(prefix, id))).toBe(clusterKeySlot(id))
          expect(clusterKeySlot(rateLimitKey(`${prefix}other:`, id))).toBe(clusterKeySlot(id))
        }
      )
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
      const limiter = yield* makeRateLimiterRedis({ url: redis.url, keyPrefix }).pipe(noLedger)
      const id = org()
      const d = yield* limiter.consume(id, perMinute(60))
      expect(d).toMatchObject({ allowed: true, limit: 60, remaining: 59, retryAfterMs: 0 })
      const c = new Redis(redis.url)
      try {
        // The key the limiter writes, as rateLimitKey builds it.
        const key = rateLimitKey(keyPrefix, id)
        const ttl = yield* Effect.promise(() => c.pttl(key))
        expect(ttl).toBeGreaterThan(0)
        expect(ttl).toBeLessThanOrEqual(60_000)
        // The stored key's Cluster slot is the org id's slot (its hash tag), computed here as the
        // cluster specification does, so it is checked on a Redis without cluster mode too.
        expect(clusterKeySlot(key), "the key's slot is its org id's slot").toBe(clusterKeySlot(id))
        // A Redis in cluster mode answers CLUSTER KEYSLOT, and must then agree; this one may not.
        const answered = yield* Effect.promise(() => c.call("CLUSTER", "KEYSLOT", key).catch(() => null))
        if (answered !== null) expect(answered).toBe(clusterKeySlot(id))
      } finally {
        c.disconnect()
      }
    })
  )

  it.scopedLive("CLUSTER KEYSLOT of a cluster-mode redis-server agrees with the computed slot", () =>
    Effect.gen(function* () {
      const redis = yield* Effect.acquireRelease(
        Effect.promise(() => throwawayRedis({ cluster: true })),
        (r) => Effect.promise(() => r.stop())
      )
      const c = new Redis(redis.url)
      try {
        const keys = ["somekey", "foo{hash_tag}", "a{}b", "{", "}{x}", "x{y}{z}", "\u00e9t\u00e9{\u00e9}"]
        for (let i = 0; i < 40; i++) keys.push(rateLimitKey(`ibex:rl:${i}:`, crypto.randomUUID()))
        for (const key of keys)
          expect(yield* Effect.promise(() => c.call("CLUSTER", "KEYSLOT", key)), key).toBe(clusterKeySlot(key))
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
      const limiter = yield* makeRateLimiterRedis({ url: redis.url }).pipe(noLedger)
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
    "a busy event loop never fails a healthy Redis open: every decision is counted, none over the limit",
    () =>
      Effect.gen(function* () {
        const redis = yield* Effect.acquireRelease(
          Effect.promise(() => throwawayRedis()),
          (r) => Effect.promise(() => r.stop())
        )
        const limiter = yield* makeRateLimiterRedis({ url: redis.url }).pipe(noLedger)
        const id = org()
        const limit = 100
        for (let round = 0; round < 3; round++) {
          const fibers = yield* Effect.forEach(
            Array.from({ length: 150 }),
            () => Effect.fork(Effect.either(limiter.consume(id, perMinute(limit)))),
            { concurrency: "unbounded" }
          )
          // The commands are on the wire; hold the event loop far past the 25 ms budget, as a
          // proxy under load does. Redis answers meanwhile; the replies wait in the socket.
          const until = performance.now() + 120
          while (performance.now() < until) {
            /* busy */
          }
          const results = yield* Effect.forEach(fibers, (f) => f.await.pipe(Effect.flatten))
          const failedOpen = results.filter(Either.isLeft).length
          expect(failedOpen, "decisions failed open on a healthy Redis").toBe(0)
          if (round === 0) {
            const admitted = results.filter((r) => Either.isRight(r) && r.right.allowed).length
            // 150 requests inside ~0.2 s of a 100/min budget: exactly 100 admitted (+1 refill per 600 ms).
            expect(admitted).toBe(limit)
          }
        }
        expect(limiter.circuit()).toBe("closed")
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
        const limiter = yield* makeRateLimiterRedis({ url: redis.url, cooldownMs: 200 }).pipe(noLedger)
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

  it.scopedLive("a grant takes what the burst still holds, never more, and the first unit is judged as before", () =>
    Effect.gen(function* () {
      const redis = yield* Effect.acquireRelease(
        Effect.promise(() => throwawayRedis()),
        (r) => Effect.promise(() => r.stop())
      )
      const c = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(redis.url)),
        (r) => Effect.sync(() => r.disconnect())
      )
      yield* Effect.promise(() => c.script("LOAD", GCRA_LUA))
      // 100 an hour: one unit comes back every 36 s, so nothing refills while the test runs.
      const limit = 100
      const windowMs = 3_600_000
      const key = rateLimitKey("ibex:rl:", org())
      const call = (want: number) =>
        Effect.promise(() => c.evalsha(GCRA_SHA, 1, key, limit, windowMs, want)).pipe(
          Effect.map((reply) => (reply as Array<number>).map(Number))
        )
      expect((yield* call(95))[4], "a fresh key: 95 of 100").toBe(95)
      const [allowed, remaining, , , granted] = yield* call(8)
      expect([allowed, remaining, granted], "5 were left: 5 granted, none remaining").toEqual([1, 0, 5])
      const refused = yield* call(8)
      expect(refused[0]).toBe(0)
      expect(refused[3], "retry after about one interval").toBeGreaterThan(30_000)
      expect(yield* Effect.promise(() => c.evalsha(GCRA_SHA, 1, key, limit, windowMs)), "no ARGV[3]: one unit").toEqual(
        [0, 0, expect.any(Number), expect.any(Number), 0]
      )
    })
  )

  it.scopedLive("leases: two limiters at concurrency admit only what Redis granted, in far fewer script calls", () =>
    Effect.gen(function* () {
      const redis = yield* Effect.acquireRelease(
        Effect.promise(() => throwawayRedis()),
        (r) => Effect.promise(() => r.stop())
      )
      const connect = Effect.acquireRelease(
        Effect.sync(() => new Redis(redis.url)),
        (r) => Effect.sync(() => r.disconnect())
      ).pipe(Effect.map(countingClient))
      const a = yield* connect
      const b = yield* connect
      const limiterA = yield* makeRateLimiterRedis({ client: a.client }).pipe(noLedger)
      const limiterB = yield* makeRateLimiterRedis({ client: b.client }).pipe(noLedger)
      const id = org()
      // 1,000,000 a minute: 16 units a grant (one millisecond of the org's rate).
      const policy = perMinute(1_000_000)
      const requests = 4_000
      const decisions = yield* Effect.forEach(
        Array.from({ length: requests }, (_, i) => i),
        (i) => (i % 2 === 0 ? limiterA : limiterB).consume(id, policy),
        { concurrency: 128 }
      )
      const admitted = decisions.filter((d) => d.allowed).length
      expect(admitted, "far from the limit: every request admitted").toBe(requests)
      const granted = a.stats.granted + b.stats.granted
      expect(granted, "every admission was counted in Redis first").toBeGreaterThanOrEqual(admitted)
      // What is left unused: at most two generations of 16 per limiter.
      expect(granted - admitted).toBeLessThanOrEqual(2 * 2 * 16)
      expect(a.stats.calls + b.stats.calls, "leases: a script call per several requests").toBeLessThan(requests / 4)
      expect(limiterA.circuit()).toBe("closed")

      // An ordinary limit never leases: one script call per request, as before.
      const before = a.stats.calls
      for (let i = 0; i < 20; i++) yield* limiterA.consume(id, perMinute(100_000))
      expect(a.stats.calls - before).toBe(20)
    })
  )
})
