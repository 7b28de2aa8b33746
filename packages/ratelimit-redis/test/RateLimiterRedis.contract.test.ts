import { RateLimiter } from "@ibex/domain"
import { RateLimiterControl, rateLimiterContract } from "@ibex/testkit/contracts"
import { describeRealInfra } from "@ibex/testkit/infra"
import { Context, Effect, Layer } from "effect"
import { it } from "vitest"
import { makeRateLimiterRedis } from "../src/index.js"
import {
  deletePrefix,
  noLedger,
  redisAvailable,
  redisFaultProxy,
  skipReason,
  throwawayRedis
} from "./redisTestSupport.js"

/**
 * The RateLimiter contract on real Redis: REDIS_URL when set (CI), else a throwaway
 * redis-server. A TCP fault proxy sits in front so "Redis stopped" can be played without
 * stopping the Redis other suites share.
 */
const backendUrl = Effect.acquireRelease(
  Effect.promise(async () => {
    if (process.env.REDIS_URL !== undefined) return { url: process.env.REDIS_URL, stop: async () => {} }
    const r = await throwawayRedis()
    return { url: r.url, stop: r.stop }
  }),
  (b) => Effect.promise(() => b.stop())
)

const RedisUnderTest = Layer.scopedContext(
  Effect.gen(function* () {
    const backend = yield* backendUrl
    const keyPrefix = `ibex:rl:test:${crypto.randomUUID()}:`
    yield* Effect.addFinalizer(() => Effect.promise(() => deletePrefix(backend.url, keyPrefix)))
    const proxy = yield* Effect.acquireRelease(
      Effect.promise(() => redisFaultProxy(backend.url)),
      (p) => Effect.promise(() => p.close())
    )
    // The contract checks decisions, not latency: a 250 ms budget keeps it deterministic on a
    // loaded CI box. The production budget (25 ms) is exercised in RateLimiterRedis.test.ts.
    const options = { url: proxy.url, keyPrefix, commandTimeoutMs: 250 }
    const limiter = yield* makeRateLimiterRedis(options).pipe(noLedger)
    const control = RateLimiterControl.of({
      stop: Effect.promise(() => proxy.stop()),
      start: Effect.promise(() => proxy.start()),
      newInstance: Effect.map(makeRateLimiterRedis(options).pipe(noLedger), (l) =>
        RateLimiter.of({ consume: l.consume, consumeNow: l.consumeNow })
      )
    })
    return Context.make(RateLimiter, RateLimiter.of({ consume: limiter.consume, consumeNow: limiter.consumeNow })).pipe(
      Context.add(RateLimiterControl, control)
    )
  })
)

if (redisAvailable) rateLimiterContract("redis", RedisUnderTest)
else
  describeRealInfra(false, skipReason)("RateLimiter contract [redis]", () => {
    it(skipReason, () => {})
  })
