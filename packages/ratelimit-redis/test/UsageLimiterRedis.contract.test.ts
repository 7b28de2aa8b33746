import { UsageLedger, type UsageLedgerShape } from "@ibex/domain"
import { usageLimiterContract } from "@ibex/testkit/contracts"
import { describeRealInfra } from "@ibex/testkit/infra"
import { Effect } from "effect"
import { it } from "vitest"
import { makeRateLimiterRedis } from "../src/index.js"
import { deletePrefix, redisAvailable, skipReason, throwawayRedis } from "./redisTestSupport.js"

/** The UsageLimiter contract on real Redis: two adapter instances (two proxies) on one server; losing the counts deletes the keys. */
const pair = (ledger: UsageLedgerShape) =>
  Effect.gen(function* () {
    const backend = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        if (process.env.REDIS_URL !== undefined) return { url: process.env.REDIS_URL, stop: async () => {} }
        return throwawayRedis()
      }),
      (b) => Effect.promise(() => b.stop())
    )
    const keyPrefix = `ibex:usage:test:${crypto.randomUUID()}:`
    yield* Effect.addFinalizer(() => Effect.promise(() => deletePrefix(backend.url, keyPrefix)))
    const options = { url: backend.url, keyPrefix, commandTimeoutMs: 250 }
    const a = yield* makeRateLimiterRedis(options).pipe(Effect.provideService(UsageLedger, ledger))
    const b = yield* makeRateLimiterRedis(options).pipe(Effect.provideService(UsageLedger, ledger))
    return { a: a.usage, b: b.usage, lose: Effect.promise(() => deletePrefix(backend.url, keyPrefix)) }
  })

if (redisAvailable) usageLimiterContract("redis", pair)
else
  describeRealInfra(false, skipReason)("UsageLimiter contract [redis]", () => {
    it(skipReason, () => {})
  })
