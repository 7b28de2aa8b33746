import { type AgentId, type OrgId, RevocationEvent, RevocationFeed, type TokenId } from "@ibex/domain"
import { Deferred, Duration, Effect, Layer, PubSub, Random, Redacted, Ref, Stream } from "effect"
import { newPgClient, type PgRawClient } from "./pg.js"
import { RevocationHub } from "./RevocationHub.js"

/** The channel the tokens_notify_revoked trigger (migration 0004) notifies on. */
export const REVOCATION_CHANNEL = "ibex_token_revoked"
export const AGENT_CHANNEL = "ibex_agent_changed"
/** Migration 0007. */
export const ORG_CHANNEL = "ibex_org_changed"
export const TOKEN_CHANGED_CHANNEL = "ibex_token_changed"
/** No trigger: each instance NOTIFYs it and must hear its own notice back (migration 0007's note). */
export const HEARTBEAT_CHANNEL = "ibex_feed_heartbeat"

export const DEFAULT_FEED_HEARTBEAT_MS = 25
export const DEFAULT_FEED_STALE_AFTER_MS = 100

export interface RevocationFeedConfig {
  /** Any role can LISTEN; the services use the app role's URL. */
  readonly url: Redacted.Redacted<string>
  /** First reconnect delay; doubles up to `maxBackoff`, with jitter. Default 100 ms. */
  readonly initialBackoff?: Duration.DurationInput | undefined
  /** Default 5 s. */
  readonly maxBackoff?: Duration.DurationInput | undefined
  /** How long building the layer waits for the first connection before going on disconnected. Default 5 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** How often the connection proves itself alive by a NOTIFY it must hear back. Default 25 ms. */
  readonly heartbeatMs?: number | undefined
  /**
   * No echo for this long: `Disconnected` (caches stop trusting), though the connection is kept in
   * case it is only slow; an echo later says `Connected` again. Default 100 ms.
   */
  readonly staleAfterMs?: number | undefined
  /** No echo for this long: the connection is abandoned and a new one opened. Default 10 × staleAfterMs, at least 1 s. */
  readonly reconnectAfterMs?: number | undefined
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * RevocationFeed on Postgres LISTEN/NOTIFY. One unpooled `pg.Client` (never a pool
 * connection: a pooled one would be handed to queries and lose its LISTEN) listens on
 * ibex_token_revoked. Subscribers get the current state first (`Connected` or
 * `Disconnected`), then every event: `Revoked` per notice, `Disconnected` when the connection
 * errors or ends, `Connected` again once a reconnect (capped exponential backoff with jitter)
 * is listening. Revocations made by this process's TokenStoreLive arrive through the shared
 * RevocationHub too, which is the only path on PGlite (it does not deliver NOTIFY across
 * connections). The connection is trusted only while it echoes its own heartbeat (`proveAlive`): a
 * late echo says `Stale` (then `Fresh`), a long silence ends the connection (`Disconnected`, then
 * a reconnect) — evidence from the echo, not from error events, which a silent failure never sends.
 */
export const RevocationFeedLive = (config: RevocationFeedConfig): Layer.Layer<RevocationFeed, never, RevocationHub> =>
  Layer.scoped(
    RevocationFeed,
    Effect.gen(function* () {
      const hub = yield* RevocationHub
      const connected = yield* Ref.make(false)
      const firstAttempt = yield* Deferred.make<void>()
      const initial = Duration.toMillis(config.initialBackoff ?? Duration.millis(100))
      const max = Duration.toMillis(config.maxBackoff ?? Duration.seconds(5))

      const heartbeatMs = config.heartbeatMs ?? DEFAULT_FEED_HEARTBEAT_MS
      const staleAfterMs = config.staleAfterMs ?? DEFAULT_FEED_STALE_AFTER_MS
      const reconnectAfterMs = config.reconnectAfterMs ?? Math.max(1_000, staleAfterMs * 10)

      /**
       * A LISTEN connection that dies silently (half-open TCP, a stalled server, a dropped route)
       * never emits an error: only a missing echo shows it. Every `heartbeatMs` this instance
       * NOTIFYs a nonce of its own on the connection and must hear it back; the check runs after
       * the poll phase (setImmediate), so an echo already in the socket is read before it is
       * judged missing. Returns the stop function.
       */
      const proveAlive = (client: PgRawClient, lost: Deferred.Deferred<void>) => {
        const nonce = `${process.pid}-${Math.random().toString(36).slice(2)}`
        let stale = false
        // When the heartbeat now awaiting its echo was sent (undefined: none outstanding). Silence
        // is measured from a heartbeat actually sent, so a tick this process was too busy to run
        // is never held against the connection.
        let outstandingSince: number | undefined
        client.on("notification", (message) => {
          if (message.channel !== HEARTBEAT_CHANNEL || message.payload !== nonce) return
          outstandingSince = undefined
          if (stale) {
            stale = false
            hub.unsafeOffer(RevocationEvent.Fresh())
          }
        })
        const tick = () =>
          setImmediate(() => {
            const now = performance.now()
            if (outstandingSince !== undefined) {
              const silentFor = now - outstandingSince
              if (silentFor > reconnectAfterMs) return Deferred.unsafeDone(lost, Effect.void)
              if (silentFor > staleAfterMs && !stale) {
                stale = true
                hub.unsafeOffer(RevocationEvent.Stale())
              }
              // One heartbeat in flight at a time: a connection that does not answer gets no queue.
              return
            }
            outstandingSince = now
            client.query("SELECT pg_notify($1, $2)", [HEARTBEAT_CHANNEL, nonce]).catch(() => undefined)
          })
        const timer = setInterval(tick, heartbeatMs)
        // Staleness ends with the session: Disconnected follows, and the next Connected starts fresh.
        return () => clearInterval(timer)
      }

      const setState = (up: boolean) =>
        Effect.flatMap(Ref.getAndSet(connected, up), (was) =>
          was === up
            ? Effect.void
            : PubSub.publish(hub, up ? RevocationEvent.Connected() : RevocationEvent.Disconnected())
        )

      // One connection's life: connect, LISTEN, announce, then wait for it to fail or end.
      const session = Effect.acquireRelease(
        Effect.tryPromise(async () => {
          const client = newPgClient({
            connectionString: Redacted.value(config.url),
            application_name: "ibex-revocation-feed",
            connectionTimeoutMillis: 5_000,
            keepAlive: true
          })
          // Attached before connect: an error event without a listener would crash the process.
          client.on("error", () => {})
          await client.connect()
          return client
        }),
        (client: PgRawClient) =>
          // Interruptible inside this (uninterruptible) finalizer, or the timeout could never cut a
          // connection that will not end (a dead or blackholed one): the wait would be forever.
          Effect.promise(() => client.end().catch(() => undefined)).pipe(
            Effect.interruptible,
            Effect.timeoutOption("1 second"),
            Effect.ensuring(Effect.sync(() => client.removeAllListeners()))
          )
      ).pipe(
        Effect.flatMap((client) =>
          Effect.gen(function* () {
            const lost = yield* Deferred.make<void>()
            client.on("notification", (message) => {
              const id = message.payload
              if (id === undefined || !uuidPattern.test(id)) return
              if (message.channel === REVOCATION_CHANNEL)
                hub.unsafeOffer(RevocationEvent.Revoked({ tokenId: id as TokenId }))
              else if (message.channel === AGENT_CHANNEL)
                hub.unsafeOffer(RevocationEvent.AgentChanged({ agentId: id as AgentId }))
              else if (message.channel === ORG_CHANNEL)
                hub.unsafeOffer(RevocationEvent.OrgChanged({ orgId: id as OrgId }))
              else if (message.channel === TOKEN_CHANGED_CHANNEL)
                hub.unsafeOffer(RevocationEvent.TokenChanged({ tokenId: id as TokenId }))
            })
            client.on("error", () => Deferred.unsafeDone(lost, Effect.void))
            client.on("end", () => Deferred.unsafeDone(lost, Effect.void))
            yield* Effect.tryPromise(() =>
              client.query(
                `LISTEN ${REVOCATION_CHANNEL}; LISTEN ${AGENT_CHANNEL}; LISTEN ${ORG_CHANNEL}; LISTEN ${TOKEN_CHANGED_CHANNEL}; LISTEN ${HEARTBEAT_CHANNEL}`
              )
            )
            yield* setState(true)
            yield* Deferred.succeed(firstAttempt, undefined)
            yield* Effect.acquireRelease(
              Effect.sync(() => proveAlive(client, lost)),
              (stop) => Effect.sync(stop)
            )
            yield* Deferred.await(lost)
          })
        ),
        Effect.scoped
      )

      const loop = Effect.gen(function* () {
        let failures = 0
        while (true) {
          const before = Date.now()
          yield* session.pipe(Effect.ignore)
          yield* setState(false)
          yield* Deferred.succeed(firstAttempt, undefined)
          // A connection that stayed up a while resets the backoff.
          failures = Date.now() - before > 10_000 ? 0 : failures + 1
          const base = Math.min(max, initial * 2 ** Math.min(failures - 1, 16))
          const jitter = yield* Random.nextRange(0.5, 1)
          yield* Effect.sleep(Duration.millis(Math.max(10, Math.round(base * jitter))))
        }
      })

      yield* Effect.forkScoped(Effect.interruptible(loop))
      yield* Deferred.await(firstAttempt).pipe(
        Effect.timeoutOption(config.connectTimeout ?? Duration.seconds(5)),
        Effect.asVoid
      )

      return RevocationFeed.of({
        // Subscribe first, then read the state: nothing can fall between the two.
        subscribe: Stream.unwrapScoped(
          Effect.gen(function* () {
            const queue = yield* PubSub.subscribe(hub)
            const up = yield* Ref.get(connected)
            return Stream.concat(
              Stream.make(up ? RevocationEvent.Connected() : RevocationEvent.Disconnected()),
              Stream.fromQueue(queue)
            )
          })
        )
      })
    })
  )
