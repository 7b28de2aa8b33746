import { AuthInvalidation, type RevocationEvent, RevocationFeed } from "@ibex/domain"
import { Context, Effect, Layer, PubSub, Stream } from "effect"

/**
 * Auth's side of the proxies' caches (DESIGN.md, "Authorization at the edge"): every change this
 * instance hears on its RevocationFeed is re-broadcast to every subscribed proxy, and while the
 * feed is trusted (connected and proven alive by its own heartbeat) a heartbeat goes out every
 * `heartbeatIntervalMs`. A proxy that stops hearing heartbeats stops trusting its cache, so a
 * silent failure anywhere on the path (Postgres → this instance → the proxy) turns into remote
 * calls within a bound, never into stale answers.
 */
export interface InvalidationHubShape {
  /** Starts with `Heartbeat` when the feed is trusted now, `Reset` otherwise; then every notice. */
  readonly subscribe: Stream.Stream<AuthInvalidation>
  readonly heartbeatIntervalMs: number
  /** Whether this instance's own change feed is trusted right now. */
  readonly trusted: Effect.Effect<boolean>
}

export class InvalidationHub extends Context.Tag("@ibex/auth-core/InvalidationHub")<
  InvalidationHub,
  InvalidationHubShape
>() {}

export interface InvalidationHubOptions {
  /** Default 25 ms: with a proxy's 100 ms staleness bound, a silent path is noticed well inside the 300 ms SLA. */
  readonly heartbeatIntervalMs: number
}

export const defaultInvalidationHubOptions: InvalidationHubOptions = { heartbeatIntervalMs: 25 }

const toInvalidation = (event: RevocationEvent): AuthInvalidation | undefined => {
  switch (event._tag) {
    case "Revoked":
      return AuthInvalidation.TokenRevoked({ tokenId: event.tokenId })
    case "TokenChanged":
      return AuthInvalidation.TokenChanged({ tokenId: event.tokenId })
    case "AgentChanged":
      return AuthInvalidation.AgentChanged({ agentId: event.agentId })
    case "OrgChanged":
      return AuthInvalidation.OrgChanged({ orgId: event.orgId })
    // Lost or regained: either way notices may have been missed in between.
    case "Connected":
    case "Disconnected":
      return AuthInvalidation.Reset()
    // Late, not lost: heartbeats stop (so proxies stop trusting within their bound) and resume.
    case "Stale":
    case "Fresh":
      return undefined
  }
}

export const makeInvalidationHub = (options: InvalidationHubOptions = defaultInvalidationHubOptions) =>
  Effect.gen(function* () {
    const feed = yield* RevocationFeed
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<AuthInvalidation>(), PubSub.shutdown)
    let trusted = false

    yield* feed.subscribe.pipe(
      Stream.runForEach((event) =>
        Effect.suspend(() => {
          if (event._tag === "Connected" || event._tag === "Fresh") trusted = true
          else if (event._tag === "Disconnected" || event._tag === "Stale") trusted = false
          const invalidation = toInvalidation(event)
          return invalidation === undefined ? Effect.void : PubSub.publish(pubsub, invalidation)
        })
      ),
      Effect.forkScoped
    )

    // A plain timer in this layer's scope, not a repeated Effect: 40 times a second on every
    // instance, and an Effect schedule costs an idle process about twice a timer's CPU.
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        setInterval(() => {
          if (trusted) pubsub.unsafeOffer(AuthInvalidation.Heartbeat())
        }, options.heartbeatIntervalMs)
      ),
      (timer) => Effect.sync(() => clearInterval(timer))
    )

    return InvalidationHub.of({
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      trusted: Effect.sync(() => trusted),
      // Subscribe first, then read the state: nothing can fall between the two.
      subscribe: Stream.unwrapScoped(
        Effect.map(PubSub.subscribe(pubsub), (queue) =>
          Stream.concat(
            Stream.sync(() => (trusted ? AuthInvalidation.Heartbeat() : AuthInvalidation.Reset())),
            Stream.fromQueue(queue)
          )
        )
      )
    })
  })

export const InvalidationHubLive = (options?: InvalidationHubOptions) =>
  Layer.scoped(InvalidationHub, makeInvalidationHub(options))
