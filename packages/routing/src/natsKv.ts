import { Effect, type Scope } from "effect"
import { connect, type KV, type KvEntry, type NatsConnection } from "nats"
import { RoutingWriteFailed } from "./errors.js"

/** Where a routing config lives in NATS: a JetStream KV bucket and key. */
export interface NatsKvLocation {
  /** NATS server URL(s), comma-separated (IBEX_ROUTES_NATS_URL). */
  readonly servers: string
  readonly bucket: string
  readonly key: string
  /** Create the bucket when it does not exist. Default false: a typo in the name should fail, not start empty. */
  readonly createBucket?: boolean
}

/** The source's name in status and logs. Never the server URL: it may carry credentials. */
export const natsSourceName = (location: NatsKvLocation): string => `nats-kv:${location.bucket}/${location.key}`

export const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * A connection and its KV bucket, closed with the scope. Reconnect attempts never stop (the
 * client's default gives up after ten, which would leave the watcher dead for good after a
 * NATS restart longer than a few seconds).
 */
export const openKv = (
  location: NatsKvLocation
): Effect.Effect<{ readonly nc: NatsConnection; readonly kv: KV }, string, Scope.Scope> =>
  Effect.gen(function* () {
    const nc = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          connect({
            servers: location.servers
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== ""),
            name: "ibex-routing",
            maxReconnectAttempts: -1,
            reconnectTimeWait: 500,
            timeout: 5_000
          }),
        catch: (e) => `cannot connect to NATS: ${reasonOf(e)}`
      }),
      (nc) => Effect.tryPromise(() => nc.close()).pipe(Effect.timeout("2 seconds"), Effect.ignore)
    )
    const kv = yield* Effect.tryPromise({
      try: async () => {
        const create = location.createBucket === true
        const kv = await nc.jetstream().views.kv(location.bucket, { bindOnly: !create })
        // Binding checks nothing: without this a missing bucket would read as a missing key.
        if (!create) await kv.status()
        return kv
      },
      catch: (e) => `cannot open KV bucket "${location.bucket}": ${reasonOf(e)}`
    })
    return { nc, kv }
  })

/** The key's current entry (null when it never existed or was purged away). */
export const getEntry = (kv: KV, key: string): Effect.Effect<KvEntry | null, string> =>
  Effect.tryPromise({ try: () => kv.get(key), catch: (e) => `cannot read key "${key}": ${reasonOf(e)}` })

/**
 * Puts routing config text (JSON or YAML) under the location's key, as is: validating it first
 * is the caller's choice (a CLI should; the contract tests write broken configs on purpose).
 * Returns the entry's KV revision.
 */
export const writeRoutingToNatsKv = (
  location: NatsKvLocation,
  text: string
): Effect.Effect<number, RoutingWriteFailed> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { kv } = yield* openKv(location)
      return yield* Effect.tryPromise({ try: () => kv.put(location.key, text), catch: reasonOf })
    })
  ).pipe(
    Effect.mapError((detail) => new RoutingWriteFailed({ source: natsSourceName(location), detail })),
    Effect.withSpan("Routing.writeNatsKv")
  )
