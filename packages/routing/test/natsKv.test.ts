import { describe, expect, it } from "@effect/vitest"
import { Routing } from "@ibex/domain"
import { routingSourceContract } from "@ibex/testkit/contracts"
import { faultProxy, freePort } from "@ibex/testkit/faults"
import { describeRealInfra } from "@ibex/testkit/infra"
import { Cause, Context, Effect, Exit, Layer, Logger, Option } from "effect"
import { connect } from "nats"
import { RoutingNatsKvLive, type RoutingNatsKvOptions, writeRoutingToNatsKv } from "../src/index.js"

/**
 * The routing source contract on a real NATS JetStream KV (NATS_URL, else the local server).
 * Every source gets a bucket of its own, destroyed with it.
 */
const url = process.env.NATS_URL ?? "nats://127.0.0.1:4222"
const natsAvailable = await connect({ servers: url, timeout: 1_000, maxReconnectAttempts: 0 }).then(
  (nc) => nc.close().then(() => true),
  () => false
)
const skipReason = `NATS routing suite skipped: no NATS server at ${url}`

const runId = crypto.randomUUID().slice(0, 8)
let buckets = 0
const KEY = "routes"

/** A fresh bucket holding `text` under KEY, a writer connection to change it, and its removal. */
const newBucket = async (text: string | undefined) => {
  const bucket = `ibex_routing_test_${runId}_${buckets++}`
  const nc = await connect({ servers: url })
  const kv = await nc.jetstream().views.kv(bucket, { history: 1 })
  if (text !== undefined) await kv.put(KEY, text)
  return {
    bucket,
    kv,
    cleanup: async () => {
      await kv.destroy().catch(() => false)
      await nc.close()
    }
  }
}

const env = (name: string) => (name === "LOCAL_KEY" ? "k" : undefined)
const config = (models: ReadonlyArray<string>) =>
  JSON.stringify({
    providers: [{ id: "local", kind: "openai", base_url: "http://127.0.0.1:9000/v1", api_key_env: "LOCAL_KEY" }],
    models: models.map((name) => ({ name, targets: [{ provider: "local", model: name }] }))
  })

const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

const routingOf = (options: Omit<RoutingNatsKvOptions, "env">) =>
  Layer.build(RoutingNatsKvLive({ env, ...options })).pipe(
    Effect.map((ctx) => Context.get(ctx, Routing)),
    Effect.provide(quiet)
  )

const startupFailure = (options: Omit<RoutingNatsKvOptions, "env">) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(Effect.scoped(routingOf(options)))
    return Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
  })

const bucketFor = (text: string | undefined) =>
  Effect.acquireRelease(
    Effect.promise(() => newBucket(text)),
    (b) => Effect.promise(() => b.cleanup())
  )

const modelsWithin = (routing: Context.Tag.Service<Routing>, expected: ReadonlyArray<string>, timeoutMs: number) =>
  Effect.gen(function* () {
    const until = Date.now() + timeoutMs
    for (;;) {
      const names = [...(yield* routing.table).models.keys()]
      if (JSON.stringify(names) === JSON.stringify(expected)) return
      if (Date.now() > until)
        return yield* Effect.dieMessage(`models ${JSON.stringify(expected)} not within ${timeoutMs} ms`)
      yield* Effect.sleep("20 millis")
    }
  })

