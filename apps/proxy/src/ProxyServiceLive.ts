import {
  AuthClient,
  type AuthClientConfig,
  AuthClientLive,
  AuthGatewayFromClient,
  UsageClientLive
} from "@ibex/auth-adapter-grpc"
import {
  type RateLimiter,
  RateLimiterMemory,
  type Routing,
  type UsageLedger,
  type UsageLimiter,
  UsageLimiterMemory,
  type UsageSink
} from "@ibex/domain"
import { ProviderGatewayLive } from "@ibex/providers"
import {
  AuthGatewayCached,
  type AuthorizationCacheOptions,
  makeProxyConfig,
  ProxyConfig,
  ProxyHttpLive,
  type ReadinessProbe
} from "@ibex/proxy-adapter-http"
import { RateLimiterRedis, RateLimiterRedisHealth } from "@ibex/ratelimit-redis"
import { Effect, Layer, Option, Redacted } from "effect"
import type { ProxyAppConfig } from "./config.js"
import { UsageLedgerGrpc } from "./usageLedgerGrpc.js"
import { UsageSinkGrpc } from "./usageSinkGrpc.js"

/**
 * The proxy's view of auth: the authorization cache (fed by auth's invalidation stream) in front
 * of the gRPC gateway, and the AuthClient (health, management) on the same one channel.
 */
export const ProxyAuthGatewayLive = (client: AuthClientConfig, cache: AuthorizationCacheOptions) =>
  AuthGatewayCached(cache).pipe(Layer.provide(AuthGatewayFromClient), Layer.provideMerge(AuthClientLive(client)))

/**
 * The proxy process: the HTTP edge over AuthGateway (cached, then gRPC on one channel with a per-call deadline),
 * the routing table (`routing`: a file, NATS KV, or the embedded default), the provider adapters, and a
 * RateLimiter — Redis when REDIS_URL is set, otherwise the in-process limiter (correct for one
 * proxy instance only: the embedded default). /ready probes the auth server's gRPC health and
 * Redis (or reports it disabled).
 */
export const ProxyServiceLive = <E>(
  config: ProxyAppConfig,
  routing: Layer.Layer<Routing, E>,
  /**
   * Where usage records go, and the ledger the usage limiter rebuilds a month from: by default
   * auth's store over gRPC (tests collect them).
   */
  usage: Layer.Layer<UsageSink | UsageLedger> = Layer.merge(
    UsageSinkGrpc({ maxBuffered: config.usageBufferMax }),
    UsageLedgerGrpc
  ).pipe(Layer.provide(UsageClientLive({ target: config.authTarget, tls: config.authTls })))
) => {
  const limiter:
    | Layer.Layer<RateLimiter | UsageLimiter | RateLimiterRedisHealth, never, UsageLedger>
    | Layer.Layer<RateLimiter | UsageLimiter, never, UsageLedger> = Option.match(config.redisUrl, {
    onNone: () => Layer.merge(RateLimiterMemory, UsageLimiterMemory),
    onSome: (url) =>
      RateLimiterRedis({
        url: Redacted.value(url),
        commandTimeoutMs: config.redisCommandTimeoutMs,
        leaseMaxUnits: config.redisLeaseMaxUnits
      })
  })
  const readiness = Layer.effect(
    ProxyConfig,
    Effect.gen(function* () {
      const client = yield* AuthClient
      // Open the auth channel now, not on the first request: connecting costs more than the
      // 50 ms budget on a busy machine, and the first agent should not pay it with a 503.
      yield* Effect.ignore(client.checkHealth())
      const redis = yield* Effect.serviceOption(RateLimiterRedisHealth)
      const probes: Array<ReadinessProbe> = [
        {
          name: "auth_grpc",
          check: client.checkHealth().pipe(
            Effect.map((s) => s === "SERVING"),
            Effect.orElseSucceed(() => false)
          )
        },
        // Reported, not critical: without Redis the limiter fails open (budgets fail closed).
        { name: "redis", check: Option.match(redis, { onNone: () => null, onSome: (r) => r.ping }), critical: false }
      ]
      return makeProxyConfig({ ...config.http, readiness: probes })
    })
  )
  const auth = ProxyAuthGatewayLive(
    { target: config.authTarget, deadlineMs: config.authTimeoutMs, tls: config.authTls },
    config.authCache
  )
  return ProxyHttpLive.pipe(
    Layer.provide(readiness),
    Layer.provideMerge(Layer.mergeAll(limiter, routing, ProviderGatewayLive).pipe(Layer.provideMerge(usage))),
    Layer.provideMerge(auth)
  )
}
