import { configError, type FieldError, Routing } from "@ibex/domain"
import { Effect, Either, Layer, Queue, Ref } from "effect"
import { Events, type KV, type KvEntry, type NatsConnection, type QueuedIterator } from "nats"
import { processEnv } from "./env.js"
import { RoutingLoadFailed } from "./errors.js"
import type { Candidate, RoutingLoader } from "./loader.js"
import { initialTable, makeRoutingLoader } from "./loader.js"
import { getEntry, type NatsKvLocation, natsSourceName, openKv, reasonOf } from "./natsKv.js"
import { parseRoutingText } from "./parse.js"

export interface RoutingNatsKvOptions extends NatsKvLocation {
  /** Resolves `api_key_env` names; the process environment by default. */
  readonly env?: (name: string) => string | undefined
}

/** How long to wait before re-creating a watch that ended or failed (NATS down: each try also waits out a request timeout). */
const rewatchDelay = "1 second"

const candidateOf = (location: NatsKvLocation, entry: KvEntry | null): Candidate => {
  if (entry === null)
    return Either.left([configError("source", `key "${location.key}" does not exist in bucket "${location.bucket}"`)])
  if (entry.operation !== "PUT") return Either.left([configError("source", `key "${location.key}" was deleted`)])
  return parseRoutingText(entry.string(), "auto")
}

/**
 * Routing from a NATS JetStream KV entry, hot-reloaded from a watch on the key. Startup needs
 * the server, the bucket and a valid entry, or the layer fails. After that an invalid entry, a
 * delete or a purge keeps the last good table and counts as a rejected load. The connection and
 * both fibers live in the layer's scope.
 */
export const RoutingNatsKvLive = (options: RoutingNatsKvOptions): Layer.Layer<Routing, RoutingLoadFailed> =>
  Layer.scoped(
    Routing,
    Effect.gen(function* () {
      const source = natsSourceName(options)
      const env = options.env ?? processEnv
      const unavailable = (message: string) =>
        new RoutingLoadFailed({ source, errors: [configError("source", message)] })

      const { nc, kv } = yield* openKv(options).pipe(Effect.mapError(unavailable))
      const first = yield* getEntry(kv, options.key).pipe(Effect.mapError(unavailable))
      const initial = yield* initialTable(source, candidateOf(options, first), env)
      const loader = yield* makeRoutingLoader({ source, env, initial })
      // The KV revision last acted on: a re-created watch replays the current entry, which must
      // not count again; `missing` stops a vanished key from counting once per re-read.
      const seen = yield* Ref.make<number | "missing">(first?.revision ?? "missing")

      /** Applies an entry unless it was already acted on (or is older); `always` for `reload`. */
      const applyEntry = (entry: KvEntry | null, always: boolean) =>
        Effect.gen(function* () {
          const last = yield* Ref.get(seen)
          const fresh = entry === null ? last !== "missing" : last === "missing" || entry.revision > last
          const current = entry === null || last === "missing" || entry.revision >= last
          if (!(fresh || (always && current))) return yield* loader.state.status
          yield* Ref.set(seen, entry === null ? "missing" : entry.revision)
          return yield* loader.apply(candidateOf(options, entry))
        })

      const reload = loader.serialized(
        getEntry(kv, options.key).pipe(
          Effect.matchEffect({
            onFailure: (message) =>
              loader.apply(Either.left<ReadonlyArray<FieldError>>([configError("source", message)])),
            onSuccess: (entry) => applyEntry(entry, true)
          })
        )
      )

      const reconnected = yield* Queue.sliding<void>(1)
      yield* Effect.forkScoped(watchStatus(nc, source, reconnected))
      yield* Effect.forkScoped(watchKey(kv, options.key, source, loader, applyEntry, reconnected))

      return Routing.of({
        table: loader.state.table,
        current: loader.state.current,
        status: loader.state.status,
        reload: reload.pipe(Effect.withSpan("Routing.reload", { attributes: { source } }))
      })
    })
  )

/** Pushes a signal on every reconnect: the key's watch is then re-created (see `watchKey`). */
const watchStatus = (nc: NatsConnection, source: string, reconnected: Queue.Enqueue<void>) =>
  Effect.gen(function* () {
    const statuses = nc.status()[Symbol.asyncIterator]()
    for (;;) {
      const next = yield* Effect.tryPromise(() => statuses.next())
      if (next.done === true) return
      if (next.value.type === Events.Disconnect)
        yield* Effect.logWarning({ event: "Routing.nats_disconnected", source })
      if (next.value.type === Events.Reconnect) {
        yield* Effect.logInfo({ event: "Routing.nats_reconnected", source })
        yield* Queue.offer(reconnected, undefined)
      }
    }
  }).pipe(Effect.ignore)

/**
 * A watch on the key, stopped with the scope. Unlike `acquireRelease`, opening it can be
 * interrupted: a watch requested just before a disconnect waits out a request timeout (5 s),
 * and a reconnect must not wait for that; a watch that arrives after the interruption is
 * stopped on arrival. `stop()`, not the iterator's `return()`: `return()` on a generator parked
 * in an await waits for that await, which would hang the scope's close.
 */
const openWatch = (kv: KV, key: string) =>
  Effect.uninterruptibleMask((restore) =>
    restore(
      Effect.async<QueuedIterator<KvEntry>, string>((resume) => {
        let abandoned = false
        kv.watch({ key }).then(
          (w) => (abandoned ? w.stop() : resume(Effect.succeed(w))),
          (e) => abandoned || resume(Effect.fail(reasonOf(e)))
        )
        return Effect.sync(() => {
          abandoned = true
        })
      })
    ).pipe(Effect.tap((w) => Effect.addFinalizer(() => Effect.sync(() => w.stop()))))
  )

/**
 * Watches the key for as long as the scope lives. A watch replays the key's current entry
 * first, so re-creating it is also how an update missed while disconnected gets applied: after
 * every reconnect (the server may have dropped the watch's consumer, and a consumer that lost
 * messages on the way does not always notice) and whenever the watch ends or fails.
 */
const watchKey = (
  kv: KV,
  key: string,
  source: string,
  loader: RoutingLoader,
  applyEntry: (entry: KvEntry | null, always: boolean) => Effect.Effect<unknown>,
  reconnected: Queue.Dequeue<void>
) => {
  const watchOnce = Effect.scoped(
    Effect.gen(function* () {
      const watch = yield* openWatch(kv, key)
      const entries = watch[Symbol.asyncIterator]()
      for (;;) {
        const next = yield* Effect.tryPromise({ try: () => entries.next(), catch: reasonOf })
        if (next.done === true) return "the watch ended"
        yield* loader
          .serialized(applyEntry(next.value, false))
          .pipe(Effect.withSpan("Routing.watch", { attributes: { source } }))
      }
    })
  )
  return Effect.forever(
    Effect.raceFirst(Effect.merge(watchOnce), Effect.as(Queue.take(reconnected), "reconnected" as const)).pipe(
      Effect.flatMap((outcome) =>
        outcome === "reconnected"
          ? Effect.void
          : Effect.logWarning({ event: "Routing.watch_restarting", source, reason: outcome }).pipe(
              Effect.zipRight(Effect.sleep(rewatchDelay))
            )
      )
    )
  )
}