describeRealInfra(natsAvailable, skipReason)("routing from NATS KV", () => {
  routingSourceContract("nats-kv", {
    start: async ({ text, env }) => {
      const b = await newBucket(undefined)
      // The first write goes through the exported writer, as the CLI's would.
      await Effect.runPromise(writeRoutingToNatsKv({ servers: url, bucket: b.bucket, key: KEY }, text))
      return {
        layer: RoutingNatsKvLive({ servers: url, bucket: b.bucket, key: KEY, env }),
        write: async (next) => {
          await b.kv.put(KEY, next)
        },
        remove: () => b.kv.delete(KEY),
        cleanup: b.cleanup
      }
    }
  })

  describe("RoutingNatsKvLive", () => {
    it.scopedLive("startup fails when the key does not exist", () =>
      Effect.gen(function* () {
        const b = yield* bucketFor(undefined)
        const failure = yield* startupFailure({ servers: url, bucket: b.bucket, key: KEY })
        expect(failure?._tag).toBe("RoutingLoadFailed")
        expect(failure?.source).toBe(`nats-kv:${b.bucket}/${KEY}`)
        expect(failure?.errors.map((e) => e.message)).toEqual([expect.stringContaining("does not exist")])
      })
    )

    it.scopedLive("startup fails when the key was deleted", () =>
      Effect.gen(function* () {
        const b = yield* bucketFor(config(["a"]))
        yield* Effect.promise(() => b.kv.delete(KEY))
        const failure = yield* startupFailure({ servers: url, bucket: b.bucket, key: KEY })
        expect(failure?.errors.map((e) => e.message)).toEqual([expect.stringContaining("was deleted")])
      })
    )

    it.scopedLive("startup fails when the bucket does not exist (and is not created)", () =>
      Effect.gen(function* () {
        const failure = yield* startupFailure({ servers: url, bucket: `ibex_routing_absent_${runId}`, key: KEY })
        expect(failure?.errors.map((e) => e.message)).toEqual([expect.stringContaining("cannot open KV bucket")])
      })
    )

    it.scopedLive("startup fails when NATS is unreachable", () =>
      Effect.gen(function* () {
        const port = yield* Effect.promise(freePort)
        const failure = yield* startupFailure({ servers: `nats://127.0.0.1:${port}`, bucket: "b", key: KEY })
        expect(failure?._tag).toBe("RoutingLoadFailed")
        expect(failure?.errors.map((e) => e.message)).toEqual([expect.stringContaining("cannot connect to NATS")])
      })
    )

    it.scopedLive("a purged key keeps the last good table and counts as rejected", () =>
      Effect.gen(function* () {
        const b = yield* bucketFor(config(["a"]))
        const routing = yield* routingOf({ servers: url, bucket: b.bucket, key: KEY })
        yield* Effect.promise(() => b.kv.purge(KEY))
        yield* Effect.sleep("300 millis")
        const status = yield* routing.status
        expect(status.rejected).toBe(1)
        expect(Option.getOrThrow(status.lastError).errors[0]?.message).toContain("was deleted")
        yield* modelsWithin(routing, ["a"], 0)
      })
    )

    it.scopedLive(
      "after a reconnect the watch resumes, and an update made while disconnected is applied",
      () =>
        Effect.gen(function* () {
          const b = yield* bucketFor(config(["a"]))
          const proxy = yield* Effect.acquireRelease(
            Effect.promise(() => faultProxy("127.0.0.1", Number(new URL(url).port || 4222))),
            (p) => Effect.promise(() => p.close())
          )
          const routing = yield* routingOf({ servers: `nats://127.0.0.1:${proxy.port}`, bucket: b.bucket, key: KEY })
          // The watch is up (an update got through) before the connection is cut.
          yield* Effect.promise(() => b.kv.put(KEY, config(["watching"])))
          yield* modelsWithin(routing, ["watching"], 3_000)
          yield* Effect.promise(() => proxy.stop())
          yield* Effect.promise(() => b.kv.put(KEY, config(["while-down"])))
          yield* Effect.sleep("500 millis")
          // Disconnected: the last good table is still served.
          yield* modelsWithin(routing, ["watching"], 0)
          yield* Effect.promise(() => proxy.start())
          yield* modelsWithin(routing, ["while-down"], 5_000)
          yield* Effect.promise(() => b.kv.put(KEY, config(["after"])))
          yield* modelsWithin(routing, ["after"], 3_000)
          expect((yield* routing.status).rejected).toBe(0)
        }),
      30_000
    )

    it.scopedLive(
      "a cut while the watch is being opened does not hold up the recovery",
      () =>
        Effect.gen(function* () {
          const b = yield* bucketFor(config(["a"]))
          const proxy = yield* Effect.acquireRelease(
            Effect.promise(() => faultProxy("127.0.0.1", Number(new URL(url).port || 4222))),
            (p) => Effect.promise(() => p.close())
          )
          const routing = yield* routingOf({ servers: `nats://127.0.0.1:${proxy.port}`, bucket: b.bucket, key: KEY })
          yield* Effect.promise(() => proxy.stop())
          yield* Effect.promise(() => b.kv.put(KEY, config(["while-down"])))
          yield* Effect.promise(() => proxy.start())
          // Well inside the 5 s a JetStream request waits before it times out.
          yield* modelsWithin(routing, ["while-down"], 3_000)
        }),
      30_000
    )

    it.effect("writeRoutingToNatsKv fails with RoutingWriteFailed when the bucket does not exist", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          writeRoutingToNatsKv({ servers: url, bucket: `ibex_routing_absent_${runId}`, key: KEY }, config(["a"]))
        )
        expect(error._tag).toBe("RoutingWriteFailed")
        expect(error.source).toBe(`nats-kv:ibex_routing_absent_${runId}/${KEY}`)
      })
    )
  })
})
